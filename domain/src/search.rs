//! Free-text search of traces: one tokenizer, in Rust, for the index and for the query.
//!
//! A trace's words (span names, message text) are indexed as a `tsvector` built here and sent
//! as a literal: PostgreSQL's own parser (`to_tsvector`) converts every character to a wide
//! character and back, and cost 0.2 ms a trace with messages — more than storing the trace.
//! A search is turned into a `tsquery` by the same rules, so what was indexed is what is found.
//!
//! A word is a run of letters and digits, lowercased: `GPT-4o` is `gpt` then `4o`. The query
//! language is a web search's: words (all must match), `"quoted phrases"` (in that order),
//! `-word` (must not match) and `or` between two terms.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Longer words (hashes, base64, ids) are not indexed: nobody types them by hand, and they
/// would let one trace's tsvector outgrow PostgreSQL's 1 MB limit.
pub const WORD_LIMIT: usize = 64;
/// PostgreSQL's last word position (`MAXENTRYPOS - 1`): later words share it.
const MAX_POSITION: usize = 16_383;
/// Positions PostgreSQL keeps a lexeme (`MAXNUMPOS`).
const MAX_POSITIONS: usize = 256;

/// The words of `text`, lowercased, in order; words over [`WORD_LIMIT`] bytes are left out.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() <= WORD_LIMIT)
        .map(str::to_lowercase)
}

/// `text` as a `tsvector` literal (`'word':1,4 'other':2`), its words numbered from 1 as
/// `to_tsvector` numbers them.
pub fn tsvector(text: &str) -> String {
    let mut positions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, word) in words(text).enumerate() {
        let at = (i + 1).min(MAX_POSITION);
        let list = positions.entry(word).or_default();
        if list.len() < MAX_POSITIONS && list.last() != Some(&at) {
            list.push(at);
        }
    }
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for (word, at) in &positions {
        if !out.is_empty() {
            out.push(' ');
        }
        quote(&mut out, word);
        for (n, p) in at.iter().enumerate() {
            out.push(if n == 0 { ':' } else { ',' });
            let _ = write!(out, "{p}");
        }
    }
    out
}

/// A web-search query as a `tsquery` literal over [`words`]; `None` when it has no words
/// (nothing can match it).
pub fn tsquery(query: &str) -> Option<String> {
    let mut out = String::new();
    // The operator before the next term: `&` unless an `or` came between.
    let mut or = false;
    let mut rest = query.trim_start();
    while !rest.is_empty() {
        let (negated, term, after) = next_term(rest);
        rest = after.trim_start();
        if !negated && term.eq_ignore_ascii_case("or") {
            or = !out.is_empty();
            continue;
        }
        let phrase: Vec<String> = words(term).collect();
        if phrase.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(if or { " | " } else { " & " });
        }
        or = false;
        if negated {
            out.push('!');
        }
        let group = negated && phrase.len() > 1;
        if group {
            out.push('(');
        }
        for (i, w) in phrase.iter().enumerate() {
            if i > 0 {
                out.push_str(" <-> ");
            }
            quote(&mut out, w);
        }
        if group {
            out.push(')');
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The next term of a query: whether it is negated (`-`), its text (a quoted phrase without
/// its quotes, or a word up to the next space), and what follows it.
fn next_term(s: &str) -> (bool, &str, &str) {
    let (negated, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if let Some(quoted) = s.strip_prefix('"') {
        return match quoted.find('"') {
            Some(end) => (negated, &quoted[..end], &quoted[end + 1..]),
            None => (negated, quoted, ""),
        };
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (negated, &s[..end], &s[end..])
}

/// Appends `word` as a quoted lexeme (`'` doubled, `\` escaped: words never hold either, but
/// a literal must not depend on that).
fn quote(out: &mut String, word: &str) {
    out.push('\'');
    for c in word.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_letters_and_digits_lowercased() {
        let got: Vec<String> = words("Chat GPT-4o: réponse_finale, 3.5 ").collect();
        assert_eq!(got, ["chat", "gpt", "4o", "réponse", "finale", "3", "5"]);
        let long = "x".repeat(WORD_LIMIT + 1);
        assert_eq!(words(&format!("a {long} b")).count(), 2);
    }

    #[test]
    fn a_tsvector_numbers_words_like_postgres() {
        assert_eq!(tsvector("Banana bread, banana!"), "'banana':1,3 'bread':2");
        assert_eq!(tsvector("  ...  "), "");
        assert_eq!(tsvector("O'Brien"), "'brien':2 'o':1");
    }

    #[test]
    fn positions_stop_at_postgres_limits() {
        let text = "w ".repeat(MAX_POSITION + 10);
        let v = tsvector(&text);
        assert_eq!(v.matches(',').count(), MAX_POSITIONS - 1);
        let far = format!("{}z z", "a ".repeat(MAX_POSITION + 5));
        assert!(tsvector(&far).ends_with("'z':16383"), "{}", tsvector(&far));
    }

    #[test]
    fn queries_follow_web_search_rules() {
        assert_eq!(tsquery("banana"), Some("'banana'".into()));
        assert_eq!(tsquery("Question 7"), Some("'question' & '7'".into()));
        assert_eq!(
            tsquery("\"banana bread\" -nothing"),
            Some("'banana' <-> 'bread' & !'nothing'".into())
        );
        assert_eq!(
            tsquery("gpt-4o or claude"),
            Some("'gpt' <-> '4o' | 'claude'".into())
        );
        assert_eq!(
            tsquery("-\"bad news\" good"),
            Some("!('bad' <-> 'news') & 'good'".into())
        );
        // Dangling operators and punctuation are ignored; no words, no query.
        assert_eq!(tsquery("or banana or"), Some("'banana'".into()));
        assert_eq!(
            tsquery("\"unclosed phrase"),
            Some("'unclosed' <-> 'phrase'".into())
        );
        assert_eq!(tsquery("!!! -- \"\""), None);
        assert_eq!(tsquery(""), None);
    }
}
