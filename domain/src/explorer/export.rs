//! Exporting the traces list: every trace matching a filter, as CSV or JSON Lines, streamed.
//!
//! The rows are read in batches of [`BATCH`] along the list's own keyset (each batch a short
//! query of its own, so no statement outlives its timeout) and written into a bounded channel
//! of chunks: memory stays constant however many traces match, and a slow client slows the
//! reading instead of filling the server.
//!
//! Fields, in this order (the CSV header row; the JSON keys): see [`FIELDS`]. `models` and
//! `tags` are joined with `;` in CSV and arrays in JSON; times are RFC 3339 UTC; `latency_ms`
//! and `cost_usd` are numbers; a text field that starts with `=`, `+`, `-` or `@` is prefixed
//! with `'` in CSV so that spreadsheets do not run it as a formula.

use argus_types::TraceRow;
use futures::Stream;

use super::cursor::{Direction, Position};
use super::{fetch_page, Row, TraceQuery};
use crate::tenancy::WorkspaceId;
use crate::{Error, Result, Services};

/// Rows read per query.
pub const BATCH: u32 = 2_000;
/// Chunks in flight between the reader and the client.
const CHANNEL: usize = 4;
/// The size a chunk grows to before it is sent.
const CHUNK: usize = 64 * 1024;

/// The exported fields, in order.
pub const FIELDS: [&str; 18] = [
    "trace_id",
    "start_time",
    "name",
    "agent",
    "department",
    "environment",
    "version",
    "status",
    "latency_ms",
    "span_count",
    "error_count",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "models",
    "session_id",
    "user_id",
    "tags",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Result<Format> {
        match s.map(str::trim) {
            None | Some("") | Some("csv") => Ok(Format::Csv),
            Some("jsonl") | Some("ndjson") => Ok(Format::Jsonl),
            Some(other) => Err(Error::invalid_input(
                "format",
                format!("{other:?} is not a format; use csv or jsonl"),
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

fn csv_text(out: &mut Vec<u8>, s: &str) {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if !formula && !s.contains([',', '"', '\n', '\r']) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    if formula {
        out.push(b'\'');
    }
    for b in s.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// A list field: always quoted; elements joined with `;`, each defused on its own (a tag like
/// `=cmd` would otherwise start a formula after the first element, where a spreadsheet splitting
/// the cell would meet it), and `;` and `\\` inside an element escaped with `\\`.
fn csv_list(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'"');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        if item.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            out.push(b'\'');
        }
        for b in item.bytes() {
            match b {
                b'"' => out.extend_from_slice(b"\"\""),
                b';' | b'\\' => {
                    out.push(b'\\');
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
    }
    out.push(b'"');
}

/// The CSV header line.
pub fn csv_header(out: &mut Vec<u8>) {
    out.extend_from_slice(FIELDS.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// One trace as a CSV line (RFC 4180: CRLF, quoted when needed).
pub fn csv_row(out: &mut Vec<u8>, t: &TraceRow) {
    use std::io::Write;
    let texts = [
        t.trace_id.as_str(),
        &t.start_time
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        &t.name,
        &t.agent,
        &t.department,
        &t.environment,
        &t.version,
        &t.status,
    ];
    for (i, s) in texts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_text(out, s);
    }
    let _ = write!(
        out,
        ",{},{},{},{},{},{},",
        t.latency_ms, t.span_count, t.error_count, t.input_tokens, t.output_tokens, t.cost_usd
    );
    csv_list(out, &t.models);
    out.push(b',');
    csv_text(out, t.session_id.as_deref().unwrap_or(""));
    out.push(b',');
    csv_text(out, t.user_id.as_deref().unwrap_or(""));
    out.push(b',');
    csv_list(out, &t.tags);
    out.extend_from_slice(b"\r\n");
}

/// One trace as a JSON line, with the fields in [`FIELDS`] order.
pub fn jsonl_row(out: &mut Vec<u8>, t: &TraceRow) {
    let line = serde_json::json!({
        "trace_id": t.trace_id, "start_time": t.start_time, "name": t.name, "agent": t.agent,
        "department": t.department, "environment": t.environment, "version": t.version,
        "status": t.status, "latency_ms": t.latency_ms, "span_count": t.span_count,
        "error_count": t.error_count, "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens, "cost_usd": t.cost_usd, "models": t.models,
        "session_id": t.session_id, "user_id": t.user_id, "tags": t.tags,
    });
    // serde_json keeps insertion order only with `preserve_order`; write the fields by hand
    // in FIELDS order instead.
    out.push(b'{');
    for (i, k) in FIELDS.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, &line[*k]);
    }
    out.extend_from_slice(b"}\n");
}

/// Every trace matching `q` (its cursor and page size aside), in its sort order, as chunks of
/// `format`. A failure after the first chunk ends the stream with the error (the client sees
/// a cut download, never a silently short one).
pub fn stream(
    services: Services,
    ws: WorkspaceId,
    q: TraceQuery,
    format: Format,
) -> impl Stream<Item = Result<Vec<u8>>> + Send + 'static {
    stream_in_batches(services, ws, q, format, BATCH)
}

/// [`stream`], reading `batch` rows per query.
pub fn stream_in_batches(
    services: Services,
    ws: WorkspaceId,
    q: TraceQuery,
    format: Format,
    batch: u32,
) -> impl Stream<Item = Result<Vec<u8>>> + Send + 'static {
    let batch = batch.max(1);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>>>(CHANNEL);
    tokio::spawn(async move {
        let mut chunk = Vec::with_capacity(CHUNK + 4096);
        if format == Format::Csv {
            csv_header(&mut chunk);
        }
        let mut after: Option<Position> = None;
        loop {
            let rows: Vec<Row> = match fetch_page(
                services.read_pool(ws).await,
                ws,
                &q,
                after.as_ref(),
                i64::from(batch),
            )
            .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let done = rows.len() < batch as usize;
            after = rows.last().map(|r| Position {
                sort: q.sort,
                direction: Direction::After,
                key: r.key(q.sort),
                id: r.trace_id.clone(),
            });
            for row in rows {
                let t = row.into_trace();
                match format {
                    Format::Csv => csv_row(&mut chunk, &t),
                    Format::Jsonl => jsonl_row(&mut chunk, &t),
                }
                if chunk.len() >= CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK + 4096));
                    if tx.send(Ok(full)).await.is_err() {
                        return; // the client went away
                    }
                }
            }
            if done {
                break;
            }
        }
        if !chunk.is_empty() {
            let _ = tx.send(Ok(chunk)).await;
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_it_must_and_defuses_formulas() {
        let mut out = Vec::new();
        for s in [
            "plain",
            "a,b",
            "say \"hi\"",
            "line\nbreak",
            "=SUM(A1)",
            "-1",
            "@x",
        ] {
            csv_text(&mut out, s);
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"line\nbreak\"|\"'=SUM(A1)\"|\"'-1\"|\"'@x\"|"
        );
    }

    #[test]
    fn list_fields_are_quoted_and_every_element_defused() {
        let mut out = Vec::new();
        let items: Vec<String> = [
            "safe",
            "=cmd|' /C calc'!A0",
            "+1",
            "a;b",
            "back\\slash",
            "q\"",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        csv_list(&mut out, &items);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"safe;'=cmd|' /C calc'!A0;'+1;a\\;b;back\\\\slash;q\"\"\""
        );
        let mut empty = Vec::new();
        csv_list(&mut empty, &[]);
        assert_eq!(empty, b"\"\"");
    }
}
