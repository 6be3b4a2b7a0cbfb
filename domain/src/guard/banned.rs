//! A policy's own banned terms (Aho-Corasick: every term in one pass, case-insensitive, whole
//! words) and patterns (a `RegexSet` first, then only the patterns that matched; compiled with
//! size limits — the regex engine runs in linear time, so no pattern can hang a check).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::finding::{Check, Finding};
use crate::{Error, Result};

/// Bounds on what an admin may give.
pub const MAX_TERMS: usize = 1_000;
pub const MAX_TERM_CHARS: usize = 200;
pub const MAX_PATTERNS: usize = 50;
pub const MAX_PATTERN_BYTES: usize = 1_000;
const MAX_COMPILED_BYTES: usize = 1 << 20;

/// Banned terms and patterns, compiled.
#[derive(Clone, Debug, Default)]
pub struct Banned {
    terms: Option<AhoCorasick>,
    term_list: Vec<String>,
    set: Option<RegexSet>,
    patterns: Vec<Regex>,
}

impl Banned {
    /// Checks and compiles; errors name the field (`banned_terms`, `banned_patterns`).
    pub fn compile(terms: &[String], patterns: &[String]) -> Result<Banned> {
        let terms: Vec<String> = terms
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if terms.len() > MAX_TERMS {
            return Err(Error::invalid_input(
                "banned_terms",
                format!("at most {MAX_TERMS} terms"),
            ));
        }
        if let Some(t) = terms.iter().find(|t| t.chars().count() > MAX_TERM_CHARS) {
            return Err(Error::invalid_input(
                "banned_terms",
                format!("{t:?} is longer than {MAX_TERM_CHARS} characters"),
            ));
        }
        let patterns: Vec<String> = patterns
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        if patterns.len() > MAX_PATTERNS {
            return Err(Error::invalid_input(
                "banned_patterns",
                format!("at most {MAX_PATTERNS} patterns"),
            ));
        }
        let mut compiled = Vec::with_capacity(patterns.len());
        for p in &patterns {
            if p.len() > MAX_PATTERN_BYTES {
                return Err(Error::invalid_input(
                    "banned_patterns",
                    format!("a pattern is longer than {MAX_PATTERN_BYTES} bytes"),
                ));
            }
            compiled.push(
                RegexBuilder::new(p)
                    .size_limit(MAX_COMPILED_BYTES)
                    .dfa_size_limit(MAX_COMPILED_BYTES)
                    .build()
                    .map_err(|e| Error::invalid_input("banned_patterns", format!("{p:?}: {e}")))?,
            );
        }
        let set = if patterns.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(&patterns)
                    .size_limit(MAX_COMPILED_BYTES * 4)
                    .dfa_size_limit(MAX_COMPILED_BYTES * 4)
                    .build()
                    .map_err(|e| Error::invalid_input("banned_patterns", e.to_string()))?,
            )
        };
        let matcher = if terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&terms)
                    .map_err(|e| Error::invalid_input("banned_terms", e.to_string()))?,
            )
        };
        Ok(Banned {
            terms: matcher,
            term_list: terms,
            set,
            patterns: compiled,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_none() && self.set.is_none()
    }

    /// The banned terms and patterns in `text`: kind `term` or `pattern_N` (its place in the
    /// list, from 1).
    pub fn scan(&self, text: &str, out: &mut Vec<Finding>) {
        if let Some(ac) = &self.terms {
            let b = text.as_bytes();
            let word = |i: Option<usize>| {
                i.and_then(|i| b.get(i))
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            };
            for m in ac.find_iter(text) {
                let term = self.term_list[m.pattern().as_usize()].as_bytes();
                // Whole words: a term that starts or ends with a letter must not run on.
                let starts_word = term.first().is_some_and(u8::is_ascii_alphanumeric);
                let ends_word = term.last().is_some_and(u8::is_ascii_alphanumeric);
                if starts_word && word(m.start().checked_sub(1)) || ends_word && word(Some(m.end()))
                {
                    continue;
                }
                out.push(Finding::new(Check::Banned, "term", m.start(), m.end(), 1.0));
            }
        }
        if let Some(set) = &self.set {
            for i in set.matches(text).iter() {
                let kind = format!("pattern_{}", i + 1);
                for m in self.patterns[i].find_iter(text).filter(|m| !m.is_empty()) {
                    out.push(Finding::new(Check::Banned, &kind, m.start(), m.end(), 1.0));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_whole_words_and_patterns_are_bounded() {
        let b = Banned::compile(
            &["Project Falcon".into(), "acme".into(), " ".into()],
            &[r"\bINC-[0-9]{4,}\b".into()],
        )
        .unwrap();
        let mut out = Vec::new();
        b.scan(
            "about project falcon, not acmecorp; see INC-20431 and ACME.",
            &mut out,
        );
        let spans: Vec<(&str, &str)> = out
            .iter()
            .map(|f| {
                (
                    f.kind.as_str(),
                    &"about project falcon, not acmecorp; see INC-20431 and ACME."[f.start..f.end],
                )
            })
            .collect();
        assert_eq!(
            spans,
            [
                ("term", "project falcon"),
                ("term", "ACME"),
                ("pattern_1", "INC-20431")
            ]
        );
        let err = Banned::compile(&[], &["(unclosed".into()]).unwrap_err();
        assert!(err.to_string().contains("banned_patterns"), "{err}");
        let huge = Banned::compile(&[], &["\\w{1000}\\w{1000}\\w{1000}".into()]);
        assert!(huge.is_err(), "a pattern past the size limit is refused");
        assert!(Banned::compile(&vec!["x".into(); MAX_TERMS + 1], &[]).is_err());
    }
}
