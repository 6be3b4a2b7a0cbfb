//! The trace explorer over HTTP: the list API and pages (cursors, filters, a tampered cursor),
//! a trace's page and its 404, sessions and agents — what curl and a browser without
//! JavaScript get.

mod common;

use argus_domain::apikeys::{self, Scope};
use argus_domain::tenancy::WorkspaceId;
use argus_domain::{access, ingest, session};
use axum::http::StatusCode;
use common::*;
use secrecy::ExposeSecret;
use sqlx::PgPool;

/// Ann's workspace with 60 traces of support-bot in session "chat-7" (every 10th failed, the
/// failed ones with a failing tool span) and Bob's workspace with one trace.
async fn setup(owner: &PgPool) -> (axum::Router, String, String, String) {
    let (router, s) = app_as_server(owner).await;
    let ann = session::register(&s, "ann@example.com", "Ann", "a long passphrase", "Acme")
        .await
        .unwrap();
    let bob = session::register(&s, "bob@example.com", "Bob", "a long passphrase", "Bobs")
        .await
        .unwrap();
    let now = chrono::Utc::now() - chrono::Duration::seconds(10);
    let traces: Vec<_> = (0..60)
        .map(|i| {
            let failed = i % 10 == 3;
            let mut spans = vec![serde_json::json!({
                "span_id": format!("{:016x}", i + 1), "name": "chat gpt-4o", "model": "gpt-4o",
                "input_tokens": 100, "output_tokens": 20,
                "start_time": now - chrono::Duration::seconds(i), "latency_ms": 50,
                "input": [{"role": "user", "parts": [{"type": "text", "content": format!("question {i}")}]}],
                "output": [{"role": "assistant", "parts": [{"type": "text", "content": "an answer"}]}]
            })];
            if failed {
                spans.push(serde_json::json!({
                    "span_id": format!("{:016x}", 1000 + i), "name": "lookup tool",
                    "operation": "execute_tool", "start_time": now - chrono::Duration::seconds(i),
                    "latency_ms": 20, "status": "error", "error": "upstream timeout"
                }));
            }
            serde_json::json!({
                "trace_id": format!("{:032x}", 0xfeed_0000_u64 + i as u64), "agent_id": "support-bot",
                "department": "support", "session_id": "chat-7", "user_id": "u-1",
                "name": format!("answer {i}"), "start_time": now - chrono::Duration::seconds(i),
                "latency_ms": 100 + i, "spans": spans
            })
        })
        .collect();
    for (ws, batch) in [
        (ann.workspace.id, serde_json::json!({ "traces": traces })),
        (
            bob.workspace.id,
            serde_json::json!({"traces": [{"trace_id": "b".repeat(32), "agent_id": "bobs-bot",
                "session_id": "bobs-chat"}]}),
        ),
    ] {
        let key = apikeys::create(&s.pool, WorkspaceId(ws), None, "k", &[Scope::Ingest], None)
            .await
            .unwrap();
        let a = access::from_api_key(&s, key.key.expose_secret())
            .await
            .unwrap();
        let out = ingest::export_native(
            &s,
            &a,
            &mut s.ingest_gate.admit(a.workspace),
            batch.to_string().as_bytes(),
        )
        .await
        .unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    }
    let trace = format!("{:032x}", 0xfeed_0003_u64);
    (router, ann.token, bob.token, trace)
}

/// The value of `attr` in every tag carrying `data-testid="{testid}"`.
fn attrs(html: &str, testid: &str, attr: &str) -> Vec<String> {
    let needle = format!("data-testid=\"{testid}\"");
    html.match_indices(&needle)
        .filter_map(|(at, _)| {
            let tag = &html[html[..at].rfind('<')?..at + html[at..].find('>')?];
            let v = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
            Some(tag[v..v + tag[v..].find('"')?].to_owned())
        })
        .collect()
}

/// `href` of the first tag with `data-testid="{testid}"`, unescaped.
fn link(html: &str, testid: &str) -> Option<String> {
    let at = html.find(&format!("data-testid=\"{testid}\""))?;
    let tag = &html[html[..at].rfind('<')?..at + html[at..].find('>')?];
    let h = tag.find("href=\"")? + 6;
    Some(tag[h..h + tag[h..].find('"')?].replace("&amp;", "&"))
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_list_pages_with_cursors_over_the_api_and_on_the_page(owner: PgPool) {
    let (router, token, _, _) = setup(&owner).await;
    let api = |uri: &str| request("GET", uri, "", &Auth::Bearer(token.clone()));

    // The API: 50, then 10, every trace once.
    let first = body_json(send(&router, api("/api/v1/traces")).await).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 50);
    assert!(first["meta"]["prev_cursor"].is_null());
    let next = first["meta"]["next_cursor"].as_str().unwrap().to_owned();
    let second = send(&router, api(&format!("/api/v1/traces?cursor={next}"))).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second = body_json(second).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 10);
    assert!(second["meta"]["next_cursor"].is_null());
    assert!(second["meta"]["prev_cursor"].is_string());

    // Filters: the failed traces, slowest first.
    let failed =
        body_json(send(&router, api("/api/v1/traces?status=error&sort=latency")).await).await;
    let latencies: Vec<f64> = failed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["latency_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(latencies, [153.0, 143.0, 133.0, 123.0, 113.0, 103.0]);

    // A tampered cursor is a 400 INVALID_FORMAT envelope; other bad values 400 INVALID_INPUT.
    let mut bad = next.clone();
    bad.insert(3, 'x');
    let res = send(&router, api(&format!("/api/v1/traces?cursor={bad}"))).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_envelope(&body_json(res).await, "INVALID_FORMAT");
    for uri in [
        "/api/v1/traces?limit=7",
        "/api/v1/traces?sort=name",
        "/api/v1/traces?range=2w",
    ] {
        let res = send(&router, api(uri)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert_envelope(&body_json(res).await, "INVALID_INPUT");
    }

    // The page: rendered on the server, the next link carries the cursor, filters stay.
    let page = |uri: &str| request("GET", uri, "", &Auth::Cookie(token.clone()));
    let res = send(&router, page("/traces?dept=support")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert_eq!(attrs(&html, "trace-row", "data-trace-id").len(), 50);
    let older = link(&html, "page-next").expect("a next link");
    assert!(older.starts_with("/traces?dept=support&cursor="), "{older}");
    let html = body_text(send(&router, page(&older)).await).await;
    assert_eq!(attrs(&html, "trace-row", "data-trace-id").len(), 10);
    assert!(link(&html, "page-prev").is_some() && link(&html, "page-next").is_none());

    // Search on the page; a tampered cursor falls back to the first page with a notice.
    let html = body_text(send(&router, page("/traces?q=%22question+42%22")).await).await;
    assert_eq!(
        attrs(&html, "trace-row", "data-trace-id"),
        [format!("{:032x}", 0xfeed_0000_u64 + 42)]
    );
    let res = send(&router, page(&format!("/traces?cursor={bad}"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("data-testid=\"filter-notice\""));
    assert_eq!(attrs(&html, "trace-row", "data-trace-id").len(), 50);
    // Export: every matching trace (all pages), as CSV and JSONL downloads.
    let res = send(
        &router,
        api("/api/v1/traces/export?format=csv&dept=support"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"argus-traces-"));
    let csv = body_text(res).await;
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("trace_id,start_time,name,agent,"));
    assert_eq!(lines.count(), 60);
    let res = send(
        &router,
        api("/api/v1/traces/export?format=jsonl&status=error"),
    )
    .await;
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let jsonl = body_text(res).await;
    assert_eq!(jsonl.lines().count(), 6);
    for l in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["status"], "error");
    }
    for uri in [
        "/api/v1/traces/export?format=xml",
        "/api/v1/traces/export?min_cost=lots",
    ] {
        let res = send(&router, api(uri)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert_envelope(&body_json(res).await, "INVALID_INPUT");
    }
    // The page's buttons export the page's filters.
    let html = body_text(send(&router, page("/traces?status=error&limit=100")).await).await;
    assert_eq!(
        link(&html, "export-csv").unwrap(),
        "/api/v1/traces/export?status=error&format=csv"
    );

    // Nothing matches: the empty state.
    let html = body_text(send(&router, page("/traces?user=nobody")).await).await;
    assert!(html.contains("data-testid=\"traces-empty\""));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_trace_its_session_and_its_agent_render_and_others_are_404(owner: PgPool) {
    let (router, token, bob, trace) = setup(&owner).await;
    let page = |uri: &str, t: &str| request("GET", uri, "", &Auth::Cookie(t.to_owned()));

    // Dashboard → list: the error-rate KPI links to the failed traces.
    let home = body_text(send(&router, page("/?dept=support", &token)).await).await;
    // … and each bar of the requests chart to its step's traces.
    let bars = attrs(&home, "chart-bar-link", "href");
    let labels = attrs(&home, "chart-bar-link", "aria-label");
    assert_eq!(bars.len(), labels.len());
    let (bar, _) = bars
        .iter()
        .zip(&labels)
        .rfind(|(_, l)| !l.contains(": 0 requests"))
        .expect("a bar with requests");
    let bar = bar.replace("&amp;", "&");
    assert!(
        bar.starts_with("/traces?from=") && bar.ends_with("&dept=support"),
        "{bar}"
    );
    let html = body_text(send(&router, page(&bar, &token)).await).await;
    assert!(
        !attrs(&html, "trace-row", "data-trace-id").is_empty(),
        "the newest step holds traces"
    );
    let kpi_links = attrs(&home, "kpi-traces", "href");
    assert!(
        kpi_links.contains(&"/traces?dept=support&amp;status=error".to_owned()),
        "{kpi_links:?}"
    );

    let res = send(&router, page(&format!("/traces/{trace}"), &token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert_eq!(
        attrs(&html, "span-row", "data-span-id").len(),
        3,
        "root, chat, tool"
    );
    // The failing span is selected at once.
    assert!(html.contains("upstream timeout"), "the error is shown");
    assert!(html.contains("data-testid=\"span-title\">lookup tool<"));
    assert!(html.contains("question 3"), "the chat input is readable");
    assert!(html.contains("href=\"/sessions/chat-7\""));
    assert!(html.contains("href=\"/agents/support-bot\""));
    // Another span by its link.
    let chat = format!("{:016x}", 4);
    let html = body_text(
        send(
            &router,
            page(&format!("/traces/{trace}?span={chat}"), &token),
        )
        .await,
    )
    .await;
    assert!(html.contains("data-testid=\"span-title\">chat gpt-4o<"));

    // Bob's trace does not exist for Ann: the 404 page, and a 404 envelope on the API.
    for uri in [
        format!("/traces/{}", "b".repeat(32)),
        "/traces/not-an-id".into(),
    ] {
        let res = send(&router, page(&uri, &token)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
        assert!(body_text(res).await.contains("data-testid=\"not-found\""));
    }
    let res = send(
        &router,
        request(
            "GET",
            &format!("/api/v1/traces/get?id={}", "b".repeat(32)),
            "",
            &Auth::Bearer(token.clone()),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_envelope(&body_json(res).await, "RESOURCE_NOT_FOUND");
    // Bob sees his own.
    let res = send(&router, page(&format!("/traces/{}", "b".repeat(32)), &bob)).await;
    assert_eq!(res.status(), StatusCode::OK);

    let html = body_text(send(&router, page("/sessions", &token)).await).await;
    assert_eq!(html.matches("data-testid=\"session-row\"").count(), 1);
    let res = send(&router, page("/sessions/chat-7", &token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert_eq!(html.matches("data-testid=\"session-turn\"").count(), 60);
    // In order: the oldest turn first.
    let turns = attrs(&html, "turn-link", "href");
    assert_eq!(
        turns.first().unwrap(),
        &format!("/traces/{:032x}", 0xfeed_0000_u64 + 59)
    );
    let res = send(&router, page("/sessions/bobs-chat", &token)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let html = body_text(send(&router, page("/agents", &token)).await).await;
    assert_eq!(html.matches("data-testid=\"agent-row\"").count(), 1);
    assert!(!html.contains("bobs-bot"));
    let res = send(&router, page("/agents/support-bot", &token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("data-testid=\"agent-kpis\""));
    assert!(
        html.contains("data-testid=\"agent-form\""),
        "Ann is the owner: she may edit"
    );
    let res = send(&router, page("/agents/bobs-bot", &token)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Deleting: a viewer may not; the owner deletes the failed traces in the background, and
    // the audit shows who, what and how many.
    let post =
        |uri: &str, body: &str, t: &str| request("POST", uri, body, &Auth::Bearer(t.to_owned()));
    let res = send(
        &router,
        post("/api/v1/traces/delete", "trace_id=nothex", &token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = send(
        &router,
        post(
            "/api/v1/traces/delete",
            &format!("trace_id={}", "b".repeat(32)),
            &token,
        ),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "Bob's trace is not Ann's to delete"
    );
    let res = send(
        &router,
        post("/api/v1/traces/delete", "status=error", &token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let job = body_json(res).await;
    assert_eq!(job["matched"], 6);
    assert_eq!(job["filter"], "status=error");
    let mut done = serde_json::Value::Null;
    for _ in 0..100 {
        let list = body_json(
            send(
                &router,
                request(
                    "GET",
                    "/api/v1/traces/deletions",
                    "",
                    &Auth::Bearer(token.clone()),
                ),
            )
            .await,
        )
        .await;
        if list[0]["status"] == "done" {
            done = list[0].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done["deleted"], 6, "{done}");
    assert_eq!(done["requested_by_name"], "Ann");
    let left = body_json(
        send(
            &router,
            request(
                "GET",
                "/api/v1/traces?status=error",
                "",
                &Auth::Bearer(token.clone()),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(left["data"].as_array().unwrap().len(), 0);
    let res = send(&router, page(&format!("/traces/{trace}"), &token)).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "the deleted trace is gone"
    );

    // The agents API: offset pagination with meta.
    let res = send(
        &router,
        request(
            "GET",
            "/api/v1/agents?page=1&limit=10",
            "",
            &Auth::Bearer(token.clone()),
        ),
    )
    .await;
    let json = body_json(res).await;
    assert_eq!(
        json["meta"],
        serde_json::json!({"total": 1, "page": 1, "limit": 10, "has_more": false})
    );
    let res = send(
        &router,
        request(
            "GET",
            "/api/v1/agents?limit=1000",
            "",
            &Auth::Bearer(token.clone()),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// The REST door: resources at their paths answer what the older `…/get?id=` paths answer
/// (those say they are deprecated); another workspace's resource is a 404; `POST` functions
/// take JSON bodies as well as forms, and a bad JSON body is a 400 envelope.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn resources_have_rest_paths_and_functions_take_json(owner: PgPool) {
    let (router, token, bob, trace) = setup(&owner).await;
    let api = |uri: &str, token: &str| request("GET", uri, "", &Auth::Bearer(token.to_owned()));
    for (rest, old) in [
        (
            format!("/api/v1/traces/{trace}"),
            format!("/api/v1/traces/get?id={trace}"),
        ),
        (
            "/api/v1/sessions/chat-7".to_owned(),
            "/api/v1/sessions/get?id=chat-7".to_owned(),
        ),
        (
            "/api/v1/agents/support-bot".to_owned(),
            "/api/v1/agents/get?id=support-bot".to_owned(),
        ),
    ] {
        let res = send(&router, api(&rest, &token)).await;
        assert_eq!(res.status(), StatusCode::OK, "{rest}");
        assert!(res.headers().get("deprecation").is_none());
        let new = body_json(res).await;
        let res = send(&router, api(&old, &token)).await;
        assert_eq!(res.status(), StatusCode::OK, "{old}");
        assert_eq!(res.headers()["deprecation"], "true", "{old}");
        assert!(res.headers()["link"]
            .to_str()
            .unwrap()
            .contains("successor-version"));
        assert_eq!(body_json(res).await, new, "{rest} and {old} answer alike");
        // Bob's workspace has no such thing.
        let res = send(&router, api(&rest, &bob)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{rest}");
        assert_envelope(&body_json(res).await, "RESOURCE_NOT_FOUND");
    }
    let res = send(
        &router,
        api(&format!("/api/v1/traces/{trace}?spans_from=x"), &token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = send(
        &router,
        request("GET", &format!("/api/v1/traces/{trace}"), "", &Auth::None),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // JSON bodies: the same function, the same answer as a form.
    let post_json = |path: &str, body: &str| {
        axum::http::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap()
    };
    let res = send(
        &router,
        post_json(
            "/api/v1/agents/update",
            r#"{"id": "support-bot", "department": "care", "display_name": "Support"}"#,
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let agent = body_json(send(&router, api("/api/v1/agents/support-bot", &token)).await).await;
    assert_eq!(agent["department"], "care");
    assert_eq!(agent["display_name"], "Support");
    let res = send(
        &router,
        post_json(
            "/api/v1/api-keys/create",
            r#"{"name": "ci", "scopes": "read"}"#,
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    for (body, code) in [
        ("{not json", "INVALID_FORMAT"),
        ("[1, 2]", "INVALID_FORMAT"),
        (r#"{"id": "support-bot"}"#, "INVALID_FORMAT"),
    ] {
        let res = send(&router, post_json("/api/v1/agents/update", body)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_envelope(&body_json(res).await, code);
    }
    let agent = body_json(send(&router, api("/api/v1/agents/support-bot", &token)).await).await;
    assert_eq!(
        agent["department"], "care",
        "a refused body changes nothing"
    );
}
