//! Datasets on the Evaluations page (the list, and for members the form to start one), and the
//! "Add to dataset" control of the trace page and the trace list.

use crate::state::codec::resource;
use argus_types::{Dataset, ItemsAdded, Role};
use leptos::prelude::*;

use crate::api::datasets::{list_datasets, AddTracesToDataset, CreateDataset};
use crate::components::forms::{ActionError, Submit};
use crate::components::page::LoadError;
use crate::state::prefs::when;
use crate::state::session::{my_role, role_now, use_session};

#[component]
pub fn Datasets() -> impl IntoView {
    let create = ServerAction::<CreateDataset>::new();
    let list = resource(move || create.version().get(), |_| list_datasets());
    let role = my_role();
    let member = move || role.get().is_some_and(|r| r >= Role::Member);
    view! {
        <section class="card" aria-label="Datasets" data-testid="datasets">
            <h2>"Datasets and experiments"</h2>
            <p class="muted">
                "A dataset is a list of inputs with the answers expected, made from traces or uploaded as JSONL. "
                "Run your agent over it with the span attribute " <code>"dataset.item_id"</code>
                " (and " <code>"dataset.run_name"</code> "), then compare two runs item by item."
            </p>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(items) => view! { <DatasetTable items /> }.into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <Transition>
                {move || member().then(|| view! {
                    <h3>"New dataset"</h3>
                    <ActionForm action=create attr:class="form form-inline" attr:data-testid="dataset-form">
                        <label>"Name" <input type="text" name="name" required maxlength="200" placeholder="e.g. support-regression" data-testid="dataset-name" /></label>
                        <label>"Description" <input type="text" name="description" maxlength="2000" /></label>
                        <Submit action=create label="Create dataset" busy="Creating…" testid="dataset-submit" />
                    </ActionForm>
                    <ActionError action=create />
                })}
            </Transition>
        </section>
    }
}

#[component]
fn DatasetTable(items: Vec<Dataset>) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="empty" data-testid="datasets-empty">"No datasets yet."</p> }
            .into_any();
    }
    let rows = items
        .into_iter()
        .map(|d| {
            let href = format!("/evaluations/datasets/{}", d.id);
            view! {
                <tr data-testid="dataset-row">
                    <td><a href=href><strong>{d.name.clone()}</strong></a>
                        {d.description.clone().map(|t| view! { <br /><span class="muted">{t}</span> })}
                    </td>
                    <td class="num">{d.items}</td>
                    <td class="num">{d.runs}</td>
                    <td class="nowrap">{when(d.created_at, "%Y-%m-%d")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="table" data-testid="datasets-table">
                <thead><tr>
                    <th scope="col">"Dataset"</th><th scope="col" class="num">"Items"</th>
                    <th scope="col" class="num">"Runs"</th><th scope="col">"Created"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// "Added 3 items; 1 was already there; 1 trace was not found."
pub fn added_text(a: &ItemsAdded) -> String {
    let mut parts = vec![format!(
        "Added {} item{}",
        a.created,
        if a.created == 1 { "" } else { "s" }
    )];
    if a.duplicates > 0 {
        parts.push(format!("{} already there", a.duplicates));
    }
    if !a.errors.is_empty() {
        parts.push(format!(
            "{} refused: {}",
            a.errors.len(),
            a.errors
                .iter()
                .take(5)
                .map(|e| format!("line {}: {}", e.line, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    format!("{}.", parts.join("; "))
}

/// For members: add one trace (`trace_id`) or the traces the list's filters match (`keep`,
/// the list's query) to a dataset of their choice.
#[component]
pub fn AddToDataset(
    #[prop(optional)] trace_id: Option<String>,
    #[prop(optional)] keep: Vec<(String, String)>,
) -> impl IntoView {
    let add = ServerAction::<AddTracesToDataset>::new();
    let session = use_session();
    let list = resource(|| (), |_| list_datasets());
    let one = trace_id.is_some();
    let done = move || {
        add.value().get().and_then(|r| r.ok()).map(|a| {
            view! { <p class="callout" role="status" data-testid="dataset-added">{added_text(&a)}</p> }
        })
    };
    view! {
        <Transition>
            {move || {
                let trace_id = trace_id.clone();
                let keep = keep.clone();
                Suspend::new(async move {
                    let member = role_now(session).await.is_some_and(|r| r >= Role::Member);
                    let datasets = list.await.unwrap_or_default();
                    member.then(|| view! {
                        <details class="card" data-testid="add-to-dataset">
                            <summary>{if one { "Add to dataset…" } else { "Add these traces to a dataset…" }}</summary>
                            {if datasets.is_empty() {
                                view! { <p class="empty">"No datasets yet: create one on the " <a href="/evaluations">"Evaluations"</a> " page."</p> }.into_any()
                            } else {
                                view! {
                                    <ActionForm action=add attr:class="form-inline">
                                        {trace_id.clone().map(|t| view! { <input type="hidden" name="trace_id" value=t /> })}
                                        {keep.into_iter().map(|(k, v)| view! { <input type="hidden" name=k value=v /> }).collect_view()}
                                        <label>"Dataset"
                                            <select name="id" data-testid="add-to-dataset-select">
                                                {datasets.into_iter().map(|d| view! { <option value=d.id.to_string()>{d.name}</option> }).collect_view()}
                                            </select>
                                        </label>
                                        {(!one).then(|| view! {
                                            <label>"Newest" <input type="number" name="max" min="1" max="1000" value="100" /></label>
                                        })}
                                        <Submit action=add label="Add" busy="Adding…" testid="add-to-dataset-submit" />
                                    </ActionForm>
                                }.into_any()
                            }}
                            {done}
                            <ActionError action=add />
                        </details>
                    })
                })
            }}
        </Transition>
    }
}
