//! Online evaluators of a workspace: define, list with what they have done, pause, resume,
//! delete. Ingest queues their jobs (`ingest::evaluate`); the worker (`evals::worker`) runs
//! them.

use std::collections::HashMap;

use argus_types::{
    Agreement, EvalTarget, Evaluator, EvaluatorFilter, EvaluatorStats, Rule, RuleField, RuleForm,
    ScoreType,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::configs::clean_name;
use super::queues::{measure, Judged};
use super::rules;
use crate::identity::UserId;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// Evaluators a workspace may have.
pub const MAX_EVALUATORS: i64 = 50;
/// Failures an evaluator shows.
const LAST_ERRORS: i64 = 5;

/// An evaluator as an admin defines it.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
pub struct NewEvaluator {
    pub name: String,
    /// `span` (each matching span) or `trace` (the whole trace, once its root span is in).
    pub target: String,
    #[serde(default)]
    pub filter: EvaluatorFilter,
    /// The share judged, 0 < sampling ≤ 1 (default 1).
    pub sampling: Option<f64>,
    pub rule: Rule,
    /// The score it writes; defaults to the evaluator's name.
    pub score_name: Option<String>,
    /// A judge's spend cap per UTC day, USD.
    #[serde(default)]
    pub daily_limit_usd: Option<f64>,
}

fn clean_filter(f: &EvaluatorFilter) -> Result<EvaluatorFilter> {
    let one = |field: &str, v: &Option<String>| -> Result<Option<String>> {
        match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => clean_name(&format!("filter.{field}"), v).map(Some),
        }
    };
    let status = one("status", &f.status)?;
    if let Some(s) = &status {
        if !matches!(s.as_str(), "ok" | "error") {
            return Err(Error::invalid_input("filter.status", "ok or error"));
        }
    }
    Ok(EvaluatorFilter {
        agent: one("agent", &f.agent)?,
        environment: one("environment", &f.environment)?,
        version: one("version", &f.version)?,
        model: one("model", &f.model)?,
        operation: one("operation", &f.operation)?,
        span_name: one("span_name", &f.span_name)?,
        status,
    })
}

type Row = (
    Uuid,
    String,
    i32,
    String,
    sqlx::types::Json<EvaluatorFilter>,
    f64,
    sqlx::types::Json<Rule>,
    String,
    String,
    Option<String>,
    Option<f64>,
    DateTime<Utc>,
);

const COLUMNS: &str = "id, name, version, target, filter, sampling, rule, score_name, status, \
                       paused_reason, daily_limit_usd, created_at";

fn from_row(row: Row) -> Result<Evaluator> {
    let (id, name, version, target, filter, sampling, rule, score_name, status, reason, limit, at) =
        row;
    Ok(Evaluator {
        id,
        name,
        version,
        target: EvalTarget::parse(&target)
            .ok_or_else(|| Error::Internal(format!("stored target {target:?}")))?,
        filter: filter.0,
        sampling,
        rule: rule.0,
        score_name,
        status,
        paused_reason: reason,
        daily_limit_usd: limit,
        created_at: at,
        stats: EvaluatorStats::default(),
        backfill: None,
        agreement: None,
    })
}

/// The rule a form describes.
pub fn rule_of(form: &RuleForm) -> Result<Rule> {
    let get = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let field = match get(&form.field).as_deref() {
        None | Some("output") => RuleField::Output,
        Some("input") => RuleField::Input,
        Some(other) => {
            return Err(Error::invalid_input(
                "field",
                format!("{other:?}: input or output"),
            ))
        }
    };
    let required = |name: &str, v: &Option<String>| {
        get(v).ok_or_else(|| Error::MissingField { field: name.into() })
    };
    let count = |name: &str, v: &Option<String>| -> Result<Option<u64>> {
        get(v)
            .map(|t| {
                t.parse::<u64>()
                    .map_err(|_| Error::invalid_input(name, format!("{t:?} is not a whole number")))
            })
            .transpose()
    };
    let number = |name: &str, v: &Option<String>| -> Result<f64> {
        let t = required(name, v)?;
        t.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| Error::invalid_input(name, format!("{t:?} is not a number")))
    };
    let kind = required("rule_type", &form.rule_type)?;
    Ok(match kind.as_str() {
        "contains" => Rule::Contains {
            field,
            value: required("value", &form.value)?,
        },
        "not_contains" => Rule::NotContains {
            field,
            value: required("value", &form.value)?,
        },
        "regex" => Rule::Regex {
            field,
            pattern: required("pattern", &form.pattern)?,
        },
        "valid_json" => Rule::ValidJson { field },
        "json_schema" => Rule::JsonSchema {
            field,
            schema: required("schema", &form.schema)?,
        },
        "length" => Rule::Length {
            field,
            min: count("min", &form.min)?,
            max: count("max", &form.max)?,
        },
        "latency_below" => Rule::LatencyBelow {
            max_ms: number("max_ms", &form.max_ms)?,
        },
        "cost_below" => Rule::CostBelow {
            max_usd: number("max_usd", &form.max_usd)?,
        },
        "tool_calls_succeed" => Rule::ToolCallsSucceed,
        "judge" => Rule::Judge {
            prompt: required("prompt", &form.prompt)?,
        },
        "no_refusal" => Rule::NoRefusal {
            phrases: get(&form.phrases)
                .map(|p| {
                    p.split(['\n', ','])
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        },
        other => {
            return Err(Error::invalid_input(
                "rule_type",
                format!(
                    "{other:?} is not a rule (contains, not_contains, regex, valid_json, json_schema, length, \
                     latency_below, cost_below, tool_calls_succeed, no_refusal, judge)"
                ),
            ))
        }
    })
}

/// An evaluator's definition, checked.
struct Checked {
    name: String,
    target: EvalTarget,
    sampling: f64,
    filter: EvaluatorFilter,
    score_name: String,
    limit: Option<f64>,
}

/// Checks a definition: the fields, the rule, the judge model when it needs one, and the
/// score's config (a rule writes a boolean).
async fn checked(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    new: &NewEvaluator,
) -> Result<Checked> {
    let name = clean_name("name", &new.name)?;
    let target = EvalTarget::parse(&new.target)
        .ok_or_else(|| Error::invalid_input("target", "span or trace"))?;
    let sampling = super::configs::sampling_field(new.sampling)?;
    rules::compile(&new.rule)?;
    let filter = clean_filter(&new.filter)?;
    let score_name = match new.score_name.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => clean_name("score_name", s)?,
        _ => name.clone(),
    };
    let judged = matches!(new.rule, Rule::Judge { .. });
    let limit = match new.daily_limit_usd {
        None => None,
        Some(l) if l.is_finite() && l > 0.0 && l < 1e9 => Some(l),
        Some(_) => {
            return Err(Error::invalid_input(
                "daily_limit_usd",
                "a positive number of USD (leave it out for no limit)",
            ))
        }
    };
    if limit.is_some() && !judged {
        return Err(Error::invalid_input(
            "daily_limit_usd",
            "only a judge spends: rules run in process for free",
        ));
    }
    if judged {
        let (set,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM judges WHERE workspace_id = $1)")
                .bind(workspace.0)
                .fetch_one(&mut *conn)
                .await?;
        if !set {
            return Err(Error::invalid_input(
                "rule_type",
                "set up the workspace's judge model first (Evaluations → Judge model)",
            ));
        }
    }
    let configs = super::configs::Live::load(&mut *conn, workspace).await?;
    if let Some(c) = configs.by_name(&score_name) {
        if !judged && c.data_type != ScoreType::Boolean {
            return Err(Error::invalid_input(
                "score_name",
                format!(
                    "{score_name} is {} by its config; a rule writes a boolean score",
                    c.data_type
                ),
            ));
        }
    }
    Ok(Checked {
        name,
        target,
        sampling,
        filter,
        score_name,
        limit,
    })
}

/// Defines an evaluator (active at once: the next spans that match are judged).
pub async fn create(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    new: &NewEvaluator,
) -> Result<Evaluator> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let Checked {
        name,
        target,
        sampling,
        filter,
        score_name,
        limit,
    } = checked(&mut tx, workspace, new).await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM evaluators WHERE workspace_id = $1")
            .bind(workspace.0)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_EVALUATORS {
        return Err(Error::Conflict(format!(
            "a workspace has at most {MAX_EVALUATORS} evaluators; delete one first"
        )));
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "INSERT INTO evaluators (workspace_id, id, name, target, filter, sampling, rule, \
         score_name, created_by, daily_limit_usd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(workspace.0)
    .bind(Uuid::now_v7())
    .bind(&name)
    .bind(target.as_str())
    .bind(sqlx::types::Json(&filter))
    .bind(sampling)
    .bind(sqlx::types::Json(&new.rule))
    .bind(&score_name)
    .bind(by.map(|u| u.0))
    .bind(limit)
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or_else(|| Error::AlreadyExists {
        what: format!("an evaluator named {name:?}"),
    })?;
    tx.commit().await?;
    from_row(row)
}

/// Changes an evaluator's definition (`new.target` is ignored: a span evaluator stays one):
/// its version goes up by one, so the scores it gives from now on say which definition gave them.
/// Jobs already queued are judged by the new definition.
pub async fn update(
    services: &Services,
    workspace: WorkspaceId,
    id: Uuid,
    new: &NewEvaluator,
) -> Result<Evaluator> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let current: Option<String> = sqlx::query_scalar(
        "SELECT target FROM evaluators WHERE workspace_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(workspace.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let target = current.ok_or_else(|| Error::not_found("evaluator"))?;
    let new = &NewEvaluator {
        target,
        ..new.clone()
    };
    let c = checked(&mut tx, workspace, new).await?;
    let taken: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM evaluators WHERE workspace_id = $1 AND name = $2 AND id <> $3",
    )
    .bind(workspace.0)
    .bind(&c.name)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if taken.is_some() {
        return Err(Error::AlreadyExists {
            what: format!("an evaluator named {:?}", c.name),
        });
    }
    let row: Row = sqlx::query_as(&format!(
        "UPDATE evaluators SET name = $3, filter = $4, sampling = $5, rule = $6, score_name = $7, \
         daily_limit_usd = $8, version = version + 1, updated_at = now() \
         WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(workspace.0)
    .bind(id)
    .bind(&c.name)
    .bind(sqlx::types::Json(&c.filter))
    .bind(c.sampling)
    .bind(sqlx::types::Json(&new.rule))
    .bind(&c.score_name)
    .bind(c.limit)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    from_row(row)
}

/// The workspace's evaluators, oldest first, each with what it has done.
pub async fn list(services: &Services, workspace: WorkspaceId) -> Result<Vec<Evaluator>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM evaluators WHERE workspace_id = $1 ORDER BY created_at, id"
    ))
    .bind(workspace.0)
    .fetch_all(&mut *tx)
    .await?;
    let mut out = rows.into_iter().map(from_row).collect::<Result<Vec<_>>>()?;
    let queued: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT evaluator_id, count(*) FROM eval_jobs WHERE workspace_id = $1 \
         AND status IN ('queued', 'running') GROUP BY evaluator_id",
    )
    .bind(workspace.0)
    .fetch_all(&mut *tx)
    .await?;
    let today: Vec<(Uuid, i64, i64, i64, f64)> = sqlx::query_as(
        "SELECT evaluator_id, done, failed, skipped, spent_usd FROM evaluator_daily \
         WHERE workspace_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date",
    )
    .bind(workspace.0)
    .fetch_all(&mut *tx)
    .await?;
    let errors: Vec<(Uuid, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT evaluator_id, finished_at, last_error FROM ( \
           SELECT evaluator_id, finished_at, coalesce(last_error, '') AS last_error, \
             row_number() OVER (PARTITION BY evaluator_id ORDER BY finished_at DESC) AS n \
           FROM eval_jobs WHERE workspace_id = $1 AND status = 'failed' \
             AND finished_at IS NOT NULL) e \
         WHERE n <= $2 ORDER BY finished_at DESC",
    )
    .bind(workspace.0)
    .bind(LAST_ERRORS)
    .fetch_all(&mut *tx)
    .await?;
    let backfills = super::backfill::latest(&mut tx, workspace).await?;
    let people = people_agreement(&mut tx, workspace).await?;
    tx.commit().await?;
    for e in &mut out {
        e.agreement = people.get(&e.id).cloned();
        e.stats.queued = queued
            .iter()
            .find(|(id, _)| *id == e.id)
            .map_or(0, |(_, n)| *n);
        if let Some((_, done, failed, skipped, spent)) = today.iter().find(|t| t.0 == e.id) {
            e.stats.done_today = *done;
            e.stats.failed_today = *failed;
            e.stats.skipped_today = *skipped;
            e.stats.spent_today_usd = *spent;
        }
        e.backfill = backfills.iter().find(|b| b.evaluator_id == e.id).cloned();
        e.stats.last_errors = errors
            .iter()
            .filter(|(id, _, _)| *id == e.id)
            .map(|(_, at, why)| (*at, why.clone()))
            .collect();
    }
    Ok(out)
}

/// Annotations (the newest this many) looked at for evaluator–people agreement.
const AGREEMENT_SCAN: i64 = 5_000;

/// Per evaluator: where a person scored the same trace or span under the same name as the
/// evaluator did, how the two agree (the evaluator's latest score against each annotation).
async fn people_agreement(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
) -> Result<HashMap<Uuid, Agreement>> {
    type Row = (
        Uuid,
        String,
        String,
        Option<f64>,
        Option<String>,
        Option<f64>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "WITH a AS (SELECT trace_id, span_id, name, value, string_value FROM scores \
           WHERE workspace_id = $1 AND source = 'annotation' AND trace_id IS NOT NULL \
           ORDER BY scored_at DESC LIMIT $2) \
         SELECT e.evaluator_id, a.name, e.data_type, e.value, e.string_value, a.value, \
           a.string_value \
         FROM a JOIN LATERAL ( \
           SELECT evaluator_id, data_type, value, string_value FROM scores s \
           WHERE s.workspace_id = $1 AND s.trace_id = a.trace_id \
             AND s.span_id IS NOT DISTINCT FROM a.span_id AND s.name = a.name \
             AND s.source = 'evaluator' AND s.evaluator_id IS NOT NULL \
           ORDER BY s.scored_at DESC LIMIT 1) e ON true",
    )
    .bind(workspace.0)
    .bind(AGREEMENT_SCAN)
    .fetch_all(&mut *conn)
    .await?;
    let mut grouped: HashMap<Uuid, (String, ScoreType, Vec<Judged>)> = HashMap::new();
    for (evaluator, name, data_type, ev, es, pv, ps) in rows {
        let entry = grouped.entry(evaluator).or_insert_with(|| {
            (
                name,
                ScoreType::parse(&data_type).unwrap_or(ScoreType::Numeric),
                Vec::new(),
            )
        });
        entry.2.push((ev, es, pv, ps));
    }
    Ok(grouped
        .into_iter()
        .map(|(id, (name, data_type, pairs))| (id, measure(&name, data_type, &pairs)))
        .collect())
}

/// Pauses (`active = false`, with the reason) or resumes an evaluator. Paused, it queues
/// nothing new, and its waiting jobs are dropped when they come up.
pub async fn set_active(
    services: &Services,
    workspace: WorkspaceId,
    id: Uuid,
    active: bool,
    reason: Option<&str>,
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let done = sqlx::query(
        "UPDATE evaluators SET status = $3, paused_reason = $4, updated_at = now() \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace.0)
    .bind(id)
    .bind(if active { "active" } else { "paused" })
    .bind(if active { None } else { reason })
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound {
            what: "evaluator".into(),
        });
    }
    Ok(())
}

/// Deletes an evaluator and its queue (its scores stay).
pub async fn delete(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    tenancy::delete_row(&services.pool, workspace, "evaluators", id, "evaluator").await
}
