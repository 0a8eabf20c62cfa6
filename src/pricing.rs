//! Token prices, for the `prompt_cost` and `output_cost` of each log.
//!
//! A small built-in table covers common OpenAI, Anthropic and Gemini models (list prices
//! in US dollars per million tokens, standard tier, as published by each provider in
//! 2025). A model matches the entry that is the longest prefix of its name, so dated
//! snapshots (`gpt-4o-mini-2024-07-18`, `claude-3-5-haiku-20241022`) find their family.
//! Prices change: set your own with [`ConfigBuilder::price`](crate::ConfigBuilder::price),
//! which always wins over the table.
//!
//! Costs are computed from the normalised usage: every input token (cached ones
//! included) at the input price, every output token (reasoning included) at the output
//! price. Cache discounts and long-context surcharges are not modelled.
//!
//! ```
//! use humanloop_tracing::pricing;
//!
//! let p = pricing::builtin_price("gpt-4o-mini-2024-07-18").unwrap();
//! assert_eq!(p.input_per_mtok, 0.15);
//! assert!(pricing::builtin_price("my-local-model").is_none());
//! assert_eq!(pricing::cost(1_000_000, p.output_per_mtok), 0.6);
//! ```

/// Prices in dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// Dollars per million input tokens.
    pub input_per_mtok: f64,
    /// Dollars per million output tokens.
    pub output_per_mtok: f64,
}

/// The user's own prices ([`ConfigBuilder::price`](crate::ConfigBuilder::price)), by
/// model-name prefix; they win over the built-in table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prices {
    by_prefix: Vec<(String, Price)>,
}

impl Prices {
    /// Add a price for models whose name starts with `model_prefix`.
    pub fn add(&mut self, model_prefix: impl Into<String>, price: Price) {
        self.by_prefix.push((model_prefix.into(), price));
    }

    /// The user's price for `model`, if they set one (longest matching prefix wins).
    pub fn user_price(&self, model: &str) -> Option<Price> {
        self.by_prefix
            .iter()
            .filter(|(prefix, _)| model.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, p)| *p)
    }

    /// The price of `model`: the user's own price first, then the table.
    pub fn price(&self, model: &str) -> Option<Price> {
        self.user_price(model).or_else(|| builtin_price(model))
    }
}

const fn p(input_per_mtok: f64, output_per_mtok: f64) -> Price {
    Price {
        input_per_mtok,
        output_per_mtok,
    }
}

/// The built-in table: model-name prefix → price.
pub const BUILTIN_PRICES: &[(&str, Price)] = &[
    // OpenAI (https://openai.com/api/pricing)
    ("gpt-5", p(1.25, 10.0)),
    ("gpt-5-mini", p(0.25, 2.0)),
    ("gpt-5-nano", p(0.05, 0.40)),
    ("gpt-4.1", p(2.0, 8.0)),
    ("gpt-4.1-mini", p(0.40, 1.60)),
    ("gpt-4.1-nano", p(0.10, 0.40)),
    ("gpt-4o", p(2.50, 10.0)),
    ("gpt-4o-mini", p(0.15, 0.60)),
    ("gpt-4-turbo", p(10.0, 30.0)),
    ("gpt-4", p(30.0, 60.0)),
    ("gpt-3.5-turbo", p(0.50, 1.50)),
    ("o1", p(15.0, 60.0)),
    ("o1-mini", p(1.10, 4.40)),
    ("o3", p(2.0, 8.0)),
    ("o3-mini", p(1.10, 4.40)),
    ("o4-mini", p(1.10, 4.40)),
    ("text-embedding-3-small", p(0.02, 0.0)),
    ("text-embedding-3-large", p(0.13, 0.0)),
    ("text-embedding-ada-002", p(0.10, 0.0)),
    // Anthropic (https://www.anthropic.com/pricing#api)
    ("claude-opus-4-5", p(5.0, 25.0)),
    ("claude-opus-4", p(15.0, 75.0)),
    ("claude-sonnet-4", p(3.0, 15.0)),
    ("claude-haiku-4-5", p(1.0, 5.0)),
    ("claude-3-7-sonnet", p(3.0, 15.0)),
    ("claude-3-5-sonnet", p(3.0, 15.0)),
    ("claude-3-5-haiku", p(0.80, 4.0)),
    ("claude-3-opus", p(15.0, 75.0)),
    ("claude-3-haiku", p(0.25, 1.25)),
    // Google Gemini (https://ai.google.dev/gemini-api/docs/pricing), prompts ≤ 200k tokens
    ("gemini-2.5-pro", p(1.25, 10.0)),
    ("gemini-2.5-flash", p(0.30, 2.50)),
    ("gemini-2.5-flash-lite", p(0.10, 0.40)),
    ("gemini-2.0-flash", p(0.10, 0.40)),
    ("gemini-2.0-flash-lite", p(0.075, 0.30)),
    ("gemini-1.5-pro", p(1.25, 5.0)),
    ("gemini-1.5-flash", p(0.075, 0.30)),
];

/// The built-in price of `model` (longest matching prefix), if the table knows it.
/// A `models/` prefix (Gemini resource names) is ignored.
pub fn builtin_price(model: &str) -> Option<Price> {
    let model = model.strip_prefix("models/").unwrap_or(model);
    BUILTIN_PRICES
        .iter()
        .filter(|(prefix, _)| model.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, price)| *price)
}

/// Dollars for `tokens` at `per_mtok` dollars per million tokens.
pub fn cost(tokens: i64, per_mtok: f64) -> f64 {
    tokens as f64 * per_mtok / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(builtin_price("gpt-4o-2024-08-06"), Some(p(2.5, 10.0)));
        assert_eq!(builtin_price("gpt-4o-mini"), Some(p(0.15, 0.6)));
        assert_eq!(builtin_price("gpt-4-0613"), Some(p(30.0, 60.0)));
        assert_eq!(builtin_price("o3-mini-2025-01-31"), Some(p(1.1, 4.4)));
        assert_eq!(
            builtin_price("claude-opus-4-5-20251101"),
            Some(p(5.0, 25.0))
        );
        assert_eq!(
            builtin_price("claude-opus-4-1-20250805"),
            Some(p(15.0, 75.0))
        );
        assert_eq!(
            builtin_price("models/gemini-2.5-flash-lite"),
            Some(p(0.1, 0.4))
        );
        assert_eq!(builtin_price("llama3"), None);
    }

    #[test]
    fn user_price_overrides_the_table() {
        let mut prices = Prices::default();
        prices.add("gpt-4o", p(1.0, 2.0));
        prices.add("llama", p(0.01, 0.02));
        assert_eq!(prices.price("gpt-4o-mini"), Some(p(1.0, 2.0)));
        assert_eq!(prices.price("llama3-70b"), Some(p(0.01, 0.02)));
        assert_eq!(prices.price("gpt-4.1"), Some(p(2.0, 8.0)));
    }
}
