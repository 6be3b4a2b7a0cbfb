//! The dashboard over HTTP: the query API with a bearer token, and the home page rendered on
//! the server from a pasted URL (what a browser without JavaScript, or curl, gets).

mod common;

use argus_domain::apikeys::{self, Scope};
use argus_domain::tenancy::WorkspaceId;
use argus_domain::{access, ingest, session};
use axum::http::{header, StatusCode};
use common::*;
use secrecy::ExposeSecret;
use sqlx::PgPool;

/// A workspace with three traces now: two of support (one failed), one of sales.
async fn setup(owner: &PgPool) -> (axum::Router, String) {
    let (router, s) = app_as_server(owner).await;
    let ann = session::register(&s, "ann@example.com", "Ann", "a long passphrase", "Acme")
        .await
        .unwrap();
    let key = apikeys::create(
        &s.pool,
        WorkspaceId(ann.workspace.id),
        None,
        "k",
        &[Scope::Ingest],
        None,
    )
    .await
    .unwrap();
    let a = access::from_api_key(&s, key.key.expose_secret())
        .await
        .unwrap();
    let batch = serde_json::json!({"traces": [
        {"trace_id": "t1", "agent_id": "support-bot", "department": "support", "model": "gpt-4o",
         "input_tokens": 1000, "output_tokens": 100, "latency_ms": 800},
        {"trace_id": "t2", "agent_id": "support-bot", "department": "support", "model": "gpt-4o",
         "input_tokens": 500, "output_tokens": 50, "latency_ms": 1200, "status": "error",
         "error": "timeout"},
        {"trace_id": "t3", "agent_id": "sales-writer", "department": "sales", "model": "gpt-4o",
         "input_tokens": 2000, "output_tokens": 300, "latency_ms": 400},
    ]});
    let out = ingest::export_native(
        &s,
        &a,
        &mut s.ingest_gate.admit(a.workspace),
        batch.to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(out.accepted, 3);
    (router, ann.token)
}

fn kpi<'a>(html: &'a str, key: &str) -> &'a str {
    card(html, &format!("kpi-{key}"))
}

/// The value shown in the card with `data-testid={testid}`.
fn card<'a>(html: &'a str, testid: &str) -> &'a str {
    let at = html
        .find(&format!("data-testid=\"{testid}\""))
        .unwrap_or_else(|| panic!("no {testid} card"));
    let rest = &html[at..];
    let v = rest.find("data-testid=\"kpi-value\"").unwrap();
    let rest = &rest[v..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    &rest[start..start + end]
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_pasted_link_renders_the_filtered_numbers_on_the_server(owner: PgPool) {
    let (router, token) = setup(&owner).await;
    let page = |uri: &str| request("GET", uri, "", &Auth::Cookie(token.clone()));

    let res = send(&router, page("/")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert_eq!(kpi(&html, "requests"), "3");
    assert_eq!(kpi(&html, "error_rate"), "33.3%");
    assert_eq!(kpi(&html, "active_agents"), "2");
    assert!(
        html.contains("data-testid=\"requests-chart\""),
        "the chart is server-rendered"
    );
    assert!(html.contains("<title>Requests and errors, Last 24 hours</title>"));
    // The activity stream: both agents are new today.
    assert_eq!(html.matches("data-kind=\"new_agent\"").count(), 2);
    assert!(html.contains("New agent sales-writer sent its first trace"));

    let res = send(&router, page("/?range=24h&dept=support")).await;
    let html = body_text(res).await;
    assert_eq!(kpi(&html, "requests"), "2");
    assert_eq!(kpi(&html, "error_rate"), "50.0%");
    assert_eq!(kpi(&html, "tokens"), "1,650");
    // The dropdown shows the filter from the URL as selected.
    assert!(
        html.contains("<option value=\"support\" selected"),
        "selected option"
    );

    // A bad value falls back to the default with a notice, never an error page.
    let res = send(&router, page("/?range=2w&dept=sales")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("data-testid=\"filter-notice\""));
    assert!(html.contains("Ignored range"));
    assert_eq!(kpi(&html, "requests"), "1", "the good filter still applies");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_query_api_answers_json_and_clear_errors(owner: PgPool) {
    let (router, token) = setup(&owner).await;
    let get = |uri: &str| request("GET", uri, "", &Auth::Bearer(token.clone()));

    let res = send(
        &router,
        get("/api/v1/metrics/home-kpis?range=24h&dept=support"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = body_json(res).await;
    let requests = body["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "requests")
        .unwrap();
    assert_eq!(requests["value"], 2.0);
    assert_eq!(body["window"]["rollup"], "hourly");
    assert_eq!(body["top_by_errors"][0]["agent"], "support-bot");

    let res = send(&router, get("/api/v1/metrics/timeseries?range=7d")).await;
    let body = body_json(res).await;
    assert_eq!(body["points"].as_array().unwrap().len(), 84);
    let total: f64 = body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["requests"].as_f64().unwrap())
        .sum();
    assert_eq!(total, 3.0);

    let res = send(&router, get("/api/v1/metrics/filter-options")).await;
    let body = body_json(res).await;
    assert_eq!(body["departments"], serde_json::json!(["sales", "support"]));

    // The API is strict: a bad value is a 400 naming it.
    for uri in [
        "/api/v1/metrics/home-kpis?range=2w",
        "/api/v1/metrics/home-kpis?from=yesterday",
    ] {
        let res = send(&router, get(uri)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert_envelope(&body_json(res).await, "INVALID_INPUT");
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_usage_page_splits_and_sorts_on_the_server(owner: PgPool) {
    let (router, token) = setup(&owner).await;
    let page = |uri: &str| request("GET", uri, "", &Auth::Cookie(token.clone()));
    let rows = |html: &str| -> Vec<String> {
        html.split("data-testid=\"usage-row\"")
            .skip(1)
            .map(|r| {
                let start = r.find("<td>").unwrap() + 4;
                r[start..start + r[start..].find('<').unwrap()].to_owned()
            })
            .collect()
    };
    let res = send(&router, page("/usage?by=agent")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert_eq!(
        rows(&html),
        ["support-bot", "sales-writer"],
        "most requests first"
    );
    assert!(html.contains("data-testid=\"stacked-chart\""));
    let html = body_text(send(&router, page("/usage?by=agent&sort=tokens")).await).await;
    assert_eq!(
        rows(&html),
        ["sales-writer", "support-bot"],
        "most tokens first"
    );
    let html = body_text(send(&router, page("/usage?by=department&dept=sales")).await).await;
    assert_eq!(rows(&html), ["sales"]);
    // A bad split falls back to departments instead of an error page.
    let html = body_text(send(&router, page("/usage?by=colour")).await).await;
    assert_eq!(rows(&html), ["support", "sales"]);

    let res = send(
        &router,
        request(
            "GET",
            "/api/v1/usage/breakdown?by=model&range=7d",
            "",
            &Auth::Bearer(token.clone()),
        ),
    )
    .await;
    let body = body_json(res).await;
    assert_eq!(body["rows"][0]["key"], "gpt-4o");
    assert_eq!(body["rows"][0]["requests"], 3);
    let res = send(
        &router,
        request(
            "GET",
            "/api/v1/usage/breakdown?by=colour",
            "",
            &Auth::Bearer(token),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn cost_and_performance_pages_render_filtered_on_the_server(owner: PgPool) {
    let (router, token) = setup(&owner).await;
    let page = |uri: &str| request("GET", uri, "", &Auth::Cookie(token.clone()));
    let api = |uri: &str| request("GET", uri, "", &Auth::Bearer(token.clone()));

    // The API first: the page must show what it says.
    let cost = body_json(send(&router, api("/api/v1/cost/breakdown?range=24h")).await).await;
    let total = cost["total_usd"].as_f64().unwrap();
    assert!(total > 0.0, "gpt-4o has a catalog price: {cost}");
    assert_eq!(cost["requests"], 3);
    assert_eq!(cost["by_department"][0]["key"], "sales", "costliest first");
    assert_eq!(cost["by_model"][0]["key"], "gpt-4o");
    assert!(cost["projection_method"]
        .as_str()
        .unwrap()
        .contains("last 7 complete days"));
    let support = body_json(send(&router, api("/api/v1/cost/breakdown?dept=support")).await).await;
    assert_eq!(support["requests"], 2);

    let html = body_text(send(&router, page("/cost?range=24h")).await).await;
    let usd = |v: f64| {
        if v >= 1.0 {
            format!("${v:.2}")
        } else {
            format!("${v:.4}")
        }
    };
    assert_eq!(card(&html, "cost-total"), usd(total));
    assert_eq!(card(&html, "cost-requests"), "3");
    assert!(
        html.contains("data-testid=\"stacked-chart\""),
        "chart on the server"
    );
    assert!(html.contains("data-testid=\"projection-method\""));
    assert!(html.contains("data-testid=\"cost-by-agent\""));
    let html = body_text(send(&router, page("/cost?dept=support")).await).await;
    assert_eq!(card(&html, "cost-requests"), "2");
    assert_eq!(
        card(&html, "cost-total"),
        usd(support["total_usd"].as_f64().unwrap())
    );
    // A bad filter: a notice and the default, never an error page.
    let res = send(&router, page("/cost?range=forever")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res).await.contains("Ignored range"));

    let perf = body_json(send(&router, api("/api/v1/performance/latency?range=24h")).await).await;
    assert_eq!(perf["overall"]["requests"], 3);
    assert_eq!(perf["overall"]["errors"], 1);
    let p99 = perf["overall"]["p99_ms"].as_f64().unwrap();
    assert!(
        (p99 - 1200.0).abs() <= 12.0,
        "p99 {p99} within 1 % of 1,200 ms"
    );
    assert_eq!(perf["slowest_agents"][0]["key"], "support-bot");
    let binned: i64 = perf["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(binned, 3);

    let html = body_text(send(&router, page("/performance?range=24h&dept=sales")).await).await;
    assert_eq!(card(&html, "perf-requests"), "1");
    assert_eq!(card(&html, "perf-error_rate"), "0.0%");
    assert!(html.contains("data-testid=\"latency-chart\""));
    assert!(html.contains("data-testid=\"bin-chart\""));
    assert!(html.contains("<title>Latency p50, p95 and p99 of requests, Last 24 hours</title>"));

    let activity = body_json(send(&router, api("/api/v1/activity?range=24h")).await).await;
    let kinds: Vec<&str> = activity["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "new_agent").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "new_model").count(), 1);
    for uri in [
        "/api/v1/cost/breakdown?range=2w",
        "/api/v1/performance/latency?from=soon",
        "/api/v1/activity?dept=%00",
    ] {
        let res = send(&router, api(uri)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert_envelope(&body_json(res).await, "INVALID_INPUT");
    }
}

/// Dashboard pages are cached whole per workspace, user, role and URL, and dropped when what
/// they show changes.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn rendered_pages_are_cached_per_user_and_url(owner: PgPool) {
    use server::page_cache::CACHE_HEADER;
    let (router, token) = setup(&owner).await;
    let get = |uri: &str, token: &str| request("GET", uri, "", &Auth::Cookie(token.to_owned()));
    let how = |res: &axum::http::Response<axum::body::Body>| {
        res.headers()
            .get(CACHE_HEADER)
            .map(|v| v.to_str().unwrap().to_owned())
    };

    let nonce = |res: &axum::http::Response<axum::body::Body>| {
        let csp = res.headers()[axum::http::header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        csp.split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_owned()
    };
    let first = send(&router, get("/", &token)).await;
    let (status, header, first_nonce) = (first.status(), how(&first), nonce(&first));
    let first = body_text(first).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(header.as_deref(), Some("miss"));
    let again = send(&router, get("/", &token)).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(how(&again).as_deref(), Some("hit"));
    assert!(again.headers()[axum::http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let again_nonce = nonce(&again);
    assert_ne!(again_nonce, first_nonce, "a fresh nonce for each answer");
    assert_eq!(
        body_text(again).await,
        first.replace(&first_nonce, &again_nonce),
        "the same page"
    );
    assert_eq!(kpi(&first, "requests"), "3");

    // Another URL is another page.
    let filtered = send(&router, get("/?dept=sales", &token)).await;
    let (status, header) = (filtered.status(), how(&filtered));
    let filtered = body_text(filtered).await;
    // Once in CI this page came back without the header after ~30 s: say what it was.
    let head: String = filtered.chars().take(2000).collect();
    assert_eq!(header.as_deref(), Some("miss"), "{status}: {head}");
    assert_eq!(kpi(&filtered, "requests"), "1");

    // Another user, in another workspace, never gets Ann's page.
    let (_, other) = app_as_server(&owner).await;
    let bob = argus_domain::session::register(
        &other,
        "bob@example.com",
        "Bob",
        "a long passphrase",
        "Bobs",
    )
    .await
    .unwrap();
    let theirs = send(&router, get("/", &bob.token)).await;
    assert_eq!(how(&theirs).as_deref(), Some("miss"));
    let theirs = body_text(theirs).await;
    assert_eq!(kpi(&theirs, "requests"), "0");
    assert!(theirs.contains("Bobs") && !theirs.contains("Acme"));

    // Renaming the workspace drops its pages.
    let renamed = send(
        &router,
        request(
            "POST",
            "/api/v1/workspace/update",
            "name=Acme%20Two&retention_days=30",
            &Auth::Cookie(token.clone()),
        ),
    )
    .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let after = send(&router, get("/", &token)).await;
    assert_eq!(how(&after).as_deref(), Some("miss"));
    assert!(body_text(after).await.contains("Acme Two"));

    // Adding Bob to Ann's workspace drops his pages elsewhere: his switcher lists it now.
    let cached = send(&router, get("/", &bob.token)).await;
    assert_eq!(how(&cached).as_deref(), Some("hit"));
    let added = send(
        &router,
        request(
            "POST",
            "/api/v1/members/add",
            "email=bob%40example.com&role=viewer",
            &Auth::Cookie(token.clone()),
        ),
    )
    .await;
    assert_eq!(added.status(), StatusCode::OK);
    let invitation = body_json(added).await["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = send(
        &router,
        request(
            "POST",
            "/api/v1/invitations/accept",
            &format!("id={invitation}"),
            &Auth::Cookie(bob.token.clone()),
        ),
    )
    .await;
    assert!(
        accepted.status().is_success() || accepted.status().is_redirection(),
        "{}",
        accepted.status()
    );
    let bobs = send(&router, get("/", &bob.token)).await;
    // Not cached means not a plain 200 page: say which (CI once saw `None` here under load).
    assert_eq!(
        (
            bobs.status(),
            bobs.headers().contains_key(header::SET_COOKIE)
        ),
        (StatusCode::OK, false),
        "Bob's home page"
    );
    assert_eq!(how(&bobs).as_deref(), Some("miss"));
    assert!(body_text(bobs).await.contains("Acme Two"));

    // Signed out: the log-in redirect, never a cached page.
    let anonymous = send(&router, request("GET", "/", "", &Auth::None)).await;
    assert!(anonymous.status().is_redirection());
    assert_eq!(how(&anonymous), None);
    // Pages outside the dashboard are rendered every time.
    let settings = send(&router, get("/settings", &token)).await;
    assert_eq!(how(&settings), None);
}
