//! The request path: route, rewrite the head, read the body, call through the layer,
//! stream the answer back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::State;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service;
use tracing::Instrument;

use super::{
    ProxyConfig, ProxyError, Upstream, METADATA_HEADER_PREFIX, PARENT_HEADER, SESSION_HEADER,
};
use crate::hierarchy::RemoteContext;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
/// The HTTP client the proxy sends upstream requests with, before the layer wraps it.
pub type UpstreamClient = Client<Connector, Full<Bytes>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;
/// The layered client, type-erased: one upstream request.
type Forward = Box<dyn Fn(Request<Full<Bytes>>) -> BoxFuture + Send + Sync>;

pub(crate) struct Shared {
    pub(crate) upstreams: Vec<Upstream>,
    pub(crate) prefixes: Vec<String>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) max_connections: usize,
    body_limit: usize,
    queue_timeout: std::time::Duration,
    forward: Forward,
}

impl Shared {
    pub(crate) fn new<L, S, B>(layer: L, config: ProxyConfig) -> Result<Shared, ProxyError>
    where
        L: tower_layer::Layer<UpstreamClient, Service = S>,
        S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let https = config
            .upstreams
            .iter()
            .any(|u| u.scheme == http::uri::Scheme::HTTPS);
        let tls = crate::client::TlsUse::of(https, &config.extra_roots_pem);
        let mut tls = crate::client::tls_config(tls, &config.extra_roots_pem)?;
        // hyper-rustls sets ALPN itself (h2, http/1.1) and refuses a preset list.
        tls.alpn_protocols.clear();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client: UpstreamClient = Client::builder(TokioExecutor::new()).build(connector);
        let service = layer.layer(client);
        let forward: Forward = Box::new(move |req| {
            let mut service = service.clone();
            Box::pin(async move {
                std::future::poll_fn(|cx| service.poll_ready(cx))
                    .await
                    .map_err(Into::into)?;
                let response = service.call(req).await.map_err(Into::into)?;
                Ok(response.map(Body::new))
            })
        });
        Ok(Shared {
            prefixes: config.prefixes(),
            upstreams: config.upstreams,
            permits: Arc::new(Semaphore::new(config.max_connections)),
            max_connections: config.max_connections,
            body_limit: config.body_limit,
            queue_timeout: config.queue_timeout,
            forward,
        })
    }

    /// The upstream serving `path`, and the path to ask it for.
    pub(crate) fn route(&self, path: &str) -> Option<(&Upstream, String)> {
        let named = self.upstreams.iter().find_map(|u| {
            let name = u.name.as_deref()?;
            let rest = path.strip_prefix('/')?.strip_prefix(name)?;
            (rest.is_empty() || rest.starts_with('/')).then_some((u, rest))
        });
        let (up, rest) = match named {
            Some(found) => found,
            None => (self.upstreams.iter().find(|u| u.name.is_none())?, path),
        };
        let base = up.base_path.as_str();
        // The client may or may not repeat the upstream's base path.
        let repeats = !base.is_empty()
            && rest
                .strip_prefix(base)
                .is_some_and(|r| r.is_empty() || r.starts_with('/'));
        let target = match (repeats, rest.is_empty()) {
            (true, _) => rest.to_owned(),
            (false, true) if base.is_empty() => "/".to_owned(),
            (false, _) => format!("{base}{rest}"),
        };
        Some((up, target))
    }
}

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    req: Request<Body>,
) -> Response<Body> {
    forward(&shared, req).await
}

async fn forward(shared: &Shared, req: Request<Body>) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let Some((up, path)) = shared.route(parts.uri.path()) else {
        return json_error(
            StatusCode::NOT_FOUND,
            serde_json::json!({
                "detail": format!(
                    "no upstream serves this path; prefixes: {}",
                    if shared.prefixes.is_empty() { "(none)".to_owned() } else { shared.prefixes.join(", ") }
                ),
                "prefixes": shared.prefixes,
            }),
        );
    };
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let uri = Uri::builder()
        .scheme(up.scheme.clone())
        .authority(up.authority.clone())
        .path_and_query(path_and_query)
        .build();
    let Ok(uri) = uri else {
        return json_error(
            StatusCode::BAD_REQUEST,
            detail("the request path is not valid"),
        );
    };

    // Too large by its own account: refuse before reading.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.body_limit as u64) {
        return too_large(shared.body_limit, parts.version);
    }

    let span = remote_span(&parts.headers);
    let received = parts.version;
    let headers = &mut parts.headers;
    strip_hop_by_hop(headers);
    headers.remove(header::HOST);
    headers.remove(header::EXPECT);
    strip_proxy_headers(headers);
    if let Some(key) = &up.key {
        inject_key(up, key.expose(), headers);
    }
    add_via(headers, received);

    let body = match Limited::new(body, shared.body_limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return too_large(shared.body_limit, received)
        }
        Err(_) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                detail("the request body could not be read"),
            )
        }
    };

    // The body was read whole: its length is the framing now, whatever was declared.
    if parts.headers.contains_key(header::CONTENT_LENGTH) {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }

    let permit =
        match tokio::time::timeout(shared.queue_timeout, shared.permits.clone().acquire_owned())
            .await
        {
            Ok(Ok(p)) => p,
            _ => {
                return json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    serde_json::json!({
                        "detail": format!(
                            "upstream `{}`: every upstream connection is busy, try again",
                            up.label()
                        ),
                    }),
                )
            }
        };

    let mut outbound = Request::new(Full::new(body));
    *outbound.method_mut() = parts.method;
    *outbound.uri_mut() = uri;
    *outbound.headers_mut() = parts.headers;

    // The layer opens the call's span inside this one.
    let result = span
        .in_scope(|| (shared.forward)(outbound))
        .instrument(span)
        .await;

    match result {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            let from = parts.version;
            strip_hop_by_hop(&mut parts.headers);
            add_via(&mut parts.headers, from);
            parts.version = Version::default();
            Response::from_parts(
                parts,
                Body::new(Guarded {
                    inner: body,
                    _permit: permit,
                }),
            )
        }
        Err(e) => {
            let connect = e
                .downcast_ref::<hyper_util::client::legacy::Error>()
                .is_some_and(|e| e.is_connect());
            let what = if connect {
                "could not be reached"
            } else {
                "failed"
            };
            json_error(
                StatusCode::BAD_GATEWAY,
                serde_json::json!({
                    "detail": format!(
                        "upstream `{}` ({}) {what}: {}",
                        up.label(),
                        up.origin(),
                        innermost(&*e)
                    ),
                    "upstream": up.label(),
                }),
            )
        }
    }
}

/// The span the call runs in: the caller's session and parent from `baggage` (and
/// `traceparent`), else from the `Humanloop-*` headers; metadata from
/// `Humanloop-Metadata-*`. With neither, the span is a root and the call its own session.
fn remote_span(headers: &HeaderMap) -> tracing::Span {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let mut remote: RemoteContext = crate::hierarchy::extract(headers);
    remote.session = remote.session.or_else(|| text(SESSION_HEADER));
    remote.parent = remote.parent.or_else(|| text(PARENT_HEADER));
    let span = remote.span();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(METADATA_HEADER_PREFIX) else {
            continue;
        };
        if let (false, Ok(value)) = (key.is_empty(), value.to_str()) {
            crate::hierarchy::record_metadata(&span, key, value);
        }
    }
    span
}

/// RFC 9110 §7.6.1: `Connection`, the headers it lists, and the hop-by-hop fields.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

fn strip_proxy_headers(headers: &mut HeaderMap) {
    let ours: Vec<HeaderName> = headers
        .keys()
        .filter(|n| {
            let n = n.as_str();
            n == SESSION_HEADER || n == PARENT_HEADER || n.starts_with(METADATA_HEADER_PREFIX)
        })
        .cloned()
        .collect();
    for name in ours {
        headers.remove(name);
    }
}

fn inject_key(up: &Upstream, key: &str, headers: &mut HeaderMap) {
    for name in ["authorization", "x-api-key", "api-key", "x-goog-api-key"] {
        headers.remove(name);
    }
    let host = up.authority.host();
    let (name, value) = if host == "api.anthropic.com" {
        ("x-api-key", key.to_owned())
    } else if host == "generativelanguage.googleapis.com" {
        ("x-goog-api-key", key.to_owned())
    } else if host.ends_with(".openai.azure.com") {
        ("api-key", key.to_owned())
    } else {
        ("authorization", format!("Bearer {key}"))
    };
    if let Ok(mut value) = HeaderValue::from_str(&value) {
        value.set_sensitive(true);
        headers.insert(name, value);
    }
}

/// RFC 9110 §7.6.3: a proxy adds itself to `Via`.
fn add_via(headers: &mut HeaderMap, received: Version) {
    let protocol = match received {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    };
    let entry = format!("{protocol} humanloop-tracing");
    let value = match headers.get(header::VIA).and_then(|v| v.to_str().ok()) {
        Some(existing) => format!("{existing}, {entry}"),
        None => entry,
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(header::VIA, v);
    }
}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let inner = cause.to_string();
    let outer = e.to_string();
    if inner == outer {
        outer
    } else {
        format!("{outer}: {inner}")
    }
}

fn detail(text: &str) -> serde_json::Value {
    serde_json::json!({ "detail": text })
}

/// The body is refused unread, so the connection cannot carry another request: on
/// HTTP/1 the answer says so (`Connection: close`), or a client that pools it sends its
/// next request into a connection the server is closing.
fn too_large(limit: usize, version: http::Version) -> Response<Body> {
    let mut response = json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        serde_json::json!({
            "detail": format!("the request body is larger than the proxy's limit of {limit} bytes"),
        }),
    );
    if version < http::Version::HTTP_2 {
        response
            .headers_mut()
            .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    response
}

fn json_error(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pin_project_lite::pin_project! {
    /// A response body holding its upstream slot until it ends or is dropped.
    struct Guarded<B> {
        #[pin]
        inner: B,
        _permit: OwnedSemaphorePermit,
    }
}

impl<B: http_body::Body> http_body::Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
