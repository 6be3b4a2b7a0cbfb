//! Credentials: the key formats of cloud and SaaS providers (each with its own prefix and
//! length, so a match is a key), private key blocks, JWTs, passwords in URLs, and long
//! random-looking values assigned to a name like `api_key`, `secret` or `token`.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::finding::{Check, Finding};
use super::pii::outermost;

struct Pattern {
    kind: &'static str,
    regex: String,
}

const B: &str = r"(?-u:\b)";

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |kind: &'static str, regex: String| Pattern { kind, regex };
    vec![
        p("aws_access_key", format!("{B}(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{{16}}{B}")),
        p(
            "aws_secret_key",
            format!(r#"(?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+]{{40}}{B}"#),
        ),
        p("gcp_api_key", format!("{B}AIza[0-9A-Za-z_\\-]{{35}}")),
        p("gcp_oauth_token", format!("{B}ya29\\.[0-9A-Za-z_\\-]{{20,}}")),
        p(
            "azure_storage_key",
            "(?i)AccountKey=[A-Za-z0-9+/]{86}==".to_owned(),
        ),
        p(
            "azure_client_secret",
            format!("{B}[A-Za-z0-9_~.\\-]{{3}}8Q~[A-Za-z0-9_~.\\-]{{31,34}}"),
        ),
        p(
            "azure_sas_token",
            "(?i)[?&]sig=[A-Za-z0-9%+/]{40,}(?:%3D|=)*".to_owned(),
        ),
        p("github_token", format!("{B}gh[pousr]_[A-Za-z0-9]{{36,255}}{B}")),
        p("github_token", format!("{B}github_pat_[A-Za-z0-9_]{{82}}{B}")),
        p("gitlab_token", format!("{B}gl(?:pat|dt|ptt|rt)-[A-Za-z0-9_\\-]{{20,}}")),
        p("slack_token", format!("{B}xox[baprse]-[A-Za-z0-9\\-]{{10,}}")),
        p(
            "slack_webhook",
            "https://hooks\\.slack\\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+".to_owned(),
        ),
        p("stripe_key", format!("{B}(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{{24,}}")),
        p("stripe_webhook_secret", format!("{B}whsec_[A-Za-z0-9]{{32,}}")),
        p("anthropic_key", format!("{B}sk-ant-[A-Za-z0-9_\\-]{{32,}}")),
        p(
            "openai_key",
            format!("{B}sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\\-]{{20,}}T3BlbkFJ[A-Za-z0-9_\\-]{{20,}}"),
        ),
        p(
            "openai_key",
            format!("{B}sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\\-]{{40,}}"),
        ),
        p("openai_key", format!("{B}sk-[A-Za-z0-9]{{48}}{B}")),
        p("huggingface_token", format!("{B}hf_[A-Za-z0-9]{{34,}}")),
        p("npm_token", format!("{B}npm_[A-Za-z0-9]{{36}}{B}")),
        p("pypi_token", format!("{B}pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\\-]{{50,}}")),
        p(
            "sendgrid_key",
            format!("{B}SG\\.[A-Za-z0-9_\\-]{{22}}\\.[A-Za-z0-9_\\-]{{43}}"),
        ),
        p("twilio_key", format!("{B}SK[0-9a-f]{{32}}{B}")),
        p("mailgun_key", format!("{B}key-[0-9a-f]{{32}}{B}")),
        p("shopify_token", format!("{B}shp(?:at|ca|pa|ss)_[a-fA-F0-9]{{32}}")),
        p("digitalocean_token", format!("{B}do[opr]_v1_[a-f0-9]{{64}}")),
        p(
            "private_key",
            "-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\\s:,\\-]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\\z)"
                .to_owned(),
        ),
        p(
            "jwt",
            format!("{B}eyJ[A-Za-z0-9_\\-]{{8,}}\\.eyJ[A-Za-z0-9_\\-]{{8,}}\\.[A-Za-z0-9_\\-]*"),
        ),
        p(
            "password_in_url",
            "[a-zA-Z][a-zA-Z0-9+.\\-]{1,20}://[^\\s:/@?#]{1,64}:[^\\s/@]{1,128}@".to_owned(),
        ),
        p(
            "assigned_secret",
            r#"(?i)(?:api[_\-.]?key|apikey|secret|token|passwd|password|pwd|auth|credential|access[_\-.]?key|private[_\-.]?key|client[_\-.]?secret)[A-Za-z0-9_\-.]{0,24}["']?\s{0,3}(?:[:=]|=>|:=)\s{0,3}["']?[A-Za-z0-9_\-+/=.~]{16,}"#
                .to_owned(),
        ),
    ]
});

static SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(PATTERNS.iter().map(|p| p.regex.as_str())).expect("secret patterns")
});
static REGEXES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|p| Regex::new(&p.regex).expect("secret pattern"))
        .collect()
});
static VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9_\-+/.~]{16,}={0,2}$").expect("value pattern"));

/// Credentials in `text`, in order of position.
pub fn scan(text: &str, out: &mut Vec<Finding>) {
    let mut found = Vec::new();
    for i in SET.matches(text).iter() {
        let p = &PATTERNS[i];
        for m in REGEXES[i].find_iter(text) {
            let span = match p.kind {
                "password_in_url" => password(text, m.start(), m.end()),
                "assigned_secret" => assigned(text, m.start(), m.end()),
                "aws_secret_key" => Some((m.end() - 40, m.end())),
                "azure_sas_token" => Some((m.start() + 5, m.end())),
                _ => Some((m.start(), m.end())),
            };
            if let Some((start, end)) = span {
                let score = if p.kind == "assigned_secret" {
                    0.8
                } else {
                    1.0
                };
                found.push(Finding::new(Check::Secrets, p.kind, start, end, score));
            }
        }
    }
    out.extend(outermost(found));
}

/// The password of `scheme://user:password@`, unless it is a placeholder.
fn password(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let m = &text[s..e - 1];
    let after_scheme = m.find("://")? + 3;
    let colon = m[after_scheme..].find(':')? + after_scheme;
    let pw = &m[colon + 1..];
    (!placeholder(pw)).then_some((s + colon + 1, e - 1))
}

/// The value assigned to a secret-looking name, when it looks random (not a word, a path, a
/// placeholder or an expression).
fn assigned(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let v = VALUE.find(&text[s..e])?;
    let value = v.as_str();
    (random_looking(value) && !placeholder(value)).then_some((s + v.start(), s + v.end()))
}

fn placeholder(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    let repeated = v.len() > 3 && v.bytes().all(|b| b == v.as_bytes()[0]);
    repeated
        || [
            "xxx",
            "***",
            "your",
            "example",
            "changeme",
            "redacted",
            "placeholder",
            "<",
            "${",
            "{{",
        ]
        .iter()
        .any(|p| l.contains(p))
}

/// Shannon entropy of the bytes, in bits per byte.
pub(crate) fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Mixed letters and digits, and high entropy: a token, not a word or a name.
fn random_looking(v: &str) -> bool {
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    let letters = v.bytes().filter(u8::is_ascii_alphabetic).count();
    let upper = v.bytes().filter(u8::is_ascii_uppercase).count();
    let lower = v.bytes().filter(u8::is_ascii_lowercase).count();
    let classes = usize::from(digits > 0) + usize::from(upper > 0) + usize::from(lower > 0);
    v.len() >= 16 && letters > 0 && classes >= 2 && digits > 0 && entropy(v) >= 3.3
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

    #[test]
    fn finds_key_formats_and_assigned_secrets() {
        let cases = [
            (
                "key AKIAIOSFODNN7EXAMPLE here",
                "aws_access_key",
                "AKIAIOSFODNN7EXAMPLE",
            ),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_key",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ),
            (
                "export GITHUB_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
                "github_token",
                "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            ),
            (
                "glpat-Xy12AbCdEfGh34IjKlMn",
                "gitlab_token",
                "glpat-Xy12AbCdEfGh34IjKlMn",
            ),
            (
                "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
                "stripe_key",
                "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            ),
            (
                "postgres://app:s3cr3t-Passw0rd@db.internal:5432/app",
                "password_in_url",
                "s3cr3t-Passw0rd",
            ),
            (
                "config: api_key: \"Zq8xLm2Pw9Rt4Yv7Kb3N\"",
                "assigned_secret",
                "Zq8xLm2Pw9Rt4Yv7Kb3N",
            ),
        ];
        for (text, kind, value) in cases {
            let k = kinds(text);
            assert!(
                k.iter().any(|(kk, v)| kk == kind && v == value),
                "{kind} {value:?} in {text:?}: {k:?}"
            );
        }
    }

    #[test]
    fn words_paths_and_placeholders_are_not_secrets() {
        for text in [
            "token = refresh_access_token_handler",
            "password: <your-password-here>",
            "api_key=${OPENAI_API_KEY}",
            "secret: xxxxxxxxxxxxxxxxxxxx",
            "the token count was 1234567890123456 tokens",
            "postgres://app@db.internal:5432/app",
            "see https://example.com/path:with:colons",
            "sk-this-is-not-a-real-key",
        ] {
            assert_eq!(kinds(text), Vec::<(String, String)>::new(), "{text:?}");
        }
    }
}
