//! Where a datapoint goes: its project (created when first named), its session (created
//! when a new `session_reference_id` names it) and its parent.

use std::collections::HashSet;
use std::sync::OnceLock;

use rusqlite::{params, Connection};
use serde_json::Value;

use super::{exists, new_id, now, project_named, row};
use crate::api::ValidationError;
use crate::server::error::{body_loc, entry};

/// Where a datapoint goes: what the request names, resolved against the database.
#[derive(Clone, Debug, Default)]
pub(crate) struct Placement {
    pub(crate) project_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) parent_id: Option<String>,
}

impl Placement {
    pub(crate) fn scope(&self) -> &str {
        self.session_id.as_deref().unwrap_or("")
    }
}

/// The routing fields of a log or completion request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Route<'a> {
    pub(crate) project: Option<&'a str>,
    pub(crate) project_id: Option<&'a str>,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) session_reference_id: Option<&'a str>,
    pub(crate) parent_id: Option<&'a str>,
    pub(crate) parent_reference_id: Option<&'a str>,
}

/// `Some(project_id)` when the session exists.
pub(crate) fn session_project(
    c: &Connection,
    id: &str,
) -> rusqlite::Result<Option<Option<String>>> {
    row(
        c,
        "SELECT project_id FROM sessions WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
}

/// The session with caller key `reference`, created if new.
pub(crate) fn session_by_reference(
    c: &Connection,
    reference: &str,
    project_id: Option<&str>,
) -> rusqlite::Result<(String, Option<String>)> {
    if let Some(found) = row(
        c,
        "SELECT id, project_id FROM sessions WHERE reference_id = ?1",
        [reference],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )? {
        return Ok(found);
    }
    let id = new_id("sesh");
    c.prepare_cached(
        "INSERT INTO sessions (id, reference_id, project_id, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, reference, project_id, now()])?;
    Ok((id, project_id.map(str::to_owned)))
}

/// What the current request did so far: the datapoints it created (a parent must come from
/// an earlier request) and the projects it resolved by name (looked up once per request).
#[derive(Debug, Default)]
pub(crate) struct ThisRequest {
    pub(crate) created: HashSet<String>,
    projects: Vec<(String, String)>,
}

impl ThisRequest {
    fn project_named(&mut self, c: &Connection, name: &str) -> rusqlite::Result<String> {
        if let Some((_, id)) = self.projects.iter().find(|(n, _)| n == name) {
            return Ok(id.clone());
        }
        let id = project_named(c, name)?;
        self.projects.push((name.to_owned(), id.clone()));
        Ok(id)
    }
}

/// Resolve `route` into a [`Placement`], creating projects and sessions named for the first
/// time. Problems are pushed to `errors` (located under `prefix`) and give `None`.
pub(crate) fn place(
    c: &Connection,
    route: Route<'_>,
    prefix: &[Value],
    default_project: bool,
    this_request: &mut ThisRequest,
    errors: &mut Vec<ValidationError>,
) -> rusqlite::Result<Option<Placement>> {
    let before = errors.len();
    let mut p = Placement::default();
    if let Some(id) = route.project_id {
        if exists(c, "SELECT 1 FROM projects WHERE id = ?1", id)? {
            p.project_id = Some(id.to_owned());
        } else {
            errors.push(entry(
                body_loc(prefix, "project_id"),
                format!("unknown project_id '{id}'"),
                "value_error.unknown_reference",
            ));
        }
    } else if let Some(name) = route.project {
        p.project_id = Some(this_request.project_named(c, name)?);
    }
    if let Some(id) = route.session_id {
        match session_project(c, id)? {
            Some(project) => {
                p.session_id = Some(id.to_owned());
                p.project_id = p.project_id.or(project);
            }
            None => errors.push(entry(
                body_loc(prefix, "session_id"),
                format!("unknown session_id '{id}'"),
                "value_error.unknown_reference",
            )),
        }
    }
    if p.project_id.is_none() && default_project && errors.len() == before {
        p.project_id = Some(this_request.project_named(c, "default")?);
    }
    if let Some(reference) = route.session_reference_id {
        let (id, project) = session_by_reference(c, reference, p.project_id.as_deref())?;
        p.session_id = Some(id);
        p.project_id = p.project_id.or(project);
    }
    if let Some(id) = route.parent_id {
        let parent: Option<Option<String>> = row(
            c,
            "SELECT session_id FROM datapoints WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        match parent {
            Some(session) if !this_request.created.contains(id) => {
                p.parent_id = Some(id.to_owned());
                p.session_id = p.session_id.or(session);
            }
            _ => errors.push(entry(
                body_loc(prefix, "parent_id"),
                format!("unknown parent_id '{id}': no datapoint with this id was logged in an earlier request"),
                "value_error.unknown_reference",
            )),
        }
    }
    if let Some(reference) = route.parent_reference_id {
        let mut found: Option<(String, Option<String>)> = row(
            c,
            "SELECT id, session_id FROM datapoints WHERE scope = ?1 AND reference_id = ?2",
            params![p.scope(), reference],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if found.is_none() && p.session_id.is_none() {
            // No session named: accept a reference that is unique across sessions.
            let mut stmt = c.prepare_cached(
                "SELECT id, session_id FROM datapoints WHERE reference_id = ?1 LIMIT 2",
            )?;
            let rows = stmt
                .query_map([reference], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<(String, Option<String>)>>>()?;
            if rows.len() == 1 {
                found = rows.into_iter().next();
            }
        }
        match found {
            Some((id, session)) if !this_request.created.contains(&id) => {
                p.parent_id = Some(id);
                p.session_id = p.session_id.or(session);
            }
            _ => {
                let within = match &p.session_id {
                    Some(s) => format!(" in session '{s}'"),
                    None => String::new(),
                };
                errors.push(entry(
                    body_loc(prefix, "parent_reference_id"),
                    format!(
                        "unknown parent_reference_id '{reference}': no datapoint with this reference_id was logged{within} in an earlier request"
                    ),
                    "value_error.unknown_reference",
                ));
            }
        }
    }
    Ok((errors.len() == before).then_some(p))
}

/// Store one datapoint.
pub(crate) fn insert_datapoint(
    c: &Connection,
    id: &str,
    p: &Placement,
    reference_id: Option<&str>,
    body: &Value,
    created_at: &str,
) -> rusqlite::Result<()> {
    insert_datapoint_text(c, id, p, reference_id, &body.to_string(), created_at)?;
    Ok(())
}

/// Store one datapoint whose body is already JSON text (made by [`storable_log`]); `false`
/// when its session already holds a datapoint with `reference_id` (nothing is stored).
pub(crate) fn insert_datapoint_text(
    c: &Connection,
    id: &str,
    p: &Placement,
    reference_id: Option<&str>,
    body: &str,
    created_at: &str,
) -> rusqlite::Result<bool> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO datapoints (id, project_id, session_id, parent_id, reference_id, scope, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (scope, reference_id) DO NOTHING",
        )?
        .execute(params![
        id,
        p.project_id,
        p.session_id,
        p.parent_id,
        reference_id,
        p.scope(),
        body,
        created_at
    ])?;
    Ok(inserted == 1)
}

/// A datapoint of [`insert_datapoints`]: its id, placement, reference id, stored JSON text
/// and creation time.
#[derive(Debug)]
pub(crate) struct NewDatapoint {
    pub(crate) id: String,
    pub(crate) placement: Placement,
    pub(crate) reference_id: Option<String>,
    pub(crate) body: String,
    pub(crate) created_at: String,
}

/// Rows per multi-row `INSERT`, largest first; a batch is split into these so that only
/// these few statements are prepared (and cached).
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// The multi-row `INSERT` of `rows` datapoints (one of [`CHUNKS`]), built once.
fn insert_sql(rows: usize) -> &'static str {
    static SQL: [OnceLock<String>; CHUNKS.len()] = [const { OnceLock::new() }; CHUNKS.len()];
    let i = CHUNKS
        .iter()
        .position(|&n| n == rows)
        .unwrap_or(CHUNKS.len() - 1);
    SQL[i].get_or_init(|| {
        // `OR IGNORE` rather than `ON CONFLICT (scope, reference_id) DO NOTHING`: the same
        // rows are skipped (every other constraint holds for the values bound here: fresh
        // ids, no NULL where one is refused), and a statement that cannot abort needs no
        // statement journal, which spilled to a temporary file for every 64-row statement.
        let mut sql = String::from(
            "INSERT OR IGNORE INTO datapoints (id, project_id, session_id, parent_id, reference_id, scope, body, created_at) VALUES ",
        );
        for r in 0..CHUNKS[i] {
            if r > 0 {
                sql.push(',');
            }
            sql.push_str("(?,?,?,?,?,?,?,?)");
        }
        sql
    })
}

/// Store `rows` in order with multi-row `INSERT`s: what a statement does once (its step and
/// reset, opening the table and its five indexes, the `AUTOINCREMENT` counter) is done once
/// per up to 64 rows instead of once per row. Answers, per row, whether it
/// was stored: `false` when its session already holds a datapoint with its `reference_id`
/// (nothing is stored for it), as [`insert_datapoint_text`] answers.
pub(crate) fn insert_datapoints(
    c: &Connection,
    rows: &[NewDatapoint],
) -> rusqlite::Result<Vec<bool>> {
    let mut stored = Vec::with_capacity(rows.len());
    let mut rest = rows;
    while !rest.is_empty() {
        let n = CHUNKS
            .iter()
            .copied()
            .find(|&n| n <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let mut stmt = c.prepare_cached(insert_sql(n))?;
        let mut i = 1;
        for d in chunk {
            let p = &d.placement;
            stmt.raw_bind_parameter(i, &d.id)?;
            stmt.raw_bind_parameter(i + 1, &p.project_id)?;
            stmt.raw_bind_parameter(i + 2, &p.session_id)?;
            stmt.raw_bind_parameter(i + 3, &p.parent_id)?;
            stmt.raw_bind_parameter(i + 4, &d.reference_id)?;
            stmt.raw_bind_parameter(i + 5, p.scope())?;
            stmt.raw_bind_parameter(i + 6, &d.body)?;
            stmt.raw_bind_parameter(i + 7, &d.created_at)?;
            i += 8;
        }
        if stmt.raw_execute()? == n {
            stored.extend(std::iter::repeat_n(true, n));
        } else {
            // Some rows were skipped (their reference id is taken): which ones.
            for d in chunk {
                stored.push(exists(c, "SELECT 1 FROM datapoints WHERE id = ?1", &d.id)?);
            }
        }
    }
    Ok(stored)
}
