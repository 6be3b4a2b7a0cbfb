//! The online evaluators on the Evaluations page: each with its filter, rule and what it has
//! done today (nothing waits invisibly), and for admins the form to define one.

use crate::state::codec::resource;
use argus_types::{Evaluator, Role, RuleForm};
use leptos::prelude::*;

use crate::api::evals::{
    get_judge, list_evaluators, BackfillEvaluator, CreateEvaluator, DeleteEvaluator,
    PauseEvaluator, ResumeEvaluator, SetJudge, UpdateEvaluator,
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
    let backfill = ServerAction::<BackfillEvaluator>::new();
    let update = ServerAction::<UpdateEvaluator>::new();
    // While a backfill runs, its progress is read again every two seconds.
    let tick = RwSignal::new(0u32);
    let list = resource(
        move || {
            (
                create.version().get(),
                pause.version().get(),
                resume.version().get(),
                delete.version().get(),
                backfill.version().get(),
                update.version().get(),
                tick.get(),
            )
        },
        |_| list_evaluators(),
    );
    #[cfg(feature = "browser")]
    {
        let running = move || {
            list.get_untracked()
                .and_then(Result::ok)
                .is_some_and(|items: Vec<Evaluator>| {
                    items
                        .iter()
                        .any(|e| e.backfill.as_ref().is_some_and(|b| !b.status.is_finished()))
                })
        };
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if running() {
                    tick.update(|t| *t = t.wrapping_add(1));
                }
            },
            std::time::Duration::from_secs(2),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    let role = my_role();
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    let actions = Actions {
        pause,
        resume,
        delete,
        backfill,
        update,
    };
    view! {
        <section class="card" aria-label="Online evaluators" data-testid="evaluators">
            <h2>"Online evaluators"</h2>
            <p class="muted">
                "An evaluator judges the spans (or whole traces) that match its filter as they arrive: "
                "a rule writes a true/false score, an LLM judge the score its config asks for. "
                "Its work runs from a queue in the database: a restart loses nothing."
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
            <ActionError action=backfill />
            <ActionError action=update />
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
    backfill: ServerAction<BackfillEvaluator>,
    update: ServerAction<UpdateEvaluator>,
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
            let editable = e.clone();
            let controls = admin.then(move || {
                let (toggle_id, delete_id, backfill_id) = (id.clone(), id.clone(), id.clone());
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
                let backfill = active.then(|| view! {
                    <ActionForm action=actions.backfill attr:class="inline-form">
                        <input type="hidden" name="id" value=backfill_id />
                        <select name="range" aria-label="Backfill window" data-testid="backfill-range">
                            <option value="24h">"24 h"</option>
                            <option value="7d">"7 days"</option>
                            <option value="30d">"30 days"</option>
                            <option value="90d">"90 days"</option>
                        </select>
                        <button type="submit" class="button button-secondary button-small" data-testid="evaluator-backfill"
                            title="Run it over what is already stored in the window">"Backfill"</button>
                    </ActionForm>
                });
                let edit = view! {
                    <details class="inline-edit" data-testid="evaluator-edit">
                        <summary class="button button-secondary button-small">"Edit"</summary>
                        <ActionForm action=actions.update attr:class="form">
                            <input type="hidden" name="id" value=id.clone() />
                            <p class="muted">{format!("Saving makes version {}; scores from now on carry it.", editable.version + 1)}</p>
                            <EvaluatorFields initial=Some(editable) />
                            <Submit action=actions.update label="Save" busy="Saving…" testid="evaluator-save" />
                        </ActionForm>
                    </details>
                };
                view! {
                    {toggle}
                    {backfill}
                    {edit}
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
                        {e.backfill.as_ref().map(|b| {
                            let state = match b.status {
                                argus_types::JobStatus::Done => "done".to_owned(),
                                argus_types::JobStatus::Failed => format!("failed: {}", b.error.clone().unwrap_or_default()),
                                _ => format!("{:.0}%", b.percent()),
                            };
                            view! { <br /><span class="muted" data-testid="evaluator-backfill-status">{format!(
                                "backfill {} → {}: {state} · {} queued",
                                b.from.format("%b %d %H:%M"), b.to.format("%b %d %H:%M"), b.queued
                            )}</span> }
                        })}
                        {matches!(e.rule, argus_types::Rule::Judge { .. }).then(|| {
                            let limit = e.daily_limit_usd.map(|l| format!(" of ${l}")).unwrap_or_default();
                            view! { <br /><span class="muted" data-testid="evaluator-spent">{format!("${:.4} spent today{limit}", e.stats.spent_today_usd)}</span> }
                        })}
                        {e.agreement.as_ref().map(|a| view! {
                            <br /><span class="muted" data-testid="evaluator-agreement">{format!("with people: {}", crate::components::queues::agreement_text(a))}</span>
                        })}
                        {(!e.stats.last_errors.is_empty()).then(|| view! { <ul class="errors" data-testid="evaluator-errors">{errors}</ul> })}
                    </td>
                    <td class="nowrap">{controls}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
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
            <EvaluatorFields initial=None />
            <Submit action=create label="Create evaluator" busy="Creating…" testid="evaluator-submit" />
        </ActionForm>
        <ActionError action=create />
    }
}

/// An evaluator's fields, empty (a new one: with its target) or filled from `initial` (an
/// edit: the target stays).
#[component]
fn EvaluatorFields(initial: Option<Evaluator>) -> impl IntoView {
    let new = initial.is_none();
    let e = initial.as_ref();
    let f = e.map(|e| e.filter.clone()).unwrap_or_default();
    let r = e.map(|e| RuleForm::of(&e.rule)).unwrap_or_default();
    let or = |v: &Option<String>| v.clone().unwrap_or_default();
    let rule_type = r.rule_type.clone().unwrap_or_else(|| "contains".into());
    let field = r.field.clone().unwrap_or_else(|| "output".into());
    let status = or(&f.status);
    let option = |value: &'static str, label: &'static str, current: &str| {
        view! { <option value=value selected=current == value>{label}</option> }
    };
    let rules = [
        ("contains", "text contains"),
        ("not_contains", "text does not contain"),
        ("regex", "text matches a regex"),
        ("valid_json", "text is valid JSON"),
        ("json_schema", "text matches a JSON Schema"),
        ("length", "text length within"),
        ("latency_below", "latency at most (ms)"),
        ("cost_below", "cost at most (USD)"),
        ("tool_calls_succeed", "no tool call failed"),
        ("no_refusal", "not a refusal"),
        ("judge", "LLM judge (the prompt below)"),
    ]
    .into_iter()
    .map(|(v, l)| option(v, l, &rule_type))
    .collect_view();
    view! {
        <div class="form-inline">
            <label>"Name" <input type="text" name="name" required maxlength="200" placeholder="e.g. answers-are-json"
                value=e.map(|e| e.name.clone()).unwrap_or_default() data-testid="evaluator-name" /></label>
            {new.then(|| view! {
                <label>"Judges"
                    <select name="target" data-testid="evaluator-target">
                        <option value="span">"each matching span"</option>
                        <option value="trace">"the whole trace"</option>
                    </select>
                </label>
            })}
            <label>"Sampling (0–1)" <input type="number" name="sampling" min="0.001" max="1" step="any"
                value=e.map_or("1".to_owned(), |e| e.sampling.to_string()) /></label>
            <label>"Score name" <input type="text" name="score_name" maxlength="200" placeholder="the evaluator's name"
                value=e.map(|e| e.score_name.clone()).unwrap_or_default() /></label>
        </div>
        <fieldset class="form-inline">
            <legend>"Filter (blank: everything)"</legend>
            <label>"Agent" <input type="text" name="agent" value=or(&f.agent) data-testid="evaluator-agent" /></label>
            <label>"Environment" <input type="text" name="environment" value=or(&f.environment) /></label>
            <label>"Version" <input type="text" name="version" value=or(&f.version) /></label>
            <label>"Model" <input type="text" name="model" value=or(&f.model) /></label>
            <label>"Operation" <input type="text" name="operation" placeholder="chat" value=or(&f.operation) /></label>
            <label>"Span name contains" <input type="text" name="span_name" value=or(&f.span_name) /></label>
            <label>"Status"
                <select name="status">{option("", "any", &status)}{option("ok", "ok", &status)}{option("error", "error", &status)}</select>
            </label>
        </fieldset>
        <fieldset class="form-inline">
            <legend>"Rule"</legend>
            <label>"Check" <select name="rule_type" data-testid="evaluator-rule">{rules}</select></label>
            <label>"Of"
                <select name="field">{option("output", "output", &field)}{option("input", "input", &field)}</select>
            </label>
            <label>"Text" <input type="text" name="value" value=or(&r.value) data-testid="evaluator-value" /></label>
            <label>"Regex" <input type="text" name="pattern" value=or(&r.pattern) /></label>
            <label>"Min / max chars" <input type="number" name="min" min="0" value=or(&r.min) /> <input type="number" name="max" min="0" value=or(&r.max) /></label>
            <label>"Max ms" <input type="number" name="max_ms" min="0" step="any" value=or(&r.max_ms) /></label>
            <label>"Max USD" <input type="number" name="max_usd" min="0" step="any" value=or(&r.max_usd) /></label>
            <label>"Refusal phrases" <input type="text" name="phrases" placeholder="built-in list" value=or(&r.phrases) /></label>
            <label>"JSON Schema"
                <textarea name="schema" rows="3" maxlength="65536" data-testid="evaluator-schema"
                    placeholder="{\"type\": \"object\", \"required\": [\"answer\"]}">{or(&r.schema)}</textarea>
            </label>
        </fieldset>
        <fieldset class="form-stack">
            <legend>"LLM judge"</legend>
            <label>"Prompt — "<code>"{{input}}"</code>", "<code>"{{output}}"</code>", "<code>"{{expected}}"</code>", "<code>"{{metadata.KEY}}"</code>" are filled in"
                <textarea name="prompt" rows="4" maxlength="20000" data-testid="evaluator-prompt"
                    placeholder="Does {{output}} answer {{input}} helpfully and politely?">{or(&r.prompt)}</textarea>
            </label>
            <label>"Daily spend limit (USD, blank: none)" <input type="number" name="daily_limit_usd" min="0.0001" step="any"
                value=e.and_then(|e| e.daily_limit_usd).map(|l| l.to_string()).unwrap_or_default() data-testid="evaluator-limit" /></label>
        </fieldset>
    }
}

/// The workspace's judge model: what LLM-judge evaluators call. The key is write-only.
#[component]
pub fn JudgeModel() -> impl IntoView {
    let set = ServerAction::<SetJudge>::new();
    let judge = resource(move || set.version().get(), |_| get_judge());
    let role = my_role();
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    view! {
        <section class="card" aria-label="Judge model" data-testid="judge-model">
            <h2>"Judge model"</h2>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match judge.await {
                        Ok(j) => {
                            let summary = if j.configured {
                                format!(
                                    "{} at {} · key {} · timeout {} ms",
                                    j.model,
                                    j.base_url,
                                    j.key_hint.clone().unwrap_or_else(|| "none".into()),
                                    j.timeout_ms
                                )
                            } else {
                                "No judge model yet: LLM-judge evaluators need an OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, …).".into()
                            };
                            let form = admin().then(|| view! {
                                <ActionForm action=set attr:class="form form-inline" attr:data-testid="judge-form">
                                    <label>"Base URL" <input type="url" name="base_url" required maxlength="500" value=j.base_url.clone() placeholder="https://api.openai.com/v1" data-testid="judge-url" /></label>
                                    <label>"Model" <input type="text" name="model" required maxlength="200" value=j.model.clone() placeholder="gpt-4o-mini" data-testid="judge-model-name" /></label>
                                    <label>"API key" <input type="password" name="api_key" autocomplete="off" maxlength="1000"
                                        placeholder=if j.key_hint.is_some() { "blank keeps the stored key; - for none" } else { "stored sealed; never shown again" } data-testid="judge-key" /></label>
                                    <label>"Timeout (ms)" <input type="number" name="timeout_ms" min="100" max="300000" value=j.timeout_ms.to_string() /></label>
                                    <Submit action=set label="Save judge" busy="Saving…" testid="judge-submit" />
                                </ActionForm>
                            });
                            view! { <p data-testid="judge-summary">{summary}</p> {form} }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <ActionError action=set />
        </section>
    }
}
