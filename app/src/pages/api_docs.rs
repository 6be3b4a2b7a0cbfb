//! `/docs/api`: the public API's reference — every operation of the generated OpenAPI
//! document grouped by tag, with who may call it, its parameters and body fields. Public.

use crate::state::codec::resource;
use argus_types::ApiOperation;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::docs::get_api_docs;
use crate::components::page::LoadError;

#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let ops = resource(|| (), |_| get_api_docs());
    view! {
        <Title text="API reference · Argus" />
        <div class="page-header">
            <div>
                <h1>"API reference"</h1>
                <p class="muted">
                    "Every endpoint of Argus, generated from the types the server uses. "
                    "Authenticate with a session, a bearer token from "
                    <code>"POST /api/v1/auth/token"</code> ", or an API key ("
                    <code>"X-API-Key"</code> "). Errors are "
                    <code>"{\"error\": {\"code\", \"message\", \"details\", \"timestamp\", \"request_id\"}}"</code> ". "
                    "Parameters marked * are required; POST bodies are forms or JSON objects."
                </p>
            </div>
            <div class="page-actions">
                <a class="button button-secondary button-small" href="/api/v1/openapi.json"
                    data-testid="openapi-json" rel="external">"OpenAPI 3.1 (JSON)"</a>
            </div>
        </div>
        <Transition fallback=|| view! { <div class="card skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match ops.await {
                    Err(e) => view! { <LoadError error=e /> }.into_any(),
                    Ok(ops) => view! { <Operations ops /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Operations(ops: Vec<ApiOperation>) -> impl IntoView {
    let mut groups: Vec<(String, Vec<ApiOperation>)> = Vec::new();
    for op in ops {
        match groups.last_mut() {
            Some((tag, list)) if *tag == op.tag => list.push(op),
            _ => groups.push((op.tag.clone(), vec![op])),
        }
    }
    groups
        .into_iter()
        .map(|(tag, ops)| {
            view! {
                <section class="card" data-testid=format!("api-tag-{tag}")>
                    <h2>{tag.clone()}</h2>
                    <div class="table-scroll" tabindex="0">
                        <table class="table">
                            <thead><tr><th>"Endpoint"</th><th>"What it does"</th><th>"Parameters"</th></tr></thead>
                            <tbody>
                                {ops.into_iter().map(|op| view! {
                                    <tr data-testid="api-operation" class:muted=op.deprecated>
                                        <td>
                                            <span class="mono">{op.method.clone()}</span>" "
                                            <code>{op.path.clone()}</code>
                                            {op.deprecated.then(|| view! { <span class="badge">" deprecated"</span> })}
                                        </td>
                                        <td>
                                            <strong>{op.summary.clone()}</strong>
                                            <p class="muted">{op.description.clone()}</p>
                                        </td>
                                        <td class="mono">
                                            {(!op.parameters.is_empty()).then(|| view! { <p>{op.parameters.join(", ")}</p> })}
                                            {(!op.body.is_empty()).then(|| view! { <p>"body: " {op.body.join(", ")}</p> })}
                                        </td>
                                    </tr>
                                }.into_any()).collect_view()}
                            </tbody>
                        </table>
                    </div>
                </section>
            }
        })
        .collect_view()
}
