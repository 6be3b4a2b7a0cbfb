//! `GET /api/v1/docs`: the public API's operations as the reference page (`/docs/api`) lists
//! them, read from the OpenAPI document the server generates (`/api/v1/openapi.json`), so the
//! page and the document cannot disagree. Public.

use argus_types::ApiOperation;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

/// The generated OpenAPI document, which the server puts in every request's context.
#[cfg(feature = "ssr")]
#[derive(Clone, Copy, Debug)]
pub struct ApiDocument(pub &'static serde_json::Value);

/// The operations of an OpenAPI document, in its tags' order, then by path.
#[cfg(feature = "ssr")]
pub fn operations(doc: &serde_json::Value) -> Vec<ApiOperation> {
    use serde_json::Value;
    let names = |list: Option<&Value>, required: &[&str]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(Value::Object(props)) = list {
            for name in props.keys() {
                let star = if required.contains(&name.as_str()) {
                    "*"
                } else {
                    ""
                };
                out.push(format!("{name}{star}"));
            }
        }
        out
    };
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let parameters = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| {
                            let name = p["name"].as_str()?;
                            let star = if p["required"] == true { "*" } else { "" };
                            Some(format!("{name}{star}"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body_schema = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|c| c["schema"].clone())
                .unwrap_or(Value::Null);
            let required: Vec<&str> = body_schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut body = names(body_schema.get("properties"), &required);
            if let Some(r) = body_schema["$ref"].as_str() {
                body.push(r.rsplit('/').next().unwrap_or(r).to_owned());
            }
            out.push(ApiOperation {
                method: method.to_uppercase(),
                path: path.clone(),
                tag: op["tags"][0].as_str().unwrap_or("other").to_owned(),
                summary: op["summary"].as_str().unwrap_or_default().to_owned(),
                description: op["description"].as_str().unwrap_or_default().to_owned(),
                deprecated: op["deprecated"] == true,
                parameters,
                body,
            });
        }
    }
    let rank = |tag: &str| tags.iter().position(|t| *t == tag).unwrap_or(usize::MAX);
    out.sort_by(|a, b| (rank(&a.tag), &a.path, &a.method).cmp(&(rank(&b.tag), &b.path, &b.method)));
    out
}

/// `GET /api/v1/docs`: the operations of `/api/v1/openapi.json`, for the reference page.
#[server(prefix = "/api/v1", endpoint = "docs", input = GetUrl)]
pub async fn get_api_docs() -> Result<Vec<ApiOperation>, AppError> {
    let ApiDocument(doc) = expect_context::<ApiDocument>();
    Ok(operations(doc))
}
