//! The guardrails benchmark, in process:
//!
//! 1. quality: every built-in check on the labelled corpus (`scripts/guard-corpus.py`) —
//!    recall per kind, false-positive rate per check on the clean texts;
//! 2. speed: a policy with every check (PII, secrets, injection, banned terms and patterns,
//!    limits) and redaction of what it found, on 8 KB texts — English prose and logs, the same
//!    with personal data and keys in it, and text in several scripts — p50 / p99 per text.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use argus_domain::guard::banned::Banned;
use argus_domain::guard::limits::Limits;
use argus_domain::guard::{quality, redact, scan_all, Check, Finding};

use crate::ingest::{percentile, write_section};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The labelled corpus.
    #[arg(long, default_value = "domain/tests/fixtures/guard/corpus.jsonl")]
    corpus: PathBuf,
    /// Checks of each text timed.
    #[arg(long, default_value_t = 5_000)]
    iterations: usize,
    /// Write the figures into this markdown file's guardrails section.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// About 8 KB of `parts`, repeated in turn.
fn text_of(parts: &[&str]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while out.len() < 8 * 1024 {
        out.push_str(parts[i % parts.len()]);
        out.push('\n');
        i += 1;
    }
    out
}

/// One check of a text as a policy with every check runs it: the findings, and the text with
/// them redacted.
fn check(text: &str, banned: &Banned, limits: &Limits) -> (Vec<Finding>, String) {
    let mut found = scan_all(text);
    banned.scan(text, &mut found);
    limits.scan(text, false, &mut found);
    let spans: Vec<&Finding> = found
        .iter()
        .filter(|f| f.check != Check::Injection)
        .collect();
    let (redacted, _) = redact::redact(text, &spans);
    (found, redacted)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    // 1. Quality.
    let corpus_text = std::fs::read_to_string(&args.corpus)
        .with_context(|| format!("reading {}", args.corpus.display()))?;
    let corpus = quality::parse(&corpus_text).map_err(anyhow::Error::msg)?;
    let q = quality::measure(&corpus, scan_all);
    let positives = corpus.iter().filter(|l| !l.expect.is_empty()).count();
    let mut rows = Vec::new();
    for (kind, r) in &q.recall {
        rows.push(format!("| {kind} | {} | {:.3} |", r.texts, r.rate()));
    }
    let mut fp_rows = Vec::new();
    for (check, fp) in &q.false_positives {
        fp_rows.push(format!(
            "| {} | {} of {} | {:.2} % |",
            check.as_str(),
            fp.flagged,
            fp.clean,
            fp.rate() * 100.0
        ));
    }

    // 2. Speed.
    let banned = Banned::compile(
        &[
            "project falcon".into(),
            "internal only".into(),
            "acme secret".into(),
        ],
        &[
            r"\bINC-[0-9]{4,}\b".into(),
            r"(?i)confidential\W+draft".into(),
        ],
    )?;
    let limits = Limits::compile(Some(100_000), false, None)?;
    let prose = text_of(&[
        "Hi! My order hasn't arrived yet, can you check the status? It was due on Monday.",
        "2024-03-12T10:15:32.123Z INFO request_id=5f3a9c2e took 132 ms status=200 bytes=5120",
        "The assistant summarised the meeting: budget approved, launch moved to the 21st.",
        "fn main() { let v: Vec<u64> = (1..=4111).collect(); println!(\"{}\", v.len()); }",
    ]);
    let sensitive = text_of(&[
        "Please refund card 4111 1111 1111 1111 and mail jane.doe@example.com today.",
        "Call me on +44 20 7946 0958; my IBAN is DE89 3704 0044 0532 0130 00.",
        "export GITHUB_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 # do not commit",
        "The weather was fine and the meeting ran long, nothing else to report here.",
    ]);
    let scripts = text_of(&[
        "Bonjour, je voudrais annuler ma commande n° 58213, merci beaucoup d'avance.",
        "Bitte senden Sie mir die Rechnung erneut, die Übermittlung schlug fehl.",
        "お問い合わせありがとうございます。ご注文の状況を確認いたします。",
        "Здравствуйте! Подскажите, пожалуйста, статус моего заказа.",
        "您好，请问我的订单什么时候发货？谢谢！",
    ]);
    let mut speed = Vec::new();
    for (label, text) in [
        ("8 KB of prose, logs and code (clean)", &prose),
        (
            "8 KB with cards, emails, phones, IBANs and keys",
            &sensitive,
        ),
        ("8 KB in five scripts (Latin, CJK, Cyrillic)", &scripts),
    ] {
        // Warm the lazily built automata first.
        let (found, _) = check(text, &banned, &limits);
        let mut times = Vec::with_capacity(args.iterations);
        for _ in 0..args.iterations {
            let t = Instant::now();
            std::hint::black_box(check(std::hint::black_box(text), &banned, &limits));
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        speed.push(format!(
            "| {label} ({} findings) | {:.3} / {:.3} ms | p99 ≤ 1 ms |",
            found.len(),
            percentile(&times, 50.0),
            percentile(&times, 99.0)
        ));
    }

    let report = format!(
        "| check on one text, every check on, with redaction | p50 / p99 | target |\n\
         |---|---:|---:|\n{speed}\n\n\
         Recall on the labelled corpus ({total} texts: {positives} with something to find, \
         {clean} clean; `scripts/guard-corpus.py`):\n\n\
         | kind | texts | recall |\n|---|---:|---:|\n{recall}\n\n\
         False positives on the clean texts (code, logs, support chats, numbers that fail \
         their checksum, never-issued SSNs, versions, placeholders):\n\n\
         | check | clean texts flagged | rate |\n|---|---:|---:|\n{fp}\n\n\
         {iterations} checks of each text, one thread, on this machine; targets: recall ≥ 0.99 \
         on validated kinds, false positives ≤ 0.5 %.",
        speed = speed.join("\n"),
        total = corpus.len(),
        clean = corpus.len() - positives,
        recall = rows.join("\n"),
        fp = fp_rows.join("\n"),
        iterations = args.iterations,
    );
    println!("{report}");
    if let Some(path) = &args.markdown {
        write_section(path, "guardrails", &report)?;
    }
    Ok(())
}
