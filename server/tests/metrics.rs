//! Prometheus metrics (issue 20, point 6), scraped and parsed as Prometheus would: requests by
//! route and status, ingest by outcome and reason, state read at the scrape, and who may scrape.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_domain::apikeys::Scope;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::*;
use secrecy::SecretString;
use sqlx::PgPool;

const TOKEN: &str = "metrics-token-0123456789";

/// One sample: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses Prometheus's text format strictly: every line a `# HELP`/`# TYPE` comment (or
/// OpenMetrics' `# EOF`) or a sample of a family declared above it, with valid names, quoted
/// label values and a number.
fn parse(text: &str) -> Vec<Sample> {
    let valid_name = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut families: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let kind = words.next().unwrap();
            let name = words.next().expect("a family name");
            assert!(matches!(kind, "HELP" | "TYPE" | "UNIT"), "{line}");
            assert!(valid_name(name), "{line}");
            if kind == "TYPE" {
                let t = words.next().expect("a type");
                assert!(
                    [
                        "counter",
                        "gauge",
                        "histogram",
                        "info",
                        "summary",
                        "untyped",
                        "unknown"
                    ]
                    .contains(&t),
                    "{line}"
                );
                families.push(name.to_owned());
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = BTreeMap::new();
                let mut chars = body.chars().peekable();
                while chars.peek().is_some() {
                    let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    assert_eq!(chars.next(), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().expect("a closed label value") {
                            '\\' => value.push(chars.next().unwrap()),
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    assert!(valid_name(&key), "{line}");
                    labels.insert(key, value);
                    if chars.peek() == Some(&',') {
                        chars.next();
                    }
                }
                (name.to_owned(), labels)
            }
        };
        assert!(valid_name(&name), "{line}");
        assert!(
            families.iter().any(|f| name.starts_with(f.as_str())),
            "{name} has no TYPE above it"
        );
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// The value of the sample `name` with (at least) `labels`; `None` when there is none.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

async fn scrape(router: &Router, req: Request<Body>) -> (String, Vec<Sample>) {
    let res = send(router, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let text = body_text(res).await;
    let samples = parse(&text);
    (content_type, samples)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../domain/tests/fixtures/otlp")
        .join(name);
    std::fs::read(path).unwrap()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn requests_ingest_and_state_are_scraped_in_prometheus_format(owner: PgPool) {
    let (router, services) = app_as_server(&owner).await;
    let (_, key) = ann_with_key(&services, Scope::Ingest).await;
    let export = |body: Vec<u8>, content_type: &str| {
        Request::post("/v1/traces")
            .header(header::CONTENT_TYPE, content_type)
            .header("x-api-key", key.as_str())
            .body(Body::from(body))
            .unwrap()
    };

    assert_eq!(
        send(&router, get_req("/healthz")).await.status(),
        StatusCode::OK
    );
    // Four spans, sent twice: stored, then duplicates.
    let pb = fixture("agent_trace_current_semconv.pb");
    for _ in 0..2 {
        let res = send(&router, export(pb.clone(), "application/x-protobuf")).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // One span of the legacy fixture made invalid: a partial success.
    let json = String::from_utf8(fixture("legacy_semconv_names.json")).unwrap();
    let (head, tail) = json.split_once("\"gen_ai.usage.prompt_tokens\"").unwrap();
    let body = format!(
        "{head}\"gen_ai.usage.prompt_tokens\"{}",
        tail.replacen("\"3000\"", "\"-3000\"", 1)
    );
    let res = send(&router, export(body.into_bytes(), "application/json")).await;
    assert_eq!(res.status(), StatusCode::OK);
    // No route: counted under `unmatched`, never under the path asked for.
    let res = send(&router, get_req("/api/v1/no-such-thing/123")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = send(&router, get_req("/api/v1/traces/0123456789abcdef")).await;
    let refused = res.status().as_u16().to_string();
    assert!(res.status().is_client_error());

    // The metrics listener's router: no credentials asked.
    let (content_type, samples) = scrape(
        &server::metrics::router(services.clone()),
        get_req("/metrics"),
    )
    .await;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let requests = |route: &str, status: &str| {
        value(
            &samples,
            "argus_http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("/healthz", "200"), Some(1.0));
    assert_eq!(requests("/v1/traces", "200"), Some(3.0));
    assert_eq!(requests("unmatched", "404"), Some(1.0));
    assert_eq!(requests("/api/v1/traces/{id}", &refused), Some(1.0));
    assert!(
        samples.iter().all(|s| s
            .labels
            .get("route")
            .is_none_or(|r| !r.contains("no-such-thing") && !r.contains("0123456789abcdef"))),
        "routes are patterns, never the paths asked for"
    );
    assert_eq!(
        value(
            &samples,
            "argus_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/v1/traces")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &samples,
            "argus_http_request_duration_seconds_bucket",
            &[("route", "/v1/traces"), ("le", "+Inf")]
        ),
        Some(3.0)
    );
    let spans = |outcome: &str| {
        value(
            &samples,
            "argus_ingested_total",
            &[("signal", "spans"), ("outcome", outcome)],
        )
    };
    assert!(
        spans("stored").unwrap() >= 4.0,
        "the fixture's four and the legacy ones"
    );
    assert_eq!(spans("duplicate"), Some(4.0));
    assert_eq!(
        value(
            &samples,
            "argus_ingest_rejected_total",
            &[("signal", "spans"), ("reason", "invalid")]
        ),
        Some(1.0)
    );
    // State read at the scrape.
    let max = value(&samples, "argus_db_pool_max_connections", &[]).unwrap();
    let idle = value(&samples, "argus_db_pool_connections", &[("state", "idle")]).unwrap();
    let in_use = value(
        &samples,
        "argus_db_pool_connections",
        &[("state", "in_use")],
    )
    .unwrap();
    assert!(
        max >= 1.0 && idle + in_use <= max,
        "{idle} + {in_use} <= {max}"
    );
    assert!(value(&samples, "argus_db_pool_waiting", &[]).unwrap() >= 0.0);
    assert_eq!(value(&samples, "argus_ingest_slots_in_use", &[]), Some(0.0));
    assert!(value(&samples, "argus_ingest_slots_max", &[]).unwrap() >= 1.0);
    for queue in [
        "evaluations",
        "evaluation_backfills",
        "repricing",
        "trace_deletions",
        "notifications",
    ] {
        assert_eq!(
            value(&samples, "argus_backlog_items", &[("queue", queue)]),
            Some(0.0),
            "{queue}"
        );
        assert_eq!(
            value(
                &samples,
                "argus_backlog_oldest_age_seconds",
                &[("queue", queue)]
            ),
            Some(0.0)
        );
    }
    assert!(
        value(
            &samples,
            "argus_cache_requests_total",
            &[("result", "miss")]
        )
        .is_some(),
        "ingest read the workspace's settings through the cache"
    );
    assert_eq!(
        value(
            &samples,
            "argus_build_info",
            &[("version", server::VERSION)]
        ),
        Some(1.0)
    );

    // OpenMetrics, when the scraper asks for it.
    let req = Request::get("/metrics")
        .header(
            header::ACCEPT,
            "application/openmetrics-text; version=1.0.0",
        )
        .body(Body::empty())
        .unwrap();
    let res = send(&server::metrics::router(services.clone()), req).await;
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = body_text(res).await;
    assert!(text.ends_with("# EOF\n"), "{text}");
    parse(&text);

    // The listener serves nothing else.
    let res = send(&server::metrics::router(services), get_req("/")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn metrics_on_the_main_address_need_the_token(owner: PgPool) {
    let scrape_with = |auth: Option<&str>| {
        let mut req = Request::get("/metrics");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        req.body(Body::empty()).unwrap()
    };
    // Without a token set, there is no such route.
    let plain = app(owner.clone());
    let res = send(&plain, scrape_with(None)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_envelope(&body_json(res).await, "RESOURCE_NOT_FOUND");

    let mut st = state(owner, default_gateway());
    st.metrics_token = Some(Arc::new(SecretString::from(TOKEN.to_owned())));
    let router = server::router::build(st);
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some("Basic bWV0cmljczp4"),
        Some("Bearer metrics-token-012345678"),
    ] {
        let res = send(&router, scrape_with(auth)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(res.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_envelope(&body_json(res).await, "INVALID_CREDENTIALS");
    }
    let (_, samples) = scrape(&router, scrape_with(Some(&format!("Bearer {TOKEN}")))).await;
    assert_eq!(
        value(
            &samples,
            "argus_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        Some(4.0),
        "the refused scrapes were counted"
    );
}
