//! Datasets and experiments over HTTP: items from JSONL (line errors, idempotent ids) and from
//! stored traces (one, or a filtered list); runs linked by a span attribute at ingest or through
//! the API; two runs compared score by score and item by item against independent arithmetic;
//! and an evaluator's agreement with people who scored the same traces.

mod common;
#[path = "support/evals.rs"]
mod support;

use argus_domain::ingest::native::trace_key;
use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;
use uuid::Uuid;

fn form(pairs: &[(&str, &str)]) -> String {
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    f.finish()
}

/// A POST with the `score` key.
async fn scorer(s: &Setup, path: &str, body: &str) -> (StatusCode, Value) {
    let res = send(
        &s.router,
        request("POST", path, body, &Auth::ApiKey(s.score.clone())),
    )
    .await;
    let status = res.status();
    let bytes = body_bytes(res).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn new_dataset(s: &Setup, name: &str) -> String {
    let (status, ds) = scorer(
        s,
        "/api/v1/evaluate/datasets/create",
        &form(&[("name", name)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ds}");
    ds["id"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn datasets_are_made_from_jsonl_and_from_traces_with_errors_by_line(owner: PgPool) {
    let s = setup(&owner).await;
    let (status, ds) = scorer(
        &s,
        "/api/v1/evaluate/datasets/create",
        "name=support-qa&description=Questions+customers+ask",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ds}");
    let id = ds["id"].as_str().unwrap().to_owned();
    assert_eq!(ds["items"], 0);
    let (status, again) = scorer(&s, "/api/v1/evaluate/datasets/create", "name=support-qa").await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, _) = scorer(&s, "/api/v1/evaluate/datasets/create", "name=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // JSONL: good lines are stored, bad ones named by line number.
    let first = Uuid::now_v7();
    let jsonl = format!(
        "{{\"id\": \"{first}\", \"input\": \"Where is my order?\", \"expected_output\": \"It ships tomorrow.\", \"metadata\": {{\"topic\": \"orders\"}}}}\n\
         not json\n\
         {{\"input\": [{{\"role\": \"user\", \"content\": \"Refund please\"}}], \"expected_output\": \"Refund issued.\"}}\n\
         \n\
         {{\"expected_output\": \"an answer without a question\"}}\n\
         {{\"input\": \"Cancel my plan\", \"metadata\": \"not an object\"}}\n"
    );
    let upload = |body: String| {
        let s = &s;
        async move { scorer(s, "/api/v1/evaluate/datasets/upload", &body).await }
    };
    let (status, added) = upload(form(&[("id", &id), ("jsonl", &jsonl)])).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["created"], 2, "{added}");
    let lines: Vec<u64> = added["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 5, 6], "{added}");
    assert!(added["errors"][1]["message"]
        .as_str()
        .unwrap()
        .contains("needs an input"));

    // Sent again, the line with an id is a duplicate (the one without gets a new id).
    let (_, again) = upload(form(&[("id", &id), ("jsonl", &jsonl)])).await;
    assert_eq!(again["duplicates"], 1, "{again}");
    assert_eq!(again["created"], 1, "{again}");
    // An id of another dataset's item is refused on its line; nothing at all is a 400.
    let other = new_dataset(&s, "other").await;
    let (_, clash) = upload(form(&[
        ("id", &other),
        (
            "jsonl",
            &format!("{{\"id\": \"{first}\", \"input\": \"x\"}}"),
        ),
    ]))
    .await;
    assert_eq!(clash["created"], 0, "{clash}");
    assert!(clash["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("another dataset"));
    let (status, empty) = upload(form(&[("id", &id), ("jsonl", "\n\n")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{empty}");
    let (status, _) = upload(form(&[
        ("id", &Uuid::now_v7().to_string()),
        ("jsonl", "{\"input\": \"x\"}"),
    ]))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // From traces: one by id, then the newest a filter matches; each trace once.
    let at = chrono::Utc::now() - chrono::Duration::seconds(30);
    ingest_native(
        &s,
        chat_traces("t", &["It ships tomorrow.", "Refund sent.", "Done."], at),
    )
    .await;
    let one = trace_key("t-0");
    let add = |body: String| {
        let s = &s;
        async move { scorer(s, "/api/v1/evaluate/datasets/add-traces", &body).await }
    };
    let (status, added) = add(form(&[("id", &id), ("trace_id", &one)])).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["created"], 1, "{added}");
    let (_, added) = add(form(&[
        ("id", &id),
        ("range", "24h"),
        ("agent", "support-bot"),
    ]))
    .await;
    assert_eq!(
        (added["created"].as_u64(), added["duplicates"].as_u64()),
        (Some(2), Some(1)),
        "{added}"
    );
    let (_, missing) = add(form(&[("id", &id), ("trace_id", &"f".repeat(32))])).await;
    assert!(missing["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not stored"));
    let (status, none) = add(form(&[("id", &id), ("range", "24h"), ("agent", "nobody")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{none}");

    // The items: newest first, in pages; a trace's item carries its output and dimensions.
    let (status, page) = get_json(
        &s,
        &format!("/api/v1/evaluate/datasets/items?id={id}&limit=4"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["meta"]["total"], 6, "{page}");
    assert_eq!(page["meta"]["has_more"], true);
    assert_eq!(page["data"].as_array().unwrap().len(), 4);
    let (_, rest) = get_json(
        &s,
        &format!("/api/v1/evaluate/datasets/items?id={id}&limit=4&page=2"),
    )
    .await;
    let all: Vec<Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["data"].as_array().unwrap())
        .cloned()
        .collect();
    assert_eq!(all.len(), 6);
    let from_trace = all
        .iter()
        .find(|i| i["source_trace_id"] == one.as_str())
        .unwrap();
    assert_eq!(from_trace["expected_output"], "It ships tomorrow.");
    assert_eq!(from_trace["metadata"]["agent"], "support-bot");
    let uploaded = all.iter().find(|i| i["id"] == first.to_string()).unwrap();
    assert_eq!(uploaded["metadata"]["topic"], "orders");
    let messages = all
        .iter()
        .find(|i| i["expected_output"] == "Refund issued.")
        .unwrap();
    assert!(messages["input"]
        .as_str()
        .unwrap()
        .contains("Refund please"));
    let (status, bad) = get_json(
        &s,
        &format!("/api/v1/evaluate/datasets/items?id={id}&limit=abc"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    // Deleting: an item (member), the dataset (admin only; a score key may not).
    let (status, _) = owner_form(
        &s,
        "/api/v1/evaluate/datasets/items/delete",
        &form(&[("dataset_id", &id), ("item_id", &first.to_string())]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = get_json(&s, "/api/v1/evaluate/datasets").await;
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id.as_str())
        .unwrap();
    assert_eq!(mine["items"], 5);
    let (status, _) = scorer(&s, "/api/v1/evaluate/datasets/delete", &format!("id={id}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = owner_form(&s, "/api/v1/evaluate/datasets/delete", &format!("id={id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get_json(&s, &format!("/api/v1/evaluate/datasets/get?id={id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// One native trace of `agent` `version` answering `item`, in `run` (when named).
fn run_trace(raw_id: &str, version: &str, item: &str, run: Option<&str>, output: &str) -> Value {
    let mut metadata = json!({ "dataset.item_id": item });
    if let Some(run) = run {
        metadata["dataset.run_name"] = json!(run);
    }
    json!({"trace_id": raw_id, "agent_id": "support-bot", "version": version,
           "start_time": (chrono::Utc::now() - chrono::Duration::seconds(20)).to_rfc3339(),
           "latency_ms": 400, "name": "invoke_agent", "output": output, "cost": 0.002,
           "metadata": metadata})
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn runs_link_by_span_attribute_and_compare_item_by_item(owner: PgPool) {
    let s = setup(&owner).await;
    for config in [
        "name=quality&data_type=numeric&min_value=0&max_value=1&higher_is_better=true",
        "name=correct&data_type=boolean&higher_is_better=true",
    ] {
        let (status, body) = owner_form(&s, "/api/v1/evaluate/configs/create", config).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let id = new_dataset(&s, "regression").await;
    // Random (v4) ids: the items keep the upload's order all the same.
    let items: Vec<String> = (0..5).map(|_| Uuid::new_v4().to_string()).collect();
    let jsonl: String = items
        .iter()
        .enumerate()
        .map(|(i, item)| format!("{{\"id\": \"{item}\", \"input\": \"question {i}\", \"expected_output\": \"answer {i}\"}}\n"))
        .collect();
    let (_, added) = scorer(
        &s,
        "/api/v1/evaluate/datasets/upload",
        &form(&[("id", &id), ("jsonl", &jsonl)]),
    )
    .await;
    assert_eq!(added["created"], 5, "{added}");

    // Run A names itself; run B takes the default name (agent@version). A span naming an
    // unknown item is stored all the same and links nothing; sent twice, nothing doubles.
    let mut traces: Vec<Value> = (0..4)
        .map(|i| {
            run_trace(
                &format!("a-{i}"),
                "1.0",
                &items[i],
                Some("baseline"),
                "old answer",
            )
        })
        .chain((0..4).map(|i| run_trace(&format!("b-{i}"), "2.0", &items[i], None, "new answer")))
        .collect();
    traces.push(run_trace(
        "stray",
        "2.0",
        &Uuid::now_v7().to_string(),
        None,
        "x",
    ));
    traces.push(run_trace("junk", "2.0", "not-a-uuid", None, "x"));
    let body = json!({ "traces": traces }).to_string().into_bytes();
    ingest_native(&s, body.clone()).await;
    ingest_native(&s, body).await;
    let (status, runs) = get_json(&s, &format!("/api/v1/evaluate/experiments?dataset={id}")).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    let runs = runs.as_array().unwrap().clone();
    let names: std::collections::BTreeSet<&str> =
        runs.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["baseline", "support-bot@2.0"].into_iter().collect());
    let run = |name: &str| runs.iter().find(|r| r["name"] == name).unwrap().clone();
    let (a, b) = (run("baseline"), run("support-bot@2.0"));
    assert_eq!(
        (a["linked"].as_i64(), a["arrived"].as_i64()),
        (Some(4), Some(4)),
        "{a}"
    );
    assert!(
        (a["cost_usd"].as_f64().unwrap() - 0.008).abs() < 1e-9,
        "{a}"
    );
    assert!(
        (a["mean_latency_ms"].as_f64().unwrap() - 400.0).abs() < 1e-6,
        "{a}"
    );

    // Through the API: item 4 in run A, its trace not stored yet.
    let pending = "ab".repeat(16);
    let (status, linked) = scorer(
        &s,
        "/api/v1/evaluate/experiments/link",
        &form(&[
            ("item_id", &items[4]),
            ("run", "baseline"),
            ("trace_id", &pending),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(
        (linked["linked"].as_i64(), linked["arrived"].as_i64()),
        (Some(5), Some(4))
    );
    for (body, field) in [
        (
            form(&[
                ("item_id", &items[0]),
                ("run", "baseline"),
                ("trace_id", "xyz"),
            ]),
            "trace_id",
        ),
        (
            form(&[("item_id", &items[0]), ("run", ""), ("trace_id", &pending)]),
            "run",
        ),
    ] {
        let (status, err) = scorer(&s, "/api/v1/evaluate/experiments/link", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{err}"
        );
    }
    let (status, _) = scorer(
        &s,
        "/api/v1/evaluate/experiments/link",
        &form(&[
            ("item_id", &Uuid::now_v7().to_string()),
            ("run", "baseline"),
            ("trace_id", &pending),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Scores on the runs' traces.
    let qa = [0.5, 0.6, 0.7, 0.4];
    let qb = [0.9, 0.6, 0.8, 0.3];
    let ca = [true, false, true, false];
    let cb = [true, true, true, false];
    let mut scores = Vec::new();
    for i in 0..4 {
        for (side, q, c) in [("a", qa[i], ca[i]), ("b", qb[i], cb[i])] {
            let trace = trace_key(&format!("{side}-{i}"));
            scores.push(json!({"trace_id": trace, "name": "quality", "value": q}));
            scores.push(json!({"trace_id": trace, "name": "correct", "value": c}));
        }
    }
    let (status, stored) = post_scores(&s, json!({ "scores": scores })).await;
    assert_eq!(status, StatusCode::OK, "{stored}");

    let (status, cmp) = get_json(
        &s,
        &format!(
            "/api/v1/evaluate/experiments/compare?a={}&b={}&limit=3",
            a["id"].as_str().unwrap(),
            b["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cmp}");
    let score = |name: &str| {
        cmp["scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let quality = score("quality");
    assert!(
        (quality["a"]["mean"].as_f64().unwrap() - mean(&qa)).abs() < 1e-9,
        "{quality}"
    );
    assert!(
        (quality["b"]["mean"].as_f64().unwrap() - mean(&qb)).abs() < 1e-9,
        "{quality}"
    );
    assert_eq!(quality["a"]["n"], 4);
    assert_eq!(quality["test"]["method"], "welch_t");
    // Welch's t by hand.
    let var = |xs: &[f64]| {
        let m = mean(xs);
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() as f64 - 1.0)
    };
    let t = (mean(&qa) - mean(&qb)) / (var(&qa) / 4.0 + var(&qb) / 4.0).sqrt();
    assert!(
        (quality["test"]["statistic"].as_f64().unwrap().abs() - t.abs()).abs() < 1e-9,
        "{quality}"
    );
    let correct = score("correct");
    assert!((correct["a"]["mean"].as_f64().unwrap() - 0.5).abs() < 1e-9);
    assert!((correct["b"]["mean"].as_f64().unwrap() - 0.75).abs() < 1e-9);
    assert_eq!(correct["test"]["method"], "two_proportion_z");
    // Paired, item by item: B better on items 0 and 2, worse on 3, the same on 1.
    let paired = cmp["paired"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "quality")
        .unwrap()
        .clone();
    assert_eq!(
        (
            paired["pairs"].as_i64(),
            paired["better"].as_i64(),
            paired["worse"].as_i64(),
            paired["same"].as_i64()
        ),
        (Some(4), Some(2), Some(1), Some(1)),
        "{paired}"
    );
    let delta: f64 = (0..4).map(|i| qb[i] - qa[i]).sum::<f64>() / 4.0;
    assert!((paired["mean_delta"].as_f64().unwrap() - delta).abs() < 1e-9);
    // A page of items (linked ones first, oldest first), each side with its trace and scores.
    assert_eq!(cmp["meta"]["total"], 5);
    assert_eq!(cmp["meta"]["has_more"], true);
    let first = &cmp["items"][0];
    assert_eq!(first["item_id"], items[0].as_str());
    assert_eq!(first["expected_output"], "answer 0");
    assert_eq!(first["a"]["trace_id"], trace_key("a-0").as_str());
    assert_eq!(first["b"]["trace_id"], trace_key("b-0").as_str());
    let cell_quality = first["b"]["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "quality")
        .unwrap()["value"]
        .as_f64();
    assert_eq!(cell_quality, Some(0.9));
    let (_, last) = get_json(
        &s,
        &format!(
            "/api/v1/evaluate/experiments/compare?a={}&b={}&limit=3&page=2",
            a["id"].as_str().unwrap(),
            b["id"].as_str().unwrap()
        ),
    )
    .await;
    let pending_item = last["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item_id"] == items[4].as_str())
        .unwrap()
        .clone();
    assert_eq!(pending_item["a"]["arrived"], false, "{pending_item}");
    assert!(pending_item["b"].is_null());

    // Runs of different datasets are not compared; a deleted run is gone (its traces stay).
    let other = new_dataset(&s, "other").await;
    let extra = Uuid::now_v7().to_string();
    scorer(
        &s,
        "/api/v1/evaluate/datasets/upload",
        &form(&[
            ("id", &other),
            (
                "jsonl",
                &format!("{{\"id\": \"{extra}\", \"input\": \"q\"}}"),
            ),
        ]),
    )
    .await;
    let (_, foreign) = scorer(
        &s,
        "/api/v1/evaluate/experiments/link",
        &form(&[("item_id", &extra), ("run", "solo"), ("trace_id", &pending)]),
    )
    .await;
    let (status, err) = get_json(
        &s,
        &format!(
            "/api/v1/evaluate/experiments/compare?a={}&b={}",
            a["id"].as_str().unwrap(),
            foreign["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, _) = owner_form(
        &s,
        "/api/v1/evaluate/experiments/delete",
        &format!("id={}", a["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, runs) = get_json(&s, &format!("/api/v1/evaluate/experiments?dataset={id}")).await;
    assert_eq!(runs.as_array().unwrap().len(), 1);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn an_evaluator_shows_how_it_agrees_with_people(owner: PgPool) {
    use argus_domain::evals::worker;
    let s = setup(&owner).await;
    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/configs/create",
        "name=ships&data_type=boolean&higher_is_better=true",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = owner_form(
        &s,
        "/api/v1/evaluate/evaluators/create",
        "name=ships&target=trace&rule_type=contains&value=ships",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let at = chrono::Utc::now() - chrono::Duration::seconds(30);
    let outputs = ["It ships today.", "It ships soon.", "No idea.", "Sorry."];
    ingest_native(&s, chat_traces("p", &outputs, at)).await;
    sqlx::query("UPDATE eval_jobs SET run_after = now()")
        .execute(&owner)
        .await
        .unwrap();
    worker::run_once(&s.services).await.unwrap();
    // The evaluator said true, true, false, false; a person says true, false, false, false.
    for (i, value) in ["true", "false", "false", "false"].iter().enumerate() {
        let (status, body) = owner_form(
            &s,
            "/api/v1/evaluate/annotate",
            &form(&[
                ("trace_id", &trace_key(&format!("p-{i}"))),
                ("name", "ships"),
                ("value", value),
            ]),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, evaluators) = get_json(&s, "/api/v1/evaluate/evaluators").await;
    let agreement = &evaluators[0]["agreement"];
    assert_eq!(agreement["pairs"], 4, "{evaluators}");
    assert!(
        (agreement["observed"].as_f64().unwrap() - 0.75).abs() < 1e-9,
        "{agreement}"
    );
    // κ by hand: p_o = 0.75; evaluator yes 2/4, person yes 1/4 → p_e = 0.5·0.25 + 0.5·0.75.
    let pe = 0.5 * 0.25 + 0.5 * 0.75;
    let kappa = (0.75 - pe) / (1.0 - pe);
    assert!(
        (agreement["kappa"].as_f64().unwrap() - kappa).abs() < 1e-9,
        "{agreement}"
    );
}
