//! The dashboard over HTTP: the query API with a bearer token, and the home page rendered on
//! the server from a pasted URL (what a browser without JavaScript, or curl, gets).

mod common;

use argus_domain::apikeys::{self, Scope};
use argus_domain::tenancy::WorkspaceId;
use argus_domain::{access, ingest, session};
use axum::http::StatusCode;
use common::*;
use secrecy::ExposeSecret;
use sqlx::PgPool;

/// A workspace with three traces now: two of support (one failed), one of sales.
async fn setup(owner: &PgPool) -> (axum::Router, String) {
    let (router, s) = app_as_server(owner).await;
    let ann = session::sign_up(&s, "ann@example.com", "Ann", "a long passphrase", "Acme")
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
    let out = ingest::export_native(&s, &a, batch.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(out.accepted, 3);
    (router, ann.token)
}

fn kpi<'a>(html: &'a str, key: &str) -> &'a str {
    let at = html
        .find(&format!("data-testid=\"kpi-{key}\""))
        .unwrap_or_else(|| panic!("no {key} card"));
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
