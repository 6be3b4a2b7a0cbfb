//! Alerts end to end against a local webhook receiver: a p95 rule pending for its "for"
//! duration, firing, resolving; one instance per agent; no data; retries on 500, none on 400,
//! a delivery claimed by a worker that died; two processes evaluating at once; silences;
//! budgets at 80 % and their forecast.

mod common;
#[path = "support/smtp.rs"]
mod smtp;
#[path = "support/evals.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argus_domain::alerts::{budgets, channels, evaluate, notify, rules, silences};
use argus_domain::tenancy::{self, WorkspaceId};
use argus_types::{
    AlertDefinition, AlertFilters, AlertMetric, AlertState, BudgetScope, ChannelKind, Comparison,
    GroupBy,
};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;
use uuid::Uuid;

/// What the receiver got: headers we check and the body.
#[derive(Clone, Debug)]
struct Got {
    idempotency_key: String,
    signature: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    /// Statuses to answer, in order (then 200).
    answers: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let state = r.clone();
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    |axum::extract::State(r): axum::extract::State<Receiver>,
                     headers: axum::http::HeaderMap,
                     body: axum::body::Bytes| async move {
                        let h = |k: &str| {
                            headers
                                .get(k)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        r.got.lock().unwrap().push(Got {
                            idempotency_key: h("idempotency-key").unwrap_or_default(),
                            signature: h("x-argus-signature"),
                            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        });
                        let mut answers = r.answers.lock().unwrap();
                        let code = if answers.is_empty() {
                            200
                        } else {
                            answers.remove(0)
                        };
                        StatusCode::from_u16(code).unwrap()
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

async fn alerting(owner: &PgPool) -> Setup {
    setup_with(owner, |s| {
        let mut n = notify::Notifier::new(&[7; 32], true, Some("https://argus.test".into()));
        n.max_attempts = 3;
        n.lease_secs = 1;
        s.notifier = Arc::new(n);
    })
    .await
}

/// [`alerting`] with e-mail through `relay` (an `smtp://` URL).
async fn alerting_with_mail(owner: &PgPool, relay: &str) -> Setup {
    let relay = relay.to_owned();
    setup_with(owner, move |s| {
        let mut n = notify::Notifier::new(&[7; 32], true, Some("https://argus.test".into()));
        n.max_attempts = 3;
        n.lease_secs = 1;
        n.mailer = Some(
            argus_domain::alerts::email::Mailer::new(&relay, "Argus <alerts@argus.test>").unwrap(),
        );
        s.notifier = Arc::new(n);
    })
    .await
}

/// Sends traces through the native batch: `(agent, start, latency_ms, error)`.
async fn ingest(s: &Setup, traces: &[(&str, DateTime<Utc>, i64, bool)]) {
    let traces: Vec<Value> = traces
        .iter()
        .enumerate()
        .map(|(i, (agent, start, latency, error))| {
            json!({
                "trace_id": format!("{agent}-{}-{i}", start.timestamp_millis()),
                "agent_id": agent,
                "department": "support",
                "environment": "production",
                "start_time": start.to_rfc3339(),
                "latency_ms": latency,
                "status": if *error { "error" } else { "ok" },
                "spans": [{"span_id": "llm", "name": "chat gpt-4o", "model": "gpt-4o",
                           "input_tokens": 1000, "output_tokens": 200, "latency_ms": latency / 2,
                           "start_time": start.to_rfc3339()}]
            })
        })
        .collect();
    let req = Request::post("/api/v1/traces")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {}", s.ingest))
        .body(Body::from(json!({ "traces": traces }).to_string()))
        .unwrap();
    let res = send(&s.router, req).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", body_json(res).await);
}

/// `n` traces of `agent`, a second apart from `at`, each `ms` long.
fn burst(
    agent: &'static str,
    at: DateTime<Utc>,
    n: i64,
    ms: i64,
) -> Vec<(&'static str, DateTime<Utc>, i64, bool)> {
    (0..n)
        .map(|i| (agent, at + TimeDelta::seconds(i), ms, false))
        .collect()
}

fn p95_over(ms: f64, group_by: Option<GroupBy>) -> AlertDefinition {
    AlertDefinition {
        metric: AlertMetric::LatencyP95,
        window_secs: 300,
        filters: AlertFilters::default(),
        op: Comparison::Gt,
        threshold: ms,
        min_requests: 5,
        for_secs: 60,
        group_by,
        score_name: None,
        score_label: None,
        repeat_secs: 0,
    }
}

async fn rule(s: &Setup, name: &str, def: AlertDefinition, channels: Vec<Uuid>) -> Uuid {
    rules::create(
        &s.services,
        s.a,
        None,
        &rules::NewRule {
            name: name.into(),
            definition: def,
            channels,
            enabled: true,
        },
    )
    .await
    .unwrap()
    .id
}

async fn channel(s: &Setup, url: &str) -> (Uuid, String) {
    let c = channels::create_channel(&s.services, s.a, "hook", ChannelKind::Webhook, url)
        .await
        .unwrap();
    (c.id, c.secret.unwrap())
}

async fn states(s: &Setup, rule: Uuid) -> Vec<(String, AlertState)> {
    rules::get(&s.services, s.a, rule)
        .await
        .unwrap()
        .instances
        .into_iter()
        .map(|i| (i.group_value, i.state))
        .collect()
}

async fn deliver_all(s: &Setup) {
    for _ in 0..50 {
        notify::run_once(&s.services).await.unwrap();
        let pending: i64 = scalar(
            s,
            s.a,
            "SELECT count(*) FROM alert_deliveries WHERE status IN ('queued', 'sending')",
        )
        .await;
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("deliveries still pending");
}

async fn scalar(s: &Setup, ws: WorkspaceId, sql: &str) -> i64 {
    let mut tx = tenancy::begin(&s.services.pool, ws).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    n
}

fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_p95_rule_is_pending_then_fires_per_agent_then_resolves_and_no_data_fires(owner: PgPool) {
    let s = alerting(&owner).await;
    let (hook, url) = Receiver::start().await;
    let (ch, secret) = channel(&s, &url).await;
    // Half an hour ago: support-bot is slow (3 s), billing-bot fast (200 ms).
    let t = Utc::now() - minutes(40);
    let mut slow: Vec<(&str, DateTime<Utc>, i64, bool)> = (0..20)
        .map(|i| ("support-bot", t + TimeDelta::seconds(i), 3_000, false))
        .collect();
    slow.extend((0..20).map(|i| ("billing-bot", t + TimeDelta::seconds(i), 200, false)));
    ingest(&s, &slow).await;
    let overall = rule(&s, "p95 over 1s", p95_over(1_000.0, None), vec![ch]).await;
    let per_agent = rule(
        &s,
        "p95 per agent",
        p95_over(1_000.0, Some(GroupBy::Agent)),
        vec![ch],
    )
    .await;
    let quiet = rule(
        &s,
        "no traffic",
        AlertDefinition {
            metric: AlertMetric::NoData,
            for_secs: 0,
            min_requests: 0,
            ..p95_over(0.0, None)
        },
        vec![],
    )
    .await;

    // The first cycle sees the breach: pending (the rule holds for 60 s first).
    let c = evaluate::run_once(&s.services, t + minutes(1))
        .await
        .unwrap();
    assert!(c.ran);
    assert_eq!(
        states(&s, overall).await,
        vec![(String::new(), AlertState::Pending)]
    );
    assert_eq!(
        states(&s, per_agent).await,
        vec![
            ("support-bot".into(), AlertState::Pending),
            ("billing-bot".into(), AlertState::Normal)
        ]
    );
    // A cycle 10 s later is another replica's too-soon cycle: skipped.
    assert!(
        !evaluate::run_once(&s.services, t + minutes(1) + TimeDelta::seconds(10))
            .await
            .unwrap()
            .ran
    );
    // 30 s on: still pending; 61 s on: firing, and the webhook is queued.
    evaluate::run_once(&s.services, t + minutes(1) + TimeDelta::seconds(30))
        .await
        .unwrap();
    assert_eq!(states(&s, overall).await[0].1, AlertState::Pending);
    let c = evaluate::run_once(&s.services, t + minutes(2) + TimeDelta::seconds(1))
        .await
        .unwrap();
    assert_eq!(c.transitions, 2, "the overall instance and support-bot's");
    assert_eq!(states(&s, overall).await[0].1, AlertState::Firing);
    assert_eq!(
        states(&s, per_agent).await[0],
        ("support-bot".into(), AlertState::Firing)
    );
    deliver_all(&s).await;
    let got = hook.got();
    assert_eq!(got.len(), 2);
    let fired = got
        .iter()
        .find(|g| g.body["group_value"] == "support-bot")
        .unwrap();
    assert_eq!(fired.body["state"], "firing");
    assert_eq!(fired.body["previous_state"], "pending");
    assert_eq!(fired.body["rule"]["name"], "p95 per agent");
    assert_eq!(fired.body["threshold"], 1000.0);
    assert!(fired.body["value"].as_f64().unwrap() > 2_900.0);
    let reason = fired.body["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("p95 latency ") && reason.contains(" ms > 1,000 ms for 1 minute"),
        "{reason}"
    );
    assert!(fired.body["links"]["dashboard"]
        .as_str()
        .unwrap()
        .starts_with("https://argus.test/?from="));
    assert!(fired.body["links"]["dashboard"]
        .as_str()
        .unwrap()
        .contains("agent=support-bot"));
    assert_eq!(fired.body["id"], fired.idempotency_key.as_str());
    // The signature is HMAC-SHA256 over "<t>.<body>" under the channel's secret.
    let sig = fired.signature.clone().unwrap();
    let ts: i64 = sig.split(',').next().unwrap()[2..].parse().unwrap();
    let body = serde_json::to_vec(&fired.body).unwrap();
    assert_eq!(sig, notify::signature(&secret, ts, &body));

    // Fast traffic later: the window without the slow traces resolves both.
    let later: Vec<(&str, DateTime<Utc>, i64, bool)> = (0..20)
        .flat_map(|i| {
            [
                (
                    "support-bot",
                    t + minutes(10) + TimeDelta::seconds(i),
                    150,
                    false,
                ),
                (
                    "billing-bot",
                    t + minutes(10) + TimeDelta::seconds(i),
                    150,
                    false,
                ),
            ]
        })
        .collect();
    ingest(&s, &later).await;
    evaluate::run_once(&s.services, t + minutes(13))
        .await
        .unwrap();
    assert_eq!(states(&s, overall).await[0].1, AlertState::Resolved);
    assert_eq!(
        states(&s, per_agent).await[0],
        ("support-bot".into(), AlertState::Resolved)
    );
    deliver_all(&s).await;
    assert_eq!(hook.got().len(), 4, "one notification per state change");
    assert_eq!(hook.got()[3].body["state"], "resolved");

    // Nothing after that: the no-data rule fires, the p95 rules have no data.
    assert_eq!(states(&s, quiet).await[0].1, AlertState::Normal);
    evaluate::run_once(&s.services, t + minutes(25))
        .await
        .unwrap();
    assert_eq!(states(&s, quiet).await[0].1, AlertState::Firing);
    assert_eq!(states(&s, overall).await[0].1, AlertState::NoData);
    // The history says what happened, with the values.
    let history = argus_domain::alerts::history(&s.services, s.a, Some(overall), 50)
        .await
        .unwrap();
    let path: Vec<(AlertState, AlertState)> = history
        .iter()
        .rev()
        .map(|e| (e.from_state, e.to_state))
        .collect();
    assert_eq!(
        path,
        vec![
            (AlertState::Normal, AlertState::Pending),
            (AlertState::Pending, AlertState::Firing),
            (AlertState::Firing, AlertState::Resolved),
            (AlertState::Resolved, AlertState::NoData),
        ]
    );
    assert!(
        history[2].reason.contains("for 1 minute"),
        "{}",
        history[2].reason
    );
    assert_eq!(history[2].notified, "1 delivery queued");
    // The rule reads the minute rollup: it equals the raw traces.
    let minute: i64 = scalar(&s, s.a, "SELECT sum(traces)::bigint FROM rollup_minute").await;
    let raw: i64 = scalar(&s, s.a, "SELECT count(*) FROM traces").await;
    assert_eq!(minute, raw);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn deliveries_retry_on_500_not_on_400_survive_a_dead_worker_and_disable_a_failing_channel(
    owner: PgPool,
) {
    let s = alerting(&owner).await;
    let (hook, url) = Receiver::start().await;
    let (ch, _) = channel(&s, &url).await;

    // 500 then 200: one delivery, two tries, the same idempotency key both times.
    hook.answers.lock().unwrap().extend([500]);
    let id = channels::send_test(&s.services, s.a, ch).await.unwrap();
    deliver_all(&s).await;
    let got = hook.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].idempotency_key, id.to_string());
    assert_eq!(got[1].idempotency_key, id.to_string());
    let d = &channels::deliveries(&s.services, s.a, false, 10)
        .await
        .unwrap()[0];
    assert_eq!(
        (d.status.as_str(), d.attempts, d.last_status),
        ("delivered", 2, Some(200))
    );

    // 400: not retried, dead at once, with the receiver's answer.
    hook.answers.lock().unwrap().extend([400]);
    channels::send_test(&s.services, s.a, ch).await.unwrap();
    deliver_all(&s).await;
    assert_eq!(hook.got().len(), 3);
    let dead = channels::deliveries(&s.services, s.a, true, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 1);
    assert!(dead[0]
        .last_error
        .as_deref()
        .unwrap()
        .starts_with("HTTP 400"));

    // A worker claims a delivery and dies before sending: when its lease ends another worker
    // sends it — once.
    let id = channels::send_test(&s.services, s.a, ch).await.unwrap();
    let claimed: Vec<(Uuid, Uuid, i32)> =
        sqlx::query_as("SELECT * FROM argus_claim_alert_deliveries(10, 1)")
            .fetch_all(&s.services.pool)
            .await
            .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        notify::run_once(&s.services).await.unwrap(),
        0,
        "leased to the dead worker"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    deliver_all(&s).await;
    let got = hook.got();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].idempotency_key, id.to_string());

    // Always 503: given up after max_attempts (3 here), dead; five dead in a row disable it.
    let (bad, _) = {
        let c = channels::create_channel(&s.services, s.a, "down", ChannelKind::Webhook, &url)
            .await
            .unwrap();
        (c.id, ())
    };
    let failing = rule(
        &s,
        "always",
        AlertDefinition {
            metric: AlertMetric::NoData,
            for_secs: 0,
            ..p95_over(0.0, None)
        },
        vec![bad],
    )
    .await;
    let _ = failing;
    hook.answers.lock().unwrap().extend([503; 3]);
    evaluate::run_once(&s.services, Utc::now()).await.unwrap();
    deliver_all(&s).await;
    let last = &channels::deliveries(&s.services, s.a, true, 10)
        .await
        .unwrap()[0];
    assert_eq!(last.attempts, 3);
    assert!(last
        .last_error
        .as_deref()
        .unwrap()
        .contains("gave up after 3 tries"));
    for _ in 0..4 {
        hook.answers.lock().unwrap().extend([404]);
        let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
        notify::enqueue(
            &mut tx,
            s.a,
            &[bad],
            &notify::Message {
                event: "firing".into(),
                rule_id: None,
                group_value: String::new(),
                body: json!({"state": "firing"}),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        deliver_all(&s).await;
    }
    let chans = channels::channels(&s.services, s.a).await.unwrap();
    let down = chans.iter().find(|c| c.id == bad).unwrap();
    assert!(!down.enabled);
    assert!(down
        .disabled_reason
        .as_deref()
        .unwrap()
        .contains("5 failed deliveries"));
    let hook_ch = chans.iter().find(|c| c.id == ch).unwrap();
    assert!(hook_ch.enabled, "test sends do not count against a channel");
}

/// A worker starts a channel's next send only inside its send window (well inside the claim's
/// lease): past it, the channel's remaining deliveries are handed back — queued again, their
/// try not counted — and later passes send them, in order and once each.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn deliveries_past_the_send_window_are_handed_back_not_sent_late(owner: PgPool) {
    let s = setup_with(&owner, |s| {
        let mut n = notify::Notifier::new(&[7; 32], true, Some("https://argus.test".into()));
        n.send_window = Duration::ZERO;
        s.notifier = Arc::new(n);
    })
    .await;
    let (hook, url) = Receiver::start().await;
    let (ch, _) = channel(&s, &url).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(channels::send_test(&s.services, s.a, ch).await.unwrap());
    }
    assert_eq!(
        notify::run_once(&s.services).await.unwrap(),
        3,
        "all claimed"
    );
    assert_eq!(hook.got().len(), 1, "the channel's first send only");
    let handed_back = "SELECT count(*) FROM alert_deliveries \
                       WHERE status = 'queued' AND attempts = 0 AND lease_until IS NULL";
    assert_eq!(scalar(&s, s.a, handed_back).await, 2);
    deliver_all(&s).await;
    let keys: Vec<String> = hook.got().into_iter().map(|g| g.idempotency_key).collect();
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    assert_eq!(keys, ids, "each once, in the order queued");
    let tries = "SELECT count(*) FROM alert_deliveries WHERE status = 'delivered' AND attempts = 1";
    assert_eq!(scalar(&s, s.a, tries).await, 3);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn two_processes_never_both_evaluate_and_silences_suppress(owner: PgPool) {
    let s = alerting(&owner).await;
    let (other, _) = app_as_server(&owner).await;
    let _ = other;
    let (_, second) = app_as_server(&owner).await;
    let (hook, url) = Receiver::start().await;
    let (ch, _) = channel(&s, &url).await;
    let t = Utc::now() - minutes(30);
    ingest(&s, &burst("support-bot", t, 10, 5_000)).await;
    let r = rule(
        &s,
        "slow",
        AlertDefinition {
            for_secs: 0,
            ..p95_over(1_000.0, None)
        },
        vec![ch],
    )
    .await;

    // Two processes at the same moment: one runs the cycle, the other skips it.
    let (a, b) = tokio::join!(
        evaluate::run_once(&s.services, t + minutes(1)),
        evaluate::run_once(&second, t + minutes(1))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.ran != b.ran, "exactly one ran: {a:?} {b:?}");
    assert_eq!(a.transitions + b.transitions, 1);
    assert_eq!(
        scalar(&s, s.a, "SELECT count(*) FROM alert_deliveries").await,
        1
    );

    // Silenced: the state still changes and is in the history, nothing is sent.
    silences::create(&s.services, s.a, None, Some(r), None, 60, "deploying")
        .await
        .unwrap();
    evaluate::run_once(&s.services, Utc::now() + TimeDelta::seconds(1))
        .await
        .unwrap();
    let h = argus_domain::alerts::history(&s.services, s.a, Some(r), 1)
        .await
        .unwrap();
    assert_eq!(h[0].to_state, AlertState::NoData);
    assert_eq!(h[0].notified, "silenced");
    assert_eq!(
        scalar(&s, s.a, "SELECT count(*) FROM alert_deliveries").await,
        1
    );
    deliver_all(&s).await;
    assert_eq!(hook.got().len(), 1);
    // Another workspace sees none of it.
    assert!(rules::list(&s.services, s.b).await.unwrap().is_empty());
    assert!(channels::deliveries(&s.services, s.b, false, 10)
        .await
        .unwrap()
        .is_empty());
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn budgets_announce_80_percent_and_the_forecast_once(owner: PgPool) {
    let s = alerting(&owner).await;
    let (hook, url) = Receiver::start().await;
    let (ch, _) = channel(&s, &url).await;
    let now = Utc::now();
    // Spend this month, and as much two days ago (the trailing rate of the projection).
    let today = now.date_naive().and_hms_opt(0, 0, 1).unwrap().and_utc();
    ingest(&s, &burst("support-bot", today, 10, 100)).await;
    ingest(
        &s,
        &burst("support-bot", today - TimeDelta::days(2), 10, 100),
    )
    .await;
    let probe = budgets::upsert(
        &s.services,
        s.a,
        None,
        BudgetScope::Department,
        "support",
        1e9,
        &[ch],
    )
    .await
    .unwrap();
    assert!(probe.spent_usd > 0.0, "the traces are priced");
    // 85 % spent; the projection crosses the budget this month.
    let b = budgets::upsert(
        &s.services,
        s.a,
        None,
        BudgetScope::Department,
        "support",
        probe.spent_usd / 0.85,
        &[ch],
    )
    .await
    .unwrap();
    assert!(b.exceeds_on.is_some(), "{b:?}");
    evaluate::run_once(&s.services, now).await.unwrap();
    deliver_all(&s).await;
    let got = hook.got();
    let mut levels: Vec<String> = got
        .iter()
        .map(|g| g.body["level"].as_str().unwrap().to_owned())
        .collect();
    levels.sort();
    assert_eq!(
        levels,
        vec!["50", "80", "forecast"],
        "sent concurrently, in any order"
    );
    let forecast = &got
        .iter()
        .find(|g| g.body["level"] == "forecast")
        .unwrap()
        .body;
    assert!(forecast["reason"]
        .as_str()
        .unwrap()
        .starts_with("at this rate support exceeds its $"));
    // Once a month: the next cycle announces nothing again.
    evaluate::run_once(&s.services, now + minutes(1))
        .await
        .unwrap();
    deliver_all(&s).await;
    assert_eq!(hook.got().len(), 3);
    let b = &budgets::list(&s.services, s.a, now).await.unwrap()[0];
    assert_eq!(b.notices.len(), 3);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn repeats_while_firing_stop_when_acknowledged_and_the_feed_follows_the_state(owner: PgPool) {
    let s = alerting(&owner).await;
    let (hook, url) = Receiver::start().await;
    let (ch, _) = channel(&s, &url).await;
    let t = Utc::now() - minutes(30);
    ingest(&s, &burst("support-bot", t, 10, 4_000)).await;
    let r = rule(
        &s,
        "slow, repeated",
        AlertDefinition {
            window_secs: 3_600,
            for_secs: 0,
            repeat_secs: 300,
            ..p95_over(1_000.0, None)
        },
        vec![ch],
    )
    .await;
    // The feed is cached; a state change drops it.
    assert!(argus_domain::alerts::feed::get(&s.services, s.a)
        .await
        .unwrap()
        .firing
        .is_empty());
    evaluate::run_once(&s.services, t + minutes(1))
        .await
        .unwrap();
    let feed = argus_domain::alerts::feed::get(&s.services, s.a)
        .await
        .unwrap();
    assert_eq!(feed.firing.len(), 1);
    assert_eq!(feed.firing[0].rule_name, "slow, repeated");
    // Still firing 2 minutes later: no repeat yet; 6 minutes later: one.
    evaluate::run_once(&s.services, t + minutes(3))
        .await
        .unwrap();
    evaluate::run_once(&s.services, t + minutes(7))
        .await
        .unwrap();
    deliver_all(&s).await;
    let events: Vec<String> = hook
        .got()
        .iter()
        .map(|g| g.body["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, vec!["firing", "repeat"]);
    // Acknowledged: no more repeats while it stays firing.
    rules::acknowledge(&s.services, s.a, None, r, "")
        .await
        .unwrap();
    evaluate::run_once(&s.services, t + minutes(13))
        .await
        .unwrap();
    evaluate::run_once(&s.services, t + minutes(19))
        .await
        .unwrap();
    deliver_all(&s).await;
    assert_eq!(hook.got().len(), 2);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_backtest_counts_firings_over_seven_days_and_a_dead_replica_hands_over(owner: PgPool) {
    let s = alerting(&owner).await;
    // Slow traffic three hours ago, fast traffic a day ago.
    let now = Utc::now();
    let hour = |t: DateTime<Utc>| {
        use chrono::DurationRound;
        t.duration_trunc(TimeDelta::hours(1)).unwrap() + minutes(30)
    };
    let slow = hour(now - TimeDelta::hours(3));
    ingest(&s, &burst("support-bot", slow, 10, 4_000)).await;
    let fast = hour(now - TimeDelta::hours(26));
    ingest(&s, &burst("support-bot", fast, 10, 100)).await;
    let def = AlertDefinition {
        window_secs: 3_600,
        for_secs: 0,
        ..p95_over(1_000.0, Some(GroupBy::Agent))
    };
    let b = argus_domain::alerts::backtest::backtest(&s.services, s.a, &def, now)
        .await
        .unwrap();
    assert_eq!(b.steps, 7 * 24);
    assert_eq!(b.firings, 1, "{b:?}");
    assert_eq!(b.firing_steps, 1, "one hourly evaluation saw the slow hour");
    assert_eq!(b.groups, vec!["support-bot".to_owned()]);
    assert!(b.values.iter().flatten().any(|v| *v > 3_000.0));
    // A bad draft is refused with its field.
    let bad = argus_domain::alerts::backtest::backtest(
        &s.services,
        s.a,
        &AlertDefinition {
            window_secs: 60,
            ..def.clone()
        },
        now,
    )
    .await
    .unwrap_err();
    assert!(bad.to_string().contains("window_secs"), "{bad}");

    // A replica holding the lock (mid-cycle) keeps others out; when it dies (its connection
    // closes), the next cycle elsewhere runs.
    rule(&s, "any", def.clone(), vec![]).await;
    let mut dying = s.services.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(evaluate::LOCK_KEY)
        .execute(&mut *dying)
        .await
        .unwrap();
    assert!(!evaluate::run_once(&s.services, now).await.unwrap().ran);
    dying.close().await.unwrap();
    assert!(
        evaluate::run_once(&s.services, now + TimeDelta::seconds(30))
            .await
            .unwrap()
            .ran
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_span_is_seen_by_the_first_cycle_after_it_arrives_not_a_minute_later(owner: PgPool) {
    let s = alerting(&owner).await;
    // Mid-minute (the minute in progress is part of the window).
    let now = {
        use chrono::DurationRound;
        Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap() - minutes(2)
            + TimeDelta::seconds(31)
    };
    ingest(&s, &burst("support-bot", now, 5, 3_000)).await;
    let r = rule(
        &s,
        "at once",
        AlertDefinition {
            for_secs: 0,
            ..p95_over(1_000.0, None)
        },
        vec![],
    )
    .await;
    evaluate::run_once(&s.services, now + TimeDelta::seconds(10))
        .await
        .unwrap();
    assert_eq!(states(&s, r).await[0].1, AlertState::Firing);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn email_is_refused_without_a_relay(owner: PgPool) {
    let s = alerting(&owner).await;
    let e = channels::create_channel(
        &s.services,
        s.a,
        "mail",
        ChannelKind::Email,
        "ops@example.com",
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("ARGUS_SMTP_URL"), "{e}");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn email_goes_through_the_relay_retried_on_4xx_and_dead_on_5xx(owner: PgPool) {
    let (relay, url) = smtp::Relay::start().await;
    let s = alerting_with_mail(&owner, &url).await;
    // Addresses are checked and stored in one form; a bad one is named.
    let e = channels::create_channel(
        &s.services,
        s.a,
        "mail",
        ChannelKind::Email,
        "ops@example.com, not-an-address",
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("'not-an-address' is not an e-mail address"),
        "{e}"
    );
    let c = channels::create_channel(
        &s.services,
        s.a,
        "on-call",
        ChannelKind::Email,
        " ops@example.com ,oncall@example.org",
    )
    .await
    .unwrap();
    assert_eq!(c.target, "ops@example.com, oncall@example.org");
    assert!(c.secret.is_none());

    // A firing rule mails both addresses; the relay's first answer is 451 (try later).
    *relay.busy.lock().unwrap() = 1;
    let t = Utc::now() - minutes(30);
    ingest(&s, &burst("support-bot", t, 10, 4_000)).await;
    rule(
        &s,
        "slow support",
        AlertDefinition {
            window_secs: 3_600,
            for_secs: 0,
            ..p95_over(1_000.0, None)
        },
        vec![c.id],
    )
    .await;
    evaluate::run_once(&s.services, t + minutes(1))
        .await
        .unwrap();
    deliver_all(&s).await;
    assert_eq!(*relay.tries.lock().unwrap(), 2, "451 is retried");
    let mails = relay.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "alerts@argus.test");
    assert_eq!(mail.to, vec!["ops@example.com", "oncall@example.org"]);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("[Argus] FIRING slow support")
    );
    let d = &channels::deliveries(&s.services, s.a, false, 10)
        .await
        .unwrap()[0];
    assert_eq!(
        (d.status.as_str(), d.attempts, d.last_status),
        ("delivered", 2, Some(250))
    );
    // The delivery id is the message's identity (a resend after a crash is the same mail).
    assert_eq!(
        mail.header("Message-ID"),
        Some(format!("<{}@argus.alerts>", d.id))
    );
    assert_eq!(
        mail.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let body = mail.body();
    assert!(body.contains("p95 latency"), "{body}");
    assert!(body.contains("https://argus.test/"), "{body}");

    // A permanent refusal (550) is final: dead after one try, nothing mailed.
    let nobody = channels::create_channel(
        &s.services,
        s.a,
        "nobody",
        ChannelKind::Email,
        "nobody@example.com",
    )
    .await
    .unwrap();
    channels::send_test(&s.services, s.a, nobody.id)
        .await
        .unwrap();
    deliver_all(&s).await;
    let dead = &channels::deliveries(&s.services, s.a, true, 10)
        .await
        .unwrap()[0];
    assert_eq!((dead.attempts, dead.last_status), (1, Some(550)));
    assert!(
        dead.last_error
            .as_deref()
            .unwrap_or("")
            .contains("no such user"),
        "{dead:?}"
    );
    assert_eq!(relay.mails().len(), 1);
}
