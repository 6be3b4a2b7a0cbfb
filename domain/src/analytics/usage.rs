//! The usage page's read: every group's numbers split by department, agent or model.

use std::collections::BTreeMap;

use argus_types::{GroupSeries, UsageBreakdown, UsageRow};
use chrono::{DateTime, Utc};

use super::hours::agent_buckets;
use super::query::{fetch_window, window_and_dims};
use super::report::Report;
use super::window::Resolved;
use crate::tenancy::WorkspaceId;
use crate::{Error, Result};

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
async fn usage_breakdown_uncached(
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
    // Breakdowns by environment or version need the detailed rollup.
    let table = if by == "environment" || by == "version" {
        q.detailed_table()
    } else {
        q.table()
    };
    let sql = format!(
        "SELECT bucket, {by} AS key, sum({requests})::bigint AS requests, \
           sum({errors})::bigint AS errors, sum(input_tokens)::bigint AS input_tokens, \
           sum(output_tokens)::bigint AS output_tokens, \
           sum(cache_read_tokens)::bigint AS cache_read_tokens, \
           sum(reasoning_tokens)::bigint AS reasoning_tokens, sum(cost_usd)::float8 AS cost \
         FROM {table} WHERE {dims} {only_models} \
         GROUP BY bucket, {by}",
        dims = window_and_dims(table),
        only_models = if by == "model" { "AND model <> ''" } else { "" },
    );
    let rows: Vec<GroupRow> = if by != "model" && q.reads_agent_buckets() {
        // Rows per (bucket, department, agent); summed per key below.
        agent_buckets(
            pool,
            workspace,
            q,
            &[
                "traces",
                "trace_errors",
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "reasoning_tokens",
                "cost_usd",
            ],
        )
        .await?
        .into_iter()
        .map(|h| GroupRow {
            bucket: h.bucket,
            key: if by == "department" {
                h.department
            } else {
                h.agent
            },
            requests: h.traces,
            errors: h.trace_errors,
            input_tokens: h.input_tokens,
            output_tokens: h.output_tokens,
            cache_read_tokens: h.cache_read_tokens,
            reasoning_tokens: h.reasoning_tokens,
            cost: h.cost,
        })
        .collect()
    } else {
        fetch_window(pool, workspace, &sql, (q.from, q.to), &q.dims).await?
    };

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

impl Report for UsageBreakdown {
    const DOMAIN: &'static str = "usage";
    type Args = String;

    fn read(
        pool: &sqlx::PgPool,
        workspace: WorkspaceId,
        q: &Resolved,
        by: &String,
    ) -> impl std::future::Future<Output = Result<Self>> + Send {
        usage_breakdown_uncached(pool, workspace, q, by)
    }

    fn scope(by: &String) -> String {
        crate::cache::scope(&[by])
    }
}
