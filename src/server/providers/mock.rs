//! The built-in `mock` provider: deterministic, no network.

use serde_json::{json, Value};

use super::{Call, Completion};
use crate::api::FinishReason;

pub(super) fn request_body(call: &Call, stream: bool) -> Value {
    let c = &call.config;
    let mut b = json!({ "model": c.model, "prompt": call.rendered.text() });
    if let Some(m) = c.max_tokens {
        b["max_tokens"] = json!(m);
    }
    if stream {
        b["stream"] = json!(true);
    }
    b
}

/// The mock provider: ` Mock response N to: <prompt words>\n`, one token per word,
/// truncated to `max_tokens` (finish reason `length`). Deterministic.
pub(crate) fn mock_completion(call: &Call, sample: u32) -> Completion {
    let prompt = call.rendered.text();
    let words: Vec<&str> = prompt.split_whitespace().collect();
    let full = format!(" Mock response {sample} to: {}\n", words.join(" "));
    let all = pieces(&full);
    let limit = call
        .config
        .max_tokens
        .filter(|&m| m > 0)
        .map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let (text, reason) = if all.len() > limit {
        (all[..limit].concat(), FinishReason::Length)
    } else {
        (full.clone(), FinishReason::Stop)
    };
    let output_tokens = all.len().min(limit) as i64;
    let prompt_tokens = words.len() as i64;
    Completion {
        raw: json!({
            "object": "mock.completion",
            "model": call.config.model,
            "output": text,
            "finish_reason": reason.as_str(),
            "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": output_tokens },
        }),
        raw_output: text,
        finish_reason: Some(reason),
        tool_calls: None,
        prompt_tokens: Some(prompt_tokens),
        output_tokens: Some(output_tokens),
    }
}

/// Split text into word tokens, each with the whitespace that follows it (leading
/// whitespace joins the first token).
pub(super) fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_ws = false;
    let mut seen_word = false;
    for (i, ch) in text.char_indices() {
        let ws = ch.is_whitespace();
        if !ws && prev_ws && seen_word {
            out.push(&text[start..i]);
            start = i;
        }
        seen_word |= !ws;
        prev_ws = ws;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ModelConfig;
    use crate::server::render::Rendered;

    #[test]
    fn pieces_keep_every_byte() {
        let text = " Mock response 0 to: hello  world\n";
        let p = pieces(text);
        assert_eq!(p.concat(), text);
        assert_eq!(
            p,
            vec![" Mock ", "response ", "0 ", "to: ", "hello  ", "world\n"]
        );
    }

    #[test]
    fn mock_respects_max_tokens() {
        let mut config = ModelConfig::new("m");
        config.max_tokens = Some(2);
        let call = Call {
            config,
            rendered: Rendered {
                prompt: Some("a b c".into()),
                messages: None,
            },
            user: None,
            logprobs: None,
            suffix: None,
            seed: None,
            tool_choice: None,
        };
        let c = mock_completion(&call, 0);
        assert_eq!(c.raw_output, " Mock response ");
        assert_eq!(c.finish_reason, Some(FinishReason::Length));
    }
}
