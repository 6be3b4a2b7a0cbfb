//! Workspace prices: precedence at ingest, re-pricing the past, and totals that stay equal to
//! the raw spans (traces and rollups) through a price set and removed.

mod common;

use argus_domain::cost::Catalog;
use argus_domain::ingest::mapping::map_request;
use argus_domain::ingest::model::SpanRecord;
use argus_domain::ingest::otlp::{decode_traces, Encoding};
use argus_domain::ingest::store::{store, Partitions};
use argus_domain::pricing::{self, NewPrice, Overrides, Pricing};
use argus_domain::tenancy::{self, WorkspaceId};
use argus_domain::{Error, Services};
use common::{services, sign_up};
use sqlx::PgPool;

fn fixture(name: &str) -> Vec<SpanRecord> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/otlp")
        .join(format!("{name}.pb"));
    let body = std::fs::read(path).unwrap();
    map_request(&decode_traces(&body, Encoding::Protobuf).unwrap()).spans
}

/// The current-conventions trace with its model calls renamed to `model`.
fn with_model(model: &str) -> Vec<SpanRecord> {
    fixture("agent_trace_current_semconv")
        .into_iter()
        .map(|mut s| {
            if s.model.is_some() {
                s.model = Some(model.into());
                s.request_model = Some(model.into());
            }
            s
        })
        .collect()
}

/// Stores spans as ingestion does: with the workspace's current prices.
async fn ingest(s: &Services, ws: WorkspaceId, spans: &[SpanRecord]) {
    Partitions::default()
        .ensure(
            &s.pool,
            spans.iter().map(|s| s.start_time.date_naive()),
            usize::MAX,
        )
        .await
        .unwrap();
    let overrides = pricing::cached_overrides(s, ws).await.unwrap();
    store(&s.pool, ws, spans, &Pricing::new(&overrides))
        .await
        .unwrap();
}

fn price(model: &str, input: f64, output: f64) -> NewPrice {
    NewPrice {
        model: model.into(),
        input,
        output,
        cached_input: None,
        cache_write: None,
    }
}

/// Sets a price and runs its job to the end; returns the spans re-priced.
async fn set_and_run(s: &Services, ws: WorkspaceId, p: NewPrice) -> u64 {
    let job = pricing::set(s, ws, None, &p).await.unwrap();
    pricing::run(s, ws, job.id, &job.model).await.unwrap()
}

/// (cost × 1e9 rounded, unpriced spans) from the spans, the traces, the hourly and the daily
/// rollups: all four must agree.
async fn totals(pool: &PgPool, ws: WorkspaceId) -> [(i64, i64); 4] {
    let mut tx = tenancy::begin(pool, ws).await.unwrap();
    let spans: (i64, i64) = sqlx::query_as(
        "SELECT coalesce(round(sum(cost_usd) * 1e9), 0)::bigint, \
           count(*) FILTER (WHERE cost_usd IS NULL AND model IS NOT NULL \
             AND input_tokens + output_tokens > 0) \
         FROM spans WHERE workspace_id = $1",
    )
    .bind(ws)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let traces: (i64, i64) = sqlx::query_as(
        "SELECT coalesce(round(sum(cost_usd) * 1e9), 0)::bigint, coalesce(sum(unpriced_spans), 0)::bigint \
         FROM traces WHERE workspace_id = $1",
    )
    .bind(ws)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let mut out = [spans, traces, (0, 0), (0, 0)];
    for (i, table) in ["rollup_hourly", "rollup_daily"].into_iter().enumerate() {
        out[2 + i] = sqlx::query_as(&format!(
            "SELECT coalesce(round(sum(cost_usd) * 1e9), 0)::bigint, \
               coalesce(sum(unpriced_spans), 0)::bigint FROM {table} WHERE workspace_id = $1"
        ))
        .bind(ws)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    out
}

async fn sources(pool: &PgPool, ws: WorkspaceId) -> Vec<(String, Option<String>, Option<f64>)> {
    let mut tx = tenancy::begin(pool, ws).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT model, cost_source, cost_usd::float8 FROM spans \
         WHERE workspace_id = $1 AND model IS NOT NULL ORDER BY model, span_id",
    )
    .bind(ws)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rows
}

fn assert_agree(t: [(i64, i64); 4]) {
    assert!(
        t.iter().all(|x| *x == t[0]),
        "spans, traces, hourly and daily rollups disagree: {t:?}"
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_workspace_price_reprices_the_past_and_totals_stay_equal_to_raw(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    // Two model calls of a model no catalog knows.
    ingest(&s, ws, &with_model("acme-llm-large")).await;
    let before = totals(&s.pool, ws).await;
    assert_agree(before);
    assert_eq!(before[0], (0, 2), "unpriced");
    let listed = pricing::overview(&s, ws).await.unwrap();
    assert_eq!(listed.unpriced.len(), 1);
    assert_eq!(
        (listed.unpriced[0].model.as_str(), listed.unpriced[0].spans),
        ("acme-llm-large", 2)
    );

    // Setting a price re-prices both spans, and the rollups and traces follow.
    assert_eq!(
        set_and_run(&s, ws, price("acme-llm-large", 1.0, 2.0)).await,
        2
    );
    let after = totals(&s.pool, ws).await;
    assert_agree(after);
    // (1200 input, 85 output) and (1420, 160); cached input is priced at the input price.
    let expected = ((1200.0 + 1420.0) * 1.0 + (85.0 + 160.0) * 2.0) / 1e6;
    assert_eq!(after[0], ((expected * 1e9_f64).round() as i64, 0));
    assert!(sources(&s.pool, ws)
        .await
        .iter()
        .all(|(_, src, _)| src.as_deref() == Some("workspace")));
    let overview = pricing::overview(&s, ws).await.unwrap();
    assert!(overview.unpriced.is_empty());
    assert_eq!(overview.workspace.len(), 1);
    assert_eq!(
        (
            overview.jobs[0].status.as_str(),
            overview.jobs[0].spans_updated
        ),
        ("done", 2)
    );

    // Running the same job again changes nothing (idempotent).
    let job = overview.jobs[0].id;
    assert_eq!(
        pricing::run(&s, ws, job, "acme-llm-large").await.unwrap(),
        0
    );
    assert_eq!(totals(&s.pool, ws).await, after);

    // New spans of the model are priced with it at ingest.
    let mut later = with_model("acme-llm-large");
    for span in &mut later {
        span.trace_id = format!("{:0>32}", "beef");
    }
    ingest(&s, ws, &later).await;
    let doubled = totals(&s.pool, ws).await;
    assert_agree(doubled);
    common::assert_totals_match_rollups(&s.pool, ws).await;
    assert_eq!(doubled[0], (after[0].0 * 2, 0));

    // Removing the price puts every span back to unpriced; the totals follow.
    let job = pricing::remove(&s, ws, "ACME-LLM-LARGE ").await.unwrap();
    assert_eq!(pricing::run(&s, ws, job.id, &job.model).await.unwrap(), 4);
    let removed = totals(&s.pool, ws).await;
    assert_agree(removed);
    assert_eq!(removed[0], (0, 4));
    common::assert_totals_match_rollups(&s.pool, ws).await;
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_workspace_price_wins_over_the_catalog_and_a_sent_cost_wins_over_both(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    // gpt-4o-2024-08-06 (catalog) and a trace whose spans sent their own cost.
    ingest(&s, ws, &fixture("agent_trace_current_semconv")).await;
    ingest(&s, ws, &fixture("error_trace_with_cost")).await;
    let sent_before: Vec<_> = sources(&s.pool, ws)
        .await
        .into_iter()
        .filter(|(_, src, _)| src.as_deref() == Some("sent"))
        .collect();
    assert!(!sent_before.is_empty());
    assert!(sources(&s.pool, ws)
        .await
        .iter()
        .any(|(_, src, _)| src.as_deref() == Some("catalog")));

    // A price for the short name applies to the dated one.
    assert_eq!(set_and_run(&s, ws, price("gpt-4o", 0.5, 1.0)).await, 2);
    let rows = sources(&s.pool, ws).await;
    for (model, src, cost) in &rows {
        if model.starts_with("gpt-4o") && src.as_deref() != Some("sent") {
            assert_eq!(src.as_deref(), Some("workspace"), "{model}");
            assert!(cost.unwrap() > 0.0);
        }
    }
    let sent_after: Vec<_> = rows
        .into_iter()
        .filter(|(_, src, _)| src.as_deref() == Some("sent"))
        .collect();
    assert_eq!(sent_after, sent_before, "sent costs are never re-priced");
    assert_agree(totals(&s.pool, ws).await);

    // And back to the catalog when it goes.
    let job = pricing::remove(&s, ws, "gpt-4o").await.unwrap();
    assert_eq!(pricing::run(&s, ws, job.id, &job.model).await.unwrap(), 2);
    assert!(sources(&s.pool, ws)
        .await
        .iter()
        .all(|(_, src, _)| src.as_deref() != Some("workspace")));
    assert_agree(totals(&s.pool, ws).await);

    // The pure rules, without the database.
    let overrides = Overrides::new(&pricing::list(&s.pool, ws).await.unwrap());
    let p = Pricing::new(&overrides);
    let span = &fixture("agent_trace_current_semconv")[0];
    assert_eq!(
        p.price(
            Some(0.5),
            Some("gpt-4o"),
            None,
            &span.usage,
            span.start_time
        ),
        (Some(0.5), Some("sent"))
    );
    assert!(Catalog::builtin().find("gpt-4o", span.start_time).is_some());
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn bad_prices_are_refused_and_change_nothing(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    for bad in [
        price("", 1.0, 1.0),
        price("m", -1.0, 1.0),
        price("m", 1.0, f64::NAN),
        price("m", 1.0, 1e9),
        price(&"x".repeat(201), 1.0, 1.0),
    ] {
        let e = pricing::set(&s, ws, None, &bad).await.unwrap_err();
        assert!(
            matches!(e, Error::InvalidInput { .. } | Error::MissingField { .. }),
            "{bad:?}: {e:?}"
        );
    }
    assert!(pricing::list(&s.pool, ws).await.unwrap().is_empty());
    assert!(matches!(
        pricing::remove(&s, ws, "never-set").await,
        Err(Error::NotFound { .. })
    ));
    // Another workspace's price is invisible and cannot be removed.
    let (_, other) = sign_up(&s, "bob@example.com", "B").await;
    pricing::set(&s, other, None, &price("secret-model", 1.0, 1.0))
        .await
        .unwrap();
    assert!(pricing::list(&s.pool, ws).await.unwrap().is_empty());
    assert!(matches!(
        pricing::remove(&s, ws, "secret-model").await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(pricing::list(&s.pool, other).await.unwrap().len(), 1);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_price_changed_again_before_its_job_starts_reuses_the_queued_job(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let price = |input: f64| NewPrice {
        model: "acme-llm".into(),
        input,
        output: 2.0,
        cached_input: None,
        cache_write: None,
    };
    let first = pricing::set(&s, ws, None, &price(1.0)).await.unwrap();
    let second = pricing::set(&s, ws, None, &price(1.5)).await.unwrap();
    assert_eq!(first.id, second.id, "one queued job per model");
    let removed = pricing::remove(&s, ws, "acme-llm").await.unwrap();
    assert_eq!(removed.id, first.id);
    let other = pricing::set(
        &s,
        ws,
        None,
        &NewPrice {
            model: "other-llm".into(),
            ..price(1.0)
        },
    )
    .await
    .unwrap();
    assert_ne!(other.id, first.id, "another model has its own job");
    // Once it has run, a new change queues a new job.
    pricing::run(&s, ws, first.id, "acme-llm").await.unwrap();
    let later = pricing::set(&s, ws, None, &price(3.0)).await.unwrap();
    assert_ne!(later.id, first.id);
}

/// Issue 20, point 1: a job runs once across replicas (its advisory lock), and one whose
/// replica died (the lock gone with its connection) is taken over by another replica's resume.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_job_runs_on_one_replica_and_another_takes_it_over_when_that_one_dies(owner: PgPool) {
    use sqlx::Connection;
    let a = services(&owner).await;
    let b = services(&owner).await;
    let (_, ws) = sign_up(&a, "ann@example.com", "A").await;
    ingest(&a, ws, &with_model("acme-llm-large")).await;
    let job = pricing::set(&a, ws, None, &price("acme-llm-large", 1.0, 2.0))
        .await
        .unwrap();
    let status = |s: Services| async move {
        let o = pricing::overview(&s, ws).await.unwrap();
        (
            o.jobs[0].status.as_str().to_owned(),
            o.jobs[0].spans_updated,
        )
    };

    // Replica A runs the job: it holds the job's lock on a connection of its own.
    let url = owner.connect_options();
    let mut replica_a = sqlx::PgConnection::connect_with(&url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(argus_domain::jobs::lock_key(job.id))
        .execute(&mut replica_a)
        .await
        .unwrap();
    // Replica B's sweep finds it unfinished but leaves it to A.
    assert_eq!(pricing::resume(&b).await.unwrap(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(status(b.clone()).await, ("queued".to_owned(), 0));

    // A dies: its connection, and the lock with it, are gone. B's next sweep takes over.
    drop(replica_a);
    let mut taken_over = false;
    for _ in 0..40 {
        pricing::resume(&b).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        if status(b.clone()).await == ("done".to_owned(), 2) {
            taken_over = true;
            break;
        }
    }
    assert!(taken_over, "{:?}", status(b.clone()).await);
    assert_agree(totals(&a.pool, ws).await);
    // Finished: no replica finds it again.
    assert_eq!(pricing::resume(&a).await.unwrap(), 0);
}
