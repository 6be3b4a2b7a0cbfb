//! The attacks, each with the outcome Argus must show.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use sqlx::PgPool;

use super::client::Http;
use super::Row;

const PASSWORD: &str = "probe passphrase 0123";

/// Two tenants: A attacks, B must not notice.
pub struct World {
    pub a_email: String,
    pub a_token: String,
    pub a_ingest: String,
    pub a_read: String,
    pub b_email: String,
    pub b_ingest: String,
    pub b_workspace: String,
}

fn unique(who: &str) -> String {
    format!("{who}.{}@probe.example", uuid::Uuid::new_v4().simple())
}

async fn sign_up(http: &Http, email: &str, workspace: &str) -> anyhow::Result<String> {
    let body = format!(
        "email={}&name=Probe&password={}&workspace_name={workspace}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    let res = http.form("/api/v1/auth/signup", &body, None).await?;
    if !(200..400).contains(&res.status) {
        bail!(
            "sign-up: {} {}",
            res.status,
            String::from_utf8_lossy(&res.body)
        );
    }
    token(http, email).await
}

async fn token(http: &Http, email: &str) -> anyhow::Result<String> {
    let body = format!(
        "email={}&password={}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    let res = http.form("/api/v1/auth/token", &body, None).await?;
    res.json()["token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "log-in: {} {}",
                res.status,
                String::from_utf8_lossy(&res.body)
            )
        })
}

async fn key(http: &Http, token: &str, scopes: &str) -> anyhow::Result<String> {
    let res = http
        .form(
            "/api/v1/api-keys/create",
            &format!("name=probe-{scopes}&scopes={scopes}"),
            Some(token),
        )
        .await?;
    res.json()["key"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("key: {} {}", res.status, String::from_utf8_lossy(&res.body)))
}

impl World {
    pub async fn set_up(http: &Http) -> anyhow::Result<World> {
        let a_email = unique("attacker");
        let b_email = unique("bystander");
        let a_token = sign_up(http, &a_email, "Attacker").await?;
        let b_token = sign_up(http, &b_email, "Bystander").await?;
        let session = http
            .get("/api/v1/auth/session", Some(&b_token))
            .await?
            .json();
        Ok(World {
            a_ingest: key(http, &a_token, "ingest").await?,
            a_read: key(http, &a_token, "read").await?,
            b_ingest: key(http, &b_token, "ingest").await?,
            b_workspace: session["workspace"]["id"]
                .as_str()
                .context("B's workspace")?
                .to_owned(),
            a_token,
            a_email,
            b_email,
        })
    }
}

fn gzip(data: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("in memory");
    Bytes::from(enc.finish().expect("in memory"))
}

/// A length-delimited protobuf field.
fn field(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    prost::encoding::encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// Ten million empty spans, or one span of ten million empty attributes (20 MB inflated).
fn protobuf_bomb(attributes: bool) -> Bytes {
    let repeated: Vec<u8> = [if attributes { 0x4a } else { 0x12 }, 0x00].repeat(10_000_000);
    let scope = if attributes {
        field(0x12, &field(0x12, &repeated)) // ScopeSpans.spans[0].attributes[…]
    } else {
        field(0x12, &repeated) // ScopeSpans.spans[…]
    };
    gzip(&field(0x0a, &scope))
}

/// A million nested arrays in one attribute value (2 MB inflated).
fn deep_json_bomb() -> Bytes {
    let mut body = String::from(
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"arrayValue":{"values":"#,
    );
    body.push_str(&"[".repeat(1_000_000));
    body.push_str(&"]".repeat(1_000_000));
    body.push_str("}}}]}}]}");
    gzip(body.as_bytes())
}

/// Six million empty spans as OTLP/JSON (20 MB inflated).
fn json_bomb() -> Bytes {
    let mut body = String::from(r#"{"resourceSpans":[{"scopeSpans":[{"spans":["#);
    body.push_str(&"{},".repeat(6_000_000));
    body.push_str("{}]}]}]}");
    gzip(body.as_bytes())
}

fn span(n: u64, attributes: usize) -> Span {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64;
    Span {
        trace_id: (u128::from(n) | 1 << 100).to_be_bytes().to_vec(),
        span_id: (n | 1 << 60).to_be_bytes().to_vec(),
        name: "chat gpt-4o".into(),
        start_time_unix_nano: now,
        end_time_unix_nano: now + 1_000_000,
        attributes: (0..attributes)
            .map(|i| KeyValue {
                key: format!("attribute.{i}"),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("a value".into())),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn export_body(spans: Vec<Span>) -> Bytes {
    Bytes::from(
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec(),
    )
}

/// An OTLP export as an exporter makes it: retried on 429/502/503/504 (waiting `Retry-After`)
/// up to `tries` times. The final status and whether spans were rejected.
async fn export(http: &Http, key: &str, body: Bytes, tries: u32) -> anyhow::Result<(u16, i64)> {
    let mut status = 0;
    for _ in 0..tries {
        let res = http
            .send(
                "POST",
                "/v1/traces",
                &[
                    ("content-type", "application/x-protobuf"),
                    ("x-api-key", key),
                ],
                body.clone(),
            )
            .await;
        let res = match res {
            Ok(res) => res,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        status = res.status;
        match status {
            200 => {
                let rejected = ExportTraceServiceResponse::decode(res.body)
                    .ok()
                    .and_then(|r| r.partial_success)
                    .map_or(0, |p| p.rejected_spans);
                return Ok((200, rejected));
            }
            429 | 502 | 503 | 504 => {
                let wait = res
                    .header("retry-after")
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(wait.min(2))).await;
            }
            _ => return Ok((status, 0)),
        }
    }
    Ok((status, 0))
}

/// B's bystander traffic while something else happens: small exports, each retried like an
/// exporter; (sent, stored).
fn bystander(
    http: &Http,
    world: &World,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(u64, u64)> {
    let (http, key) = (http.clone(), world.b_ingest.clone());
    tokio::spawn(async move {
        let (mut sent, mut stored) = (0, 0);
        let mut n = 1_000_000;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            sent += 1;
            if let Ok((200, 0)) = export(&http, &key, export_body(vec![span(n, 3)]), 10).await {
                stored += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (sent, stored)
    })
}

/// 16 concurrent worst-case bodies, three rounds: gzip bombs of empty spans, of attributes,
/// of OTLP/JSON spans.
pub async fn memory(http: &Http, world: &World, pid: u32, bound_mib: u64) -> anyhow::Result<Row> {
    let bombs = [
        protobuf_bomb(false),
        protobuf_bomb(true),
        json_bomb(),
        deep_json_bomb(),
    ];
    let sizes: Vec<String> = bombs
        .iter()
        .map(|b| format!("{} KB", b.len() / 1000))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some((rss, _)) = crate::ingest::memory_mib(pid) {
                    peak.fetch_max(rss as u64, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let b = bystander(http, world, stop.clone());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (http, key) = (http.clone(), world.a_ingest.clone());
        let bombs = bombs.clone();
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for round in 0..3 {
                let kind = (i + round) % bombs.len();
                let content_type = if kind >= 2 {
                    "application/json"
                } else {
                    "application/x-protobuf"
                };
                let res = http
                    .send(
                        "POST",
                        "/v1/traces",
                        &[
                            ("content-type", content_type),
                            ("content-encoding", "gzip"),
                            ("x-api-key", &key),
                        ],
                        bombs[kind].clone(),
                    )
                    .await;
                statuses.push(res.map_or(0, |r| r.status));
            }
            statuses
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await?);
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, stored) = b.await?;
    sampler.await?;
    let peak = peak.load(Ordering::Relaxed);
    let hwm = crate::ingest::memory_mib(pid).map_or(0.0, |(_, hwm)| hwm);
    let count = |code: u16| statuses.iter().filter(|s| **s == code).count();
    let refused = count(400) + count(413) + count(429) + count(503);
    let pass = refused == statuses.len() && stored == sent && sent > 0 && hwm <= bound_mib as f64;
    Ok(Row {
        probe: "memory",
        attack: format!(
            "16 concurrent gzip bombs × 3 rounds (10 M empty spans {}, 10 M empty attributes \
             {}, 6 M empty OTLP/JSON spans {} — 20 MB each inflated —, 1 M nested JSON arrays \
             {}), while tenant B exports",
            sizes[0], sizes[1], sizes[2], sizes[3]
        ),
        expected: format!(
            "every bomb refused (413, 400 for the nesting, or 429/503 at the gate), none \
             decoded; B's exports all stored; peak RSS ≤ {bound_mib} MiB"
        ),
        observed: format!(
            "{} × 413, {} × 400, {} × 429, {} × 503, {} other in {:.1} s; B {stored}/{sent} \
             stored; peak RSS {peak} MiB sampled, {hwm:.0} MiB high-water mark",
            count(413),
            count(400),
            count(429),
            count(503),
            statuses.len() - refused,
            elapsed.as_secs_f64()
        ),
        pass,
    })
}

/// A legitimately large batch still goes through the caps untouched.
pub async fn large_legit_batch(http: &Http, world: &World) -> anyhow::Result<Row> {
    let spans: Vec<Span> = (0..10_000).map(|n| span(2_000_000 + n, 20)).collect();
    let body = export_body(spans);
    let size = body.len();
    let started = Instant::now();
    let (status, rejected) = export(http, &world.b_ingest, body, 5).await?;
    Ok(Row {
        probe: "large batch",
        attack: format!(
            "10,000 spans × 20 attributes in one request ({} MB)",
            size / 1_000_000
        ),
        expected: "200, nothing rejected".into(),
        observed: format!(
            "{status}, {rejected} rejected, {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        pass: status == 200 && rejected == 0,
    })
}

/// 16 uploads that trickle a byte a second: with a read-only key (refused before the body),
/// then with an ingest key (cut off at the read timeout); tenant B exports meanwhile.
pub async fn slow_uploads(http: &Http, world: &World, ingest_key: bool) -> anyhow::Result<Row> {
    let key = if ingest_key {
        world.a_ingest.clone()
    } else {
        world.a_read.clone()
    };
    let patience = Duration::from_secs(if ingest_key { 20 } else { 5 });
    let stop = Arc::new(AtomicBool::new(false));
    let b = bystander(http, world, stop.clone());
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (http, key) = (http.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            http.trickle("/v1/traces", &key, 1_000_000, patience).await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await??);
    }
    stop.store(true, Ordering::Relaxed);
    let (sent, stored) = b.await?;
    let want = if ingest_key { 408 } else { 403 };
    let ok = answers.iter().filter(|(s, _)| *s == Some(want)).count();
    let slowest = answers
        .iter()
        .map(|(_, t)| t.as_secs_f64())
        .fold(0.0, f64::max);
    Ok(Row {
        probe: if ingest_key {
            "slow uploads"
        } else {
            "slow uploads, read key"
        },
        attack: format!(
            "16 uploads declaring 1 MB and sending 1 byte a second, {} key, while tenant B \
             exports",
            if ingest_key {
                "an ingest"
            } else {
                "a read-only"
            }
        ),
        expected: format!(
            "{want} for each ({}); B's exports all stored",
            if ingest_key {
                "cut off at the body read timeout"
            } else {
                "the scope is checked before the body is read"
            }
        ),
        observed: format!(
            "{ok}/16 × {want}, the slowest answered after {slowest:.1} s; B {stored}/{sent} stored"
        ),
        pass: ok == 16 && stored == sent && sent > 0,
    })
}

/// 16 OTLP/gRPC exports on one HTTP/2 connection that trickle their message a byte a second,
/// an ingest key; tenant B exports (over OTLP/HTTP) meanwhile.
pub async fn slow_grpc_streams(http: &Http, world: &World, grpc: &str) -> anyhow::Result<Row> {
    const DEADLINE_EXCEEDED: u32 = 4;
    let stop = Arc::new(AtomicBool::new(false));
    let b = bystander(http, world, stop.clone());
    let answers = super::client::grpc_trickles(
        grpc,
        &world.a_ingest,
        16,
        1_000_000,
        Duration::from_secs(20),
    )
    .await?;
    stop.store(true, Ordering::Relaxed);
    let (sent, stored) = b.await?;
    let ok = answers
        .iter()
        .filter(|(s, _)| *s == Some(DEADLINE_EXCEEDED))
        .count();
    let slowest = answers
        .iter()
        .map(|(_, t)| t.as_secs_f64())
        .fold(0.0, f64::max);
    Ok(Row {
        probe: "slow gRPC streams",
        attack: "16 OTLP/gRPC exports on one HTTP/2 connection, each announcing a 1 MB message \
                 and sending 1 byte a second, an ingest key, while tenant B exports"
            .into(),
        expected: "DEADLINE_EXCEEDED for each (cut off at the body read timeout); B's exports \
                   all stored"
            .into(),
        observed: format!(
            "{ok}/16 × DEADLINE_EXCEEDED, the slowest answered after {slowest:.1} s; \
             B {stored}/{sent} stored"
        ),
        pass: ok == 16 && stored == sent && sent > 0,
    })
}

/// 50 parallel wrong passwords for one account.
pub async fn login_flood(http: &Http, world: &World) -> anyhow::Result<Row> {
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (http, email) = (http.clone(), world.a_email.clone());
        tasks.push(tokio::spawn(async move {
            let body = format!("email={}&password=wrong+guess", email.replace('@', "%40"));
            http.form("/api/v1/auth/token", &body, None)
                .await
                .map(|r| (r.status, r.header("retry-after").is_some()))
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await??);
    }
    let checked = answers.iter().filter(|(s, _)| *s == 401).count();
    let limited = answers.iter().filter(|(s, r)| *s == 429 && *r).count();
    Ok(Row {
        probe: "log-in flood",
        attack: "50 parallel wrong passwords for one email".into(),
        expected: "at most 5 checked (401); the rest 429 with Retry-After".into(),
        observed: format!("{checked} × 401, {limited} × 429 with Retry-After"),
        pass: checked <= 5 && checked + limited == 50,
    })
}

/// Log-out ends a token on the server.
pub async fn revoked_token(http: &Http, world: &World) -> anyhow::Result<Row> {
    let token = token(http, &world.a_email).await?;
    let before = http.get("/api/v1/auth/session", Some(&token)).await?.status;
    http.form("/api/v1/auth/logout", "", Some(&token)).await?;
    let after = http.get("/api/v1/auth/session", Some(&token)).await?.status;
    Ok(Row {
        probe: "revocation",
        attack: "a session token used again after log-out".into(),
        expected: "200 before, 401 after".into(),
        observed: format!("{before} before, {after} after"),
        pass: before == 200 && after == 401,
    })
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// The members form and sign-up tell nobody which addresses have accounts.
pub async fn enumeration(http: &Http, world: &World) -> anyhow::Result<Row> {
    let invite = |email: String| {
        let (http, token) = (http.clone(), world.a_token.clone());
        async move {
            let body = format!("email={}&role=viewer", email.replace('@', "%40"));
            http.form("/api/v1/members/add", &body, Some(&token)).await
        }
    };
    let known = invite(world.b_email.clone()).await?;
    let unknown = invite(unique("nobody")).await?;
    let same_invite = known.status == unknown.status
        && keys(&known.json()) == keys(&unknown.json())
        && keys(&known.json()["invitation"]) == keys(&unknown.json()["invitation"]);
    let signup = |email: String| {
        let http = http.clone();
        async move {
            let body = format!(
                "email={}&name=X&password=some+long+passphrase&workspace_name=W",
                email.replace('@', "%40")
            );
            http.form("/api/v1/auth/signup", &body, None).await
        }
    };
    let existing = signup(world.b_email.clone()).await?;
    let fresh = signup(unique("fresh")).await?;
    let same_signup = existing.status == fresh.status
        && existing.body == fresh.body
        && existing.header("set-cookie").is_none()
        && fresh.header("set-cookie").is_none();
    Ok(Row {
        probe: "enumeration",
        attack: "invite, then sign up, an address with an account and one without".into(),
        expected: "the same answer for both, each time".into(),
        observed: format!(
            "invite {} / {}, same shape: {same_invite}; sign-up {} / {}, same: {same_signup}",
            known.status, unknown.status, existing.status, fresh.status
        ),
        pass: same_invite && same_signup && known.status == 200,
    })
}

/// Production headers: CSP with a nonce, HSTS, `__Host-` Secure cookie.
pub async fn headers(http: &Http, world: &World) -> anyhow::Result<Row> {
    let page = http.get("/login", None).await?;
    let csp = page.header("content-security-policy").unwrap_or_default();
    let hsts = page.header("strict-transport-security").unwrap_or_default();
    let login = http
        .send(
            "POST",
            "/api/v1/auth/login",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("accept", "text/html"),
            ],
            format!(
                "email={}&password={}",
                world.a_email.replace('@', "%40"),
                PASSWORD.replace(' ', "+")
            ),
        )
        .await?;
    let cookie = login.header("set-cookie").unwrap_or_default();
    let csp_ok = csp.contains("script-src 'self' 'nonce-")
        && csp.contains("'wasm-unsafe-eval'")
        && csp.contains("frame-ancestors 'none'")
        && !csp.contains("ws://");
    let cookie_ok = cookie.starts_with("__Host-argus_session=")
        && cookie.contains("; Secure")
        && cookie.contains("HttpOnly");
    Ok(Row {
        probe: "headers",
        attack: "a page and a log-in in production".into(),
        expected: "CSP (script-src 'self' + nonce, 'wasm-unsafe-eval', frame-ancestors 'none'), \
                   HSTS, Referrer-Policy, Permissions-Policy; a __Host- Secure HttpOnly cookie \
                   (the browser suite hydrates every page under this CSP)"
            .into(),
        observed: format!(
            "CSP ok: {csp_ok}; HSTS `{hsts}`; Referrer-Policy {}; Permissions-Policy {}; cookie \
             ok: {cookie_ok}",
            page.header("referrer-policy").is_some(),
            page.header("permissions-policy").is_some()
        ),
        pass: csp_ok
            && hsts.starts_with("max-age=")
            && cookie_ok
            && page.header("referrer-policy").is_some()
            && page.header("permissions-policy").is_some(),
    })
}

/// Anonymous health checks say only ready or not; the status details need an admin.
pub async fn anonymous_health(http: &Http) -> anyhow::Result<Row> {
    let ready = http.get("/readyz", None).await?;
    let health = http.get("/healthz", None).await?;
    let status = http.get("/api/v1/system/status", None).await?;
    let pass = ready.json() == serde_json::json!({"status": "ready"})
        && health.json() == serde_json::json!({"status": "ok"})
        && status.status == 401;
    Ok(Row {
        probe: "anonymous status",
        attack: "/readyz, /healthz and /api/v1/system/status without credentials".into(),
        expected: "ready / ok and nothing else; the status details 401".into(),
        observed: format!(
            "{} `{}`, {} `{}`, status {}",
            ready.status,
            String::from_utf8_lossy(&ready.body),
            health.status,
            String::from_utf8_lossy(&health.body),
            status.status
        ),
        pass,
    })
}

async fn partitions_count(db: &PgPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'spans'::regclass")
            .fetch_one(db)
            .await?,
    )
}

/// One native batch of 1,000 traces on 1,000 past days.
pub async fn partitions(http: &Http, world: &World, db: &PgPool) -> anyhow::Result<Row> {
    let before = partitions_count(db).await?;
    let now = chrono::Utc::now();
    let traces: Vec<serde_json::Value> = (1..=1000)
        .map(|d| {
            serde_json::json!({"trace_id": format!("past-{d}"), "agent_id": "probe",
                "start_time": now - chrono::Duration::days(d), "latency_ms": 5})
        })
        .collect();
    let res = http
        .send(
            "POST",
            "/api/v1/traces",
            &[
                ("content-type", "application/json"),
                ("x-api-key", &world.b_ingest),
            ],
            serde_json::json!({ "traces": traces }).to_string(),
        )
        .await?;
    let after = partitions_count(db).await?;
    let json = res.json();
    let accepted = json["accepted"].as_u64().unwrap_or(0);
    let rejected = json["rejected"].as_array().map_or(0, Vec::len);
    Ok(Row {
        probe: "timestamps",
        attack: "one native batch of 1,000 traces on 1,000 past days".into(),
        expected: "past the workspace's retention (90 days) rejected per trace; at most 7 new \
                   day partitions"
            .into(),
        observed: format!(
            "{} — {accepted} accepted, {rejected} rejected; {} new partitions",
            res.status,
            after - before
        ),
        pass: res.status == 207 && accepted <= 7 && after - before <= 7 && rejected >= 993,
    })
}

/// Sign-ups from one address.
pub async fn signup_flood(http: &Http) -> anyhow::Result<Row> {
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let body = format!(
            "email={}&name=F&password=flood+passphrase+1&workspace_name=F",
            unique("flood").replace('@', "%40")
        );
        statuses.push(http.form("/api/v1/auth/signup", &body, None).await?.status);
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let done = statuses.iter().filter(|s| (200..400).contains(*s)).count();
    Ok(Row {
        probe: "sign-up flood",
        attack: "10 more sign-ups from the address that made 4 already".into(),
        expected: "at most 5 an hour from one address; the rest 429".into(),
        observed: format!("{done} accepted, {limited} × 429"),
        pass: done <= 1 && done + limited == 10,
    })
}

/// PostgreSQL restarted in the middle of an ingest load from retrying clients.
pub async fn postgres_restart(http: &Http, world: &World, db: &PgPool) -> anyhow::Result<Row> {
    const CLIENTS: u64 = 4;
    const BATCHES: u64 = 25;
    const TRACES: u64 = 40;
    let statuses = Arc::new(std::sync::Mutex::new(Vec::<u16>::new()));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (http, key, statuses) = (http.clone(), world.b_ingest.clone(), statuses.clone());
        tasks.push(tokio::spawn(async move {
            for b in 0..BATCHES {
                let traces: Vec<serde_json::Value> = (0..TRACES)
                    .map(|t| {
                        let id = 0x7e57_0000_0000u64 + c * 1_000_000 + b * 1_000 + t;
                        serde_json::json!({"trace_id": format!("{id:032x}"), "agent_id": "restart",
                            "start_time": chrono::Utc::now(), "latency_ms": 5,
                            "spans": [{"span_id": format!("{id:016x}"), "name": "chat",
                                       "model": "gpt-4o", "input_tokens": 3, "latency_ms": 2}]})
                    })
                    .collect();
                let body = serde_json::json!({ "traces": traces }).to_string();
                loop {
                    let res = http
                        .send(
                            "POST",
                            "/api/v1/traces",
                            &[("content-type", "application/json"), ("x-api-key", &key)],
                            body.clone(),
                        )
                        .await;
                    let status = res.as_ref().map_or(0, |r| r.status);
                    statuses.lock().expect("lock").push(status);
                    if status == 200 {
                        break;
                    }
                    if ![0, 429, 502, 503, 504].contains(&status) {
                        return Err(anyhow::anyhow!("HTTP {status}: not retryable"));
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                // Paced, so the load is still running when PostgreSQL goes down.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let version = std::fs::read_dir("/etc/postgresql")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .max()
        .context("no PostgreSQL cluster")?;
    let restarted = tokio::process::Command::new("pg_ctlcluster")
        .args([version.as_str(), "main", "restart", "-m", "fast"])
        .status()
        .await?
        .success();
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = t.await? {
            failures.push(e.to_string());
        }
    }
    let ids: Vec<String> = (0..CLIENTS)
        .flat_map(|c| {
            (0..BATCHES).flat_map(move |b| {
                (0..TRACES).map(move |t| {
                    format!(
                        "{:032x}",
                        0x7e57_0000_0000u64 + c * 1_000_000 + b * 1_000 + t
                    )
                })
            })
        })
        .collect();
    let (traces, spans): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM traces WHERE trace_id = ANY($1)), \
                (SELECT count(*) FROM spans WHERE trace_id = ANY($1))",
    )
    .bind(&ids)
    .fetch_one(db)
    .await?;
    let (rolled, raw): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(sum(traces), 0)::bigint FROM rollup_hourly \
                 WHERE workspace_id = $1::uuid AND model = '' AND agent = 'restart'), \
                (SELECT count(*) FROM traces WHERE workspace_id = $1::uuid AND trace_id = ANY($2))",
    )
    .bind(&world.b_workspace)
    .bind(&ids)
    .fetch_one(db)
    .await?;
    let statuses = statuses.lock().expect("lock").clone();
    let count = |code: u16| statuses.iter().filter(|s| **s == code).count();
    let sent = (CLIENTS * BATCHES * TRACES) as i64;
    Ok(Row {
        probe: "PostgreSQL restart",
        attack: format!(
            "{sent} traces from {CLIENTS} retrying clients; a fast restart of PostgreSQL 2 s in"
        ),
        expected: "503 with Retry-After (retried), never 500; sent = stored, nothing twice".into(),
        observed: format!(
            "restarted: {restarted}; {} × 200, {} × 503, {} × 500, {} without an answer; \
             {traces}/{sent} traces and {spans} spans stored; rollups count {rolled} of {raw}{}",
            count(200),
            count(503),
            count(500),
            count(0),
            if failures.is_empty() {
                String::new()
            } else {
                format!("; {}", failures.join("; "))
            }
        ),
        pass: restarted
            && failures.is_empty()
            && count(500) == 0
            && traces == sent
            && spans == 2 * sent
            && rolled == raw,
    })
}
