//! The endpoint (`humanloop_tracing::server`) in-process on 127.0.0.1, its API through
//! plain reqwest, and its web UI's pages as text.

use humanloop_tracing::api::{CompletionModelConfigRequest, JsonMap};
use humanloop_tracing::server::{self, ServerConfig, ServerHandle};
use serde_json::{json, Value};

/// The base URL a `humanloop-tracing serve` child prints on its first line (`listening on
/// {url}`), its stdout piped.
pub fn listening_url(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout piped"))
        .read_line(&mut line)
        .expect("a ready line");
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("serve printed {line:?}"))
        .to_owned()
}

/// The endpoint with `config`, and a plain HTTP client.
pub async fn start_with(config: ServerConfig) -> (ServerHandle, reqwest::Client) {
    let handle = server::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("server starts");
    (handle, reqwest::Client::new())
}

/// The endpoint on an in-memory database, no API keys.
pub async fn start() -> (ServerHandle, reqwest::Client) {
    start_with(ServerConfig::in_memory()).await
}

/// POST `body` to `{base}{path}`; answers status and JSON body.
pub async fn post(http: &reqwest::Client, base: &str, path: &str, body: &Value) -> (u16, Value) {
    let resp = http
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// GET `{base}{path}`; answers status and JSON body.
pub async fn get(http: &reqwest::Client, base: &str, path: &str) -> (u16, Value) {
    let resp = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Save a model config; answers its id (the answer is a v4 `ProjectConfigResponse`, the
/// config nested under `config`).
pub async fn model_config(http: &reqwest::Client, base: &str, config: Value) -> String {
    let (status, body) = post(http, base, "/model-configs", &config).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["type"], "model", "{body}");
    let id = body["config"]["id"].as_str().expect("config id").to_owned();
    assert!(id.starts_with("config_"), "{id}");
    id
}

/// The endpoint on an in-memory database with a model config saved for the `mock`
/// provider in `project`, its chat template the one user message `template`: the
/// endpoint, a plain HTTP client and the config's id.
pub async fn start_with_mock_chat(
    project: &str,
    template: &str,
) -> (ServerHandle, reqwest::Client, String) {
    let (endpoint, http) = start().await;
    let config = json!({
        "model": "mock-1", "provider": "mock", "project": project,
        "chat_template": [{"role": "user", "content": template}]
    });
    let id = model_config(&http, &endpoint.base_url(), config).await;
    (endpoint, http, id)
}

/// The configuration of a `Humanloop` logging to `endpoint` in `project`.
pub fn config_for(endpoint: &ServerHandle, project: &str) -> humanloop_tracing::ConfigBuilder {
    humanloop_tracing::Config::builder()
        .base_url(endpoint.base_url())
        .project(project)
}

/// Two samples of the config `config_id` (a template naming `{{name}}`) in `project`,
/// for `name` = Ada.
pub fn greet_ada(config_id: &str, project: &str) -> CompletionModelConfigRequest {
    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), json!("Ada"));
    CompletionModelConfigRequest::new(config_id)
        .with_project(project)
        .with_inputs(inputs)
        .with_num_samples(2u32)
}

/// One plain `completion-model-config` call through `client`, then one streamed, the
/// stream read to its end.
pub async fn complete_plain_then_streamed(
    client: &humanloop_tracing::TracedClient,
    request: &CompletionModelConfigRequest,
) {
    use futures_util::StreamExt;
    client.completion_model_config(request).await.unwrap();
    let mut stream = client
        .completion_model_config_stream(request)
        .await
        .unwrap();
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
}

/// A mock config with `template` as its prompt.
pub async fn mock_config(http: &reqwest::Client, base: &str, template: &str) -> String {
    model_config(
        http,
        base,
        json!({"model": "mock-1", "provider": "mock", "prompt_template": template, "project": "demo"}),
    )
    .await
}

/// A fetched page: status, headers, body.
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A client that keeps cookies and does not follow redirects (the tests look at them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// GET `{origin}{path}`.
pub async fn page(http: &reqwest::Client, origin: &str, path: &str) -> Page {
    let resp = http
        .get(format!("{origin}{path}"))
        .send()
        .await
        .expect("request sent");
    Page {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

/// `http://ADDR` of a server whose API base is `http://ADDR/v4`.
pub fn origin(base_url: &str) -> String {
    base_url.trim_end_matches("/v4").to_owned()
}

/// The ids of the `href="/PREFIX…"` links of `html`, in order.
pub fn links(html: &str, prefix: &str) -> Vec<String> {
    let needle = format!("href=\"{prefix}");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest[..rest.find('"').unwrap_or(rest.len())].to_owned()
        })
        .collect()
}

/// POST one log to the API; answers its id.
pub async fn log(http: &reqwest::Client, base: &str, body: Value) -> String {
    let resp = http
        .post(format!("{base}/logs"))
        .json(&body)
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    v["id"].as_str().expect("log id").to_owned()
}

/// A model call as the middleware logs it.
pub fn call(
    session: &str,
    parent: Option<&str>,
    reference: &str,
    prompt: &str,
    output: &str,
) -> Value {
    json!({
        "project": "ui-tests", "session_reference_id": session, "reference_id": reference,
        "parent_reference_id": parent,
        "config": {"type": "model", "model": "gpt-4o-mini", "provider": "openai", "temperature": 0.2},
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": prompt}],
        "output": output, "prompt_tokens": 10, "output_tokens": 5,
        "prompt_cost": 0.001, "output_cost": 0.002, "duration": 0.25,
        "created_at": "2026-01-01T10:00:00.100Z",
    })
}

/// POST `body` to `{base}/completion-model-config`; the answer, unread.
pub async fn completion(http: &reqwest::Client, base: &str, body: &Value) -> reqwest::Response {
    http.post(format!("{base}/completion-model-config"))
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// POST raw JSON bytes to `{base}{path}`; the answer, unread.
pub async fn post_raw(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    http.post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent")
}

/// The outputs of a completion stream's chunks (`data[0].output`), joined.
pub fn joined_output(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| e["data"][0]["output"].as_str().unwrap())
        .collect()
}

/// A started endpoint with its client and API base: the handle the server tests talk through.
pub struct Api {
    pub server: ServerHandle,
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    /// The endpoint on an in-memory database, no API keys.
    pub async fn start() -> Self {
        Self::start_with(ServerConfig::in_memory()).await
    }

    /// The endpoint with `config`.
    pub async fn start_with(config: ServerConfig) -> Self {
        let (server, http) = start_with(config).await;
        let base = server.base_url();
        Self { server, http, base }
    }

    /// See [`post`].
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        post(&self.http, &self.base, path, body).await
    }

    /// POST `body` to `path`, assert a 200 (naming the answer), answer the JSON body.
    pub async fn post_ok(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, 200, "POST {path}: {answer}");
        answer
    }

    /// See [`get`].
    pub async fn get(&self, path: &str) -> (u16, Value) {
        get(&self.http, &self.base, path).await
    }

    /// GET `path`, assert a 200 (naming the answer), answer the JSON body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, answer) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {answer}");
        answer
    }

    /// `method` on `path`, with `body` as JSON when given; answers status and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// See [`model_config`].
    pub async fn model_config(&self, config: Value) -> String {
        model_config(&self.http, &self.base, config).await
    }

    /// See [`mock_config`].
    pub async fn mock_config(&self, template: &str) -> String {
        mock_config(&self.http, &self.base, template).await
    }

    /// See [`log`].
    pub async fn log(&self, body: Value) -> String {
        log(&self.http, &self.base, body).await
    }

    /// See [`completion`].
    pub async fn completion(&self, body: &Value) -> reqwest::Response {
        completion(&self.http, &self.base, body).await
    }

    /// See [`post_raw`].
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        post_raw(&self.http, &self.base, path, body).await
    }
}

/// POST `body` to `url` (with `key` as `x-api-key` when given); answers the JSON body.
pub async fn post_json(
    http: &reqwest::Client,
    url: String,
    key: Option<&str>,
    body: &Value,
) -> Value {
    let mut req = http.post(url).json(body);
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    req.send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a JSON answer")
}

/// The endpoint on an in-memory database, and a [`browser`] for its pages: answers the
/// handle, the API base and the UI origin.
pub async fn ui() -> (ServerHandle, reqwest::Client, String, String) {
    let (server, _) = start().await;
    let base = server.base_url();
    let ui = origin(&base);
    (server, browser(), base, ui)
}
