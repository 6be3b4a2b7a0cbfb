//! Scores stored in one statement (idempotent by id), listed newest first in cursor pages,
//! deleted by an admin.

use std::collections::HashMap;

use argus_types::{CursorMeta, Score, ScoreAuthor, ScorePage, ScoreSource, ScoreType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::check::{check, derived_id, NewScore, ScoreRow, MAX_SCORES};
use super::configs::Live;
use super::rollup::{self, Counted};
use crate::db::column;
use crate::explorer::cursor::{Direction, Position, Sort};
use crate::identity::UserId;
use crate::ingest::native::{span_key, trace_key, ItemError};
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// Who stores a batch of scores.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub source: ScoreSource,
    pub author: ScoreAuthor,
}

/// The answer to a batch: 200 when all were stored, else 207 with the refused ones.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScoreOutcome {
    /// Stored now.
    pub accepted: usize,
    /// Already stored under the same id (nothing changed).
    pub duplicates: usize,
    pub rejected: Vec<ItemError>,
    /// The ids of the stored and duplicate scores, in the request's order.
    pub ids: Vec<Uuid>,
}

/// The body of `POST /api/v1/evaluate/scores` (for the OpenAPI document; the handler reads
/// item by item).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
pub struct ScoreBatch {
    /// At most 1,000.
    pub scores: Vec<NewScore>,
}

/// The dashboard dimensions of the scored traces and sessions (the newest trace of a session).
async fn dimensions(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    rows: &[ScoreRow],
) -> Result<HashMap<String, [Option<String>; 4]>> {
    let traces: Vec<String> = rows.iter().filter_map(|r| r.trace_id.clone()).collect();
    let sessions: Vec<String> = rows.iter().filter_map(|r| r.session_id.clone()).collect();
    let mut out = HashMap::new();
    type Dims = (String, String, String, String, String);
    if !traces.is_empty() {
        let found: Vec<Dims> = sqlx::query_as(
            "SELECT trace_id, agent, department, environment, version FROM traces \
             WHERE workspace_id = $1 AND trace_id = ANY($2)",
        )
        .bind(workspace.0)
        .bind(&traces)
        .fetch_all(&mut *conn)
        .await?;
        for (id, a, d, e, v) in found {
            out.insert(format!("t:{id}"), [Some(a), Some(d), Some(e), Some(v)]);
        }
    }
    if !sessions.is_empty() {
        let found: Vec<Dims> = sqlx::query_as(
            "SELECT DISTINCT ON (session_id) session_id, agent, department, environment, version \
             FROM traces WHERE workspace_id = $1 AND session_id = ANY($2) \
             ORDER BY session_id, start_time DESC",
        )
        .bind(workspace.0)
        .bind(&sessions)
        .fetch_all(&mut *conn)
        .await?;
        for (id, a, d, e, v) in found {
            out.insert(format!("s:{id}"), [Some(a), Some(d), Some(e), Some(v)]);
        }
    }
    Ok(out)
}

/// Stores checked scores on `conn` (inside the caller's workspace transaction); answers which
/// ids were new.
pub async fn insert(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    provenance: &Provenance,
    rows: &[ScoreRow],
) -> Result<Vec<Uuid>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let dims = dimensions(conn, workspace, rows).await?;
    let dim = |r: &ScoreRow, i: usize| {
        let key = match (&r.trace_id, &r.session_id) {
            (Some(t), _) => format!("t:{t}"),
            (None, Some(s)) => format!("s:{s}"),
            (None, None) => return None,
        };
        dims.get(&key).and_then(|d| d[i].clone())
    };
    let a = &provenance.author;
    let rows_inserted: Vec<(Uuid,)> = sqlx::query_as(
        "INSERT INTO scores (workspace_id, id, trace_id, span_id, session_id, name, data_type, \
         value, string_value, explanation, config_id, scored_at, agent, department, environment, \
         version, source, author_user_id, api_key_id, evaluator_id, evaluator_version, \
         judge_model) \
         SELECT $1, u.*, $17, $18, $19, $20, $21, $22 FROM unnest($2::uuid[], $3::text[], \
         $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::text[], $10::text[], \
         $11::uuid[], $12::timestamptz[], $13::text[], $14::text[], $15::text[], $16::text[]) \
         AS u ON CONFLICT (workspace_id, id) DO NOTHING RETURNING id",
    )
    .bind(workspace.0)
    .bind(column(rows, |r| r.id))
    .bind(column(rows, |r| r.trace_id.clone()))
    .bind(column(rows, |r| r.span_id.clone()))
    .bind(column(rows, |r| r.session_id.clone()))
    .bind(column(rows, |r| r.name.clone()))
    .bind(column(rows, |r| r.data_type.as_str()))
    .bind(column(rows, |r| r.value))
    .bind(column(rows, |r| r.string_value.clone()))
    .bind(column(rows, |r| r.explanation.clone()))
    .bind(column(rows, |r| r.config_id))
    .bind(column(rows, |r| r.scored_at))
    .bind(column(rows, |r| dim(r, 0)))
    .bind(column(rows, |r| dim(r, 1)))
    .bind(column(rows, |r| dim(r, 2)))
    .bind(column(rows, |r| dim(r, 3)))
    .bind(provenance.source.as_str())
    .bind(a.user_id)
    .bind(a.api_key_id)
    .bind(a.evaluator_id)
    .bind(a.evaluator_version)
    .bind(&a.judge_model)
    .fetch_all(&mut *conn)
    .await?;
    let new: Vec<Uuid> = rows_inserted.into_iter().map(|(id,)| id).collect();
    // The rollups count what is new (each id once).
    let mut fresh: std::collections::HashSet<Uuid> = new.iter().copied().collect();
    let counted: Vec<Counted> = rows
        .iter()
        .filter(|r| fresh.remove(&r.id))
        .map(|r| Counted {
            at: r.scored_at,
            name: r.name.clone(),
            data_type: r.data_type,
            value: r.value,
            string_value: r.string_value.clone(),
            agent: dim(r, 0),
            department: dim(r, 1),
            environment: dim(r, 2),
            version: dim(r, 3),
        })
        .collect();
    rollup::apply(conn, workspace, &counted, 1).await?;
    Ok(new)
}

/// Deletes scores by id and takes them out of the rollups; answers how many were deleted.
async fn remove(conn: &mut PgConnection, workspace: WorkspaceId, ids: &[Uuid]) -> Result<usize> {
    type Gone = (
        DateTime<Utc>,
        String,
        String,
        Option<f64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let gone: Vec<Gone> = sqlx::query_as(
        "DELETE FROM scores WHERE workspace_id = $1 AND id = ANY($2) RETURNING scored_at, name, \
         data_type, value, string_value, agent, department, environment, version",
    )
    .bind(workspace.0)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let counted: Vec<Counted> = gone
        .into_iter()
        .filter_map(
            |(
                at,
                name,
                data_type,
                value,
                string_value,
                agent,
                department,
                environment,
                version,
            )| {
                Some(Counted {
                    at,
                    name,
                    data_type: ScoreType::parse(&data_type)?,
                    value,
                    string_value,
                    agent,
                    department,
                    environment,
                    version,
                })
            },
        )
        .collect();
    rollup::apply(conn, workspace, &counted, -1).await?;
    Ok(counted.len())
}

/// An [`Error`] about one item, as the batch reports it.
pub fn item_failure(index: usize, error: Error) -> ItemError {
    let envelope = error.to_envelope();
    let field = match &error {
        Error::InvalidInput { field, .. } | Error::MissingField { field } => {
            format!("scores[{index}].{field}")
        }
        _ => format!("scores[{index}]"),
    };
    ItemError {
        index,
        code: envelope.error.code,
        message: envelope.error.message,
        field: Some(field),
    }
}

/// Stores checked rows in their own transaction; answers the ids that were new.
pub async fn store(
    services: &Services,
    workspace: WorkspaceId,
    provenance: &Provenance,
    rows: &[ScoreRow],
) -> Result<Vec<Uuid>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let new = insert(&mut tx, workspace, provenance, rows).await?;
    tx.commit().await?;
    Ok(new)
}

/// `POST /api/v1/evaluate/scores`: reads `{"scores": [...]}`, checks each, stores the good
/// ones. One bad score never sinks the batch.
pub async fn store_batch(
    services: &Services,
    workspace: WorkspaceId,
    provenance: &Provenance,
    body: &[u8],
) -> Result<ScoreOutcome> {
    #[derive(Deserialize)]
    struct Batch {
        scores: Option<Vec<Value>>,
    }
    let batch: Batch = serde_json::from_slice(body).map_err(|e| Error::InvalidFormat {
        message: format!("the body is not a JSON object {{\"scores\": [...]}}: {e}"),
        location: Some(format!("line {}, column {}", e.line(), e.column())),
    })?;
    let items = batch.scores.ok_or_else(|| Error::MissingField {
        field: "scores".into(),
    })?;
    if items.len() > MAX_SCORES {
        return Err(Error::invalid_input(
            "scores",
            format!("at most {MAX_SCORES} scores a request"),
        ));
    }
    let now = Utc::now();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let configs = Live::load(&mut tx, workspace).await?;
    let mut rows = Vec::with_capacity(items.len());
    let mut outcome = ScoreOutcome::default();
    for (i, item) in items.into_iter().enumerate() {
        let checked = serde_json::from_value::<NewScore>(item)
            .map_err(|e| Error::InvalidFormat {
                message: format!("not a score: {e}"),
                location: None,
            })
            .and_then(|new| check(&new, &configs, now));
        match checked {
            Ok(row) => rows.push(row),
            Err(e) => outcome.rejected.push(item_failure(i, e)),
        }
    }
    let new = insert(&mut tx, workspace, provenance, &rows).await?;
    tx.commit().await?;
    outcome.accepted = new.len();
    outcome.ids = rows.iter().map(|r| r.id).collect();
    outcome.ids.dedup();
    outcome.duplicates = outcome.ids.len().saturating_sub(new.len());
    Ok(outcome)
}

/// What a list of scores is narrowed to.
#[derive(Clone, Debug, Default)]
pub struct ScoreQuery {
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub session_id: Option<String>,
    pub name: Option<String>,
    pub source: Option<ScoreSource>,
    pub agent: Option<String>,
    pub department: Option<String>,
    pub environment: Option<String>,
    pub version: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: u32,
}

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// A stored score as read (the reviewer's email joined from users).
#[derive(sqlx::FromRow)]
struct ScoreDbRow {
    id: Uuid,
    trace_id: Option<String>,
    span_id: Option<String>,
    session_id: Option<String>,
    name: String,
    data_type: String,
    value: Option<f64>,
    string_value: Option<String>,
    explanation: Option<String>,
    source: String,
    author_user_id: Option<Uuid>,
    user_email: Option<String>,
    api_key_id: Option<Uuid>,
    evaluator_id: Option<Uuid>,
    evaluator_version: Option<i32>,
    judge_model: Option<String>,
    config_id: Option<Uuid>,
    agent: Option<String>,
    version: Option<String>,
    environment: Option<String>,
    scored_at: DateTime<Utc>,
}

/// The columns of [`ScoreDbRow`] (`s` is scores).
const SCORE_COLUMNS: &str = "s.id, s.trace_id, s.span_id, s.session_id, s.name, s.data_type, \
     s.value, s.string_value, s.explanation, s.source, s.author_user_id, \
     (SELECT u.email FROM users u WHERE u.id = s.author_user_id) AS user_email, s.api_key_id, \
     s.evaluator_id, s.evaluator_version, s.judge_model, s.config_id, s.agent, s.version, \
     s.environment, s.scored_at";

fn score_of(row: ScoreDbRow) -> Result<Score> {
    Ok(Score {
        id: row.id,
        trace_id: row.trace_id,
        span_id: row.span_id,
        session_id: row.session_id,
        data_type: ScoreType::parse(&row.data_type)
            .ok_or_else(|| Error::Internal(format!("stored score type {:?}", row.data_type)))?,
        name: row.name,
        value: row.value,
        string_value: row.string_value,
        explanation: row.explanation,
        source: ScoreSource::parse(&row.source)
            .ok_or_else(|| Error::Internal(format!("stored score source {:?}", row.source)))?,
        author: ScoreAuthor {
            user_id: row.author_user_id,
            user_email: row.user_email,
            api_key_id: row.api_key_id,
            evaluator_id: row.evaluator_id,
            evaluator_version: row.evaluator_version,
            judge_model: row.judge_model,
        },
        config_id: row.config_id,
        agent: row.agent,
        version: row.version,
        environment: row.environment,
        scored_at: row.scored_at,
    })
}

/// A page of scores, newest first.
pub async fn list(
    services: &Services,
    workspace: WorkspaceId,
    q: &ScoreQuery,
) -> Result<ScorePage> {
    let limit = match q.limit {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    let position = match q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Some(services.cursors.decode(c)?),
        None => None,
    };
    let after: Option<(DateTime<Utc>, Uuid)> = match &position {
        Some(p) => {
            let micros: i64 = p.key.parse().map_err(|_| Error::InvalidFormat {
                message: "invalid cursor: use a next_cursor as given".into(),
                location: Some("cursor".into()),
            })?;
            let at =
                DateTime::from_timestamp_micros(micros).ok_or_else(|| Error::InvalidFormat {
                    message: "invalid cursor: use a next_cursor as given".into(),
                    location: Some("cursor".into()),
                })?;
            let id = Uuid::parse_str(&p.id).map_err(|_| Error::InvalidFormat {
                message: "invalid cursor: use a next_cursor as given".into(),
                location: Some("cursor".into()),
            })?;
            Some((at, id))
        }
        None => None,
    };
    let trace_id = q.trace_id.as_deref().map(trace_key);
    let span_id = match (&q.trace_id, &q.span_id) {
        (Some(t), Some(s)) => Some(span_key(t, s)),
        (None, Some(_)) => {
            return Err(Error::invalid_input(
                "span_id",
                "filter spans together with their trace_id",
            ))
        }
        _ => None,
    };
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let mut rows: Vec<ScoreDbRow> = sqlx::query_as(&format!(
        "SELECT {SCORE_COLUMNS} FROM scores s WHERE s.workspace_id = $1 \
         AND ($2::text IS NULL OR s.trace_id = $2) AND ($3::text IS NULL OR s.span_id = $3) \
         AND ($4::text IS NULL OR s.session_id = $4) AND ($5::text IS NULL OR s.name = $5) \
         AND ($6::text IS NULL OR s.source = $6) AND ($7::text IS NULL OR s.agent = $7) \
         AND ($8::text IS NULL OR s.environment = $8) AND ($9::text IS NULL OR s.version = $9) \
         AND ($10::timestamptz IS NULL OR s.scored_at >= $10) \
         AND ($11::timestamptz IS NULL OR s.scored_at < $11) \
         AND ($12::timestamptz IS NULL OR (s.scored_at, s.id) < ($12, $13)) \
         AND ($15::text IS NULL OR s.department = $15) \
         ORDER BY s.scored_at DESC, s.id DESC LIMIT $14"
    ))
    .bind(workspace.0)
    .bind(&trace_id)
    .bind(&span_id)
    .bind(&q.session_id)
    .bind(&q.name)
    .bind(q.source.map(|s| s.as_str()))
    .bind(&q.agent)
    .bind(&q.environment)
    .bind(&q.version)
    .bind(q.from)
    .bind(q.to)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(i64::from(limit) + 1)
    .bind(&q.department)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data = rows.into_iter().map(score_of).collect::<Result<Vec<_>>>()?;
    let next_cursor = has_more.then(|| data.last()).flatten().map(|last| {
        services.cursors.encode(&Position {
            sort: Sort::Time,
            direction: Direction::After,
            key: last.scored_at.timestamp_micros().to_string(),
            id: last.id.to_string(),
        })
    });
    Ok(ScorePage {
        data,
        meta: CursorMeta {
            next_cursor,
            prev_cursor: None,
            has_more,
            sort: "time".into(),
            limit,
        },
    })
}

/// The scores of one trace (its spans' too), oldest first: what a trace page lists. A trace
/// that is neither stored nor scored in the workspace is not found.
pub async fn of_trace(
    services: &Services,
    workspace: WorkspaceId,
    trace_id: &str,
) -> Result<Vec<Score>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<ScoreDbRow> = sqlx::query_as(&format!(
        "SELECT {SCORE_COLUMNS} FROM scores s WHERE s.workspace_id = $1 AND s.trace_id = $2 \
         ORDER BY s.scored_at, s.id LIMIT 1000"
    ))
    .bind(workspace.0)
    .bind(trace_key(trace_id))
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        // No scores: a 404 when the trace is not this workspace's either.
        exists(&mut tx, workspace, Some(trace_id), None, None).await?;
    }
    tx.commit().await?;
    rows.into_iter().map(score_of).collect()
}

/// A score a member gives by hand (a form's fields, as strings).
#[derive(Clone, Debug, Default)]
pub struct Annotation {
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub session_id: Option<String>,
    pub name: String,
    /// As typed: a number, `true`/`false`, a label or a text, read by the config's type.
    pub value: String,
    pub comment: Option<String>,
}

/// Whether the scored trace, span or session is stored in the workspace (a person scores
/// what they see; the API and OpenTelemetry may score what has not arrived yet).
async fn exists(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    trace: Option<&str>,
    span: Option<&str>,
    session: Option<&str>,
) -> Result<()> {
    // A span's id is read with its trace's id as the client gave it.
    let span = match (trace, span) {
        (Some(t), Some(s)) => Some(span_key(t, s)),
        _ => None,
    };
    let trace = trace.map(trace_key);
    let (what, found): (&str, bool) = match (&trace, &span, session) {
        (Some(t), Some(s), _) => (
            "span",
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM spans WHERE workspace_id = $1 AND trace_id = $2 \
                 AND span_id = $3)",
            )
            .bind(workspace.0)
            .bind(t)
            .bind(s)
            .fetch_one(&mut *conn)
            .await?,
        ),
        (Some(t), None, _) => (
            "trace",
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM traces WHERE workspace_id = $1 AND trace_id = $2)",
            )
            .bind(workspace.0)
            .bind(t)
            .fetch_one(&mut *conn)
            .await?,
        ),
        (None, _, Some(session)) => (
            "session",
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM traces WHERE workspace_id = $1 AND session_id = $2)",
            )
            .bind(workspace.0)
            .bind(session)
            .fetch_one(&mut *conn)
            .await?,
        ),
        (None, _, None) => ("trace", false),
    };
    if found {
        Ok(())
    } else {
        Err(Error::NotFound { what: what.into() })
    }
}

/// Stores a member's annotation. The name must have a live config: people score against
/// the workspace's definitions. Scoring the same target and name again replaces their score.
pub async fn annotate(
    services: &Services,
    workspace: WorkspaceId,
    user: UserId,
    a: Annotation,
) -> Result<Score> {
    let now = Utc::now();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let blank = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let trace_id = blank(a.trace_id);
    let span_id = blank(a.span_id);
    let session_id = blank(a.session_id);
    exists(
        &mut tx,
        workspace,
        trace_id.as_deref(),
        span_id.as_deref(),
        session_id.as_deref(),
    )
    .await?;
    let configs = Live::load(&mut tx, workspace).await?;
    let name = a.name.trim();
    let config = configs.by_name(name).ok_or_else(|| {
        Error::invalid_input(
            "name",
            format!("{name:?} has no score config; an admin defines it under Evaluations"),
        )
    })?;
    let typed = a.value.trim();
    let value =
        match config.data_type {
            ScoreType::Numeric => Value::from(typed.parse::<f64>().map_err(|_| {
                Error::invalid_input("value", format!("{typed:?} is not a number"))
            })?),
            _ => Value::String(typed.to_owned()),
        };
    // One score per reviewer, target and name: a second annotation replaces the first.
    let target = [
        trace_id.as_deref().unwrap_or(""),
        span_id.as_deref().unwrap_or(""),
        session_id.as_deref().unwrap_or(""),
    ]
    .join("/");
    let new = NewScore {
        id: Some(derived_id(&["annotation", &user.0.to_string(), &target, name]).to_string()),
        trace_id,
        span_id,
        session_id,
        name: Some(name.to_owned()),
        value: Some(value),
        explanation: a.comment,
        ..NewScore::default()
    };
    let row = check(&new, &configs, now)?;
    remove(&mut tx, workspace, &[row.id]).await?;
    let provenance = Provenance {
        source: ScoreSource::Annotation,
        author: ScoreAuthor {
            user_id: Some(user.0),
            ..ScoreAuthor::default()
        },
    };
    insert(&mut tx, workspace, &provenance, std::slice::from_ref(&row)).await?;
    let stored: ScoreDbRow = sqlx::query_as(&format!(
        "SELECT {SCORE_COLUMNS} FROM scores s WHERE s.workspace_id = $1 AND s.id = $2"
    ))
    .bind(workspace.0)
    .bind(row.id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    score_of(stored)
}

/// Deletes one score.
pub async fn delete(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let done = remove(&mut tx, workspace, &[id]).await?;
    tx.commit().await?;
    if done == 0 {
        return Err(Error::NotFound {
            what: "score".into(),
        });
    }
    Ok(())
}
