//! How well the checks do on a labelled corpus (`domain/tests/fixtures/guard/corpus.jsonl`,
//! written by `scripts/guard-corpus.py`): recall per kind on the texts that hold one, and the
//! false-positive rate per check on the clean texts. The corpus test asserts the targets; the
//! guardrails benchmark prints the table.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::finding::{Check, Finding};

/// One labelled text.
#[derive(Clone, Debug, Deserialize)]
pub struct Labelled {
    pub text: String,
    /// What must be found (`kind` `*`: anything of that check); empty for a clean text.
    pub expect: Vec<Expected>,
    #[serde(default)]
    pub group: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Expected {
    pub check: String,
    pub kind: String,
}

/// Recall of one kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recall {
    pub texts: usize,
    pub found: usize,
    /// Texts where it was missed (the first few), for the failure message.
    pub missed: Vec<String>,
}

impl Recall {
    pub fn rate(&self) -> f64 {
        if self.texts == 0 {
            1.0
        } else {
            self.found as f64 / self.texts as f64
        }
    }
}

/// False positives of one check on the clean texts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FalsePositives {
    pub clean: usize,
    pub flagged: usize,
    pub examples: Vec<String>,
}

impl FalsePositives {
    pub fn rate(&self) -> f64 {
        if self.clean == 0 {
            0.0
        } else {
            self.flagged as f64 / self.clean as f64
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Quality {
    /// By "check/kind" (`injection/*` for any injection finding).
    pub recall: BTreeMap<String, Recall>,
    pub false_positives: BTreeMap<Check, FalsePositives>,
}

/// Reads a corpus (JSON lines).
pub fn parse(jsonl: &str) -> Result<Vec<Labelled>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Runs `scan` (every check, as a policy with all of them would) on each text and measures.
pub fn measure(corpus: &[Labelled], scan: impl Fn(&str) -> Vec<Finding>) -> Quality {
    let mut q = Quality::default();
    for check in [Check::Pii, Check::Secrets, Check::Injection] {
        q.false_positives.insert(check, FalsePositives::default());
    }
    for item in corpus {
        let found = scan(&item.text);
        if item.expect.is_empty() {
            for (check, fp) in q.false_positives.iter_mut() {
                fp.clean += 1;
                if let Some(f) = found.iter().find(|f| f.check == *check) {
                    fp.flagged += 1;
                    if fp.examples.len() < 5 {
                        fp.examples.push(format!(
                            "{} {:?} in {:?}",
                            f.kind,
                            &item.text[f.start..f.end],
                            item.text
                        ));
                    }
                }
            }
            continue;
        }
        for e in &item.expect {
            let r = q
                .recall
                .entry(format!("{}/{}", e.check, e.kind))
                .or_default();
            r.texts += 1;
            let hit = found
                .iter()
                .any(|f| f.check.as_str() == e.check && (e.kind == "*" || f.kind == e.kind));
            if hit {
                r.found += 1;
            } else if r.missed.len() < 5 {
                r.missed.push(item.text.clone());
            }
        }
    }
    q
}
