//! Annotation queues: traces picked by the trace list's filters (sampled), reviewed by members
//! one "next item" at a time against a set of score configs. A reviewer's scores are ordinary
//! annotation scores; the queue keeps who finished or skipped what, shows progress, and
//! measures how two reviewers of the same item agree (Cohen's κ, or the mean absolute
//! difference for numbers).

use std::collections::HashMap;

use argus_types::{Agreement, AnnotationQueue, QueueItem, QueueProgress, ScoreType};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::configs::{clean_name, description_field, sampling_field, Live};
use super::scores::{annotate, Annotation};
use super::stats::cohen_kappa;
use crate::explorer::{fetch_page, TraceQuery};
use crate::identity::UserId;
use crate::ingest::evaluate::sampled;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// Items a queue holds at most.
pub const MAX_ITEMS: i64 = 1_000;
/// Queues a workspace may have.
pub const MAX_QUEUES: i64 = 100;
/// Traces read to fill a queue (the newest first; sampling picks among them).
const FILL_SCAN: i64 = 5_000;

/// A queue as an admin defines it.
#[derive(Clone, Debug, Default)]
pub struct NewQueue {
    pub name: String,
    pub description: Option<String>,
    /// Comma-separated score config names.
    pub configs: String,
    /// 0 < sampling ≤ 1 (default 1).
    pub sampling: Option<f64>,
    /// The trace list's filters, as a query string (kept on the queue).
    pub filter: String,
}

/// Creates a queue and fills it with the traces `query` matches (newest first, sampled, at
/// most [`MAX_ITEMS`]).
pub async fn create(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    new: &NewQueue,
    query: &TraceQuery,
) -> Result<AnnotationQueue> {
    let name = clean_name("name", &new.name)?;
    let description = description_field(new.description.as_deref())?;
    let sampling = sampling_field(new.sampling)?;
    let mut names: Vec<String> = Vec::new();
    for raw in new
        .configs
        .split([',', '\n'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let n = clean_name("configs", raw)?;
        if !names.contains(&n) {
            names.push(n);
        }
    }
    if names.is_empty() || names.len() > 20 {
        return Err(Error::invalid_input(
            "configs",
            "name one to 20 score configs, comma-separated",
        ));
    }
    let id = Uuid::now_v7();
    let rows = fetch_page(&services.pool, workspace, query, None, FILL_SCAN).await?;
    let traces: Vec<String> = rows
        .into_iter()
        .map(|r| r.trace_id)
        .filter(|t| sampled(id, t, sampling))
        .take(MAX_ITEMS as usize)
        .collect();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let live = Live::load(&mut tx, workspace).await?;
    if let Some(missing) = names.iter().find(|n| live.by_name(n).is_none()) {
        return Err(Error::invalid_input(
            "configs",
            format!("{missing:?} is not a live score config; define it first"),
        ));
    }
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM annotation_queues WHERE workspace_id = $1")
            .bind(workspace.0)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_QUEUES {
        return Err(Error::Conflict(format!(
            "a workspace has at most {MAX_QUEUES} annotation queues; delete one first"
        )));
    }
    let inserted = sqlx::query(
        "INSERT INTO annotation_queues (workspace_id, id, name, description, filter, sampling, \
         config_names, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(workspace.0)
    .bind(id)
    .bind(&name)
    .bind(&description)
    .bind(&new.filter)
    .bind(sampling)
    .bind(&names)
    .bind(by.map(|u| u.0))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(Error::AlreadyExists {
            what: format!("an annotation queue named {name:?}"),
        });
    }
    let positions: Vec<i32> = (0..traces.len() as i32).collect();
    sqlx::query(
        "INSERT INTO annotation_items (workspace_id, queue_id, trace_id, position) \
         SELECT $1, $2, * FROM unnest($3::text[], $4::int[]) ON CONFLICT DO NOTHING",
    )
    .bind(workspace.0)
    .bind(id)
    .bind(&traces)
    .bind(&positions)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let by_user = by.unwrap_or(UserId(Uuid::nil()));
    list(services, workspace, by_user)
        .await?
        .into_iter()
        .find(|q| q.id == id)
        .ok_or_else(|| Error::Internal("the new queue is not listed".into()))
}

type QueueRow = (
    Uuid,
    String,
    Option<String>,
    String,
    f64,
    Vec<String>,
    DateTime<Utc>,
);

/// The workspace's queues, newest first, each with its progress (`me`'s own part too) and
/// its reviewers' agreement.
pub async fn list(
    services: &Services,
    workspace: WorkspaceId,
    me: UserId,
) -> Result<Vec<AnnotationQueue>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<QueueRow> = sqlx::query_as(
        "SELECT id, name, description, filter, sampling, config_names, created_at \
         FROM annotation_queues WHERE workspace_id = $1 ORDER BY created_at DESC, id",
    )
    .bind(workspace.0)
    .fetch_all(&mut *tx)
    .await?;
    type Progress = (Uuid, i64, i64, i64, i64, i64);
    let progress: Vec<Progress> = sqlx::query_as(
        "SELECT i.queue_id, count(*), \
           count(*) FILTER (WHERE r.done >= 1), count(*) FILTER (WHERE r.done >= 2), \
           count(*) FILTER (WHERE r.mine = 'done'), count(*) FILTER (WHERE r.mine = 'skipped') \
         FROM annotation_items i \
         LEFT JOIN LATERAL ( \
           SELECT count(*) FILTER (WHERE status = 'done') AS done, \
                  max(status) FILTER (WHERE user_id = $2) AS mine \
           FROM annotation_reviews v WHERE v.workspace_id = i.workspace_id \
             AND v.queue_id = i.queue_id AND v.trace_id = i.trace_id) r ON true \
         WHERE i.workspace_id = $1 GROUP BY i.queue_id",
    )
    .bind(workspace.0)
    .bind(me.0)
    .fetch_all(&mut *tx)
    .await?;
    let live = Live::load(&mut tx, workspace).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, name, description, filter, sampling, config_names, created_at) in rows {
        let agreement = agreement(&mut tx, workspace, id, &config_names, &live).await?;
        let p = progress
            .iter()
            .find(|p| p.0 == id)
            .map(|p| QueueProgress {
                items: p.1,
                reviewed: p.2,
                reviewed_twice: p.3,
                mine_done: p.4,
                mine_skipped: p.5,
            })
            .unwrap_or_default();
        out.push(AnnotationQueue {
            id,
            name,
            description,
            filter,
            sampling,
            config_names,
            created_at,
            progress: p,
            agreement,
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// Per config of the queue: the first two reviewers' scores of each item, compared.
async fn agreement(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    queue: Uuid,
    names: &[String],
    live: &Live,
) -> Result<Vec<Agreement>> {
    type Pair = (
        String,
        Option<f64>,
        Option<String>,
        Option<f64>,
        Option<String>,
    );
    let pairs: Vec<Pair> = sqlx::query_as(
        "WITH s AS ( \
           SELECT sc.trace_id, sc.name, sc.value, sc.string_value, \
             row_number() OVER (PARTITION BY sc.trace_id, sc.name \
                                ORDER BY sc.scored_at, sc.author_user_id) AS k \
           FROM scores sc JOIN annotation_items i ON i.workspace_id = sc.workspace_id \
             AND i.queue_id = $2 AND i.trace_id = sc.trace_id \
           WHERE sc.workspace_id = $1 AND sc.source = 'annotation' AND sc.span_id IS NULL \
             AND sc.name = ANY($3)) \
         SELECT a.name, a.value, a.string_value, b.value, b.string_value \
         FROM s a JOIN s b ON a.trace_id = b.trace_id AND a.name = b.name \
         WHERE a.k = 1 AND b.k = 2",
    )
    .bind(workspace.0)
    .bind(queue)
    .bind(names)
    .fetch_all(conn)
    .await?;
    Ok(names
        .iter()
        .map(|name| {
            let data_type = live
                .by_name(name)
                .map_or(ScoreType::Numeric, |c| c.data_type);
            let mine: Vec<Judged> = pairs
                .iter()
                .filter(|p| &p.0 == name)
                .map(|p| (p.1, p.2.clone(), p.3, p.4.clone()))
                .collect();
            measure(name, data_type, &mine)
        })
        .collect())
}

/// Two judgements of one item: each one's number and label.
pub(crate) type Judged = (Option<f64>, Option<String>, Option<f64>, Option<String>);

/// How two sides agree on `name` over `pairs`: Cohen's κ (and the share that agree exactly)
/// for labels, the mean absolute difference for numbers.
pub(crate) fn measure(name: &str, data_type: ScoreType, pairs: &[Judged]) -> Agreement {
    let mut a = Agreement {
        name: name.to_owned(),
        data_type,
        pairs: pairs.len() as i64,
        observed: None,
        kappa: None,
        mean_abs_diff: None,
    };
    match data_type {
        ScoreType::Numeric => {
            let diffs: Vec<f64> = pairs
                .iter()
                .filter_map(|p| Some((p.0? - p.2?).abs()))
                .collect();
            if !diffs.is_empty() {
                a.mean_abs_diff = Some(diffs.iter().sum::<f64>() / diffs.len() as f64);
                a.observed =
                    Some(diffs.iter().filter(|d| **d < 1e-9).count() as f64 / diffs.len() as f64);
            }
        }
        _ => {
            let labels: Vec<(String, String)> = pairs
                .iter()
                .map(|p| {
                    (
                        p.1.clone().unwrap_or_default(),
                        p.3.clone().unwrap_or_default(),
                    )
                })
                .collect();
            (a.kappa, a.observed) = cohen_kappa(&labels);
        }
    }
    a
}

async fn queue_head(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    queue: Uuid,
) -> Result<(String, Vec<String>)> {
    sqlx::query_as(
        "SELECT name, config_names FROM annotation_queues WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace.0)
    .bind(queue)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::not_found("annotation queue"))
}

/// The next item `me` has neither scored nor skipped — items nobody reviewed yet first, so a
/// second review comes after every item has a first — or `None` when they are through.
pub async fn next(
    services: &Services,
    workspace: WorkspaceId,
    me: UserId,
    queue: Uuid,
) -> Result<Option<QueueItem>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let (queue_name, names) = queue_head(&mut tx, workspace, queue).await?;
    let pending = "FROM annotation_items i WHERE i.workspace_id = $1 AND i.queue_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM annotation_reviews r WHERE r.workspace_id = $1 \
           AND r.queue_id = $2 AND r.trace_id = i.trace_id AND r.user_id = $3) \
         AND EXISTS (SELECT 1 FROM traces t WHERE t.workspace_id = $1 AND t.trace_id = i.trace_id)";
    let remaining: i64 = sqlx::query_scalar(&format!("SELECT count(*) {pending}"))
        .bind(workspace.0)
        .bind(queue)
        .bind(me.0)
        .fetch_one(&mut *tx)
        .await?;
    let picked: Option<String> = sqlx::query_scalar(&format!(
        "SELECT i.trace_id {pending} ORDER BY (SELECT count(*) FROM annotation_reviews r \
           WHERE r.workspace_id = $1 AND r.queue_id = $2 AND r.trace_id = i.trace_id \
           AND r.status = 'done'), i.position LIMIT 1"
    ))
    .bind(workspace.0)
    .bind(queue)
    .bind(me.0)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(trace_id) = picked else {
        tx.commit().await?;
        return Ok(None);
    };
    let (agent, start_time): (String, DateTime<Utc>) = sqlx::query_as(
        "SELECT agent, start_time FROM traces WHERE workspace_id = $1 AND trace_id = $2",
    )
    .bind(workspace.0)
    .bind(&trace_id)
    .fetch_one(&mut *tx)
    .await?;
    let subject = super::subject::trace_subject(&mut tx, workspace, &trace_id, false)
        .await?
        .unwrap_or_default();
    let live = Live::load(&mut tx, workspace).await?;
    tx.commit().await?;
    Ok(Some(QueueItem {
        queue_id: queue,
        queue_name,
        trace_id,
        agent,
        start_time,
        latency_ms: subject.latency_ms,
        input: subject.input,
        output: subject.output,
        configs: names
            .iter()
            .filter_map(|n| live.by_name(n).cloned())
            .collect(),
        remaining,
    }))
}

async fn mark(
    services: &Services,
    workspace: WorkspaceId,
    me: UserId,
    queue: Uuid,
    trace: &str,
    status: &str,
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    sqlx::query(
        "INSERT INTO annotation_reviews (workspace_id, queue_id, trace_id, user_id, status) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, queue_id, trace_id, user_id) \
         DO UPDATE SET status = excluded.status, reviewed_at = now()",
    )
    .bind(workspace.0)
    .bind(queue)
    .bind(trace)
    .bind(me.0)
    .bind(status)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// That `trace` is an item of `queue`; answers the queue's config names.
async fn item_of(
    services: &Services,
    workspace: WorkspaceId,
    queue: Uuid,
    trace: &str,
) -> Result<Vec<String>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let (_, names) = queue_head(&mut tx, workspace, queue).await?;
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT position FROM annotation_items WHERE workspace_id = $1 AND queue_id = $2 \
         AND trace_id = $3",
    )
    .bind(workspace.0)
    .bind(queue)
    .bind(trace)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    found.ok_or_else(|| Error::not_found("item of this queue"))?;
    Ok(names)
}

/// `me` scores an item: one annotation score per config they filled (blank: left out; at least
/// one), with the comment; then the item is done for them.
pub async fn submit(
    services: &Services,
    workspace: WorkspaceId,
    me: UserId,
    queue: Uuid,
    trace: &str,
    values: &HashMap<String, String>,
    comment: Option<String>,
) -> Result<usize> {
    let names = item_of(services, workspace, queue, trace).await?;
    if let Some(other) = values
        .iter()
        .find(|(k, v)| !v.trim().is_empty() && !names.contains(k))
    {
        return Err(Error::invalid_input(
            "values",
            format!("{:?} is not a score of this queue", other.0),
        ));
    }
    let filled: Vec<(&String, &String)> = names
        .iter()
        .filter_map(|n| {
            values
                .get(n)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (n, v))
        })
        .collect();
    if filled.is_empty() {
        return Err(Error::invalid_input(
            "values",
            "score at least one of the queue's configs (or skip the item)",
        ));
    }
    for (name, value) in &filled {
        annotate(
            services,
            workspace,
            me,
            Annotation {
                trace_id: Some(trace.to_owned()),
                span_id: None,
                session_id: None,
                name: (*name).clone(),
                value: (*value).clone(),
                comment: comment.clone(),
            },
        )
        .await
        .map_err(|e| match e {
            Error::InvalidInput { message, .. } => {
                Error::invalid_input(format!("values[{name}]"), message)
            }
            other => other,
        })?;
    }
    mark(services, workspace, me, queue, trace, "done").await?;
    Ok(filled.len())
}

/// `me` skips an item (it stays for the other reviewers).
pub async fn skip(
    services: &Services,
    workspace: WorkspaceId,
    me: UserId,
    queue: Uuid,
    trace: &str,
) -> Result<()> {
    item_of(services, workspace, queue, trace).await?;
    mark(services, workspace, me, queue, trace, "skipped").await
}

/// Deletes a queue and its review marks (the scores stay).
pub async fn delete(services: &Services, workspace: WorkspaceId, queue: Uuid) -> Result<()> {
    tenancy::delete_row(
        &services.pool,
        workspace,
        "annotation_queues",
        queue,
        "annotation queue",
    )
    .await
}
