//! Personal data, found by pattern and confirmed by the format's own rule where it has one:
//! emails; phone numbers (international `+…` and national formats with separators); payment
//! cards (13–19 digits, a known issuer prefix, Luhn); IBANs (the country's length, mod-97); US
//! SSNs (the never-issued areas, groups and serials excluded; bare nine digits only next to
//! "SSN"); IPv4 and IPv6 addresses (parsed); dates of birth next to words that say so.
//!
//! Every pattern uses ASCII word boundaries, so the regex engine's DFA runs on any text.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::finding::{Check, Finding};

struct Pattern {
    kind: &'static str,
    regex: &'static str,
    /// Confirms a match (and may narrow it): the span to report, or `None` to drop it.
    confirm: fn(&str, usize, usize) -> Option<(usize, usize)>,
}

const PATTERNS: &[Pattern] = &[
    // The most specific first: on the same span, the earlier kind is reported.
    Pattern {
        kind: "email",
        regex: r"(?i)(?-u:\b)[a-z0-9][a-z0-9._%+\-]{0,63}@[a-z0-9](?:[a-z0-9\-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]{0,62}[a-z0-9])?)*\.[a-z]{2,24}(?-u:\b)",
        confirm: email,
    },
    Pattern {
        kind: "card",
        regex: r"(?-u:\b)[0-9](?:[ \-]?[0-9]){12,18}(?-u:\b)",
        confirm: card,
    },
    Pattern {
        kind: "iban",
        regex: r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?-u:\b)",
        confirm: iban,
    },
    Pattern {
        kind: "ssn",
        regex: r"(?-u:\b)[0-9]{3}[\- ][0-9]{2}[\- ][0-9]{4}(?-u:\b)",
        confirm: ssn,
    },
    Pattern {
        kind: "ssn",
        regex: r"(?i)(?-u:\b)(?:ssn|social security(?: number| no\.?)?)[ #:.\-]{0,4}[0-9]{9}(?-u:\b)",
        confirm: bare_ssn,
    },
    Pattern {
        kind: "ip_address",
        regex: r"(?-u:\b)(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?-u:\b)",
        confirm: ipv4,
    },
    Pattern {
        kind: "ip_address",
        regex: r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:%[0-9a-z]+)?",
        confirm: ipv6,
    },
    Pattern {
        kind: "date_of_birth",
        regex: r"(?i)(?-u:\b)(?:date of birth|birth ?date|d\.?o\.?b\.?|born(?: on)?|birthday|geboren(?: am)?|n[ée]e? le|fecha de nacimiento|data di nascita|data de nascimento)[ :,\-]{0,4}(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[./\-][0-9]{1,2}[./\-][0-9]{2,4}|[0-9]{1,2}(?:st|nd|rd|th)?\.? (?:of )?[a-zéû]{3,9}\.? [0-9]{4}|[a-z]{3,9}\.? [0-9]{1,2}(?:st|nd|rd|th)?,? [0-9]{4})",
        confirm: date_of_birth,
    },
    Pattern {
        kind: "phone",
        // International: + and a country code, then groups with separators.
        regex: r"\+[1-9][0-9]{0,3}(?:[ .\-]?\(?[0-9]{1,5}\)?){2,6}(?-u:\b)",
        confirm: international_phone,
    },
    Pattern {
        kind: "phone",
        // North American: (415) 555-0132, 415-555-0132, 415.555.0132.
        regex: r"(?:\([2-9][0-9]{2}\) ?|(?-u:\b)[2-9][0-9]{2}[\-. ])[2-9][0-9]{2}[\-. ][0-9]{4}(?-u:\b)",
        confirm: north_american_phone,
    },
    Pattern {
        kind: "phone",
        // National with a trunk 0, in groups: 020 7946 0958, 06 12 34 56 78, 030/1234567.
        regex: r"(?-u:\b)0[1-9][0-9]{0,4}(?:[ .\-/][0-9]{2,8}){1,4}(?-u:\b)",
        confirm: national_phone,
    },
];

static SET: LazyLock<RegexSet> =
    LazyLock::new(|| RegexSet::new(PATTERNS.iter().map(|p| p.regex)).expect("PII patterns"));
static REGEXES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|p| Regex::new(p.regex).expect("PII pattern"))
        .collect()
});
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[./\-][0-9]{1,2}[./\-][0-9]{2,4}|[0-9]{1,2}(?:st|nd|rd|th)?\.? (?:of )?[a-zéû]{3,9}\.? [0-9]{4}|[a-z]{3,9}\.? [0-9]{1,2}(?:st|nd|rd|th)?,? [0-9]{4}")
        .expect("date pattern")
});

/// Personal data in `text`, in order of position; a span inside another found one is left
/// out (a card's digit groups are not also a phone number).
pub fn scan(text: &str, out: &mut Vec<Finding>) {
    let mut found: Vec<Finding> = Vec::new();
    for i in SET.matches(text).iter() {
        let p = &PATTERNS[i];
        for m in REGEXES[i].find_iter(text) {
            if let Some((start, end)) = (p.confirm)(text, m.start(), m.end()) {
                found.push(Finding::new(Check::Pii, p.kind, start, end, 1.0));
            }
        }
    }
    out.extend(outermost(found));
}

/// The findings not inside an earlier (or longer) one, by position.
pub(crate) fn outermost(mut found: Vec<Finding>) -> Vec<Finding> {
    found.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut kept: Vec<Finding> = Vec::with_capacity(found.len());
    for f in found {
        if kept.last().is_some_and(|k| f.end <= k.end) {
            continue;
        }
        kept.push(f);
    }
    kept
}

/// Not the user of a URL (`postgres://app@db.internal`).
fn email(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    (!text[..s].ends_with("://")).then_some((s, e))
}

fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// Not glued to more digits or a decimal point (a longer number, a version, an amount).
fn standalone(text: &str, s: usize, e: usize) -> bool {
    let b = text.as_bytes();
    let before = s.checked_sub(1).map(|i| b[i]);
    let after = b.get(e).copied();
    let glued = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit() || c == b'.' || c == b',');
    let before_ok = !glued(before) || before == Some(b',') && s >= 2 && !b[s - 2].is_ascii_digit();
    let after_ok = match after {
        Some(b'.' | b',') => !b.get(e + 1).is_some_and(u8::is_ascii_digit),
        c => !glued(c),
    };
    before_ok && after_ok
}

fn international_phone(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let m = text[s..e].trim_end_matches([' ', '.', '-', '(']);
    let e = s + m.len();
    let n = digits(m).len();
    ((8..=15).contains(&n) && standalone(text, s, e)).then_some((s, e))
}

fn north_american_phone(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    standalone(text, s, e).then_some((s, e))
}

/// Part of a longer run of digit groups (an account number, an IBAN's groups).
fn in_digit_run(text: &str, s: usize, e: usize) -> bool {
    let b = text.as_bytes();
    let sep = |c: u8| matches!(c, b' ' | b'.' | b'-' | b'/');
    let before = s >= 2 && sep(b[s - 1]) && b[s - 2].is_ascii_digit();
    let after = b.get(e).copied().is_some_and(sep) && b.get(e + 1).is_some_and(u8::is_ascii_digit);
    before || after
}

fn national_phone(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    if in_digit_run(text, s, e) {
        return None;
    }
    let m = &text[s..e];
    let n = digits(m).len();
    // Dates (01.02.2024, 03/04/2023) and times are not phone numbers.
    let groups: Vec<&str> = m.split([' ', '.', '-', '/']).collect();
    let date_like = groups.len() == 3
        && groups.iter().all(|g| g.len() <= 4)
        && groups.iter().any(|g| g.len() == 4 || g.len() == 2)
        && n <= 8;
    ((9..=12).contains(&n) && !date_like && standalone(text, s, e)).then_some((s, e))
}

pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Whether a card number starts as an issuer's do, at a length that issuer uses.
fn issuer(d: &[u8]) -> bool {
    let prefix = |n: usize| d[..n].iter().fold(0u32, |acc, x| acc * 10 + u32::from(*x));
    let len = d.len();
    match d[0] {
        4 => matches!(len, 13 | 16 | 19), // Visa
        5 => {
            (51..=55).contains(&prefix(2)) && len == 16
                || d[1] == 0
                || (56..=59).contains(&prefix(2))
        } // Mastercard, Maestro
        2 => (2221..=2720).contains(&prefix(4)) && len == 16, // Mastercard
        3 => {
            matches!(prefix(2), 34 | 37) && len == 15                     // Amex
                || (3528..=3589).contains(&prefix(4)) && len >= 16         // JCB
                || ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38 | 39)) && len >= 14
            // Diners
        }
        6 => {
            prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)) // Discover
                || prefix(2) == 62                                          // UnionPay
                || matches!(prefix(2), 63 | 67) // Maestro
        }
        _ => false,
    }
}

fn card(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let m = &text[s..e];
    // One kind of separator, if any: "4111 1111 1111 1111" or "4111-1111-…", not a mix.
    if m.contains(' ') && m.contains('-') {
        return None;
    }
    let d = digits(m);
    ((13..=19).contains(&d.len()) && issuer(&d) && luhn(&d) && standalone(text, s, e))
        .then_some((s, e))
}

/// IBAN lengths by country (the SWIFT registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SC", 31),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

pub(crate) fn iban_valid(compact: &str) -> bool {
    let Some((_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| compact.starts_with(c)) else {
        return false;
    };
    if compact.len() != *len {
        return false;
    }
    let rearranged = compact[4..].bytes().chain(compact[..4].bytes());
    let mut rem = 0u32;
    for b in rearranged {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn iban(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    // The regex may run into the next word; try the longest valid prefix of groups.
    let m = &text[s..e];
    let mut compact = String::with_capacity(m.len());
    let mut best = None;
    for (i, c) in m.char_indices() {
        if c != ' ' {
            compact.push(c);
        }
        if (15..=34).contains(&compact.len()) && iban_valid(&compact) {
            best = Some(s + i + c.len_utf8());
        }
    }
    best.map(|end| (s, end))
}

fn ssn_parts_valid(d: &[u8]) -> bool {
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let group = u32::from(d[3]) * 10 + u32::from(d[4]);
    let serial = d[5..9].iter().fold(0u32, |a, x| a * 10 + u32::from(*x));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

fn ssn(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let m = &text[s..e];
    // One separator kind: 123-45-6789 or 123 45 6789.
    if m.contains(' ') && m.contains('-') {
        return None;
    }
    let d = digits(m);
    (d.len() == 9 && ssn_parts_valid(&d) && standalone(text, s, e)).then_some((s, e))
}

fn bare_ssn(text: &str, _: usize, e: usize) -> Option<(usize, usize)> {
    let start = e - 9;
    let d = digits(&text[start..e]);
    ssn_parts_valid(&d).then_some((start, e))
}

fn ipv4(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let m = &text[s..e];
    let ok = m
        .split('.')
        .all(|o| o.parse::<u16>().is_ok_and(|v| v <= 255) && !(o.len() > 1 && o.starts_with('0')));
    // "v1.2.3.4" and "version 1.2.3.4" are versions; an OID or a longer dotted run is not an IP.
    let b = text.as_bytes();
    let prev = s.checked_sub(1).map(|i| b[i]);
    let versioned = matches!(prev, Some(b'v' | b'V'))
        || text[..s]
            .trim_end()
            .to_ascii_lowercase()
            .ends_with("version");
    let dotted_on = b.get(e) == Some(&b'.') && b.get(e + 1).is_some_and(u8::is_ascii_digit)
        || prev == Some(b'.');
    (ok && !versioned && !dotted_on).then_some((s, e))
}

fn ipv6(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let m = &text[s..e];
    let addr = m.split('%').next().unwrap_or(m).trim_end_matches(':');
    let colons = addr.matches(':').count();
    let hex = addr.chars().filter(char::is_ascii_hexdigit).count();
    let b = text.as_bytes();
    let glued = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b':');
    if glued(s.checked_sub(1).map(|i| &b[i])) {
        return None;
    }
    let end = s + addr.len();
    (addr.parse::<Ipv6Addr>().is_ok() && (colons == 7 || addr.contains("::")) && hex >= 4)
        .then_some((s, end))
}

fn date_of_birth(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    // Report the date, not the words before it.
    let m = &text[s..e];
    DATE.find_iter(m)
        .last()
        .map(|d| (s + d.start(), s + d.end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        scan(text, &mut out);
        out.into_iter()
            .map(|f| (f.kind, text[f.start..f.end].to_owned()))
            .collect()
    }

    fn found(text: &str, kind: &str, value: &str) {
        let k = kinds(text);
        assert!(
            k.iter().any(|(kk, v)| kk == kind && v == value),
            "{kind} {value:?} not found in {text:?}: {k:?}"
        );
    }

    fn nothing(text: &str) {
        assert_eq!(kinds(text), Vec::<(String, String)>::new(), "{text:?}");
    }

    #[test]
    fn finds_personal_data_in_its_formats() {
        found(
            "mail jane.doe+tag@example.co.uk now",
            "email",
            "jane.doe+tag@example.co.uk",
        );
        found("call +44 20 7946 0958 today", "phone", "+44 20 7946 0958");
        found("call +1 (415) 555-0132.", "phone", "+1 (415) 555-0132");
        found("tel: (415) 555-0132", "phone", "(415) 555-0132");
        found("ring 020 7946 0958", "phone", "020 7946 0958");
        found("appelez le 06 12 34 56 78", "phone", "06 12 34 56 78");
        found(
            "card 4111 1111 1111 1111 exp",
            "card",
            "4111 1111 1111 1111",
        );
        found("amex 3782-822463-10005", "card", "3782-822463-10005");
        found(
            "pay to DE89 3704 0044 0532 0130 00 please",
            "iban",
            "DE89 3704 0044 0532 0130 00",
        );
        found("GB82WEST12345698765432", "iban", "GB82WEST12345698765432");
        found("ssn 536-90-4399", "ssn", "536-90-4399");
        found("SSN: 536904399", "ssn", "536904399");
        found("from 192.168.10.24 at", "ip_address", "192.168.10.24");
        found(
            "host 2001:db8::8a2e:370:7334 up",
            "ip_address",
            "2001:db8::8a2e:370:7334",
        );
        found("date of birth: 1985-03-12", "date_of_birth", "1985-03-12");
        found("born on March 12, 1985", "date_of_birth", "March 12, 1985");
        found("geboren am 12.03.1985", "date_of_birth", "12.03.1985");
    }

    #[test]
    fn near_misses_are_left_alone() {
        // Luhn fails; issuer unknown; a longer number; mixed separators.
        nothing("order 4111 1111 1111 1112 shipped");
        nothing("id 9111111111111111 ok");
        // Never-issued SSNs; a version; a time; dates without birth words; a short number.
        nothing("case 000-12-3456 and 666-12-3456 and 900-12-3456 and 123-00-4567");
        nothing("upgraded to version 1.2.3.4 and v10.0.0.1");
        nothing("at 12:30:45 the job ran on 2024-03-12");
        nothing("invoice 12345, amount 1.234,56 EUR, build 2.14.1");
        nothing("IBAN DE89 3704 0044 0532 0130 01 is wrong");
        nothing("ratio 0.25 and 10.5 and 3.14159");
    }

    #[test]
    fn spans_are_on_char_boundaries() {
        let text = "é mail: ünïcode@example.com — ☎ +33 6 12 34 56 78 ✓";
        let mut out = Vec::new();
        scan(text, &mut out);
        assert!(!out.is_empty());
        for f in out {
            assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
    }
}
