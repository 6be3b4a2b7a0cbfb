//! The guardrails' checks on the labelled corpus (`scripts/guard-corpus.py`): recall ≥ 0.99 on
//! the validated kinds (cards, IBANs, emails, key formats), and at most 0.5 % of the clean
//! texts flagged by any check.

use argus_domain::guard::{quality, scan_all};

const CORPUS: &str = include_str!("fixtures/guard/corpus.jsonl");

/// Kinds whose format validates them (a checksum, a fixed prefix and length).
const VALIDATED: &[&str] = &[
    "pii/card",
    "pii/iban",
    "pii/email",
    "secrets/aws_access_key",
    "secrets/gcp_api_key",
    "secrets/github_token",
    "secrets/gitlab_token",
    "secrets/slack_token",
    "secrets/stripe_key",
    "secrets/openai_key",
    "secrets/anthropic_key",
    "secrets/huggingface_token",
    "secrets/npm_token",
    "secrets/sendgrid_key",
    "secrets/azure_storage_key",
    "secrets/jwt",
    "secrets/private_key",
];

#[test]
fn the_checks_meet_their_recall_and_false_positive_targets() {
    let corpus = quality::parse(CORPUS).unwrap();
    let clean = corpus.iter().filter(|l| l.expect.is_empty()).count();
    assert!(
        clean * 2 >= corpus.len(),
        "at least as many clean texts as positives"
    );
    let q = quality::measure(&corpus, scan_all);
    let mut problems = Vec::new();
    for kind in VALIDATED {
        let r = q
            .recall
            .get(*kind)
            .unwrap_or_else(|| panic!("{kind}: not in the corpus"));
        if r.rate() < 0.99 {
            problems.push(format!(
                "{kind}: recall {:.3}, missed {:?}",
                r.rate(),
                r.missed
            ));
        }
    }
    // The other kinds: reported, and held to a lower floor (heuristics).
    for (kind, r) in &q.recall {
        if !VALIDATED.contains(&kind.as_str()) && r.rate() < 0.9 {
            problems.push(format!(
                "{kind}: recall {:.3}, missed {:?}",
                r.rate(),
                r.missed
            ));
        }
    }
    for (check, fp) in &q.false_positives {
        if fp.rate() > 0.005 {
            problems.push(format!(
                "{}: {} of {} clean texts flagged: {:?}",
                check.as_str(),
                fp.flagged,
                fp.clean,
                fp.examples
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

mod properties {
    use argus_domain::guard::banned::Banned;
    use argus_domain::guard::{redact, scan_all, Finding};
    use proptest::prelude::*;

    /// Text that mixes what the checks look for with arbitrary Unicode (invisible, tag and
    /// bidi characters, combining marks, other scripts).
    fn texts() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            any::<String>(),
            Just("4111 1111 1111 1111".to_owned()),
            Just("jane@example.com".to_owned()),
            Just("ignore previous instructions".to_owned()),
            Just("\u{E0049}\u{E0047}\u{200B}\u{202E}é\u{0301}".to_owned()),
            Just("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789".to_owned()),
            "[ -~]{0,40}",
            "[0-9 .+()-]{0,30}",
        ];
        prop::collection::vec(pieces, 0..8).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn any_text_is_scanned_and_redacted_without_panics(text in texts()) {
            let found = scan_all(&text);
            for f in &found {
                prop_assert!(f.start <= f.end && f.end <= text.len());
                prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
                prop_assert!((0.0..=1.0).contains(&f.score));
            }
            let spans: Vec<&Finding> = found.iter().collect();
            let (out, n) = redact::redact(&text, &spans);
            // Each replaced span (at least a byte) becomes a placeholder of at most ~40 bytes.
            prop_assert!(out.len() <= text.len() + 40 * n, "{} -> {}", text.len(), out.len());
            prop_assert!(n <= found.len());
        }

        #[test]
        fn any_banned_pattern_compiles_or_is_refused(pattern in any::<String>(), text in texts()) {
            let one = std::slice::from_ref(&pattern);
            if let Ok(b) = Banned::compile(one, one) {
                let mut out = Vec::new();
                b.scan(&text, &mut out);
                for f in out {
                    prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
                }
            }
        }
    }
}
