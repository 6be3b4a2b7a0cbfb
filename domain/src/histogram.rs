//! A mergeable latency histogram with a bounded relative error, so p50/p95/p99 over any range
//! come from rollups.
//!
//! Buckets are logarithmic (the DDSketch mapping): bucket `i` holds values in `(γ^(i-1), γ^i]`
//! with `γ = (1 + α) / (1 − α)`, and reports `2γ^i / (γ + 1)`. Any value in the bucket is then
//! within **α = 1 % relative error** of what is reported, so every quantile is too (the issue's
//! bound is 2 %). Values are microseconds; 0 µs has its own bucket. 1 µs … 1 hour spans about
//! 1,100 buckets, of which a rollup row stores only the non-empty ones (`{"index": count}`).
//! Merging is adding counts per index, exact and associative.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The relative accuracy of every reported quantile.
pub const RELATIVE_ERROR: f64 = 0.01;
const GAMMA: f64 = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR);

/// Sparse counts by bucket index. Index 0 holds zeros; index i ≥ 1 holds (γ^(i-1), γ^i].
///
/// Serialized as the rollups store it, `{"index": count}`, so a rollup column decodes straight
/// into a histogram (`sqlx::types::Json<Histogram>`) without an intermediate JSON value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Histogram {
    counts: BTreeMap<u32, u64>,
}

/// The bucket of a value (µs).
pub fn bucket_of(value_us: u64) -> u32 {
    if value_us == 0 {
        return 0;
    }
    // ceil(log_γ(v)), shifted by one so that 1 µs lands in bucket 1.
    let i = ((value_us as f64).ln() / GAMMA.ln()).ceil() as i64;
    (i.max(0) as u32) + 1
}

/// The value a bucket reports (µs).
pub fn bucket_value(index: u32) -> f64 {
    if index == 0 {
        return 0.0;
    }
    let upper = GAMMA.powi(index as i32 - 1);
    2.0 * upper / (GAMMA + 1.0)
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram::default()
    }

    pub fn record(&mut self, value_us: u64) {
        self.record_n(value_us, 1);
    }

    /// `n` values of `value_us` (a bucket of another histogram, converted).
    pub fn record_n(&mut self, value_us: u64, n: u64) {
        if n > 0 {
            *self.counts.entry(bucket_of(value_us)).or_insert(0) += n;
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (i, n) in &other.counts {
            *self.counts.entry(*i).or_insert(0) += n;
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The value (µs) at quantile `q` in [0, 1] (nearest rank), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in &self.counts {
            seen += n;
            if seen >= rank {
                return Some(bucket_value(*i));
            }
        }
        self.counts.keys().next_back().map(|i| bucket_value(*i))
    }

    /// The non-empty buckets, for storage.
    pub fn buckets(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.counts.iter().map(|(i, n)| (*i, *n))
    }

    /// As stored in a rollup: `{"index": count}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.counts
                .iter()
                .map(|(i, n)| (i.to_string(), serde_json::Value::from(*n)))
                .collect(),
        )
    }

    /// From a rollup's `{"index": count}`; entries that are not counts are ignored.
    pub fn from_json(value: &serde_json::Value) -> Histogram {
        let counts = value
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        Histogram { counts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_within_the_relative_error_of_its_bucket() {
        let mut v = 1u64;
        while v < 10_000_000_000 {
            let reported = bucket_value(bucket_of(v));
            let err = (reported - v as f64).abs() / v as f64;
            assert!(err <= RELATIVE_ERROR + 1e-12, "{v} → {reported} ({err})");
            v = v + v / 7 + 1;
        }
        assert_eq!(bucket_value(bucket_of(0)), 0.0);
        // An hour in µs needs about 1,100 buckets.
        assert!(bucket_of(3_600_000_000) < 1_200);
    }

    #[test]
    fn quantiles_are_within_the_bound_and_merging_is_exact() {
        // 1..=10,000 ms in µs, split over two histograms.
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        let values: Vec<u64> = (1..=10_000).map(|ms| ms * 1_000).collect();
        for (i, v) in values.iter().enumerate() {
            if i % 3 == 0 {
                a.record(*v)
            } else {
                b.record(*v)
            }
        }
        let mut merged = a.clone();
        merged.merge(&b);
        let mut whole = Histogram::new();
        values.iter().for_each(|v| whole.record(*v));
        assert_eq!(merged, whole, "merging equals recording everything");
        for (q, exact) in [(0.5, 5_000_000.0), (0.95, 9_500_000.0), (0.99, 9_900_000.0)] {
            let got = merged.quantile(q).unwrap();
            assert!(
                (got - exact).abs() / exact <= RELATIVE_ERROR + 1e-9,
                "p{q}: {got} vs {exact}"
            );
        }
        assert_eq!(Histogram::from_json(&merged.to_json()), merged);
        // serde reads and writes the stored form too.
        let text = serde_json::to_string(&merged).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            merged.to_json()
        );
        assert_eq!(serde_json::from_str::<Histogram>(&text).unwrap(), merged);
        assert_eq!(Histogram::new().quantile(0.5), None);
    }
}
