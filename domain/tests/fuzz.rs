//! Property tests of every decoder and parser that reads input from outside: OTLP protobuf and
//! JSON (with and without gzip), the native batch, trace cursors, the dashboard's and the
//! explorer's filters, and free-text search. Whatever the input: no panic, and a failure is a
//! client error (4xx) — never a 500.
//!
//! A normal run tries 256 cases a property; a long run for a manual check:
//! `PROPTEST_CASES=1000000 cargo test --release -p argus-domain --test fuzz`.

use std::io::Write;
use std::sync::Arc;

use argus_domain::explorer::cursor::CursorKey;
use argus_domain::ingest::gate::{Admission, IngestGate};
use argus_domain::ingest::limits;
use argus_domain::ingest::otlp::Encoding;
use argus_domain::tenancy::WorkspaceId;
use argus_domain::Error;
use argus_types::{Filters, TraceFilters};
use proptest::prelude::*;

fn admission() -> Admission {
    Arc::new(IngestGate::new(256 << 20, 16, 100)).admit(WorkspaceId(uuid::Uuid::nil()))
}

fn client_error<T>(result: Result<T, Error>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(
            e.code().is_client_error(),
            "a server error for bad input: {e:?}"
        );
    }
    Ok(())
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/otlp")
            .join(name),
    )
    .unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A real exporter's body with some bytes changed, cut or repeated: malformed in the ways
/// that reach deep into the decoders, not only at the first byte.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len().max(1);
    (
        prop::collection::vec((0..len, any::<u8>()), 0..8),
        0..=len,
        0usize..3,
    )
        .prop_map(move |(edits, cut, repeat)| {
            let mut body = base.clone();
            for (at, byte) in edits {
                if at < body.len() {
                    body[at] = byte;
                }
            }
            body.truncate(cut);
            let copy = body.clone();
            for _ in 0..repeat {
                body.extend_from_slice(&copy);
            }
            body
        })
}

fn read(body: &[u8], encoding: Encoding, gzipped: bool) -> Result<(), TestCaseError> {
    let result = argus_domain::ingest::read_traces(
        body,
        encoding,
        gzipped.then_some("gzip"),
        20 << 20,
        &mut admission(),
    );
    client_error(result)
}

fn read_logs(body: &[u8], encoding: Encoding) -> Result<(), TestCaseError> {
    client_error(argus_domain::ingest::logs::read(
        body,
        encoding,
        None,
        20 << 20,
        &mut admission(),
    ))
}

proptest! {
    #[test]
    fn a_mutated_logs_export_never_panics(
        pb in mutated(fixture("evaluation_logs.pb")),
        json in mutated(fixture("evaluation_logs.json")),
    ) {
        read_logs(&pb, Encoding::Protobuf)?;
        read_logs(&json, Encoding::Json)?;
        read(&pb, Encoding::Protobuf, false)?;
    }

    #[test]
    fn a_mutated_span_event_export_never_panics(body in mutated(fixture("evaluation_span_events.pb"))) {
        read(&body, Encoding::Protobuf, false)?;
    }

    #[test]
    fn otlp_protobuf_never_panics(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        read(&body, Encoding::Protobuf, false)?;
        client_error(limits::wire::traces(&body))?;
        client_error(limits::wire::metrics(&body))?;
        client_error(argus_domain::ingest::metrics::decode(&body, Encoding::Protobuf))?;
        read_logs(&body, Encoding::Protobuf)?;
    }

    #[test]
    fn a_mutated_exporter_body_never_panics(body in mutated(fixture("agent_trace_current_semconv.pb"))) {
        read(&body, Encoding::Protobuf, false)?;
        read(&gzip(&body), Encoding::Protobuf, true)?;
    }

    #[test]
    fn a_mutated_json_body_never_panics(body in mutated(fixture("agent_trace_current_semconv.json"))) {
        read(&body, Encoding::Json, false)?;
        client_error(limits::json::census(&body, limits::json::Shape::Native))?;
    }

    #[test]
    fn otlp_json_never_panics(body in "[\\[\\]{}:,\"a-z0-9\\\\ .-]{0,512}") {
        read(body.as_bytes(), Encoding::Json, false)?;
        client_error(argus_domain::ingest::metrics::decode(body.as_bytes(), Encoding::Json))?;
    }

    #[test]
    fn gzip_garbage_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
        read(&body, Encoding::Protobuf, true)?;
    }

    #[test]
    fn the_native_batch_never_panics(
        traces in prop::collection::vec(
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "trace_id", "agent_id", "start_time", "end_time", "latency_ms", "status",
                    "spans", "input_tokens", "cost", "metadata", "tags", "parent_span_id", "name",
                ]),
                prop_oneof![
                    Just(serde_json::Value::Null),
                    any::<i64>().prop_map(serde_json::Value::from),
                    any::<f64>().prop_map(|f| serde_json::json!(f)),
                    ".{0,20}".prop_map(serde_json::Value::from),
                    Just(serde_json::json!([{"span_id": "x", "latency_ms": -1}])),
                    Just(serde_json::json!({"k": [1, {"a": null}]})),
                ],
                0..6,
            ),
            0..8,
        ),
        junk in ".{0,40}",
    ) {
        let now = chrono::Utc::now();
        let body = serde_json::json!({ "traces": traces }).to_string();
        client_error(argus_domain::ingest::read_native(body.as_bytes(), &mut admission(), now))?;
        client_error(argus_domain::ingest::read_native(junk.as_bytes(), &mut admission(), now))?;
    }

    #[test]
    fn cursors_never_panic(cursor in ".{0,200}", b64 in "[A-Za-z0-9_-]{0,120}") {
        let keys = CursorKey::new([7; 32]);
        client_error(keys.decode(&cursor))?;
        client_error(keys.decode(&b64))?;
    }

    #[test]
    fn filters_and_search_never_panic(
        values in prop::collection::vec(prop_oneof![
            Just(String::new()),
            "[a-z0-9:.+-]{0,20}",
            ".{0,30}",
            Just("2026-11-30T00:00:00Z".to_owned()),
            Just("-5".to_owned()),
            Just("1e309".to_owned()),
        ], 20),
    ) {
        let keys = [
            "range", "from", "to", "dept", "env", "version", "agent", "model", "status",
            "session", "user", "min_latency", "min_cost", "tags", "meta", "q", "sort", "limit",
            "cursor", "refresh",
        ];
        let get = |k: &str| {
            keys.iter()
                .position(|key| *key == k)
                .map(|i| values[i].clone())
        };
        let filters = Filters::parse(get);
        let extra = TraceFilters::from_lookup(get);
        let now = chrono::Utc::now();
        client_error(argus_domain::analytics::resolve(&filters, now))?;
        let cursors = CursorKey::new([9; 32]);
        client_error(argus_domain::explorer::parse(&filters, &extra, &cursors, now))?;
        // Pages drop what is bad and say so: never an error.
        let _ = argus_domain::explorer::sanitize(&filters, &extra, &cursors, now);
        // The URL the filters write reads back as the same filters (refused values included),
        // and the lenient form always resolves.
        prop_assert_eq!(&Filters::from_query(&filters.to_query()), &filters);
        let (clean, _) = filters.lenient();
        prop_assert_eq!(Filters::from_query(&clean.to_query()).notices().len(), 0);
        let _ = argus_domain::analytics::resolve_lenient(&filters, now);
    }
}
