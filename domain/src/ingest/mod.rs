//! Ingestion: OTLP and the native batch API in, mapped spans out.
//!
//! `otlp` decodes what exporters send (protobuf or OTLP/JSON, optionally gzip); `mapping` turns
//! OTLP spans into [`model::SpanRecord`]s with the GenAI semantic conventions (current and legacy
//! names) resolved, each span validated on its own.

pub mod mapping;
pub mod model;
pub mod otlp;
pub mod store;
