//! Scores on a page: a table of scores and, for members, a form to score by hand against the
//! workspace's configs.

use crate::state::codec::resource;
use argus_types::{Role, Score, ScoreConfig, ScoreType};
use leptos::prelude::*;

use crate::api::evals::{list_configs, trace_scores, Annotate};
use crate::components::forms::{ActionError, Submit};
use crate::state::prefs::when;
use crate::state::session::my_role;

/// Scores as a table (name, value, who or what, why, when), or an empty state.
#[component]
pub fn ScoreTable(scores: Vec<Score>, #[prop(optional)] empty: &'static str) -> impl IntoView {
    if scores.is_empty() {
        let empty = if empty.is_empty() {
            "No scores yet."
        } else {
            empty
        };
        return view! { <p class="empty" data-testid="scores-empty">{empty}</p> }.into_any();
    }
    let rows = scores
        .into_iter()
        .map(|s| {
            let who = match (&s.author.user_email, &s.author.judge_model, s.author.evaluator_id) {
                (Some(email), _, _) => email.clone(),
                (None, Some(model), _) => format!("judge {model}"),
                (None, None, Some(_)) => "evaluator".to_owned(),
                _ => String::new(),
            };
            let target = match (&s.span_id, &s.session_id) {
                (Some(span), _) => format!("span {}", &span[..span.len().min(8)]),
                (None, Some(session)) => format!("session {session}"),
                (None, None) => "trace".to_owned(),
            };
            view! {
                <tr data-testid="score-row">
                    <td><strong>{s.name.clone()}</strong></td>
                    <td data-testid="score-value">{s.display_value()}</td>
                    <td>{target}</td>
                    <td><span class="badge">{s.source.as_str()}</span> " " <span class="muted">{who}</span></td>
                    <td class="wrap">{s.explanation.clone().unwrap_or_default()}</td>
                    <td class="muted nowrap">{when(s.scored_at, "%Y-%m-%d %H:%M")}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="table" data-testid="scores-table">
                <thead><tr>
                    <th scope="col">"Score"</th><th scope="col">"Value"</th><th scope="col">"On"</th>
                    <th scope="col">"Source"</th><th scope="col">"Explanation"</th><th scope="col">"When"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The value input a config asks for, named `name`; optional inputs start blank.
pub fn value_input(config: &ScoreConfig, name: String, required: bool, testid: String) -> AnyView {
    let blank = (!required).then(|| view! { <option value="">"—"</option> });
    match config.data_type {
        ScoreType::Numeric => {
            let min = config.min_value.map(|v| v.to_string()).unwrap_or_default();
            let max = config.max_value.map(|v| v.to_string()).unwrap_or_default();
            view! { <input type="number" name=name step="any" min=min max=max required=required data-testid=testid /> }
                .into_any()
        }
        ScoreType::Boolean => view! {
            <select name=name required=required data-testid=testid>
                {blank}
                <option value="true">"true"</option>
                <option value="false">"false"</option>
            </select>
        }
        .into_any(),
        ScoreType::Categorical => {
            let options = config
                .categories
                .iter()
                .map(|c| view! { <option value=c.label.clone()>{c.label.clone()}</option> })
                .collect_view();
            view! { <select name=name required=required data-testid=testid>{blank}{options}</select> }
                .into_any()
        }
        ScoreType::Text => view! {
            <input type="text" name=name required=required maxlength="10000" data-testid=testid />
        }
        .into_any(),
    }
}

/// The scores of a trace, and a member's form to add one.
#[component]
pub fn TraceScores(trace_id: String) -> impl IntoView {
    let annotate = ServerAction::<Annotate>::new();
    let id = trace_id.clone();
    let scores = resource(
        move || annotate.version().get(),
        move |_| trace_scores(id.clone()),
    );
    let configs = resource(|| (), |_| list_configs(None));
    let role = my_role();
    let can_annotate = move || role.get().is_some_and(|r| r >= Role::Member);
    let chosen = RwSignal::new(String::new());
    view! {
        <section class="card" aria-label="Scores" data-testid="trace-scores">
            <h2>"Scores"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading scores…"</p> }>
                {move || Suspend::new(async move {
                    match scores.await {
                        Ok(list) => view! { <ScoreTable scores=list empty="No scores yet: score it below, or send scores through the API." /> }.into_any(),
                        Err(e) => view! { <p class="callout callout-error" role="alert">{e.message().to_owned()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <Transition>
                {move || {
                    let trace_id = trace_id.clone();
                    Suspend::new(async move {
                        let configs = configs.await.unwrap_or_default();
                        if !can_annotate() {
                            return ().into_any();
                        }
                        if configs.is_empty() {
                            return view! {
                                <p class="muted" data-testid="annotate-no-configs">
                                    "To score by hand, an admin defines scores under "
                                    <a href="/evaluations">"Evaluations"</a> "."
                                </p>
                            }.into_any();
                        }
                        let first = configs[0].name.clone();
                        if chosen.get_untracked().is_empty() {
                            chosen.set(first);
                        }
                        let names = configs.iter().map(|c| view! { <option value=c.name.clone()>{c.name.clone()}</option> }).collect_view();
                        let input = move || {
                            let name = chosen.get();
                            configs.iter().find(|c| c.name == name).map(|c| value_input(c, "value".into(), true, "annotate-value".into()))
                        };
                        view! {
                            <ActionForm action=annotate attr:class="form form-inline" attr:data-testid="annotate-form">
                                <input type="hidden" name="trace_id" value=trace_id />
                                <label>"Score"
                                    <select name="name" data-testid="annotate-name"
                                        on:change=move |ev| chosen.set(event_target_value(&ev))>
                                        {names}
                                    </select>
                                </label>
                                <label>"Value" {input}</label>
                                <label>"Comment" <input type="text" name="comment" maxlength="10000" data-testid="annotate-comment" /></label>
                                <Submit action=annotate label="Add score" busy="Saving…" testid="annotate-submit" />
                            </ActionForm>
                            <ActionError action=annotate />
                        }.into_any()
                    })
                }}
            </Transition>
        </section>
    }
}
