//! Annotation queues on the Evaluations page: each with its progress and how its reviewers
//! agree, a link to work it, and for admins the form to define one from the trace list's
//! filters.

use crate::state::codec::resource;
use argus_types::{Agreement, AnnotationQueue, Role};
use leptos::prelude::*;

use crate::api::queues::{list_queues, CreateQueue, DeleteQueue};
use crate::components::forms::{ActionError, Submit};
use crate::components::page::LoadError;
use crate::state::session::my_role;

#[component]
pub fn AnnotationQueues() -> impl IntoView {
    let create = ServerAction::<CreateQueue>::new();
    let delete = ServerAction::<DeleteQueue>::new();
    let list = resource(
        move || (create.version().get(), delete.version().get()),
        |_| list_queues(),
    );
    let role = my_role();
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    view! {
        <section class="card" aria-label="Annotation queues" data-testid="annotation-queues">
            <h2>"Annotation queues"</h2>
            <p class="muted">
                "A queue is a set of traces picked by the trace list's filters for people to score against chosen configs. "
                "Reviewers take the next item, score or skip it; where two reviewers scored the same item, the queue shows how they agree."
            </p>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(items) => view! { <QueueTable items delete admin=admin() /> }.into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <ActionError action=delete />
            <Transition>
                {move || admin().then(|| view! { <QueueForm create /> })}
            </Transition>
        </section>
    }
}

/// `helpful: κ 0.62 (8 pairs)`, `score: ±0.12 (5 pairs)`, or `tone: no pairs yet`.
pub fn agreement_text(a: &Agreement) -> String {
    if a.pairs == 0 {
        return format!("{}: no item scored twice yet", a.name);
    }
    let measure = match (a.kappa, a.mean_abs_diff, a.observed) {
        (Some(k), _, _) => format!("κ {k:.2}"),
        (None, Some(d), _) => format!("mean difference {d:.3}"),
        (None, None, Some(o)) => format!("{:.0}% agree", o * 100.0),
        _ => "—".into(),
    };
    format!("{}: {measure} ({} pairs)", a.name, a.pairs)
}

#[component]
fn QueueTable(
    items: Vec<AnnotationQueue>,
    delete: ServerAction<DeleteQueue>,
    admin: bool,
) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="empty" data-testid="queues-empty">"No annotation queues yet."</p> }
            .into_any();
    }
    let rows = items
        .into_iter()
        .map(|q| {
            let p = &q.progress;
            let progress = format!(
                "{} of {} reviewed · {} twice · you: {} done, {} skipped",
                p.reviewed, p.items, p.reviewed_twice, p.mine_done, p.mine_skipped
            );
            let agreement = q
                .agreement
                .iter()
                .map(|a| view! { <li>{agreement_text(a)}</li> })
                .collect_view();
            let href = format!("/evaluations/queues/{}", q.id);
            let id = q.id.to_string();
            let controls = admin.then(|| view! {
                <ActionForm action=delete>
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="button button-danger button-small" data-testid="queue-delete">"Delete"</button>
                </ActionForm>
            });
            view! {
                <tr data-testid="queue-row">
                    <td><strong>{q.name.clone()}</strong>
                        {q.description.clone().map(|d| view! { <br /><span class="muted">{d}</span> })}
                    </td>
                    <td>{q.config_names.join(", ")}<br /><span class="muted">{if q.filter.is_empty() { "every trace".to_owned() } else { q.filter.clone() }}</span></td>
                    <td data-testid="queue-progress">{progress}</td>
                    <td><ul class="plain" data-testid="queue-agreement">{agreement}</ul></td>
                    <td class="nowrap">
                        <a class="button button-small" href=href data-testid="queue-review">"Review"</a>
                        {controls}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="table" data-testid="queues-table">
                <thead><tr>
                    <th scope="col">"Queue"</th><th scope="col">"Scores · traces"</th><th scope="col">"Progress"</th>
                    <th scope="col">"Agreement"</th><th scope="col"></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn QueueForm(create: ServerAction<CreateQueue>) -> impl IntoView {
    view! {
        <h3>"New queue"</h3>
        <ActionForm action=create attr:class="form form-inline" attr:data-testid="queue-form">
            <label>"Name" <input type="text" name="name" required maxlength="200" placeholder="e.g. weekly-review" data-testid="queue-name" /></label>
            <label>"Score configs (comma-separated)" <input type="text" name="configs" required placeholder="helpfulness, tone" data-testid="queue-configs" /></label>
            <label>"Traces from"
                <select name="range">
                    <option value="24h">"last 24 hours"</option>
                    <option value="7d" selected>"last 7 days"</option>
                    <option value="30d">"last 30 days"</option>
                </select>
            </label>
            <label>"Agent" <input type="text" name="agent" /></label>
            <label>"Errors"
                <select name="status"><option value="">"any"</option><option value="error">"errors only"</option><option value="ok">"no errors"</option></select>
            </label>
            <label>"Sampling (0–1)" <input type="number" name="sampling" min="0.001" max="1" step="any" value="1" /></label>
            <label>"Description" <input type="text" name="description" maxlength="2000" /></label>
            <Submit action=create label="Create queue" busy="Creating…" testid="queue-submit" />
        </ActionForm>
        <ActionError action=create />
    }
}
