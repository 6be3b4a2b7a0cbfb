//! What one ingest request may hold, and how that is enforced before memory is spent.
//!
//! A body is small on the wire but may decode to far more: an empty span is 2 bytes of
//! protobuf (3 of JSON) and ~300 bytes in memory, so a 19 KB gzip body of ten million empty
//! spans would take gigabytes. So, in order:
//!
//! 1. the body is inflated within the body limit, every byte charged to the ingest gate;
//! 2. a **census** walks the bytes without allocating ([`wire`] for protobuf, [`json`] for
//!    JSON) and estimates what decoding would allocate; over [`MAX_DECODED_BYTES`] the request
//!    is refused (413) before anything is decoded, else the estimate is charged to the gate;
//! 3. after decoding, [`sanitize`] applies the OpenTelemetry SDK's kind of limits: spans,
//!    resources, events, links and attributes beyond their caps are dropped and counted
//!    (`partial_success`, `dropped_attributes`), long values truncated and marked.

pub mod json;
pub mod sanitize;
pub mod wire;

use crate::{Error, Result};

/// Spans kept from one request; more are rejected (counted in `partial_success`).
pub const MAX_SPANS: usize = 10_000;
/// Resources (`resource_spans` / `resource_metrics` entries) kept from one request.
pub const MAX_RESOURCES: usize = 1_000;
/// Attributes kept per span, resource, scope, event or link; more are dropped and counted.
pub const MAX_ATTRIBUTES: usize = 128;
/// Events kept per span.
pub const MAX_EVENTS: usize = 128;
/// Links kept per span.
pub const MAX_LINKS: usize = 128;
/// Elements kept per array or key-value list inside an attribute value.
pub const MAX_ARRAY_ITEMS: usize = 1_000;
/// Bytes kept of an ordinary attribute's string value; longer values are truncated and marked.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// Bytes kept of a message attribute (`gen_ai.input.messages`, prompts, tool arguments …).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// What decoding one request may allocate, by the census's estimate.
pub const MAX_DECODED_BYTES: u64 = 24 << 20;
/// What an export charges the gate per byte of the census: the decoded request, the records
/// mapped from it, and the rows written from those.
pub const DECODE_FACTOR: u64 = 3;
/// Nesting of messages or JSON containers a body may have.
pub const MAX_DEPTH: usize = 32;

/// What the census found: enough to charge the gate and to explain a refusal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Estimated bytes decoding allocates (structures and string contents).
    pub bytes: u64,
    /// Spans (or data points), as far as the walk went.
    pub items: u64,
}

impl Census {
    fn add(&mut self, bytes: u64) -> Result<()> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > MAX_DECODED_BYTES {
            return Err(self.too_large());
        }
        Ok(())
    }

    fn too_large(&self) -> Error {
        Error::TooLarge(format!(
            "the request would take more than {} MiB of memory to decode ({} spans or data \
             points counted before stopping); send smaller batches",
            MAX_DECODED_BYTES >> 20,
            self.items
        ))
    }
}

fn nested_too_deeply() -> Error {
    Error::InvalidFormat {
        message: format!("the body is nested more than {MAX_DEPTH} levels deep"),
        location: None,
    }
}
