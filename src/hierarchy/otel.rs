//! OpenTelemetry specifics (feature `otel`): span contexts through tracing-opentelemetry,
//! and the W3C `traceparent` header.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::span::Id;
use tracing::Dispatch;

/// The OpenTelemetry span context of the tracing span `id`, when an OpenTelemetry layer runs
/// in `dispatch` and gave it valid ids. (This starts the OpenTelemetry span if it was not yet.)
pub(crate) fn span_context(id: &Id, dispatch: &Dispatch) -> Option<SpanContext> {
    let cx = tracing_opentelemetry::get_otel_context(id, dispatch)?;
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// `traceparent` for `sc`: `00-{trace id}-{span id}-{flags}` (written by hand: it is made
/// on the caller's path of every call, where `format!` cost five times as much).
pub(crate) fn traceparent(sc: &SpanContext) -> String {
    let mut out = [0u8; 55];
    out[..3].copy_from_slice(b"00-");
    hex_into(&mut out[3..35], &sc.trace_id().to_bytes());
    out[35] = b'-';
    hex_into(&mut out[36..52], &sc.span_id().to_bytes());
    out[52] = b'-';
    hex_into(&mut out[53..], &[sc.trace_flags().to_u8()]);
    ascii(&out)
}

/// A trace id as 32 lowercase hex digits, as its `Display` writes it.
pub(crate) fn trace_id_hex(id: TraceId) -> String {
    let mut out = [0u8; 32];
    hex_into(&mut out, &id.to_bytes());
    ascii(&out)
}

/// `bytes` as lowercase hex into `out` (twice as long).
fn hex_into(out: &mut [u8], bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
}

fn ascii(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes).unwrap_or_default().to_owned()
}

/// Parse a `traceparent` header into a remote span context; `None` if it is malformed.
pub(crate) fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    if trace_id.len() != 32 || span_id.len() != 16 || flags.len() != 2 {
        return None;
    }
    let sc = SpanContext::new(
        TraceId::from_hex(trace_id).ok()?,
        SpanId::from_hex(span_id).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & 1),
        true,
        TraceState::default(),
    );
    sc.is_valid().then_some(sc)
}

/// Make `span`'s OpenTelemetry parent the remote `sc` (before the span is first entered).
pub(crate) fn set_remote_parent(span: &tracing::Span, sc: SpanContext) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = opentelemetry::Context::new().with_remote_span_context(sc);
    let _ = span.set_parent(cx);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trip() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let sc = parse_traceparent(header).unwrap();
        assert!(sc.is_remote());
        assert_eq!(traceparent(&sc), header);
        assert!(
            parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none()
        );
        assert!(parse_traceparent("garbage").is_none());
        let id = TraceId::from_hex("00f92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(trace_id_hex(id), id.to_string());
        let sc = SpanContext::new(
            id,
            SpanId::from_hex("0000000000000a01").unwrap(),
            TraceFlags::default(),
            false,
            TraceState::default(),
        );
        assert_eq!(
            traceparent(&sc),
            format!("00-{}-{}-00", sc.trace_id(), sc.span_id())
        );
    }
}
