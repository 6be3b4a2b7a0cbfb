//! The dashboard's numbers, read from the hourly and daily rollups only (never the raw spans).
//!
//! A request's filters resolve to a [`Resolved`] window of whole buckets ending with the
//! current, still-open one (rollups are written in the ingest transaction, so it is exact):
//! `1h` is the previous and the current hour, `24h` the last 24 hourly buckets, `7d` 168;
//! `30d` and `90d` read the daily rollup. `from`/`to` are widened to whole buckets, daily from
//! 30 days up. A chart point is one or more buckets, so that a window has at most
//! [`MAX_POINTS`] of them. The previous period is the same length just before.
//!
//! Without a model filter, requests are traces (their root's latency, error when any span
//! failed). With one, they are that model's calls (spans), so every KPI still means something.
//! Results are cached (cache-aside) under `{domain}:{workspace}:{window and filters}`:
//! the last hour in the hot tier, a day in the warm tier, longer ranges in the cold tier;
//! ingestion drops a workspace's entries when its data changes.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use argus_types::{
    AgentStat, FilterOptions, Filters, GroupSeries, Home, HomeKpis, Kpi, SeriesPoint, Timeseries,
    Unit, UsageBreakdown, UsageRow, Window, DEFAULT_RANGE, RANGES,
};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::cache::{CacheKey, Ttl};
use crate::histogram::Histogram;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

mod activity;
mod cost;
mod performance;

pub use activity::{activity, activity_uncached};
pub use cost::{cost_report, cost_report_uncached};
pub use performance::{performance, performance_uncached};

/// The cache domains of the dashboard's reads (each must be dropped on ingest:
/// [`crate::ingest::invalidate::METRIC_DOMAINS`]).
pub const CACHE_DOMAINS: [&str; 8] = [
    "home",
    "home_kpis",
    "timeseries",
    "filters",
    "usage",
    "cost",
    "performance",
    "activity",
];

/// The most points a chart gets.
pub const MAX_POINTS: i64 = 150;
/// The longest custom range.
pub const MAX_DAYS: i64 = 400;

/// Dimension filters (all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dims {
    pub dept: Option<String>,
    pub env: Option<String>,
    pub version: Option<String>,
    pub agent: Option<String>,
    pub model: Option<String>,
}

/// Filters resolved against the clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub previous_from: DateTime<Utc>,
    pub step: TimeDelta,
    pub daily: bool,
    pub label: String,
    /// The preset, when one was used.
    pub preset: Option<&'static str>,
    pub dims: Dims,
}

impl Resolved {
    pub fn window(&self) -> Window {
        Window {
            from: self.from,
            to: self.to,
            previous_from: self.previous_from,
            step_seconds: self.step.num_seconds(),
            rollup: if self.daily { "daily" } else { "hourly" }.into(),
            label: self.label.clone(),
        }
    }

    /// The number of chart points.
    pub fn points(&self) -> usize {
        ((self.to - self.from).num_seconds() / self.step.num_seconds()).max(0) as usize
    }

    /// The chart step a bucket of the window falls in.
    fn step_of(&self, bucket: DateTime<Utc>) -> Option<usize> {
        (bucket >= self.from && bucket < self.to)
            .then(|| ((bucket - self.from).num_seconds() / self.step.num_seconds()) as usize)
    }

    /// The start of each chart step.
    fn steps(&self) -> Vec<DateTime<Utc>> {
        (0..self.points())
            .map(|i| self.from + self.step * i as i32)
            .collect()
    }

    /// The whole UTC days inside the previous period of an hourly window, `[lo, hi)` (empty
    /// when there are none): the previous period needs only its sums, so the workspace totals
    /// read them from the daily table — a row a day instead of 24 (7 d: ~190 rows, not 336).
    pub fn previous_whole_days(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let day = TimeDelta::days(1);
        let floor = |t: DateTime<Utc>| t.duration_trunc(day).unwrap_or(t);
        let lo = floor(self.previous_from);
        let lo = if lo < self.previous_from {
            lo + day
        } else {
            lo
        };
        let hi = floor(self.from);
        if self.daily || hi <= lo {
            (lo, lo)
        } else {
            (lo, hi)
        }
    }

    /// Whether no dimension filter is set (the workspace totals answer).
    fn is_unfiltered(&self) -> bool {
        self.dims == Dims::default()
    }

    fn total_table(&self) -> &'static str {
        if self.daily {
            "rollup_total_daily"
        } else {
            "rollup_total_hourly"
        }
    }

    fn table(&self) -> &'static str {
        if self.daily {
            "rollup_daily"
        } else {
            "rollup_hourly"
        }
    }

    /// What identifies this query in the cache.
    fn cache_scope(&self) -> String {
        let d = &self.dims;
        crate::cache::scope(&[
            &self.from.timestamp().to_string(),
            &self.to.timestamp().to_string(),
            &self.step.num_seconds().to_string(),
            d.dept.as_deref().unwrap_or(""),
            d.env.as_deref().unwrap_or(""),
            d.version.as_deref().unwrap_or(""),
            d.agent.as_deref().unwrap_or(""),
            d.model.as_deref().unwrap_or(""),
        ])
    }

    fn ttl(&self) -> Ttl {
        match self.preset {
            Some("1h") => Ttl::Hot,
            Some("24h") => Ttl::Warm,
            _ if self.to - self.from <= TimeDelta::hours(48) => Ttl::Warm,
            _ => Ttl::Cold,
        }
    }
}

fn label_of(preset: &str) -> &'static str {
    match preset {
        "1h" => "Last hour",
        "24h" => "Last 24 hours",
        "7d" => "Last 7 days",
        "30d" => "Last 30 days",
        _ => "Last 90 days",
    }
}

/// The smallest step of whole buckets giving at most [`MAX_POINTS`] points.
fn step_for(buckets: i64, bucket: TimeDelta) -> TimeDelta {
    let factors: &[i64] = if bucket == TimeDelta::hours(1) {
        &[1, 2, 3, 4, 6, 12, 24, 48, 168]
    } else {
        &[1, 2, 3, 7, 14, 30]
    };
    let f = factors
        .iter()
        .copied()
        .find(|f| (buckets + f - 1) / f <= MAX_POINTS)
        .unwrap_or(*factors.last().unwrap_or(&1));
    bucket * f as i32
}

fn text_filter(field: &str, value: &Option<String>) -> Result<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > 200 || v.chars().any(char::is_control) => Err(
            Error::invalid_input(field, "at most 200 characters, without control characters"),
        ),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| {
            Error::invalid_input(
                field,
                format!("{value:?} is not a time (RFC 3339, e.g. 2026-11-01T00:00:00Z, or a date)"),
            )
        })
}

/// Resolves `filters` at `now`. Any bad value is an [`Error::InvalidInput`] naming its field
/// (the API's behaviour; pages use [`sanitize`] first).
pub fn resolve(filters: &Filters, now: DateTime<Utc>) -> Result<Resolved> {
    let dims = Dims {
        dept: text_filter("dept", &filters.dept)?,
        env: text_filter("env", &filters.env)?,
        version: text_filter("version", &filters.version)?,
        agent: text_filter("agent", &filters.agent)?,
        model: text_filter("model", &filters.model)?,
    };
    let hour = TimeDelta::hours(1);
    let day = TimeDelta::days(1);
    let custom = filters
        .from
        .as_deref()
        .is_some_and(|f| !f.trim().is_empty())
        || filters.to.as_deref().is_some_and(|t| !t.trim().is_empty());
    if custom {
        let from = parse_time(
            "from",
            filters.from.as_deref().ok_or_else(|| Error::MissingField {
                field: "from".into(),
            })?,
        )?;
        let to = match filters.to.as_deref().map(str::trim) {
            None | Some("") => now,
            Some(t) => parse_time("to", t)?,
        };
        if to <= from {
            return Err(Error::invalid_input("to", "must be after from"));
        }
        if to - from > TimeDelta::days(MAX_DAYS) {
            return Err(Error::invalid_input(
                "from",
                format!("a range is at most {MAX_DAYS} days"),
            ));
        }
        let daily = to - from >= TimeDelta::days(30);
        let bucket = if daily { day } else { hour };
        let from = from.duration_trunc(bucket).unwrap_or(from);
        let to_floor = to.duration_trunc(bucket).unwrap_or(to);
        let to = if to_floor == to {
            to
        } else {
            to_floor + bucket
        };
        let buckets = (to - from).num_seconds() / bucket.num_seconds();
        return Ok(Resolved {
            from,
            to,
            previous_from: from - (to - from),
            step: step_for(buckets, bucket),
            daily,
            label: format!(
                "{} → {}",
                from.format("%Y-%m-%d %H:%M"),
                to.format("%Y-%m-%d %H:%M")
            ),
            preset: None,
            dims,
        });
    }
    let preset = match filters.range.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_RANGE,
        Some(r) => RANGES.into_iter().find(|p| *p == r).ok_or_else(|| {
            Error::invalid_input(
                "range",
                format!("{r:?} is not a range; use one of {}", RANGES.join(", ")),
            )
        })?,
    };
    let (daily, buckets) = match preset {
        "1h" => (false, 2),
        "24h" => (false, 24),
        "7d" => (false, 168),
        "30d" => (true, 30),
        _ => (true, 90),
    };
    let bucket = if daily { day } else { hour };
    let to = now.duration_trunc(bucket).unwrap_or(now) + bucket;
    let from = to - bucket * buckets;
    Ok(Resolved {
        from,
        to,
        previous_from: from - (to - from),
        step: step_for(buckets as i64, bucket),
        daily,
        label: label_of(preset).into(),
        preset: Some(preset),
        dims,
    })
}

/// For pages: the filters with every bad value dropped (back to its default), and a notice
/// per dropped value. Never fails.
pub fn sanitize(filters: &Filters, now: DateTime<Utc>) -> (Filters, Vec<String>) {
    let mut clean = filters.clone();
    let mut notices = Vec::new();
    for _ in 0..8 {
        match resolve(&clean, now) {
            Ok(_) => break,
            Err(Error::InvalidInput { field, message }) => {
                notices.push(format!("Ignored {field}: {message}."));
                match field.as_str() {
                    "range" => clean.range = None,
                    "from" | "to" => {
                        clean.from = None;
                        clean.to = None;
                    }
                    "dept" => clean.dept = None,
                    "env" => clean.env = None,
                    "version" => clean.version = None,
                    "agent" => clean.agent = None,
                    _ => clean.model = None,
                }
            }
            Err(Error::MissingField { .. }) => {
                notices.push("Ignored to: a custom range needs from.".into());
                clean.from = None;
                clean.to = None;
            }
            Err(_) => break,
        }
    }
    (clean, notices)
}

/// One rollup row, as the dashboard needs it.
#[derive(sqlx::FromRow)]
struct Row {
    bucket: DateTime<Utc>,
    agent: String,
    requests: i64,
    errors: i64,
    latency_sum_us: i64,
    hist: crate::histogram::Stored,
    input_tokens: i64,
    output_tokens: i64,
    cost: f64,
    spans: i64,
    /// On a workspace-total row, the agents active in its bucket (`{"agent": 1, …}` as text;
    /// read by [`agent_names`] without allocating a string per agent).
    agents: Option<String>,
}

/// The keys of a workspace-total row's agent set, borrowed from its text where they need no
/// unescaping.
fn agent_names(text: &str) -> Vec<Cow<'_, str>> {
    struct Names<'a>(Vec<Cow<'a, str>>);
    struct Name<'a>(Cow<'a, str>);
    impl<'de> serde::Deserialize<'de> for Name<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Name<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an agent name")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Name<'de>, E> {
                    Ok(Name(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> std::result::Result<Name<'de>, E> {
                    Ok(Name(Cow::Owned(v.to_owned())))
                }
            }
            d.deserialize_str(V)
        }
    }
    impl<'de> serde::Deserialize<'de> for Names<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Names<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a map keyed by agent name")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<Names<'de>, A::Error> {
                    let mut names = Vec::new();
                    while let Some((name, _)) = map.next_entry::<Name, serde::de::IgnoredAny>()? {
                        names.push(name.0);
                    }
                    Ok(Names(names))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Names>(text).map_or_else(|_| Vec::new(), |n| n.0)
}

/// The rows of `[previous_from, to)` matching the dimension filters, and the usage agents
/// reported only as metrics (`/v1/metrics`) in buckets where they sent no spans: one statement,
/// one transaction.
async fn rows(pool: &sqlx::PgPool, workspace: WorkspaceId, q: &Resolved) -> Result<Vec<Row>> {
    // Histograms are binary in the workspace totals, jsonb in the detailed rollups.
    let no_hist = if q.is_unfiltered() {
        "''::bytea"
    } else {
        "'{}'::jsonb"
    };
    let sql = format!(
        "{} UNION ALL {}",
        span_rows_sql(q),
        metric_only_rows_sql(q, no_hist)
    );
    let (days_from, days_to) = q.previous_whole_days();
    let mut tx = tenancy::begin(pool, workspace).await?;
    let rows = sqlx::query_as(&sql)
        .bind(workspace)
        .bind(q.previous_from)
        .bind(q.to)
        .bind(&q.dims.dept)
        .bind(&q.dims.env)
        .bind(&q.dims.version)
        .bind(&q.dims.agent)
        .bind(&q.dims.model)
        .bind(days_from)
        .bind(days_to)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Tokens and cost that agents reported only as GenAI metrics, per (bucket, agent) without a
/// span row: the rule of [`crate::ingest::metrics::usage_by_agent`] (spans win where both
/// exist), per hour — or per day on ranges read from the daily rollups. They count in tokens,
/// cost and active agents, not in requests or latency (traces measure those).
fn metric_only_rows_sql(q: &Resolved, no_hist: &str) -> String {
    let (metrics, spans) = if q.daily {
        ("metric_rollup_daily", "rollup_daily")
    } else {
        ("metric_rollup_hourly", "rollup_hourly")
    };
    format!(
        "SELECT bucket, agent, 0::bigint AS requests, 0::bigint AS errors, \
           0::bigint AS latency_sum_us, {no_hist} AS hist, \
           sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens, \
           sum(cost_usd)::float8 AS cost, 0::bigint AS spans, \
           json_build_object(agent, 1)::text AS agents \
         FROM {metrics} m WHERE {WINDOW_AND_DIMS} \
           AND NOT EXISTS (SELECT 1 FROM {spans} r WHERE r.workspace_id = $1 \
             AND r.bucket = m.bucket AND r.agent = m.agent) \
         GROUP BY bucket, agent"
    )
}

/// The span rollup rows of `[previous_from, to)` matching the dimension filters. Without any
/// filter they are the workspace totals (one row per bucket, `agent` empty), the whole days of
/// the previous period (`$9`–`$10`, [`Resolved::previous_whole_days`]) read as daily rows.
fn span_rows_sql(q: &Resolved) -> String {
    if q.is_unfiltered() {
        let columns = "bucket, '' AS agent, traces AS requests, trace_errors AS errors, \
            trace_latency_sum_us AS latency_sum_us, trace_latency_hist AS hist, input_tokens, \
            output_tokens, cost_usd::float8 AS cost, spans, agents::text AS agents";
        return format!(
            "SELECT {columns} FROM {} WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
               AND NOT (bucket >= $9 AND bucket < $10) \
             UNION ALL \
             SELECT {columns} FROM rollup_total_daily \
             WHERE workspace_id = $1 AND bucket >= $9 AND bucket < $10",
            q.total_table()
        );
    }
    // Requests are traces without a model filter (model '' rows), the model's calls with one.
    let measures = if q.dims.model.is_some() {
        "spans AS requests, span_errors AS errors, span_latency_sum_us AS latency_sum_us, \
         span_latency_hist AS hist"
    } else {
        "traces AS requests, trace_errors AS errors, trace_latency_sum_us AS latency_sum_us, \
         trace_latency_hist AS hist"
    };
    format!(
        "SELECT bucket, agent, {measures}, input_tokens, output_tokens, \
           cost_usd::float8 AS cost, spans, NULL::text AS agents \
         FROM {table} WHERE {WINDOW_AND_DIMS}",
        table = q.table(),
    )
}

/// The rollup rows of `[from, q.to)` under the filters: `$1` workspace, `$2`/`$3` the bounds,
/// `$4`–`$8` the dimensions (NULL: any).
const WINDOW_AND_DIMS: &str = "workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
    AND ($4::text IS NULL OR department = $4) AND ($5::text IS NULL OR environment = $5) \
    AND ($6::text IS NULL OR version = $6) AND ($7::text IS NULL OR agent = $7) \
    AND ($8::text IS NULL OR model = $8)";

/// Runs `sql` (whose WHERE is [`WINDOW_AND_DIMS`]) in the workspace's binding.
async fn fetch_window<T>(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    sql: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    dims: &Dims,
) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut tx = tenancy::begin(pool, workspace).await?;
    let rows = sqlx::query_as(sql)
        .bind(workspace)
        .bind(from)
        .bind(to)
        .bind(&dims.dept)
        .bind(&dims.env)
        .bind(&dims.version)
        .bind(&dims.agent)
        .bind(&dims.model)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Sums over a set of rows.
#[derive(Clone, Debug, Default)]
struct Sums {
    requests: i64,
    errors: i64,
    latency_sum_us: i64,
    hist: Histogram,
    input_tokens: i64,
    output_tokens: i64,
    cost: f64,
    /// Agents, a bit per index into the names of the rows summed (see [`totals`]).
    agents: Vec<u64>,
}

impl Sums {
    fn add(&mut self, r: &Row, agents: &[u32]) {
        self.requests += r.requests;
        self.errors += r.errors;
        self.latency_sum_us += r.latency_sum_us;
        self.hist.merge(&r.hist.0);
        self.input_tokens += r.input_tokens;
        self.output_tokens += r.output_tokens;
        self.cost += r.cost;
        for &a in agents {
            let (word, bit) = (a as usize / 64, a % 64);
            if self.agents.len() <= word {
                self.agents.resize(word + 1, 0);
            }
            self.agents[word] |= 1 << bit;
        }
    }

    fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 * 100.0 / self.requests as f64)
    }

    fn avg_latency_ms(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.latency_sum_us as f64 / self.requests as f64 / 1000.0)
    }

    fn p95_ms(&self) -> Option<f64> {
        self.hist.quantile(0.95).map(|us| us / 1000.0)
    }

    fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens
    }
}

/// The window's sums, the previous period's, and one per chart step.
struct Totals {
    current: Sums,
    previous: Sums,
    steps: Vec<Sums>,
}

fn totals(q: &Resolved, rows: &[Row]) -> Totals {
    let mut t = Totals {
        current: Sums::default(),
        previous: Sums::default(),
        steps: vec![Sums::default(); q.points()],
    };
    // Agent names become small numbers once, so the sets per step are cheap to fill.
    fn id<'a>(ids: &mut HashMap<Cow<'a, str>, u32>, name: Cow<'a, str>) -> u32 {
        let next = ids.len() as u32;
        *ids.entry(name).or_insert(next)
    }
    let mut ids: HashMap<Cow<str>, u32> = HashMap::new();
    let mut agents: Vec<u32> = Vec::new();
    for r in rows {
        agents.clear();
        match &r.agents {
            Some(text) => {
                for name in agent_names(text) {
                    agents.push(id(&mut ids, name));
                }
            }
            None if r.requests > 0 || r.spans > 0 => {
                agents.push(id(&mut ids, Cow::Borrowed(&r.agent)));
            }
            None => {}
        }
        if r.bucket < q.from {
            t.previous.add(r, &agents);
            continue;
        }
        t.current.add(r, &agents);
        if let Some(s) = q.step_of(r.bucket).and_then(|i| t.steps.get_mut(i)) {
            s.add(r, &agents);
        }
    }
    t
}

fn kpis(q: &Resolved, t: &Totals) -> Vec<Kpi> {
    let calls = q.dims.model.is_some();
    let kpi = |key: &str, label: &str, unit: Unit, f: &dyn Fn(&Sums) -> Option<f64>| Kpi {
        key: key.into(),
        label: label.into(),
        unit,
        value: f(&t.current),
        previous: f(&t.previous),
        spark: t.steps.iter().map(f).collect(),
    };
    vec![
        kpi(
            "requests",
            if calls { "Calls" } else { "Requests" },
            Unit::Count,
            &|s| Some(s.requests as f64),
        ),
        kpi("error_rate", "Error rate", Unit::Percent, &|s| {
            s.error_rate()
        }),
        kpi("avg_latency", "Avg latency", Unit::Ms, &|s| {
            s.avg_latency_ms()
        }),
        kpi("p95_latency", "p95 latency", Unit::Ms, &|s| s.p95_ms()),
        kpi("tokens", "Tokens", Unit::Tokens, &|s| {
            Some(s.tokens() as f64)
        }),
        kpi("cost", "Cost", Unit::Usd, &|s| Some(s.cost)),
        kpi("active_agents", "Active agents", Unit::Count, &|s| {
            Some(s.agents.iter().map(|w| w.count_ones()).sum::<u32>() as f64)
        }),
    ]
}

/// Requests, errors and cost per agent over the window (for the top lists).
async fn agent_stats(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<Vec<AgentStat>> {
    let (requests, errors) = if q.dims.model.is_some() {
        ("spans", "span_errors")
    } else {
        ("traces", "trace_errors")
    };
    let sql = format!(
        "SELECT agent, min(department) AS department, sum({requests})::bigint AS requests, \
           sum({errors})::bigint AS errors, sum(cost_usd)::float8 AS cost_usd \
         FROM {table} WHERE {WINDOW_AND_DIMS} GROUP BY agent",
        table = q.table(),
    );
    let rows: Vec<(String, String, i64, i64, f64)> =
        fetch_window(pool, workspace, &sql, (q.from, q.to), &q.dims).await?;
    Ok(rows
        .into_iter()
        .map(
            |(agent, department, requests, errors, cost_usd)| AgentStat {
                agent,
                department,
                requests,
                errors,
                cost_usd,
            },
        )
        .collect())
}

/// The five agents with the most of `by` (none with zero).
fn top(stats: &[AgentStat], by: impl Fn(&AgentStat) -> f64) -> Vec<AgentStat> {
    let mut all: Vec<AgentStat> = stats.iter().filter(|a| by(a) > 0.0).cloned().collect();
    all.sort_by(|a, b| by(b).total_cmp(&by(a)).then_with(|| a.agent.cmp(&b.agent)));
    all.truncate(5);
    all
}

fn home_kpis_of(q: &Resolved, t: &Totals, agents: &[AgentStat]) -> HomeKpis {
    HomeKpis {
        window: q.window(),
        generated_at: Utc::now(),
        notices: Vec::new(),
        kpis: kpis(q, t),
        top_by_cost: top(agents, |a| a.cost_usd),
        top_by_errors: top(agents, |a| a.errors as f64),
    }
}

fn timeseries_of(q: &Resolved, t: &Totals) -> Timeseries {
    Timeseries {
        window: q.window(),
        points: t
            .steps
            .iter()
            .zip(q.steps())
            .map(|(s, t)| SeriesPoint {
                t,
                requests: s.requests,
                errors: s.errors,
                input_tokens: s.input_tokens,
                output_tokens: s.output_tokens,
                cost_usd: s.cost,
                avg_latency_ms: s.avg_latency_ms(),
            })
            .collect(),
    }
}

/// The KPI cards alone (the values, previous periods and sparklines), uncached: what the
/// dashboard benchmark times.
pub async fn kpis_uncached(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<Vec<Kpi>> {
    let rows = rows(pool, workspace, q).await?;
    Ok(kpis(q, &totals(q, &rows)))
}

/// Home KPIs (the cards and the top agents, read concurrently), uncached.
pub async fn home_kpis_uncached(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<HomeKpis> {
    let (rows, agents) =
        tokio::try_join!(rows(pool, workspace, q), agent_stats(pool, workspace, q))?;
    Ok(home_kpis_of(q, &totals(q, &rows), &agents))
}

/// Home KPIs for the caller's filters (cached).
pub async fn home_kpis(
    services: &Services,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<HomeKpis> {
    let key = CacheKey::new("home_kpis", workspace, q.cache_scope());
    services
        .cache
        .get_with_cache(&key, q.ttl(), || {
            home_kpis_uncached(&services.pool, workspace, q)
        })
        .await
}

/// Requests, errors, tokens, cost and latency per chart step (cached).
pub async fn timeseries(
    services: &Services,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<Timeseries> {
    let key = CacheKey::new("timeseries", workspace, q.cache_scope());
    services
        .cache
        .get_with_cache(&key, q.ttl(), || async {
            let rows = rows(&services.pool, workspace, q).await?;
            Ok(timeseries_of(q, &totals(q, &rows)))
        })
        .await
}

/// Everything the home page shows, its independent parts fetched concurrently: the KPIs and
/// the time series from one read of the rollups (cached together), and the activity stream.
pub async fn home(services: &Services, workspace: WorkspaceId, q: &Resolved) -> Result<Home> {
    let key = CacheKey::new("home", workspace, q.cache_scope());
    let (both, activity) = tokio::join!(
        services.cache.get_with_cache(&key, q.ttl(), || async {
            let pool = &services.pool;
            let (rows, agents) =
                tokio::try_join!(rows(pool, workspace, q), agent_stats(pool, workspace, q))?;
            let t = totals(q, &rows);
            Ok((home_kpis_of(q, &t, &agents), timeseries_of(q, &t)))
        }),
        activity(services, workspace, q),
    );
    let (kpis, series) = both?;
    Ok(Home {
        kpis,
        series,
        activity: activity?,
    })
}

/// The departments, environments, versions, agents and models this workspace has sent
/// (cached, warm).
pub async fn filter_options(services: &Services, workspace: WorkspaceId) -> Result<FilterOptions> {
    let key = CacheKey::new("filters", workspace, "options");
    services
        .cache
        .get_with_cache(&key, Ttl::Warm, || async {
            let mut tx = tenancy::begin(&services.pool, workspace).await?;
            let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
                "SELECT DISTINCT department, environment, version, agent, model FROM rollup_daily \
                 WHERE workspace_id = $1",
            )
            .bind(workspace)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            let mut sets: [BTreeSet<String>; 5] = Default::default();
            for (d, e, v, a, m) in rows {
                for (set, value) in sets.iter_mut().zip([d, e, v, a, m]) {
                    if !value.is_empty() {
                        set.insert(value);
                    }
                }
            }
            let [departments, environments, versions, agents, models] =
                sets.map(|s| s.into_iter().collect::<Vec<_>>());
            Ok(FilterOptions {
                departments,
                environments,
                versions,
                agents,
                models,
            })
        })
        .await
}

/// What usage can be split by.
pub const BREAKDOWNS: [&str; 3] = ["department", "agent", "model"];

#[derive(sqlx::FromRow)]
struct GroupRow {
    bucket: DateTime<Utc>,
    key: String,
    requests: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    reasoning_tokens: i64,
    cost: f64,
}

/// Usage over the window split by `by` (department, agent or model), uncached. By model,
/// requests are the model's calls; otherwise they are traces.
pub async fn usage_breakdown_uncached(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
    by: &str,
) -> Result<UsageBreakdown> {
    let by = BREAKDOWNS.into_iter().find(|b| *b == by).ok_or_else(|| {
        Error::invalid_input(
            "by",
            format!(
                "{by:?} is not a breakdown; use one of {}",
                BREAKDOWNS.join(", ")
            ),
        )
    })?;
    let by_model = by == "model" || q.dims.model.is_some();
    let (requests, errors) = if by_model {
        ("spans", "span_errors")
    } else {
        ("traces", "trace_errors")
    };
    let sql = format!(
        "SELECT bucket, {by} AS key, sum({requests})::bigint AS requests, \
           sum({errors})::bigint AS errors, sum(input_tokens)::bigint AS input_tokens, \
           sum(output_tokens)::bigint AS output_tokens, \
           sum(cache_read_tokens)::bigint AS cache_read_tokens, \
           sum(reasoning_tokens)::bigint AS reasoning_tokens, sum(cost_usd)::float8 AS cost \
         FROM {table} WHERE {WINDOW_AND_DIMS} {only_models} \
         GROUP BY bucket, {by}",
        table = q.table(),
        only_models = if by == "model" { "AND model <> ''" } else { "" },
    );
    let rows: Vec<GroupRow> = fetch_window(pool, workspace, &sql, (q.from, q.to), &q.dims).await?;

    let points = q.points();
    let step = q.step.num_seconds();
    let mut totals: BTreeMap<String, UsageRow> = BTreeMap::new();
    let mut per_step: BTreeMap<String, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for r in &rows {
        let t = totals.entry(r.key.clone()).or_insert_with(|| UsageRow {
            key: r.key.clone(),
            ..UsageRow::default()
        });
        t.requests += r.requests;
        t.errors += r.errors;
        t.input_tokens += r.input_tokens;
        t.output_tokens += r.output_tokens;
        t.cache_read_tokens += r.cache_read_tokens;
        t.reasoning_tokens += r.reasoning_tokens;
        t.cost_usd += r.cost;
        let s = per_step
            .entry(r.key.clone())
            .or_insert_with(|| (vec![0; points], vec![0; points]));
        let i = ((r.bucket - q.from).num_seconds() / step) as usize;
        if i < points {
            s.0[i] += r.requests;
            s.1[i] += r.input_tokens + r.output_tokens;
        }
    }
    let mut groups: Vec<UsageRow> = totals.into_values().collect();
    groups.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then((b.input_tokens + b.output_tokens).cmp(&(a.input_tokens + a.output_tokens)))
            .then_with(|| a.key.cmp(&b.key))
    });
    let mut series: Vec<GroupSeries> = Vec::new();
    let mut other = GroupSeries {
        key: "other".into(),
        requests: vec![0; points],
        tokens: vec![0; points],
    };
    for (n, g) in groups.iter().enumerate() {
        let (requests, tokens) = per_step.remove(&g.key).unwrap_or_default();
        if n < 5 {
            series.push(GroupSeries {
                key: g.key.clone(),
                requests,
                tokens,
            });
        } else {
            for i in 0..points {
                other.requests[i] += requests.get(i).copied().unwrap_or(0);
                other.tokens[i] += tokens.get(i).copied().unwrap_or(0);
            }
        }
    }
    if groups.len() > 5 {
        series.push(other);
    }
    Ok(UsageBreakdown {
        window: q.window(),
        by: by.to_owned(),
        rows: groups,
        steps: (0..points).map(|i| q.from + q.step * i as i32).collect(),
        series,
    })
}

/// [`usage_breakdown_uncached`], cached.
pub async fn usage_breakdown(
    services: &Services,
    workspace: WorkspaceId,
    q: &Resolved,
    by: &str,
) -> Result<UsageBreakdown> {
    let key = CacheKey::new(
        "usage",
        workspace,
        format!("{}|{}", crate::cache::scope(&[by]), q.cache_scope()),
    );
    services
        .cache
        .get_with_cache(&key, q.ttl(), || {
            usage_breakdown_uncached(&services.pool, workspace, q, by)
        })
        .await
}
