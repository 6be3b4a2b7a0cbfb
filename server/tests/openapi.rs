//! The OpenAPI document: served, OpenAPI 3.1, every route documented (a route without an
//! entry fails here), every reference resolved, parameters read off the handlers' own types.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::*;
use serde_json::Value;
use sqlx::PgPool;

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_route_has_a_document_entry() {
    let documented: BTreeSet<(String, String)> = server::openapi::documented()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p))
        .collect();
    let mut routes: Vec<(String, String)> = server::router::ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    routes.extend(
        leptos::server_fn::axum::server_fn_paths().map(|(p, m)| (m.to_string(), p.to_owned())),
    );
    assert!(
        routes.len() > 50,
        "the registry is linked: {}",
        routes.len()
    );
    let missing: Vec<_> = routes.iter().filter(|r| !documented.contains(r)).collect();
    assert!(
        missing.is_empty(),
        "routes without a document entry: {missing:?}"
    );
    // And nothing documented that does not exist.
    let extra: Vec<_> = documented.iter().filter(|d| !routes.contains(d)).collect();
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
}

/// Who may call each operation, as documented, is what the access matrix (which the
/// cross-tenant test walks) says.
#[test]
fn documented_access_is_the_matrix() {
    use app::api::{Needs, TENANT_ENDPOINTS};
    use server::openapi::Access;
    let documented = server::openapi::documented_access();
    for e in TENANT_ENDPOINTS {
        let path = if e.in_path {
            format!("{}{{id}}", e.path)
        } else {
            e.path.to_owned()
        };
        let (_, _, access) = documented
            .iter()
            .find(|(m, p, _)| *m == e.method && *p == path)
            .unwrap_or_else(|| panic!("{} {path} is not documented", e.method));
        let expected = match e.needs {
            Needs::Read(role) | Needs::Write(role) => Access::Member(role),
            Needs::Ingest => Access::Ingest,
            Needs::Score => Access::Score,
            Needs::Guardrail => Access::Guardrail,
        };
        // Switching or creating a workspace is a user's act, not a key's.
        let user_act = matches!(
            path.as_str(),
            "/api/v1/auth/switch" | "/api/v1/workspaces/create"
        ) || app::api::USER_ACTS.contains(&path.as_str());
        assert!(
            *access == expected || (user_act && *access == Access::User),
            "{} {path}: documented {access:?}, the matrix says {expected:?}",
            e.method
        );
    }
}

#[test]
fn parameters_come_from_the_argument_types() {
    use server::openapi::fields_of;
    let f = fields_of::<app::api::explorer::GetTrace>(&[]);
    assert_eq!(
        f.fields,
        vec![
            ("id".to_owned(), "string", true),
            ("span".to_owned(), "string", false),
            ("spans_from".to_owned(), "integer", false)
        ]
    );
    let f = fields_of::<app::api::workspace::UpdateWorkspace>(&[]);
    assert_eq!(
        f.fields,
        vec![
            ("name".to_owned(), "string", true),
            ("retention_days".to_owned(), "integer", true)
        ]
    );
    let f = fields_of::<app::api::keys::RevokeApiKey>(&[]);
    assert_eq!(f.fields, vec![("id".to_owned(), "uuid", true)]);
    // A flattened struct hides its own fields from serde's declaration: named, then probed.
    let f = fields_of::<app::api::metrics::GetHome>(&["fallback"]);
    assert_eq!(f.fields, vec![("fallback".to_owned(), "boolean", false)]);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_document_is_served_whole(owner: PgPool) {
    let router = app(owner);
    let res = send(&router, get_req("/api/v1/openapi.json")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc = body_json(res).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorEnvelope",
        "TracePage",
        "CursorMeta",
        "NativeBatch",
        "Home",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(schemas.contains_key(name), "unresolved {r}");
    }
    let paths = doc["paths"].as_object().unwrap();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let at = format!("{method} {path}");
            assert!(op["summary"].is_string(), "{at}");
            assert!(op["security"].is_array(), "{at}");
            assert!(op["responses"]["4XX"].is_object(), "{at}");
            if path.contains('{') {
                assert!(
                    op["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["in"] == "path"),
                    "{at}"
                );
            }
        }
    }
    // The filters are documented where they are read; the old paths are marked.
    let home: Vec<&str> = doc["paths"]["/api/v1/metrics/home"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for key in argus_types::FILTER_KEYS {
        assert!(home.contains(&key), "{key}: {home:?}");
    }
    assert_eq!(
        doc["paths"]["/api/v1/traces/get"]["get"]["deprecated"],
        true
    );
    let body = &doc["paths"]["/api/v1/agents/update"]["post"]["requestBody"]["content"];
    assert!(body["application/json"].is_object());
    assert_eq!(
        body["application/json"]["schema"]["required"],
        serde_json::json!(["id", "department"])
    );
}

/// The reference page lists every operation of the document, to anyone.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_reference_page_lists_every_operation(owner: PgPool) {
    let router = app(owner);
    let res = send(&router, get_req("/docs/api")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    let rows = html.matches("data-testid=\"api-operation\"").count();
    assert_eq!(rows, server::openapi::documented().len());
    assert!(html.contains("/api/v1/traces/{id}"));
    assert!(html.contains("data-testid=\"openapi-json\""));
}
