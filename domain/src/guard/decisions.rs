//! Every check's decision, recorded off the request path: a check adds its decision to
//! [`Recorder`] and answers; the server writes what gathered every [`FLUSH_EVERY`] — per
//! workspace, one statement that stores the decisions (the agent's department looked up
//! there) and adds them to the hourly and daily rollups. Then the reads: recent decisions,
//! a trace's, and the Guardrails page's summary from the rollups.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use argus_types::{
    GuardAction, GuardBucket, GuardCount, GuardDecision, GuardShadow, GuardStage, GuardSummary,
    GuardViolation,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::analytics;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// How often the server writes gathered decisions.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Decisions kept while the database is unreachable; beyond, the oldest are dropped (and
/// counted in the log).
pub const MAX_PENDING: usize = 200_000;
/// The most decisions a page lists.
pub const MAX_LIST: i64 = 200;

/// A decision waiting to be written.
#[derive(Clone, Debug)]
pub struct Pending {
    pub workspace: WorkspaceId,
    pub at: DateTime<Utc>,
    pub policy_id: Uuid,
    pub policy_name: String,
    pub policy_version: i32,
    /// `api` or `ingest`.
    pub source: &'static str,
    pub stage: GuardStage,
    pub agent: String,
    pub environment: String,
    pub action: GuardAction,
    pub would: GuardAction,
    pub shadow: bool,
    pub violations: Vec<GuardViolation>,
    pub excerpt: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub duration_us: i32,
}

/// Decisions gathered since the last write.
#[derive(Debug, Default)]
pub struct Recorder {
    pending: Mutex<Vec<Pending>>,
}

impl Recorder {
    pub fn record(&self, decision: Pending) {
        let mut pending = self.pending.lock().expect("guard decisions lock");
        if pending.len() >= MAX_PENDING {
            let excess = pending.len() + 1 - MAX_PENDING;
            pending.drain(..excess);
            tracing::warn!(
                dropped = excess,
                "guardrail decisions dropped: the database is behind"
            );
        }
        pending.push(decision);
    }

    pub fn pending(&self) -> usize {
        self.pending.lock().expect("guard decisions lock").len()
    }

    /// Writes what gathered; answers how many were written. On a database error the
    /// workspace's decisions are kept for the next write.
    pub async fn flush(&self, pool: &sqlx::PgPool) -> Result<usize> {
        let taken = std::mem::take(&mut *self.pending.lock().expect("guard decisions lock"));
        if taken.is_empty() {
            return Ok(0);
        }
        let mut by_workspace: HashMap<WorkspaceId, Vec<Pending>> = HashMap::new();
        for d in taken {
            by_workspace.entry(d.workspace).or_default().push(d);
        }
        let mut written = 0;
        let mut first_error = None;
        for (workspace, decisions) in by_workspace {
            match write(pool, workspace, &decisions).await {
                Ok(()) => written += decisions.len(),
                Err(e) => {
                    let mut pending = self.pending.lock().expect("guard decisions lock");
                    let room = MAX_PENDING.saturating_sub(pending.len());
                    pending.extend(decisions.into_iter().take(room));
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }
}

/// Writes the decisions every [`FLUSH_EVERY`] until the process stops.
pub async fn write_forever(services: Services) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = services.guard_decisions.flush(&services.pool).await {
            tracing::warn!(error = ?e, "writing guardrail decisions failed; will retry");
        }
    }
}

async fn write(pool: &sqlx::PgPool, workspace: WorkspaceId, ds: &[Pending]) -> Result<()> {
    let col = |f: fn(&Pending) -> String| ds.iter().map(f).collect::<Vec<String>>();
    let at: Vec<DateTime<Utc>> = ds.iter().map(|d| d.at).collect();
    let ids: Vec<Uuid> = ds.iter().map(|_| Uuid::now_v7()).collect();
    let policy_ids: Vec<Uuid> = ds.iter().map(|d| d.policy_id).collect();
    let versions: Vec<i32> = ds.iter().map(|d| d.policy_version).collect();
    let shadow: Vec<bool> = ds.iter().map(|d| d.shadow).collect();
    let durations: Vec<i32> = ds.iter().map(|d| d.duration_us).collect();
    let opt = |f: fn(&Pending) -> Option<String>| ds.iter().map(f).collect::<Vec<Option<String>>>();
    let violations: Vec<String> = ds
        .iter()
        .map(|d| serde_json::to_string(&d.violations).unwrap_or_else(|_| "[]".into()))
        .collect();
    let mut tx = tenancy::begin(pool, workspace).await?;
    sqlx::query(
        "WITH u AS ( \
           SELECT * FROM unnest($2::timestamptz[], $3::uuid[], $4::uuid[], $5::text[], $6::int[], \
             $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bool[], \
             $14::text[], $15::text[], $16::text[], $17::text[], $18::int[]) \
           AS u(at, id, policy_id, policy_name, policy_version, source, stage, agent, environment, \
                action, would, shadow, violations, excerpt, trace_id, span_id, duration_us) \
         ), ins AS ( \
           INSERT INTO guard_decisions (workspace_id, at, id, policy_id, policy_name, policy_version, \
             source, stage, agent, department, environment, action, would, shadow, violations, \
             excerpt, trace_id, span_id, duration_us) \
           SELECT $1, u.at, u.id, u.policy_id, u.policy_name, u.policy_version, u.source, u.stage, \
             u.agent, coalesce(a.department_override, a.department, 'unassigned'), u.environment, \
             u.action, u.would, u.shadow, u.violations::jsonb, u.excerpt, u.trace_id, u.span_id, \
             u.duration_us \
           FROM u LEFT JOIN agents a ON a.workspace_id = $1 AND a.agent = u.agent \
           RETURNING at, policy_id, stage, department, agent, environment, action, would, shadow, \
             violations \
         ), facts AS ( \
           SELECT at, policy_id, stage, '' AS chk, action, would, shadow, department, agent, \
             environment FROM ins \
           UNION ALL \
           SELECT at, policy_id, stage, coalesce(v->>'check', ''), action, would, shadow, \
             department, agent, environment FROM ins, jsonb_array_elements(ins.violations) v \
         ), hourly AS ( \
           INSERT INTO guard_rollup_hourly AS r (workspace_id, bucket, policy_id, stage, \"check\", \
             action, would, shadow, department, agent, environment, n) \
           SELECT $1, date_trunc('hour', at, 'UTC'), policy_id, stage, chk, action, would, shadow, \
             department, agent, environment, count(*) FROM facts \
           GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 \
           ON CONFLICT (workspace_id, bucket, policy_id, stage, \"check\", action, would, shadow, \
             department, agent, environment) DO UPDATE SET n = r.n + EXCLUDED.n \
         ) \
         INSERT INTO guard_rollup_daily AS r (workspace_id, bucket, policy_id, stage, \"check\", \
           action, would, shadow, department, agent, environment, n) \
         SELECT $1, date_trunc('day', at, 'UTC'), policy_id, stage, chk, action, would, shadow, \
           department, agent, environment, count(*) FROM facts \
         GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 \
         ON CONFLICT (workspace_id, bucket, policy_id, stage, \"check\", action, would, shadow, \
           department, agent, environment) DO UPDATE SET n = r.n + EXCLUDED.n",
    )
    .bind(workspace.0)
    .bind(&at)
    .bind(&ids)
    .bind(&policy_ids)
    .bind(col(|d| d.policy_name.clone()))
    .bind(&versions)
    .bind(col(|d| d.source.to_owned()))
    .bind(col(|d| d.stage.as_str().to_owned()))
    .bind(col(|d| d.agent.clone()))
    .bind(col(|d| d.environment.clone()))
    .bind(col(|d| d.action.as_str().to_owned()))
    .bind(col(|d| d.would.as_str().to_owned()))
    .bind(&shadow)
    .bind(&violations)
    .bind(opt(|d| d.excerpt.clone()))
    .bind(opt(|d| d.trace_id.clone()))
    .bind(opt(|d| d.span_id.clone()))
    .bind(&durations)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

type Row = (
    Uuid,
    DateTime<Utc>,
    String,
    i32,
    String,
    String,
    String,
    String,
    String,
    String,
    bool,
    sqlx::types::Json<Vec<GuardViolation>>,
    Option<String>,
    Option<String>,
    Option<String>,
    i32,
);

const COLUMNS: &str = "id, at, policy_name, policy_version, source, stage, agent, environment, \
                       action, would, shadow, violations, excerpt, trace_id, span_id, duration_us";

fn from_row(r: Row) -> Result<GuardDecision> {
    let bad = |what: &str, v: &str| Error::Internal(format!("stored guardrail {what} {v:?}"));
    Ok(GuardDecision {
        id: r.0,
        at: r.1,
        policy: r.2,
        policy_version: r.3,
        source: r.4,
        stage: GuardStage::parse(&r.5).ok_or_else(|| bad("stage", &r.5))?,
        agent: r.6,
        environment: r.7,
        action: GuardAction::parse(&r.8).ok_or_else(|| bad("action", &r.8))?,
        would: GuardAction::parse(&r.9).ok_or_else(|| bad("action", &r.9))?,
        shadow: r.10,
        violations: r.11 .0,
        excerpt: r.12,
        trace_id: r.13,
        span_id: r.14,
        duration_us: i64::from(r.15),
    })
}

/// Which decisions a list shows.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub policy: Option<String>,
    /// Only decisions that did (or in shadow mode would) act: flag, redact or block.
    pub acted: bool,
    pub agent: Option<String>,
    /// Older than this (the next page).
    pub before: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// The latest decisions, newest first.
pub async fn recent(
    services: &Services,
    workspace: WorkspaceId,
    f: &ListFilter,
) -> Result<Vec<GuardDecision>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM guard_decisions WHERE workspace_id = $1 \
         AND ($2::text IS NULL OR policy_name = $2) AND (NOT $3 OR would <> 'allow') \
         AND ($4::text IS NULL OR agent = $4) AND ($5::timestamptz IS NULL OR at < $5) \
         ORDER BY at DESC, id DESC LIMIT $6"
    ))
    .bind(workspace.0)
    .bind(&f.policy)
    .bind(f.acted)
    .bind(&f.agent)
    .bind(f.before)
    .bind(f.limit.clamp(1, MAX_LIST))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(from_row).collect()
}

/// The decisions that name a trace, in time order (the trace page shows them as spans); a
/// trace the workspace has neither stored nor named in a decision is not found.
pub async fn for_trace(
    services: &Services,
    workspace: WorkspaceId,
    trace_id: &str,
) -> Result<Vec<GuardDecision>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows = of_trace(&mut tx, workspace, trace_id).await?;
    if rows.is_empty() {
        let known: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM traces WHERE workspace_id = $1 AND trace_id = $2 LIMIT 1",
        )
        .bind(workspace.0)
        .bind(trace_id)
        .fetch_optional(&mut *tx)
        .await?;
        if known.is_none() {
            return Err(Error::not_found("trace"));
        }
    }
    tx.commit().await?;
    Ok(rows)
}

/// The decisions that name a trace (at most 500), in time order, on `conn`.
pub(crate) async fn of_trace(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    trace_id: &str,
) -> Result<Vec<GuardDecision>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM guard_decisions WHERE workspace_id = $1 AND trace_id = $2 \
         ORDER BY at, id LIMIT 500"
    ))
    .bind(workspace.0)
    .bind(trace_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(from_row).collect()
}

type RollupRow = (
    DateTime<Utc>,
    Uuid,
    String,
    String,
    String,
    bool,
    String,
    i64,
);

/// The Guardrails page for a window and the dashboard's filters (department, agent,
/// environment; the others do not apply to a check).
pub async fn summary(
    services: &Services,
    workspace: WorkspaceId,
    resolved: &analytics::Resolved,
) -> Result<GuardSummary> {
    let table = if resolved.daily {
        "guard_rollup_daily"
    } else {
        "guard_rollup_hourly"
    };
    let dims = &resolved.dims;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<RollupRow> = sqlx::query_as(&format!(
        "SELECT bucket, policy_id, \"check\", action, would, shadow, agent, sum(n)::bigint \
         FROM {table} WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
         AND ($4::text IS NULL OR department = $4) AND ($5::text IS NULL OR agent = $5) \
         AND ($6::text IS NULL OR environment = $6) \
         GROUP BY bucket, policy_id, \"check\", action, would, shadow, agent"
    ))
    .bind(workspace.0)
    .bind(resolved.from)
    .bind(resolved.to)
    .bind(&dims.dept)
    .bind(&dims.agent)
    .bind(&dims.env)
    .fetch_all(&mut *tx)
    .await?;
    let names: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, name FROM guard_policies WHERE workspace_id = $1")
            .bind(workspace.0)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;

    let points = resolved.points();
    let mut out = GuardSummary {
        step_seconds: resolved.step.num_seconds(),
        series: (0..points)
            .map(|i| GuardBucket {
                at: resolved.from + resolved.step * i as i32,
                ..GuardBucket::default()
            })
            .collect(),
        ..GuardSummary::default()
    };
    let mut checks: HashMap<String, GuardCount> = HashMap::new();
    let mut agents: HashMap<String, GuardCount> = HashMap::new();
    let mut shadow: HashMap<Uuid, GuardShadow> = HashMap::new();
    for (bucket, policy, check, action, would, is_shadow, agent, n) in rows {
        let blocked = action == "block";
        if !check.is_empty() {
            let c = checks.entry(check.clone()).or_insert_with(|| GuardCount {
                name: check,
                ..GuardCount::default()
            });
            c.violations += n;
            let a = agents.entry(agent.clone()).or_insert_with(|| GuardCount {
                name: agent,
                ..GuardCount::default()
            });
            a.violations += n;
            continue;
        }
        out.decisions += n;
        if let Some(a) = agents.get_mut(&agent) {
            a.blocks += if blocked { n } else { 0 };
        } else if blocked {
            agents.insert(
                agent.clone(),
                GuardCount {
                    name: agent,
                    violations: 0,
                    blocks: n,
                },
            );
        }
        match action.as_str() {
            "block" => out.blocked += n,
            "redact" => out.redacted += n,
            "flag" => out.flagged += n,
            _ => {}
        }
        if let Some(b) = resolved.step_of(bucket).and_then(|i| out.series.get_mut(i)) {
            match action.as_str() {
                "block" => b.block += n,
                "redact" => b.redact += n,
                "flag" => b.flag += n,
                _ => b.allow += n,
            }
        }
        if is_shadow {
            let s = shadow.entry(policy).or_default();
            s.decisions += n;
            match would.as_str() {
                "block" => s.would_block += n,
                "redact" => s.would_redact += n,
                "flag" => s.would_flag += n,
                _ => {}
            }
        }
    }
    let ranked = |m: HashMap<String, GuardCount>| {
        let mut v: Vec<GuardCount> = m.into_values().collect();
        v.sort_by(|a, b| {
            (b.violations + b.blocks)
                .cmp(&(a.violations + a.blocks))
                .then_with(|| a.name.cmp(&b.name))
        });
        v.truncate(10);
        v
    };
    out.by_check = ranked(checks);
    out.top_agents = ranked(agents);
    let name_of = |id: &Uuid| {
        names
            .iter()
            .find(|(i, _)| i == id)
            .map_or_else(|| "(deleted policy)".to_owned(), |(_, n)| n.clone())
    };
    let mut shadow: Vec<GuardShadow> = shadow
        .into_iter()
        .map(|(id, s)| GuardShadow {
            policy: name_of(&id),
            ..s
        })
        .collect();
    shadow.sort_by(|a, b| a.policy.cmp(&b.policy));
    out.shadow = shadow;
    Ok(out)
}
