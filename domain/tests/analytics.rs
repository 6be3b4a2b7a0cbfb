//! The dashboard's numbers (read from the rollups) against independent SQL over the raw
//! traces and spans, for every KPI, several filters and ranges.

mod common;

use argus_domain::analytics::{self, resolve, resolve_lenient, Resolved};
use argus_domain::demo;
use argus_domain::histogram::RELATIVE_ERROR;
use argus_domain::tenancy::{self, WorkspaceId};
use argus_types::{Filters, HomeKpis};
use chrono::{Datelike, Duration, Utc};
use common::services;
use sqlx::PgPool;

/// The raw numbers for a window and filters, computed from traces (requests, errors,
/// latency) and spans (tokens, cost, agents).
#[derive(Debug)]
struct Raw {
    requests: i64,
    errors: i64,
    avg_latency_ms: Option<f64>,
    p95_ms: Option<f64>,
    tokens: i64,
    cost: f64,
    agents: i64,
    /// The five agents with the most cost (most first, then by name).
    top_cost: Vec<(String, f64)>,
}

async fn raw(pool: &PgPool, ws: WorkspaceId, q: &Resolved) -> Raw {
    let d = &q.dims;
    let mut tx = tenancy::begin(pool, ws).await.unwrap();
    let dims = "($4::text IS NULL OR department = $4) AND ($5::text IS NULL OR environment = $5) \
                AND ($6::text IS NULL OR version = $6) AND ($7::text IS NULL OR agent = $7)";
    // Requests: traces with their root, by start; or, with a model filter, that model's spans.
    let sql = if d.model.is_some() {
        format!(
            "SELECT count(*), count(*) FILTER (WHERE status = 'error'), (avg(duration_us) / 1000.0)::float8, \
               ((percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_us)) / 1000.0)::float8 \
             FROM spans WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
               AND {dims} AND model = $8"
        )
    } else {
        format!(
            "SELECT count(*), count(*) FILTER (WHERE error_count > 0), (avg(latency_us) / 1000.0)::float8, \
               ((percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_us)) / 1000.0)::float8 \
             FROM traces WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
               AND root_span_id IS NOT NULL AND {dims} AND ($8::text IS NULL OR true)"
        )
    };
    let (requests, errors, avg, p95): (i64, i64, Option<f64>, Option<f64>) = sqlx::query_as(&sql)
        .bind(ws)
        .bind(q.from)
        .bind(q.to)
        .bind(&d.dept)
        .bind(&d.env)
        .bind(&d.version)
        .bind(&d.agent)
        .bind(&d.model)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let (tokens, cost, agents): (i64, f64, i64) = sqlx::query_as(&format!(
        "SELECT coalesce(sum(input_tokens + output_tokens), 0)::bigint, \
           coalesce(sum(cost_usd), 0)::float8, count(DISTINCT agent) \
         FROM spans WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
           AND {dims} AND ($8::text IS NULL OR model = $8)"
    ))
    .bind(ws)
    .bind(q.from)
    .bind(q.to)
    .bind(&d.dept)
    .bind(&d.env)
    .bind(&d.version)
    .bind(&d.agent)
    .bind(&d.model)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let mut top_cost: Vec<(String, f64)> = sqlx::query_as(&format!(
        "SELECT agent, sum(cost_usd)::float8 FROM spans WHERE workspace_id = $1 \
           AND start_time >= $2 AND start_time < $3 AND {dims} \
           AND ($8::text IS NULL OR model = $8) GROUP BY agent HAVING sum(cost_usd) > 0"
    ))
    .bind(ws)
    .bind(q.from)
    .bind(q.to)
    .bind(&d.dept)
    .bind(&d.env)
    .bind(&d.version)
    .bind(&d.agent)
    .bind(&d.model)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    top_cost.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top_cost.truncate(5);
    tx.commit().await.unwrap();
    Raw {
        requests,
        errors,
        avg_latency_ms: avg,
        p95_ms: p95,
        tokens,
        cost,
        agents,
        top_cost,
    }
}

/// The midnight (UTC) that starts `t`'s day.
fn midnight(t: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    t.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc()
}

fn value(h: &HomeKpis, key: &str) -> Option<f64> {
    h.kpis.iter().find(|k| k.key == key).unwrap().value
}

fn close(a: Option<f64>, b: Option<f64>, rel: f64, what: &str) {
    match (a, b) {
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= rel * b.abs().max(1e-9) + 1e-9,
            "{what}: served {a}, raw {b}"
        ),
        (a, b) => assert_eq!(a.is_some(), b.is_some(), "{what}: served {a:?}, raw {b:?}"),
    }
}

/// The department and environment filters of `q` as a raw WHERE's conditions (`AND …`).
fn only_dims(q: &Resolved) -> String {
    let mut only = String::new();
    if let Some(dept) = &q.dims.dept {
        only += &format!(" AND department = '{dept}'");
    }
    if let Some(env) = &q.dims.env {
        only += &format!(" AND environment = '{env}'");
    }
    only
}

fn filters(pairs: &[(&str, &str)]) -> Filters {
    Filters::parse(|k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    })
}

/// The previous period's numbers (the cards' comparison) equal raw SQL too, when they come
/// from daily totals for its whole days and hourly ones at its edges.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_previous_period_equals_raw_sql(owner: PgPool) {
    let s = services(&owner).await;
    // Days 10 to 7 before today: whole days of a 7-day window's previous period, its edge, and
    // the start of the window itself.
    let now = Utc::now();
    demo::load(
        &s,
        midnight(now) - Duration::days(6),
        4,
        20 << 20,
        |_, _| {},
    )
    .await
    .unwrap();
    let (_, ws) = demo::ensure_workspace(&s).await.unwrap();
    // The demo has a policy in shadow mode with decisions on its traffic, each on its trace.
    let mut tx = argus_domain::tenancy::begin(&s.pool, ws).await.unwrap();
    let (shadow, would_act, on_traces): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE shadow), count(*) FILTER (WHERE shadow AND would <> 'allow'), \
         count(*) FILTER (WHERE EXISTS (SELECT 1 FROM traces t WHERE t.workspace_id = d.workspace_id \
           AND t.trace_id = d.trace_id)) FROM guard_decisions d WHERE workspace_id = $1",
    )
    .bind(ws.0)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(
        shadow > 100 && would_act > 10,
        "{shadow} shadow decisions, {would_act} would act"
    );
    assert_eq!(on_traces, 2 * shadow, "every decision names a stored trace");
    // Unfiltered (the workspace totals), by a department and/or an environment (the KPIs from
    // the scope rollups, the rest from the agent or detailed rollups); the cost page's
    // previous period too.
    let filter_sets: [&[(&str, &str)]; 4] = [
        &[],
        &[("dept", "support")],
        &[("env", "production")],
        &[("dept", "support"), ("env", "production")],
    ];
    for dims in filter_sets {
        for range in ["7d", "24h", "30d"] {
            let mut pairs = vec![("range", range)];
            pairs.extend_from_slice(dims);
            let case = format!("{pairs:?}");
            let q = resolve(&filters(&pairs), now).unwrap();
            let served = <argus_types::HomeKpis as argus_domain::analytics::Report>::read(
                &s.pool,
                ws,
                &q,
                &(),
            )
            .await
            .unwrap();
            let previous = |key: &str| served.kpis.iter().find(|k| k.key == key).unwrap().previous;
            let before = Resolved {
                from: q.previous_from,
                to: q.from,
                ..q.clone()
            };
            let raw = raw(&s.pool, ws, &before).await;
            assert_eq!(previous("requests"), Some(raw.requests as f64), "{case}");
            if range == "7d" {
                assert!(
                    raw.requests > 20,
                    "the demo fills the previous week: {case}"
                );
            }
            close(
                previous("p95_latency"),
                raw.p95_ms,
                2.0 * RELATIVE_ERROR,
                &format!("{case} p95"),
            );
            assert_eq!(previous("tokens"), Some(raw.tokens as f64), "{case} tokens");
            close(
                previous("cost"),
                Some(raw.cost),
                1e-9,
                &format!("{case} cost"),
            );
            assert_eq!(
                previous("active_agents"),
                Some(raw.agents as f64),
                "{case} agents"
            );
            let cost = <argus_types::CostReport as argus_domain::analytics::Report>::read(
                &s.pool,
                ws,
                &q,
                &(),
            )
            .await
            .unwrap();
            close(
                Some(cost.previous_usd),
                Some(raw.cost),
                1e-9,
                &format!("{case} cost page's previous period"),
            );
        }
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn every_kpi_equals_raw_sql_for_the_same_filters_and_range(owner: PgPool) {
    let s = services(&owner).await;
    // Yesterday and today of the demo (today's later hours are in the future: outside every
    // window, for both sides).
    let now = Utc::now();
    demo::load(
        &s,
        midnight(now) + Duration::days(1),
        2,
        20 << 20,
        |_, _| {},
    )
    .await
    .unwrap();
    let (_, ws) = demo::ensure_workspace(&s).await.unwrap();
    common::assert_totals_match_rollups(&s.pool, ws).await;
    // The demo's alerts: three rules and two budgets, evaluated; the day's spend fires on the
    // demo's own traffic, and the workspace budget's forecast is announced.
    let rules = argus_domain::alerts::rules::list(&s, ws).await.unwrap();
    assert_eq!(rules.len(), 3, "{rules:?}");
    let spend = rules.iter().find(|r| r.name == "Daily spend").unwrap();
    assert_eq!(spend.state, argus_types::AlertState::Firing, "{spend:?}");
    let feed = argus_domain::alerts::feed::get(&s, ws).await.unwrap();
    assert!(feed.firing.iter().any(|i| i.rule_name == "Daily spend"));
    let budgets = argus_domain::alerts::budgets::list(&s, ws, now)
        .await
        .unwrap();
    assert_eq!(budgets.len(), 2);
    let workspace = budgets.iter().find(|b| b.scope_value.is_empty()).unwrap();
    assert!(workspace.exceeds_on.is_some(), "{workspace:?}");
    assert!(
        workspace.notices.contains(&"forecast".to_owned()),
        "{workspace:?}"
    );
    let from = (now - Duration::hours(30))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("range", "1h")],
        vec![("range", "7d")],
        vec![("range", "30d")],
        vec![("range", "24h"), ("dept", "support")],
        vec![("range", "7d"), ("env", "production")],
        vec![("range", "30d"), ("dept", "support"), ("env", "production")],
        vec![("range", "7d"), ("env", "production"), ("version", "2.0.0")],
        vec![("range", "24h"), ("agent", "forecast-bot")],
        vec![("range", "7d"), ("model", "gpt-4o")],
        vec![("from", &from)],
    ];
    let mut nonempty = 0;
    for case in &cases {
        let q = resolve(&filters(case), now).unwrap();
        let served =
            <argus_types::HomeKpis as argus_domain::analytics::Report>::read(&s.pool, ws, &q, &())
                .await
                .unwrap();
        let raw = raw(&s.pool, ws, &q).await;
        let what = format!("{case:?}");
        assert_eq!(
            value(&served, "requests"),
            Some(raw.requests as f64),
            "{what}"
        );
        nonempty += usize::from(raw.requests > 0);
        let rate = (raw.requests > 0).then(|| raw.errors as f64 * 100.0 / raw.requests as f64);
        close(
            value(&served, "error_rate"),
            rate,
            1e-9,
            &format!("{what} error rate"),
        );
        close(
            value(&served, "avg_latency"),
            raw.avg_latency_ms,
            1e-9,
            &format!("{what} avg latency"),
        );
        // The histogram's documented bound (1 %), plus rank rounding between the two.
        close(
            value(&served, "p95_latency"),
            raw.p95_ms,
            2.0 * RELATIVE_ERROR,
            &format!("{what} p95"),
        );
        assert_eq!(
            value(&served, "tokens"),
            Some(raw.tokens as f64),
            "{what} tokens"
        );
        close(
            value(&served, "cost"),
            Some(raw.cost),
            1e-9,
            &format!("{what} cost"),
        );
        assert_eq!(
            value(&served, "active_agents"),
            Some(raw.agents as f64),
            "{what} agents"
        );
        // The top agents by cost (window sums: whole days read from the daily rollup).
        let top: Vec<&str> = served
            .top_by_cost
            .iter()
            .map(|a| a.agent.as_str())
            .collect();
        let raw_top: Vec<&str> = raw.top_cost.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(top, raw_top, "{what} top agents by cost");
        for (a, (_, c)) in served.top_by_cost.iter().zip(&raw.top_cost) {
            close(
                Some(a.cost_usd),
                Some(*c),
                1e-9,
                &format!("{what} {} cost", a.agent),
            );
        }
        // The home page reads its top agents and the activity's spikes from one read of the
        // agents' periods, on unfiltered hourly windows too: the same answer as each alone.
        let home = analytics::home(&s, ws, &q).await.unwrap();
        let key = |a: &argus_types::AgentStat| {
            (a.agent.clone(), a.department.clone(), a.requests, a.errors)
        };
        for (mine, alone) in [
            (&home.kpis.top_by_cost, &served.top_by_cost),
            (&home.kpis.top_by_errors, &served.top_by_errors),
        ] {
            let keys = |v: &Vec<argus_types::AgentStat>| v.iter().map(key).collect::<Vec<_>>();
            assert_eq!(keys(mine), keys(alone), "{what} home's top agents");
            for (a, b) in mine.iter().zip(alone.iter()) {
                close(
                    Some(a.cost_usd),
                    Some(b.cost_usd),
                    1e-9,
                    &format!("{what} home cost"),
                );
            }
        }
        let activity =
            <argus_types::Activity as argus_domain::analytics::Report>::read(&s.pool, ws, &q, &())
                .await
                .unwrap();
        assert_eq!(
            home.activity.events, activity.events,
            "{what} home's activity"
        );
        // The sparkline sums to the total.
        let spark: f64 = served.kpis[0].spark.iter().flatten().sum();
        assert_eq!(spark, raw.requests as f64, "{what} spark");
        assert!(served.kpis[0].spark.len() as i64 <= analytics::MAX_POINTS);
    }
    assert!(nonempty >= 6, "the demo data fills most windows");

    // The time series agrees with the KPIs, and other workspaces see nothing.
    let q = resolve(&filters(&[("range", "7d")]), now).unwrap();
    let series = analytics::cached::<argus_types::Timeseries>(&s, ws, &q, &())
        .await
        .unwrap();
    let kpis = analytics::cached::<argus_types::HomeKpis>(&s, ws, &q, &())
        .await
        .unwrap();
    let total: i64 = series.points.iter().map(|p| p.requests).sum();
    assert_eq!(Some(total as f64), value(&kpis, "requests"));
    assert_eq!(series.points.len(), 84, "7 days in 2-hour steps");
    let (_, other) = common::sign_up(&s, "eve@example.com", "Eve").await;
    let theirs =
        <argus_types::HomeKpis as argus_domain::analytics::Report>::read(&s.pool, other, &q, &())
            .await
            .unwrap();
    assert_eq!(value(&theirs, "requests"), Some(0.0));
    assert!(theirs.top_by_cost.is_empty());

    // Usage split by department, agent and model equals the raw grouping (from the agents'
    // hours at 7 d, their days at 30 d, both per environment under an environment filter).
    let cases: [&[(&str, &str)]; 6] = [
        &[("range", "7d")],
        &[("range", "30d")],
        &[("range", "7d"), ("env", "production")],
        &[("range", "24h"), ("dept", "support"), ("env", "staging")],
        &[("range", "30d"), ("env", "production")],
        &[("range", "90d"), ("dept", "support"), ("env", "staging")],
    ];
    for (case, by) in cases
        .into_iter()
        .flat_map(|case| ["department", "agent", "model"].map(|by| (case, by)))
    {
        let q = resolve(&filters(case), now).unwrap();
        let only = only_dims(&q);
        let requests_sql = if by == "model" {
            format!(
                "SELECT model, count(*) FROM spans WHERE workspace_id = $1 AND start_time >= $2 \
                 AND start_time < $3 AND model IS NOT NULL {only} GROUP BY 1"
            )
        } else {
            format!(
                "SELECT {by}, count(*) FROM traces WHERE workspace_id = $1 \
                 AND start_time >= $2 AND start_time < $3 AND root_span_id IS NOT NULL {only} \
                 GROUP BY 1"
            )
        };
        let range = format!("{case:?}");
        let served = analytics::cached::<argus_types::UsageBreakdown>(&s, ws, &q, &by.to_owned())
            .await
            .unwrap();
        let mut tx = tenancy::begin(&s.pool, ws).await.unwrap();
        let mut raw: Vec<(String, i64)> = sqlx::query_as(&requests_sql)
            .bind(ws)
            .bind(q.from)
            .bind(q.to)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        let tokens_sql = format!(
            "SELECT {by}, sum(input_tokens + output_tokens)::bigint FROM spans \
             WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
             AND {by} IS NOT NULL {only} GROUP BY 1"
        );
        let mut raw_tokens: Vec<(String, i64)> = sqlx::query_as(&tokens_sql)
            .bind(ws)
            .bind(q.from)
            .bind(q.to)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        raw.sort();
        raw_tokens.sort();
        let mut got: Vec<(String, i64)> = served
            .rows
            .iter()
            .filter(|r| r.requests > 0)
            .map(|r| (r.key.clone(), r.requests))
            .collect();
        got.sort();
        assert_eq!(got, raw, "{range}: requests by {by}");
        let mut got_tokens: Vec<(String, i64)> = served
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.input_tokens + r.output_tokens))
            .filter(|(_, t)| *t > 0)
            .collect();
        got_tokens.sort();
        raw_tokens.retain(|(_, t)| *t > 0);
        assert_eq!(got_tokens, raw_tokens, "{range}: tokens by {by}");
        assert!(served.series.len() <= 6);
        let charted: i64 = served.series.iter().flat_map(|s| &s.requests).sum();
        assert_eq!(
            charted,
            raw.iter().map(|r| r.1).sum::<i64>(),
            "the chart holds every request"
        );
    }
    let q = resolve(&filters(&[("range", "7d")]), now).unwrap();
    assert!(matches!(
        analytics::cached::<argus_types::UsageBreakdown>(&s, ws, &q, &"color".to_owned()).await,
        Err(argus_domain::Error::InvalidInput { .. })
    ));

    // The dropdowns offer what the workspace sent: each dimension's values in the rollups.
    let options = analytics::filter_options(&s, ws).await.unwrap();
    for (column, offered) in [
        ("department", &options.departments),
        ("environment", &options.environments),
        ("version", &options.versions),
        ("agent", &options.agents),
        ("model", &options.models),
    ] {
        let raw: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT {column} FROM rollup_daily WHERE workspace_id = $1 \
             AND {column} <> '' ORDER BY 1"
        ))
        .bind(ws)
        .fetch_all(&owner)
        .await
        .unwrap();
        assert_eq!(offered, &raw, "{column}");
    }
    assert_eq!(options.departments.len(), 5);
    assert!(options.environments.contains(&"production".to_owned()));
    assert!(options.models.contains(&"gpt-4o".to_owned()));
}

#[test]
fn a_window_s_whole_days_are_inside_it() {
    let now = "2026-11-25T10:17:00Z".parse().unwrap();
    let at = |s: &str| s.parse::<chrono::DateTime<Utc>>().unwrap();
    let days = |range: &str| {
        resolve(&filters(&[("range", range)]), now)
            .unwrap()
            .window_whole_days()
    };
    // 7 d: 11-18 11:00 to 11-25 11:00, the six days from 11-19 whole.
    assert_eq!(
        days("7d"),
        (at("2026-11-19T00:00:00Z"), at("2026-11-25T00:00:00Z"))
    );
    // 24 h holds no whole day; daily windows need none: empty, at the window's end.
    assert_eq!(
        days("24h"),
        (at("2026-11-25T11:00:00Z"), at("2026-11-25T11:00:00Z"))
    );
    let d30 = days("30d");
    assert_eq!(d30.0, d30.1);
}

#[test]
fn windows_are_whole_buckets_with_at_most_150_points() {
    let now = "2026-11-25T10:17:00Z".parse().unwrap();
    let cases = [
        (
            "1h",
            "2026-11-25T09:00:00Z",
            "2026-11-25T11:00:00Z",
            3600,
            2,
        ),
        (
            "24h",
            "2026-11-24T11:00:00Z",
            "2026-11-25T11:00:00Z",
            3600,
            24,
        ),
        (
            "7d",
            "2026-11-18T11:00:00Z",
            "2026-11-25T11:00:00Z",
            7200,
            84,
        ),
        (
            "30d",
            "2026-10-27T00:00:00Z",
            "2026-11-26T00:00:00Z",
            86400,
            30,
        ),
        (
            "90d",
            "2026-08-28T00:00:00Z",
            "2026-11-26T00:00:00Z",
            86400,
            90,
        ),
    ];
    for (range, from, to, step, points) in cases {
        let q = resolve(&filters(&[("range", range)]), now).unwrap();
        assert_eq!(
            q.from,
            from.parse::<chrono::DateTime<Utc>>().unwrap(),
            "{range}"
        );
        assert_eq!(
            q.to,
            to.parse::<chrono::DateTime<Utc>>().unwrap(),
            "{range}"
        );
        assert_eq!(
            (q.step.num_seconds(), q.points()),
            (step, points),
            "{range}"
        );
        assert_eq!(q.previous_from, q.from - (q.to - q.from));
    }
    // A custom range is widened to whole hours; 60 days read the daily rollup.
    let q = resolve(
        &filters(&[
            ("from", "2026-11-01T10:30:00Z"),
            ("to", "2026-11-02T10:30:00Z"),
        ]),
        now,
    )
    .unwrap();
    assert_eq!(
        (q.from.to_rfc3339(), q.to.to_rfc3339()),
        (
            "2026-11-01T10:00:00+00:00".to_owned(),
            "2026-11-02T11:00:00+00:00".to_owned()
        )
    );
    assert!(!q.daily);
    let q = resolve(
        &filters(&[("from", "2026-09-01"), ("to", "2026-10-31")]),
        now,
    )
    .unwrap();
    assert!(q.daily && q.points() <= 150);
}

#[test]
fn bad_values_are_errors_for_the_api_and_notices_for_pages() {
    let now = Utc::now();
    for (pairs, field) in [
        (vec![("range", "2w")], "range"),
        (vec![("from", "yesterday")], "from"),
        (vec![("from", "2026-11-02"), ("to", "2026-11-01")], "to"),
        (vec![("from", "2020-01-01"), ("to", "2026-01-01")], "from"),
        (vec![("dept", "a\u{7}b")], "dept"),
    ] {
        match resolve(&filters(&pairs), now) {
            Err(argus_domain::Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{pairs:?}: {other:?}"),
        }
        let (window, notices) = resolve_lenient(&filters(&pairs), now);
        assert_eq!(notices.len(), 1, "{pairs:?}");
        assert!(notices[0].contains(field), "{notices:?}");
        assert_eq!(window.label, "Last 24 hours");
    }
    // A custom range that is bad only against the clock: an error, or the preset.
    let future = filters(&[("from", "2999-01-01")]);
    assert!(resolve(&future, now).is_err());
    assert_eq!(resolve_lenient(&future, now).1.len(), 1);
    // Good values pass through untouched.
    let good = filters(&[("range", "7d"), ("dept", "support")]);
    assert_eq!(
        resolve_lenient(&good, now),
        (resolve(&good, now).unwrap(), vec![])
    );
    assert_eq!(good.to_query(), "range=7d&dept=support");
}

/// `(key, count, cost)` from raw SQL, sorted.
async fn raw_groups(
    pool: &PgPool,
    ws: WorkspaceId,
    sql: &str,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
) -> Vec<(String, i64, f64)> {
    let mut tx = tenancy::begin(pool, ws).await.unwrap();
    let mut rows: Vec<(String, i64, f64)> = sqlx::query_as(sql)
        .bind(ws)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// Raw SQL for [`raw_groups`]: traces (roots) and span cost per `by`, under `only`.
fn traces_and_cost_sql(by: &str, only: &str) -> String {
    format!(
        "SELECT k, sum(n)::bigint, sum(c)::float8 FROM ( \
           SELECT {by} AS k, count(*) AS n, 0::numeric AS c FROM traces \
             WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
             AND root_span_id IS NOT NULL {only} GROUP BY 1 \
           UNION ALL SELECT {by}, 0, coalesce(sum(cost_usd), 0) FROM spans \
             WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 {only} \
             GROUP BY 1) g GROUP BY k"
    )
}

/// Raw SQL for [`raw_groups`]: each model's calls and cost, under `only`.
fn model_calls_and_cost_sql(only: &str) -> String {
    format!(
        "SELECT model, count(*), coalesce(sum(cost_usd), 0)::float8 FROM spans \
         WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
         AND model IS NOT NULL {only} GROUP BY 1"
    )
}

fn assert_cost_rows(served: &[argus_types::CostRow], raw: &[(String, i64, f64)], what: &str) {
    let mut got: Vec<&argus_types::CostRow> = served.iter().collect();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got.len(), raw.len(), "{what}: {got:?} vs {raw:?}");
    for (g, (key, n, cost)) in got.iter().zip(raw) {
        assert_eq!((&g.key, g.requests), (key, *n), "{what}");
        close(
            Some(g.cost_usd),
            Some(*cost),
            1e-9,
            &format!("{what} {key} cost"),
        );
        let per_1k = (*n > 0).then(|| cost * 1000.0 / *n as f64);
        close(
            g.per_1k_requests,
            per_1k,
            1e-9,
            &format!("{what} {key} per 1k"),
        );
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn cost_performance_and_activity_equal_raw_sql(owner: PgPool) {
    let s = services(&owner).await;
    let now = Utc::now();
    demo::load(
        &s,
        midnight(now) + Duration::days(1),
        2,
        20 << 20,
        |_, _| {},
    )
    .await
    .unwrap();
    let (_, ws) = demo::ensure_workspace(&s).await.unwrap();

    // Cost: by department, agent and model, with requests and cost per 1,000 requests.
    for case in [
        vec![("range", "7d")],
        vec![("range", "24h")],
        vec![("range", "24h"), ("dept", "support")],
        // Hourly windows under an environment filter: the agents' hours per environment.
        vec![("range", "7d"), ("env", "production")],
        vec![("range", "24h"), ("dept", "support"), ("env", "staging")],
        // Daily windows: the agents' days (with an environment: the detailed rollup).
        vec![("range", "30d")],
        vec![("range", "90d"), ("dept", "support")],
        vec![("range", "30d"), ("env", "production")],
    ] {
        let q = resolve(&filters(&case), now).unwrap();
        let report = <argus_types::CostReport as argus_domain::analytics::Report>::read(
            &s.pool,
            ws,
            &q,
            &(),
        )
        .await
        .unwrap();
        let only = only_dims(&q);
        let traces_and_cost = |by: &str| traces_and_cost_sql(by, &only);
        for (by, served) in [
            ("department", &report.by_department),
            ("agent", &report.by_agent),
        ] {
            let raw = raw_groups(&s.pool, ws, &traces_and_cost(by), q.from, q.to).await;
            assert_cost_rows(served, &raw, &format!("{case:?} by {by}"));
        }
        let raw = raw_groups(&s.pool, ws, &model_calls_and_cost_sql(&only), q.from, q.to).await;
        assert_cost_rows(&report.by_model, &raw, &format!("{case:?} by model"));
        let total: f64 = raw.iter().map(|r| r.2).sum();
        close(Some(report.total_usd), Some(total), 1e-9, "total cost");
        // The previous period (read on its own: the totals' daily rows when unfiltered).
        let previous = raw_groups(
            &s.pool,
            ws,
            &format!(
                "SELECT '', count(*), coalesce(sum(cost_usd), 0)::float8 FROM spans \
                 WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 {only}"
            ),
            q.previous_from,
            q.from,
        )
        .await;
        close(
            Some(report.previous_usd),
            Some(previous[0].2),
            1e-9,
            &format!("{case:?} previous period's cost"),
        );
        let charted: f64 = report.series.iter().flat_map(|s| &s.values).sum();
        close(
            Some(charted),
            Some(total),
            1e-9,
            "the chart holds every dollar",
        );
        assert!(report.series.len() <= 6);
        assert_eq!(report.steps.len(), q.points());
        // Each department's cost per chart step (read from the agents' hours, or days on
        // daily windows) equals the raw spans grouped by step.
        let mut tx = tenancy::begin(&s.pool, ws).await.unwrap();
        let per_step: Vec<(String, i32, f64)> = sqlx::query_as(&format!(
            "SELECT department, floor(extract(epoch FROM start_time - $2) / $4)::int, \
               coalesce(sum(cost_usd), 0)::float8 FROM spans \
             WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 {only} \
             GROUP BY 1, 2"
        ))
        .bind(ws)
        .bind(q.from)
        .bind(q.to)
        .bind(q.step.num_seconds() as f64)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        for series in report.series.iter().filter(|s| s.key != "other") {
            for (i, value) in series.values.iter().enumerate() {
                let raw = per_step
                    .iter()
                    .filter(|(d, step, _)| *d == series.key && *step == i as i32)
                    .map(|r| r.2)
                    .sum::<f64>();
                assert!(
                    (value - raw).abs() <= 1e-9 * raw.abs().max(1.0),
                    "{case:?}: {} at step {i}: {value} against {raw}",
                    series.key
                );
            }
        }
    }

    // Month to date and the projection, per department, from raw spans.
    let q = resolve(&filters(&[("range", "24h")]), now).unwrap();
    let report =
        <argus_types::CostReport as argus_domain::analytics::Report>::read(&s.pool, ws, &q, &())
            .await
            .unwrap();
    let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let month_start = today.with_day(1).unwrap();
    let raw_mtd = raw_groups(
        &s.pool,
        ws,
        "SELECT department, count(*), sum(cost_usd)::float8 FROM spans \
         WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 GROUP BY 1",
        month_start,
        today + Duration::days(1),
    )
    .await;
    let raw_trailing = raw_groups(
        &s.pool,
        ws,
        "SELECT department, count(*), sum(cost_usd)::float8 FROM spans \
         WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 GROUP BY 1",
        today - Duration::days(7),
        today,
    )
    .await;
    assert!(!report.projections.is_empty());
    assert!(report.projection_method.contains("last 7 complete days"));
    let month_end = (month_start + Duration::days(32)).with_day(1).unwrap();
    let days_left = (month_end - report.generated_at).num_seconds() as f64 / 86_400.0;
    for p in &report.projections {
        let mtd = raw_mtd
            .iter()
            .find(|r| r.0 == p.department)
            .map_or(0.0, |r| r.2);
        let trailing = raw_trailing
            .iter()
            .find(|r| r.0 == p.department)
            .map_or(0.0, |r| r.2);
        close(Some(p.month_to_date_usd), Some(mtd), 1e-9, "month to date");
        close(
            Some(p.daily_rate_usd),
            Some(trailing / 7.0),
            1e-9,
            "daily rate",
        );
        close(
            Some(p.projected_usd),
            Some(mtd + trailing / 7.0 * days_left),
            1e-6,
            "projection",
        );
    }

    // Performance: quantiles over the window and per step, error rates, slowest models, and
    // a distribution holding every request.
    let q = resolve(&filters(&[("range", "7d")]), now).unwrap();
    let perf =
        <argus_types::Performance as argus_domain::analytics::Report>::read(&s.pool, ws, &q, &())
            .await
            .unwrap();
    let mut tx = tenancy::begin(&s.pool, ws).await.unwrap();
    let (n, errors, p50, p95, p99): (i64, i64, f64, f64, f64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE error_count > 0), \
           (percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_us) / 1000.0)::float8, \
           (percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_us) / 1000.0)::float8, \
           (percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_us) / 1000.0)::float8 \
         FROM traces WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
           AND root_span_id IS NOT NULL",
    )
    .bind(ws)
    .bind(q.from)
    .bind(q.to)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let per_step: Vec<(chrono::DateTime<Utc>, i64, i64, f64)> = sqlx::query_as(
        "SELECT $2 + floor(extract(epoch FROM start_time - $2) / 7200) * interval '2 hours', \
           count(*), count(*) FILTER (WHERE error_count > 0), \
           (percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_us) / 1000.0)::float8 \
         FROM traces WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
           AND root_span_id IS NOT NULL GROUP BY 1",
    )
    .bind(ws)
    .bind(q.from)
    .bind(q.to)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let models: Vec<(String, i64, f64)> = sqlx::query_as(
        "SELECT model, count(*), \
           (percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_us) / 1000.0)::float8 \
         FROM spans WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
           AND model IS NOT NULL GROUP BY 1",
    )
    .bind(ws)
    .bind(q.from)
    .bind(q.to)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(n > 0);
    assert_eq!((perf.overall.requests, perf.overall.errors), (n, errors));
    let bound = 2.0 * RELATIVE_ERROR;
    close(perf.overall.p50_ms, Some(p50), bound, "p50");
    close(perf.overall.p95_ms, Some(p95), bound, "p95");
    close(perf.overall.p99_ms, Some(p99), bound, "p99");
    assert_eq!(perf.points.len(), 84);
    for (t, n, errors, p95) in per_step {
        let point = perf
            .points
            .iter()
            .find(|p| p.t == t)
            .expect("a point per step");
        assert_eq!((point.requests, point.errors), (n, errors), "{t}");
        close(point.p95_ms, Some(p95), bound, &format!("p95 at {t}"));
    }
    assert_eq!(perf.slowest_models.len(), models.len().min(10));
    for m in &perf.slowest_models {
        let (_, calls, p95) = models.iter().find(|r| r.0 == m.key).unwrap();
        assert_eq!(m.requests, *calls, "{}", m.key);
        close(m.p95_ms, Some(*p95), bound, &format!("{} p95", m.key));
    }
    // Under a model filter the requests are that model's calls, from its rows' span histograms.
    let (model, calls, p95) = models.first().expect("a model").clone();
    let q_model = resolve(&filters(&[("range", "7d"), ("model", &model)]), now).unwrap();
    let by_model = <argus_types::Performance as argus_domain::analytics::Report>::read(
        &s.pool,
        ws,
        &q_model,
        &(),
    )
    .await
    .unwrap();
    assert_eq!(by_model.overall.requests, calls, "{model} calls");
    close(
        by_model.overall.p95_ms,
        Some(p95),
        bound,
        &format!("{model} calls p95"),
    );
    let charted: i64 = by_model.points.iter().map(|p| p.requests).sum();
    assert_eq!(charted, calls, "{model} calls in the chart");
    // 24 hours under a model filter: no whole day to read apart, so one read answers the
    // lists and the chart.
    let q_day = resolve(&filters(&[("range", "24h"), ("model", &model)]), now).unwrap();
    let day = <argus_types::Performance as argus_domain::analytics::Report>::read(
        &s.pool,
        ws,
        &q_day,
        &(),
    )
    .await
    .unwrap();
    let mut tx = tenancy::begin(&s.pool, ws).await.unwrap();
    let day_calls: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM spans WHERE workspace_id = $1 AND model = $2 \
           AND start_time >= $3 AND start_time < $4",
    )
    .bind(ws)
    .bind(&model)
    .bind(q_day.from)
    .bind(q_day.to)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(day_calls > 0);
    assert_eq!(day.overall.requests, day_calls, "{model} calls in 24 h");
    let charted: i64 = day.points.iter().map(|p| p.requests).sum();
    assert_eq!(charted, day_calls, "{model} calls in the 24-hour chart");
    let listed: i64 = day.slowest_agents.iter().map(|a| a.requests).sum();
    assert!(listed <= day_calls && !day.slowest_agents.is_empty());
    let slowest: Vec<f64> = perf
        .slowest_agents
        .iter()
        .map(|a| a.p95_ms.unwrap())
        .collect();
    assert!(slowest.windows(2).all(|w| w[0] >= w[1]), "slowest first");
    let binned: i64 = perf.distribution.iter().map(|b| b.count).sum();
    assert_eq!(binned, n, "the distribution holds every request");

    // Activity: every agent and model is new in the demo's first hours, at its first hour.
    let activity =
        <argus_types::Activity as argus_domain::analytics::Report>::read(&s.pool, ws, &q, &())
            .await
            .unwrap();
    let mut tx = tenancy::begin(&s.pool, ws).await.unwrap();
    let mut first: Vec<(String, chrono::DateTime<Utc>)> = sqlx::query_as(
        "SELECT agent, date_trunc('hour', min(start_time)) FROM spans \
         WHERE workspace_id = $1 GROUP BY 1",
    )
    .bind(ws)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let models: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT model) FROM spans WHERE workspace_id = $1 AND model IS NOT NULL",
    )
    .bind(ws)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut new_agents: Vec<(String, chrono::DateTime<Utc>)> = activity
        .events
        .iter()
        .filter(|e| e.kind == "new_agent")
        .map(|e| (e.agent.clone(), e.at))
        .collect();
    new_agents.sort();
    first.sort();
    assert_eq!(new_agents, first);
    let new_models = activity
        .events
        .iter()
        .filter(|e| e.kind == "new_model")
        .count();
    assert_eq!(new_models as i64, models);
    assert!(
        activity.events.windows(2).all(|w| w[0].at >= w[1].at),
        "newest first"
    );
    // A later window sees nothing new.
    let later = resolve(&filters(&[("range", "1h")]), now + Duration::days(3)).unwrap();
    let quiet =
        <argus_types::Activity as argus_domain::analytics::Report>::read(&s.pool, ws, &later, &())
            .await
            .unwrap();
    assert!(quiet.events.iter().all(|e| !e.kind.starts_with("new_")));
    // Another workspace sees none of it.
    let (_, other) = common::sign_up(&s, "eve@example.com", "Eve").await;
    let theirs =
        <argus_types::Activity as argus_domain::analytics::Report>::read(&s.pool, other, &q, &())
            .await
            .unwrap();
    assert!(theirs.events.is_empty());
    let theirs =
        <argus_types::CostReport as argus_domain::analytics::Report>::read(&s.pool, other, &q, &())
            .await
            .unwrap();
    assert!(theirs.by_agent.is_empty() && theirs.projections.is_empty());
}

/// The score histogram's layout is written twice — in SQL, where the rollups fill it, and in
/// Rust, where it is read: both put every value in the same bin.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn score_histogram_bins_are_the_same_in_sql_and_rust(owner: PgPool) {
    use argus_domain::evals::histogram::{add, bin, edges, BINS};
    let mut values: Vec<f64> = vec![-3.0, -1e-12, 0.0, 1e-12, 1.0, 10.0, 100.0, 1000.0, 1e12];
    for i in 0..BINS {
        let (lo, hi) = edges(i);
        values.extend(lo.into_iter().chain(hi));
    }
    values.extend((0..=2_000).map(|i| i as f64 * 0.005));
    values.extend((0..=1_100).map(|i| i as f64 * 0.937));
    let sql: Vec<i32> = sqlx::query_scalar(
        "SELECT argus_score_bin(v) FROM unnest($1::float8[]) WITH ORDINALITY AS u(v, i) ORDER BY i",
    )
    .bind(&values)
    .fetch_all(&owner)
    .await
    .unwrap();
    for (v, b) in values.iter().zip(&sql) {
        assert_eq!(bin(*v), *b as usize, "{v}");
    }
    // A histogram in SQL counts what the bins count (from its first non-empty bin: the array's
    // lower bound); adding and taking away are inverse.
    let (first, hist): (i32, Vec<i64>) = sqlx::query_as(
        "SELECT array_lower(h, 1), h[array_lower(h, 1):] FROM argus_score_hist($1::float8[]) h",
    )
    .bind(&values)
    .fetch_one(&owner)
    .await
    .unwrap();
    let mut counts = [0i64; BINS];
    for v in &values {
        counts[bin(*v)] += 1;
    }
    let mut merged = [0i64; BINS];
    add(&mut merged, first, &hist);
    assert_eq!(merged, counts);
    let inverse: bool = sqlx::query_scalar(
        "SELECT argus_hist_add(argus_hist_add(h, h, 1), h, -1) = h \
         FROM argus_score_hist($1::float8[]) h",
    )
    .bind(&values)
    .fetch_one(&owner)
    .await
    .unwrap();
    assert!(inverse);
    let trimmed: (i32, i32) = sqlx::query_as(
        "SELECT array_lower(h, 1), array_upper(h, 1) FROM argus_score_hist(ARRAY[0.5, 0.75]) h",
    )
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(trimmed, (bin(0.5) as i32, bin(0.75) as i32));
    let none: bool = sqlx::query_scalar("SELECT argus_score_hist(ARRAY[NULL]::float8[]) IS NULL")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert!(none);
}

/// The activity stream's spikes are the same whether read from the agents' hours (no
/// version or model filter on an hourly window), from their hours per environment (an
/// environment filter) or from the detailed rollup (a version filter): an error spike and a
/// cost spike at the hour they happened.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn spikes_are_the_same_from_the_agents_hours_and_the_detailed_rollup(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Ann").await;
    let now = Utc::now();
    let hour = |back: i64| {
        use chrono::DurationRound;
        now.duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(back)
    };
    // Ten quiet hours of "bot" (2 % errors, $1 an hour), then a bad one four hours ago; the
    // quiet agent "calm" beside it in another department.
    // (hour, department, agent, traces, errors, cost)
    type Hour<'a> = (chrono::DateTime<Utc>, &'a str, &'a str, i64, i64, f64);
    let mut rows: Vec<Hour> = (5..15)
        .map(|back| (hour(back), "ops", "bot", 100, 2, 1.0))
        .collect();
    rows.push((hour(4), "ops", "bot", 50, 20, 5.0));
    rows.extend((3..15).map(|back| (hour(back), "sales", "calm", 100, 1, 0.5)));
    for (bucket, dept, agent, traces, errors, cost) in &rows {
        sqlx::query(
            "INSERT INTO rollup_hourly (workspace_id, bucket, department, agent, environment, \
               version, model, traces, trace_errors, spans, cost_usd) \
             VALUES ($1, $2, $3, $4, 'prod', 'v1', '', $5, $6, $5, $7)",
        )
        .bind(ws)
        .bind(bucket)
        .bind(dept)
        .bind(agent)
        .bind(traces)
        .bind(errors)
        .bind(cost)
        .execute(&owner)
        .await
        .unwrap();
    }
    argus_domain::ingest::rollup::rebuild_all_totals(&owner)
        .await
        .unwrap();
    let spikes = |pairs: &[(&str, &str)]| {
        let q = resolve(&filters(pairs), now).unwrap();
        let s = &s;
        async move {
            let activity = <argus_types::Activity as argus_domain::analytics::Report>::read(
                &s.pool,
                ws,
                &q,
                &(),
            )
            .await
            .unwrap();
            activity
                .events
                .into_iter()
                .filter(|e| e.kind.ends_with("_spike"))
                .map(|e| (e.kind, e.agent, e.at, e.message))
                .collect::<Vec<_>>()
        }
    };
    let from_hours = spikes(&[("range", "24h")]).await;
    let kinds: Vec<(&str, &str, chrono::DateTime<Utc>)> = from_hours
        .iter()
        .map(|(k, a, at, _)| (k.as_str(), a.as_str(), *at))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("cost_spike", "bot", hour(4)),
            ("error_spike", "bot", hour(4))
        ]
    );
    assert_eq!(
        spikes(&[("range", "24h"), ("env", "prod")]).await,
        from_hours
    );
    assert_eq!(
        spikes(&[("range", "24h"), ("dept", "ops")]).await,
        from_hours
    );
    assert_eq!(
        spikes(&[("range", "24h"), ("dept", "ops"), ("env", "prod")]).await,
        from_hours
    );
    assert_eq!(
        spikes(&[("range", "24h"), ("env", "prod"), ("version", "v1")]).await,
        from_hours
    );
    assert!(spikes(&[("range", "24h"), ("env", "dev")]).await.is_empty());
    assert!(spikes(&[("range", "24h"), ("dept", "sales")])
        .await
        .is_empty());
}

/// Performance and cost on daily windows read whole weeks from the weekly agent rollup and the
/// edge days from the daily one (migration 0039): over nine days of demo traffic (a week row
/// and edge days in every 30-day window, whatever the weekday) the requests, errors,
/// quantiles, slowest agents and models, and the cost by agent and model equal raw SQL,
/// filtered or not.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn performance_and_cost_over_whole_weeks_equal_raw_sql(owner: PgPool) {
    let s = services(&owner).await;
    let now = Utc::now();
    demo::load(
        &s,
        midnight(now) + Duration::days(1),
        9,
        20 << 20,
        |_, _| {},
    )
    .await
    .unwrap();
    let (_, ws) = demo::ensure_workspace(&s).await.unwrap();
    common::assert_totals_match_rollups(&s.pool, ws).await;
    let perf = |pairs: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let q = resolve(&filters(&pairs), now).unwrap();
            let p = <argus_types::Performance as argus_domain::analytics::Report>::read(
                &s.pool,
                ws,
                &q,
                &(),
            )
            .await
            .unwrap();
            (q, p)
        }
    };
    let mut tx = tenancy::begin(&s.pool, ws).await.unwrap();
    let (model, agent): (String, String) = sqlx::query_as(
        "SELECT (SELECT model FROM spans WHERE workspace_id = $1 AND model IS NOT NULL \
                   GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1), \
                (SELECT agent FROM traces WHERE workspace_id = $1 GROUP BY 1 \
                   ORDER BY count(*) DESC, 1 LIMIT 1)",
    )
    .bind(ws)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let bound = 2.0 * RELATIVE_ERROR;
    for case in [
        vec![("range", "30d".to_owned())],
        vec![("range", "90d".into())],
        vec![("range", "30d".into()), ("dept", "support".into())],
        vec![("range", "30d".into()), ("agent", agent.clone())],
        vec![("range", "90d".into()), ("model", model.clone())],
    ] {
        let what = format!("{case:?}");
        let (q, p) = perf(case).await;
        assert!(
            q.window_whole_weeks().0 < q.window_whole_weeks().1,
            "{what}"
        );
        let mut only = only_dims(&q);
        if let Some(agent) = &q.dims.agent {
            only += &format!(" AND agent = '{agent}'");
        }
        // Requests are traces, or the model's calls under a model filter.
        let (table, latency, errors) = match &q.dims.model {
            Some(m) => {
                only += &format!(" AND model = '{m}'");
                ("spans", "duration_us", "status = 'error'")
            }
            None => ("traces", "latency_us", "error_count > 0"),
        };
        let roots = if table == "traces" {
            "AND root_span_id IS NOT NULL"
        } else {
            ""
        };
        let mut tx = tenancy::begin(&s.pool, ws).await.unwrap();
        let by_agent: Vec<(String, i64, i64, f64)> = sqlx::query_as(&format!(
            "SELECT agent, count(*), count(*) FILTER (WHERE {errors}), \
               (percentile_disc(0.95) WITHIN GROUP (ORDER BY {latency}) / 1000.0)::float8 \
             FROM {table} WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
               {roots} {only} GROUP BY 1"
        ))
        .bind(ws)
        .bind(q.from)
        .bind(q.to)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        let (n, p50): (i64, Option<f64>) = sqlx::query_as(&format!(
            "SELECT count(*), \
               (percentile_disc(0.5) WITHIN GROUP (ORDER BY {latency}) / 1000.0)::float8 \
             FROM {table} WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
               {roots} {only}"
        ))
        .bind(ws)
        .bind(q.from)
        .bind(q.to)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let model_calls: Vec<(String, i64, f64)> = sqlx::query_as(&format!(
            "SELECT model, count(*), \
               (percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_us) / 1000.0)::float8 \
             FROM spans WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
               AND model IS NOT NULL {only} GROUP BY 1"
        ))
        .bind(ws)
        .bind(q.from)
        .bind(q.to)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert!(n > 0, "{what}");
        assert_eq!(p.overall.requests, n, "{what} requests");
        close(p.overall.p50_ms, p50, bound, &format!("{what} p50"));
        let charted: i64 = p.points.iter().map(|x| x.requests).sum();
        assert_eq!(charted, n, "{what}: the chart holds every request");
        assert_eq!(p.slowest_agents.len(), by_agent.len().min(10), "{what}");
        for a in &p.slowest_agents {
            let (_, requests, errors, p95) = by_agent.iter().find(|r| r.0 == a.key).unwrap();
            assert_eq!(
                (a.requests, a.errors),
                (*requests, *errors),
                "{what} {}",
                a.key
            );
            close(
                a.p95_ms,
                Some(*p95),
                bound,
                &format!("{what} {} p95", a.key),
            );
        }
        assert_eq!(p.slowest_models.len(), model_calls.len().min(10), "{what}");
        for m in &p.slowest_models {
            let (_, calls, p95) = model_calls.iter().find(|r| r.0 == m.key).unwrap();
            assert_eq!(m.requests, *calls, "{what} {}", m.key);
            close(
                m.p95_ms,
                Some(*p95),
                bound,
                &format!("{what} {} p95", m.key),
            );
        }
        // Cost by agent and by model, summed from the same weeks and days.
        if q.dims.model.is_some() {
            continue;
        }
        let cost = <argus_types::CostReport as argus_domain::analytics::Report>::read(
            &s.pool,
            ws,
            &q,
            &(),
        )
        .await
        .unwrap();
        let by_agent = raw_groups(
            &s.pool,
            ws,
            &traces_and_cost_sql("agent", &only),
            q.from,
            q.to,
        )
        .await;
        assert_cost_rows(&cost.by_agent, &by_agent, &format!("{what} cost by agent"));
        let by_model =
            raw_groups(&s.pool, ws, &model_calls_and_cost_sql(&only), q.from, q.to).await;
        assert_cost_rows(&cost.by_model, &by_model, &format!("{what} cost by model"));
    }
}
