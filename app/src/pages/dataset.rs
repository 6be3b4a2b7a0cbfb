//! One dataset (`/evaluations/datasets/{id}`): its experiment runs, two of them compared
//! (`?a=RUN&b=RUN`, item pages `?cpage=`) score by score and item by item, the JSONL upload,
//! and its items a page at a time (`?page=`).

use crate::state::codec::resource;
use argus_types::{
    CellScore, ComparedItem, DatasetItemPage, ExperimentRun, Role, RunCell, RunComparison,
    ScoreType,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use uuid::Uuid;

use crate::api::datasets::{
    compare_runs, dataset_items, get_dataset, list_runs, DeleteDataset, DeleteDatasetItem,
    DeleteRun, UploadDatasetItems,
};
use crate::components::datasets::added_text;
use crate::components::forms::{ActionError, Submit};
use crate::components::page::LoadError;
use crate::components::pager::Pager;
use crate::state::prefs::when;
use crate::state::session::my_role;

fn mean_text(data_type: ScoreType, mean: Option<f64>) -> String {
    match (data_type, mean) {
        (_, None) => "—".into(),
        (ScoreType::Boolean, Some(m)) => format!("{:.0}% true", m * 100.0),
        (_, Some(m)) => format!("{m:.3}"),
    }
}

#[component]
pub fn DatasetPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id =
        Memo::new(move |_| params.with(|p| p.get("id").and_then(|s| Uuid::parse_str(&s).ok())));
    let upload = ServerAction::<UploadDatasetItems>::new();
    let delete_item = ServerAction::<DeleteDatasetItem>::new();
    let delete_run = ServerAction::<DeleteRun>::new();
    let delete = ServerAction::<DeleteDataset>::new();
    let changed = move || {
        (
            upload.version().get(),
            delete_item.version().get(),
            delete_run.version().get(),
        )
    };
    let dataset = resource(
        move || (id.get(), changed()),
        |(id, _)| async move {
            match id {
                Some(id) => get_dataset(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let runs = resource(
        move || (id.get(), changed()),
        |(id, _)| async move {
            match id {
                Some(id) => list_runs(id).await,
                None => Ok(Vec::new()),
            }
        },
    );
    let page = resource(
        move || (id.get(), query.with(|q| q.get("page")), changed()),
        |(id, page, _)| async move {
            match id {
                Some(id) => dataset_items(id, page, None).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let role = my_role();
    let member = move || role.get().is_some_and(|r| r >= Role::Member);
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    view! {
        <Title text="Dataset · Argus" />
        <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match dataset.await {
                    Err(e) => view! { <LoadError error=e /> }.into_any(),
                    Ok(None) => view! { <section class="card"><p class="empty">"No such dataset."</p></section> }.into_any(),
                    Ok(Some(d)) => view! {
                        <div class="page-header"><div>
                            <p><a href="/evaluations">"← Evaluations"</a></p>
                            <h1 data-testid="dataset-title">{d.name.clone()}</h1>
                            <p class="muted">{d.description.clone().unwrap_or_default()}
                                {format!(" {} items · {} runs", d.items, d.runs)}</p>
                        </div></div>
                    }.into_any(),
                }
            })}
        </Transition>
        <section class="card" aria-label="Experiment runs" data-testid="runs">
            <h2>"Runs"</h2>
            <p class="muted">
                "A run links one trace to each item: spans with the attribute " <code>"dataset.item_id"</code>
                " join the run named by " <code>"dataset.run_name"</code> " (else " <code>"agent@version"</code>
                "), or link them with " <code>"POST /api/v1/evaluate/experiments/link"</code> "."
            </p>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match runs.await {
                        Ok(list) => view! { <RunTable runs=list delete=delete_run admin=admin() /> }.into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <ActionError action=delete_run />
        </section>
        {move || {
            let (a, b, cpage) = query.with(|q| (q.get("a"), q.get("b"), q.get("cpage")));
            let pair = a.and_then(|a| Uuid::parse_str(&a).ok()).zip(b.and_then(|b| Uuid::parse_str(&b).ok()));
            pair.map(|(a, b)| view! { <Comparison a b cpage /> })
        }}
        <Transition>
            {move || member().then(|| view! {
                <section class="card" aria-label="Upload items" data-testid="dataset-upload">
                    <h2>"Add items"</h2>
                    <p class="muted">"One JSON object per line: " <code>"{\"input\": \"…\", \"expected_output\": \"…\", \"metadata\": {…}}"</code>
                        " (an " <code>"id"</code> " makes a line safe to send again). Traces are added from their page or from the trace list."</p>
                    <ActionForm action=upload attr:class="form" attr:data-testid="upload-form">
                        <input type="hidden" name="id" value=move || id.get().map(|i| i.to_string()).unwrap_or_default() />
                        <label>"JSONL"
                            <textarea name="jsonl" rows="6" required data-testid="upload-jsonl"
                                placeholder="{\"input\": \"Where is my order?\", \"expected_output\": \"It ships tomorrow.\"}"></textarea>
                        </label>
                        <Submit action=upload label="Upload" busy="Uploading…" testid="upload-submit" />
                    </ActionForm>
                    {move || upload.value().get().and_then(|r| r.ok()).map(|a| view! {
                        <p class="callout" role="status" data-testid="upload-result">{added_text(&a)}</p>
                    })}
                    <ActionError action=upload />
                </section>
            })}
        </Transition>
        <section class="card" aria-label="Items" data-testid="dataset-items">
            <h2>"Items"</h2>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(Some(p)) => view! { <ItemTable page=p delete=delete_item member=member() /> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <ActionError action=delete_item />
        </section>
        <Transition>
            {move || admin().then(|| view! {
                <details class="card danger-zone" data-testid="dataset-delete">
                    <summary>"Delete this dataset…"</summary>
                    <ActionForm action=delete attr:class="form-inline">
                        <input type="hidden" name="id" value=move || id.get().map(|i| i.to_string()).unwrap_or_default() />
                        <p>"Deletes the dataset, its items and its runs. The traces and their scores stay."</p>
                        <button type="submit" class="button button-danger button-small">"Delete dataset"</button>
                    </ActionForm>
                    {move || delete.value().get().and_then(|r| r.ok()).map(|_| view! {
                        <p class="callout" role="status">"Deleted. " <a href="/evaluations">"Back to Evaluations"</a></p>
                    })}
                    <ActionError action=delete />
                </details>
            })}
        </Transition>
    }
}

#[component]
fn RunTable(
    runs: Vec<ExperimentRun>,
    delete: ServerAction<DeleteRun>,
    admin: bool,
) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="empty" data-testid="runs-empty">"No runs yet."</p> }.into_any();
    }
    let options = |selected: usize| {
        runs.iter()
            .enumerate()
            .map(|(i, r)| view! { <option value=r.id.to_string() selected=i == selected>{r.name.clone()}</option> })
            .collect_view()
    };
    let compare = (runs.len() >= 2).then(|| view! {
        <form method="get" class="form-inline" data-testid="compare-form">
            <label>"Run A" <select name="a" data-testid="run-a">{options(1)}</select></label>
            <label>"Run B" <select name="b" data-testid="run-b">{options(0)}</select></label>
            <button type="submit" class="button button-small" data-testid="run-compare">"Compare"</button>
        </form>
    });
    let rows = runs
        .into_iter()
        .map(|r| {
            let scores = r
                .scores
                .iter()
                .map(|s| format!("{}: {} (n={})", s.name, mean_text(s.data_type, s.mean), s.n))
                .collect::<Vec<_>>()
                .join(" · ");
            let id = r.id.to_string();
            view! {
                <tr data-testid="run-row">
                    <td><strong>{r.name.clone()}</strong><br /><span class="muted">{when(r.created_at, "%Y-%m-%d %H:%M")}</span></td>
                    <td class="num">{format!("{} of {}", r.arrived, r.linked)}</td>
                    <td class="num">{r.errors}</td>
                    <td class="num">{r.mean_latency_ms.map_or("—".into(), |l| format!("{l:.0} ms"))}</td>
                    <td class="num">{crate::format::value(argus_types::Unit::Usd, Some(r.cost_usd))}</td>
                    <td class="wrap" data-testid="run-scores">{if scores.is_empty() { "no scores yet".into() } else { scores }}</td>
                    <td>{admin.then(|| view! {
                        <ActionForm action=delete>
                            <input type="hidden" name="id" value=id />
                            <button type="submit" class="button button-danger button-small">"Delete"</button>
                        </ActionForm>
                    })}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {compare}
        <div class="table-scroll" tabindex="0">
            <table class="table" data-testid="runs-table">
                <thead><tr>
                    <th scope="col">"Run"</th><th scope="col" class="num">"Traces stored"</th>
                    <th scope="col" class="num">"Errors"</th><th scope="col" class="num">"Mean latency"</th>
                    <th scope="col" class="num">"Cost"</th><th scope="col">"Scores (means)"</th><th scope="col"></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Comparison(a: Uuid, b: Uuid, cpage: Option<String>) -> impl IntoView {
    let result = resource(
        move || (a, b, cpage.clone()),
        |(a, b, cpage)| compare_runs(a, b, cpage, None),
    );
    view! {
        <section class="card" aria-label="Comparison" data-testid="run-comparison">
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match result.await {
                        Ok(c) => view! { <ComparisonView c /> }.into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ComparisonView(c: RunComparison) -> impl IntoView {
    let (a_name, b_name) = (c.a.name.clone(), c.b.name.clone());
    let score_rows = c
        .scores
        .iter()
        .map(|s| {
            let paired = c.paired.iter().find(|p| p.name == s.name);
            let delta = s.a.mean.zip(s.b.mean).map(|(x, y)| y - x);
            let verdict = match (&s.test, delta, s.higher_is_better) {
                (Some(t), Some(d), Some(higher)) if t.significant => {
                    if (d > 0.0) == higher { "B better" } else { "B worse" }
                }
                (Some(t), Some(d), None) if t.significant => {
                    if d > 0.0 { "B higher" } else { "B lower" }
                }
                (Some(t), _, _) if t.significant => "differs",
                (Some(_), _, _) => "no significant difference",
                (None, _, _) => "too few scores",
            };
            view! {
                <tr data-testid="compare-score-row">
                    <td><strong>{s.name.clone()}</strong></td>
                    <td class="num">{format!("{} (n={})", mean_text(s.data_type, s.a.mean), s.a.n)}</td>
                    <td class="num">{format!("{} (n={})", mean_text(s.data_type, s.b.mean), s.b.n)}</td>
                    <td class="num">{delta.map_or("—".into(), |d| format!("{d:+.3}"))}</td>
                    <td class="num">{s.test.as_ref().map_or("—".into(), |t| format!("{:.3}", t.p_value))}</td>
                    <td data-testid="compare-verdict">{verdict}</td>
                    <td data-testid="compare-paired">{paired.map_or("—".into(), |p| format!("{} better · {} worse · {} same", p.better, p.worse, p.same))}</td>
                </tr>
            }
        })
        .collect_view();
    let meta = c.meta;
    let link = |page: u32| format!("?a={}&b={}&cpage={page}", c.a.id, c.b.id);
    let prev = (meta.page > 1).then(|| link(meta.page - 1));
    let next = meta.has_more.then(|| link(meta.page + 1));
    let items = c
        .items
        .into_iter()
        .map(|i| view! { <ItemRow i /> })
        .collect_view();
    view! {
        <h2>{format!("{a_name} (A) vs {b_name} (B)")}</h2>
        <p class="muted">{format!(
            "A: {} of {} traces stored, {} errors · B: {} of {}, {} errors. Welch's t for numbers, a two-proportion z-test for booleans; paired counts compare the same items.",
            c.a.arrived, c.a.linked, c.a.errors, c.b.arrived, c.b.linked, c.b.errors
        )}</p>
        {if c.scores.is_empty() {
            view! { <p class="empty">"Neither run's traces have scores yet."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll" tabindex="0">
                    <table class="table" data-testid="compare-scores">
                        <thead><tr>
                            <th scope="col">"Score"</th><th scope="col" class="num">"A"</th><th scope="col" class="num">"B"</th>
                            <th scope="col" class="num">"B − A"</th><th scope="col" class="num">"p"</th>
                            <th scope="col">"Verdict"</th><th scope="col">"Item by item"</th>
                        </tr></thead>
                        <tbody>{score_rows}</tbody>
                    </table>
                </div>
            }.into_any()
        }}
        <h3>"Items"</h3>
        <div class="table-scroll" tabindex="0">
            <table class="table" data-testid="compare-items">
                <thead><tr>
                    <th scope="col">"Input"</th><th scope="col">"Expected"</th>
                    <th scope="col">"A"</th><th scope="col">"B"</th>
                </tr></thead>
                <tbody>{items}</tbody>
            </table>
        </div>
        <Pager prev next page=meta.page total=meta.total limit=meta.limit />
    }
}

fn cell_score(s: &CellScore) -> String {
    match (&s.label, s.value) {
        (Some(l), _) => format!("{}: {l}", s.name),
        (None, Some(v)) => format!("{}: {v:.3}", s.name),
        (None, None) => format!("{}: —", s.name),
    }
}

#[component]
fn RunCellView(cell: Option<RunCell>) -> impl IntoView {
    match cell {
        None => view! { <span class="muted">"not run"</span> }.into_any(),
        Some(c) if !c.arrived => {
            view! { <span class="muted">"trace not stored yet"</span> }.into_any()
        }
        Some(c) => {
            let href = format!("/traces/{}", c.trace_id);
            let scores = c
                .scores
                .iter()
                .map(|s| view! { <li>{cell_score(s)}</li> })
                .collect_view();
            view! {
                <a href=href>{if c.error { "trace (error)" } else { "trace" }}</a>
                <span class="muted">{c.latency_ms.map(|l| format!(" · {l:.0} ms"))}</span>
                <ul class="plain" data-testid="cell-scores">{scores}</ul>
            }
            .into_any()
        }
    }
}

#[component]
fn ItemRow(i: ComparedItem) -> impl IntoView {
    view! {
        <tr data-testid="compare-item-row">
            <td class="wrap">{i.input}</td>
            <td class="wrap">{i.expected_output.unwrap_or_default()}</td>
            <td><RunCellView cell=i.a /></td>
            <td><RunCellView cell=i.b /></td>
        </tr>
    }
}

#[component]
fn ItemTable(
    page: DatasetItemPage,
    delete: ServerAction<DeleteDatasetItem>,
    member: bool,
) -> impl IntoView {
    if page.data.is_empty() {
        return view! { <p class="empty" data-testid="items-empty">"No items yet: upload JSONL above, or add traces from their page."</p> }
            .into_any();
    }
    let meta = page.meta;
    let prev = (meta.page > 1).then(|| format!("?page={}", meta.page - 1));
    let next = meta.has_more.then(|| format!("?page={}", meta.page + 1));
    let cut = |s: &str| match s.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    };
    let rows = page
        .data
        .into_iter()
        .map(|item| {
            let metadata = match &item.metadata {
                serde_json::Value::Object(m) if m.is_empty() => String::new(),
                other => other.to_string(),
            };
            let source = item.source_trace_id.clone().map(|t| {
                let href = format!("/traces/{t}");
                view! { <a href=href>"trace"</a> }
            });
            let (dataset_id, item_id) = (item.dataset_id.to_string(), item.id.to_string());
            view! {
                <tr data-testid="item-row">
                    <td class="wrap">{cut(&item.input)}</td>
                    <td class="wrap">{item.expected_output.as_deref().map(cut).unwrap_or_default()}</td>
                    <td class="wrap"><code>{cut(&metadata)}</code></td>
                    <td>{source}</td>
                    <td>{member.then(|| view! {
                        <ActionForm action=delete>
                            <input type="hidden" name="dataset_id" value=dataset_id />
                            <input type="hidden" name="item_id" value=item_id />
                            <button type="submit" class="button button-secondary button-small">"Remove"</button>
                        </ActionForm>
                    })}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="table" data-testid="items-table">
                <thead><tr>
                    <th scope="col">"Input"</th><th scope="col">"Expected output"</th>
                    <th scope="col">"Metadata"</th><th scope="col">"From"</th><th scope="col"></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <Pager prev next page=meta.page total=meta.total limit=meta.limit />
    }
    .into_any()
}
