//! Storing spans: idempotent replays, split traces, exact totals, the agent registry, RLS.

mod common;

use argus_domain::ingest::mapping::map_request;
use argus_domain::ingest::model::SpanRecord;
use argus_domain::ingest::otlp::{decode_traces, Encoding};
use argus_domain::ingest::store::{store, Partitions};
use argus_domain::pricing::Pricing;
use argus_domain::tenancy::{self, WorkspaceId};
use chrono::DurationRound;
use common::{services, sign_up};
use sqlx::PgPool;

fn fixture(name: &str) -> Vec<SpanRecord> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/otlp")
        .join(format!("{name}.pb"));
    let body = std::fs::read(path).unwrap();
    let mapped = map_request(&decode_traces(&body, Encoding::Protobuf).unwrap());
    assert!(mapped.rejected.is_empty());
    mapped.spans
}

async fn put(
    pool: &PgPool,
    ws: WorkspaceId,
    spans: &[SpanRecord],
) -> argus_domain::ingest::store::Stored {
    Partitions::default()
        .ensure(
            pool,
            spans.iter().map(|s| s.start_time.date_naive()),
            usize::MAX,
        )
        .await
        .unwrap();
    store(pool, ws, spans, &Pricing::catalog_only())
        .await
        .unwrap()
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct TraceRow {
    span_count: i32,
    error_count: i32,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    latency_us: i64,
    name: String,
    agent: String,
    department: String,
    session_id: Option<String>,
    root_span_id: Option<String>,
    cost: f64,
    models: Vec<String>,
}

impl TraceRow {
    fn round(mut self) -> Self {
        self.cost = (self.cost * 1e9).round() / 1e9;
        self
    }
}

async fn trace(pool: &PgPool, ws: WorkspaceId, trace_id: &str) -> TraceRow {
    let mut tx = tenancy::begin(pool, ws).await.unwrap();
    let row = sqlx::query_as(
        "SELECT span_count, error_count, input_tokens, output_tokens, cache_read_tokens, latency_us, \
         name, agent, department, session_id, root_span_id, cost_usd::float8 AS cost, models \
         FROM traces WHERE workspace_id = $1 AND trace_id = $2",
    )
    .bind(ws)
    .bind(trace_id)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    TraceRow::round(row)
}

async fn count(pool: &PgPool, ws: WorkspaceId, table: &str) -> i64 {
    let mut tx = tenancy::begin(pool, ws).await.unwrap();
    let n = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {table} WHERE workspace_id = $1"
    ))
    .bind(ws)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    n
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_trace_is_stored_once_however_often_it_is_sent(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let spans = fixture("agent_trace_current_semconv");
    let first = put(&s.pool, ws, &spans).await;
    assert_eq!((first.inserted, first.duplicates, first.traces), (4, 0, 1));
    let expected = TraceRow {
        span_count: 4,
        error_count: 0,
        input_tokens: 2620,
        output_tokens: 245,
        cache_read_tokens: 1024,
        latency_us: spans.iter().find(|s| s.is_root()).unwrap().duration_us,
        name: "invoke_agent support-bot".into(),
        agent: "support-bot".into(),
        department: "support".into(),
        session_id: Some("conv-42".into()),
        root_span_id: Some(spans.iter().find(|s| s.is_root()).unwrap().span_id.clone()),
        // gpt-4o from the catalog: (176 × 2.50 + 1024 × 1.25 + 85 × 10) + (1420 × 2.50 + 160 × 10)
        // per million.
        cost: 0.00772,
        models: vec!["gpt-4o-2024-08-06".into()],
    };
    assert_eq!(trace(&s.pool, ws, &spans[0].trace_id).await, expected);

    // Replays: whole, doubled within one batch, and reversed.
    let again = put(&s.pool, ws, &spans).await;
    assert_eq!((again.inserted, again.duplicates), (0, 4));
    let doubled: Vec<_> = spans.iter().chain(spans.iter()).rev().cloned().collect();
    assert_eq!(put(&s.pool, ws, &doubled).await.inserted, 0);
    assert_eq!(trace(&s.pool, ws, &spans[0].trace_id).await, expected);
    assert_eq!(count(&s.pool, ws, "spans").await, 4);
    assert_eq!(count(&s.pool, ws, "agents").await, 1);
    assert_eq!(count(&s.pool, ws, "resources").await, 1, "stored once");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn children_before_the_root_end_with_the_right_totals(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let children = fixture("split_part1_children");
    let root = fixture("split_part2_root");
    put(&s.pool, ws, &children).await;
    let partial = trace(&s.pool, ws, &root[0].trace_id).await;
    assert_eq!(partial.span_count, 2);
    assert_eq!(partial.root_span_id, None, "no root yet");
    put(&s.pool, ws, &root).await;
    // The root again, and a child again: nothing changes.
    put(&s.pool, ws, &[root[0].clone(), children[1].clone()]).await;
    let done = trace(&s.pool, ws, &root[0].trace_id).await;
    assert_eq!(
        (done.span_count, done.input_tokens, done.output_tokens),
        (3, 1600, 600)
    );
    assert_eq!(done.latency_us, root[0].duration_us, "the root's duration");
    assert_eq!(done.name, "invoke_agent sales-writer");
    assert_eq!(done.root_span_id.as_deref(), Some(root[0].span_id.as_str()));
    assert_eq!(done.department, "sales");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn concurrent_replays_count_each_span_once(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let spans = fixture("agent_trace_current_semconv");
    Partitions::default()
        .ensure(
            &s.pool,
            spans.iter().map(|s| s.start_time.date_naive()),
            usize::MAX,
        )
        .await
        .unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let pool = s.pool.clone();
            let mut batch = spans.clone();
            batch.rotate_left(i % spans.len());
            tokio::spawn(async move {
                store(&pool, ws, &batch, &Pricing::catalog_only())
                    .await
                    .unwrap()
                    .inserted
            })
        })
        .collect();
    let mut inserted = 0;
    for t in tasks {
        inserted += t.await.unwrap();
    }
    assert_eq!(inserted, 4);
    let row = trace(&s.pool, ws, &spans[0].trace_id).await;
    assert_eq!((row.span_count, row.input_tokens), (4, 2620));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn errors_and_sent_costs_add_up_and_other_workspaces_see_nothing(owner: PgPool) {
    let s = services(&owner).await;
    let (_, a) = sign_up(&s, "ann@example.com", "A").await;
    let (_, b) = sign_up(&s, "bob@example.com", "B").await;
    let spans = fixture("error_trace_with_cost");
    put(&s.pool, a, &spans).await;
    let row = trace(&s.pool, a, &spans[0].trace_id).await;
    assert_eq!((row.span_count, row.error_count), (2, 2));
    assert!((row.cost - 0.0123).abs() < 1e-9, "{}", row.cost);
    for table in ["spans", "traces", "agents"] {
        assert_eq!(count(&s.pool, b, table).await, 0, "{table}");
        // Without a workspace binding the server's role sees nothing at all.
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} without the binding");
    }
    // The same spans sent to B are B's own copy.
    put(&s.pool, b, &spans).await;
    assert_eq!(count(&s.pool, b, "spans").await, 2);
    assert_eq!(count(&s.pool, a, "spans").await, 2);
}

/// Totals from the rollups vs. from the raw tables, for one table.
async fn rollup_vs_raw(pool: &PgPool, ws: WorkspaceId, table: &str) -> (Vec<i64>, Vec<i64>) {
    let mut tx = tenancy::begin(pool, ws).await.unwrap();
    let rolled: (i64, i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT coalesce(sum(traces), 0)::bigint, coalesce(sum(trace_errors), 0)::bigint, \
           coalesce(sum(spans), 0)::bigint, coalesce(sum(span_errors), 0)::bigint, \
           coalesce(sum(input_tokens), 0)::bigint, coalesce(sum(output_tokens), 0)::bigint, \
           coalesce(sum(cache_read_tokens), 0)::bigint, \
           coalesce(round(sum(cost_usd) * 1e9), 0)::bigint, \
           coalesce(sum(trace_latency_sum_us), 0)::bigint \
         FROM {table} WHERE workspace_id = $1"
    ))
    .bind(ws)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let raw: (i64, i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM traces WHERE workspace_id = $1 AND root_span_id IS NOT NULL), \
           (SELECT count(*) FROM traces WHERE workspace_id = $1 AND root_span_id IS NOT NULL AND error_count > 0), \
           count(*), count(*) FILTER (WHERE status = 'error'), \
           coalesce(sum(input_tokens), 0)::bigint, coalesce(sum(output_tokens), 0)::bigint, \
           coalesce(sum(cache_read_tokens), 0)::bigint, \
           coalesce(round(sum(cost_usd) * 1e9), 0)::bigint, \
           (SELECT coalesce(sum(latency_us), 0)::bigint FROM traces \
              WHERE workspace_id = $1 AND root_span_id IS NOT NULL) \
         FROM spans WHERE workspace_id = $1",
    )
    .bind(ws)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let v = |t: (i64, i64, i64, i64, i64, i64, i64, i64, i64)| {
        vec![t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8]
    };
    (v(rolled), v(raw))
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn rollups_equal_raw_totals_after_replays_and_late_arrivals(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let children = fixture("split_part1_children");
    let root = fixture("split_part2_root");
    let errors = fixture("error_trace_with_cost");
    let (err_root, err_children): (Vec<_>, Vec<_>) =
        errors.iter().cloned().partition(|s| s.is_root());
    let batches: Vec<Vec<SpanRecord>> = vec![
        fixture("agent_trace_current_semconv"),
        children.clone(),
        fixture("legacy_semconv_names"),
        // The error trace's root first, its failing child later: the trace turns into an
        // error trace when the child arrives.
        err_root,
        fixture("agent_trace_current_semconv"),
        root.clone(),
        err_children,
        children,
        root,
        errors,
    ];
    for batch in &batches {
        put(&s.pool, ws, batch).await;
    }
    for table in ["rollup_hourly", "rollup_daily"] {
        let (rolled, raw) = rollup_vs_raw(&s.pool, ws, table).await;
        assert_eq!(rolled, raw, "{table}: rollups [traces, trace errors, spans, span errors, in, out, cached, cost e-9, latency] vs raw");
    }
    common::assert_totals_match_rollups(&s.pool, ws).await;
    let (rolled, _) = rollup_vs_raw(&s.pool, ws, "rollup_hourly").await;
    assert_eq!(
        &rolled[..4],
        &[4, 1, 10, 2],
        "four traces (the legacy one is a single root span), one an error trace; ten spans, two errors"
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn demo_data_goes_through_ingest_once(owner: PgPool) {
    use argus_domain::demo;
    let s = services(&owner).await;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let mut calls = Vec::new();
    let first = demo::load(&s, today, 2, 20 << 20, |done, total| {
        calls.push((done, total))
    })
    .await
    .unwrap();
    assert_eq!(calls, vec![(1, 2), (2, 2)]);
    assert!(first.spans_sent > 1_000, "{first:?}");
    assert_eq!(first.spans_stored, first.spans_sent);
    let again = demo::load(&s, today, 2, 20 << 20, |_, _| {}).await.unwrap();
    assert_eq!(again.spans_stored, 0, "idempotent");
    let (_, ws) = demo::ensure_workspace(&s).await.unwrap();
    // Two days of the demo hold one version of each agent: no dataset to compare them with.
    let datasets = argus_domain::evals::datasets::list(&s, ws).await.unwrap();
    assert!(datasets.is_empty(), "{datasets:?}");
    // With an older version too (as the full 30 days have), a dataset run by both, each item
    // scored, so its page has a comparison.
    sqlx::query(
        "UPDATE traces SET version = '1.4.2' WHERE workspace_id = $1 AND md5(trace_id) < '8'",
    )
    .bind(ws.0)
    .execute(&owner)
    .await
    .unwrap();
    let (user, _) = demo::ensure_workspace(&s).await.unwrap();
    demo::dataset(&s, ws, user).await.unwrap();
    let datasets = argus_domain::evals::datasets::list(&s, ws).await.unwrap();
    assert_eq!(datasets.len(), 1, "{datasets:?}");
    assert!(datasets[0].items >= 5, "{datasets:?}");
    let runs = argus_domain::evals::experiments::runs(&s, ws, datasets[0].id)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        assert_eq!(run.linked, datasets[0].items, "{run:?}");
        assert!(
            run.scores
                .iter()
                .any(|sc| sc.name == "helpfulness" && sc.n == run.linked),
            "{run:?}"
        );
    }
    demo::dataset(&s, ws, user).await.unwrap();
    assert_eq!(
        argus_domain::evals::datasets::list(&s, ws)
            .await
            .unwrap()
            .len(),
        1,
        "once"
    );
    assert_eq!(count(&s.pool, ws, "agents").await, 20);
    let (rolled, raw) = rollup_vs_raw(&s.pool, ws, "rollup_hourly").await;
    assert_eq!(rolled, raw);
    common::assert_totals_match_rollups(&s.pool, ws).await;
    // Migration 0010's backfill derives the same totals from the rollups.
    argus_domain::ingest::rollup::rebuild_all_totals(&owner)
        .await
        .unwrap();
    common::assert_totals_match_rollups(&s.pool, ws).await;
    // The demo user can log in.
    argus_domain::session::log_in(
        &s,
        demo::DEMO_EMAIL,
        demo::DEMO_PASSWORD,
        &Default::default(),
        None,
        None,
    )
    .await
    .unwrap();
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn reconcile_rebuilds_damaged_rollups_from_raw(owner: PgPool) {
    use argus_domain::ingest::rollup::rebuild;
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    for name in [
        "agent_trace_current_semconv",
        "error_trace_with_cost",
        "split_part1_children",
        "split_part2_root",
    ] {
        put(&s.pool, ws, &fixture(name)).await;
    }
    let before = (
        rollup_vs_raw(&s.pool, ws, "rollup_hourly").await,
        rollup_vs_raw(&s.pool, ws, "rollup_daily").await,
    );
    // Damage: lose some rows, inflate others.
    let mut tx = tenancy::begin(&s.pool, ws).await.unwrap();
    sqlx::query("DELETE FROM rollup_hourly WHERE workspace_id = $1 AND model = ''")
        .bind(ws)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE rollup_daily SET spans = spans * 7, cost_usd = 99 WHERE workspace_id = $1")
        .bind(ws)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("DELETE FROM rollup_total_hourly WHERE workspace_id = $1")
        .bind(ws)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (rolled, raw) = rollup_vs_raw(&s.pool, ws, "rollup_daily").await;
    assert_ne!(rolled, raw, "damaged");

    let day = fixture("split_part2_root")[0].start_time.date_naive();
    let read = rebuild(&s.pool, ws, day, day + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(read, 9);
    let after = (
        rollup_vs_raw(&s.pool, ws, "rollup_hourly").await,
        rollup_vs_raw(&s.pool, ws, "rollup_daily").await,
    );
    assert_eq!(after, before);
    assert_eq!(after.0 .0, after.0 .1, "hourly equals raw");
    assert_eq!(after.1 .0, after.1 .1, "daily equals raw");
    common::assert_totals_match_rollups(&s.pool, ws).await;
}

/// Migration 0011's binary histograms: the SQL conversions and merge agree with
/// `Histogram::to_bytes`/`from_bytes` and with merging in Rust.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn binary_histograms_in_sql_match_the_rust_form(owner: PgPool) {
    use argus_domain::histogram::Histogram;
    let mut a = Histogram::new();
    for v in [0, 1, 950, 300_000, 300_000, 300_500, 7_000_000_000] {
        a.record(v);
    }
    let mut b = Histogram::new();
    for v in [1, 2, 300_000, 90_000_000] {
        b.record(v);
    }
    let (to_bin, merged, back, empty): (Vec<u8>, Vec<u8>, serde_json::Value, Vec<u8>) =
        sqlx::query_as(
            "SELECT argus_hist_to_bin($1), argus_hist_bin_merge($2, $3), \
               argus_hist_from_bin($2), argus_hist_bin_merge('', '')",
        )
        .bind(a.to_json())
        .bind(a.to_bytes())
        .bind(b.to_bytes())
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(to_bin, a.to_bytes());
    assert_eq!(back, a.to_json());
    let mut sum = a.clone();
    sum.merge(&b);
    assert_eq!(merged, sum.to_bytes());
    assert_eq!(Histogram::from_bytes(&merged), sum);
    assert!(empty.is_empty());
}

/// A database with totals written before migration 0011 (jsonb histograms) reads the same
/// dashboard numbers after it: the conversion keeps every count.
#[sqlx::test(migrations = false)]
async fn migration_0011_converts_stored_totals(owner: PgPool) {
    use argus_domain::db::MIGRATOR;
    use sqlx::migrate::Migrator;
    let before = Migrator {
        migrations: std::borrow::Cow::Owned(
            MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version < 20261126000011)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    before.run(&owner).await.unwrap();
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    // Rows as the code before 0011 wrote them, in the hour (and day) a fixture's spans fall in.
    let spans = fixture("agent_trace_current_semconv");
    let agent = spans[0].dims.agent.clone();
    let hour = spans[0]
        .start_time
        .duration_trunc(chrono::TimeDelta::hours(1))
        .unwrap();
    let day = spans[0]
        .start_time
        .duration_trunc(chrono::TimeDelta::days(1))
        .unwrap();
    for (detail, total, bucket) in [
        ("rollup_hourly", "rollup_total_hourly", hour),
        ("rollup_daily", "rollup_total_daily", day),
    ] {
        sqlx::query(&format!(
            "INSERT INTO {detail} (workspace_id, bucket, department, agent, environment, \
               version, model, traces, trace_errors, trace_latency_sum_us, trace_latency_hist, \
               spans) VALUES \
             ($1, $2, 'd', $3, 'prod', 'v1', '', 3, 1, 900000, '{{\"600\": 2, \"640\": 1}}', 5), \
             ($1, $2, 'd', 'other', 'prod', 'v1', '', 1, 0, 100000, '{{\"580\": 1}}', 1)"
        ))
        .bind(ws)
        .bind(bucket)
        .bind(&agent)
        .execute(&owner)
        .await
        .unwrap();
        sqlx::query(&format!(
            "INSERT INTO {total} (workspace_id, bucket, traces, trace_errors, \
               trace_latency_sum_us, trace_latency_hist, spans, agents) \
             SELECT $1, $2, 4, 1, 1000000, '{{\"580\": 1, \"600\": 2, \"640\": 1}}', 6, \
               jsonb_build_object($3::text, 1, 'other', 1)"
        ))
        .bind(ws)
        .bind(bucket)
        .bind(&agent)
        .execute(&owner)
        .await
        .unwrap();
    }
    type Totals = Vec<(
        chrono::DateTime<chrono::Utc>,
        i64,
        serde_json::Value,
        serde_json::Value,
    )>;
    let jsonb: Totals = sqlx::query_as(
        "SELECT bucket, traces, trace_latency_hist, agents FROM rollup_total_hourly ORDER BY 1",
    )
    .fetch_all(&owner)
    .await
    .unwrap();
    assert!(!jsonb.is_empty());
    MIGRATOR.run(&owner).await.unwrap();
    let converted: Totals = sqlx::query_as(
        "SELECT bucket, traces, argus_hist_from_bin(trace_latency_hist), agents::jsonb \
         FROM rollup_total_hourly ORDER BY 1",
    )
    .fetch_all(&owner)
    .await
    .unwrap();
    assert_eq!(converted, jsonb);
    common::assert_totals_match_rollups(&s.pool, ws).await;
    // New batches merge into the converted rows.
    put(&s.pool, ws, &spans).await;
    common::assert_totals_match_rollups(&s.pool, ws).await;
    let traces: i64 =
        sqlx::query_scalar("SELECT traces FROM rollup_total_hourly WHERE bucket = $1")
            .bind(hour)
            .fetch_one(&owner)
            .await
            .unwrap();
    assert!(traces > 4, "{traces}");
}

/// A batch's rollups of traces of `agent` (department "d", prod, v1) at `at`, one a latency.
fn traces_of(
    at: chrono::DateTime<chrono::Utc>,
    agent: &str,
    latencies: &[i64],
    error: bool,
) -> argus_domain::ingest::rollup::Rollups {
    let dims = argus_domain::ingest::model::Dimensions {
        agent: agent.into(),
        department: "d".into(),
        environment: "prod".into(),
        version: "v1".into(),
    };
    let mut r = argus_domain::ingest::rollup::Rollups::default();
    for l in latencies {
        r.add_trace(at, &dims, Some(*l), error);
    }
    r
}

/// Two batches racing to create a bucket's totals: the second reads nothing (the first has
/// not committed), then meets the first's row on insert and merges in SQL. Either way the
/// totals equal the summed rollups.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn totals_created_by_a_concurrent_batch_are_merged(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let at = chrono::Utc::now() - chrono::TimeDelta::days(1);
    let batch = |agent: &str, latencies: &[i64]| traces_of(at, agent, latencies, false);
    let (first, second) = (
        batch("a", &[1_000, 250_000]),
        batch("b", &[90_000, 250_000]),
    );
    let mut a = tenancy::begin(&s.pool, ws).await.unwrap();
    first.write(&mut a, ws).await.unwrap();
    let pool = s.pool.clone();
    let racing = tokio::spawn(async move {
        let mut b = tenancy::begin(&pool, ws).await.unwrap();
        second.write(&mut b, ws).await.unwrap();
        b.commit().await.unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !racing.is_finished(),
        "the second batch waits for the first's row"
    );
    a.commit().await.unwrap();
    racing.await.unwrap();
    common::assert_totals_match_rollups(&s.pool, ws).await;
    // And a third batch, which finds the row, merges it in Rust.
    let mut c = tenancy::begin(&s.pool, ws).await.unwrap();
    batch("c", &[5_000]).write(&mut c, ws).await.unwrap();
    c.commit().await.unwrap();
    common::assert_totals_match_rollups(&s.pool, ws).await;
}

/// A batch takes the workspace's shared rows (scope and totals) last: another batch of other
/// agents writes all of its rollups and commits while the first is still writing its own,
/// and both add up.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_batch_holds_the_shared_rows_only_at_its_end(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let at = chrono::Utc::now() - chrono::TimeDelta::days(1);
    let batch = move |agent: &str| traces_of(at, agent, &[40_000], true);
    // The first batch of the hour and department: it creates the shared rows, and holds them
    // until it commits.
    let mut a = tenancy::begin(&s.pool, ws).await.unwrap();
    batch("a").write(&mut a, ws).await.unwrap();
    a.commit().await.unwrap();
    let mut a = tenancy::begin(&s.pool, ws).await.unwrap();
    let shared = batch("a").write_but_shared(&mut a, ws).await.unwrap();
    let pool = s.pool.clone();
    let other = tokio::spawn(async move {
        let mut b = tenancy::begin(&pool, ws).await.unwrap();
        batch("b").write(&mut b, ws).await.unwrap();
        b.commit().await.unwrap();
    });
    tokio::time::timeout(std::time::Duration::from_secs(5), other)
        .await
        .expect("the other batch does not wait for the first's agent rows")
        .unwrap();
    shared.write(&mut a, ws).await.unwrap();
    a.commit().await.unwrap();
    common::assert_totals_match_rollups(&s.pool, ws).await;
    let traces: i64 =
        sqlx::query_scalar("SELECT traces FROM rollup_total_daily WHERE workspace_id = $1")
            .bind(ws)
            .fetch_one(&owner)
            .await
            .unwrap();
    assert_eq!(traces, 3);
}

/// Whether `spans_<day>` exists and is attached to spans.
async fn attached(owner: &PgPool, name: &str) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits \
         WHERE inhparent = 'spans'::regclass AND inhrelid = to_regclass($1))",
    )
    .bind(name)
    .fetch_one(owner)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_new_day_partition_is_made_while_spans_are_being_read(owner: PgPool) {
    let s = services(&owner).await;
    // A reader of spans in an open transaction: it holds its lock on spans until it ends. A
    // `CREATE TABLE … PARTITION OF` would wait for it (and fail at the function's lock timeout);
    // attaching a new table does not.
    let mut reader = owner.begin().await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM spans")
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2999, 1, 1).unwrap();
    Partitions::default()
        .ensure(&s.pool, [day], usize::MAX)
        .await
        .unwrap();
    assert!(attached(&owner, "spans_29990101").await);
    // Made once: ensuring it again (another replica, say) is a no-op.
    Partitions::default()
        .ensure(&s.pool, [day], usize::MAX)
        .await
        .unwrap();
    reader.rollback().await.unwrap();

    // The coming days are made ahead of time.
    let now = chrono::Utc::now();
    s.partitions.ahead(&s.pool, now).await.unwrap();
    for d in 0..=argus_domain::ingest::store::DAYS_AHEAD {
        let day = now.date_naive() + chrono::Days::new(d);
        assert!(attached(&owner, &format!("spans_{}", day.format("%Y%m%d"))).await);
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn retention_leaves_a_busy_partition_to_its_next_pass(owner: PgPool) {
    let s = services(&owner).await;
    let day = chrono::NaiveDate::from_ymd_opt(2001, 1, 1).unwrap();
    Partitions::default()
        .ensure(&s.pool, [day], usize::MAX)
        .await
        .unwrap();
    let drop = || async {
        sqlx::query_scalar::<_, i32>("SELECT argus_drop_span_partitions('2001-01-02')")
            .fetch_one(&s.pool)
            .await
            .unwrap()
    };
    let mut reader = owner.begin().await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM spans")
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    assert_eq!(drop().await, 0, "busy: left, not waited for");
    assert!(attached(&owner, "spans_20010101").await);
    reader.rollback().await.unwrap();
    assert_eq!(drop().await, 1);
    assert!(!attached(&owner, "spans_20010101").await);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_first_hour_of_each_combination_is_kept_and_a_late_batch_moves_it_back(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let spans = fixture("agent_trace_current_semconv");
    let hour =
        |t: chrono::DateTime<chrono::Utc>| t.duration_trunc(chrono::TimeDelta::hours(1)).unwrap();
    let first_of = |spans: &[SpanRecord]| hour(spans.iter().map(|s| s.start_time).min().unwrap());
    put(&s.pool, ws, &spans).await;
    let firsts = || async {
        let mut tx = tenancy::begin(&s.pool, ws).await.unwrap();
        let rows: Vec<(String, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT agent, model, first_hour FROM rollup_first_seen WHERE workspace_id = $1 \
             ORDER BY model",
        )
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        rows
    };
    let before = firsts().await;
    // The trace-level row ('' model) and the model's, both at the batch's first hour.
    assert_eq!(before.len(), 2, "{before:?}");
    assert!(before
        .iter()
        .all(|(a, _, t)| a == "support-bot" && *t == first_of(&spans)));
    // The same agent and model three hours later: nothing new.
    let mut later = spans.clone();
    for sp in &mut later {
        sp.trace_id = format!("{}aa", &sp.trace_id[..sp.trace_id.len() - 2]);
        sp.start_time += chrono::TimeDelta::hours(3);
        sp.end_time += chrono::TimeDelta::hours(3);
    }
    put(&s.pool, ws, &later).await;
    assert_eq!(firsts().await, before);
    // A late batch from two days earlier moves the first hour back.
    let mut early = spans.clone();
    for sp in &mut early {
        sp.trace_id = format!("{}bb", &sp.trace_id[..sp.trace_id.len() - 2]);
        sp.start_time -= chrono::TimeDelta::days(2);
        sp.end_time -= chrono::TimeDelta::days(2);
    }
    put(&s.pool, ws, &early).await;
    let after = firsts().await;
    assert!(
        after.iter().all(|(_, _, t)| *t == first_of(&early)),
        "{after:?}"
    );
}

/// PostgreSQL's histogram functions (migration 0037) read and write exactly what Rust does:
/// the compact forms byte for byte, the 12-byte form still read by both.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn histograms_read_and_write_the_same_in_sql_and_rust(owner: PgPool) {
    use argus_domain::histogram::Histogram;
    let legacy = |h: &Histogram| -> Vec<u8> {
        h.buckets()
            .flat_map(|(i, n)| i.to_be_bytes().into_iter().chain(n.to_be_bytes()))
            .collect()
    };
    let mut cases = vec![Histogram::new()];
    for (scale, repeat) in [(1_u64, 1_u64), (300, 1), (70_000, 1), (5_000_000_000, 1)] {
        // Dense (a latency distribution) and sparse (values far apart), at every count width.
        let mut dense = Histogram::new();
        for ms in 1..=400_u64 {
            dense.record_n(ms * 1_000, scale * (1 + ms % 3) * repeat);
        }
        let mut sparse = Histogram::new();
        sparse.record_n(0, scale);
        sparse.record_n(7, 1);
        sparse.record_n(3_600_000_000, scale);
        cases.extend([dense, sparse]);
    }
    let entries = |bytes: Vec<u8>| {
        let owner = owner.clone();
        async move {
            sqlx::query_as::<_, (i32, i64)>(
                "SELECT idx, n FROM argus_hist_bin_entries($1) ORDER BY idx",
            )
            .bind(bytes)
            .fetch_all(&owner)
            .await
            .unwrap()
        }
    };
    for (k, h) in cases.iter().enumerate() {
        let want: Vec<(i32, i64)> = h.buckets().map(|(i, n)| (i as i32, n as i64)).collect();
        assert_eq!(entries(h.to_bytes()).await, want, "case {k}: compact");
        assert_eq!(entries(legacy(h)).await, want, "case {k}: 12-byte");
        let (packed, from_json): (Vec<u8>, Vec<u8>) =
            sqlx::query_as("SELECT argus_hist_pack($1), argus_hist_to_bin($2)")
                .bind(legacy(h))
                .bind(h.to_json())
                .fetch_one(&owner)
                .await
                .unwrap();
        assert_eq!(packed, h.to_bytes(), "case {k}: packed in SQL");
        assert_eq!(from_json, h.to_bytes(), "case {k}: from json in SQL");
        let other = &cases[(k + 3) % cases.len()];
        let merged: Vec<u8> = sqlx::query_scalar("SELECT argus_hist_bin_merge($1, $2)")
            .bind(h.to_bytes())
            .bind(legacy(other))
            .fetch_one(&owner)
            .await
            .unwrap();
        let mut want = h.clone();
        want.merge(other);
        assert_eq!(merged, want.to_bytes(), "case {k}: merged in SQL");
        assert_eq!(Histogram::from_bytes(&merged), want);
    }
    // Bytes no writer produces read as nothing, never as an error.
    assert!(entries(vec![3, 0, 5, 1]).await.is_empty());
    assert!(entries(vec![1]).await.is_empty());
    assert!(entries(vec![0x11, 0]).await.is_empty());
}

/// Replicas make the coming days' partitions at the same moments (start, then hourly): several
/// makers of one day at once all succeed, and the day is attached once.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_day_partition_made_by_several_replicas_at_once_is_made_once(owner: PgPool) {
    let day = chrono::Utc::now().date_naive() + chrono::Days::new(40);
    let makers: Vec<_> = (0..4)
        .map(|_| {
            let owner = owner.clone();
            tokio::spawn(async move {
                Partitions::default()
                    .ensure(&owner, [day], usize::MAX)
                    .await
            })
        })
        .collect();
    for maker in makers {
        let refused = maker.await.unwrap().expect("every maker succeeds");
        assert!(refused.is_empty());
    }
    let attached: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'spans'::regclass \
         AND inhrelid::regclass::text = $1",
    )
    .bind(format!("spans_{}", day.format("%Y%m%d")))
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(attached, 1);
}
