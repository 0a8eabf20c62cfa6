//! The endpoint's protocol, whatever HTTP client speaks it: the base URL and its routes, the
//! headers every request carries, JSON bodies, error answers and decoding. The reqwest
//! [`Client`](super::Client) (feature `transport`) and the exporter's plain-HTTP
//! [`HttpSink`](crate::export::HttpSink) (every build) both use it, so that the protocol is
//! written once.

use std::fmt;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::api::{CreateLogResponse, OneOrMany};
use crate::config::ConfigError;
use crate::error::{ApiError, Error};
use crate::redact::redact_userinfo;

pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");
pub(crate) const AGENT: &str = concat!("humanloop-tracing/", env!("CARGO_PKG_VERSION"));
const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The most of an error answer's body that is kept.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Where the endpoint is and how a request to it is addressed and authenticated.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// Validated http(s) URL without a trailing slash.
    base: url::Url,
    /// The `X-API-KEY` value, marked sensitive (hyper then never logs it).
    api_key: Option<HeaderValue>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &redact_userinfo(self.base.as_str()))
            .field("api_key", &self.api_key.as_ref().map(|_| "****"))
            .finish()
    }
}

impl Endpoint {
    /// Checks `base_url` (an http or https URL that can be a base) and the key (a valid
    /// header value once trimmed).
    pub(crate) fn new(base_url: &str, api_key: Option<&str>) -> Result<Endpoint, Error> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let base = match url::Url::parse(trimmed) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.has_host()
                    && !u.cannot_be_a_base() =>
            {
                u
            }
            _ => {
                let shown = redact_userinfo(trimmed).into_owned();
                return Err(ConfigError::InvalidBaseUrl(shown).into());
            }
        };
        let api_key = match api_key {
            None => None,
            Some(key) => {
                let mut value = HeaderValue::from_str(key.trim()).map_err(|_| Error::Setup {
                    message: "the API key holds characters an HTTP header cannot carry \
                                  (a line break or a control character?)"
                        .to_owned(),
                    source: None,
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        Ok(Endpoint { base, api_key })
    }

    /// The base URL, parsed.
    pub(crate) fn base(&self) -> &url::Url {
        &self.base
    }

    #[cfg(feature = "transport")]
    pub(crate) fn has_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    pub(crate) fn is_https(&self) -> bool {
        self.base.scheme() == "https"
    }

    /// `{base}/seg/seg…`, each segment percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `{base}/logs`: where datapoints are created (`POST`, one or an array).
    pub(crate) fn logs_url(&self) -> url::Url {
        self.url(&["logs"])
    }

    /// `{base}/logs?reference_id=REF`: where the datapoint logged with `REF` is completed.
    pub(crate) fn update_url(&self, reference_id: &str) -> url::Url {
        let mut url = self.logs_url();
        url.query_pairs_mut()
            .append_pair("reference_id", reference_id);
        url
    }

    /// The headers of every request: `Accept`, `User-Agent`, `X-API-KEY` when there is a
    /// key, and `Content-Type: application/json` when a body is sent.
    pub(crate) fn headers(&self, accept: HeaderValue, json_body: bool) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(ACCEPT, accept);
        headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        if let Some(key) = &self.api_key {
            headers.insert(API_KEY, key.clone());
        }
        if json_body {
            headers.insert(CONTENT_TYPE, JSON);
        }
        headers
    }
}

/// What every request to an https endpoint fails with in a transport without TLS: the
/// features that add it, named. The exporter fails the records with it (retrying cannot
/// help), and the endpoint client returns it from every call.
pub(crate) fn no_tls(url: &url::Url, what: &str) -> Error {
    Error::Setup {
        message: format!(
            "{} is an https endpoint and {what} has no TLS: enable one of humanloop-tracing's \
             features `rustls`, `rustls-ring` or `native-tls`, or use a plain http:// endpoint",
            redact_userinfo(url.as_str())
        ),
        source: None,
    }
}

pub(crate) fn to_body<T: serde::Serialize + ?Sized>(value: &T) -> Result<Bytes, Error> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(Error::Encode)
}

/// A whole answer decoded as `T` (an empty or blank body reads as `null`).
pub(crate) fn decode<T: DeserializeOwned>(
    status: StatusCode,
    bytes: &[u8],
    expected: &'static str,
) -> Result<T, Error> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"null".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| Error::decode(Some(status), expected, e, &String::from_utf8_lossy(bytes)))
}

/// What `POST /logs` with an array answers: one response per log (an endpoint that answers
/// a single object for a one-item array is accepted).
pub(crate) const BATCH_ANSWER: &str = "a list of create-log responses";

pub(crate) fn batch_answer(answer: OneOrMany<CreateLogResponse>) -> Vec<CreateLogResponse> {
    match answer {
        OneOrMany::Many(many) => many,
        OneOrMany::One(one) => vec![one],
    }
}

/// An error status turned into [`Error::Api`], with at most [`MAX_ERROR_BODY`] bytes of its
/// body (an error page can be large; the start says enough).
pub(crate) async fn error_answer<B>(status: StatusCode, headers: HeaderMap, body: B) -> Error
where
    B: http_body::Body<Data = Bytes>,
{
    use http_body_util::BodyExt;

    let mut body = std::pin::pin!(body);
    let mut kept = Vec::new();
    let mut note = "";
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                let Ok(chunk) = frame.into_data() else {
                    continue;
                };
                let room = MAX_ERROR_BODY - kept.len();
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    note = " …(truncated)";
                    break;
                }
            }
            None => break,
            Some(Err(_)) => {
                note = " …(the rest of the body could not be read)";
                break;
            }
        }
    }
    let mut body = String::from_utf8_lossy(&kept).into_owned();
    body.push_str(note);
    ApiError::new(status, headers, body).into()
}
