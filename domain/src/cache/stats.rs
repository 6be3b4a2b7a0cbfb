//! What the cache counts: hits and misses per key domain, runtime errors (logged at most once
//! a minute), for the status page.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use argus_types::DomainCacheStats;

const ERROR_LOG_INTERVAL_SECS: i64 = 60;

#[derive(Default)]
pub(super) struct DomainCounters {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl DomainCounters {
    pub(super) fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub(super) struct Stats {
    domains: RwLock<HashMap<&'static str, Arc<DomainCounters>>>,
    errors: AtomicU64,
    /// Unix seconds of the last logged runtime error (0 = never).
    last_error_log: AtomicI64,
}

impl Stats {
    pub(super) fn counters(&self, domain: &'static str) -> Arc<DomainCounters> {
        if let Some(c) = self.domains.read().expect("cache stats lock").get(domain) {
            return c.clone();
        }
        self.domains
            .write()
            .expect("cache stats lock")
            .entry(domain)
            .or_default()
            .clone()
    }

    /// Counts a runtime failure of `op`, logging at most once a minute.
    pub(super) fn record_error(&self, op: &str, err: &dyn fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let now = chrono::Utc::now().timestamp();
        let last = self.last_error_log.load(Ordering::Relaxed);
        if now - last >= ERROR_LOG_INTERVAL_SECS
            && self
                .last_error_log
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                op,
                error = %err,
                errors_total = self.errors.load(Ordering::Relaxed),
                "cache unavailable, serving from the database (logged at most once a minute)"
            );
        }
    }

    pub(super) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Hits and misses per domain, sorted by domain.
    pub(super) fn domains(&self) -> Vec<DomainCacheStats> {
        let mut stats: Vec<DomainCacheStats> = self
            .domains
            .read()
            .expect("cache stats lock")
            .iter()
            .map(|(domain, c)| DomainCacheStats {
                domain: (*domain).to_owned(),
                hits: c.hits.load(Ordering::Relaxed),
                misses: c.misses.load(Ordering::Relaxed),
            })
            .collect();
        stats.sort_by(|a, b| a.domain.cmp(&b.domain));
        stats
    }
}
