//! The cost engine: a versioned price catalog (`domain/data/prices.json`) and the rules that
//! find a model's price.
//!
//! Precedence for a span: the cost it sent (`gen_ai.usage.cost`) → the workspace's own price
//! (`crate::pricing`) → this catalog. A model is looked up by its exact name, then by normalised
//! names: provider and router prefixes dropped (`openrouter/anthropic/…`, `models/…`,
//! `us.anthropic.…`), dated and version suffixes dropped (`-2024-08-06`, `-20241022`, `@20240620`,
//! `-001`, `-v1:0`, `-latest`), dots between digits read as dashes (`claude-3.5-sonnet`). The entry
//! with the latest `effective_from` not after the span's start applies.
//!
//! Cost = uncached input × input + cache reads × cached_input + cache writes × cache_write +
//! output × output, per million tokens. Input counts include cached tokens (GenAI conventions),
//! so uncached input = input − cache reads − cache writes.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::ingest::model::Usage;
use crate::{Error, Result};

/// Whether a span with this cost counts as unpriced (tokens and a model, no price).
pub fn is_unpriced(cost: Option<f64>, model: Option<&str>, usage: &Usage) -> bool {
    cost.is_none() && model.is_some() && usage.total() > 0
}

/// A price per million tokens, from a date on.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Price {
    pub effective_from: NaiveDate,
    pub input: f64,
    pub output: f64,
    /// Cache-read input; the input price when absent.
    pub cached_input: Option<f64>,
    /// Cache-creation input; the input price when absent.
    pub cache_write: Option<f64>,
}

impl Price {
    /// What `usage` costs at this price, in USD.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cache_read.max(0);
        let written = usage.cache_creation.max(0);
        let uncached = (usage.input - cached - written).max(0);
        (uncached as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + written as f64 * self.cache_write.unwrap_or(self.input)
            + usage.output.max(0) as f64 * self.output)
            / 1_000_000.0
    }
}

#[derive(Deserialize)]
struct Entry {
    #[allow(dead_code)]
    provider: String,
    model: String,
    #[serde(flatten)]
    price: Price,
}

#[derive(Deserialize)]
struct CatalogFile {
    version: String,
    models: Vec<Entry>,
}

/// Prices by model name (lowercase), each model's entries oldest first.
#[derive(Debug)]
pub struct Catalog {
    pub version: String,
    models: HashMap<String, Vec<Price>>,
}

const BUILTIN: &str = include_str!("../data/prices.json");

static BUILTIN_CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::parse(BUILTIN).expect("domain/data/prices.json is valid (tested)"));

impl Catalog {
    /// The catalog shipped with this build.
    pub fn builtin() -> &'static Catalog {
        &BUILTIN_CATALOG
    }

    pub fn parse(json: &str) -> Result<Catalog> {
        let file: CatalogFile = serde_json::from_str(json).map_err(|e| Error::InvalidFormat {
            message: format!("price catalog: {e}"),
            location: Some(format!("line {}, column {}", e.line(), e.column())),
        })?;
        let mut models: HashMap<String, Vec<Price>> = HashMap::new();
        for entry in file.models {
            let p = &entry.price;
            let valid = [Some(p.input), Some(p.output), p.cached_input, p.cache_write]
                .into_iter()
                .flatten()
                .all(|v| v.is_finite() && v >= 0.0);
            if !valid {
                return Err(Error::invalid_input(
                    "prices",
                    format!("{}: prices must be finite and not negative", entry.model),
                ));
            }
            models
                .entry(entry.model.to_lowercase())
                .or_default()
                .push(entry.price);
        }
        for prices in models.values_mut() {
            prices.sort_by_key(|p| p.effective_from);
        }
        Ok(Catalog {
            version: file.version,
            models,
        })
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The price of `model` at `at`, by exact then normalised name.
    pub fn find(&self, model: &str, at: DateTime<Utc>) -> Option<&Price> {
        let day = at.date_naive();
        candidates(model).into_iter().find_map(|name| {
            self.models
                .get(&name)
                .and_then(|prices| prices.iter().rev().find(|p| p.effective_from <= day))
        })
    }
}

/// `s` without a trailing `-<date or version>` or `@<date>` suffix, if it has one.
fn strip_suffix(s: &str) -> Option<String> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if let Some((head, tail)) = s.rsplit_once('@') {
        if digits(tail) || tail == "latest" {
            return Some(head.to_owned());
        }
    }
    // -2024-08-06
    if s.len() > 11 && s.as_bytes()[s.len() - 11] == b'-' {
        let tail = &s[s.len() - 10..];
        let parts: Vec<&str> = tail.split('-').collect();
        if parts.len() == 3 && parts.iter().all(|p| digits(p)) && parts[0].len() == 4 {
            return Some(s[..s.len() - 11].to_owned());
        }
    }
    let (head, tail) = s.rsplit_once('-')?;
    // -20241022, -2411, -001, -v1:0, -v2, -latest, -preview
    let version = tail
        .strip_prefix('v')
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b':'));
    let dated = digits(tail) && matches!(tail.len(), 3 | 4 | 8);
    (version || dated || tail == "latest" || tail == "preview").then(|| head.to_owned())
}

/// The names to try for `model`, most specific first.
pub fn candidates(model: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    let name = model.trim().to_lowercase();
    // Whole name, then with leading path segments dropped one by one.
    let mut bases = vec![name.clone()];
    let mut rest = name.as_str();
    while let Some((_, tail)) = rest.split_once('/') {
        bases.push(tail.to_owned());
        rest = tail;
    }
    // Bedrock-style "us.anthropic.claude-…": drop dotted vendor prefixes.
    if let Some(last) = bases.last().cloned() {
        for vendor in [
            "anthropic.",
            "meta.",
            "mistral.",
            "cohere.",
            "amazon.",
            "openai.",
        ] {
            if let Some(pos) = last.find(vendor) {
                bases.push(last[pos + vendor.len()..].to_owned());
            }
        }
    }
    for base in bases {
        let mut current = base;
        loop {
            push(current.clone());
            let dashed = dots_between_digits_to_dashes(&current);
            if dashed != current {
                push(dashed);
            }
            match strip_suffix(&current) {
                Some(shorter) => current = shorter,
                None => break,
            }
        }
    }
    out
}

fn dots_between_digits_to_dashes(s: &str) -> String {
    let b = s.as_bytes();
    s.char_indices()
        .map(|(i, c)| {
            let between = c == '.'
                && i > 0
                && b[i - 1].is_ascii_digit()
                && b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if between {
                '-'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: &str) -> DateTime<Utc> {
        format!("{day}T12:00:00Z").parse().unwrap()
    }

    #[test]
    fn the_builtin_catalog_parses_and_covers_the_major_providers() {
        let c = Catalog::builtin();
        assert!(c.len() >= 40, "{}", c.len());
        for model in [
            "gpt-4o",
            "claude-sonnet-4",
            "gemini-2.0-flash",
            "mistral-large",
            "llama-3.3-70b-versatile",
            "deepseek-chat",
        ] {
            assert!(c.find(model, at("2025-11-01")).is_some(), "{model}");
        }
    }

    #[test]
    fn names_are_normalised() {
        let c = Catalog::builtin();
        let day = at("2025-11-01");
        for (sent, catalog) in [
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("GPT-4o-mini-2024-07-18", "gpt-4o-mini"),
            (
                "openrouter/anthropic/claude-3.5-sonnet",
                "claude-3-5-sonnet",
            ),
            ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
            ("claude-sonnet-4-20250514", "claude-sonnet-4"),
            (
                "us.anthropic.claude-3-5-haiku-20241022-v1:0",
                "claude-3-5-haiku",
            ),
            ("models/gemini-2.0-flash-001", "gemini-2.0-flash"),
            ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
            ("mistral-large-2411", "mistral-large"),
            ("mistral-large-latest", "mistral-large"),
            (
                "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
                "meta-llama/llama-3.3-70b-instruct-turbo",
            ),
        ] {
            let want = c
                .find(catalog, day)
                .unwrap_or_else(|| panic!("{catalog} in catalog"));
            assert_eq!(c.find(sent, day), Some(want), "{sent} → {catalog}");
        }
        // gpt-4.1 is not gpt-4-1, and an unknown model has no price.
        assert_eq!(c.find("gpt-4.1", day).unwrap().input, 2.00);
        assert!(c.find("my-finetuned-llama", day).is_none());
    }

    #[test]
    fn the_price_in_effect_on_the_day_applies() {
        let c = Catalog::builtin();
        assert_eq!(c.find("o3", at("2025-05-01")).unwrap().input, 10.00);
        assert_eq!(c.find("o3", at("2025-07-01")).unwrap().input, 2.00);
        assert!(
            c.find("o3", at("2025-01-01")).is_none(),
            "before it existed"
        );
    }

    #[test]
    fn cost_splits_cached_and_uncached_input() {
        let price = Catalog::builtin().find("gpt-4o", at("2025-01-01")).unwrap();
        // The fixture's first chat: 1200 input of which 1024 cached, 85 output.
        let usage = Usage {
            input: 1200,
            output: 85,
            cache_read: 1024,
            ..Usage::default()
        };
        let expected = (176.0 * 2.50 + 1024.0 * 1.25 + 85.0 * 10.00) / 1e6;
        assert!((price.cost(&usage) - expected).abs() < 1e-12);
        // Nonsense counts (cache reads above input) never go negative.
        let odd = Usage {
            input: 10,
            cache_read: 50,
            ..Usage::default()
        };
        assert!(price.cost(&odd) >= 0.0);
    }

    #[test]
    fn a_broken_catalog_is_refused() {
        assert!(Catalog::parse("{").is_err());
        let negative = r#"{"version":"x","models":[{"provider":"p","model":"m","effective_from":"2025-01-01","input":-1,"output":1}]}"#;
        assert!(Catalog::parse(negative).is_err());
    }
}
