//! The online evaluators on the Evaluations page: each with its filter, rule and what it has
//! done today (nothing waits invisibly), and for admins the form to define one.

use argus_types::{Evaluator, Role};
use leptos::prelude::*;

use crate::api::evals::{
    list_evaluators, CreateEvaluator, DeleteEvaluator, PauseEvaluator, ResumeEvaluator,
};
use crate::components::forms::{ActionError, Submit};
use crate::components::page::LoadError;
use crate::state::session::my_role;

#[component]
pub fn Evaluators() -> impl IntoView {
    let create = ServerAction::<CreateEvaluator>::new();
    let pause = ServerAction::<PauseEvaluator>::new();
    let resume = ServerAction::<ResumeEvaluator>::new();
    let delete = ServerAction::<DeleteEvaluator>::new();
    let list = Resource::new(
        move || {
            (
                create.version().get(),
                pause.version().get(),
                resume.version().get(),
                delete.version().get(),
            )
        },
        |_| list_evaluators(),
    );
    let role = my_role();
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    let actions = Actions {
        pause,
        resume,
        delete,
    };
    view! {
        <section class="card" aria-label="Online evaluators" data-testid="evaluators">
            <h2>"Online evaluators"</h2>
            <p class="muted">
                "An evaluator judges the spans (or whole traces) that match its filter as they arrive, "
                "and writes a true/false score. Its work runs from a queue in the database: a restart loses nothing."
            </p>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(items) => view! { <EvaluatorTable items actions admin=admin() /> }.into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <ActionError action=pause />
            <ActionError action=resume />
            <ActionError action=delete />
            <Transition>
                {move || admin().then(|| view! { <EvaluatorForm create /> })}
            </Transition>
        </section>
    }
}

#[derive(Clone, Copy)]
struct Actions {
    pause: ServerAction<PauseEvaluator>,
    resume: ServerAction<ResumeEvaluator>,
    delete: ServerAction<DeleteEvaluator>,
}

#[component]
fn EvaluatorTable(items: Vec<Evaluator>, actions: Actions, admin: bool) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="empty" data-testid="evaluators-empty">"No evaluators yet."</p> }
            .into_any();
    }
    let rows = items
        .into_iter()
        .map(|e| {
            let id = e.id.to_string();
            let active = e.status == "active";
            let state = if active {
                "active".to_owned()
            } else {
                format!("paused{}", e.paused_reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())
            };
            let sampling = format!("{}%", (e.sampling * 1000.0).round() / 10.0);
            let errors = e
                .stats
                .last_errors
                .iter()
                .map(|(at, why)| view! { <li><span class="muted">{at.format("%H:%M:%S").to_string()}</span> " " {why.clone()}</li> })
                .collect_view();
            let controls = admin.then(|| {
                let (toggle_id, delete_id) = (id.clone(), id.clone());
                let toggle = if active {
                    view! {
                        <ActionForm action=actions.pause>
                            <input type="hidden" name="id" value=toggle_id />
                            <button type="submit" class="button button-secondary button-small" data-testid="evaluator-pause">"Pause"</button>
                        </ActionForm>
                    }
                    .into_any()
                } else {
                    view! {
                        <ActionForm action=actions.resume>
                            <input type="hidden" name="id" value=toggle_id />
                            <button type="submit" class="button button-secondary button-small" data-testid="evaluator-resume">"Resume"</button>
                        </ActionForm>
                    }
                    .into_any()
                };
                view! {
                    {toggle}
                    <ActionForm action=actions.delete>
                        <input type="hidden" name="id" value=delete_id />
                        <button type="submit" class="button button-danger button-small" data-testid="evaluator-delete">"Delete"</button>
                    </ActionForm>
                }
            });
            view! {
                <tr data-testid="evaluator-row">
                    <td><strong>{e.name.clone()}</strong><br /><span class="muted">{format!("score {} · v{}", e.score_name, e.version)}</span></td>
                    <td>{e.target.as_str()} " · " {sampling}<br /><span class="muted">{e.filter.describe()}</span></td>
                    <td>{e.rule.describe()}</td>
                    <td data-testid="evaluator-status">{state}</td>
                    <td data-testid="evaluator-stats">{format!(
                        "{} queued · {} done · {} failed · {} skipped today",
                        e.stats.queued, e.stats.done_today, e.stats.failed_today, e.stats.skipped_today
                    )}
                        {(!e.stats.last_errors.is_empty()).then(|| view! { <ul class="errors" data-testid="evaluator-errors">{errors}</ul> })}
                    </td>
                    <td class="nowrap">{controls}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="table" data-testid="evaluators-table">
                <thead><tr>
                    <th scope="col">"Evaluator"</th><th scope="col">"Judges"</th><th scope="col">"Rule"</th>
                    <th scope="col">"State"</th><th scope="col">"Work"</th><th scope="col"></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn EvaluatorForm(create: ServerAction<CreateEvaluator>) -> impl IntoView {
    view! {
        <h3>"Define an evaluator"</h3>
        <ActionForm action=create attr:class="form" attr:data-testid="evaluator-form">
            <div class="form-inline">
                <label>"Name" <input type="text" name="name" required maxlength="200" placeholder="e.g. answers-are-json" data-testid="evaluator-name" /></label>
                <label>"Judges"
                    <select name="target" data-testid="evaluator-target">
                        <option value="span">"each matching span"</option>
                        <option value="trace">"the whole trace"</option>
                    </select>
                </label>
                <label>"Sampling (0–1)" <input type="number" name="sampling" min="0.001" max="1" step="any" value="1" /></label>
                <label>"Score name" <input type="text" name="score_name" maxlength="200" placeholder="the evaluator's name" /></label>
            </div>
            <fieldset class="form-inline">
                <legend>"Filter (blank: everything)"</legend>
                <label>"Agent" <input type="text" name="agent" data-testid="evaluator-agent" /></label>
                <label>"Environment" <input type="text" name="environment" /></label>
                <label>"Version" <input type="text" name="version" /></label>
                <label>"Model" <input type="text" name="model" /></label>
                <label>"Operation" <input type="text" name="operation" placeholder="chat" /></label>
                <label>"Span name contains" <input type="text" name="span_name" /></label>
                <label>"Status"
                    <select name="status"><option value="">"any"</option><option value="ok">"ok"</option><option value="error">"error"</option></select>
                </label>
            </fieldset>
            <fieldset class="form-inline">
                <legend>"Rule"</legend>
                <label>"Check"
                    <select name="rule_type" data-testid="evaluator-rule">
                        <option value="contains">"text contains"</option>
                        <option value="not_contains">"text does not contain"</option>
                        <option value="regex">"text matches a regex"</option>
                        <option value="valid_json">"text is valid JSON"</option>
                        <option value="length">"text length within"</option>
                        <option value="latency_below">"latency at most (ms)"</option>
                        <option value="cost_below">"cost at most (USD)"</option>
                        <option value="tool_calls_succeed">"no tool call failed"</option>
                        <option value="no_refusal">"not a refusal"</option>
                    </select>
                </label>
                <label>"Of"
                    <select name="field"><option value="output">"output"</option><option value="input">"input"</option></select>
                </label>
                <label>"Text" <input type="text" name="value" data-testid="evaluator-value" /></label>
                <label>"Regex" <input type="text" name="pattern" /></label>
                <label>"Min / max chars" <input type="number" name="min" min="0" /> <input type="number" name="max" min="0" /></label>
                <label>"Max ms" <input type="number" name="max_ms" min="0" step="any" /></label>
                <label>"Max USD" <input type="number" name="max_usd" min="0" step="any" /></label>
                <label>"Refusal phrases" <input type="text" name="phrases" placeholder="built-in list" /></label>
            </fieldset>
            <Submit action=create label="Create evaluator" busy="Creating…" testid="evaluator-submit" />
        </ActionForm>
        <ActionError action=create />
    }
}
