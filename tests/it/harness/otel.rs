//! An in-memory OpenTelemetry pipeline and readers of its spans, attributes and metrics.

use std::collections::HashMap;

use humanloop_tracing::Humanloop;
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

/// An in-memory OpenTelemetry pipeline, installed as this thread's subscriber (tests
/// run on a current-thread runtime, so every span of the test is seen here).
pub struct Otel {
    pub exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _guard: tracing::subscriber::DefaultGuard,
}

pub fn otel() -> Otel {
    otel_inner(None)
}

/// [`otel`] with `hl`'s hierarchy layer (sessions, steps, sampling) installed too.
pub fn otel_with_hierarchy(hl: &Humanloop) -> Otel {
    otel_inner(Some(hl))
}

fn otel_inner(hl: Option<&Humanloop>) -> Otel {
    if let Some(hl) = hl {
        super::track(hl.clone());
    }
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("capture-tests");
    let subscriber = tracing_subscriber::registry()
        .with(hl.map(|hl| hl.tracing_layer()))
        .with(tracing_opentelemetry::layer().with_tracer(tracer));
    let guard = tracing::subscriber::set_default(subscriber);
    Otel {
        exporter,
        provider,
        _guard: guard,
    }
}

impl Otel {
    /// Finished spans so far.
    pub fn spans(&self) -> Vec<SpanData> {
        super::flush_spans();
        let _ = self.provider.force_flush();
        self.exporter.get_finished_spans().unwrap()
    }

    /// The finished GenAI inference spans (`gen_ai.operation.name` other than the
    /// hierarchy's `invoke_agent` and `execute_tool`).
    pub fn genai_spans(&self) -> Vec<SpanData> {
        self.spans()
            .into_iter()
            .filter(|s| {
                s.attributes.iter().any(|kv| {
                    kv.key.as_str() == "gen_ai.operation.name"
                        && !matches!(kv.value.as_str().as_ref(), "invoke_agent" | "execute_tool")
                })
            })
            .collect()
    }

    /// The one finished GenAI span.
    pub fn genai_span(&self) -> SpanData {
        let mut spans = self.genai_spans();
        assert_eq!(spans.len(), 1, "expected one GenAI span, got {spans:#?}");
        spans.remove(0)
    }
}

/// A span's attributes by key (a repeated key would be a bug: asserted here).
pub fn attrs(span: &SpanData) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for kv in &span.attributes {
        let prev = out.insert(kv.key.as_str().to_owned(), kv.value.clone());
        assert!(prev.is_none(), "attribute {} recorded twice", kv.key);
    }
    out
}

/// The value `span` recorded under `key` (a repeated key would be a bug: asserted here,
/// as [`attrs`] does).
pub fn attr(span: &SpanData, key: &str) -> Option<Value> {
    let mut found = span.attributes.iter().filter(|kv| kv.key.as_str() == key);
    let first = found.next().map(|kv| kv.value.clone());
    assert!(found.next().is_none(), "attribute {key} recorded twice");
    first
}

pub fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}

pub fn s(v: &str) -> Value {
    Value::from(v.to_owned())
}

pub fn i(v: i64) -> Value {
    Value::I64(v)
}

pub fn strings(v: &[&str]) -> Value {
    Value::Array(opentelemetry::Array::String(
        v.iter().map(|s| (*s).to_owned().into()).collect(),
    ))
}

/// (attributes, count, sum as f64, bounds) of every data point of histogram `name`.
pub fn points(
    exporter: &opentelemetry_sdk::metrics::InMemoryMetricExporter,
    name: &str,
) -> Vec<(Vec<KeyValue>, u64, f64, Vec<f64>)> {
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, HistogramDataPoint, MetricData};
    fn take<'a, T: Copy + 'a>(
        dps: impl Iterator<Item = &'a HistogramDataPoint<T>>,
        to_f64: fn(T) -> f64,
    ) -> Vec<(Vec<KeyValue>, u64, f64, Vec<f64>)> {
        dps.map(|dp| {
            let mut attrs: Vec<KeyValue> = dp.attributes().cloned().collect();
            attrs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
            (attrs, dp.count(), to_f64(dp.sum()), dp.bounds().collect())
        })
        .collect()
    }
    let mut out = Vec::new();
    super::flush_spans();
    for rm in exporter.get_finished_metrics().unwrap() {
        for sm in rm.scope_metrics() {
            for m in sm.metrics().filter(|m| m.name() == name) {
                match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        out.extend(take(h.data_points(), |v| v))
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                        out.extend(take(h.data_points(), |v| v as f64))
                    }
                    other => panic!("{name}: not a histogram: {other:?}"),
                }
            }
        }
    }
    out
}

pub fn get(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}
