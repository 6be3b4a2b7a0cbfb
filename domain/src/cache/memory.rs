//! The in-process backend: a moka cache bounded by bytes, each entry with its own TTL.

use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub(super) struct MemEntry {
    pub(super) bytes: Arc<[u8]>,
    ttl: Duration,
}

struct PerEntryTtl;

impl moka::Expiry<String, MemEntry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &MemEntry,
        _now: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &MemEntry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl MemEntry {
    pub(super) fn new(bytes: Vec<u8>, ttl: Duration) -> MemEntry {
        MemEntry {
            bytes: Arc::from(bytes),
            ttl,
        }
    }
}

pub(super) type Memory = moka::future::Cache<String, MemEntry>;

/// A cache holding at most `capacity_bytes` of keys and values; the least useful go first.
pub(super) fn build(capacity_bytes: u64) -> Memory {
    moka::future::Cache::builder()
        .max_capacity(capacity_bytes)
        .weigher(|key: &String, entry: &MemEntry| {
            u32::try_from(key.len() + entry.bytes.len()).unwrap_or(u32::MAX)
        })
        .expire_after(PerEntryTtl)
        .build()
}

pub(super) async fn get(cache: &Memory, key: &str) -> Option<Arc<[u8]>> {
    cache.get(key).await.map(|e| e.bytes)
}

pub(super) async fn set(cache: &Memory, key: &str, bytes: Vec<u8>, ttl: Duration) {
    cache
        .insert(
            key.to_owned(),
            MemEntry {
                bytes: Arc::from(bytes),
                ttl,
            },
        )
        .await
}

/// Sets `key` unless it exists; the value it holds afterwards (ours or the one already there).
pub(super) async fn set_if_absent(
    cache: &Memory,
    key: &str,
    bytes: Vec<u8>,
    ttl: Duration,
) -> Arc<[u8]> {
    cache
        .entry(key.to_owned())
        .or_insert(MemEntry {
            bytes: Arc::from(bytes),
            ttl,
        })
        .await
        .into_value()
        .bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_cache_holds_at_most_its_bytes() {
        let memory = build(1 << 20);
        // Forty 64 KiB pages: 2.5 MiB offered to a 1 MiB cache.
        for i in 0..40 {
            set(
                &memory,
                &format!("page:w:{i}"),
                vec![0; 64 << 10],
                Duration::from_secs(60),
            )
            .await;
        }
        memory.run_pending_tasks().await;
        assert!(
            memory.weighted_size() <= 1 << 20,
            "{}",
            memory.weighted_size()
        );
        assert!(memory.entry_count() < 40);
    }

    #[tokio::test]
    async fn memory_entries_expire_after_their_ttl() {
        let memory = build(1 << 20);
        set(
            &memory,
            "d:w:short",
            b"1".to_vec(),
            Duration::from_millis(400),
        )
        .await;
        set(&memory, "d:w:long", b"2".to_vec(), Duration::from_secs(60)).await;
        assert!(get(&memory, "d:w:short").await.is_some());
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(get(&memory, "d:w:short").await.is_none(), "expired");
        assert!(get(&memory, "d:w:long").await.is_some());
    }
}
