//! Admission control for ingestion: backpressure with a memory cap.
//!
//! Every export holds a share of a byte budget (its body size, in KiB) and one of a fixed
//! number of write slots for as long as it is decoded and stored. When either is used up, the
//! export is refused at once with 503 `SERVICE_UNAVAILABLE` and `Retry-After` (OTLP exporters
//! retry those with backoff) instead of queueing without bound. So the memory held by
//! in-flight bodies is capped, and an acknowledged span is always committed: the write happens
//! before the 200, and graceful shutdown lets in-flight exports finish.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Error, Result};

/// Seconds a refused exporter is told to wait.
pub const RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug)]
pub struct IngestGate {
    kib: Arc<Semaphore>,
    kib_total: u32,
    slots: Arc<Semaphore>,
}

/// Held while an export is decoded and stored.
#[derive(Debug)]
pub struct Admitted {
    _kib: OwnedSemaphorePermit,
    _slot: OwnedSemaphorePermit,
}

impl IngestGate {
    /// At most `max_inflight_bytes` of bodies and `max_concurrent` exports at a time.
    pub fn new(max_inflight_bytes: u64, max_concurrent: usize) -> IngestGate {
        let kib_total = (max_inflight_bytes / 1024).clamp(1, u32::MAX as u64) as u32;
        IngestGate {
            kib: Arc::new(Semaphore::new(kib_total as usize)),
            kib_total,
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    /// Admits an export of `body_bytes` (its declared or received size), or refuses it.
    pub fn admit(&self, body_bytes: u64) -> Result<Admitted> {
        let kib = (body_bytes.div_ceil(1024)).clamp(1, self.kib_total as u64) as u32;
        let overloaded = || Error::Overloaded {
            retry_after_secs: RETRY_AFTER_SECS,
        };
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| overloaded())?;
        let kib = self
            .kib
            .clone()
            .try_acquire_many_owned(kib)
            .map_err(|_| overloaded())?;
        Ok(Admitted {
            _kib: kib,
            _slot: slot,
        })
    }
}

impl Default for IngestGate {
    /// 256 MiB of bodies, 16 exports at a time.
    fn default() -> Self {
        IngestGate::new(256 << 20, 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_slots_are_both_bounded_and_released() {
        let gate = IngestGate::new(100 * 1024, 2);
        let a = gate.admit(60 * 1024).unwrap();
        let err = gate.admit(60 * 1024).unwrap_err();
        assert!(matches!(
            err,
            Error::Overloaded {
                retry_after_secs: 1
            }
        ));
        assert_eq!(err.code(), argus_types::ErrorCode::ServiceUnavailable);
        let b = gate.admit(30 * 1024).unwrap();
        assert!(gate.admit(1).is_err(), "no slot left");
        drop(a);
        drop(b);
        let _c = gate.admit(100 * 1024).unwrap();
        // Larger than the whole budget: admitted alone (the body limit bounds it anyway).
        drop(_c);
        assert!(gate.admit(10 << 20).is_ok());
    }
}
