#![allow(dead_code)]

use std::time::Duration;

use argus_domain::db::{self, DbConfig};
use secrecy::SecretString;
use sqlx::PgPool;

/// The server's database settings for the test's database: connections run as the app role.
pub fn config_for(owner: &PgPool) -> DbConfig {
    DbConfig::app_role_like(owner)
}

/// A pool on the test's database whose connections run as the app role, like the server's.
pub async fn app_pool(owner: &PgPool) -> PgPool {
    db::connect(&config_for(owner)).await.unwrap()
}

/// The SQLSTATE of a database error, if it is one.
pub fn sqlstate(err: &sqlx::Error) -> Option<String> {
    err.as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned())
}

/// The server's services on the test's database (as the app role) with an in-process cache.
pub async fn services(owner: &PgPool) -> argus_domain::Services {
    use argus_domain::cache::{Cache, CacheConfig};
    let cache = Cache::memory(
        &CacheConfig {
            redis_url: None,
            redis_pool_size: 2,
            redis_timeout: Duration::from_secs(1),
            memory_capacity_bytes: 16 << 20,
        },
        None,
    );
    argus_domain::Services::new(
        app_pool(owner).await,
        cache,
        std::sync::Arc::new(argus_domain::system::SystemInfo {
            version: "test",
            environment: "development".into(),
            started_at: chrono::Utc::now(),
            database_url_masked: String::new(),
        }),
        std::sync::Arc::new(argus_domain::token::TokenKeys::new(
            &SecretString::from("domain-test-secret-0123456789-abcdef".to_owned()),
            &[],
            Duration::from_secs(3600),
        )),
    )
}

/// Signs up `email` with a workspace named `workspace`; returns (user, workspace).
pub async fn sign_up(
    services: &argus_domain::Services,
    email: &str,
    workspace: &str,
) -> (
    argus_domain::identity::UserId,
    argus_domain::tenancy::WorkspaceId,
) {
    use argus_domain::identity::{self, Email, Password};
    let made = identity::sign_up(
        &services.pool,
        &Email::parse(email).unwrap(),
        "Test User",
        &Password::parse(PASSWORD).unwrap(),
        workspace,
    )
    .await
    .unwrap()
    .expect("a new account");
    (made.user, made.workspace)
}

pub const PASSWORD: &str = "a long passphrase";

/// The workspace totals (`rollup_total_*`) equal the rollups summed per bucket: every count,
/// token and latency sum, the histograms, the active agents, and the cost (to 1e-8); the agent,
/// scope and agents'-hours and -days rollups equal the detailed ones summed the same way.
pub async fn assert_totals_match_rollups(pool: &PgPool, ws: argus_domain::tenancy::WorkspaceId) {
    let measures = "traces, trace_errors, trace_latency_sum_us, spans, span_errors, \
        input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, \
        unpriced_spans, span_latency_sum_us";
    let sums = measures
        .split(", ")
        .map(|m| format!("sum({m})::bigint AS {m}"))
        .collect::<Vec<_>>()
        .join(", ");
    let differs = |other: &str| {
        measures
            .split(", ")
            .map(|m| format!("d.{m} IS DISTINCT FROM {other}.{m}"))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let mut tx = argus_domain::tenancy::begin(pool, ws).await.unwrap();
    for (detail, total) in [
        ("rollup_hourly", "rollup_total_hourly"),
        ("rollup_daily", "rollup_total_daily"),
    ] {
        let bad: Vec<(chrono::DateTime<chrono::Utc>,)> = sqlx::query_as(&format!(
            "SELECT bucket FROM ( \
               SELECT bucket, {sums}, sum(cost_usd) AS cost_usd, \
                 argus_hist_sum(argus_hist_from_bin(trace_latency_hist)) AS trace_latency_hist, \
                 argus_hist_sum(argus_hist_from_bin(span_latency_hist)) AS span_latency_hist, \
                 coalesce(jsonb_object_agg(agent, 1) FILTER (WHERE traces > 0 OR spans > 0), '{{}}') AS agents \
               FROM {detail} WHERE workspace_id = $1 GROUP BY bucket) d \
             FULL JOIN (SELECT * FROM {total} WHERE workspace_id = $1) t USING (bucket) \
             WHERE {} OR abs(coalesce(d.cost_usd, 0) - coalesce(t.cost_usd, 0)) > 1e-8 \
               OR d.trace_latency_hist IS DISTINCT FROM argus_hist_from_bin(t.trace_latency_hist) \
               OR d.span_latency_hist IS DISTINCT FROM argus_hist_from_bin(t.span_latency_hist) \
               OR d.agents IS DISTINCT FROM t.agents::jsonb",
            differs("t")
        ))
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(bad.is_empty(), "{total} differs from {detail} at {bad:?}");
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {total} WHERE workspace_id = $1"
        ))
        .bind(ws)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert!(n > 0, "{total} has rows");
        // Each agent listed once (a json object may repeat a key).
        let repeated: Vec<(chrono::DateTime<chrono::Utc>,)> = sqlx::query_as(&format!(
            "SELECT bucket FROM {total} WHERE workspace_id = $1 \
               AND (SELECT count(*) FROM json_object_keys(agents)) \
                 <> (SELECT count(DISTINCT k) FROM json_object_keys(agents) AS k)"
        ))
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(
            repeated.is_empty(),
            "{total} repeats agents at {repeated:?}"
        );
    }
    // The agent rollups (migration 0030) equal the detailed ones without environment and
    // version: every measure, min/max latency, both histograms, the cost.
    let extrema = "min(trace_latency_min_us) AS trace_latency_min_us, \
        max(trace_latency_max_us) AS trace_latency_max_us";
    let differs_extrema = "d.trace_latency_min_us IS DISTINCT FROM a.trace_latency_min_us \
        OR d.trace_latency_max_us IS DISTINCT FROM a.trace_latency_max_us";
    let key = "bucket, department, agent, model";
    // The weekly one (migration 0039) equals the detailed daily rollup summed per UTC week.
    let weeks = format!(
        "(SELECT workspace_id, date_trunc('week', bucket, 'UTC') AS bucket, department, agent, \
           model, {measures}, trace_latency_min_us, trace_latency_max_us, cost_usd, \
           trace_latency_hist, span_latency_hist FROM rollup_daily) w"
    );
    for (detail, agent) in [
        ("rollup_hourly", "rollup_agent_hourly"),
        ("rollup_daily", "rollup_agent_daily"),
        (weeks.as_str(), "rollup_agent_weekly"),
    ] {
        let bad: Vec<(chrono::DateTime<chrono::Utc>, String, String)> = sqlx::query_as(&format!(
            "SELECT bucket, agent, model FROM ( \
                   SELECT {key}, {sums}, {extrema}, sum(cost_usd) AS cost_usd, \
                     argus_hist_sum(argus_hist_from_bin(trace_latency_hist)) AS trace_latency_hist, \
                     argus_hist_sum(argus_hist_from_bin(span_latency_hist)) AS span_latency_hist \
                   FROM {detail} WHERE workspace_id = $1 GROUP BY {key}) d \
                 FULL JOIN (SELECT * FROM {agent} WHERE workspace_id = $1) a USING ({key}) \
                 WHERE {} OR {differs_extrema} \
                   OR abs(coalesce(d.cost_usd, 0) - coalesce(a.cost_usd, 0)) > 1e-8 \
                   OR d.trace_latency_hist IS DISTINCT FROM argus_hist_from_bin(a.trace_latency_hist) \
                   OR d.span_latency_hist IS DISTINCT FROM argus_hist_from_bin(a.span_latency_hist)",
            differs("a")
        ))
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(bad.is_empty(), "{agent} differs from {detail} at {bad:?}");
    }
    // The scope rollups (migration 0035) equal the detailed ones summed per (bucket,
    // department, environment): every measure, min/max latency, both histograms, the cost and
    // the agents active in the row.
    let key = "bucket, department, environment";
    for (detail, scope) in [
        ("rollup_hourly", "rollup_scope_hourly"),
        ("rollup_daily", "rollup_scope_daily"),
    ] {
        let bad: Vec<(chrono::DateTime<chrono::Utc>, String, String)> = sqlx::query_as(&format!(
            "SELECT {key} FROM ( \
                   SELECT {key}, {sums}, {extrema}, sum(cost_usd) AS cost_usd, \
                     argus_hist_sum(argus_hist_from_bin(trace_latency_hist)) AS trace_latency_hist, \
                     argus_hist_sum(argus_hist_from_bin(span_latency_hist)) AS span_latency_hist, \
                     coalesce(jsonb_object_agg(agent, 1) FILTER (WHERE traces > 0 OR spans > 0), '{{}}') AS agents \
                   FROM {detail} WHERE workspace_id = $1 GROUP BY {key}) d \
                 FULL JOIN (SELECT * FROM {scope} WHERE workspace_id = $1) a USING ({key}) \
                 WHERE {} OR {differs_extrema} \
                   OR abs(coalesce(d.cost_usd, 0) - coalesce(a.cost_usd, 0)) > 1e-8 \
                   OR d.trace_latency_hist IS DISTINCT FROM argus_hist_from_bin(a.trace_latency_hist) \
                   OR d.span_latency_hist IS DISTINCT FROM argus_hist_from_bin(a.span_latency_hist) \
                   OR d.agents IS DISTINCT FROM a.agents",
            differs("a")
        ))
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(bad.is_empty(), "{scope} differs from {detail} at {bad:?}");
    }
    // The agents' hours (migration 0033) and days (0036) equal the agent rollup summed per
    // (hour or day, department, agent): every count, the cost to 1e-8; empty slots are zeros.
    let counts = "traces, trace_errors, spans, input_tokens, output_tokens, cache_read_tokens, \
        reasoning_tokens";
    let unnested = counts
        .split(", ")
        .map(|m| format!("h.{m}[i + 1] AS {m}"))
        .collect::<Vec<_>>()
        .join(", ");
    // The agents' hours and days per environment (0038, 0040) equal the detailed rollup
    // summed likewise.
    for (detail, slots, n, unit, key) in [
        (
            "rollup_agent_hourly",
            "rollup_agent_hours",
            24,
            "hours",
            "department, agent",
        ),
        (
            "rollup_hourly",
            "rollup_agent_env_hours",
            24,
            "hours",
            "department, environment, agent",
        ),
        (
            "rollup_agent_daily",
            "rollup_agent_days",
            31,
            "days",
            "department, agent",
        ),
        (
            "rollup_daily",
            "rollup_agent_env_days",
            31,
            "days",
            "department, environment, agent",
        ),
    ] {
        let h_key = key
            .split(", ")
            .map(|c| format!("h.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let bad: Vec<(chrono::DateTime<chrono::Utc>, String)> = sqlx::query_as(&format!(
            "SELECT bucket, agent FROM ( \
               SELECT bucket, {key}, {sums}, sum(cost_usd)::float8 AS cost_usd \
               FROM {detail} WHERE workspace_id = $1 GROUP BY bucket, {key}) d \
             FULL JOIN ( \
               SELECT h.bucket + make_interval({unit} => i) AS bucket, {h_key}, \
                 {unnested}, h.cost_usd[i + 1] AS cost_usd \
               FROM {slots} h, generate_series(0, {n} - 1) AS i \
               WHERE h.workspace_id = $1 AND (h.traces[i + 1] <> 0 OR h.spans[i + 1] <> 0 \
                 OR h.cost_usd[i + 1] <> 0 OR h.input_tokens[i + 1] <> 0)) a \
               USING (bucket, {key}) \
             WHERE abs(coalesce(d.cost_usd, 0) - coalesce(a.cost_usd, 0)) > 1e-8 OR {}",
            counts
                .split(", ")
                .map(|m| format!("coalesce(d.{m}, 0) <> coalesce(a.{m}, 0)"))
                .collect::<Vec<_>>()
                .join(" OR ")
        ))
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(bad.is_empty(), "{slots} differs from {detail} at {bad:?}");
    }
    // A month's slots past its last day stay empty.
    for table in ["rollup_agent_days", "rollup_agent_env_days"] {
        let overflow: Vec<(chrono::DateTime<chrono::Utc>,)> = sqlx::query_as(&format!(
            "SELECT bucket FROM {table} h, generate_series(28, 30) AS i \
             WHERE h.workspace_id = $1 \
               AND date_trunc('month', h.bucket + make_interval(days => i), 'UTC') <> h.bucket \
               AND (h.traces[i + 1] <> 0 OR h.spans[i + 1] <> 0 OR h.cost_usd[i + 1] <> 0)"
        ))
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(
            overflow.is_empty(),
            "{table} past a month's end at {overflow:?}"
        );
    }
    tx.commit().await.unwrap();
}
