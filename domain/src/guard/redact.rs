//! Redaction: each found span replaced by a typed placeholder — `[EMAIL_1]`, `[CARD_2]` — the
//! same value getting the same number within a text, the rest of the text kept as it was.
//! Spans are on character boundaries, so the result is valid UTF-8; overlapping spans are
//! redacted once (the earlier, then the longer).

use std::collections::HashMap;

use super::finding::Finding;

/// `text` with the spans of `findings` replaced; answers the text and how many were replaced.
pub fn redact(text: &str, findings: &[&Finding]) -> (String, usize) {
    let mut spans: Vec<&Finding> = findings.iter().copied().filter(|f| f.is_span()).collect();
    if spans.is_empty() {
        return (text.to_owned(), 0);
    }
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out = String::with_capacity(text.len());
    let mut numbers: HashMap<(String, &str), usize> = HashMap::new();
    let mut per_kind: HashMap<String, usize> = HashMap::new();
    let mut at = 0;
    let mut replaced = 0;
    for f in spans {
        if f.start < at || f.end > text.len() {
            continue;
        }
        let (Some(before), Some(value)) = (text.get(at..f.start), text.get(f.start..f.end)) else {
            continue;
        };
        out.push_str(before);
        let label = f.kind.to_ascii_uppercase();
        let n = *numbers.entry((label.clone(), value)).or_insert_with(|| {
            let next = per_kind.entry(label.clone()).or_default();
            *next += 1;
            *next
        });
        out.push('[');
        out.push_str(&label);
        out.push('_');
        out.push_str(&n.to_string());
        out.push(']');
        at = f.end;
        replaced += 1;
    }
    out.push_str(&text[at..]);
    (out, replaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::finding::Check;

    #[test]
    fn placeholders_are_typed_numbered_and_stable() {
        let text = "mail a@x.io or b@y.io, again a@x.io — ☎ 555";
        let f = |kind: &str, v: &str, nth: usize| {
            let start = text.match_indices(v).nth(nth).unwrap().0;
            Finding::new(Check::Pii, kind, start, start + v.len(), 1.0)
        };
        let found = [
            f("email", "a@x.io", 0),
            f("email", "b@y.io", 0),
            f("email", "a@x.io", 1),
            f("phone", "555", 0),
            // Inside another: redacted once.
            f("email", "x.io", 0),
        ];
        let refs: Vec<&Finding> = found.iter().collect();
        let (out, n) = redact(text, &refs);
        assert_eq!(
            out,
            "mail [EMAIL_1] or [EMAIL_2], again [EMAIL_1] — ☎ [PHONE_1]"
        );
        assert_eq!(n, 4);
    }
}
