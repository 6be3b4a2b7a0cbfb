//! The trace explorer against the real database: keyset pages (walked while traces arrive),
//! every filter and sort against the fixture's own definition, search through its index,
//! tamper-checked cursors, a trace's spans, sessions and the agents registry.

mod common;

use std::collections::{BTreeSet, HashMap};

use argus_domain::access::{self, Access};
use argus_domain::apikeys::{self, Scope};
use argus_domain::explorer::{self, agents, cursor::Sort, sessions, TraceQuery};
use argus_domain::tenancy::WorkspaceId;
use argus_domain::{Error, Services};
use argus_types::{Dimension, ErrorCode, Filters, TraceFilters};
use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret;
use sqlx::PgPool;

/// One generated trace, as sent.
#[derive(Clone, Debug)]
struct Sent {
    id: String,
    agent: &'static str,
    dept: &'static str,
    env: &'static str,
    model: &'static str,
    error: bool,
    latency_ms: f64,
    cost: f64,
    vip: bool,
    customer: String,
    session: String,
    user: String,
    banana: bool,
}

fn fixture(i: usize, at: DateTime<Utc>) -> (Sent, serde_json::Value) {
    let (agent, dept) = [
        ("support-bot", "support"),
        ("sales-writer", "sales"),
        ("coder", "engineering"),
    ][i % 3];
    let s = Sent {
        id: format!("{:032x}", 0xabc0_0000_u64 + i as u64),
        agent,
        dept,
        env: if i.is_multiple_of(2) {
            "production"
        } else {
            "staging"
        },
        model: ["gpt-4o", "claude-sonnet", "gpt-4o-mini"][i % 3 % 2 + (i % 5 == 4) as usize],
        error: i.is_multiple_of(7),
        latency_ms: 100.0 + (i * 37 % 1000) as f64,
        // Ties on purpose: the trace id breaks them.
        cost: (i % 13) as f64 * 0.001,
        vip: i.is_multiple_of(5),
        customer: format!("c{}", i % 4),
        session: format!("s{:03}", i / 10),
        user: format!("u{}", i % 6),
        banana: i.is_multiple_of(11),
    };
    let body = serde_json::json!({
        "trace_id": s.id, "agent_id": s.agent, "department": s.dept, "environment": s.env,
        "model": s.model, "start_time": at, "latency_ms": s.latency_ms, "cost": s.cost,
        "input_tokens": 100 + i, "output_tokens": 10,
        "status": if s.error { "error" } else { "ok" },
        "tags": if s.vip { vec!["vip", "beta"] } else { vec!["beta"] },
        "metadata": {"customer": s.customer},
        "session_id": s.session, "user_id": s.user,
        "name": format!("turn {i}"),
        "input": [{"role": "user", "parts": [{"type": "text", "content": format!("question {i} about invoices")}]}],
        "output": if s.banana { "the answer is banana bread" } else { "done" },
    });
    (s, body)
}

async fn ingester(s: &Services, ws: WorkspaceId) -> Access {
    let key = apikeys::create(&s.pool, ws, None, "ingest", &[Scope::Ingest], None)
        .await
        .unwrap();
    access::from_api_key(s, key.key.expose_secret())
        .await
        .unwrap()
}

async fn send(s: &Services, a: &Access, traces: Vec<serde_json::Value>) {
    for chunk in traces.chunks(200) {
        let body = serde_json::json!({ "traces": chunk }).to_string();
        let out = argus_domain::ingest::export_native(
            s,
            a,
            &mut s.ingest_gate.admit(a.workspace),
            body.as_bytes(),
        )
        .await
        .unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    }
}

/// `n` traces, one a minute back from now (the newest first).
async fn load(s: &Services, a: &Access, n: usize) -> Vec<Sent> {
    let now = Utc::now() - Duration::seconds(30);
    let (sent, bodies): (Vec<_>, Vec<_>) = (0..n)
        .map(|i| fixture(i, now - Duration::minutes(i as i64)))
        .unzip();
    send(s, a, bodies).await;
    sent
}

fn query(s: &Services, filters: Filters, extra: TraceFilters) -> TraceQuery {
    explorer::parse(&filters, &extra, &s.cursors, Utc::now()).unwrap()
}

/// Every page from the first, following `next_cursor`; `between` runs before each next page.
async fn walk(
    s: &Services,
    ws: WorkspaceId,
    filters: &Filters,
    extra: &TraceFilters,
    mut between: impl AsyncFnMut(usize),
) -> (Vec<argus_types::TraceRow>, Vec<Option<String>>) {
    let mut extra = extra.clone();
    let mut rows = Vec::new();
    let mut cursors = vec![None];
    for page in 0.. {
        let q = query(s, filters.clone(), extra.clone());
        let got = explorer::list(s, ws, &q).await.unwrap();
        assert!(got.data.len() <= q.limit as usize);
        assert_eq!(got.meta.prev_cursor.is_some(), page > 0, "page {page}");
        rows.extend(got.data);
        match got.meta.next_cursor {
            None => break,
            Some(c) => {
                between(page).await;
                cursors.push(Some(c.clone()));
                extra.cursor = Some(c);
            }
        }
    }
    (rows, cursors)
}

fn ids(rows: &[argus_types::TraceRow]) -> Vec<String> {
    rows.iter().map(|r| r.trace_id.clone()).collect()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn walking_every_page_while_traces_arrive_yields_each_once(owner: PgPool) {
    let s = common::services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Acme").await;
    let a = ingester(&s, ws).await;
    load(&s, &a, 230).await;

    for (filters, extra) in [
        (Filters::default(), TraceFilters::default()),
        (
            Filters::default().with_dim(Dimension::Department, "support"),
            TraceFilters::default(),
        ),
    ] {
        // What matches before the walk starts (independent SQL; includes the traces that
        // arrived during the previous walk).
        let expected: BTreeSet<String> = sqlx::query_scalar(
            "SELECT trace_id FROM traces WHERE workspace_id = $1 \
               AND ($2::text IS NULL OR department = $2)",
        )
        .bind(ws)
        .bind(filters.dept.as_ref().map(|d| d.as_str()))
        .fetch_all(&owner)
        .await
        .unwrap()
        .into_iter()
        .collect();
        assert!(expected.len() > 60, "several pages");
        let mut arrivals = 0;
        let (rows, cursors) = walk(&s, ws, &filters, &extra, async |page| {
            // New traces (newer than any listed) and a late one in the middle of the list.
            let now = Utc::now();
            let fresh: Vec<_> = (0..5)
                .map(|j| fixture(10_000 + arrivals * 10 + j, now).1)
                .collect();
            arrivals += 1;
            send(&s, &a, fresh).await;
            let _ = page;
        })
        .await;
        let listed = ids(&rows);
        let unique: BTreeSet<String> = listed.iter().cloned().collect();
        assert_eq!(unique.len(), listed.len(), "a trace shown twice");
        assert_eq!(unique, expected, "every matching trace, once");
        // Newest first, ties broken by id.
        assert!(rows
            .windows(2)
            .all(|w| (w[0].start_time, &w[0].trace_id) > (w[1].start_time, &w[1].trace_id)));

        // Back from the last page with prev_cursor: the same pages, in reverse.
        let q = query(
            &s,
            filters.clone(),
            TraceFilters {
                cursor: cursors.last().unwrap().clone(),
                ..extra.clone()
            },
        );
        let mut page = explorer::list(&s, ws, &q).await.unwrap();
        let mut back = ids(&page.data);
        while let Some(prev) = page.meta.prev_cursor.clone() {
            let q = query(
                &s,
                filters.clone(),
                TraceFilters {
                    cursor: Some(prev),
                    ..extra.clone()
                },
            );
            page = explorer::list(&s, ws, &q).await.unwrap();
            back.splice(0..0, ids(&page.data));
        }
        // The first page now holds the traces that arrived meanwhile.
        let arrived: BTreeSet<String> = back
            .iter()
            .filter(|id| !expected.contains(*id))
            .cloned()
            .collect();
        let unique_back: BTreeSet<&String> = back.iter().collect();
        assert_eq!(
            unique_back.len(),
            back.len(),
            "walking back shows no row twice"
        );
        let back_known: Vec<String> = back
            .iter()
            .filter(|id| expected.contains(*id))
            .cloned()
            .collect();
        assert_eq!(back_known, listed, "walking back shows the same rows");
        assert!(arrived.len() <= 5 * arrivals);
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn every_filter_and_sort_matches_the_fixture(owner: PgPool) {
    let s = common::services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Acme").await;
    let a = ingester(&s, ws).await;
    let sent = load(&s, &a, 120).await;

    let f = |k: &str, v: &str| {
        let d = Dimension::from_key(k).expect("a dimension");
        Filters::default().with_dim(d, v)
    };
    let x = |k: &str, v: &str| {
        let mut x = TraceFilters::default();
        let v = Some(v.to_owned());
        match k {
            "status" => x.status = v,
            "session" => x.session = v,
            "user" => x.user = v,
            "min_latency" => x.min_latency = v,
            "min_cost" => x.min_cost = v,
            "tags" => x.tags = v,
            "meta" => x.meta = v,
            _ => x.q = v,
        }
        x
    };
    type Pred = Box<dyn Fn(&Sent) -> bool>;
    let cases: Vec<(&str, Filters, TraceFilters, Pred)> = vec![
        (
            "dept",
            f("dept", "sales"),
            x("", ""),
            Box::new(|t| t.dept == "sales"),
        ),
        (
            "env",
            f("env", "staging"),
            x("", ""),
            Box::new(|t| t.env == "staging"),
        ),
        (
            "agent",
            f("agent", "coder"),
            x("", ""),
            Box::new(|t| t.agent == "coder"),
        ),
        (
            "model",
            f("model", "gpt-4o-mini"),
            x("", ""),
            Box::new(|t| t.model == "gpt-4o-mini"),
        ),
        (
            "errors",
            Filters::default(),
            x("status", "error"),
            Box::new(|t| t.error),
        ),
        (
            "ok",
            Filters::default(),
            x("status", "ok"),
            Box::new(|t| !t.error),
        ),
        (
            "session",
            Filters::default(),
            x("session", "s004"),
            Box::new(|t| t.session == "s004"),
        ),
        (
            "user",
            Filters::default(),
            x("user", "u3"),
            Box::new(|t| t.user == "u3"),
        ),
        (
            "min latency",
            Filters::default(),
            x("min_latency", "800"),
            Box::new(|t| t.latency_ms >= 800.0),
        ),
        (
            "min cost",
            Filters::default(),
            x("min_cost", "0.01"),
            Box::new(|t| t.cost >= 0.01 - 1e-12),
        ),
        (
            "tags",
            Filters::default(),
            x("tags", "vip, beta"),
            Box::new(|t| t.vip),
        ),
        (
            "meta",
            Filters::default(),
            x("meta", "customer=c2"),
            Box::new(|t| t.customer == "c2"),
        ),
        (
            "search output",
            Filters::default(),
            x("q", "banana"),
            Box::new(|t| t.banana),
        ),
        (
            "search phrase",
            Filters::default(),
            x("q", "\"banana bread\" -nothing"),
            Box::new(|t| t.banana),
        ),
        (
            "search input",
            Filters::default(),
            x("q", "question 7"),
            Box::new(|t| t.id == fixture(7, Utc::now()).0.id),
        ),
        (
            "search everything",
            Filters::default(),
            x("q", "invoices"),
            Box::new(|_| true),
        ),
    ];
    for (name, filters, extra, pred) in cases {
        let (rows, _) = walk(&s, ws, &filters, &extra, async |_| {}).await;
        let got: BTreeSet<String> = ids(&rows).into_iter().collect();
        let want: BTreeSet<String> = sent
            .iter()
            .filter(|t| pred(t))
            .map(|t| t.id.clone())
            .collect();
        assert!(!want.is_empty(), "{name}: the fixture has matches");
        assert_eq!(got, want, "{name}");
        let count = explorer::count(&s, ws, &query(&s, filters, extra))
            .await
            .unwrap();
        assert_eq!(count as usize, want.len(), "{name}: count");
    }

    // The export: every matching trace once, in order, whatever the batch size.
    {
        use argus_domain::explorer::export::{self, Format};
        use futures::StreamExt;
        for (format, batch) in [(Format::Csv, 7), (Format::Jsonl, 50), (Format::Csv, 5000)] {
            let q = query(&s, Filters::default(), x("status", "ok"));
            let want: Vec<String> = sent
                .iter()
                .filter(|t| !t.error)
                .map(|t| t.id.clone())
                .collect();
            let mut out = Vec::new();
            let mut chunks = Box::pin(export::stream_in_batches(s.clone(), ws, q, format, batch));
            while let Some(c) = chunks.next().await {
                out.extend(c.unwrap());
            }
            let text = String::from_utf8(out).unwrap();
            let mut lines: Vec<&str> = text.lines().collect();
            let ids: Vec<String> = match format {
                Format::Csv => {
                    assert_eq!(lines.remove(0), export::FIELDS.join(","));
                    lines
                        .iter()
                        .map(|l| l.split(',').next().unwrap().to_owned())
                        .collect()
                }
                Format::Jsonl => lines
                    .iter()
                    .map(|l| {
                        let v: serde_json::Value = serde_json::from_str(l).unwrap();
                        assert_eq!(v.as_object().unwrap().keys().count(), export::FIELDS.len());
                        assert!(l.starts_with("{\"trace_id\":"), "fields in order: {l}");
                        v["trace_id"].as_str().unwrap().to_owned()
                    })
                    .collect(),
            };
            // Newest first: the fixture's order.
            assert_eq!(ids, want, "{format:?} in batches of {batch}");
        }
    }

    // Each sort walks every trace once, in its order.
    for sort in Sort::ALL {
        let extra = TraceFilters {
            sort: Some(sort.as_str().into()),
            limit: Some("50".into()),
            ..Default::default()
        };
        let (rows, _) = walk(&s, ws, &Filters::default(), &extra, async |_| {}).await;
        let unique: BTreeSet<String> = ids(&rows).into_iter().collect();
        assert_eq!(unique.len(), sent.len(), "{sort:?}");
        assert_eq!(rows.len(), sent.len(), "{sort:?}");
        let by_id: HashMap<&str, &Sent> = sent.iter().map(|t| (t.id.as_str(), t)).collect();
        for w in rows.windows(2) {
            let (a, b) = (by_id[w[0].trace_id.as_str()], by_id[w[1].trace_id.as_str()]);
            let ordered = match sort {
                Sort::Time => w[0].start_time >= w[1].start_time,
                Sort::Latency => a.latency_ms >= b.latency_ms,
                Sort::Cost => a.cost >= b.cost,
            };
            assert!(ordered, "{sort:?}: {} before {}", a.id, b.id);
        }
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn search_reads_its_index(owner: PgPool) {
    let s = common::services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Acme").await;
    let a = ingester(&s, ws).await;
    load(&s, &a, 300).await;
    // VACUUM moves the GIN indexes' pending entries into the index (autovacuum does it in
    // service); while pending, the planner rightly prices them higher.
    sqlx::query("VACUUM ANALYZE traces")
        .execute(&owner)
        .await
        .unwrap();
    // Few rows make a sequential scan cheapest; forbid it to see the plan the index allows.
    let mut tx = argus_domain::tenancy::begin(&s.pool, ws).await.unwrap();
    for off in ["enable_seqscan", "enable_indexscan"] {
        sqlx::query(&format!("SET LOCAL {off} = off"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    // Under row-level security (the app role), as the server runs it.
    for (sql, index) in [
        ("t.search @@ '''zebra'''::tsquery", "traces_search_idx"),
        ("t.tags @> ARRAY['zebra']", "traces_tags_idx"),
    ] {
        let plan: Vec<String> = sqlx::query_scalar(&format!(
            "EXPLAIN SELECT trace_id FROM traces t WHERE t.workspace_id = $1 AND {sql}"
        ))
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(plan.iter().any(|l| l.contains(index)), "{plan:#?}");
    }
    // Deep keyset pages are index conditions, not filters, for every sort.
    sqlx::query("SET LOCAL enable_indexscan = on")
        .execute(&mut *tx)
        .await
        .unwrap();
    for (col, key) in [
        ("start_time", "now()"),
        ("latency_us", "1000::bigint"),
        ("cost_nanos", "1000::bigint"),
    ] {
        let plan: Vec<String> = sqlx::query_scalar(&format!(
            "EXPLAIN SELECT trace_id FROM traces t WHERE t.workspace_id = $1 \
               AND (t.{col}, t.trace_id) < ({key}, 'x') ORDER BY t.{col} DESC, t.trace_id DESC LIMIT 51"
        ))
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        let cond = plan
            .iter()
            .find(|l| l.contains("Index Cond"))
            .map(String::as_str)
            .unwrap_or("");
        assert!(cond.contains(col), "{col}: {plan:#?}");
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn bad_parameters_and_tampered_cursors_are_refused(owner: PgPool) {
    let s = common::services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Acme").await;
    let a = ingester(&s, ws).await;
    load(&s, &a, 60).await;
    let keys = &s.cursors;
    let now = Utc::now();
    let first = explorer::list(
        &s,
        ws,
        &query(&s, Filters::default(), TraceFilters::default()),
    )
    .await
    .unwrap();
    let next = first.meta.next_cursor.clone().unwrap();
    let mut tampered = next.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for cursor in [tampered, "garbage".into(), format!("x{next}")] {
        let extra = TraceFilters {
            cursor: Some(cursor.clone()),
            ..Default::default()
        };
        let err = explorer::parse(&Filters::default(), &extra, keys, now).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidFormat, "{cursor}");
        // Pages drop it with a notice and show the first page.
        let (q, notices) = explorer::sanitize(&Filters::default(), &extra, keys, now);
        assert!(q.cursor.is_none() && notices.len() == 1, "{notices:?}");
    }
    // A time cursor does not continue the cost sort.
    let extra = TraceFilters {
        cursor: Some(next),
        sort: Some("cost".into()),
        ..Default::default()
    };
    let err = explorer::parse(&Filters::default(), &extra, keys, now).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidFormat);

    for (field, extra) in [
        (
            "status",
            TraceFilters {
                status: Some("weird".into()),
                ..Default::default()
            },
        ),
        (
            "sort",
            TraceFilters {
                sort: Some("name".into()),
                ..Default::default()
            },
        ),
        (
            "limit",
            TraceFilters {
                limit: Some("75".into()),
                ..Default::default()
            },
        ),
        (
            "min_latency",
            TraceFilters {
                min_latency: Some("-1".into()),
                ..Default::default()
            },
        ),
        (
            "min_cost",
            TraceFilters {
                min_cost: Some("NaN".into()),
                ..Default::default()
            },
        ),
        (
            "meta",
            TraceFilters {
                meta: Some("novalue".into()),
                ..Default::default()
            },
        ),
        (
            "q",
            TraceFilters {
                q: Some("x".repeat(500)),
                ..Default::default()
            },
        ),
    ] {
        match explorer::parse(&Filters::default(), &extra, keys, now) {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // Search text with tsquery syntax characters is words, never an error.
    for q in ["a & b | !c", "'\"", "(", ":*", "\\"] {
        let extra = TraceFilters {
            q: Some(q.into()),
            ..Default::default()
        };
        explorer::list(&s, ws, &query(&s, Filters::default(), extra))
            .await
            .unwrap();
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_trace_its_session_and_its_agent(owner: PgPool) {
    let s = common::services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Acme").await;
    let (_, other) = common::sign_up(&s, "bob@example.com", "Bobs").await;
    let a = ingester(&s, ws).await;
    let start = Utc::now() - Duration::minutes(5);
    send(&s, &a, vec![serde_json::json!({
        "trace_id": "f".repeat(32), "agent_id": "support-bot", "department": "support",
        "session_id": "chat-1", "user_id": "u1", "start_time": start, "latency_ms": 900,
        "name": "answer", "input": "hello", "spans": [
            {"span_id": "1".repeat(16), "name": "plan", "operation": "invoke_agent",
             "start_time": start + Duration::milliseconds(10), "latency_ms": 100},
            {"span_id": "2".repeat(16), "parent_span_id": "1".repeat(16), "name": "chat gpt-4o",
             "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 200,
             "start_time": start + Duration::milliseconds(20), "latency_ms": 80,
             "output": [{"role": "assistant", "parts": [{"type": "text", "content": "hi there"}]}]},
            {"span_id": "3".repeat(16), "name": "search tool", "operation": "execute_tool",
             "start_time": start + Duration::milliseconds(200), "latency_ms": 50,
             "status": "error", "error": "timeout"}
        ]}),
        serde_json::json!({"trace_id": "e".repeat(32), "agent_id": "support-bot",
            "session_id": "chat-1", "start_time": start + Duration::minutes(1), "latency_ms": 10,
            "input": "and again", "output": "sure"}),
    ])
    .await;

    let t = explorer::detail(&s, ws, &"F".repeat(32), &Default::default())
        .await
        .unwrap();
    assert_eq!(t.trace.status, "error");
    assert_eq!(t.spans.len(), 4);
    let names: Vec<&str> = t.spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["answer", "plan", "chat gpt-4o", "search tool"]);
    assert_eq!(t.spans[0].parent_span_id, None);
    assert_eq!(
        t.spans[2].parent_span_id.as_deref(),
        Some("1".repeat(16).as_str())
    );
    assert_eq!(t.spans[2].input_tokens, 1000);
    assert_eq!(
        t.spans[3]
            .error_type
            .as_deref()
            .or(t.spans[3].status_message.as_deref()),
        Some("timeout")
    );
    assert_eq!(t.trace.session_id.as_deref(), Some("chat-1"));
    for bad in ["f".repeat(31), "zz".repeat(16), String::new()] {
        assert!(matches!(
            explorer::detail(&s, ws, &bad, &Default::default()).await,
            Err(Error::NotFound { .. })
        ));
    }
    // Another workspace's trace does not exist for it.
    assert!(matches!(
        explorer::detail(&s, other, &"f".repeat(32), &Default::default()).await,
        Err(Error::NotFound { .. })
    ));

    let session = sessions::detail(&s, ws, "chat-1").await.unwrap();
    assert_eq!(session.traces.len(), 2);
    assert_eq!(session.traces[0].trace.trace_id, "f".repeat(32));
    assert_eq!(session.traces[0].input, Some(serde_json::json!("hello")));
    assert_eq!(session.traces[1].output, Some(serde_json::json!("sure")));
    assert_eq!(session.total.traces, 2);
    assert_eq!(session.total.errors, 1);
    assert!(matches!(
        sessions::detail(&s, other, "chat-1").await,
        Err(Error::NotFound { .. })
    ));
    let window = argus_domain::analytics::resolve(&Filters::default(), Utc::now()).unwrap();
    let list = sessions::list(&s, ws, &window, 1).await.unwrap();
    assert_eq!(list.meta.total, 1);
    assert_eq!(list.sessions[0].traces, 2);

    let registry = agents::list(&s, ws, 1, 25, None, Utc::now()).await.unwrap();
    assert_eq!(registry.meta.total, 1);
    assert!(!registry.meta.has_more);
    let bot = &registry.agents[0];
    assert_eq!(bot.agent, "support-bot");
    assert_eq!(bot.requests_24h, 2);
    assert_eq!(bot.error_rate_24h, Some(0.5));
    assert!(bot.p95_ms_24h.is_some());
    agents::update(&s, ws, "support-bot", "customer care", "Support Bot")
        .await
        .unwrap();
    // New spans do not undo an admin's department.
    send(
        &s,
        &a,
        vec![serde_json::json!({"agent_id": "support-bot", "department": "support"})],
    )
    .await;
    let bot = agents::get(&s, ws, "support-bot").await.unwrap();
    assert_eq!(bot.department, "customer care");
    assert_eq!(bot.display_name.as_deref(), Some("Support Bot"));
    assert!(matches!(
        agents::update(&s, other, "support-bot", "x", "").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        agents::update(&s, ws, "support-bot", " ", "").await,
        Err(Error::InvalidInput { .. })
    ));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_agents_registry_pages_with_offsets(owner: PgPool) {
    let s = common::services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Acme").await;
    let a = ingester(&s, ws).await;
    let traces = (0..7)
        .map(|i| serde_json::json!({"agent_id": format!("agent-{i}"), "latency_ms": 10}))
        .collect();
    send(&s, &a, traces).await;
    let mut seen = BTreeSet::new();
    for page in 1..=3 {
        let got = agents::list(&s, ws, page, 3, None, Utc::now())
            .await
            .unwrap();
        assert_eq!(got.meta.total, 7);
        assert_eq!(got.meta.page, page);
        assert_eq!(got.meta.limit, 3);
        assert_eq!(got.meta.has_more, page < 3);
        assert_eq!(got.agents.len(), if page < 3 { 3 } else { 1 });
        seen.extend(got.agents.into_iter().map(|a| a.agent));
    }
    assert_eq!(seen.len(), 7);
    assert!(agents::paging(Some("0"), None).is_err());
    assert!(agents::paging(None, Some("101")).is_err());
    assert_eq!(agents::paging(None, None).unwrap(), (1, 25));
}

/// Every rollup row of the workspace (hourly, daily, totals), as text, in key order.
async fn rollups(owner: &PgPool, ws: WorkspaceId) -> Vec<String> {
    let mut out = Vec::new();
    for table in [
        "rollup_minute",
        "rollup_hourly",
        "rollup_daily",
        "rollup_agent_hourly",
        "rollup_agent_daily",
        "rollup_scope_hourly",
        "rollup_scope_daily",
        "rollup_total_hourly",
        "rollup_total_daily",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT '{table} ' || (to_jsonb(r) - 'workspace_id')::text FROM {table} r \
             WHERE workspace_id = $1 AND (to_jsonb(r) ->> 'traces')::bigint + (to_jsonb(r) ->> 'spans')::bigint > 0 \
             ORDER BY 1"
        ))
        .bind(ws)
        .fetch_all(owner)
        .await
        .unwrap();
        out.extend(rows);
    }
    out
}

/// The rollups equal the ones rebuilt from the raw spans and traces that remain.
async fn assert_rollups_match_raw(s: &Services, owner: &PgPool, ws: WorkspaceId) {
    let kept = rollups(owner, ws).await;
    let today = Utc::now().date_naive();
    argus_domain::ingest::rollup::rebuild(
        &s.pool,
        ws,
        today - Duration::days(40),
        today + Duration::days(2),
    )
    .await
    .unwrap();
    let rebuilt = rollups(owner, ws).await;
    assert_eq!(kept.len(), rebuilt.len(), "rollup rows");
    for (a, b) in kept.iter().zip(&rebuilt) {
        // Histograms and sums are exact; costs may differ in the last binary digit.
        assert_eq!(a, b);
    }
}

async fn raw_counts(owner: &PgPool, ws: WorkspaceId) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM traces WHERE workspace_id = $1), \
                (SELECT count(*) FROM spans WHERE workspace_id = $1)",
    )
    .bind(ws)
    .fetch_one(owner)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn deleting_traces_keeps_rollups_equal_to_raw_and_is_audited(owner: PgPool) {
    use argus_domain::explorer::deletion::{self, Target};
    let s = common::services(&owner).await;
    let (ann, ws) = common::sign_up(&s, "ann@example.com", "Acme").await;
    let (_, other) = common::sign_up(&s, "bob@example.com", "Bobs").await;
    let a = ingester(&s, ws).await;
    let sent = load(&s, &a, 90).await;
    // Two days back too, with a child span.
    send(
        &s,
        &a,
        vec![
            serde_json::json!({"trace_id": "d".repeat(32), "agent_id": "coder",
            "start_time": Utc::now() - Duration::days(2), "latency_ms": 50,
            "spans": [{"span_id": "1".repeat(16), "name": "chat", "model": "gpt-4o",
                "input_tokens": 10, "output_tokens": 5, "latency_ms": 20, "status": "error",
                "error": "boom"}]}),
        ],
    )
    .await;
    let b = ingester(&s, other).await;
    send(
        &s,
        &b,
        vec![serde_json::json!({"trace_id": "d".repeat(32), "agent_id": "bobs-bot"})],
    )
    .await;
    let bob_before = raw_counts(&owner, other).await;

    // One trace.
    let one = sent[5].id.clone();
    let job = deletion::create(
        &s,
        ws,
        Some(ann),
        &format!("trace_id={one}"),
        &Target::One(one.clone()),
    )
    .await
    .unwrap();
    assert_eq!(job.matched, Some(1));
    deletion::run(&s, ws, job.id, Target::One(one.clone()))
        .await
        .unwrap();
    assert!(matches!(
        explorer::detail(&s, ws, &one, &Default::default()).await,
        Err(Error::NotFound { .. })
    ));
    assert_rollups_match_raw(&s, &owner, ws).await;

    // Every failed trace over 7 days (several batches would be the same path).
    let filters = Filters::from_query("range=7d");
    let extra = TraceFilters {
        status: Some("error".into()),
        ..Default::default()
    };
    let q = query(&s, filters.clone(), extra.clone());
    let matching = explorer::count(&s, ws, &q).await.unwrap();
    let want = sent.iter().filter(|t| t.error && t.id != one).count() as i64 + 1;
    assert_eq!(matching, want);
    let (traces_before, _) = raw_counts(&owner, ws).await;
    let described = deletion::describe(&filters, &extra);
    assert_eq!(described, "range=7d&status=error");
    let job = deletion::create(
        &s,
        ws,
        Some(ann),
        &described,
        &Target::Matching(Box::new(q.clone())),
    )
    .await
    .unwrap();
    // Asked again while it waits: the same job, not a second one.
    let again = deletion::create(
        &s,
        ws,
        Some(ann),
        &described,
        &Target::Matching(Box::new(q.clone())),
    )
    .await
    .unwrap();
    assert_eq!(again.id, job.id);
    // As a resumed job would: from the recorded filter.
    let target = deletion::target_of(&s, &job.filter).unwrap();
    deletion::run(&s, ws, job.id, target).await.unwrap();
    assert_eq!(explorer::count(&s, ws, &q).await.unwrap(), 0);
    let (traces_after, _) = raw_counts(&owner, ws).await;
    assert_eq!(traces_before - traces_after, want);
    assert_rollups_match_raw(&s, &owner, ws).await;
    common::assert_totals_match_rollups(&owner, ws).await;

    // The audit: who, what, how many; nothing of Bob's touched.
    let jobs = deletion::list(&s, ws, 10).await.unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].filter, "range=7d&status=error");
    assert_eq!(
        (jobs[0].status.as_str(), jobs[0].deleted, jobs[0].matched),
        ("done", want, Some(want))
    );
    assert_eq!(jobs[0].requested_by, Some(ann.0));
    assert_eq!(jobs[0].requested_by_name.as_deref(), Some("Test User"));
    assert_eq!(jobs[1].deleted, 1);
    assert!(deletion::list(&s, other, 10).await.unwrap().is_empty());
    assert_eq!(raw_counts(&owner, other).await, bob_before);
    // Another workspace's trace cannot be targeted.
    assert!(matches!(
        deletion::create(&s, other, None, "x", &Target::One(sent[0].id.clone())).await,
        Err(Error::NotFound { .. })
    ));
}

/// Retention in the middle of a month: the agents' days keep that month's row with the days
/// before the cutoff zeroed (the earlier month's row goes), the cutoff's week is summed again
/// from its days kept, and both still equal the daily rollup; an agent with nothing kept
/// leaves the filter options.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn retention_mid_month_zeroes_the_agents_days_before_the_cutoff(owner: PgPool) {
    use chrono::{Datelike, DurationRound};
    let s = common::services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Ann").await;
    let today = Utc::now().duration_trunc(Duration::days(1)).unwrap();
    // A cutoff two or three days back that is not a month's first day, so the day before it
    // lies in the same month.
    let cutoff = [2, 3]
        .map(|d| today - Duration::days(d))
        .into_iter()
        .find(|c| c.day() >= 2)
        .unwrap();
    let a = ingester(&s, ws).await;
    let at = |t: chrono::DateTime<Utc>| {
        serde_json::json!({"agent_id": "bot", "start_time": t + Duration::hours(1),
            "latency_ms": 40})
    };
    send(
        &s,
        &a,
        vec![
            at(cutoff - Duration::days(1)),
            at(cutoff),
            at(cutoff - Duration::days(40)),
            serde_json::json!({"agent_id": "gone-bot", "start_time": cutoff - Duration::days(40),
                "latency_ms": 40}),
        ],
    )
    .await;
    let agents = || async {
        argus_domain::ingest::invalidate::drop_metrics(&s.cache, &s.reads, ws).await;
        argus_domain::analytics::filter_options(&s, ws)
            .await
            .unwrap()
            .agents
    };
    assert_eq!(agents().await, ["bot", "gone-bot"]);
    let days = |owner: PgPool| async move {
        let rows: Vec<(chrono::DateTime<Utc>, Vec<i64>)> = sqlx::query_as(
            "SELECT bucket, traces FROM rollup_agent_days WHERE workspace_id = $1 ORDER BY 1",
        )
        .bind(ws)
        .fetch_all(&owner)
        .await
        .unwrap();
        rows
    };
    assert!(days(owner.clone()).await.len() >= 2, "two months of days");
    argus_domain::retention::trim(&s, ws, cutoff).await.unwrap();
    let kept = days(owner.clone()).await;
    assert_eq!(kept.len(), 1, "only the cutoff's month: {kept:?}");
    let (month, traces) = &kept[0];
    assert_eq!(month.month(), cutoff.month());
    let day0 = cutoff.day0() as usize;
    assert_eq!(traces[day0 - 1], 0, "the day before the cutoff is zeroed");
    assert_eq!(traces[day0], 1, "the cutoff's day is kept");
    // The weeks of the agent rollup: the cutoff's week summed again from its days kept (the
    // day before the cutoff gone, whether or not it shares the cutoff's week).
    let weeks: Vec<(chrono::DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT bucket, traces FROM rollup_agent_weekly WHERE workspace_id = $1 AND traces > 0",
    )
    .bind(ws)
    .fetch_all(&owner)
    .await
    .unwrap();
    assert_eq!(weeks.len(), 1, "{weeks:?}");
    assert_eq!(weeks[0].1, 1, "only the cutoff's trace: {weeks:?}");
    assert!(weeks[0].0 <= cutoff && cutoff < weeks[0].0 + Duration::weeks(1));
    // An agent whose data is all gone leaves the filter's options.
    assert_eq!(agents().await, ["bot"]);
    common::assert_totals_match_rollups(&owner, ws).await;
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn retention_drops_old_data_by_partition_and_by_row(owner: PgPool) {
    use argus_domain::retention;
    let s = common::services(&owner).await;
    let (_, short) = common::sign_up(&s, "ann@example.com", "Short").await;
    let (_, long) = common::sign_up(&s, "bob@example.com", "Long").await;
    let now = Utc::now();
    for ws in [short, long] {
        let a = ingester(&s, ws).await;
        let traces = [10, 5, 1, 0]
            .iter()
            .map(|d| {
                serde_json::json!({"agent_id": "bot", "start_time": now - Duration::days(*d) - Duration::minutes(5),
                    "latency_ms": 40, "spans": [{"name": "chat", "model": "gpt-4o", "input_tokens": 3,
                    "output_tokens": 1, "latency_ms": 10}]})
            })
            .collect();
        send(&s, &a, traces).await;
    }
    // Scores of the short workspace: one past the cutoff to come, one within it.
    let scored = argus_domain::evals::scores::store_batch(
        &s,
        short,
        &argus_domain::evals::scores::Provenance {
            source: argus_types::ScoreSource::Api,
            author: Default::default(),
        },
        serde_json::json!({"scores": [
            {"trace_id": "old", "name": "q", "value": 1, "timestamp": now - Duration::days(10)},
            {"trace_id": "new", "name": "q", "value": 0, "timestamp": now - Duration::days(1)},
        ]})
        .to_string()
        .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(scored.accepted, 2);
    // Guardrail decisions of the short workspace: the same two ages.
    for age in [10, 1] {
        s.guard_decisions
            .record(argus_domain::guard::decisions::Pending {
                workspace: short,
                at: now - Duration::days(age),
                policy_id: uuid::Uuid::nil(),
                policy_name: "p".into(),
                policy_version: 1,
                source: "api",
                stage: argus_types::GuardStage::Input,
                agent: "bot".into(),
                environment: "production".into(),
                action: argus_types::GuardAction::Flag,
                would: argus_types::GuardAction::Flag,
                shadow: false,
                violations: Vec::new(),
                excerpt: None,
                trace_id: None,
                span_id: None,
                duration_us: 10,
            });
    }
    assert_eq!(s.guard_decisions.flush(&s.pool).await.unwrap(), 2);
    // Shortened after the data arrived (ingest refuses what is already past retention).
    for (ws, days) in [(short, 3), (long, 30)] {
        sqlx::query("UPDATE workspaces SET retention_days = $2 WHERE id = $1")
            .bind(ws)
            .bind(days)
            .execute(&owner)
            .await
            .unwrap();
    }
    let partitions = |owner: PgPool| async move {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'spans'::regclass",
        )
        .fetch_one(&owner)
        .await
        .unwrap();
        n
    };
    let before = partitions(owner.clone()).await;

    // Another replica holds the lock: this pass does nothing.
    let mut other = owner.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(retention::LOCK_KEY)
        .execute(&mut *other)
        .await
        .unwrap();
    assert!(!retention::run_once(&s, now).await.unwrap().ran);
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(retention::LOCK_KEY)
        .execute(&mut *other)
        .await
        .unwrap();
    drop(other);
    assert_eq!(raw_counts(&owner, short).await, (4, 8));

    // The short workspace loses its days -10 and -5 row by row; the long one keeps them, so no
    // partition goes.
    let pass = retention::run_once(&s, now).await.unwrap();
    assert!(pass.ran);
    assert_eq!(pass.partitions_dropped, 0);
    assert_eq!((pass.traces, pass.spans), (2, 4));
    assert_eq!(raw_counts(&owner, short).await, (2, 4));
    assert_eq!(raw_counts(&owner, long).await, (4, 8));
    // What retention left of the derived rollups (the agents' days keep the cutoff's month
    // with its earlier days zeroed) still equals the rollups it kept.
    common::assert_totals_match_rollups(&owner, short).await;
    let cutoff = retention::cutoff(now, 3);
    let old_rollups: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rollup_hourly WHERE workspace_id = $1 AND bucket < $2",
    )
    .bind(short)
    .bind(cutoff)
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(old_rollups, 0);
    let (scores, old_score_rollups): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM scores WHERE workspace_id = $1), \
                (SELECT count(*) FROM score_rollup_daily WHERE workspace_id = $1 AND bucket < $2)",
    )
    .bind(short)
    .bind(cutoff)
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(
        (scores, old_score_rollups),
        (1, 0),
        "scores follow the retention"
    );
    let (decisions, old_guard_rollups): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM guard_decisions WHERE workspace_id = $1), \
                (SELECT count(*) FROM guard_rollup_hourly WHERE workspace_id = $1 AND bucket < $2) \
              + (SELECT count(*) FROM guard_rollup_daily WHERE workspace_id = $1 AND bucket < $2)",
    )
    .bind(short)
    .bind(cutoff)
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(
        (decisions, old_guard_rollups),
        (1, 0),
        "guardrail decisions follow the retention"
    );
    assert_rollups_match_raw(&s, &owner, short).await;
    assert_rollups_match_raw(&s, &owner, long).await;

    // Both keep 3 days now: the old days' partitions are dropped whole.
    sqlx::query("UPDATE workspaces SET retention_days = 3 WHERE id = $1")
        .bind(long)
        .execute(&owner)
        .await
        .unwrap();
    let pass = retention::run_once(&s, now).await.unwrap();
    assert!(pass.partitions_dropped >= 2, "{pass:?}");
    assert_eq!(
        partitions(owner.clone()).await,
        before - i64::from(pass.partitions_dropped)
    );
    assert_eq!(raw_counts(&owner, long).await, (2, 4));
    assert_rollups_match_raw(&s, &owner, long).await;
    common::assert_totals_match_rollups(&owner, long).await;

    // Ingest into a dropped day still works (the partition comes back).
    let a = ingester(&s, long).await;
    send(&s, &a, vec![serde_json::json!({"agent_id": "bot", "start_time": now - Duration::days(10), "latency_ms": 5})]).await;
    assert_eq!(raw_counts(&owner, long).await.0, 3);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn ingest_during_a_rollup_rebuild_is_counted_once(owner: PgPool) {
    use argus_domain::ingest::rollup::{lock_for_writes, rebuild};
    let s = common::services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Acme").await;
    let a = ingester(&s, ws).await;
    let trace = |n: usize| {
        serde_json::json!({"trace_id": format!("race-{n}"), "agent_id": format!("bot-{}", n % 3),
            "latency_ms": 40, "spans": [{"name": "chat", "model": "gpt-4o", "input_tokens": 3,
            "output_tokens": 1, "latency_ms": 10}]})
    };
    send(&s, &a, vec![trace(0)]).await;

    // A rebuild in progress (its exclusive lock held): an ingest batch waits for it.
    let mut held = s.pool.begin().await.unwrap();
    lock_for_writes(&mut held, ws, true).await.unwrap();
    let waiting = {
        let (s, a) = (s.clone(), a.clone());
        tokio::spawn(async move { send(&s, &a, vec![trace(1)]).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the batch waits for the rebuild");
    held.commit().await.unwrap();
    waiting.await.unwrap();

    // Batches and rebuilds of the same day, racing: every batch counts once.
    let today = Utc::now().date_naive();
    let mut tasks = Vec::new();
    for n in 2..22 {
        let (sender, a) = (s.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            send(&sender, &a, vec![trace(n)]).await
        }));
        if n % 4 == 0 {
            let rebuilder = s.clone();
            tasks.push(tokio::spawn(async move {
                rebuild(
                    &rebuilder.pool,
                    ws,
                    today - Duration::days(1),
                    today + Duration::days(1),
                )
                .await
                .unwrap();
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_rollups_match_raw(&s, &owner, ws).await;
    let requests: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(traces), 0)::bigint FROM rollup_hourly WHERE workspace_id = $1 AND model = ''",
    )
    .bind(ws)
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(requests, 22, "22 traces, each counted once");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_trace_of_thousands_of_spans_is_read_a_page_at_a_time(owner: PgPool) {
    use argus_domain::explorer::{SpanPage, SPANS_PER_PAGE};
    let s = common::services(&owner).await;
    let (_, ws) = common::sign_up(&s, "ann@example.com", "Acme").await;
    let a = ingester(&s, ws).await;
    let start = Utc::now() - Duration::minutes(30);
    let spans: Vec<serde_json::Value> = (0..1_200)
        .map(|n| {
            serde_json::json!({"span_id": format!("{:016x}", n + 1), "name": format!("step {n}"),
                "start_time": start + Duration::milliseconds(n), "latency_ms": 1})
        })
        .collect();
    send(
        &s,
        &a,
        vec![
            serde_json::json!({"trace_id": "a".repeat(32), "agent_id": "bot",
            "start_time": start, "latency_ms": 5_000, "spans": spans}),
        ],
    )
    .await;
    let id = "a".repeat(32);
    let first = explorer::detail(&s, ws, &id, &SpanPage::default())
        .await
        .unwrap();
    assert_eq!(first.span_total, 1_201, "1,200 spans and the trace's root");
    assert_eq!(first.spans.len() as i64, SPANS_PER_PAGE);
    assert_eq!(first.span_offset, 0);
    let last = explorer::detail(
        &s,
        ws,
        &id,
        &SpanPage {
            offset: 1_000,
            focus: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(last.spans.len(), 201);
    // A span asked for by id opens the page it is on.
    let focused = explorer::detail(
        &s,
        ws,
        &id,
        &SpanPage {
            offset: 0,
            focus: Some(format!("{:016x}", 700)),
        },
    )
    .await
    .unwrap();
    assert_eq!(focused.span_offset, 500);
    assert!(focused
        .spans
        .iter()
        .any(|s| s.span_id == format!("{:016x}", 700)));
}
