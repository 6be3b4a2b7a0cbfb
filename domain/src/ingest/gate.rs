//! Admission control for ingestion: a memory budget and write slots, shared fairly.
//!
//! Every export holds an [`Admission`] for as long as it is read, decoded and stored. The
//! admission is charged, as the export goes, with every byte it makes the server hold: the
//! body as it arrives, the body after gunzip, the estimated size of its decoded spans — so the
//! memory held by all exports together stays within the budget whatever a body holds. A
//! write slot is taken only once the body has arrived (a slow upload holds bytes, never a
//! slot).
//!
//! Fairness: one workspace may hold at most its share of the bytes and of the slots (half of
//! each by default), so one tenant's flood leaves room for every other. Refusals are at once,
//! never queued: the global budget answers 503 `SERVICE_UNAVAILABLE`, a workspace over its
//! share 429 `RATE_LIMIT_EXCEEDED`, both with `Retry-After` — OTLP exporters retry both. An
//! acknowledged span is always committed: the write happens before the 200.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::tenancy::WorkspaceId;
use crate::{Error, Result};

/// Seconds a refused exporter is told to wait.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Bytes are charged in steps of this size (fewer lock round trips).
const STEP: u64 = 64 * 1024;

/// How much of the gate one workspace may hold.
pub const DEFAULT_WORKSPACE_SHARE_PERCENT: u64 = 50;

#[derive(Debug, Default)]
struct Held {
    bytes: u64,
    slots: usize,
}

#[derive(Debug, Default)]
struct Usage {
    total: Held,
    by_workspace: HashMap<WorkspaceId, Held>,
}

/// The budget and slots of ingestion.
#[derive(Debug)]
pub struct IngestGate {
    max_bytes: u64,
    max_slots: usize,
    workspace_bytes: u64,
    workspace_slots: usize,
    usage: Mutex<Usage>,
}

/// Held while an export is read, decoded and stored; released when dropped.
#[derive(Debug)]
pub struct Admission {
    gate: Arc<IngestGate>,
    workspace: WorkspaceId,
    /// Bytes charged (a multiple of [`STEP`]).
    bytes: u64,
    /// Bytes asked for so far (≤ `bytes`).
    used: u64,
    slot: bool,
}

impl IngestGate {
    /// At most `max_bytes` held and `max_slots` writes at once; one workspace at most
    /// `workspace_share_percent` of each (at least one slot).
    pub fn new(max_bytes: u64, max_slots: usize, workspace_share_percent: u64) -> IngestGate {
        let share = workspace_share_percent.clamp(1, 100);
        let max_slots = max_slots.max(1);
        IngestGate {
            max_bytes: max_bytes.max(STEP),
            max_slots,
            workspace_bytes: (max_bytes.saturating_mul(share) / 100).max(STEP),
            workspace_slots: ((max_slots as u64 * share / 100) as usize).max(1),
            usage: Mutex::default(),
        }
    }

    /// The byte budget of one workspace: an export needing more can never be admitted.
    pub fn workspace_bytes(&self) -> u64 {
        self.workspace_bytes
    }

    /// Starts an export for `workspace`, holding nothing yet.
    pub fn admit(self: &Arc<Self>, workspace: WorkspaceId) -> Admission {
        Admission {
            gate: self.clone(),
            workspace,
            bytes: 0,
            used: 0,
            slot: false,
        }
    }

    /// Writes allowed at once, in all.
    pub fn max_slots(&self) -> usize {
        self.max_slots
    }

    /// Bytes and slots held now, in all (for tests and the status page).
    pub fn held(&self) -> (u64, usize) {
        let usage = self.usage.lock().expect("gate lock");
        (usage.total.bytes, usage.total.slots)
    }

    fn acquire(&self, workspace: WorkspaceId, bytes: u64, slots: usize) -> Result<()> {
        let mut usage = self.usage.lock().expect("gate lock");
        let mine = usage
            .by_workspace
            .get(&workspace)
            .map_or((0, 0), |h| (h.bytes, h.slots));
        if mine.0 + bytes > self.workspace_bytes || mine.1 + slots > self.workspace_slots {
            return Err(Error::RateLimited {
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        if usage.total.bytes + bytes > self.max_bytes || usage.total.slots + slots > self.max_slots
        {
            return Err(Error::Overloaded {
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        usage.total.bytes += bytes;
        usage.total.slots += slots;
        let held = usage.by_workspace.entry(workspace).or_default();
        held.bytes += bytes;
        held.slots += slots;
        Ok(())
    }

    fn release(&self, workspace: WorkspaceId, bytes: u64, slots: usize) {
        let mut usage = self.usage.lock().expect("gate lock");
        usage.total.bytes -= bytes;
        usage.total.slots -= slots;
        if let Some(held) = usage.by_workspace.get_mut(&workspace) {
            held.bytes -= bytes;
            held.slots -= slots;
            if held.bytes == 0 && held.slots == 0 {
                usage.by_workspace.remove(&workspace);
            }
        }
    }
}

impl Admission {
    /// Charges `bytes` more (rounded up to the gate's step). Fails, holding what it held,
    /// when the workspace's share or the whole budget would be exceeded.
    pub fn charge(&mut self, bytes: u64) -> Result<()> {
        let used = self.used.saturating_add(bytes);
        if used > self.bytes {
            let more = (used - self.bytes).div_ceil(STEP) * STEP;
            if self.bytes + more > self.gate.workspace_bytes {
                // No amount of waiting admits it, even alone.
                return Err(Error::PayloadTooLarge {
                    limit_bytes: self.gate.workspace_bytes,
                });
            }
            self.gate.acquire(self.workspace, more, 0)?;
            self.bytes += more;
        }
        self.used = used;
        Ok(())
    }

    /// Takes a write slot (once; later calls do nothing).
    pub fn take_slot(&mut self) -> Result<()> {
        if !self.slot {
            self.gate.acquire(self.workspace, 0, 1)?;
            self.slot = true;
        }
        Ok(())
    }

    /// Bytes charged so far (as asked, not rounded).
    pub fn charged(&self) -> u64 {
        self.used
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.gate
            .release(self.workspace, self.bytes, usize::from(self.slot));
    }
}

impl Default for IngestGate {
    /// 256 MiB, 16 writes at a time, half of each for one workspace.
    fn default() -> Self {
        IngestGate::new(256 << 20, 16, DEFAULT_WORKSPACE_SHARE_PERCENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(n: u128) -> WorkspaceId {
        WorkspaceId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn bytes_are_charged_as_they_come_and_released_on_drop() {
        let gate = Arc::new(IngestGate::new(1 << 20, 4, 100));
        let mut a = gate.admit(ws(1));
        a.charge(10).unwrap();
        a.charge(10).unwrap();
        assert_eq!(gate.held(), (STEP, 0), "one step covers both");
        a.charge(STEP).unwrap();
        assert_eq!(gate.held().0, 2 * STEP);
        let mut b = gate.admit(ws(2));
        let err = b.charge(1 << 20).unwrap_err();
        assert!(matches!(
            err,
            Error::Overloaded {
                retry_after_secs: 1
            }
        ));
        assert_eq!(err.code(), argus_types::ErrorCode::ServiceUnavailable);
        drop(a);
        assert_eq!(gate.held(), (0, 0));
        b.charge(1 << 20).unwrap();
        drop(b);
        assert_eq!(gate.held(), (0, 0));
    }

    #[test]
    fn one_workspace_cannot_hold_more_than_its_share() {
        let gate = Arc::new(IngestGate::new(4 << 20, 4, 50));
        let mut mine: Vec<Admission> = Vec::new();
        for _ in 0..2 {
            let mut a = gate.admit(ws(1));
            a.charge(1 << 20).unwrap();
            a.take_slot().unwrap();
            mine.push(a);
        }
        // Its half of the bytes and of the slots is used up: 429, not 503.
        let mut third = gate.admit(ws(1));
        let err = third.charge(1).unwrap_err();
        assert_eq!(err.code(), argus_types::ErrorCode::RateLimitExceeded);
        assert!(third.take_slot().is_err());
        // Another workspace still gets the other half.
        let mut other = gate.admit(ws(2));
        other.charge(2 << 20).unwrap();
        other.take_slot().unwrap();
        drop(mine);
        drop(third);
        drop(other);
        assert_eq!(gate.held(), (0, 0));
    }

    #[test]
    fn more_than_a_workspace_share_is_too_large_not_busy() {
        let gate = Arc::new(IngestGate::new(4 << 20, 4, 25));
        let mut a = gate.admit(ws(1));
        let err = a.charge(2 << 20).unwrap_err();
        assert_eq!(err.code(), argus_types::ErrorCode::PayloadTooLarge);
        assert_eq!(gate.held(), (0, 0));
    }

    #[test]
    fn slots_are_bounded_and_taken_once() {
        let gate = Arc::new(IngestGate::new(1 << 20, 2, 100));
        let mut a = gate.admit(ws(1));
        a.take_slot().unwrap();
        a.take_slot().unwrap();
        let mut b = gate.admit(ws(2));
        b.take_slot().unwrap();
        let mut c = gate.admit(ws(3));
        assert_eq!(
            c.take_slot().unwrap_err().code(),
            argus_types::ErrorCode::ServiceUnavailable
        );
        drop(a);
        c.take_slot().unwrap();
    }
}
