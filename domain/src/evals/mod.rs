//! Evaluations: scores on traces, spans and sessions — from the API, from people, from
//! OpenTelemetry evaluation events — checked against the workspace's score configs.
//!
//! `configs` (define, list, archive) · `check` (one score against its config) · `scores`
//! (store, list, annotate, delete) · `otel` (`gen_ai.evaluation.result` span events and log
//! records → scores) · `evaluators` (online evaluators: define, list with their stats, pause)
//! · `rules` (their checks) · `verdicts` (a verdict as a score, counters, failures) · `worker`
//! (runs the queue ingest fills: `ingest::evaluate`) ·
//! `rollup` (kept with every score) · `analytics` (summaries, version comparisons) · `stats`
//! · `queues` (annotation queues) · `datasets` and `experiments` (runs over a dataset, compared).

pub mod analytics;
pub mod backfill;
pub mod check;
pub mod configs;
pub mod datasets;
pub mod evaluators;
pub mod experiments;
pub mod histogram;
pub mod judge;
pub mod otel;
pub mod queues;
pub mod rollup;
pub mod rules;
pub mod scores;
pub mod stats;
pub mod subject;
pub mod verdicts;
pub mod worker;
