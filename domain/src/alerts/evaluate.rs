//! The evaluation cycle: every [`CYCLE`], by one replica (a PostgreSQL advisory lock, and the
//! time of the last cycle in `alert_cycles` so replicas taking turns do not evaluate twice as
//! often), every enabled rule of every workspace is measured, each instance moves through the
//! state machine, and the changes, their history rows and their notifications are written in
//! one transaction per workspace. Budgets are checked in the same pass.
//!
//! A replica that dies drops its connection and with it the lock; the next replica's cycle (at
//! most [`CYCLE`] later) takes over.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use argus_types::{AlertDefinition, AlertMetric, AlertState, Budget};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::data::{self, Row, Sources};
use super::notify::{self, Message};
use super::state::{self, Current, Observation};
use super::{budgets, silences};
use crate::tenancy::{self, WorkspaceId};
use crate::{Result, Services};

/// The advisory lock of the evaluation cycle ("argusalr").
pub const LOCK_KEY: i64 = 0x6172_6775_7361_6c72;
pub const CYCLE: Duration = Duration::from_secs(30);
/// A cycle this soon after the last (another replica's) is skipped.
pub const MIN_GAP: TimeDelta = TimeDelta::seconds(25);
/// Instances a rule may have (group values beyond are not evaluated).
pub const MAX_GROUPS: usize = 500;

/// What one cycle did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cycle {
    /// False when another replica held the lock or had just run.
    pub ran: bool,
    pub workspaces: usize,
    pub rules: usize,
    pub instances: usize,
    pub transitions: usize,
    pub notifications: usize,
    pub rows_read: usize,
    /// Workspaces whose evaluation failed (logged; the others went on).
    pub failed: usize,
}

/// One cycle at `now` (skipped when another replica holds the lock or ran one < 25 s ago).
pub async fn run_once(services: &Services, now: DateTime<Utc>) -> Result<Cycle> {
    let started = std::time::Instant::now();
    let outcome =
        crate::db::with_advisory_lock(&services.locks, LOCK_KEY, || cycle(services, now)).await;
    match &outcome {
        Ok(Some(c)) if c.ran => services.meters.alert_cycle(started.elapsed(), c.failed > 0),
        Err(_) => services.meters.alert_cycle(started.elapsed(), true),
        _ => {}
    }
    Ok(outcome?.unwrap_or_default())
}

async fn cycle(services: &Services, now: DateTime<Utc>) -> Result<Cycle> {
    let started = std::time::Instant::now();
    let last: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT last_run_at FROM alert_cycles")
        .fetch_optional(&services.pool)
        .await?;
    if last.is_some_and(|l| now >= l && now - l < MIN_GAP) {
        return Ok(Cycle::default());
    }
    let workspaces: Vec<Uuid> =
        sqlx::query_scalar("SELECT workspace_id FROM argus_alert_workspaces()")
            .fetch_all(&services.pool)
            .await?;
    let mut done = Cycle {
        ran: true,
        workspaces: workspaces.len(),
        ..Cycle::default()
    };
    for ws in workspaces {
        match workspace(services, WorkspaceId(ws), now).await {
            Ok(c) => {
                done.rules += c.rules;
                done.instances += c.instances;
                done.transitions += c.transitions;
                done.notifications += c.notifications;
                done.rows_read += c.rows_read;
            }
            Err(e) => {
                done.failed += 1;
                tracing::warn!(workspace = %ws, error = %e, "alert evaluation failed");
            }
        }
    }
    sqlx::query(
        "INSERT INTO alert_cycles (one, last_run_at, duration_ms, rules) VALUES (true, $1, $2, $3) \
         ON CONFLICT (one) DO UPDATE SET last_run_at = $1, duration_ms = $2, rules = $3",
    )
    .bind(now)
    .bind(started.elapsed().as_millis() as i32)
    .bind(done.rules as i32)
    .execute(&services.pool)
    .await?;
    if done.notifications > 0 {
        services.notifier.wake.notify_waiters();
    }
    Ok(done)
}

/// Runs a cycle every [`CYCLE`] for as long as the process lives.
pub fn spawn(services: &Services) {
    let services = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CYCLE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&services, Utc::now()).await {
                Ok(c) if c.ran => tracing::debug!(
                    rules = c.rules,
                    transitions = c.transitions,
                    notifications = c.notifications,
                    "alert cycle"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "alert cycle failed"),
            }
        }
    });
}

/// A rule as the cycle reads it.
#[derive(Clone, Debug)]
pub struct LiveRule {
    pub id: Uuid,
    pub name: String,
    pub def: AlertDefinition,
    pub channels: Vec<Uuid>,
}

type StoredInstance = (
    Uuid,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

#[derive(Clone, Debug)]
struct Instance {
    state: AlertState,
    since: DateTime<Utc>,
    last_notified_at: Option<DateTime<Utc>>,
    acked_at: Option<DateTime<Utc>>,
}

/// "p95 latency 2,300 ms > 2,000 ms".
pub fn describe(def: &AlertDefinition, v: f64) -> String {
    let f = |x: f64| fmt_value(def.metric, x);
    let what = match def.metric {
        AlertMetric::Requests => "requests",
        AlertMetric::ErrorRate => "error rate",
        AlertMetric::LatencyP50 => "p50 latency",
        AlertMetric::LatencyP95 => "p95 latency",
        AlertMetric::LatencyP99 => "p99 latency",
        AlertMetric::Tokens => "tokens",
        AlertMetric::Cost => "cost",
        AlertMetric::GuardBlocks => "guardrail blocks",
        AlertMetric::GuardFlags => "guardrail flags",
        AlertMetric::ScoreAvg => "average score",
        AlertMetric::ScoreShare => "share of scores",
        AlertMetric::NoData => return format!("{} requests in the window", f(v)),
    };
    format!("{what} {} {} {}", f(v), def.op.symbol(), f(def.threshold))
}

/// A value with its unit and thousands separators.
pub fn fmt_value(metric: AlertMetric, v: f64) -> String {
    fn thousands(n: f64, decimals: usize) -> String {
        let s = format!("{:.*}", decimals, n.abs());
        let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
        let mut out = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        let sign = if n < 0.0 { "-" } else { "" };
        if frac.is_empty() {
            format!("{sign}{out}")
        } else {
            format!("{sign}{out}.{frac}")
        }
    }
    match metric {
        AlertMetric::LatencyP50 | AlertMetric::LatencyP95 | AlertMetric::LatencyP99 => {
            format!("{} ms", thousands(v, 0))
        }
        AlertMetric::ErrorRate | AlertMetric::ScoreShare => format!("{} %", thousands(v, 1)),
        AlertMetric::Cost => format!("${}", thousands(v, 2)),
        AlertMetric::ScoreAvg => format!("{v:.3}"),
        _ => thousands(v, 0),
    }
}

/// Every group's observation for one rule at `now` (`rows`: the rollup rows read for the
/// cycle).
pub(super) async fn observations(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    rule: &LiveRule,
    rows: &[Row],
    src: &Sources,
    now: DateTime<Utc>,
    known: &[&str],
) -> Result<BTreeMap<String, Observation>> {
    let def = &rule.def;
    let from = now - TimeDelta::seconds(def.window_secs);
    let mut seen: BTreeMap<String, (Option<f64>, i64)> = if data::from_rollups(def.metric) {
        data::sum(rows, def, src)
            .into_iter()
            .map(|(g, s)| {
                let n = s.requests.round() as i64;
                (g, (data::value(def.metric, &s), n))
            })
            .collect()
    } else {
        data::counted(conn, workspace, def, from, now).await?
    };
    // Groups that had instances and nothing in this window; an ungrouped rule always has one.
    let mut groups: BTreeSet<String> = known.iter().map(|g| (*g).to_owned()).collect();
    if def.group_by.is_none() {
        groups.insert(String::new());
    }
    for g in groups {
        seen.entry(g).or_insert_with(|| {
            let zero = data::is_count(def.metric).then_some(0.0);
            (zero, 0)
        });
    }
    Ok(seen
        .into_iter()
        .take(MAX_GROUPS)
        .map(|(g, (v, n))| {
            let obs = data::observe(def, v, n);
            (g, obs)
        })
        .collect())
}

/// What one workspace's pass did.
#[derive(Default)]
struct Done {
    rules: usize,
    instances: usize,
    transitions: usize,
    notifications: usize,
    rows_read: usize,
}

async fn workspace(services: &Services, ws: WorkspaceId, now: DateTime<Utc>) -> Result<Done> {
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    let rules: Vec<(Uuid, String, sqlx::types::Json<AlertDefinition>, Vec<Uuid>)> = sqlx::query_as(
        "SELECT id, name, definition, channels FROM alert_rules WHERE workspace_id = $1 AND enabled",
    )
    .bind(ws)
    .fetch_all(&mut *tx)
    .await?;
    let rules: Vec<LiveRule> = rules
        .into_iter()
        .map(|(id, name, def, channels)| LiveRule {
            id,
            name,
            def: def.0,
            channels,
        })
        .collect();
    let stored: Vec<StoredInstance> = sqlx::query_as(
        "SELECT rule_id, group_value, state, since, last_notified_at, acked_at \
             FROM alert_instances WHERE workspace_id = $1",
    )
    .bind(ws)
    .fetch_all(&mut *tx)
    .await?;
    let mut instances: HashMap<(Uuid, String), Instance> = stored
        .into_iter()
        .map(|(r, g, s, since, notified, acked)| {
            (
                (r, g),
                Instance {
                    state: AlertState::parse(&s).unwrap_or(AlertState::Normal),
                    since,
                    last_notified_at: notified,
                    acked_at: acked,
                },
            )
        })
        .collect();
    let silenced = silences::active(&mut tx, ws, now).await?;
    // The rows every rule needs, read once.
    let floor = data::minute_floor(now);
    let sources: Vec<Sources> = rules
        .iter()
        .map(|r| data::sources(now - TimeDelta::seconds(r.def.window_secs), now, floor))
        .collect();
    let rows = read_rows(&mut tx, ws, &rules, &sources).await?;
    let mut done = Done {
        rules: rules.len(),
        rows_read: rows.len(),
        ..Done::default()
    };
    let mut writes = Writes::default();
    for (rule, src) in rules.iter().zip(&sources) {
        let known: Vec<&str> = instances
            .keys()
            .filter(|(r, _)| *r == rule.id)
            .map(|(_, g)| g.as_str())
            .collect();
        let seen = match observations(&mut tx, ws, rule, &rows, src, now, &known).await {
            Ok(seen) => seen,
            Err(e) => {
                let why = format!("the evaluation failed: {e}");
                let mut all: BTreeMap<String, Observation> = known
                    .iter()
                    .map(|g| ((*g).to_owned(), Observation::Error(why.clone())))
                    .collect();
                if all.is_empty() {
                    all.insert(String::new(), Observation::Error(why));
                }
                all
            }
        };
        for (group, obs) in seen {
            let key = (rule.id, group);
            let current = instances.remove(&key);
            let is_new = current.is_none();
            let inst = current.unwrap_or(Instance {
                state: AlertState::Normal,
                since: now,
                last_notified_at: None,
                acked_at: None,
            });
            let (rule_id, group) = key;
            // A group-by instance that is quiet and gone from the data is dropped.
            if rule.def.group_by.is_some()
                && rule.def.metric != AlertMetric::NoData
                && matches!(obs, Observation::NoData)
                && matches!(inst.state, AlertState::Normal | AlertState::Resolved)
            {
                if !is_new {
                    writes.dropped.push((rule_id, group));
                }
                continue;
            }
            done.instances += 1;
            let step = state::next(
                &Current {
                    state: inst.state,
                    since: inst.since,
                },
                &obs,
                TimeDelta::seconds(rule.def.for_secs),
                now,
                |v| describe(&rule.def, v),
            );
            let silenced = silenced.iter().any(|s| s.matches(rule_id, &group));
            let mut next = InstanceWrite {
                rule: rule_id,
                group: group.clone(),
                state: inst.state,
                since: inst.since,
                value: obs.value(),
                reason: String::new(),
                last_notified_at: inst.last_notified_at,
                acked_at: inst.acked_at,
            };
            next.reason = match &obs {
                Observation::Breach(v) | Observation::Clear(Some(v)) => describe(&rule.def, *v),
                Observation::Clear(None) => "the condition does not hold".into(),
                Observation::TooFew { n, min, .. } => {
                    format!("only {n} requests in the window (the rule needs {min})")
                }
                Observation::NoData => "no data in the window".into(),
                Observation::Error(e) => e.clone(),
            };
            if let Some(t) = step {
                done.transitions += 1;
                next.state = t.to;
                next.since = now;
                next.acked_at = None;
                next.reason = t.reason.clone();
                let mut notified = String::new();
                if t.notifies() {
                    if silenced {
                        notified = "silenced".into();
                    } else {
                        let event = t.to.as_str().to_owned();
                        let n = notify::enqueue(
                            &mut tx,
                            ws,
                            &rule.channels,
                            &message(
                                services,
                                ws,
                                rule,
                                &group,
                                &event,
                                t.from,
                                t.to,
                                obs.value(),
                                &t.reason,
                                now,
                            ),
                        )
                        .await?;
                        done.notifications += n;
                        notified = match n {
                            0 => "no channel".into(),
                            1 => "1 delivery queued".into(),
                            n => format!("{n} deliveries queued"),
                        };
                        next.last_notified_at = Some(now);
                    }
                }
                writes.history.push(History {
                    rule: rule_id,
                    rule_name: rule.name.clone(),
                    group: group.clone(),
                    from: t.from,
                    to: t.to,
                    value: obs.value(),
                    threshold: rule.def.threshold,
                    reason: t.reason,
                    notified,
                    window_from: now - TimeDelta::seconds(rule.def.window_secs),
                });
            } else if inst.state == AlertState::Firing
                && rule.def.repeat_secs > 0
                && inst.acked_at.is_none()
                && !silenced
                && inst
                    .last_notified_at
                    .is_none_or(|at| now - at >= TimeDelta::seconds(rule.def.repeat_secs))
            {
                let n = notify::enqueue(
                    &mut tx,
                    ws,
                    &rule.channels,
                    &message(
                        services,
                        ws,
                        rule,
                        &group,
                        "repeat",
                        inst.state,
                        inst.state,
                        obs.value(),
                        &next.reason,
                        now,
                    ),
                )
                .await?;
                done.notifications += n;
                next.last_notified_at = Some(now);
            }
            writes.instances.push(next);
        }
    }
    // Instances of rules that are gone or disabled were deleted with them; what is left here
    // belongs to groups past MAX_GROUPS: left as they are.
    let changed = done.transitions > 0;
    writes.write(&mut tx, ws, now).await?;
    let budget_notices = check_budgets(services, &mut tx, ws, now).await?;
    done.notifications += budget_notices;
    tx.commit().await?;
    if changed || budget_notices > 0 {
        super::cache::forget(services, ws).await;
    }
    Ok(done)
}

/// The rollup rows the rules of a workspace need: the union of their minute buckets and the
/// span of their hours.
async fn read_rows(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    rules: &[LiveRule],
    sources: &[Sources],
) -> Result<Vec<Row>> {
    let mut minutes = BTreeSet::new();
    let mut hours: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (rule, src) in rules.iter().zip(sources) {
        if !data::from_rollups(rule.def.metric) {
            continue;
        }
        minutes.extend(src.minutes.iter().copied());
        if let (Some(first), Some(last)) = (src.hours.first(), src.hours.last()) {
            let span = (first.0, last.0 + TimeDelta::hours(1));
            hours = Some(hours.map_or(span, |(a, b)| (a.min(span.0), b.max(span.1))));
        }
    }
    data::fetch(conn, ws, &minutes, hours).await
}

#[allow(clippy::too_many_arguments)]
fn message(
    services: &Services,
    ws: WorkspaceId,
    rule: &LiveRule,
    group: &str,
    event: &str,
    from: AlertState,
    to: AlertState,
    value: Option<f64>,
    reason: &str,
    now: DateTime<Utc>,
) -> Message {
    let (dashboard, traces) = super::rules::links(&rule.def, group, now);
    let n = &services.notifier;
    Message {
        event: event.to_owned(),
        rule_id: Some(rule.id),
        group_value: group.to_owned(),
        body: json!({
            "version": "1",
            "event": event,
            "workspace_id": ws.0,
            "rule": {
                "id": rule.id,
                "name": rule.name,
                "metric": rule.def.metric,
                "op": rule.def.op,
                "threshold": rule.def.threshold,
                "window_secs": rule.def.window_secs,
                "group_by": rule.def.group_by,
                "filters": rule.def.filters,
            },
            "group_value": group,
            "state": to,
            "previous_state": from,
            "value": value,
            "threshold": rule.def.threshold,
            "reason": reason,
            "at": now,
            "window": {"from": now - TimeDelta::seconds(rule.def.window_secs), "to": now},
            "links": {"dashboard": n.link(&dashboard), "traces": n.link(&traces), "alerts": n.link("/alerts")},
        }),
    }
}

/// Announces every budget level reached and not yet announced this month.
async fn check_budgets(
    services: &Services,
    conn: &mut PgConnection,
    ws: WorkspaceId,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut queued = 0;
    for b in budgets::figures(conn, ws, now).await? {
        for level in budgets::due(&b) {
            let words = budgets::words(&b, level);
            sqlx::query(
                "INSERT INTO budget_notices (workspace_id, budget_id, month, level, at, spent_usd, \
                   forecast_usd) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(ws)
            .bind(b.id)
            .bind(b.month)
            .bind(level)
            .bind(now)
            .bind(b.spent_usd)
            .bind(b.forecast_usd)
            .execute(&mut *conn)
            .await?;
            queued += notify::enqueue(
                conn,
                ws,
                &b.channels,
                &budget_message(services, ws, &b, level, &words, now),
            )
            .await?;
        }
    }
    Ok(queued)
}

fn budget_message(
    services: &Services,
    ws: WorkspaceId,
    b: &Budget,
    level: &str,
    words: &str,
    now: DateTime<Utc>,
) -> Message {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("range", "30d");
    match b.scope {
        argus_types::BudgetScope::Department => {
            q.append_pair("dept", &b.scope_value);
        }
        argus_types::BudgetScope::Agent => {
            q.append_pair("agent", &b.scope_value);
        }
        argus_types::BudgetScope::Workspace => {}
    }
    Message {
        event: "budget".into(),
        rule_id: None,
        group_value: b.scope_value.clone(),
        body: json!({
            "version": "1",
            "event": "budget",
            "workspace_id": ws.0,
            "state": "budget",
            "budget": {
                "id": b.id, "scope": b.scope, "scope_value": b.scope_value,
                "amount_usd": b.amount_usd, "month": b.month,
            },
            "level": level,
            "group_value": b.scope_value,
            "value": b.spent_usd,
            "threshold": b.amount_usd,
            "forecast_usd": b.forecast_usd,
            "exceeds_on": b.exceeds_on,
            "reason": words,
            "at": now,
            "links": {"dashboard": services.notifier.link(&format!("/cost?{}", q.finish()))},
        }),
    }
}

struct InstanceWrite {
    rule: Uuid,
    group: String,
    state: AlertState,
    since: DateTime<Utc>,
    value: Option<f64>,
    reason: String,
    last_notified_at: Option<DateTime<Utc>>,
    acked_at: Option<DateTime<Utc>>,
}

struct History {
    rule: Uuid,
    rule_name: String,
    group: String,
    from: AlertState,
    to: AlertState,
    value: Option<f64>,
    threshold: f64,
    reason: String,
    notified: String,
    window_from: DateTime<Utc>,
}

#[derive(Default)]
struct Writes {
    instances: Vec<InstanceWrite>,
    history: Vec<History>,
    dropped: Vec<(Uuid, String)>,
}

impl Writes {
    /// One statement for the instances, one for the history, one for the dropped.
    async fn write(
        &self,
        conn: &mut PgConnection,
        ws: WorkspaceId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        use crate::db::column;
        if !self.instances.is_empty() {
            let i = &self.instances;
            sqlx::query(
                "INSERT INTO alert_instances AS a (workspace_id, rule_id, group_value, state, since, \
                   value, reason, evaluated_at, last_notified_at, acked_at) \
                 SELECT $1, r, g, s, si, v, re, $2, ln, ak FROM unnest($3::uuid[], $4::text[], \
                   $5::text[], $6::timestamptz[], $7::float8[], $8::text[], $9::timestamptz[], \
                   $10::timestamptz[]) AS d(r, g, s, si, v, re, ln, ak) \
                 ON CONFLICT (workspace_id, rule_id, group_value) DO UPDATE SET \
                   state = excluded.state, since = excluded.since, value = excluded.value, \
                   reason = excluded.reason, evaluated_at = excluded.evaluated_at, \
                   last_notified_at = excluded.last_notified_at, \
                   acked_at = CASE WHEN excluded.state = a.state THEN a.acked_at END",
            )
            .bind(ws)
            .bind(now)
            .bind(column(i, |w| w.rule))
            .bind(column(i, |w| w.group.clone()))
            .bind(column(i, |w| w.state.as_str()))
            .bind(column(i, |w| w.since))
            .bind(column(i, |w| w.value))
            .bind(column(i, |w| w.reason.clone()))
            .bind(column(i, |w| w.last_notified_at))
            .bind(column(i, |w| w.acked_at))
            .execute(&mut *conn)
            .await?;
        }
        if !self.history.is_empty() {
            let h = &self.history;
            sqlx::query(
                "INSERT INTO alert_history (workspace_id, at, rule_id, rule_name, group_value, \
                   from_state, to_state, value, threshold, reason, notified, window_from, window_to) \
                 SELECT $1, $2, * , $2 FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], \
                   $7::text[], $8::float8[], $9::float8[], $10::text[], $11::text[], \
                   $12::timestamptz[])",
            )
            .bind(ws)
            .bind(now)
            .bind(column(h, |x| x.rule))
            .bind(column(h, |x| x.rule_name.clone()))
            .bind(column(h, |x| x.group.clone()))
            .bind(column(h, |x| x.from.as_str()))
            .bind(column(h, |x| x.to.as_str()))
            .bind(column(h, |x| x.value))
            .bind(column(h, |x| x.threshold))
            .bind(column(h, |x| x.reason.clone()))
            .bind(column(h, |x| x.notified.clone()))
            .bind(column(h, |x| x.window_from))
            .execute(&mut *conn)
            .await?;
        }
        if !self.dropped.is_empty() {
            sqlx::query(
                "DELETE FROM alert_instances a USING unnest($2::uuid[], $3::text[]) AS d(r, g) \
                 WHERE a.workspace_id = $1 AND a.rule_id = d.r AND a.group_value = d.g",
            )
            .bind(ws)
            .bind(column(&self.dropped, |d| d.0))
            .bind(column(&self.dropped, |d| d.1.clone()))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_with_units() {
        assert_eq!(fmt_value(AlertMetric::LatencyP95, 2300.4), "2,300 ms");
        assert_eq!(fmt_value(AlertMetric::ErrorRate, 12.345), "12.3 %");
        assert_eq!(fmt_value(AlertMetric::Cost, 1234.5), "$1,234.50");
        assert_eq!(fmt_value(AlertMetric::Requests, 1_234_567.0), "1,234,567");
        assert_eq!(fmt_value(AlertMetric::Requests, 999.0), "999");
    }
}
