//! Evaluations under `/api/v1/evaluate/`: scores (list, annotate, delete) and score configs
//! (list, create, archive). Creating scores in batches is `POST /api/v1/evaluate/scores`, an
//! axum route of the server (like the native ingest batch).
//!
//! Reading needs any member or a `read` key; annotating, a member; deleting a score and
//! changing configs, an admin.

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{
    Evaluator, EvaluatorFilter, Filters, JudgeSettings, RuleForm, Score, ScoreConfig, ScoreFilters,
    ScorePage, ScoreSummaries, VersionComparison,
};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use uuid::Uuid;

use crate::error::AppError;

/// `GET /api/v1/evaluate/scores`: scores newest first, `{data, meta {next_cursor, has_more,
/// limit}}`. Narrow with `trace_id` (and `span_id`), `session_id`, `name`, `source` (`api`,
/// `annotation`, `evaluator`, `otel`), the dashboard's `agent`, `env`, `version`, `dept`, and a
/// window (`range` or `from`/`to`; none: all time). `limit` up to 500 (default 50).
#[server(prefix = "/api/v1", endpoint = "evaluate/scores", input = GetUrl)]
pub async fn list_scores(
    #[server(flatten)] filters: Filters,
    #[server(flatten)] extra: ScoreFilters,
) -> Result<ScorePage, AppError> {
    use argus_domain::evals::scores::{self, ScoreQuery};
    use argus_domain::Error;

    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let filters = filters
        .strict()
        .map_err(|n| Error::invalid_input(&n.field, n.message))?;
    if filters.model.is_some() {
        return Err(Error::invalid_input("model", "scores are not kept by model").into());
    }
    let (from, to) = if filters.range.is_some() || filters.custom.is_some() {
        let window = argus_domain::analytics::resolve(filters, chrono::Utc::now())?;
        (Some(window.from), Some(window.to))
    } else {
        (None, None)
    };
    let blank = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let limit = match blank(extra.limit) {
        Some(l) => l
            .parse::<u32>()
            .map_err(|_| Error::invalid_input("limit", format!("{l:?} is not a whole number")))?,
        None => 0,
    };
    let source = match blank(extra.source) {
        Some(s) => Some(argus_types::ScoreSource::parse(&s).ok_or_else(|| {
            Error::invalid_input(
                "source",
                format!("{s:?} is not a source (api, annotation, evaluator or otel)"),
            )
        })?),
        None => None,
    };
    let dim = |d: &Option<argus_types::Dim>| d.as_ref().map(|d| d.as_str().to_owned());
    let query = ScoreQuery {
        trace_id: blank(extra.trace_id),
        span_id: blank(extra.span_id),
        session_id: blank(extra.session_id),
        name: blank(extra.name),
        source,
        agent: dim(&filters.agent),
        department: dim(&filters.dept),
        environment: dim(&filters.env),
        version: dim(&filters.version),
        from,
        to,
        cursor: blank(extra.cursor),
        limit,
    };
    Ok(scores::list(&services(), access.workspace, &query).await?)
}

/// `GET /api/v1/evaluate/trace-scores?id=…`: every score of one trace and its spans, oldest
/// first (what the trace page lists).
#[server(prefix = "/api/v1", endpoint = "evaluate/trace-scores", input = GetUrl)]
pub async fn trace_scores(id: String) -> Result<Vec<Score>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::evals::scores::of_trace(&services(), access.workspace, &id).await?)
}

/// `POST /api/v1/evaluate/annotate`: a member scores a trace (or one of its spans, or a
/// session) by hand against the workspace's configs, with an optional comment.
#[server(prefix = "/api/v1", endpoint = "evaluate/annotate")]
pub async fn annotate(
    trace_id: Option<String>,
    span_id: Option<String>,
    session_id: Option<String>,
    name: String,
    value: String,
    comment: Option<String>,
) -> Result<Score, AppError> {
    use argus_domain::evals::scores;

    use super::context::{require_user, services};
    let (access, user) = require_user(Role::Member)?;
    let services = services();
    let stored = scores::annotate(
        &services,
        access.workspace,
        user,
        scores::Annotation {
            trace_id,
            span_id,
            session_id,
            name,
            value,
            comment,
        },
    )
    .await?;
    Ok(stored)
}

/// `POST /api/v1/evaluate/scores/delete`: deletes one score (admin).
#[server(prefix = "/api/v1", endpoint = "evaluate/scores/delete")]
pub async fn delete_score(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::evals::scores::delete(&services(), access.workspace, id).await?)
}

/// `GET /api/v1/evaluate/configs`: the workspace's score configs, live first
/// (`include_archived=true` for the archived ones too).
#[server(prefix = "/api/v1", endpoint = "evaluate/configs", input = GetUrl)]
pub async fn list_configs(include_archived: Option<bool>) -> Result<Vec<ScoreConfig>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::evals::configs::list(
        &services(),
        access.workspace,
        include_archived.unwrap_or(false),
    )
    .await?)
}

/// `POST /api/v1/evaluate/configs/create` (admin): `name`, `data_type` (`numeric`, `boolean`,
/// `categorical`, `text`), for numeric an optional `min_value` / `max_value`, for categorical
/// `categories` as `label=value` pairs separated by commas (`good=1, ok=0.5, bad=0`; the value
/// is optional), `higher_is_better` (`true`, `false` or blank) and a `description`.
#[server(prefix = "/api/v1", endpoint = "evaluate/configs/create")]
pub async fn create_config(
    name: String,
    data_type: String,
    min_value: Option<String>,
    max_value: Option<String>,
    categories: Option<String>,
    higher_is_better: Option<String>,
    description: Option<String>,
) -> Result<ScoreConfig, AppError> {
    use argus_domain::evals::configs::{self, NewConfig};

    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let new = NewConfig {
        name,
        data_type,
        min_value: configs::number_field("min_value", min_value.as_deref())?,
        max_value: configs::number_field("max_value", max_value.as_deref())?,
        categories: configs::categories_field(categories.as_deref())?,
        higher_is_better: configs::direction_field(higher_is_better.as_deref())?,
        description,
    };
    Ok(configs::create(&services(), access.workspace, access.user(), &new).await?)
}

/// `POST /api/v1/evaluate/configs/archive` (admin): the config checks no new score; the
/// scores it checked keep it.
#[server(prefix = "/api/v1", endpoint = "evaluate/configs/archive")]
pub async fn archive_config(id: Uuid) -> Result<ScoreConfig, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::evals::configs::archive(&services(), access.workspace, id).await?)
}

/// `GET /api/v1/evaluate/evaluators`: the online evaluators, each with what it has done
/// (queued, done, failed and sampled out today, its last errors).
#[server(prefix = "/api/v1", endpoint = "evaluate/evaluators", input = GetUrl)]
pub async fn list_evaluators() -> Result<Vec<Evaluator>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::evals::evaluators::list(&services(), access.workspace).await?)
}

/// An evaluator's definition from a form's fields.
#[cfg(feature = "ssr")]
fn definition(
    name: String,
    target: String,
    sampling: Option<String>,
    score_name: Option<String>,
    daily_limit_usd: Option<String>,
    filter: EvaluatorFilter,
    rule: &RuleForm,
) -> Result<argus_domain::evals::evaluators::NewEvaluator, AppError> {
    use argus_domain::evals::{configs, evaluators};
    Ok(evaluators::NewEvaluator {
        name,
        target,
        filter,
        sampling: configs::number_field("sampling", sampling.as_deref())?,
        rule: evaluators::rule_of(rule)?,
        score_name,
        daily_limit_usd: configs::number_field("daily_limit_usd", daily_limit_usd.as_deref())?,
    })
}

/// `POST /api/v1/evaluate/evaluators/create` (admin): `name`, `target` (`span` or `trace`),
/// `sampling` (0 < s ≤ 1, default 1), `score_name` (default: the name), the filter (`agent`,
/// `environment`, `version`, `model`, `operation`, `span_name`, `status`) and the rule
/// (`rule_type` and its fields: `field`, `value`, `pattern`, `min`, `max`, `max_ms`,
/// `max_usd`, `phrases`; `judge`: `prompt`, with `daily_limit_usd`). It judges the spans that
/// arrive from now on.
#[server(prefix = "/api/v1", endpoint = "evaluate/evaluators/create")]
pub async fn create_evaluator(
    name: String,
    target: String,
    sampling: Option<String>,
    score_name: Option<String>,
    daily_limit_usd: Option<String>,
    #[server(flatten)] filter: EvaluatorFilter,
    #[server(flatten)] rule: RuleForm,
) -> Result<Evaluator, AppError> {
    use argus_domain::evals::evaluators;

    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let new = definition(
        name,
        target,
        sampling,
        score_name,
        daily_limit_usd,
        filter,
        &rule,
    )?;
    Ok(evaluators::create(&services(), access.workspace, access.user(), &new).await?)
}

/// `POST /api/v1/evaluate/evaluators/update` (admin): `id` and the fields of `create` but the
/// target (it stays). The evaluator's version goes up by one: its later scores name it.
#[server(prefix = "/api/v1", endpoint = "evaluate/evaluators/update")]
pub async fn update_evaluator(
    id: uuid::Uuid,
    name: String,
    sampling: Option<String>,
    score_name: Option<String>,
    daily_limit_usd: Option<String>,
    #[server(flatten)] filter: EvaluatorFilter,
    #[server(flatten)] rule: RuleForm,
) -> Result<Evaluator, AppError> {
    use argus_domain::evals::evaluators;

    use super::context::{require, services};
    let access = require(Role::Admin)?;
    // The target stays what it is (update ignores it).
    let new = definition(
        name,
        String::new(),
        sampling,
        score_name,
        daily_limit_usd,
        filter,
        &rule,
    )?;
    Ok(evaluators::update(&services(), access.workspace, id, &new).await?)
}

/// `POST /api/v1/evaluate/evaluators/backfill` (admin): `id` and the dashboard's filters
/// (`range` or `from`/`to`, at most 90 days; `agent`, `env`, `version`, `dept`, `model`): the
/// evaluator runs over what is already stored there (its own filter and sampling apply;
/// what it has scored is skipped), as a job with progress shown on the evaluator.
#[server(prefix = "/api/v1", endpoint = "evaluate/evaluators/backfill")]
pub async fn backfill_evaluator(
    id: Uuid,
    #[server(flatten)] filters: Filters,
) -> Result<argus_types::Backfill, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let window = argus_domain::analytics::resolve(&filters, chrono::Utc::now())?;
    Ok(argus_domain::evals::backfill::start(
        &services(),
        access.workspace,
        access.user(),
        id,
        &window,
    )
    .await?)
}

/// `GET /api/v1/evaluate/judge`: the workspace's judge model (base URL, model, timeout and the
/// last four characters of its key; never the key).
#[server(prefix = "/api/v1", endpoint = "evaluate/judge", input = GetUrl)]
pub async fn get_judge() -> Result<JudgeSettings, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::evals::judge::settings(&services(), access.workspace).await?)
}

/// `POST /api/v1/evaluate/judge/set` (admin): `base_url` (OpenAI-compatible, e.g.
/// `https://api.openai.com/v1`), `model`, `api_key` (sealed at rest; blank keeps the stored
/// one, `-` for none), `timeout_ms`.
#[server(prefix = "/api/v1", endpoint = "evaluate/judge/set")]
pub async fn set_judge(
    base_url: String,
    model: String,
    api_key: Option<String>,
    timeout_ms: Option<String>,
) -> Result<JudgeSettings, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let form = argus_domain::evals::judge::JudgeForm {
        base_url,
        model,
        api_key,
        timeout_ms,
    };
    Ok(
        argus_domain::evals::judge::set(&services(), access.workspace, access.user(), &form)
            .await?,
    )
}

/// `POST /api/v1/evaluate/evaluators/pause` (admin): `id`; it queues nothing until resumed.
#[server(prefix = "/api/v1", endpoint = "evaluate/evaluators/pause")]
pub async fn pause_evaluator(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::evals::evaluators::set_active(
        &services(),
        access.workspace,
        id,
        false,
        Some("paused by an admin"),
    )
    .await?)
}

/// `POST /api/v1/evaluate/evaluators/resume` (admin): `id`.
#[server(prefix = "/api/v1", endpoint = "evaluate/evaluators/resume")]
pub async fn resume_evaluator(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(
        argus_domain::evals::evaluators::set_active(&services(), access.workspace, id, true, None)
            .await?,
    )
}

/// `POST /api/v1/evaluate/evaluators/delete` (admin): `id`; its scores stay.
#[server(prefix = "/api/v1", endpoint = "evaluate/evaluators/delete")]
pub async fn delete_evaluator(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::evals::evaluators::delete(&services(), access.workspace, id).await?)
}

/// `GET /api/v1/evaluate/summary`: every score name over the window (the dashboard's filters:
/// `range` or `from`/`to`, `agent`, `env`, `version`, `dept`), overall and per `by`
/// (`version`, default; `agent`; `environment`) — count, mean, standard deviation, the counts
/// per label — read from the score rollups.
#[server(prefix = "/api/v1", endpoint = "evaluate/summary", input = GetUrl)]
pub async fn get_score_summary(
    #[server(flatten)] filters: Filters,
    by: Option<String>,
    fallback: Option<bool>,
) -> Result<ScoreSummaries, AppError> {
    use argus_domain::analytics;
    use argus_domain::evals::analytics::{summary, Group};

    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let now = chrono::Utc::now();
    let window = if fallback.unwrap_or(false) {
        analytics::resolve_lenient(&filters, now).0
    } else {
        analytics::resolve(&filters, now)?
    };
    let group = Group::parse(by.as_deref())?;
    Ok(summary(&services(), access.workspace, &window, group).await?)
}

/// `GET /api/v1/evaluate/trends`: every score's mean (booleans: the share true) step by step
/// over the window (the dashboard's filters), one line per `by` group (`version`, default;
/// `agent`; `environment`; the busiest six), read from the score rollups.
#[server(prefix = "/api/v1", endpoint = "evaluate/trends", input = GetUrl)]
pub async fn get_score_trends(
    #[server(flatten)] filters: Filters,
    by: Option<String>,
    fallback: Option<bool>,
) -> Result<Vec<argus_types::ScoreTrend>, AppError> {
    use argus_domain::analytics;
    use argus_domain::evals::analytics::{trends, Group};

    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let now = chrono::Utc::now();
    let window = if fallback.unwrap_or(false) {
        analytics::resolve_lenient(&filters, now).0
    } else {
        analytics::resolve(&filters, now)?
    };
    let group = Group::parse(by.as_deref())?;
    Ok(trends(&services(), access.workspace, &window, group).await?)
}

/// `GET /api/v1/evaluate/compare?a=…&b=…`: two versions (of `agent`, when given) score by
/// score over the window: means or shares side by side, the sample sizes, and Welch's t
/// (numbers) or a two-proportion z-test (booleans) with its p-value.
#[server(prefix = "/api/v1", endpoint = "evaluate/compare", input = GetUrl)]
pub async fn compare_versions(
    #[server(flatten)] filters: Filters,
    a: String,
    b: String,
) -> Result<VersionComparison, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let window = argus_domain::analytics::resolve(&filters, chrono::Utc::now())?;
    Ok(
        argus_domain::evals::analytics::compare(&services(), access.workspace, &window, &a, &b)
            .await?,
    )
}
