//! The rebuild lock and the reconcile path: rollups re-derived from the raw spans.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Rollups, SpanParts, MINUTE_ROLLUP_DAYS};
use crate::ingest::model::{Dimensions, Usage};
use crate::tenancy::WorkspaceId;
use crate::Result;

/// The advisory lock key that orders a workspace's ingest batches (shared) against a rebuild of
/// its rollups (exclusive): a batch landing while a rebuild runs would otherwise be read by the
/// rebuild's scan and also merged into the rows it writes — counted twice.
pub fn rebuild_lock_key(workspace: WorkspaceId) -> i64 {
    let b = workspace.0.as_bytes();
    let folded: [u8; 8] = std::array::from_fn(|i| b[i] ^ b[i + 8]);
    // A namespace apart from the other advisory locks (retention, jobs).
    i64::from_be_bytes(folded) ^ 0x5275_6c6c_7570_4c6b
}

/// Takes the workspace's rebuild lock in `tx`: shared for an ingest batch, exclusive for a
/// rebuild. Held until the transaction ends.
pub async fn lock_for_writes(
    tx: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    exclusive: bool,
) -> Result<()> {
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1)"
    } else {
        "SELECT pg_advisory_xact_lock_shared($1)"
    };
    sqlx::query(sql)
        .bind(rebuild_lock_key(workspace))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Rebuilds the rollups of `workspace` for the whole UTC days `[from, to)` from the raw spans
/// and traces: the reconcile path (the incremental path is exact; this repairs or re-derives).
/// Ingest batches of the workspace wait while it runs (see [`lock_for_writes`]). Returns the
/// spans read.
pub async fn rebuild(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<u64> {
    use futures::TryStreamExt;

    let start = from.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let end = to.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let mut tx = crate::tenancy::begin(pool, workspace).await?;
    lock_for_writes(&mut tx, workspace, true).await?;
    for table in [
        "rollup_minute",
        "rollup_hourly",
        "rollup_daily",
        "rollup_agent_hourly",
        "rollup_agent_daily",
        "rollup_agent_hours",
        "rollup_agent_env_hours",
        "rollup_scope_hourly",
        "rollup_scope_daily",
        "rollup_total_hourly",
        "rollup_total_daily",
    ] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3"
        ))
        .bind(workspace)
        .bind(start)
        .bind(end)
        .execute(&mut *tx)
        .await?;
    }
    let mut rollups = Rollups::default();
    let mut read = 0u64;
    {
        type Row = (
            DateTime<Utc>,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            i64,
            i64,
            i64,
            i64,
            i64,
            Option<f64>,
            i64,
        );
        let mut spans = sqlx::query_as::<_, Row>(
            "SELECT start_time, agent, department, environment, version, model, status, \
               input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, \
               reasoning_tokens, cost_usd::float8, duration_us \
             FROM spans WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3",
        )
        .bind(workspace)
        .bind(start)
        .bind(end)
        .fetch(&mut *tx);
        while let Some(r) = spans.try_next().await? {
            let dims = Dimensions {
                agent: r.1,
                department: r.2,
                environment: r.3,
                version: r.4,
            };
            rollups.add_span_parts(&SpanParts {
                start: r.0,
                dims: &dims,
                model: r.5.as_deref(),
                error: r.6 == "error",
                usage: Usage {
                    input: r.7,
                    output: r.8,
                    cache_read: r.9,
                    cache_creation: r.10,
                    reasoning: r.11,
                },
                cost: r.12,
                duration_us: r.13,
            });
            read += 1;
        }
    }
    {
        let mut traces = sqlx::query_as::<
            _,
            (DateTime<Utc>, String, String, String, String, i64, i32),
        >(
            "SELECT start_time, agent, department, environment, version, latency_us, error_count \
             FROM traces WHERE workspace_id = $1 AND root_span_id IS NOT NULL \
               AND start_time >= $2 AND start_time < $3",
        )
        .bind(workspace)
        .bind(start)
        .bind(end)
        .fetch(&mut *tx);
        while let Some((t, agent, department, environment, version, latency, errors)) =
            traces.try_next().await?
        {
            let dims = Dimensions {
                agent,
                department,
                environment,
                version,
            };
            rollups.add_trace(t, &dims, Some(latency), errors > 0);
        }
    }
    // Minute rows live a few days (retention trims older ones): none are made for older days.
    let minutes_from = Utc::now() - TimeDelta::days(MINUTE_ROLLUP_DAYS);
    rollups.minute.retain(|k, _| k.bucket >= minutes_from);
    rollups.write(&mut tx, workspace).await?;
    // The agents' days keep whole months: those the rebuilt days fall in are summed again
    // from the daily agent rollup (right now for every day of them).
    // So do the weeks (their rows were added to above, not cleared: replaced here).
    sqlx::query(
        "SELECT argus_rebuild_agent_days($1, $2, $3), argus_rebuild_agent_env_days($1, $2, $3), \
           argus_rebuild_agent_weeks($1, $2, $3)",
    )
    .bind(workspace)
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(read)
}

/// Replaces every workspace's totals by the sums of its rollups (migration 0011's
/// `argus_rebuild_totals`, set-wise), in one transaction. For tools that write rollups in bulk
/// (the dashboard benchmark) and for tests; needs a role that sees every workspace (the owner).
pub async fn rebuild_all_totals(owner: &sqlx::PgPool) -> Result<()> {
    let mut tx = owner.begin().await?;
    sqlx::query(
        "SELECT argus_rebuild_totals('rollup_hourly', 'rollup_total_hourly'), \
                argus_rebuild_totals('rollup_daily', 'rollup_total_daily'), \
                argus_rebuild_agent_rollup('rollup_hourly', 'rollup_agent_hourly'), \
                argus_rebuild_agent_rollup('rollup_daily', 'rollup_agent_daily'), \
                argus_rebuild_agent_hours(), \
                argus_rebuild_agent_env_hours(), \
                argus_rebuild_agent_days(NULL, NULL, NULL), \
                argus_rebuild_agent_env_days(NULL, NULL, NULL), \
                argus_rebuild_agent_weeks(NULL, NULL, NULL), \
                argus_rebuild_scope_rollup('rollup_hourly', 'rollup_scope_hourly'), \
                argus_rebuild_scope_rollup('rollup_daily', 'rollup_scope_daily'), \
                argus_rebuild_first_seen()",
    )
    .execute(&mut *tx)
    .await?;
    // The rebuilds write histograms in the 12-byte form: readers take it, but reads are
    // faster in the compact one (migration 0037).
    sqlx::query(
        "SELECT argus_pack_histograms(t) FROM unnest(ARRAY['rollup_total_hourly', \
           'rollup_total_daily', 'rollup_agent_hourly', 'rollup_agent_daily', \
           'rollup_scope_hourly', 'rollup_scope_daily']::regclass[]) AS t",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
