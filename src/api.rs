//! The endpoint's wire types (Humanloop-style API, version 4).
//!
//! These types follow the contract in `docs/endpoint.md` and are liberal in what they accept:
//! requests omit unset fields, responses accept missing optional fields, unknown
//! fields are kept in `extra` maps and unknown enum values are kept as
//! [`FinishReason::Other`] / [`TemplateLanguage::Other`] instead of being rejected.
//!
//! ```
//! use humanloop_tracing::api::{CompletionModelConfigRequest, CompletionResponse};
//!
//! let req = CompletionModelConfigRequest::new("config_123")
//!     .with_project("demo")
//!     .with_num_samples(2u32);
//! let json = serde_json::to_value(&req).unwrap();
//! assert_eq!(json["model_config_id"], "config_123");
//! assert!(json.get("session_id").is_none()); // unset fields are omitted
//!
//! let resp: CompletionResponse = serde_json::from_str(
//!     r#"{"data":[{"id":"data_1","index":0,"output":"hi","finish_reason":"stop","brand_new":1}],
//!         "provider_responses":[]}"#,
//! ).unwrap();
//! assert_eq!(resp.data[0].output.as_deref(), Some("hi"));
//! ```

#![allow(missing_docs)] // fields mirror docs/endpoint.md one to one; each type says what it is

use std::collections::BTreeMap;
use std::fmt;

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON object: `map string → any`.
pub type JsonMap = serde_json::Map<String, Value>;

/// Declares a request body whose fields (after the required ones, before `;`) are all
/// optional: each is an `Option` the wire omits when unset, and gets a `with_…` setter, so
/// that the struct can be `#[non_exhaustive]` (it grows with the endpoint) and still be built
/// in one expression, `LogRequest::default().with_project("p").with_output("o")`. Every such
/// body keeps unknown fields in `extra`.
/// What a `with_…` setter of the request types takes: the field's own type, or any string
/// for a text field. Not `Into`: an integer literal given to `impl Into<u32>` falls back
/// to `i32` and does not compile, where `.with_num_samples(2)` must.
///
/// ```
/// use humanloop_tracing::api::CompletionModelConfigRequest;
/// let r = CompletionModelConfigRequest::new("config_1").with_num_samples(2).with_project("demo");
/// assert_eq!((r.num_samples, r.project.as_deref()), (Some(2), Some("demo")));
/// ```
pub trait IntoField<T> {
    /// The field's value.
    fn into_field(self) -> T;
}

impl<T> IntoField<T> for T {
    fn into_field(self) -> T {
        self
    }
}

impl IntoField<String> for &str {
    fn into_field(self) -> String {
        self.to_owned()
    }
}

impl IntoField<String> for &String {
    fn into_field(self) -> String {
        self.clone()
    }
}

impl IntoField<String> for std::borrow::Cow<'_, str> {
    fn into_field(self) -> String {
        self.into_owned()
    }
}

impl IntoField<String> for Box<str> {
    fn into_field(self) -> String {
        self.into()
    }
}

/// The conversions the types below offer with `From`, for their setters too.
macro_rules! into_field_from {
    ($($from:ty => $to:ty),* $(,)?) => {
        $(impl IntoField<$to> for $from {
            fn into_field(self) -> $to {
                self.into()
            }
        })*
    };
}

into_field_from! {
    String => MessageContent,
    &str => MessageContent,
    ModelConfig => LogConfig,
    ToolConfig => LogConfig,
}

macro_rules! optional_fields {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$rmeta:meta])* pub $req:ident : $rty:ty, )*
            ;
            $( $(#[$ometa:meta])* $with:ident $opt:ident : $oty:ty, )*
            $( ; $( $(#[$pmeta:meta])* $priv:ident : $pty:ty, )* )?
        }
    ) => {
        $(#[$meta])*
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$rmeta])* pub $req: $rty, )*
            $(
                $(#[$ometa])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $opt: Option<$oty>,
            )*
            /// Fields this crate does not know, sent and received verbatim.
            #[serde(flatten)]
            pub extra: JsonMap,
            $( $( $(#[$pmeta])* pub(crate) $priv: $pty, )* )?
        }

        impl $name {
            $(
                #[doc = concat!("Sets `", stringify!($opt), "`.")]
                #[must_use]
                pub fn $with(mut self, value: impl IntoField<$oty>) -> Self {
                    self.$opt = Some(value.into_field());
                    self
                }
            )*

            /// Adds a field this crate does not name (sent verbatim).
            #[must_use]
            pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
                self.extra.insert(key.into(), value.into());
                self
            }
        }
    };
}

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the crate does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok(Self::from(s.as_ref()))
            }
        }
    };
}

open_enum! {
    /// Why a generation stopped. Open: unknown values are kept in [`FinishReason::Other`].
    pub enum FinishReason {
        /// Natural end or a stop sequence.
        Stop => "stop",
        /// The token limit was reached.
        Length => "length",
        /// The model asked for a tool call.
        ToolCall => "tool_call",
    }
}

open_enum! {
    /// How a model config's template is rendered. Open enum.
    pub enum TemplateLanguage {
        /// `{{name}}` substitution.
        Default => "default",
        /// Jinja templates.
        Jinja => "jinja",
    }
}

open_enum! {
    /// Role of a chat message. Open enum.
    pub enum Role {
        /// The end user.
        User => "user",
        /// The model.
        Assistant => "assistant",
        /// System instructions.
        System => "system",
        /// A tool's result.
        Tool => "tool",
    }
}

/// Per-request provider keys. Never stored by the endpoint, never printed by `Debug`.
///
/// ```
/// use humanloop_tracing::api::ProviderApiKeys;
/// let keys = ProviderApiKeys::default().with_openai("sk-…");
/// assert!(!format!("{keys:?}").contains("sk-"));
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProviderApiKeys {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openai: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai21: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mock: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anthropic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bedrock: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohere: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openai_azure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openai_azure_endpoint: Option<String>,
    /// Keys for providers this crate does not name.
    #[serde(flatten)]
    pub extra: BTreeMap<String, String>,
}

impl ProviderApiKeys {
    /// Sets the OpenAI key.
    #[must_use]
    pub fn with_openai(mut self, key: impl Into<String>) -> Self {
        self.openai = Some(key.into());
        self
    }

    /// Sets the Anthropic key.
    #[must_use]
    pub fn with_anthropic(mut self, key: impl Into<String>) -> Self {
        self.anthropic = Some(key.into());
        self
    }

    /// Sets the key of a provider this crate does not name (kept in `extra`).
    #[must_use]
    pub fn with_other(mut self, provider: impl Into<String>, key: impl Into<String>) -> Self {
        self.extra.insert(provider.into(), key.into());
        self
    }
}

impl fmt::Debug for ProviderApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = Vec::new();
        for (name, v) in [
            ("openai", &self.openai),
            ("ai21", &self.ai21),
            ("mock", &self.mock),
            ("anthropic", &self.anthropic),
            ("bedrock", &self.bedrock),
            ("cohere", &self.cohere),
            ("openai_azure", &self.openai_azure),
        ] {
            if v.is_some() {
                names.push(name);
            }
        }
        names.extend(self.extra.keys().map(String::as_str));
        f.debug_struct("ProviderApiKeys")
            .field("keys_set", &names)
            .field("openai_azure_endpoint", &self.openai_azure_endpoint)
            .finish()
    }
}

optional_fields! {
    /// Body of `POST {base}/completion-model-config`.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct CompletionModelConfigRequest {
        /// The saved model configuration to use (required).
        pub model_config_id: String,
        ;
        with_stream stream: bool,
        with_project project: String,
        with_project_id project_id: String,
        with_session_id session_id: String,
        with_session_reference_id session_reference_id: String,
        with_parent_id parent_id: String,
        with_parent_reference_id parent_reference_id: String,
        with_inputs inputs: JsonMap,
        with_source source: String,
        with_metadata metadata: JsonMap,
        with_save save: bool,
        with_source_datapoint_id source_datapoint_id: String,
        with_provider_api_keys provider_api_keys: ProviderApiKeys,
        with_num_samples num_samples: u32,
        with_template_language template_language: TemplateLanguage,
        with_user user: String,
        with_return_inputs return_inputs: bool,
        with_logprobs logprobs: u32,
        with_suffix suffix: String,
        /// Deprecated: the seed belongs to the model config. Still accepted.
        with_seed seed: i64,
    }
}

impl CompletionModelConfigRequest {
    /// A request for `model_config_id` with every other field unset.
    pub fn new(model_config_id: impl Into<String>) -> Self {
        Self {
            model_config_id: model_config_id.into(),
            ..Self::default()
        }
    }
}

/// Token usage of a completion. Note `generation_tokens`, not `completion_tokens`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<i64>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A tool's result inside a [`CompletionData`] item.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One item of a completion response's `data` list: one sample, or in a stream one delta.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompletionData {
    /// The log id of this sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The sample, `0..num_samples`.
    #[serde(default)]
    pub index: u32,
    /// Whitespace-trimmed output (in a stream chunk: the new text only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Untrimmed output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_config_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_results: Option<Vec<ToolResult>>,
    /// Chat-flavoured servers may add this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_message: Option<ChatMessage>,
    /// Chat-flavoured servers may add this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// Response of `POST {base}/completion-model-config` (and, in a stream, each chunk).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompletionResponse {
    /// One item per sample (required).
    pub data: Vec<CompletionData>,
    /// Raw provider responses (required).
    #[serde(default)]
    pub provider_responses: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_samples: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_request: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One server-sent event of a streamed completion: a response-shaped object whose
/// `data` holds exactly one delta item.
pub type CompletionChunk = CompletionResponse;

/// A tool call requested by the model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(default)]
    pub id: String,
    /// Always `"function"` today.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".to_owned()
}

impl ToolCall {
    /// A function tool call.
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            kind: function_type(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
            },
        }
    }
}

/// The function a [`ToolCall`] names, with its JSON arguments as a string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCall {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

/// An image reference inside a content part.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One part of a multi-part message content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentPart {
    /// Text.
    Text { text: String },
    /// An image by URL (or data URL).
    ImageUrl { image_url: ImageUrl },
}

/// Message content: a string, or a list of parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Text and image parts.
    Parts(Vec<ContentPart>),
}

impl From<String> for MessageContent {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<&str> for MessageContent {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

/// A chat message: `{role, content, name?, tool_call_id?, tool_calls?}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatMessage {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
}

impl ChatMessage {
    /// A message with `role` and text `content`.
    pub fn new(role: Role, content: impl Into<MessageContent>) -> Self {
        Self {
            role,
            content: Some(content.into()),
            name: None,
            tool_call_id: None,
            tool_calls: None,
        }
    }

    /// A user message.
    pub fn user(content: impl Into<MessageContent>) -> Self {
        Self::new(Role::User, content)
    }

    /// A system message.
    pub fn system(content: impl Into<MessageContent>) -> Self {
        Self::new(Role::System, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<MessageContent>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// Sets the author's `name`.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets `tool_call_id` (a tool message answers that call).
    #[must_use]
    pub fn with_tool_call_id(mut self, id: impl Into<String>) -> Self {
        self.tool_call_id = Some(id.into());
        self
    }

    /// Sets the tool calls an assistant message requests.
    #[must_use]
    pub fn with_tool_calls(mut self, calls: Vec<ToolCall>) -> Self {
        self.tool_calls = Some(calls);
        self
    }
}

/// The `stop` field of a model config: one string or a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop sequence.
    One(String),
    /// Several stop sequences.
    Many(Vec<String>),
}

open_enum! {
    /// A model config's endpoint. Open enum.
    pub enum ModelEndpoint {
        /// Text completion.
        Complete => "complete",
        /// Chat.
        Chat => "chat",
        /// Edit.
        Edit => "edit",
    }
}

optional_fields! {
    /// `config` of type `model`: the model and parameters a log was made with.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct ModelConfig {
        pub model: String,
        ;
        /// Open enum on the wire: `openai, openai_azure, mock, anthropic, bedrock, cohere, replicate, google, groq`, ….
        with_provider provider: String,
        with_endpoint endpoint: ModelEndpoint,
        with_max_tokens max_tokens: i64,
        with_temperature temperature: f64,
        with_top_p top_p: f64,
        with_stop stop: Stop,
        with_presence_penalty presence_penalty: f64,
        with_frequency_penalty frequency_penalty: f64,
        with_seed seed: i64,
        with_response_format response_format: Value,
        with_other other: JsonMap,
        with_prompt_template prompt_template: String,
        with_chat_template chat_template: Vec<ChatMessage>,
        with_tools tools: Vec<Value>,
        with_name name: String,
        with_description description: String,
    }
}

impl ModelConfig {
    /// A config naming only `model`.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            ..Self::default()
        }
    }
}

optional_fields! {
    /// `config` of type `tool`: a non-LLM step (an agent step, a tool run, a workflow).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct ToolConfig {
        pub name: String,
        ;
        with_description description: String,
        /// JSON schema of the tool's parameters.
        with_parameters parameters: Value,
        with_source source: String,
        with_source_code source_code: String,
        with_other other: JsonMap,
    }
}

impl ToolConfig {
    /// A config naming only the tool.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// A log's `config`: a union tagged by `type`. A config without `type` is a model config,
/// as the v4 SDK sends it (`ModelConfigRequest.type` is optional).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // built once per log; a Box would only burden users
pub enum LogConfig {
    /// An LLM call.
    Model(ModelConfig),
    /// A non-LLM step.
    Tool(ToolConfig),
}

impl From<ModelConfig> for LogConfig {
    fn from(config: ModelConfig) -> Self {
        Self::Model(config)
    }
}

impl From<ToolConfig> for LogConfig {
    fn from(config: ToolConfig) -> Self {
        Self::Tool(config)
    }
}

impl<'de> Deserialize<'de> for LogConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(LogConfigVisitor)
    }
}

/// Reads a [`LogConfig`] straight into its variant when `type` comes first, as this
/// crate and the v4 SDK write it; otherwise the object is collected first to find its
/// `type` (or its absence: a model config).
struct LogConfigVisitor;

impl LogConfigVisitor {
    fn kind<E: serde::de::Error>(tag: Option<Value>) -> Result<String, E> {
        match tag {
            None | Some(Value::Null) => Ok("model".to_owned()),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(E::custom(format!(
                "config type must be a string, found {other}"
            ))),
        }
    }

    fn variant<'de, D: Deserializer<'de>>(kind: &str, rest: D) -> Result<LogConfig, D::Error> {
        use serde::de::Error as _;
        match kind {
            "model" => ModelConfig::deserialize(rest).map(|mut c| {
                c.extra.remove("type"); // a repeated tag: the first one is the config's
                LogConfig::Model(c)
            }),
            "tool" => ToolConfig::deserialize(rest).map(|mut c| {
                c.extra.remove("type");
                LogConfig::Tool(c)
            }),
            other => Err(D::Error::unknown_variant(other, &["model", "tool"])),
        }
    }
}

impl<'de> serde::de::Visitor<'de> for LogConfigVisitor {
    type Value = LogConfig;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a model or tool config object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<LogConfig, A::Error> {
        use serde::de::value::MapAccessDeserializer;
        use serde::de::Error as _;
        let first: Option<String> = map.next_key()?;
        if first.as_deref() == Some("type") {
            let kind = Self::kind(Some(map.next_value()?))?;
            return Self::variant(&kind, MapAccessDeserializer::new(map));
        }
        let mut v = JsonMap::new();
        if let Some(key) = first {
            v.insert(key, map.next_value()?);
            while let Some((key, value)) = map.next_entry::<String, Value>()? {
                v.insert(key, value);
            }
        }
        let kind = Self::kind(v.remove("type"))?;
        Self::variant(&kind, Value::Object(v)).map_err(A::Error::custom)
    }
}

optional_fields! {
    /// Body of `POST {base}/logs` (one object; an array of them for a batch).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct LogRequest {
        ;
        with_project project: String,
        with_project_id project_id: String,
        with_session_id session_id: String,
        with_session_reference_id session_reference_id: String,
        with_parent_id parent_id: String,
        with_parent_reference_id parent_reference_id: String,
        /// The caller's own id for this datapoint.
        with_reference_id reference_id: String,
        with_inputs inputs: JsonMap,
        with_source source: String,
        with_metadata metadata: JsonMap,
        with_save save: bool,
        with_source_datapoint_id source_datapoint_id: String,
        with_messages messages: Vec<ChatMessage>,
        with_output output: String,
        with_output_message output_message: ChatMessage,
        with_config_id config_id: String,
        with_config config: LogConfig,
        with_environment environment: String,
        with_feedback feedback: Value,
        /// RFC 3339.
        with_created_at created_at: String,
        with_error error: String,
        with_stdout stdout: String,
        /// Seconds.
        with_duration duration: f64,
        with_prompt_tokens prompt_tokens: i64,
        with_output_tokens output_tokens: i64,
        /// Dollars.
        with_prompt_cost prompt_cost: f64,
        /// Dollars.
        with_output_cost output_cost: f64,
        with_provider_request provider_request: Value,
        with_provider_response provider_response: Value,
        with_user user: String,
        with_judgment judgment: Value,
        ;
        /// A captured call's provider bodies as they came, when nothing in them needed
        /// cleaning (set by capture only, sent as `provider_request` and
        /// `provider_response`; read back, they are those fields).
        #[serde(flatten, skip_deserializing)]
        raw_bodies: RawBodies,
    }
}

/// Provider bodies kept as the provider's own JSON text: parsing a 2 KB completion into a
/// [`Value`] and writing it out again was half of what a captured call's log cost.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct RawBodies {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_request: Option<Box<serde_json::value::RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_response: Option<Box<serde_json::value::RawValue>>,
}

impl LogRequest {
    /// This log as an endpoint reads it: provider bodies kept as text (see [`RawBodies`])
    /// moved into `provider_request` and `provider_response`.
    pub(crate) fn with_raw_bodies_read(mut self) -> LogRequest {
        let RawBodies {
            provider_request,
            provider_response,
        } = std::mem::take(&mut self.raw_bodies);
        let read = |raw: Box<serde_json::value::RawValue>| serde_json::from_str(raw.get()).ok();
        if let Some(v) = provider_request.and_then(read) {
            self.provider_request = Some(v);
        }
        if let Some(v) = provider_response.and_then(read) {
            self.provider_response = Some(v);
        }
        self
    }
}

impl PartialEq for RawBodies {
    fn eq(&self, other: &Self) -> bool {
        fn text(v: &Option<Box<serde_json::value::RawValue>>) -> Option<&str> {
            v.as_deref().map(serde_json::value::RawValue::get)
        }
        text(&self.provider_request) == text(&other.provider_request)
            && text(&self.provider_response) == text(&other.provider_response)
    }
}

/// Answer to `POST {base}/logs`, one per log.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateLogResponse {
    /// The datapoint id (`data_…`), required.
    pub id: String,
    /// Required by the spec; tolerated when missing.
    #[serde(default)]
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

optional_fields! {
    /// Body of `PATCH {base}/logs/{id}` and `PATCH {base}/logs?reference_id=…`.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct UpdateLogRequest {
        ;
        with_output output: String,
        with_error error: String,
        /// Seconds.
        with_duration duration: f64,
    }
}

/// Answer to `POST {base}/sessions`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateSessionResponse {
    pub id: String,
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One entry of a 422 answer's `detail` list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidationError {
    /// Where the error is, e.g. `["body", "model_config_id"]` (strings or indices).
    #[serde(default)]
    pub loc: Vec<Value>,
    #[serde(default)]
    pub msg: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl ValidationError {
    /// An error at `loc` (e.g. `["body", "model_config_id"]`).
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            loc: loc.iter().map(|s| Value::String((*s).to_owned())).collect(),
            msg: msg.into(),
            kind: kind.into(),
            extra: JsonMap::new(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.loc.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match l {
                Value::String(s) => f.write_str(s)?,
                other => write!(f, "{other}")?,
            }
        }
        write!(f, ": {} ({})", self.msg, self.kind)
    }
}

/// The body of a 422 answer: `{"detail": [ValidationError…]}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationErrorBody {
    pub detail: Vec<ValidationError>,
}

/// The body of other error answers: `{"detail": <string or object>}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    #[serde(default)]
    pub detail: Value,
}

/// `POST {base}/logs` takes one log or an array; this is the array-or-object body.
///
/// ```
/// use humanloop_tracing::api::{CreateLogResponse, OneOrMany};
/// let many: OneOrMany<CreateLogResponse> =
///     serde_json::from_str(r#"[{"id": "data_1", "project_id": "pr_1"}]"#).unwrap();
/// assert!(matches!(many, OneOrMany::Many(v) if v[0].id == "data_1"));
/// let one: OneOrMany<CreateLogResponse> =
///     serde_json::from_str(r#"{"id": "data_2", "project_id": "pr_1"}"#).unwrap();
/// assert!(matches!(one, OneOrMany::One(r) if r.id == "data_2"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// An array.
    Many(Vec<T>),
    /// One object.
    One(T),
}

/// Read by the JSON's own shape: an array is `Many`, an object `One`. (serde's
/// untagged enum buffered the whole body to try `Many` first: a batch's answer was read
/// twice.) An element's error is reported as it is.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        use serde::de::{MapAccess, SeqAccess, Visitor};

        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or an array of objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

// ---- v4 shapes read back from the endpoint (the Humanloop v4 SDK's response models) ----

/// A registered model config: `ModelConfigResponse` (`GET {base}/model-configs/{id}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModelConfigResponse {
    /// `config_…`.
    pub id: String,
    /// `"model"`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The config's fields (its `tools` carry their `id`).
    #[serde(flatten)]
    pub config: ModelConfig,
}

/// A config within its project: `ProjectConfigResponse` (the answer of
/// `POST {base}/model-configs`, and of the project routes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProjectConfigResponse {
    pub project_id: String,
    pub project_name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// RFC 3339.
    pub last_used: String,
    pub config: ModelConfigResponse,
    /// The environment it is deployed to, when read as a project's active config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// Body of `POST {base}/model-configs`: a model config and the project it belongs to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProjectModelConfigRequest {
    /// The project's name (created when new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(flatten)]
    pub config: ModelConfig,
}

impl ProjectModelConfigRequest {
    /// `config` registered in the project named `project`.
    pub fn new(project: impl Into<String>, config: ModelConfig) -> Self {
        Self {
            project: Some(project.into()),
            project_id: None,
            config,
        }
    }
}

/// A project: `ProjectResponse`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProjectResponse {
    /// `pr_…`.
    pub id: String,
    pub name: String,
    /// How many logs it holds.
    #[serde(default)]
    pub data_count: u64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The config it serves when no environment is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_config: Option<ProjectConfigResponse>,
    /// `FeedbackTypeModel`s: `{type, values?}`.
    #[serde(default)]
    pub feedback_types: Vec<Value>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One page of a list (`PaginatedData…`): `records`, 1-based `page`, `size`, `total`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    pub records: Vec<T>,
    pub page: u64,
    pub size: u64,
    pub total: u64,
}

/// Feedback on a log: `FeedbackRequest` (`POST {base}/feedback`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeedbackRequest {
    /// `rating`, `action`, `issue`, `correction`, `comment` or a project's own type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A string, number, boolean or list of strings (absent with `unset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The log (`data_…`) it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Remove the log's earlier feedback of this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unset: Option<bool>,
}

impl FeedbackRequest {
    /// Feedback of `kind` with `value` on log `data_id`.
    ///
    /// ```
    /// use humanloop_tracing::api::FeedbackRequest;
    /// let f = FeedbackRequest::new("data_123", "rating", "good");
    /// assert_eq!(serde_json::to_value(&f).unwrap()["type"], "rating");
    /// ```
    pub fn new(
        data_id: impl Into<String>,
        kind: impl Into<String>,
        value: impl Into<Value>,
    ) -> Self {
        Self {
            kind: kind.into(),
            value: Some(value.into()),
            data_id: Some(data_id.into()),
            ..Self::default()
        }
    }
}

/// A stored feedback item: `FeedbackResponse`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeedbackResponse {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// Where a config is deployed: `EnvironmentProjectConfigResponse`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EnvironmentProjectConfigResponse {
    pub project_id: String,
    pub project_name: String,
    pub environment_id: String,
    pub environment_name: String,
    /// `default` for the default environment (`production`), else `other`.
    pub environment_tag: String,
    #[serde(default)]
    pub model_config_id: Option<String>,
    #[serde(default)]
    pub model_config_name: Option<String>,
}

/// An environment to deploy to: `EnvironmentRequest` (`{id, name?}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EnvironmentRequest {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl EnvironmentRequest {
    /// The environment `id`, named `name`.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: Some(name.into()),
        }
    }
}

/// Body of `POST {base}/completion-deployed` and `POST {base}/chat-deployed`: the project
/// (by `project` name or `project_id`), optionally the `environment`, and the request
/// (`inputs`, `messages` for a chat, and any other v4 field in `extra`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeployedRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// An environment name (`production`, …); the project's active config when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<JsonMap>,
    /// The conversation so far (chat routes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl DeployedRequest {
    /// A request to the config the project named `project` serves.
    pub fn project(project: impl Into<String>) -> Self {
        Self {
            project: Some(project.into()),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: Value) -> Result<LogConfig, String> {
        // Both decoders: straight from the text and through a `Value` (the endpoint's
        // located-error path) must agree.
        let text = serde_json::from_str::<LogConfig>(&v.to_string()).map_err(|e| e.to_string());
        let tree = serde_json::from_value::<LogConfig>(v).map_err(|e| e.to_string());
        assert_eq!(text.is_ok(), tree.is_ok(), "{text:?} against {tree:?}");
        text
    }

    #[test]
    fn a_config_is_read_by_its_type_wherever_it_stands() {
        let model = LogConfig::Model(ModelConfig::new("m").with_temperature(0.5));
        let tool = LogConfig::Tool(ToolConfig::new("t").with_description("d"));
        for (v, want) in [
            (
                json!({"type": "model", "model": "m", "temperature": 0.5}),
                &model,
            ),
            (
                json!({"model": "m", "type": "model", "temperature": 0.5}),
                &model,
            ),
            (json!({"model": "m", "temperature": 0.5}), &model),
            (
                json!({"type": null, "model": "m", "temperature": 0.5}),
                &model,
            ),
            (
                json!({"type": "tool", "name": "t", "description": "d"}),
                &tool,
            ),
            (
                json!({"name": "t", "description": "d", "type": "tool"}),
                &tool,
            ),
        ] {
            assert_eq!(config(v.clone()).as_ref(), Ok(want), "{v}");
        }
        // What this crate writes is read back the same.
        for c in [&model, &tool] {
            assert_eq!(config(serde_json::to_value(c).unwrap()).as_ref(), Ok(c));
        }
        // Unknown fields are kept, the tag never among them.
        let text = r#"{"type": "model", "model": "m", "x": 1, "type": "tool"}"#;
        let LogConfig::Model(m) = serde_json::from_str::<LogConfig>(text).unwrap() else {
            panic!("not a model config");
        };
        assert_eq!(m.extra, JsonMap::from_iter([("x".to_owned(), json!(1))]));
    }

    #[test]
    fn one_or_many_is_read_by_its_shape_and_names_a_bad_element() {
        type Answer = OneOrMany<CreateLogResponse>;
        let many: Answer = serde_json::from_str(r#"[{"id": "a"}, {"id": "b", "x": 1}]"#).unwrap();
        let OneOrMany::Many(v) = many else {
            panic!("not many")
        };
        assert_eq!((v[0].id.as_str(), v[1].id.as_str()), ("a", "b"));
        assert_eq!(v[1].extra.get("x"), Some(&json!(1)));
        let one: Answer = serde_json::from_value(json!({"id": "c"})).unwrap();
        assert!(matches!(one, OneOrMany::One(r) if r.id == "c"));
        let e = serde_json::from_str::<Answer>(r#"[{"id": "a"}, {"project_id": "p"}]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `id`"), "{e}");
        let e = serde_json::from_str::<Answer>("3").unwrap_err().to_string();
        assert!(e.contains("an object or an array of objects"), "{e}");
    }

    #[test]
    fn a_bad_config_is_refused_with_its_reason() {
        let e = config(json!({"type": 3, "model": "m"})).unwrap_err();
        assert!(e.contains("config type must be a string, found 3"), "{e}");
        let e = config(json!({"model": "m", "type": 3})).unwrap_err();
        assert!(e.contains("config type must be a string, found 3"), "{e}");
        let e = config(json!({"type": "agent", "model": "m"})).unwrap_err();
        assert!(e.contains("unknown variant `agent`"), "{e}");
        let e = config(json!({"type": "model"})).unwrap_err();
        assert!(e.contains("missing field `model`"), "{e}");
        let e = config(json!({})).unwrap_err();
        assert!(e.contains("missing field `model`"), "{e}");
        assert!(config(json!("model")).is_err());
    }
}
