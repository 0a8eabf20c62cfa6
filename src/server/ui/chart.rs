//! A project's numbers over time, and the inline SVG charts that show them (drawn on the
//! server: no script, no chart library).

use serde::Serialize;

/// Width and height of a chart's `viewBox`.
const W: f64 = 640.0;
const H: f64 = 150.0;
/// Room for the axis labels.
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 8.0;

/// Bucket sizes, smallest first: at most [`MAX_BUCKETS`] buckets of the first that fits.
const STEPS_MS: &[i64] = &[
    60_000,
    5 * 60_000,
    15 * 60_000,
    3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    86_400_000,
    7 * 86_400_000,
    30 * 86_400_000,
];
const MAX_BUCKETS: i64 = 48;

#[derive(Debug, Default, Serialize)]
pub(crate) struct Bar {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    label: String,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Line {
    class: &'static str,
    name: &'static str,
    points: String,
    dots: Vec<Dot>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Dot {
    x: f64,
    y: f64,
    label: String,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Tick {
    x: f64,
    label: String,
}

/// One chart, in `viewBox` units.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Chart {
    id: &'static str,
    title: &'static str,
    top_label: String,
    bars: Vec<Bar>,
    lines: Vec<Line>,
    ticks: Vec<Tick>,
    width: f64,
    height: f64,
    left: f64,
    base: f64,
    top: f64,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct ModelUse {
    pub(crate) model: String,
    pub(crate) calls: i64,
    pub(crate) tokens: i64,
    pub(crate) cost: f64,
    pub(crate) errors: i64,
}

/// Everything the project page shows about its calls.
#[derive(Debug, Default, Serialize)]
pub(crate) struct ProjectStats {
    pub(crate) calls: i64,
    pub(crate) tokens: i64,
    pub(crate) cost: f64,
    pub(crate) errors: i64,
    pub(crate) error_rate: f64,
    pub(crate) p50: Option<f64>,
    pub(crate) p95: Option<f64>,
    pub(crate) bucket: String,
    pub(crate) charts: Vec<Chart>,
    pub(crate) models: Vec<ModelUse>,
}

#[derive(Default, Clone)]
struct Bucket {
    calls: i64,
    tokens: i64,
    cost: f64,
    errors: i64,
    /// Latency histogram: `(duration_bin, calls)`.
    durations: Vec<(i64, i64)>,
}

/// Latency bins per factor `e`: neighbouring bins differ by 5 %, so a percentile read
/// from the bins is within 2.5 % of the exact one.
const BINS_PER_E: f64 = 20.0;

/// The latency bin of `secs` (stored with each call, so that percentiles are computed
/// from a few hundred counted bins instead of every call).
pub(crate) fn duration_bin(secs: f64) -> i64 {
    (secs.max(1e-4).ln() * BINS_PER_E).round() as i64
}

/// The duration a bin stands for, in seconds.
pub(crate) fn bin_secs(bin: i64) -> f64 {
    (bin as f64 / BINS_PER_E).exp()
}

/// Nearest-rank percentile of a histogram `(bin, count)`, as the bin's duration.
pub(crate) fn hist_percentile(h: &mut [(i64, i64)], p: f64) -> Option<f64> {
    let total: i64 = h.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    h.sort_unstable();
    let rank = (((p / 100.0) * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (bin, n) in h.iter() {
        seen += n;
        if seen >= rank {
            return Some(bin_secs(*bin));
        }
    }
    None
}

fn bucket_label(step: i64) -> String {
    match step {
        s if s < 3_600_000 => format!("{} min", s / 60_000),
        s if s < 86_400_000 => format!("{} h", s / 3_600_000),
        s => format!("{} d", s / 86_400_000),
    }
}

/// The time axis of a chart: `n` buckets of `step` ms from `first`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grid {
    pub(crate) first: i64,
    pub(crate) step: i64,
    pub(crate) n: usize,
}

impl Grid {
    /// At most [`MAX_BUCKETS`] buckets of a round size over `from_ms..=to_ms`.
    pub(crate) fn new(from_ms: i64, to_ms: i64) -> Self {
        let span = (to_ms - from_ms).max(1);
        let step = STEPS_MS
            .iter()
            .copied()
            .find(|s| span / s < MAX_BUCKETS)
            .unwrap_or(*STEPS_MS.last().unwrap_or(&86_400_000));
        let first = from_ms - from_ms.rem_euclid(step);
        let n = ((to_ms - first) / step + 1).clamp(1, 400) as usize;
        Grid { first, step, n }
    }
}

/// Calls of one time bucket, as the database sums them.
#[derive(Debug, Default)]
pub(crate) struct Agg {
    pub(crate) bucket: i64,
    pub(crate) calls: i64,
    pub(crate) tokens: i64,
    pub(crate) cost: f64,
    pub(crate) errors: i64,
}

/// Calls of one time bucket and one latency bin.
#[derive(Debug, Default)]
pub(crate) struct LatencyCount {
    pub(crate) bucket: i64,
    pub(crate) bin: i64,
    pub(crate) calls: i64,
}

/// The stats of a project's calls: sums per bucket, latency counts per bucket and bin.
pub(crate) fn project_stats(
    grid: Grid,
    rows: &[Agg],
    latency: &[LatencyCount],
    models: Vec<ModelUse>,
) -> ProjectStats {
    let mut stats = ProjectStats::default();
    let Grid { first, step, n } = grid;
    let mut buckets = vec![Bucket::default(); n];
    let mut all: Vec<(i64, i64)> = Vec::new();
    for r in rows {
        let i = (r.bucket.max(0) as usize).min(n - 1);
        let b = &mut buckets[i];
        b.calls += r.calls;
        b.tokens += r.tokens;
        b.cost += r.cost;
        b.errors += r.errors;
        stats.calls += r.calls;
        stats.tokens += r.tokens;
        stats.cost += r.cost;
        stats.errors += r.errors;
    }
    for l in latency {
        let i = (l.bucket.max(0) as usize).min(n - 1);
        buckets[i].durations.push((l.bin, l.calls));
        all.push((l.bin, l.calls));
    }
    stats.p50 = hist_percentile(&mut all, 50.0);
    stats.p95 = hist_percentile(&mut all, 95.0);
    stats.error_rate = if stats.calls > 0 {
        stats.errors as f64 / stats.calls as f64
    } else {
        0.0
    };
    stats.bucket = bucket_label(step);
    stats.models = models;

    let ticks = ticks(first, step, n);
    let bars = |id, title, value: &dyn Fn(&Bucket) -> f64, fmt: &dyn Fn(f64) -> String| {
        let max = buckets.iter().map(value).fold(0.0, f64::max);
        let slot = (W - LEFT) / n as f64;
        let bars = buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| value(b) > 0.0)
            .map(|(i, b)| {
                let v = value(b);
                let h = if max > 0.0 {
                    v / max * (H - BOTTOM - TOP)
                } else {
                    0.0
                };
                Bar {
                    x: round(LEFT + i as f64 * slot + slot * 0.1),
                    y: round(H - BOTTOM - h),
                    w: round((slot * 0.8).max(0.5)),
                    h: round(h),
                    label: format!("{}: {}", ticks_label(first + i as i64 * step), fmt(v)),
                }
            })
            .collect();
        Chart {
            id,
            title,
            top_label: fmt(max),
            bars,
            ticks: ticks
                .iter()
                .map(|t| Tick {
                    x: t.x,
                    label: t.label.clone(),
                })
                .collect(),
            ..chart_frame()
        }
    };
    let calls_chart = bars("calls", "Calls", &|b| b.calls as f64, &|v| {
        format!("{v:.0}")
    });
    let tokens_chart = bars("tokens", "Tokens", &|b| b.tokens as f64, &|v| {
        format!("{v:.0}")
    });
    let cost_chart = bars("cost", "Cost (USD)", &|b| b.cost, &usd);

    // Latency: p50 and p95 per bucket as two lines.
    let per_bucket: Vec<Option<(f64, f64)>> = buckets
        .iter_mut()
        .map(|b| {
            Some((
                hist_percentile(&mut b.durations, 50.0)?,
                hist_percentile(&mut b.durations, 95.0)?,
            ))
        })
        .collect();
    let max = per_bucket
        .iter()
        .flatten()
        .map(|(_, p95)| *p95)
        .fold(0.0, f64::max);
    let slot = (W - LEFT) / n as f64;
    let line = |class, name, pick: fn(&(f64, f64)) -> f64| {
        let dots: Vec<Dot> = per_bucket
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let v = pick(v.as_ref()?);
                let y = if max > 0.0 {
                    v / max * (H - BOTTOM - TOP)
                } else {
                    0.0
                };
                Some(Dot {
                    x: round(LEFT + (i as f64 + 0.5) * slot),
                    y: round(H - BOTTOM - y),
                    label: format!(
                        "{} {name}: {}",
                        ticks_label(first + i as i64 * step),
                        secs(v)
                    ),
                })
            })
            .collect();
        Line {
            class,
            name,
            points: dots
                .iter()
                .map(|d| format!("{},{}", d.x, d.y))
                .collect::<Vec<_>>()
                .join(" "),
            dots,
        }
    };
    let latency_chart = Chart {
        id: "latency",
        title: "Latency p50 / p95",
        top_label: secs(max),
        lines: vec![line("p50", "p50", |v| v.0), line("p95", "p95", |v| v.1)],
        ticks,
        ..chart_frame()
    };
    stats.charts = vec![calls_chart, tokens_chart, cost_chart, latency_chart];
    stats
}

/// Dollars with the digits small amounts need.
pub(crate) fn usd(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("${v:.6}")
    } else {
        format!("${v:.4}")
    }
}

fn chart_frame() -> Chart {
    Chart {
        width: W,
        height: H,
        left: LEFT,
        base: H - BOTTOM,
        top: TOP,
        ..Chart::default()
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Seconds as `0.4 ms`, `850 ms` or `1.25 s`.
pub(crate) fn secs(v: f64) -> String {
    if v < 0.01 {
        format!("{:.1} ms", v * 1e3)
    } else if v < 1.0 {
        format!("{:.0} ms", v * 1e3)
    } else {
        format!("{v:.2} s")
    }
}

fn ticks_label(ms: i64) -> String {
    let t = super::queries::rfc3339_ms(ms);
    // `YYYY-MM-DDTHH:MM` in UTC.
    t.get(..16).unwrap_or(&t).replace('T', " ")
}

/// About five labelled ticks along the time axis.
fn ticks(first: i64, step: i64, n: usize) -> Vec<Tick> {
    let slot = (W - LEFT) / n as f64;
    let every = n.div_ceil(5).max(1);
    (0..n)
        .step_by(every)
        .map(|i| Tick {
            x: round(LEFT + i as f64 * slot),
            label: ticks_label(first + i as i64 * step),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest-rank percentile of sorted `v`.
    fn percentile(v: &[f64], p: f64) -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        Some(v[rank.clamp(1, v.len()) - 1])
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn binned_percentiles_are_within_three_percent() {
        let v: Vec<f64> = (1..=1000).map(|i| f64::from(i) * 0.003).collect();
        let mut h: Vec<(i64, i64)> = Vec::new();
        for d in &v {
            let b = duration_bin(*d);
            match h.iter_mut().find(|(x, _)| *x == b) {
                Some((_, n)) => *n += 1,
                None => h.push((b, 1)),
            }
        }
        for p in [50.0, 95.0] {
            let exact = percentile(&v, p).unwrap();
            let binned = hist_percentile(&mut h, p).unwrap();
            assert!(
                (binned / exact - 1.0).abs() < 0.03,
                "p{p}: {binned} vs {exact}"
            );
        }
    }

    #[test]
    fn stats_count_every_call_once() {
        let grid = Grid::new(0, 19 * 60_000);
        assert_eq!((grid.step, grid.n), (60_000, 20));
        let rows: Vec<Agg> = (0..20)
            .map(|i| Agg {
                bucket: i,
                calls: 2,
                tokens: 10,
                cost: 0.5,
                errors: i64::from(i % 4 == 0),
            })
            .collect();
        let latency: Vec<LatencyCount> = (0..20)
            .map(|i| LatencyCount {
                bucket: i,
                bin: duration_bin(1.0),
                calls: 2,
            })
            .collect();
        let s = project_stats(grid, &rows, &latency, Vec::new());
        assert_eq!(s.calls, 40);
        assert_eq!(s.tokens, 200);
        assert_eq!(s.errors, 5);
        assert!((s.error_rate - 0.125).abs() < 1e-9);
        assert!((s.p50.unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(s.charts.len(), 4);
        assert_eq!(s.charts[0].bars.len(), 20);
    }
}
