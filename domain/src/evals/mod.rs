//! Evaluations: scores on traces, spans and sessions — from the API, from people, from
//! OpenTelemetry evaluation events — checked against the workspace's score configs.
//!
//! `configs` (define, list, archive) · `scores` (check, store, list, delete) · `otel`
//! (`gen_ai.evaluation.result` span events and log records → scores).

pub mod check;
pub mod configs;
pub mod otel;
pub mod scores;
