//! The trace explorer: the traces list (keyset pagination, filters, search), one trace with
//! its spans, sessions, and the agents registry.
//!
//! The list reads `traces` only, through one index per sort (migration 0012): time
//! `(workspace_id, start_time DESC, trace_id DESC)`, latency and cost likewise. A page is
//! `WHERE (key, trace_id) < (cursor) ORDER BY key DESC, trace_id DESC LIMIT n + 1`: as fast at
//! the millionth row as at the first, and stable while traces arrive (a row is never skipped
//! or shown twice by the arrival of others). Free text is a GIN index on a tsvector.

pub mod agents;
pub mod cursor;
pub mod deletion;
mod detail;
pub mod export;
mod page;
mod query;
pub mod sessions;

pub use detail::{detail, trace_id, SpanPage, SPANS_PER_PAGE};
pub use page::{count, latest, list};
pub(crate) use page::{fetch_page, push_window, Row, ROW_COLUMNS};
pub use query::{parse, sanitize, ScoreFilter, ScoreOperand, TraceQuery};
