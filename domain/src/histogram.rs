//! A mergeable latency histogram with a bounded relative error, so p50/p95/p99 over any range
//! come from rollups.
//!
//! Buckets are logarithmic (the DDSketch mapping): bucket `i` holds values in `(γ^(i-1), γ^i]`
//! with `γ = (1 + α) / (1 − α)`, and reports `2γ^i / (γ + 1)`. Any value in the bucket is then
//! within **α = 1 % relative error** of what is reported, so every quantile is too (the issue's
//! bound is 2 %). Values are microseconds; 0 µs has its own bucket. 1 µs … 1 hour spans about
//! 1,100 buckets, of which a rollup row stores only the non-empty ones (`{"index": count}`).
//! Merging is adding counts per index, exact and associative.

use serde::{Deserialize, Serialize};

/// The relative accuracy of every reported quantile.
pub const RELATIVE_ERROR: f64 = 0.01;
const GAMMA: f64 = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR);

/// The highest bucket index: `bucket_of(u64::MAX)` is below it. Stored indices above it (only a
/// hand-edited row could hold one) are counted in it rather than allocated.
pub const MAX_INDEX: u32 = 2_400;

/// Counts by bucket index, dense from the lowest non-empty bucket (`offset`): latencies of one
/// range span a few hundred neighbouring buckets, so merging is adding two short slices.
/// Index 0 holds zeros; index i ≥ 1 holds (γ^(i-1), γ^i].
///
/// Serialized as the rollups store it, `{"index": count}` for the non-empty buckets, and
/// deserialized straight from that map into the dense form (no intermediate JSON value).
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    offset: u32,
    counts: Vec<u64>,
}

/// The bucket of a value (µs).
pub fn bucket_of(value_us: u64) -> u32 {
    if value_us == 0 {
        return 0;
    }
    // ceil(log_γ(v)), shifted by one so that 1 µs lands in bucket 1.
    let i = ((value_us as f64).ln() / GAMMA.ln()).ceil() as i64;
    ((i.max(0) as u32) + 1).min(MAX_INDEX)
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
        self.add_at(bucket_of(value_us), n);
    }

    /// Adds `n` to bucket `index` (clamped to [`MAX_INDEX`]).
    fn add_at(&mut self, index: u32, n: u64) {
        if n == 0 {
            return;
        }
        let index = index.min(MAX_INDEX);
        self.cover(index, index);
        self.counts[(index - self.offset) as usize] += n;
    }

    /// Grows the dense range to include `[lo, hi]`.
    fn cover(&mut self, lo: u32, hi: u32) {
        if self.counts.is_empty() {
            self.offset = lo;
            self.counts = vec![0; (hi - lo + 1) as usize];
            return;
        }
        if lo < self.offset {
            let grow = (self.offset - lo) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = lo;
        }
        let end = self.offset as usize + self.counts.len();
        if hi as usize >= end {
            self.counts
                .resize(hi as usize + 1 - self.offset as usize, 0);
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.is_empty() {
            return;
        }
        let other_hi = other.offset + other.counts.len() as u32 - 1;
        self.cover(other.offset, other_hi);
        let at = (other.offset - self.offset) as usize;
        for (mine, theirs) in self.counts[at..].iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|n| *n == 0)
    }

    /// The value (µs) at quantile `q` in [0, 1] (nearest rank), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        let mut last = None;
        for (i, n) in self.buckets() {
            seen += n;
            last = Some(i);
            if seen >= rank {
                return Some(bucket_value(i));
            }
        }
        last.map(bucket_value)
    }

    /// The non-empty buckets in index order, for storage.
    pub fn buckets(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (self.offset + i as u32, *n))
    }

    /// As stored in a rollup: `{"index": count}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.buckets()
                .map(|(i, n)| (i.to_string(), serde_json::Value::from(n)))
                .collect(),
        )
    }

    /// The binary form of the workspace totals (migration 0011): per non-empty bucket in index
    /// order, the index as a big-endian `u32` and the count as a big-endian `u64`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.counts.len() * ENTRY);
        for (i, n) in self.buckets() {
            out.extend_from_slice(&i.to_be_bytes());
            out.extend_from_slice(&n.to_be_bytes());
        }
        out
    }

    /// From [`Histogram::to_bytes`]'s form; a trailing partial entry is ignored, indices beyond
    /// [`MAX_INDEX`] count in it, counts too large for `i64` are read as they are.
    pub fn from_bytes(bytes: &[u8]) -> Histogram {
        let mut h = Histogram::new();
        let entries = bytes.chunks_exact(ENTRY);
        if let (Some(first), Some(last)) = (entries.clone().next(), entries.clone().last()) {
            let index = |e: &[u8]| u32::from_be_bytes([e[0], e[1], e[2], e[3]]).min(MAX_INDEX);
            let (lo, hi) = (index(first), index(last));
            if lo <= hi {
                h.cover(lo, hi);
            }
        }
        for e in entries {
            let i = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let n = u64::from_be_bytes([e[4], e[5], e[6], e[7], e[8], e[9], e[10], e[11]]);
            h.add_at(i, n);
        }
        h
    }

    /// From a rollup's `{"index": count}`; entries that are not counts are ignored.
    pub fn from_json(value: &serde_json::Value) -> Histogram {
        let mut h = Histogram::new();
        if let Some(m) = value.as_object() {
            for (k, v) in m {
                if let (Ok(i), Some(n)) = (k.parse::<u32>(), v.as_u64()) {
                    h.add_at(i, n);
                }
            }
        }
        h
    }
}

/// Bytes per bucket in [`Histogram::to_bytes`].
const ENTRY: usize = 12;

/// Equal when every bucket holds the same count (however wide the dense ranges are).
impl PartialEq for Histogram {
    fn eq(&self, other: &Histogram) -> bool {
        self.buckets().eq(other.buckets())
    }
}

impl Eq for Histogram {}

impl Serialize for Histogram {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (i, n) in self.buckets() {
            map.serialize_entry(&i.to_string(), &n)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Histogram {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Histogram, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Histogram;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of bucket index to count")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Histogram, A::Error> {
                let mut h = Histogram::new();
                while let Some((i, n)) = map.next_entry::<Index, u64>()? {
                    h.add_at(i.0, n);
                }
                Ok(h)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// A bucket index written as a JSON object key (`"345"`), read without allocating.
struct Index(u32);

impl<'de> Deserialize<'de> for Index {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Index, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Index;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a bucket index")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Index, E> {
                v.parse::<u64>()
                    .map(|i| Index(i.min(u64::from(MAX_INDEX)) as u32))
                    .map_err(|_| E::custom(format!("bad bucket index {v:?}")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Index, E> {
                Ok(Index(v.min(u64::from(MAX_INDEX)) as u32))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A histogram column as stored: binary in the rollups ([`Histogram::to_bytes`]), or
/// `{"index": count}` json or jsonb (the metric rollups, and any reader given either). Decodes either.
pub struct Stored(pub Histogram);

impl sqlx::Type<sqlx::Postgres> for Stored {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Vec<u8> as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <Vec<u8> as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            || <serde_json::Value as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Stored {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use sqlx::ValueRef;
        let binary = <Vec<u8> as sqlx::Type<sqlx::Postgres>>::compatible(&value.type_info());
        Ok(Stored(if binary {
            Histogram::from_bytes(<&[u8] as sqlx::Decode<sqlx::Postgres>>::decode(value)?)
        } else {
            <sqlx::types::Json<Histogram> as sqlx::Decode<sqlx::Postgres>>::decode(value)?.0
        }))
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
        // And the binary form of the workspace totals.
        assert_eq!(Histogram::from_bytes(&merged.to_bytes()), merged);
        assert_eq!(Histogram::from_bytes(&[]), Histogram::new());
        assert_eq!(Histogram::from_bytes(&[0, 0, 1]), Histogram::new());
    }

    #[test]
    fn the_dense_form_grows_both_ways_and_clamps_stray_indices() {
        let mut a = Histogram::new();
        a.record(5_000);
        a.record(50);
        a.record(5_000_000);
        let mut b = Histogram::new();
        b.record(1);
        b.record(10_000_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 5);
        let indices: Vec<u32> = a.buckets().map(|(i, _)| i).collect();
        assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
        assert_eq!(indices[0], bucket_of(1));
        // Equality ignores how wide the dense range is.
        let mut c = Histogram::new();
        c.record(5_000);
        let mut d = c.clone();
        d.merge(&Histogram::new());
        let mut wide = Histogram::new();
        wide.record(1);
        wide.record(5_000);
        assert_eq!(c, d);
        assert_ne!(c, wide);
        // A stored index beyond any value's bucket counts in the last bucket, never allocates.
        let stray: Histogram = serde_json::from_str(r#"{"99999999999": 2, "3": 1}"#).unwrap();
        assert_eq!(stray.count(), 3);
        assert_eq!(stray.buckets().last(), Some((MAX_INDEX, 2)));
        assert!(serde_json::from_str::<Histogram>(r#"{"x": 1}"#).is_err());
        assert_eq!(bucket_of(u64::MAX), bucket_of(u64::MAX).min(MAX_INDEX));
        assert!(bucket_of(u64::MAX) < MAX_INDEX);
    }
}
