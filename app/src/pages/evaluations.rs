//! Evaluations (`/evaluations`): the workspace's score configs (admins define and archive
//! them) and the latest scores, newest first, a cursor page at a time (`?cursor=`, `?name=`,
//! `?source=`).

use crate::state::codec::resource;
use argus_types::{Role, ScoreConfig, ScoreType};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::evals::{list_configs, list_scores, ArchiveConfig, CreateConfig};
use crate::components::datasets::Datasets;
use crate::components::evaluators::{Evaluators, JudgeModel};
use crate::components::filter_bar::FilterBar;
use crate::components::forms::{ActionError, Submit};
use crate::components::page::LoadError;
use crate::components::queues::AnnotationQueues;
use crate::components::score_summary::ScoreSummaryView;
use crate::components::scores::ScoreTable;
use crate::state::session::my_role;

#[component]
pub fn EvaluationsPage() -> impl IntoView {
    let create = ServerAction::<CreateConfig>::new();
    let archive = ServerAction::<ArchiveConfig>::new();
    let configs = resource(
        move || (create.version().get(), archive.version().get()),
        |_| list_configs(Some(true)),
    );
    let query = use_query_map();
    let scores = resource(
        move || query.with(|q| (q.get("cursor"), q.get("name"), q.get("source"))),
        |(cursor, name, source)| {
            list_scores(
                argus_types::Filters::default(),
                argus_types::ScoreFilters {
                    name,
                    source,
                    cursor,
                    ..Default::default()
                },
            )
        },
    );
    let options = resource(|| (), |_| crate::api::metrics::get_filter_options());
    let role = my_role();
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    view! {
        <Title text="Evaluations · Argus" />
        <div class="page-header"><div>
            <h1>"Evaluations"</h1>
            <p class="muted">"Scores on traces, spans and sessions: from the API, OpenTelemetry evaluation events and people."</p>
        </div></div>
        <Transition>
            {move || Suspend::new(async move {
                let opts = options.await.unwrap_or_default();
                view! { <FilterBar path="/evaluations" options=opts /> }
            })}
        </Transition>
        <section class="card" aria-label="Score configs" data-testid="score-configs">
            <h2>"Score configs"</h2>
            <p class="muted">
                "A config names a score's type and range or categories, and which direction is better. "
                "Scores that break their config are refused. A config is archived, never edited, so old scores keep their meaning."
            </p>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match configs.await {
                        Ok(list) => view! { <ConfigTable configs=list archive admin=admin() /> }.into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <Transition>
                {move || admin().then(|| view! { <ConfigForm create /> })}
            </Transition>
            <ActionError action=archive />
        </section>
        <ScoreSummaryView />
        <AnnotationQueues />
        <Datasets />
        <Evaluators />
        <JudgeModel />
        <section class="card" aria-label="Latest scores" data-testid="latest-scores">
            <h2>"Latest scores"</h2>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match scores.await {
                        Ok(page) => {
                            let next = page.meta.next_cursor.clone().map(|c| format!("/evaluations?cursor={}", argus_types::encode(&c)));
                            view! {
                                <ScoreTable scores=page.data empty="No scores yet. Send them with POST /api/v1/evaluate/scores, as OpenTelemetry gen_ai.evaluation.result events, or score a trace on its page." />
                                {next.map(|href| view! { <p><a class="button button-secondary button-small" href=href data-testid="scores-next">"Older scores →"</a></p> })}
                            }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn describe(c: &ScoreConfig) -> String {
    match c.data_type {
        ScoreType::Numeric => match (c.min_value, c.max_value) {
            (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
            (Some(lo), None) => format!("≥ {lo}"),
            (None, Some(hi)) => format!("≤ {hi}"),
            (None, None) => "any number".into(),
        },
        ScoreType::Boolean => "true / false".into(),
        ScoreType::Categorical => c
            .categories
            .iter()
            .map(|k| match k.value {
                Some(v) => format!("{} ({v})", k.label),
                None => k.label.clone(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        ScoreType::Text => "free text".into(),
    }
}

#[component]
fn ConfigTable(
    configs: Vec<ScoreConfig>,
    archive: ServerAction<ArchiveConfig>,
    admin: bool,
) -> impl IntoView {
    if configs.is_empty() {
        return view! { <p class="empty" data-testid="configs-empty">"No score configs yet."</p> }
            .into_any();
    }
    let rows = configs
        .into_iter()
        .map(|c| {
            let better = match c.higher_is_better {
                Some(true) => "higher",
                Some(false) => "lower",
                None => "–",
            };
            let archived = c.archived_at.map(|at| at.format("%Y-%m-%d").to_string());
            let live = archived.is_none();
            let id = c.id.to_string();
            view! {
                <tr data-testid="config-row" class:muted=!live>
                    <td><strong>{c.name.clone()}</strong></td>
                    <td>{c.data_type.as_str()}</td>
                    <td>{describe(&c)}</td>
                    <td>{better}</td>
                    <td class="wrap">{c.description.clone().unwrap_or_default()}</td>
                    <td>{match archived {
                        Some(day) => view! { <span>{format!("archived {day}")}</span> }.into_any(),
                        None if admin => view! {
                            <ActionForm action=archive>
                                <input type="hidden" name="id" value=id />
                                <button type="submit" class="button button-secondary button-small" data-testid="config-archive">"Archive"</button>
                            </ActionForm>
                        }.into_any(),
                        None => view! { <span>"live"</span> }.into_any(),
                    }}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="table" data-testid="configs-table">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Type"</th><th scope="col">"Allowed"</th>
                    <th scope="col">"Better"</th><th scope="col">"Description"</th><th scope="col"></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn ConfigForm(create: ServerAction<CreateConfig>) -> impl IntoView {
    view! {
        <h3>"Define a score"</h3>
        <ActionForm action=create attr:class="form" attr:data-testid="config-form">
            <div class="form-inline">
                <label>"Name" <input type="text" name="name" required maxlength="200" placeholder="e.g. helpfulness" data-testid="config-name" /></label>
                <label>"Type"
                    <select name="data_type" data-testid="config-type">
                        <option value="numeric">"numeric"</option>
                        <option value="boolean">"boolean"</option>
                        <option value="categorical">"categorical"</option>
                        <option value="text">"text"</option>
                    </select>
                </label>
                <label>"Better"
                    <select name="higher_is_better">
                        <option value="true">"higher"</option>
                        <option value="false">"lower"</option>
                        <option value="">"neither"</option>
                    </select>
                </label>
            </div>
            <div class="form-inline">
                <label>"Min (numeric)" <input type="number" step="any" name="min_value" data-testid="config-min" /></label>
                <label>"Max (numeric)" <input type="number" step="any" name="max_value" data-testid="config-max" /></label>
                <label>"Categories (categorical)" <input type="text" name="categories" placeholder="good=1, ok=0.5, bad=0" data-testid="config-categories" /></label>
            </div>
            <label>"Description" <input type="text" name="description" maxlength="2000" /></label>
            <Submit action=create label="Create config" busy="Creating…" testid="config-submit" />
        </ActionForm>
        <ActionError action=create />
    }
}
