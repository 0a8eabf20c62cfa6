//! Template rendering: `default` (`{{name}}` substitution) and `jinja` (minijinja).

use serde_json::{json, Value};

use super::error::ApiError;
use crate::api::{
    ChatMessage, ContentPart, JsonMap, MessageContent, ModelConfig, TemplateLanguage,
};

/// A model config's templates rendered with the request's inputs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rendered {
    /// From `prompt_template`.
    pub(crate) prompt: Option<String>,
    /// From `chat_template`.
    pub(crate) messages: Option<Vec<ChatMessage>>,
}

impl Rendered {
    /// The chat messages to send: the rendered chat template, with the rendered prompt as
    /// a final user message.
    pub(crate) fn chat(&self) -> Vec<ChatMessage> {
        let mut messages = self.messages.clone().unwrap_or_default();
        if let Some(p) = &self.prompt {
            messages.push(ChatMessage::user(p.as_str()));
        }
        messages
    }

    /// All rendered text, for the mock provider and token counts.
    pub(crate) fn text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for m in self.messages.iter().flatten() {
            parts.push(content_text(m.content.as_ref()));
        }
        if let Some(p) = &self.prompt {
            parts.push(p.clone());
        }
        parts.join("\n")
    }
}

pub(crate) fn content_text(content: Option<&MessageContent>) -> String {
    match content {
        None => String::new(),
        Some(MessageContent::Text(t)) => t.clone(),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// Render `config`'s templates with `inputs`.
pub(crate) fn render(
    config: &ModelConfig,
    inputs: &JsonMap,
    language: &TemplateLanguage,
) -> Result<Rendered, ApiError> {
    if config.prompt_template.is_none() && config.chat_template.is_none() {
        return Err(ApiError::invalid(
            vec![json!("body"), json!("model_config_id")],
            "the model config has neither prompt_template nor chat_template",
            "value_error",
        ));
    }
    let engine = Engine::new(language, inputs);
    let prompt = match &config.prompt_template {
        Some(t) => Some(engine.render(t)?),
        None => None,
    };
    let messages = match &config.chat_template {
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for m in list {
                let mut m = m.clone();
                m.content = match m.content.take() {
                    Some(MessageContent::Text(t)) => Some(MessageContent::Text(engine.render(&t)?)),
                    Some(MessageContent::Parts(parts)) => {
                        let mut rendered = Vec::with_capacity(parts.len());
                        for part in parts {
                            rendered.push(match part {
                                ContentPart::Text { text } => ContentPart::Text {
                                    text: engine.render(&text)?,
                                },
                                other => other,
                            });
                        }
                        Some(MessageContent::Parts(rendered))
                    }
                    None => None,
                };
                out.push(m);
            }
            Some(out)
        }
        None => None,
    };
    Ok(Rendered { prompt, messages })
}

enum Engine<'a> {
    Default(&'a JsonMap),
    Jinja(Box<minijinja::Environment<'static>>, &'a JsonMap),
}

impl<'a> Engine<'a> {
    fn new(language: &TemplateLanguage, inputs: &'a JsonMap) -> Self {
        match language {
            TemplateLanguage::Jinja => {
                let mut env = minijinja::Environment::new();
                env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
                Engine::Jinja(Box::new(env), inputs)
            }
            _ => Engine::Default(inputs),
        }
    }

    fn render(&self, template: &str) -> Result<String, ApiError> {
        match self {
            Engine::Default(inputs) => substitute(template, inputs),
            Engine::Jinja(env, inputs) => env.render_str(template, inputs).map_err(|e| {
                ApiError::invalid(
                    vec![json!("body"), json!("inputs")],
                    format!("cannot render the jinja template: {e}"),
                    "value_error.template",
                )
            }),
        }
    }
}

/// `{{name}}` / `{{ name }}` substitution; a name without an input is a 422 naming it.
/// Anything that is not `{{identifier}}` is left as written.
pub(crate) fn substitute(template: &str, inputs: &JsonMap) -> Result<String, ApiError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        let is_ident = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !is_ident {
            out.push_str(&rest[start..start + 2 + end + 2]);
        } else {
            match inputs.get(name) {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => {
                    return Err(ApiError::invalid(
                        vec![json!("body"), json!("inputs"), json!(name)],
                        format!("the template uses input '{name}', which was not given"),
                        "value_error.missing",
                    ))
                }
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(v: Value) -> JsonMap {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn default_substitution() {
        let i = inputs(json!({"name": "Ada", "n": 3}));
        assert_eq!(
            substitute("Hi {{name}}, {{ n }} times {{ not valid! }}", &i).unwrap(),
            "Hi Ada, 3 times {{ not valid! }}"
        );
        assert!(substitute("{{missing}}", &i).is_err());
        assert_eq!(substitute("open {{ end", &i).unwrap(), "open {{ end");
    }

    #[test]
    fn jinja_renders_loops() {
        let mut c = ModelConfig::new("m");
        c.prompt_template = Some("{% for x in xs %}{{ x }};{% endfor %}".into());
        let r = render(&c, &inputs(json!({"xs": [1, 2]})), &TemplateLanguage::Jinja).unwrap();
        assert_eq!(r.prompt.as_deref(), Some("1;2;"));
    }
}
