//! Evaluations over HTTP: score batches (per-item errors, idempotent ids, configs enforced),
//! the OpenTelemetry evaluation events (span events on `/v1/traces`, log records on
//! `/v1/logs` in protobuf, JSON and gzip, made by the real Python SDK), listing in cursor
//! pages, annotation and configs.

mod common;
#[path = "support/evals.rs"]
mod support;

use argus_domain::apikeys::{self, Scope};
use argus_domain::session;
use argus_domain::tenancy;
use axum::http::{header, StatusCode};
use axum::Router;
use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_batch_stores_the_good_scores_and_names_the_bad_ones(owner: PgPool) {
    let s = setup(&owner).await;
    let (status, config) = owner_form(
        &s,
        "/api/v1/evaluate/configs/create",
        "name=helpfulness&data_type=numeric&min_value=0&max_value=1&higher_is_better=true",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    let (status, _) = owner_form(
        &s,
        "/api/v1/evaluate/configs/create",
        "name=tone&data_type=categorical&categories=friendly%3D1%2C%20neutral%3D0.5%2C%20rude%3D0",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let trace = "0af7651916cd43dd8448eb211c80319c";
    let (status, out) = post_scores(
        &s,
        json!({"scores": [
            {"id": "eval-1", "trace_id": trace, "name": "helpfulness", "value": 0.75, "explanation": "mostly"},
            {"trace_id": trace, "name": "helpfulness", "value": 1.5},
            {"trace_id": trace, "name": "tone", "value": "friendly"},
            {"trace_id": trace, "name": "tone", "value": "sarcastic"},
            {"trace_id": trace, "span_id": "b7ad6b7169203331", "name": "correct", "value": true},
            {"session_id": "conv-9", "name": "note", "data_type": "text", "value": "asked twice"},
            {"name": "orphan", "value": 1},
            "not an object",
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{out}");
    assert_eq!(out["accepted"], 4, "{out}");
    let rejected: Vec<(u64, String)> = out["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (1, "scores[1].value".into()),
            (3, "scores[3].value".into()),
            (6, "scores[6].trace_id".into()),
            (7, "scores[7]".into()),
        ]
    );
    assert!(out["rejected"][0]["message"]
        .as_str()
        .unwrap()
        .contains("outside helpfulness's range"));
    assert!(out["rejected"][1]["message"]
        .as_str()
        .unwrap()
        .contains("friendly, neutral, rude"));

    // The same id again stores nothing new.
    let (status, again) = post_scores(
        &s,
        json!({"scores": [{"id": "eval-1", "trace_id": trace, "name": "helpfulness", "value": 0.75}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(again["ids"][0], out["ids"][0]);

    let stored = scores_in(&s, s.a).await;
    assert_eq!(stored.len(), 4, "{stored:?}");
    let tone = stored.iter().find(|r| r.0 == "tone").unwrap();
    assert_eq!(
        (tone.1.as_str(), tone.2, tone.3.as_deref()),
        ("categorical", Some(1.0), Some("friendly"))
    );
    let correct = stored.iter().find(|r| r.0 == "correct").unwrap();
    assert_eq!(
        (correct.1.as_str(), correct.2, correct.4.as_str()),
        ("boolean", Some(1.0), "api")
    );
    assert!(scores_in(&s, s.b).await.is_empty());

    // Not JSON, too many, and the wrong key are whole-request errors.
    let res = send(
        &s.router,
        post(
            "/api/v1/evaluate/scores",
            &s.score,
            "application/json",
            b"{nope".to_vec(),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_envelope(&body_json(res).await, "INVALID_FORMAT");
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"trace_id": trace, "name": "n", "value": i}))
        .collect();
    let (status, body) = post_scores(&s, json!({ "scores": many })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "INVALID_INPUT");
    for key in [&s.read, &s.ingest] {
        let res = send(
            &s.router,
            post(
                "/api/v1/evaluate/scores",
                key,
                "application/json",
                b"{\"scores\":[]}".to_vec(),
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn scores_are_listed_newest_first_in_cursor_pages(owner: PgPool) {
    let s = setup(&owner).await;
    let base = chrono::Utc::now() - chrono::Duration::hours(1);
    let scores: Vec<Value> = (0..7)
        .map(|i| {
            json!({"trace_id": format!("t-{}", i % 2), "name": if i % 3 == 0 { "a" } else { "b" },
                   "value": i, "timestamp": (base + chrono::Duration::minutes(i)).to_rfc3339()})
        })
        .collect();
    let (status, _) = post_scores(&s, json!({ "scores": scores })).await;
    assert_eq!(status, StatusCode::OK);
    let mut seen = Vec::new();
    let mut path = "/api/v1/evaluate/scores?limit=3".to_owned();
    loop {
        let (status, page) = get_json(&s, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for row in page["data"].as_array().unwrap() {
            seen.push(row["value"].as_f64().unwrap() as i64);
        }
        match page["meta"]["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/evaluate/scores?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![6, 5, 4, 3, 2, 1, 0]);
    let (_, only_a) = get_json(&s, "/api/v1/evaluate/scores?name=a").await;
    let values: Vec<i64> = only_a["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_f64().unwrap() as i64)
        .collect();
    assert_eq!(values, vec![6, 3, 0]);
    let (_, of_trace) = get_json(&s, "/api/v1/evaluate/scores?trace_id=t-1&source=api").await;
    assert_eq!(of_trace["data"].as_array().unwrap().len(), 3);
    let (status, bad) = get_json(&s, "/api/v1/evaluate/scores?cursor=forged.cursor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&bad, "INVALID_FORMAT");
    let (status, bad) = get_json(&s, "/api/v1/evaluate/scores?source=robot").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&bad, "INVALID_INPUT");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn opentelemetry_evaluation_events_become_scores(owner: PgPool) {
    let s = setup(&owner).await;
    // The trace with its span events (relevance on the chat span, task_success on the root).
    let res = send(
        &s.router,
        post(
            "/v1/traces",
            &s.ingest,
            "application/x-protobuf",
            fixture("evaluation_span_events.pb"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let stored = scores_in(&s, s.a).await;
    let names: Vec<&str> = stored.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, vec!["relevance", "task_success"], "{stored:?}");
    assert_eq!(stored[0].2, Some(0.82));
    assert_eq!(stored[0].3.as_deref(), Some("relevant"));
    assert_eq!(
        (stored[1].1.as_str(), stored[1].3.as_deref()),
        ("categorical", Some("pass"))
    );
    assert!(stored.iter().all(|r| r.4 == "otel"));

    // The same export as JSON: the same scores, nothing twice.
    let res = send(
        &s.router,
        post(
            "/v1/traces",
            &s.ingest,
            "application/json",
            fixture("evaluation_span_events.json"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(scores_in(&s, s.a).await.len(), 2);

    // The logs: faithfulness in the chat span's context, toxicity naming its response id, an
    // ordinary log line ignored.
    let res = send(
        &s.router,
        post(
            "/v1/logs",
            &s.ingest,
            "application/x-protobuf",
            fixture("evaluation_logs.pb"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "application/x-protobuf"
    );
    let answer = ExportLogsServiceResponse::decode(&body_bytes(res).await[..]).unwrap();
    assert_eq!(answer.partial_success, None);
    let stored = scores_in(&s, s.a).await;
    let names: Vec<&str> = stored.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        vec!["faithfulness", "relevance", "task_success", "toxicity"],
        "{stored:?}"
    );
    let chat_span = stored[1].5.clone();
    assert!(chat_span.is_some());
    assert_eq!(stored[0].5, chat_span, "the log record's span context");
    assert_eq!(stored[3].5, chat_span, "found through gen_ai.response.id");
    assert_eq!(stored[3].2, Some(0.02));

    // JSON and gzip forms of the same export: nothing twice.
    for (content_type, encoding, body) in [
        ("application/json", None, fixture("evaluation_logs.json")),
        (
            "application/x-protobuf",
            Some("gzip"),
            gzip(&fixture("evaluation_logs.pb")),
        ),
    ] {
        let mut req = post("/v1/logs", &s.ingest, content_type, body);
        if let Some(e) = encoding {
            req.headers_mut()
                .insert(header::CONTENT_ENCODING, e.parse().unwrap());
        }
        let res = send(&s.router, req).await;
        assert_eq!(res.status(), StatusCode::OK, "{content_type} {encoding:?}");
    }
    assert_eq!(scores_in(&s, s.a).await.len(), 4);
    assert!(scores_in(&s, s.b).await.is_empty());

    // The logs fixture in another workspace: its spans are not there, so the response-id
    // record is reported (the others still store: their context names the span).
    let b_ingest = apikeys::create(&s.services.pool, s.b, None, "k", &[Scope::Ingest], None)
        .await
        .unwrap();
    let res = send(
        &s.router,
        post(
            "/v1/logs",
            b_ingest.key.expose_secret(),
            "application/json",
            fixture("evaluation_logs.json"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer: Value = body_json(res).await;
    // int64: a number or, as proto3's JSON mapping has it, a string.
    let rejected = answer["partialSuccess"]["rejectedLogRecords"].to_string();
    assert_eq!(rejected.trim_matches('"'), "1", "{answer}");
    assert!(answer["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("chatcmpl-eval-1"));

    // Not OTLP: a clear 400; a read key may not write.
    let res = send(
        &s.router,
        post(
            "/v1/logs",
            &s.ingest,
            "application/x-protobuf",
            b"\xff\xff\xff".to_vec(),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_envelope(&body_json(res).await, "INVALID_FORMAT");
    let res = send(
        &s.router,
        post("/v1/logs", &s.read, "application/json", b"{}".to_vec()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn members_annotate_against_live_configs_and_configs_are_archived_not_edited(owner: PgPool) {
    let s = setup(&owner).await;
    let res = send(
        &s.router,
        post(
            "/v1/traces",
            &s.ingest,
            "application/x-protobuf",
            fixture("evaluation_span_events.pb"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let trace: String = {
        let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
        let t = sqlx::query_scalar("SELECT trace_id FROM traces WHERE workspace_id = $1")
            .bind(s.a.0)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        t
    };
    // No config yet: a clear refusal.
    let form = format!("trace_id={trace}&name=correct&value=true&comment=checked+the+policy");
    let (status, body) = owner_form(&s, "/api/v1/evaluate/annotate", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no score config"));
    let (status, config) = owner_form(
        &s,
        "/api/v1/evaluate/configs/create",
        "name=correct&data_type=boolean&higher_is_better=true",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    let (status, first) = owner_form(&s, "/api/v1/evaluate/annotate", &form).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["source"], "annotation");
    assert_eq!(first["author"]["user_email"], "ann@example.com");
    assert_eq!(first["explanation"], "checked the policy");
    // Scoring again replaces the reviewer's score.
    let again = format!("trace_id={trace}&name=correct&value=false");
    let (status, second) = owner_form(&s, "/api/v1/evaluate/annotate", &again).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["id"], first["id"]);
    let (_, listed) = get_json(&s, &format!("/api/v1/evaluate/trace-scores?id={trace}")).await;
    let mine: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["source"] == "annotation")
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["string_value"], "false");
    // A trace that is not there.
    let (status, _) = owner_form(
        &s,
        "/api/v1/evaluate/annotate",
        "trace_id=ffffffffffffffffffffffffffffffff&name=correct&value=true",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A second live config of the same name is refused; archived, the name is free again and
    // the old scores keep the archived config.
    let (status, dup) = owner_form(
        &s,
        "/api/v1/evaluate/configs/create",
        "name=correct&data_type=numeric",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
    let id = config["id"].as_str().unwrap();
    let (status, archived) =
        owner_form(&s, "/api/v1/evaluate/configs/archive", &format!("id={id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(archived["archived_at"].is_string());
    let (status, _) = owner_form(
        &s,
        "/api/v1/evaluate/configs/create",
        "name=correct&data_type=numeric&min_value=0&max_value=5",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, all) = get_json(&s, "/api/v1/evaluate/configs?include_archived=true").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, live) = get_json(&s, "/api/v1/evaluate/configs").await;
    assert_eq!(live.as_array().unwrap().len(), 1);
    let (_, listed) = get_json(&s, &format!("/api/v1/evaluate/trace-scores?id={trace}")).await;
    let kept = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "annotation")
        .unwrap();
    assert_eq!(kept["config_id"].as_str(), Some(id));
    // Bad configs are refused with their field.
    for (form, field) in [
        ("name=x&data_type=float", "data_type"),
        (
            "name=x&data_type=numeric&min_value=3&max_value=1",
            "max_value",
        ),
        ("name=x&data_type=categorical", "categories"),
        ("name=&data_type=numeric", "name"),
    ] {
        let (status, body) = owner_form(&s, "/api/v1/evaluate/configs/create", form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{form}: {body}"
        );
    }
    // Deleting a score: an admin; gone after.
    let score = first["id"].as_str().unwrap();
    let (status, _) =
        owner_form(&s, "/api/v1/evaluate/scores/delete", &format!("id={score}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        owner_form(&s, "/api/v1/evaluate/scores/delete", &format!("id={score}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `(evaluator name, trace_id, value)` of the evaluator scores, sorted.
async fn evaluator_scores(s: &Setup) -> Vec<(String, String, bool)> {
    let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
    let rows: Vec<(String, String, f64)> = sqlx::query_as(
        "SELECT s.name, s.trace_id, s.value FROM scores s WHERE s.workspace_id = $1 \
         AND s.source = 'evaluator' ORDER BY 1, 2",
    )
    .bind(s.a.0)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rows.into_iter().map(|(n, t, v)| (n, t, v == 1.0)).collect()
}

async fn queued(owner: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM eval_jobs WHERE status IN ('queued', 'running')")
        .fetch_one(owner)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn span_rules_score_at_ingest_and_trace_rules_from_the_queue_once_even_across_a_crash(
    owner: PgPool,
) {
    use argus_domain::evals::worker;
    use argus_domain::ingest::native::trace_key;
    let s = setup(&owner).await;
    for form in [
        "name=json-output&target=span&operation=chat&rule_type=valid_json",
        "name=object-output&target=span&operation=chat&rule_type=json_schema\
         &schema=%7B%22type%22%3A%22object%22%2C%22required%22%3A%5B%22refund%22%5D%7D",
        "name=no-refusal&target=trace&rule_type=no_refusal",
        "name=half&target=span&sampling=0.5&operation=chat&rule_type=contains&value=refund",
        "name=needs-input&target=span&operation=chat&rule_type=contains&field=input&value=x",
    ] {
        let (status, body) = owner_form(&s, "/api/v1/evaluate/evaluators/create", form).await;
        assert_eq!(status, StatusCode::OK, "{form}: {body}");
    }
    // Bad definitions are refused with their field.
    for (form, field) in [
        (
            "name=r&target=span&rule_type=regex&pattern=(open",
            "pattern",
        ),
        ("name=r&target=everything&rule_type=valid_json", "target"),
        (
            "name=r&target=span&rule_type=json_schema&schema=%7B%22type%22%3A%22nope%22%7D",
            "schema",
        ),
        (
            "name=r&target=span&rule_type=valid_json&sampling=0",
            "sampling",
        ),
        ("name=r&target=span&rule_type=guess", "rule_type"),
        (
            "name=json-output&target=span&rule_type=valid_json",
            "already exists",
        ),
    ] {
        let (status, body) = owner_form(&s, "/api/v1/evaluate/evaluators/create", form).await;
        assert!(status.is_client_error(), "{form}: {status} {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{form}: {body}"
        );
    }

    // One time for every batch: re-sent, the spans are the same spans.
    let at = chrono::Utc::now() - chrono::Duration::seconds(30);
    let outputs = [
        r#"{"refund": "sent"}"#,
        "Your refund is on its way.",
        "I'm sorry, but I can't help with that.",
        "[1, 2, 3]",
    ];
    ingest_native(&s, chat_traces("a", &outputs, at)).await;
    // Span-level rules ran at ingest, in the spans' transaction: their scores are stored before
    // any worker pass. Only the trace-level rule is queued: one job per root, due after the
    // settle delay.
    assert_eq!(
        queued(&owner).await,
        4,
        "one trace job per root, nothing else"
    );
    let first = worker::run_once(&s.services).await.unwrap();
    assert_eq!(first.claimed, 0, "the trace jobs wait for late children");
    let scores = evaluator_scores(&s).await;
    let json_ok: Vec<bool> = scores
        .iter()
        .filter(|r| r.0 == "json-output")
        .map(|r| r.2)
        .collect();
    let expected: Vec<(String, bool)> = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            (
                trace_key(&format!("a-{i}")),
                serde_json::from_str::<Value>(o).is_ok(),
            )
        })
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(
        json_ok,
        expected_sorted.iter().map(|e| e.1).collect::<Vec<_>>(),
        "{scores:?}"
    );
    // The JSON Schema rule: only the first output is an object with a refund.
    let objects: Vec<bool> = scores
        .iter()
        .filter(|r| r.0 == "object-output")
        .map(|r| r.2)
        .collect();
    let mut want: Vec<(String, bool)> = (0..outputs.len())
        .map(|i| (trace_key(&format!("a-{i}")), i == 0))
        .collect();
    want.sort();
    assert_eq!(
        objects,
        want.iter().map(|w| w.1).collect::<Vec<_>>(),
        "{scores:?}"
    );
    // The trace-level jobs wait for the settle delay; made due, they run.
    sqlx::query("UPDATE eval_jobs SET run_after = now() WHERE span_id = ''")
        .execute(&owner)
        .await
        .unwrap();
    worker::run_once(&s.services).await.unwrap();
    let refusals: Vec<(String, bool)> = evaluator_scores(&s)
        .await
        .into_iter()
        .filter(|r| r.0 == "no-refusal")
        .map(|r| (r.1, r.2))
        .collect();
    assert_eq!(refusals.len(), 4, "{refusals:?}");
    assert_eq!(
        refusals.iter().filter(|r| !r.1).count(),
        1,
        "one refusal: {refusals:?}"
    );
    assert_eq!(queued(&owner).await, 0);

    // Re-sent spans queue nothing, and nothing is scored twice.
    let before = evaluator_scores(&s).await.len();
    ingest_native(&s, chat_traces("a", &outputs, at)).await;
    assert_eq!(queued(&owner).await, 0);
    assert_eq!(evaluator_scores(&s).await.len(), before);

    // A worker claims jobs and dies: nothing is scored, the jobs wait for their lease; then
    // another pass takes them over and scores each once.
    ingest_native(&s, chat_traces("b", &outputs, at)).await;
    sqlx::query("UPDATE eval_jobs SET run_after = now() WHERE span_id = ''")
        .execute(&owner)
        .await
        .unwrap();
    let taken: i64 = sqlx::query_scalar("SELECT count(*) FROM argus_claim_eval_jobs(1000, 60)")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(taken, 4);
    assert_eq!(
        worker::run_once(&s.services).await.unwrap().claimed,
        0,
        "leased jobs wait"
    );
    sqlx::query(
        "UPDATE eval_jobs SET lease_until = now() - interval '1 second' WHERE status = 'running'",
    )
    .execute(&owner)
    .await
    .unwrap();
    let resumed = worker::run_once(&s.services).await.unwrap();
    assert_eq!(resumed.claimed as i64, taken);
    let json_b = evaluator_scores(&s)
        .await
        .into_iter()
        .filter(|r| r.0 == "json-output")
        .count();
    assert_eq!(json_b, 8, "each chat span of a and b scored once");
    let refusals_b = evaluator_scores(&s)
        .await
        .into_iter()
        .filter(|r| r.0 == "no-refusal")
        .count();
    assert_eq!(refusals_b, 8, "each trace of a and b scored once");
    assert_eq!(queued(&owner).await, 0);

    // What each evaluator shows: failures with their reason, sampling, nothing pending.
    let (_, list) = get_json(&s, "/api/v1/evaluate/evaluators").await;
    let by_name = |n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .unwrap()
            .clone()
    };
    let needs = by_name("needs-input");
    assert_eq!(needs["stats"]["failed_today"], 8, "{needs}");
    assert!(needs["stats"]["last_errors"][0][1]
        .as_str()
        .unwrap()
        .contains("no input"));
    let half = by_name("half");
    let judged = half["stats"]["done_today"].as_i64().unwrap();
    let skipped = half["stats"]["skipped_today"].as_i64().unwrap();
    assert_eq!(judged + skipped, 8, "{half}");
    assert_eq!(by_name("json-output")["stats"]["queued"], 0);

    // Paused, an evaluator queues nothing; deleted, its scores stay.
    let id = by_name("json-output")["id"].as_str().unwrap().to_owned();
    let (status, _) =
        owner_form(&s, "/api/v1/evaluate/evaluators/pause", &format!("id={id}")).await;
    assert_eq!(status, StatusCode::OK);
    ingest_native(&s, chat_traces("c", &outputs[..1], at)).await;
    let jobs_for_paused: i64 =
        sqlx::query_scalar("SELECT count(*) FROM eval_jobs WHERE evaluator_id = $1::uuid")
            .bind(&id)
            .fetch_one(&owner)
            .await
            .unwrap();
    assert_eq!(jobs_for_paused, 0);
    let (status, _) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/delete",
        &format!("id={id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        evaluator_scores(&s)
            .await
            .into_iter()
            .filter(|r| r.0 == "json-output")
            .count(),
        8
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn score_analytics_equal_sql_over_the_raw_scores_and_compare_versions(owner: PgPool) {
    let s = setup(&owner).await;
    let (status, _) = owner_form(
        &s,
        "/api/v1/evaluate/configs/create",
        "name=helpfulness&data_type=numeric&min_value=0&max_value=1&higher_is_better=true",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Traces of two versions, scored: helpfulness (numbers), resolved (booleans), tone (labels).
    let now = chrono::Utc::now() - chrono::Duration::minutes(5);
    let traces: Vec<Value> = (0..60)
        .map(|i| {
            json!({"trace_id": format!("v-{i}"), "agent_id": "support-bot",
                   "version": if i % 2 == 0 { "1.0" } else { "2.0" },
                   "environment": "production", "start_time": now.to_rfc3339(), "latency_ms": 100})
        })
        .collect();
    ingest_native(&s, json!({ "traces": traces }).to_string().into_bytes()).await;
    let mut scores = Vec::new();
    for i in 0..60 {
        let v2 = i % 2 == 1;
        let helpful = if v2 { 0.6 } else { 0.8 } + ((i * 7) % 10) as f64 / 100.0;
        scores.push(json!({"trace_id": format!("v-{i}"), "name": "helpfulness", "value": helpful}));
        scores.push(
            json!({"trace_id": format!("v-{i}"), "name": "resolved", "value": !v2 || i % 3 == 0}),
        );
        let tone = ["friendly", "neutral", "rude"][i % 3];
        scores.push(json!({"trace_id": format!("v-{i}"), "name": "tone", "value": tone}));
    }
    let (status, out) = post_scores(&s, json!({ "scores": scores })).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    // One deleted: the rollups forget it.
    let gone = out["ids"][0].as_str().unwrap().to_owned();
    let (status, _) = owner_form(&s, "/api/v1/evaluate/scores/delete", &format!("id={gone}")).await;
    assert_eq!(status, StatusCode::OK);

    let (status, summary) = get_json(&s, "/api/v1/evaluate/summary?range=24h&by=version").await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    // The same numbers, straight from the scores.
    let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
    type Expected = (String, String, i64, Option<f64>, Option<f64>);
    let expected: Vec<Expected> = sqlx::query_as(
        "SELECT name, version, count(*), avg(value), stddev_samp(value) FROM scores \
         WHERE workspace_id = $1 GROUP BY name, version ORDER BY name, version",
    )
    .bind(s.a.0)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let labels: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT name, version, string_value, count(*) FROM scores WHERE workspace_id = $1 \
         AND data_type IN ('boolean', 'categorical') GROUP BY 1, 2, 3",
    )
    .bind(s.a.0)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    // Helpfulness (0–1) in bins of 0.05, counted from the raw numbers.
    let bins: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT floor(value * 20 + 1e-9)::bigint, count(*) FROM scores WHERE workspace_id = $1 \
         AND name = 'helpfulness' GROUP BY 1 ORDER BY 1",
    )
    .bind(s.a.0)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let median: f64 = sqlx::query_scalar(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY value) FROM scores \
         WHERE workspace_id = $1 AND name = 'helpfulness'",
    )
    .bind(s.a.0)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(expected.len(), 6);
    // The mergeable histogram (rollup rows added bin by bin, the deleted score taken away) is
    // the raw numbers' histogram; its median estimate lies in the raw median's bin.
    let helpfulness = summary["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "helpfulness")
        .unwrap();
    let histogram: Vec<(i64, i64)> = helpfulness["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["count"].as_i64().unwrap() > 0)
        .map(|b| {
            let lo = b["lo"].as_f64().unwrap();
            assert!((b["hi"].as_f64().unwrap() - lo - 0.05).abs() < 1e-9, "{b}");
            ((lo * 20.0).round() as i64, b["count"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(histogram, bins, "{helpfulness}");
    let p50 = helpfulness["p50"].as_f64().unwrap();
    assert!(
        (p50 - median).abs() <= 0.05 + 1e-9,
        "median {median} vs estimate {p50}"
    );
    for other in ["resolved", "tone"] {
        let x = summary["scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == other)
            .unwrap();
        assert_eq!(x["histogram"], json!([]), "{x}");
    }
    for (name, version, n, mean, sd) in &expected {
        let score = summary["scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == *name)
            .unwrap_or_else(|| panic!("{name} missing: {summary}"));
        let group = score["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == *version)
            .unwrap();
        let stat = &group["stat"];
        assert_eq!(stat["n"].as_i64(), Some(*n), "{name} {version}");
        let close = |a: &Value, b: &Option<f64>| match (a.as_f64(), b) {
            (Some(x), Some(y)) => (x - y).abs() < 1e-9,
            (None, None) => true,
            _ => false,
        };
        assert!(
            close(&stat["mean"], mean),
            "{name} {version}: {stat} vs {mean:?}"
        );
        assert!(close(&stat["sd"], sd), "{name} {version}: {stat} vs {sd:?}");
        for (_, _, label, count) in labels.iter().filter(|l| &l.0 == name && &l.1 == version) {
            let got = stat["labels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["label"] == *label)
                .map(|l| l["count"].as_i64().unwrap());
            assert_eq!(got, Some(*count), "{name} {version} {label}");
        }
    }
    // The traces list shows each trace's latest score per name.
    let (status, list) = get_json(&s, "/api/v1/traces?range=24h&limit=100").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let rows = list["data"].as_array().unwrap();
    assert_eq!(rows.len(), 60);
    let with_all = rows
        .iter()
        .filter(|r| r["scores"].as_array().is_some_and(|s| s.len() == 3))
        .count();
    assert_eq!(with_all, 59, "one helpfulness score was deleted");
    let v0 = rows
        .iter()
        .find(|r| r["scores"].to_string().contains("\"tone\""))
        .unwrap();
    assert!(
        v0["scores"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == "tone"
                && ["friendly", "neutral", "rude"].contains(&b["value"].as_str().unwrap())),
        "{v0}"
    );
    // The trend lines: every score was given in one step, whose mean per version is the SQL's;
    // tone (labels without numbers) has no line.
    let (status, trends) = get_json(&s, "/api/v1/evaluate/trends?range=24h&by=version").await;
    assert_eq!(status, StatusCode::OK, "{trends}");
    let names: Vec<&str> = trends
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["helpfulness", "resolved"], "{trends}");
    for t in trends.as_array().unwrap() {
        assert_eq!(t["series"].as_array().unwrap().len(), 2, "{t}");
        for series in t["series"].as_array().unwrap() {
            let values: Vec<f64> = series["values"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            let (_, _, n, mean, _) = expected
                .iter()
                .find(|e| {
                    e.0 == t["name"].as_str().unwrap() && e.1 == series["key"].as_str().unwrap()
                })
                .unwrap();
            assert_eq!(series["n"].as_i64(), Some(*n), "{series}");
            assert_eq!(values.len(), 1, "{series}");
            assert!(
                (values[0] - mean.unwrap()).abs() < 1e-9,
                "{series} vs {mean:?}"
            );
        }
    }
    let types: Vec<(String, String)> = summary["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_owned(),
                x["data_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        types,
        vec![
            ("helpfulness".to_owned(), "numeric".to_owned()),
            ("resolved".to_owned(), "boolean".to_owned()),
            ("tone".to_owned(), "categorical".to_owned())
        ]
    );

    // Compare: helpfulness is clearly lower in 2.0 (Welch), resolved too (z-test).
    let (status, cmp) = get_json(
        &s,
        "/api/v1/evaluate/compare?range=24h&agent=support-bot&a=1.0&b=2.0",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cmp}");
    let row = |n: &str| {
        cmp["scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()
            .clone()
    };
    let helpful = row("helpfulness");
    assert_eq!(helpful["test"]["method"], "welch_t");
    assert_eq!(helpful["test"]["significant"], true, "{helpful}");
    assert!(helpful["a"]["mean"].as_f64().unwrap() > helpful["b"]["mean"].as_f64().unwrap());
    assert_eq!(helpful["b"]["n"], 30);
    let resolved = row("resolved");
    assert_eq!(resolved["test"]["method"], "two_proportion_z");
    assert!(
        resolved["test"]["p_value"].as_f64().unwrap() < 0.05,
        "{resolved}"
    );
    // The trace list filters on scores.
    for (filter, expected) in [
        ("helpfulness%3C0.7", 30),
        ("helpfulness%3E%3D0.8", 29),
        ("resolved%3Dfalse", 20),
        ("tone%3Drude", 20),
        ("tone!%3Drude", 40),
    ] {
        let (status, page) = get_json(
            &s,
            &format!("/api/v1/traces?range=24h&limit=100&score={filter}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{filter}: {page}");
        assert_eq!(page["data"].as_array().unwrap().len(), expected, "{filter}");
    }
    for bad in ["helpfulness", "tone%3Crude", "%3C0.5"] {
        let (status, body) = get_json(&s, &format!("/api/v1/traces?score={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("score"),
            "{body}"
        );
    }

    // A week reads whole days from the daily rollup and the partial first and last days' hours
    // from the hourly one: the same numbers as the raw scores in the window.
    let spread: Vec<Value> = (0..45)
        .map(|i| {
            let at = chrono::Utc::now() - chrono::Duration::hours(5 * i + 1);
            json!({"trace_id": format!("v-{}", i % 60), "name": "spread",
                   "value": (i % 10) as f64 / 10.0, "timestamp": at.to_rfc3339()})
        })
        .collect();
    let (status, out) = post_scores(&s, json!({ "scores": spread })).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let (status, week) = get_json(&s, "/api/v1/evaluate/summary?range=7d&by=version").await;
    assert_eq!(status, StatusCode::OK, "{week}");
    let from: chrono::DateTime<chrono::Utc> = week["from"].as_str().unwrap().parse().unwrap();
    let to: chrono::DateTime<chrono::Utc> = week["to"].as_str().unwrap().parse().unwrap();
    let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
    let (n, mean): (i64, f64) = sqlx::query_as(
        "SELECT count(*), avg(value) FROM scores WHERE workspace_id = $1 AND name = 'spread' \
         AND scored_at >= $2 AND scored_at < $3",
    )
    .bind(s.a.0)
    .bind(from)
    .bind(to)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(n > 20 && n < 45, "the window holds some of the spread: {n}");
    let spread = week["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "spread")
        .unwrap();
    assert_eq!(spread["overall"]["n"].as_i64(), Some(n), "{spread}");
    assert!((spread["overall"]["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
    let binned: i64 = spread["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(binned, n, "{spread}");

    // Bad requests are clear.
    let (status, _) = get_json(&s, "/api/v1/evaluate/summary?by=colour").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get_json(&s, "/api/v1/evaluate/compare?a=&b=2.0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get_json(&s, "/api/v1/evaluate/summary?model=gpt-4o").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A fake OpenAI-compatible chat endpoint: its answer depends on the span output in the prompt
/// (`verdict-good`, `verdict-bad`, `malformed`, `flaky` — 429 once, then a verdict — `slow` —
/// never within the timeout); it records what it was sent.
#[derive(Default)]
struct FakeJudge {
    calls: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    seen: std::sync::Mutex<Vec<(Option<String>, Value)>>,
}

async fn fake_completion(
    axum::extract::State(fake): axum::extract::State<std::sync::Arc<FakeJudge>>,
    headers: axum::http::HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    fake.seen.lock().unwrap().push((auth, body.clone()));
    let prompt = body["messages"][1]["content"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let case = [
        "verdict-good",
        "verdict-bad",
        "malformed",
        "flaky",
        "slow",
        "hang",
    ]
    .into_iter()
    .find(|c| prompt.contains(c))
    .unwrap_or("verdict-good");
    let n = {
        let mut calls = fake.calls.lock().unwrap();
        let n = calls.entry(case.to_owned()).or_default();
        *n += 1;
        *n
    };
    let verdict = |content: &str| {
        axum::Json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "judge-mini-2026",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110,
                      "cost": 0.01}
        }))
        .into_response()
    };
    match case {
        "verdict-bad" => verdict(r#"{"score": 0.2, "explanation": "off topic"}"#),
        "malformed" => verdict("I would say it is rather good."),
        "flaky" if n == 1 => (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response(),
        "slow" => {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            verdict(r#"{"score": 1}"#)
        }
        "hang" => {
            tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
            verdict(r#"{"score": 0.5}"#)
        }
        _ => verdict("```json\n{\"score\": 0.9, \"explanation\": \"answers the question\"}\n```"),
    }
}

async fn start_fake_judge() -> (String, std::sync::Arc<FakeJudge>) {
    let fake = std::sync::Arc::new(FakeJudge::default());
    let app = Router::new()
        .route("/v1/chat/completions", axum::routing::post(fake_completion))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), fake)
}

/// `(span output, value, explanation, judge model)` of the judge's scores.
async fn judge_scores(s: &Setup) -> Vec<(String, f64, Option<String>, Option<String>)> {
    let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT sp.output #>> '{}', sc.value, sc.explanation, sc.judge_model FROM scores sc \
         JOIN spans sp ON sp.workspace_id = sc.workspace_id AND sp.trace_id = sc.trace_id \
           AND sp.span_id = sc.span_id \
         WHERE sc.workspace_id = $1 AND sc.source = 'evaluator' ORDER BY 1",
    )
    .bind(s.a.0)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rows
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_judge_scores_through_an_openai_compatible_endpoint_with_retries_and_a_spend_limit(
    owner: PgPool,
) {
    use argus_domain::evals::{judge, worker};
    let s = setup_with(&owner, |services| {
        services.judges = std::sync::Arc::new(judge::Judges::new(&[3; 32], true));
    })
    .await;
    let (base, fake) = start_fake_judge().await;
    let judge_form = "name=judge-helpful&target=span&operation=chat&rule_type=judge\
        &score_name=helpful&daily_limit_usd=0.045\
        &prompt=Is+%7B%7Boutput%7D%7D+helpful%3F+Agent+%7B%7Bmetadata.agent%7D%7D";
    // No judge model yet: the evaluator is refused, saying what to do.
    let (status, body) = owner_form(&s, "/api/v1/evaluate/evaluators/create", judge_form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("judge model"));

    // The judge: its key sealed, never shown again (only its last four characters).
    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/judge/set",
        &format!("base_url={base}&model=judge-mini&api_key=sk-test-secret-1234&timeout_ms=300"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key_hint"], "…1234");
    let (_, shown) = get_json(&s, "/api/v1/evaluate/judge").await;
    assert_eq!(shown["model"], "judge-mini");
    assert!(!shown.to_string().contains("sk-test-secret"), "{shown}");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT api_key FROM judges")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert!(!stored.windows(14).any(|w| w == b"sk-test-secret"));
    // A blank key keeps the stored one.
    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/judge/set",
        &format!("base_url={base}&model=judge-mini&timeout_ms=300"),
    )
    .await;
    assert_eq!(
        (status, body["key_hint"].clone()),
        (StatusCode::OK, json!("…1234"))
    );
    // Without the operator's leave, a judge on a private network is refused.
    let mut strict = s.services.clone();
    strict.judges = std::sync::Arc::new(judge::Judges::new(&[3; 32], false));
    for url in ["http://169.254.169.254/latest", base.as_str()] {
        let refused = judge::set(
            &strict,
            s.a,
            None,
            &judge::JudgeForm {
                base_url: url.into(),
                model: "m".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert!(refused.to_string().contains("private"), "{refused}");
    }
    // Bad settings name their field.
    for (form, field) in [
        ("base_url=ftp%3A%2F%2Fx&model=m", "base_url"),
        ("base_url=https%3A%2F%2Fx.example&model=", "model"),
        (
            "base_url=https%3A%2F%2Fx.example&model=m&timeout_ms=5",
            "timeout_ms",
        ),
    ] {
        let (status, body) = owner_form(&s, "/api/v1/evaluate/judge/set", form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }

    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/configs/create",
        "name=helpful&data_type=numeric&min_value=0&max_value=1&higher_is_better=true",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = owner_form(&s, "/api/v1/evaluate/evaluators/create", judge_form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["daily_limit_usd"], 0.045);
    let id = body["id"].as_str().unwrap().to_owned();
    // A spend limit is for judges only; a prompt must show the judge something.
    for (form, field) in [
        (
            "name=r2&target=span&rule_type=valid_json&daily_limit_usd=1",
            "daily_limit_usd",
        ),
        (
            "name=j2&target=span&rule_type=judge&prompt=Rate+it",
            "prompt",
        ),
        ("name=j3&target=span&rule_type=judge", "prompt"),
    ] {
        let (status, body) = owner_form(&s, "/api/v1/evaluate/evaluators/create", form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }

    let at = chrono::Utc::now() - chrono::Duration::seconds(30);
    ingest_native(
        &s,
        chat_traces(
            "j",
            &["verdict-good", "verdict-bad", "malformed", "flaky", "slow"],
            at,
        ),
    )
    .await;
    // Until the queue is empty: the flaky call is retried after 1 s; the slow one after 1, 2
    // and 4 s, then fails with the reason.
    let started = std::time::Instant::now();
    while queued(&owner).await > 0 {
        assert!(started.elapsed().as_secs() < 30, "the queue does not drain");
        worker::run_once(&s.services).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let scores = judge_scores(&s).await;
    let model = Some("judge-mini-2026".to_owned());
    assert_eq!(
        scores,
        vec![
            (
                "flaky".into(),
                0.9,
                Some("answers the question".into()),
                model.clone()
            ),
            (
                "verdict-bad".into(),
                0.2,
                Some("off topic".into()),
                model.clone()
            ),
            (
                "verdict-good".into(),
                0.9,
                Some("answers the question".into()),
                model.clone()
            ),
        ]
    );
    {
        let calls = fake.calls.lock().unwrap();
        assert_eq!(calls["flaky"], 2, "429 once, then a verdict");
        assert_eq!(calls["slow"], 4, "four tries, then failed");
        assert_eq!(calls["malformed"], 1, "a malformed reply is not retried");
    }
    {
        let seen = fake.seen.lock().unwrap();
        let (auth, body) = &seen[0];
        assert_eq!(auth.as_deref(), Some("Bearer sk-test-secret-1234"));
        assert_eq!(body["model"], "judge-mini");
        let prompt = body["messages"][1]["content"].as_str().unwrap();
        assert!(prompt.contains("helpful? Agent support-bot"), "{prompt}");
        let system = body["messages"][0]["content"].as_str().unwrap();
        assert!(system.contains("a number from 0 to 1"), "{system}");
    }
    let (_, list) = get_json(&s, "/api/v1/evaluate/evaluators").await;
    let e = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(e["stats"]["done_today"], 3, "{e}");
    assert_eq!(e["stats"]["failed_today"], 2, "{e}");
    let spent = e["stats"]["spent_today_usd"].as_f64().unwrap();
    assert!((spent - 0.03).abs() < 1e-9, "three verdicts at $0.01: {e}");
    let errors = e["stats"]["last_errors"].to_string();
    assert!(errors.contains("not a verdict"), "{errors}");
    assert!(
        errors.contains("did not answer within 300 ms (gave up after 4 tries)"),
        "{errors}"
    );
    assert_eq!(e["status"], "active");

    // Past the daily limit ($0.045): the pass that crosses it pauses the evaluator, which says
    // why; nothing more is queued or spent.
    ingest_native(&s, chat_traces("k", &["verdict-good", "verdict-good"], at)).await;
    worker::run_once(&s.services).await.unwrap();
    let (_, list) = get_json(&s, "/api/v1/evaluate/evaluators").await;
    let e = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(e["status"], "paused", "{e}");
    assert!(
        e["paused_reason"]
            .as_str()
            .unwrap()
            .contains("daily spend limit reached"),
        "{e}"
    );
    assert!((e["stats"]["spent_today_usd"].as_f64().unwrap() - 0.05).abs() < 1e-9);
    ingest_native(&s, chat_traces("l", &["verdict-good"], at)).await;
    assert_eq!(queued(&owner).await, 0);
    assert_eq!(judge_scores(&s).await.len(), 5);
}

async fn backfill(s: &Setup, form: String) -> (StatusCode, Value) {
    owner_form(s, "/api/v1/evaluate/evaluators/backfill", &form).await
}

/// The first evaluator's latest backfill, once it has ended.
async fn finished_backfill(s: &Setup) -> Value {
    let started = std::time::Instant::now();
    loop {
        let (_, list) = get_json(s, "/api/v1/evaluate/evaluators").await;
        let b = list[0]["backfill"].clone();
        if b["status"] == "done" || b["status"] == "failed" {
            return b;
        }
        assert!(started.elapsed().as_secs() < 20, "backfill never ends: {b}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_backfill_runs_an_evaluator_over_stored_spans_once_with_progress(owner: PgPool) {
    use argus_domain::evals::worker;
    let s = setup(&owner).await;
    let at = chrono::Utc::now() - chrono::Duration::hours(3);
    let outputs = [r#"{"ok": true}"#, "plain text", "[1]", "{broken"];
    ingest_native(&s, chat_traces("old", &outputs, at)).await;
    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/create",
        "name=json-output&target=span&operation=chat&rule_type=valid_json",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        queued(&owner).await,
        0,
        "spans stored before it are not queued by ingest"
    );

    let (status, job) = backfill(&s, format!("id={id}&range=24h")).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let done = finished_backfill(&s).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        done["scanned"], 8,
        "every span of the window (roots too): {done}"
    );
    assert_eq!(done["queued"], 4, "{done}");
    worker::run_once(&s.services).await.unwrap();
    let scores = evaluator_scores(&s).await;
    assert_eq!(scores.len(), 4, "{scores:?}");
    assert_eq!(scores.iter().filter(|r| r.2).count(), 2, "{scores:?}");

    // Again: what it scored is skipped; a scope that matches nothing scans nothing.
    backfill(&s, format!("id={id}&range=24h")).await;
    let again = finished_backfill(&s).await;
    assert_eq!(
        again["scanned"], 4,
        "the scored chat spans are skipped: {again}"
    );
    assert_eq!(again["queued"], 0, "{again}");
    backfill(&s, format!("id={id}&range=24h&agent=someone-else")).await;
    assert_eq!(finished_backfill(&s).await["scanned"], 0);
    assert_eq!(evaluator_scores(&s).await.len(), 4, "nothing scored twice");

    // Refused: too long a window, an unknown or paused evaluator.
    let (status, body) = backfill(
        &s,
        format!(
            "id={id}&from={}&to={}",
            (chrono::Utc::now() - chrono::Duration::days(200)).format("%Y-%m-%dT%H:%M:%SZ"),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = backfill(&s, format!("id={}&range=24h", uuid::Uuid::new_v4())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    owner_form(&s, "/api/v1/evaluate/evaluators/pause", &format!("id={id}")).await;
    let (status, body) = backfill(&s, format!("id={id}&range=24h")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("paused"));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn reviewers_work_an_annotation_queue_and_their_agreement_is_measured(owner: PgPool) {
    use argus_domain::{access, members};
    let s = setup(&owner).await;
    // A second reviewer in workspace A.
    let mem = session::register(&s.services, "mem@example.com", "Mem", PASSWORD, "M")
        .await
        .unwrap();
    members::add(
        &s.services,
        s.a,
        "mem@example.com",
        argus_types::Role::Member,
    )
    .await
    .unwrap();
    let mem_access = access::from_session(&s.services, &mem.token).await.unwrap();
    let mem_token = session::switch(&s.services, &mem_access, s.a.0)
        .await
        .unwrap()
        .token;
    let ann = s.owner_token.clone();
    let at = chrono::Utc::now() - chrono::Duration::minutes(30);
    ingest_native(&s, chat_traces("q", &["one", "two", "three", "four"], at)).await;
    ingest_native(&s, chat_traces("other-agent", &["x"], at)).await;
    for form in [
        "name=helpful&data_type=numeric&min_value=0&max_value=1",
        "name=correct&data_type=boolean",
    ] {
        let (status, body) = owner_form(&s, "/api/v1/evaluate/configs/create", form).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Refused: unknown configs, no configs, bad sampling.
    for (form, field) in [
        ("name=q&configs=helpful,nope&range=24h", "nope"),
        ("name=q&configs=&range=24h", "configs"),
        ("name=q&configs=helpful&sampling=2&range=24h", "sampling"),
    ] {
        let (status, body) = owner_form(&s, "/api/v1/evaluate/queues/create", form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    // The queue: the traces the list's filters match (here: a search on the name prefix is not
    // needed — all five traces are support-bot's; the range keeps them).
    let (status, queue) = owner_form(
        &s,
        "/api/v1/evaluate/queues/create",
        "name=weekly-review&configs=helpful,+correct&range=24h&description=Spot+checks",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["progress"]["items"], 5, "{queue}");
    assert_eq!(queue["config_names"], json!(["helpful", "correct"]));
    let id = queue["id"].as_str().unwrap().to_owned();
    let next = |token: String| {
        let s = &s;
        let id = id.clone();
        async move {
            form_as(
                s,
                &token,
                &format!("/api/v1/evaluate/queues/next?id={id}"),
                "",
            )
            .await
        }
    };

    // Ann works through it: every item once, scoring three and skipping one...
    let mut ann_seen = Vec::new();
    for i in 0..5 {
        let (status, item) = next(ann.clone()).await;
        assert_eq!(status, StatusCode::OK, "{item}");
        assert_eq!(item["remaining"], 5 - i, "{item}");
        assert_eq!(item["configs"].as_array().unwrap().len(), 2);
        let trace = item["trace_id"].as_str().unwrap().to_owned();
        assert!(!ann_seen.contains(&trace), "an item comes once");
        ann_seen.push(trace.clone());
        if i == 4 {
            let (status, _) = form_as(
                &s,
                &ann,
                "/api/v1/evaluate/queues/skip",
                &format!("id={id}&trace_id={trace}"),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            continue;
        }
        let (status, body) = form_as(
            &s,
            &ann,
            "/api/v1/evaluate/queues/submit",
            &format!(
                "id={id}&trace_id={trace}&values%5Bhelpful%5D={}&values%5Bcorrect%5D={}&comment=ok",
                0.25 * i as f64,
                i % 2 == 0
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, 2);
    }
    let (status, done) = next(ann.clone()).await;
    assert_eq!(
        (status, done),
        (StatusCode::OK, Value::Null),
        "Ann is through"
    );

    // Mem gets the item nobody scored first (the one Ann skipped), then the scored ones.
    let (_, first) = next(mem_token.clone()).await;
    assert_eq!(first["trace_id"], ann_seen[4].as_str());
    // Bad submissions name their field and store nothing.
    for (form, field) in [
        (
            format!("id={id}&trace_id={}&values%5Bhelpful%5D=7", ann_seen[0]),
            "helpful",
        ),
        (
            format!("id={id}&trace_id={}&values%5Bstranger%5D=1", ann_seen[0]),
            "stranger",
        ),
        (format!("id={id}&trace_id={}", ann_seen[0]), "values"),
    ] {
        let (status, body) = form_as(&s, &mem_token, "/api/v1/evaluate/queues/submit", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    let (status, _) = form_as(
        &s,
        &mem_token,
        "/api/v1/evaluate/queues/submit",
        &format!("id={id}&trace_id=not-an-item&values%5Bhelpful%5D=1"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Mem scores Ann's first four: helpful off by 0.25 on two of them, correct the same on all
    // but one.
    for (i, trace) in ann_seen[..4].iter().enumerate() {
        let helpful = 0.25 * i as f64 + if i < 2 { 0.25 } else { 0.0 };
        let correct = if i == 3 { true } else { i % 2 == 0 };
        let (status, body) = form_as(
            &s,
            &mem_token,
            "/api/v1/evaluate/queues/submit",
            &format!(
                "id={id}&trace_id={trace}&values%5Bhelpful%5D={helpful}&values%5Bcorrect%5D={correct}"
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, list) = form_as(&s, &ann, "/api/v1/evaluate/queues?", "").await;
    let q = &list[0];
    assert_eq!(q["progress"]["reviewed"], 4, "{q}");
    assert_eq!(q["progress"]["reviewed_twice"], 4, "{q}");
    assert_eq!(q["progress"]["mine_done"], 4, "{q}");
    assert_eq!(q["progress"]["mine_skipped"], 1, "{q}");
    let agreement = |name: &str| {
        q["agreement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };
    let helpful = agreement("helpful");
    assert_eq!(helpful["pairs"], 4);
    assert!(
        (helpful["mean_abs_diff"].as_f64().unwrap() - 0.125).abs() < 1e-9,
        "{helpful}"
    );
    // correct: Ann true,false,true,false; Mem true,false,true,true → p_o 0.75; marginals
    // Ann 2/2, Mem 3/1 → p_e 0.5 → κ 0.5.
    let correct = agreement("correct");
    assert_eq!(correct["pairs"], 4);
    assert!(
        (correct["observed"].as_f64().unwrap() - 0.75).abs() < 1e-9,
        "{correct}"
    );
    assert!(
        (correct["kappa"].as_f64().unwrap() - 0.5).abs() < 1e-9,
        "{correct}"
    );
    // The scores are ordinary annotation scores with their reviewer.
    let scores: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM scores WHERE source = 'annotation' AND author_user_id IS NOT NULL",
    )
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(scores, 16);
    // Deleted, the queue goes; its scores stay.
    let (status, _) = owner_form(&s, "/api/v1/evaluate/queues/delete", &format!("id={id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = next(ann.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn an_edited_evaluator_gets_a_new_version_that_its_later_scores_carry(owner: PgPool) {
    use argus_domain::evals::worker;
    use argus_domain::ingest::native::trace_key;
    let s = setup(&owner).await;
    let (status, first) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/create",
        "name=short&target=span&operation=chat&rule_type=length&max=10",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["version"], 1);
    let id = first["id"].as_str().unwrap().to_owned();
    let at = chrono::Utc::now() - chrono::Duration::seconds(30);
    let outputs = ["tiny", "a much longer answer"];
    ingest_native(&s, chat_traces("v1", &outputs, at)).await;
    worker::run_once(&s.services).await.unwrap();

    // Edited: up to 100 characters. The target stays; the version goes up.
    let (status, edited) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/update",
        &format!("id={id}&name=short&operation=chat&rule_type=length&max=100"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["target"], "span");
    assert_eq!(edited["rule"]["max"], 100);
    ingest_native(&s, chat_traces("v2", &outputs, at)).await;
    worker::run_once(&s.services).await.unwrap();
    let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
    let rows: Vec<(String, i32, f64)> = sqlx::query_as(
        "SELECT trace_id, evaluator_version, value FROM scores WHERE workspace_id = $1 \
         AND source = 'evaluator' ORDER BY trace_id",
    )
    .bind(s.a.0)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut want: Vec<(String, i32, f64)> = vec![
        (trace_key("v1-0"), 1, 1.0),
        (trace_key("v1-1"), 1, 0.0),
        (trace_key("v2-0"), 2, 1.0),
        (trace_key("v2-1"), 2, 1.0),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(rows, want);

    // Refused: another evaluator's name, an unknown id, a broken rule.
    let (status, _) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/create",
        "name=other&target=trace&rule_type=valid_json",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/update",
        &format!("id={id}&name=other&rule_type=valid_json"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/update",
        &format!("id={}&name=x&rule_type=valid_json", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/update",
        &format!("id={id}&name=short&rule_type=regex&pattern=%28a"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("pattern"));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_judged_job_in_flight_keeps_its_lease_for_the_judges_timeout(owner: PgPool) {
    use argus_domain::evals::{judge, worker};
    let s = setup_with(&owner, |services| {
        services.judges = std::sync::Arc::new(judge::Judges::new(&[3; 32], true));
    })
    .await;
    let (base, _fake) = start_fake_judge().await;
    // A judge that may take 5 s: longer than nothing, shorter than the claim's lease plus it.
    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/judge/set",
        &format!("base_url={base}&model=judge-mini&timeout_ms=5000"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/create",
        "name=j&target=span&operation=chat&rule_type=judge&prompt=Rate+%7B%7Boutput%7D%7D",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let at = chrono::Utc::now() - chrono::Duration::seconds(30);
    ingest_native(&s, chat_traces("h", &["hang"], at)).await;
    let services = s.services.clone();
    let pass = tokio::spawn(async move { worker::run_once(&services).await });
    // While the judge thinks, the job's lease runs past the claim's: the judge's timeout plus
    // the lease, so no other replica takes it over (and pays for it) meanwhile.
    let started = std::time::Instant::now();
    let lease = loop {
        let left: Option<f64> = sqlx::query_scalar(
            "SELECT extract(epoch FROM lease_until - now())::float8 FROM eval_jobs \
             WHERE status = 'running'",
        )
        .fetch_optional(&owner)
        .await
        .unwrap()
        .flatten();
        if let Some(left) = left.filter(|l| *l > f64::from(worker::LEASE_SECS) + 1.0) {
            break left;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(2400),
            "no extended lease while the judge runs: {left:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(lease <= f64::from(worker::LEASE_SECS) + 5.5, "{lease}");
    assert_eq!(
        worker::run_once(&s.services).await.unwrap().claimed,
        0,
        "another pass does not take the job in flight"
    );
    let done = pass.await.unwrap().unwrap();
    assert_eq!(done.scored, 1, "{done:?}");
    assert_eq!(queued(&owner).await, 0);
}
