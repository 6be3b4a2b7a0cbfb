//! Score analytics from the rollups: every score name over the filter bar's window, overall
//! and by version, agent or environment; two versions compared with a significance test.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};

use argus_types::{
    ComparedScore, LabelCount, ScoreGroup, ScoreStat, ScoreSummaries, ScoreSummary, ScoreType,
    Significance, VersionComparison,
};

use super::configs::Live;
use super::histogram::{self, BINS};
use super::stats;
use crate::analytics::Resolved;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// What a summary is grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Version,
    Agent,
    Environment,
}

impl Group {
    pub fn parse(s: Option<&str>) -> Result<Group> {
        match s.map(str::trim).unwrap_or("version") {
            "" | "version" => Ok(Group::Version),
            "agent" => Ok(Group::Agent),
            "environment" | "env" => Ok(Group::Environment),
            other => Err(Error::invalid_input(
                "by",
                format!("{other:?}: version, agent or environment"),
            )),
        }
    }

    fn column(self) -> &'static str {
        match self {
            Group::Version => "version",
            Group::Agent => "agent",
            Group::Environment => "environment",
        }
    }
}

/// The sums of one (name, group) cell, label by label.
#[derive(Clone, Debug, Default)]
struct Sums {
    n: i64,
    valued: i64,
    sum: f64,
    sum_sq: f64,
    min: Option<f64>,
    max: Option<f64>,
    labels: BTreeMap<String, i64>,
}

impl Sums {
    fn add(&mut self, c: &Cell) {
        self.n += c.n;
        self.valued += c.valued;
        self.sum += c.sum;
        self.sum_sq += c.sum_sq;
        self.min = match (self.min, c.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, c.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if !c.label.is_empty() {
            *self.labels.entry(c.label.clone()).or_default() += c.n;
        }
    }

    fn variance(&self) -> Option<f64> {
        (self.valued >= 2).then(|| {
            let k = self.valued as f64;
            ((self.sum_sq - self.sum * self.sum / k) / (k - 1.0)).max(0.0)
        })
    }

    fn stat(&self) -> ScoreStat {
        let labels = label_counts(&self.labels);
        ScoreStat {
            n: self.n,
            mean: (self.valued > 0).then(|| self.sum / self.valued as f64),
            sd: self.variance().map(f64::sqrt),
            min: self.min,
            max: self.max,
            labels,
        }
    }
}

/// Counts per label, most frequent first (ties by label), the empty ones left out.
pub(crate) fn label_counts(labels: &BTreeMap<String, i64>) -> Vec<LabelCount> {
    let mut out: Vec<LabelCount> = labels
        .iter()
        .filter(|(_, c)| **c > 0)
        .map(|(label, count)| LabelCount {
            label: label.clone(),
            count: *count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    out
}

/// One rollup cell of the window: a score name, a label and a group's sums.
#[derive(sqlx::FromRow)]
struct Cell {
    name: String,
    label: String,
    key: String,
    n: i64,
    valued: i64,
    sum: f64,
    sum_sq: f64,
    min: Option<f64>,
    max: Option<f64>,
}

/// The score rollup a window reads: daily rows for windows of 30 days and more.
fn rollup_table(window: &Resolved) -> &'static str {
    if window.daily {
        "score_rollup_daily"
    } else {
        "score_rollup_hourly"
    }
}

/// The rows of a score rollup inside the window and its dimension filters ($1–$7, bound by
/// [`bind_window`]).
const WINDOW: &str = "workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
    AND ($4::text IS NULL OR department = $4) AND ($5::text IS NULL OR environment = $5) \
    AND ($6::text IS NULL OR version = $6) AND ($7::text IS NULL OR agent = $7)";

/// The dimension filters ($4–$7).
const DIMS: &str = "($4::text IS NULL OR department = $4) \
    AND ($5::text IS NULL OR environment = $5) AND ($6::text IS NULL OR version = $6) \
    AND ($7::text IS NULL OR agent = $7)";

/// The whole window's rollup rows, as a FROM item (`r`; $1–$9, bound by [`bind_days`]): whole
/// days from the daily rollup, only the hours of the partial first and last days from the hourly
/// one — a week reads 6 days and 24 hours of rows instead of 168 hours. Windows of 30 days and
/// more read the daily rollup alone, as the dashboard does.
fn whole_window() -> String {
    const COLUMNS: &str =
        "name, label, agent, department, environment, version, n, valued, sum, sum_sq, min, max, hist";
    format!(
        "(SELECT {COLUMNS} FROM score_rollup_hourly WHERE workspace_id = $1 AND {DIMS} \
           AND (bucket >= $2 AND bucket < $8 OR bucket >= $9 AND bucket < $3) \
         UNION ALL \
         SELECT {COLUMNS} FROM score_rollup_daily WHERE workspace_id = $1 AND {DIMS} \
           AND bucket >= $8 AND bucket < $9) r"
    )
}

/// The window's whole days, [a, b): from its first midnight to its last (both clamped into the
/// window); the whole window for windows read from the daily rollup.
pub fn whole_days(window: &Resolved) -> (DateTime<Utc>, DateTime<Utc>) {
    if window.daily {
        return (window.from, window.to);
    }
    let midnight = |t: DateTime<Utc>| t.date_naive().and_time(NaiveTime::MIN).and_utc();
    let first = if midnight(window.from) == window.from {
        window.from
    } else {
        midnight(window.from) + TimeDelta::days(1)
    };
    let a = first.min(window.to);
    (a, midnight(window.to).max(a))
}

fn bind_days<'q, O>(
    q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    workspace: WorkspaceId,
    window: &'q Resolved,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    let (a, b) = whole_days(window);
    bind_window(q, workspace, window).bind(a).bind(b)
}

fn bind_window<'q, O>(
    q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    workspace: WorkspaceId,
    window: &'q Resolved,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    let d = &window.dims;
    q.bind(workspace.0)
        .bind(window.from)
        .bind(window.to)
        .bind(&d.dept)
        .bind(&d.env)
        .bind(&d.version)
        .bind(&d.agent)
}

/// Numeric scores' histograms over the window, by name: the rollup rows' bins added up here
/// (cheaper than in SQL, where arrays do not sum).
type Histograms = BTreeMap<String, [i64; BINS]>;

/// The rollup cells of the window, and its histograms.
async fn read(
    services: &Services,
    workspace: WorkspaceId,
    window: &Resolved,
    group: Group,
) -> Result<(Vec<Cell>, Histograms, Live)> {
    let mut tx = tenancy::begin_rollup_read(services.read_pool(workspace).await, workspace).await?;
    let rows: Vec<Cell> = bind_days(
        sqlx::query_as(&format!(
            "SELECT name, label, {g} AS key, sum(n)::bigint AS n, sum(valued)::bigint AS valued, \
             sum(sum) AS sum, sum(sum_sq) AS sum_sq, min(min) AS min, max(max) AS max \
             FROM {rows} GROUP BY name, label, {g}",
            g = group.column(),
            rows = whole_window(),
        )),
        workspace,
        window,
    )
    .fetch_all(&mut *tx)
    .await?;
    // Each row's bins from its first non-empty one (the array's lower bound; a slice starts
    // at 1, as the driver wants).
    let hist_rows: Vec<(String, i32, Vec<i64>)> = bind_days(
        sqlx::query_as(&format!(
            "SELECT name, array_lower(hist, 1), hist[array_lower(hist, 1):] FROM {rows} \
             WHERE label = '' AND hist IS NOT NULL",
            rows = whole_window(),
        )),
        workspace,
        window,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut hists = Histograms::new();
    for (name, first, hist) in hist_rows {
        histogram::add(hists.entry(name).or_insert([0; BINS]), first, &hist);
    }
    let configs = Live::load(&mut tx, workspace).await?;
    tx.commit().await?;
    Ok((rows, hists, configs))
}

/// A name's type: its live config's, else what its rows hold.
fn type_of(configs: &Live, name: &str, labels: &BTreeMap<String, i64>, numeric: bool) -> ScoreType {
    if let Some(c) = configs.by_name(name) {
        return c.data_type;
    }
    if numeric {
        ScoreType::Numeric
    } else if labels.keys().all(|l| l == "true" || l == "false") {
        ScoreType::Boolean
    } else {
        ScoreType::Categorical
    }
}

/// Every score name over the window, overall and by `group`, busiest group first.
pub async fn summary(
    services: &Services,
    workspace: WorkspaceId,
    window: &Resolved,
    group: Group,
) -> Result<ScoreSummaries> {
    if window.dims.model.is_some() {
        return Err(Error::invalid_input(
            "model",
            "scores are not kept by model",
        ));
    }
    let (rows, hists, configs) = read(services, workspace, window, group).await?;
    let mut by_name: BTreeMap<String, (Sums, bool, BTreeMap<String, Sums>)> = BTreeMap::new();
    for cell in &rows {
        let entry = by_name.entry(cell.name.clone()).or_default();
        entry.0.add(cell);
        entry.1 |= cell.label.is_empty() && cell.n != 0;
        entry.2.entry(cell.key.clone()).or_default().add(cell);
    }
    let scores = by_name
        .into_iter()
        .filter(|(_, (overall, _, _))| overall.n > 0)
        .map(|(name, (overall, numeric, groups))| {
            let histogram = hists
                .get(&name)
                .map(|h| histogram::bins(h, overall.min, overall.max))
                .unwrap_or_default();
            let p50 = histogram::quantile(&histogram, 0.5);
            let mut groups: Vec<ScoreGroup> = groups
                .into_iter()
                .filter(|(_, s)| s.n > 0)
                .map(|(key, s)| ScoreGroup {
                    key,
                    stat: s.stat(),
                })
                .collect();
            groups.sort_by(|a, b| b.stat.n.cmp(&a.stat.n).then_with(|| a.key.cmp(&b.key)));
            ScoreSummary {
                data_type: type_of(&configs, &name, &overall.labels, numeric),
                higher_is_better: configs.by_name(&name).and_then(|c| c.higher_is_better),
                overall: overall.stat(),
                groups,
                name,
                histogram,
                p50,
            }
        })
        .collect();
    Ok(ScoreSummaries {
        by: group.column().to_owned(),
        from: window.from,
        to: window.to,
        scores,
    })
}

/// Whether two sets of one score differ: Welch's t for numbers (and categories' values), a
/// two-proportion z-test for booleans; `None` when a side has too few scores.
pub fn significance(data_type: ScoreType, sa: &ScoreStat, sb: &ScoreStat) -> Option<Significance> {
    let test = match data_type {
        ScoreType::Numeric | ScoreType::Categorical => {
            let moments = |st: &ScoreStat| Some((st.n as f64, st.mean?, st.sd.map(|d| d * d)?));
            moments(sa)
                .zip(moments(sb))
                .and_then(|(x, y)| stats::welch(x, y))
                .map(|(t, p)| ("welch_t", t, p))
        }
        ScoreType::Boolean => {
            let trues = |st: &ScoreStat| {
                st.labels
                    .iter()
                    .find(|l| l.label == "true")
                    .map_or(0, |l| l.count) as f64
            };
            stats::two_proportion(trues(sa), sa.n as f64, trues(sb), sb.n as f64)
                .map(|(z, p)| ("two_proportion_z", z, p))
        }
        ScoreType::Text => None,
    };
    test.map(|(method, statistic, p_value)| Significance {
        method: method.into(),
        statistic,
        p_value,
        significant: p_value < 0.05,
    })
}

/// Two versions (of the window's agent, when it names one), score by score, with Welch's t
/// for numbers and a two-proportion z-test for booleans.
pub async fn compare(
    services: &Services,
    workspace: WorkspaceId,
    window: &Resolved,
    a: &str,
    b: &str,
) -> Result<VersionComparison> {
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() || b.is_empty() {
        return Err(Error::invalid_input("a", "name two versions, a and b"));
    }
    let mut window = window.clone();
    // The two versions are the comparison, not a filter.
    window.dims.version = None;
    let all = summary(services, workspace, &window, Group::Version).await?;
    let side = |s: &ScoreSummary, v: &str| {
        s.groups
            .iter()
            .find(|g| g.key == v)
            .map(|g| g.stat.clone())
            .unwrap_or_default()
    };
    let scores = all
        .scores
        .iter()
        .map(|s| {
            let (sa, sb) = (side(s, a), side(s, b));
            let test = significance(s.data_type, &sa, &sb);
            ComparedScore {
                name: s.name.clone(),
                data_type: s.data_type,
                higher_is_better: s.higher_is_better,
                test,
                a: sa,
                b: sb,
            }
        })
        .filter(|c| c.a.n > 0 || c.b.n > 0)
        .collect();
    Ok(VersionComparison {
        agent: window.dims.agent.clone(),
        a: a.to_owned(),
        b: b.to_owned(),
        from: window.from,
        to: window.to,
        scores,
    })
}

/// Trend lines a chart shows at most (the busiest groups).
const TREND_SERIES: usize = 6;

/// Every score name's mean (booleans: the share true) step by step over the window, per
/// `group`, from the rollups. Text scores have no line.
pub async fn trends(
    services: &Services,
    workspace: WorkspaceId,
    window: &Resolved,
    group: Group,
) -> Result<Vec<argus_types::ScoreTrend>> {
    let mut tx = tenancy::begin_rollup_read(services.read_pool(workspace).await, workspace).await?;
    type Row = (String, chrono::DateTime<chrono::Utc>, String, i64, i64, f64);
    let rows: Vec<Row> = bind_window(
        sqlx::query_as(&format!(
            "SELECT name, bucket, {g}, sum(n)::bigint, sum(valued)::bigint, sum(sum) \
         FROM {table} WHERE {WINDOW} \
         GROUP BY name, bucket, {g}",
            g = group.column(),
            table = rollup_table(window),
        )),
        workspace,
        window,
    )
    .fetch_all(&mut *tx)
    .await?;
    let configs = Live::load(&mut tx, workspace).await?;
    tx.commit().await?;
    let steps = window.steps();
    // name → key → (n, per step (valued, sum))
    type Line = (i64, Vec<(i64, f64)>);
    let mut by_name: BTreeMap<String, BTreeMap<String, Line>> = BTreeMap::new();
    for (name, bucket, key, n, valued, sum) in rows {
        let Some(step) = window.step_of(bucket) else {
            continue;
        };
        let line = by_name
            .entry(name)
            .or_default()
            .entry(key)
            .or_insert_with(|| (0, vec![(0, 0.0); steps.len()]));
        line.0 += n;
        if let Some(cell) = line.1.get_mut(step) {
            cell.0 += valued;
            cell.1 += sum;
        }
    }
    Ok(by_name
        .into_iter()
        .filter_map(|(name, lines)| {
            let valued = lines.values().any(|l| l.1.iter().any(|c| c.0 > 0));
            let data_type = configs.by_name(&name).map_or(
                if valued {
                    ScoreType::Numeric
                } else {
                    ScoreType::Categorical
                },
                |c| c.data_type,
            );
            if !valued || data_type == ScoreType::Text {
                return None;
            }
            let mut series: Vec<argus_types::TrendSeries> = lines
                .into_iter()
                .map(|(key, (n, cells))| argus_types::TrendSeries {
                    key,
                    n,
                    values: cells
                        .iter()
                        .map(|(k, s)| (*k > 0).then(|| s / *k as f64))
                        .collect(),
                })
                .collect();
            series.sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.key.cmp(&b.key)));
            series.truncate(TREND_SERIES);
            Some(argus_types::ScoreTrend {
                name,
                data_type,
                steps: steps.clone(),
                step_seconds: window.step.num_seconds(),
                series,
            })
        })
        .collect())
}
