//! Experiments: a run is a named set of traces, one per dataset item, linked through the API
//! or by a span attribute at ingest (`dataset.item_id`, with `dataset.run_name` or, without
//! it, `agent@version`). Runs are compared by their traces' scores — run against run with a
//! significance test, and item by item.

use std::collections::{BTreeMap, HashMap};

use argus_types::{
    CellScore, ComparedItem, ComparedScore, ExperimentRun, PageMeta, PairedScore, RunCell,
    RunComparison, RunScore, ScoreStat, ScoreType,
};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::analytics::{label_counts, significance};
use super::configs::{clean_name, Live};
use crate::ingest::model::SpanRecord;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

pub use super::subject::ITEM_ATTRIBUTE;
/// The span attribute naming the experiment run (default: `agent@version`).
pub const RUN_ATTRIBUTE: &str = "dataset.run_name";
/// Runs a dataset may have.
pub const MAX_RUNS: i64 = 200;
/// Items a comparison page shows at most.
pub const MAX_PAGE: u32 = 200;

/// One link: a dataset item, the run's name, the trace.
struct Link {
    item: Uuid,
    run: String,
    trace: String,
}

/// Creates the runs `links` name (per item's dataset) and links their traces; the newest
/// trace of an item in a run wins. Links to items that do not exist are dropped (and
/// counted out of the answer).
async fn write_links(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    links: &[Link],
) -> Result<usize> {
    if links.is_empty() {
        return Ok(0);
    }
    let items: Vec<Uuid> = links.iter().map(|l| l.item).collect();
    let runs: Vec<&str> = links.iter().map(|l| l.run.as_str()).collect();
    let traces: Vec<&str> = links.iter().map(|l| l.trace.as_str()).collect();
    sqlx::query(
        "INSERT INTO experiment_runs (workspace_id, id, dataset_id, name) \
         SELECT DISTINCT ON (i.dataset_id, l.run) $1, gen_random_uuid(), i.dataset_id, l.run \
         FROM unnest($2::uuid[], $3::text[]) AS l(item, run) \
         JOIN dataset_items i ON i.workspace_id = $1 AND i.id = l.item \
         ON CONFLICT (workspace_id, dataset_id, name) DO NOTHING",
    )
    .bind(workspace.0)
    .bind(&items)
    .bind(&runs)
    .execute(&mut *conn)
    .await?;
    let linked = sqlx::query(
        "INSERT INTO experiment_results (workspace_id, run_id, item_id, trace_id) \
         SELECT DISTINCT ON (r.id, l.item) $1, r.id, l.item, l.trace \
         FROM unnest($2::uuid[], $3::text[], $4::text[]) WITH ORDINALITY AS l(item, run, trace, n) \
         JOIN dataset_items i ON i.workspace_id = $1 AND i.id = l.item \
         JOIN experiment_runs r ON r.workspace_id = $1 AND r.dataset_id = i.dataset_id \
           AND r.name = l.run \
         ORDER BY r.id, l.item, l.n DESC \
         ON CONFLICT (workspace_id, run_id, item_id) \
         DO UPDATE SET trace_id = excluded.trace_id, linked_at = now()",
    )
    .bind(workspace.0)
    .bind(&items)
    .bind(&runs)
    .bind(&traces)
    .execute(&mut *conn)
    .await?
    .rows_affected() as usize;
    Ok(linked)
}

/// A span's attribute `key`, or the native API's `metadata.key`.
fn attribute<'a>(s: &'a SpanRecord, key: &str) -> Option<&'a str> {
    s.attributes
        .get(key)
        .or_else(|| s.attributes.get("metadata").and_then(|m| m.get(key)))
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Ingest's part, in the transaction that stores the spans: fresh spans carrying
/// `dataset.item_id` (an attribute, or in the native API's `metadata`) link their traces. A
/// malformed id or an unknown item is ignored (the span is stored all the same).
pub async fn link_spans(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    fresh: &[&SpanRecord],
) -> Result<usize> {
    let mut links: Vec<Link> = Vec::new();
    for s in fresh {
        let Some(item) = attribute(s, ITEM_ATTRIBUTE).and_then(|v| Uuid::parse_str(v).ok()) else {
            continue;
        };
        let run = attribute(s, RUN_ATTRIBUTE)
            .filter(|r| r.chars().count() <= 200)
            .map_or_else(
                || format!("{}@{}", s.dims.agent, s.dims.version),
                str::to_owned,
            );
        if !links
            .iter()
            .any(|l| l.item == item && l.run == run && l.trace == s.trace_id)
        {
            links.push(Link {
                item,
                run,
                trace: s.trace_id.clone(),
            });
        }
    }
    write_links(conn, workspace, &links).await
}

/// Whether `trace` is a well-formed trace id (32 lowercase hex digits).
fn trace_id_field(trace: &str) -> Result<String> {
    let trace = trace.trim().to_ascii_lowercase();
    if trace.len() != 32 || !trace.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid_input(
            "trace_id",
            "must be 32 hexadecimal digits",
        ));
    }
    Ok(trace)
}

/// Links a trace to a dataset item in the named run (created when new). The trace may arrive
/// later: the comparison shows it as soon as it is stored.
pub async fn link(
    services: &Services,
    workspace: WorkspaceId,
    item: Uuid,
    run: &str,
    trace: &str,
) -> Result<ExperimentRun> {
    let run = clean_name("run", run)?;
    let trace = trace_id_field(trace)?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let dataset: Option<Uuid> = sqlx::query_scalar(
        "SELECT dataset_id FROM dataset_items WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace.0)
    .bind(item)
    .fetch_optional(&mut *tx)
    .await?;
    let dataset = dataset.ok_or_else(|| Error::not_found("dataset item"))?;
    let known: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM experiment_runs WHERE workspace_id = $1 AND dataset_id = $2 AND name = $3",
    )
    .bind(workspace.0)
    .bind(dataset)
    .bind(&run)
    .fetch_optional(&mut *tx)
    .await?;
    if known.is_none() {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM experiment_runs WHERE workspace_id = $1 AND dataset_id = $2",
        )
        .bind(workspace.0)
        .bind(dataset)
        .fetch_one(&mut *tx)
        .await?;
        if count >= MAX_RUNS {
            return Err(Error::Conflict(format!(
                "a dataset has at most {MAX_RUNS} runs; delete one first"
            )));
        }
    }
    write_links(
        &mut tx,
        workspace,
        &[Link {
            item,
            run: run.clone(),
            trace,
        }],
    )
    .await?;
    let head: RunHead = sqlx::query_as(
        "SELECT id, dataset_id, name, created_at FROM experiment_runs \
         WHERE workspace_id = $1 AND dataset_id = $2 AND name = $3",
    )
    .bind(workspace.0)
    .bind(dataset)
    .bind(&run)
    .fetch_one(&mut *tx)
    .await?;
    let summary = run_summary(&mut tx, workspace, head).await?;
    tx.commit().await?;
    Ok(summary)
}

/// Deletes a run (its links; the traces and scores stay).
pub async fn delete_run(services: &Services, workspace: WorkspaceId, run: Uuid) -> Result<()> {
    tenancy::delete_row(
        &services.pool,
        workspace,
        "experiment_runs",
        run,
        "experiment run",
    )
    .await
}

/// A run's linked traces: item, trace, and (when stored) error, latency and cost.
type ResultRow = (Uuid, String, Option<bool>, Option<i64>, Option<f64>);

async fn results(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    run: Uuid,
) -> Result<Vec<ResultRow>> {
    Ok(sqlx::query_as(
        "SELECT r.item_id, r.trace_id, t.error_count > 0, t.latency_us, t.cost_usd::float8 \
         FROM experiment_results r LEFT JOIN traces t ON t.workspace_id = r.workspace_id \
           AND t.trace_id = r.trace_id \
         WHERE r.workspace_id = $1 AND r.run_id = $2",
    )
    .bind(workspace.0)
    .bind(run)
    .fetch_all(conn)
    .await?)
}

/// A trace's latest score per name (its spans' included; texts left out).
type TraceScores = HashMap<String, Vec<(String, ScoreType, Option<f64>, Option<String>)>>;

async fn scores_of(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    traces: &[String],
) -> Result<TraceScores> {
    type Row = (String, String, String, Option<f64>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT DISTINCT ON (trace_id, name) trace_id, name, data_type, value, string_value \
         FROM scores WHERE workspace_id = $1 AND trace_id = ANY($2) AND data_type <> 'text' \
         ORDER BY trace_id, name, scored_at DESC, id DESC",
    )
    .bind(workspace.0)
    .bind(traces)
    .fetch_all(conn)
    .await?;
    let mut out: TraceScores = HashMap::new();
    for (trace, name, data_type, value, label) in rows {
        let data_type = ScoreType::parse(&data_type).unwrap_or(ScoreType::Numeric);
        out.entry(trace)
            .or_default()
            .push((name, data_type, value, label));
    }
    Ok(out)
}

/// The scores of one run, name by name: count, values, labels.
#[derive(Default)]
struct Tally {
    data_type: Option<ScoreType>,
    values: Vec<f64>,
    labels: BTreeMap<String, i64>,
    n: i64,
}

impl Tally {
    fn add(&mut self, data_type: ScoreType, value: Option<f64>, label: Option<&str>) {
        self.data_type.get_or_insert(data_type);
        self.n += 1;
        if let Some(v) = value {
            self.values.push(v);
        }
        if let Some(l) = label.filter(|_| data_type != ScoreType::Numeric) {
            *self.labels.entry(l.to_owned()).or_default() += 1;
        }
    }

    fn stat(&self) -> ScoreStat {
        let k = self.values.len() as f64;
        let mean = (k > 0.0).then(|| self.values.iter().sum::<f64>() / k);
        let sd = mean
            .filter(|_| k >= 2.0)
            .map(|m| (self.values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (k - 1.0)).sqrt());
        let labels = label_counts(&self.labels);
        ScoreStat {
            n: self.n,
            mean,
            sd,
            min: self.values.iter().copied().reduce(f64::min),
            max: self.values.iter().copied().reduce(f64::max),
            labels,
        }
    }
}

/// Per name, the run's tallies.
fn tally(rows: &[ResultRow], scores: &TraceScores) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for (_, trace, ..) in rows {
        for (name, data_type, value, label) in scores.get(trace).into_iter().flatten() {
            out.entry(name.clone())
                .or_default()
                .add(*data_type, *value, label.as_deref());
        }
    }
    out
}

type RunHead = (Uuid, Uuid, String, DateTime<Utc>);

fn summarise(
    head: RunHead,
    rows: &[ResultRow],
    tallies: &BTreeMap<String, Tally>,
) -> ExperimentRun {
    let (id, dataset_id, name, created_at) = head;
    let arrived: Vec<&ResultRow> = rows.iter().filter(|r| r.3.is_some()).collect();
    let latencies: Vec<f64> = arrived
        .iter()
        .filter_map(|r| r.3)
        .map(|us| us as f64 / 1000.0)
        .collect();
    ExperimentRun {
        id,
        dataset_id,
        name,
        created_at,
        linked: rows.len() as i64,
        arrived: arrived.len() as i64,
        errors: arrived.iter().filter(|r| r.2 == Some(true)).count() as i64,
        mean_latency_ms: (!latencies.is_empty())
            .then(|| latencies.iter().sum::<f64>() / latencies.len() as f64),
        cost_usd: arrived.iter().filter_map(|r| r.4).sum(),
        scores: tallies
            .iter()
            .map(|(name, t)| RunScore {
                name: name.clone(),
                data_type: t.data_type.unwrap_or(ScoreType::Numeric),
                n: t.n,
                mean: t.stat().mean,
            })
            .collect(),
    }
}

async fn run_heads(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    dataset: Uuid,
) -> Result<Vec<RunHead>> {
    Ok(sqlx::query_as(
        "SELECT id, dataset_id, name, created_at FROM experiment_runs \
         WHERE workspace_id = $1 AND dataset_id = $2 ORDER BY created_at DESC, id",
    )
    .bind(workspace.0)
    .bind(dataset)
    .fetch_all(conn)
    .await?)
}

/// One run summed up from its results and their traces' scores.
async fn run_summary(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    head: RunHead,
) -> Result<ExperimentRun> {
    let rows = results(&mut *conn, workspace, head.0).await?;
    let traces: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    let scores = scores_of(&mut *conn, workspace, &traces).await?;
    Ok(summarise(head, &rows, &tally(&rows, &scores)))
}

/// A dataset's runs, newest first, each summed up: traces linked and arrived, errors, mean
/// latency, cost, and each score's mean.
pub async fn runs(
    services: &Services,
    workspace: WorkspaceId,
    dataset: Uuid,
) -> Result<Vec<ExperimentRun>> {
    super::datasets::get(services, workspace, dataset).await?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let heads = run_heads(&mut tx, workspace, dataset).await?;
    let mut out = Vec::with_capacity(heads.len());
    for head in heads {
        out.push(run_summary(&mut tx, workspace, head).await?);
    }
    tx.commit().await?;
    Ok(out)
}

fn cell(row: &ResultRow, scores: &TraceScores) -> RunCell {
    RunCell {
        trace_id: row.1.clone(),
        arrived: row.3.is_some(),
        error: row.2 == Some(true),
        latency_ms: row.3.map(|us| us as f64 / 1000.0),
        cost_usd: row.4,
        scores: scores
            .get(&row.1)
            .into_iter()
            .flatten()
            .map(|(name, _, value, label)| CellScore {
                name: name.clone(),
                value: *value,
                label: label.clone(),
            })
            .collect(),
    }
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Per score name, the items where both runs have a number: B better, worse or the same as A.
fn paired(a: &[ResultRow], b: &[ResultRow], scores: &TraceScores, live: &Live) -> Vec<PairedScore> {
    let of = |rows: &[ResultRow]| -> HashMap<Uuid, HashMap<String, f64>> {
        rows.iter()
            .map(|r| {
                let values = scores
                    .get(&r.1)
                    .into_iter()
                    .flatten()
                    .filter_map(|(name, _, v, _)| Some((name.clone(), (*v)?)))
                    .collect();
                (r.0, values)
            })
            .collect()
    };
    let (sa, sb) = (of(a), of(b));
    let mut out: BTreeMap<String, (PairedScore, f64)> = BTreeMap::new();
    for (item, va) in &sa {
        let Some(vb) = sb.get(item) else { continue };
        for (name, x) in va {
            let Some(y) = vb.get(name) else { continue };
            let higher = live
                .by_name(name)
                .and_then(|c| c.higher_is_better)
                .unwrap_or(true);
            let (p, sum) = out.entry(name.clone()).or_insert_with(|| {
                (
                    PairedScore {
                        name: name.clone(),
                        ..PairedScore::default()
                    },
                    0.0,
                )
            });
            p.pairs += 1;
            *sum += y - x;
            if (y - x).abs() < 1e-9 {
                p.same += 1;
            } else if (y > x) == higher {
                p.better += 1;
            } else {
                p.worse += 1;
            }
        }
    }
    out.into_values()
        .map(|(mut p, sum)| {
            p.mean_delta = (p.pairs > 0).then(|| sum / p.pairs as f64);
            p
        })
        .collect()
}

/// Two runs of one dataset: score by score, paired item by item, and a page of the items
/// (`page` from 1) with each run's trace and scores.
pub async fn compare(
    services: &Services,
    workspace: WorkspaceId,
    a: Uuid,
    b: Uuid,
    page: u32,
    limit: u32,
) -> Result<RunComparison> {
    let limit = limit.clamp(1, MAX_PAGE);
    let page = page.max(1);
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let heads: Vec<RunHead> = sqlx::query_as(
        "SELECT id, dataset_id, name, created_at FROM experiment_runs \
         WHERE workspace_id = $1 AND id = ANY($2)",
    )
    .bind(workspace.0)
    .bind([a, b])
    .fetch_all(&mut *tx)
    .await?;
    let head = |id: Uuid| {
        heads
            .iter()
            .find(|h| h.0 == id)
            .cloned()
            .ok_or_else(|| Error::not_found("experiment run"))
    };
    let (ha, hb) = (head(a)?, head(b)?);
    if ha.1 != hb.1 {
        return Err(Error::invalid_input(
            "b",
            "the two runs belong to different datasets",
        ));
    }
    let dataset = ha.1;
    let (ra, rb) = (
        results(&mut tx, workspace, a).await?,
        results(&mut tx, workspace, b).await?,
    );
    let traces: Vec<String> = ra.iter().chain(&rb).map(|r| r.1.clone()).collect();
    let scores = scores_of(&mut tx, workspace, &traces).await?;
    let live = Live::load(&mut tx, workspace).await?;
    let (ta, tb) = (tally(&ra, &scores), tally(&rb, &scores));
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM dataset_items WHERE workspace_id = $1 AND dataset_id = $2",
    )
    .bind(workspace.0)
    .bind(dataset)
    .fetch_one(&mut *tx)
    .await?;
    // Items either run has first (in the dataset's order), then the rest.
    let items: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT i.id, i.input, i.expected_output FROM dataset_items i \
         WHERE i.workspace_id = $1 AND i.dataset_id = $2 \
         ORDER BY NOT EXISTS (SELECT 1 FROM experiment_results r WHERE r.workspace_id = $1 \
           AND r.item_id = i.id AND r.run_id = ANY($3)), i.seq \
         LIMIT $4 OFFSET $5",
    )
    .bind(workspace.0)
    .bind(dataset)
    .bind([a, b])
    .bind(i64::from(limit))
    .bind(i64::from(page - 1) * i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut names: Vec<&String> = ta.keys().chain(tb.keys()).collect();
    names.sort();
    names.dedup();
    let empty = Tally::default();
    let compared = names
        .into_iter()
        .map(|name| {
            let (x, y) = (
                ta.get(name).unwrap_or(&empty),
                tb.get(name).unwrap_or(&empty),
            );
            let data_type = x.data_type.or(y.data_type).unwrap_or(ScoreType::Numeric);
            let (sa, sb) = (x.stat(), y.stat());
            ComparedScore {
                name: name.clone(),
                data_type,
                higher_is_better: live.by_name(name).and_then(|c| c.higher_is_better),
                test: significance(data_type, &sa, &sb),
                a: sa,
                b: sb,
            }
        })
        .collect();
    let paired = paired(&ra, &rb, &scores, &live);
    let find = |rows: &[ResultRow], item: Uuid| {
        rows.iter().find(|r| r.0 == item).map(|r| cell(r, &scores))
    };
    let items = items
        .into_iter()
        .map(|(item_id, input, expected)| ComparedItem {
            item_id,
            input: cut(&input, 300),
            expected_output: expected.map(|e| cut(&e, 300)),
            a: find(&ra, item_id),
            b: find(&rb, item_id),
        })
        .collect();
    Ok(RunComparison {
        dataset_id: dataset,
        a: summarise(ha, &ra, &ta),
        b: summarise(hb, &rb, &tb),
        scores: compared,
        paired,
        items,
        meta: PageMeta {
            total,
            page,
            limit,
            has_more: i64::from(page) * i64::from(limit) < total,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_count_labels_and_numbers() {
        let mut t = Tally::default();
        t.add(ScoreType::Boolean, Some(1.0), Some("true"));
        t.add(ScoreType::Boolean, Some(0.0), Some("false"));
        t.add(ScoreType::Boolean, Some(1.0), Some("true"));
        let s = t.stat();
        assert_eq!(s.n, 3);
        assert!((s.mean.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.labels[0].label, "true");
        assert_eq!(s.labels[0].count, 2);
    }

    #[test]
    fn trace_ids_are_checked() {
        assert!(trace_id_field("xyz").is_err());
        assert_eq!(
            trace_id_field(" 0123456789ABCDEF0123456789abcdef ").unwrap(),
            "0123456789abcdef0123456789abcdef"
        );
    }

    #[test]
    fn cuts_on_characters() {
        assert_eq!(cut("héllo", 2), "hé…");
        assert_eq!(cut("hé", 2), "hé");
    }
}
