//! The README's conventions table is `semconv::TABLE`: every row's v1.41 and v0.1 names
//! appear as one row of the README's "GenAI conventions" section, in the same kind of table,
//! and the section lists no name the table does not have.

use humanloop_tracing::semconv::{Kind, TABLE};

fn section() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("## GenAI conventions")
        .expect("the README's section");
    let rest = &readme[start + 3..];
    let end = rest.find("\n## ").map_or(rest.len(), |e| e);
    rest[..end].to_owned()
}

/// (table title, v1.41 cell, v0.1 cell) of every row of the section's name tables.
fn readme_rows() -> Vec<(String, String, String)> {
    let mut title = String::new();
    let mut out = Vec::new();
    for line in section().lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 || line.starts_with("|---") {
            continue;
        }
        if cells[1].contains("(v1.41, default)") {
            title = cells[1].replace(" (v1.41, default)", "");
            continue;
        }
        if !title.is_empty() {
            out.push((title.clone(), cells[1].to_owned(), cells[2].to_owned()));
        }
    }
    out
}

fn cells(v1_41: Option<&str>, v0_1: Option<&str>) -> (String, String) {
    let a = v1_41.map_or("—".to_owned(), |s| format!("`{s}`"));
    let b = match (v1_41, v0_1) {
        (x, Some(y)) if x == Some(y) => "same".to_owned(),
        (_, Some(y)) => format!("`{y}`"),
        _ => "—".to_owned(),
    };
    (a, b)
}

#[test]
fn the_readme_lists_every_name_of_both_profiles() {
    let rows = readme_rows();
    let mut expected = Vec::new();
    for n in TABLE {
        let title = match n.kind {
            Kind::Attribute => "span attribute",
            Kind::Metric => "metric",
            Kind::MetricAttribute => "metric attribute",
            _ => unreachable!("a kind the README has no table for"),
        };
        let (a, b) = cells(n.v1_41, n.v0_1);
        expected.push((title.to_owned(), a, b));
    }
    for row in &expected {
        assert!(rows.contains(row), "README lacks {row:?}");
    }
    for row in &rows {
        assert!(
            expected.contains(row),
            "README has {row:?}, semconv::TABLE does not"
        );
    }
    assert_eq!(rows.len(), expected.len());
}
