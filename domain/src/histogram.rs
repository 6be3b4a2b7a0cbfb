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
        let c = &mut self.counts[(index - self.offset) as usize];
        *c = c.saturating_add(n);
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
            *mine = mine.saturating_add(*theirs);
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0, |a, n| a.saturating_add(*n))
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
            seen = n.saturating_add(seen);
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

    /// The binary form of the rollups' histograms (migration 0037): one tag byte, then either
    /// the counts of every bucket from the lowest non-empty one to the highest (**dense**: tag
    /// `w`, the lowest index as a big-endian `u16`, then a count per bucket) or the non-empty
    /// buckets only (**sparse**: tag `0x10 + w`, then per bucket its index as a big-endian `u16`
    /// and its count), counts as big-endian unsigned integers of `w` ∈ {1, 2, 4, 8} bytes, the
    /// fewest that hold the largest count. Whichever form is shorter is written: a latency
    /// distribution fills most of its range, so a day of an agent's traces (~160 buckets of
    /// counts below 256) takes ~170 bytes instead of the ~1.9 KB of the 12-byte form — small
    /// enough to stay inline and uncompressed in the row. Empty: no bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (Some(lo), Some(hi)) = (
            self.counts.iter().position(|n| *n > 0),
            self.counts.iter().rposition(|n| *n > 0),
        ) else {
            return Vec::new();
        };
        let counts = &self.counts[lo..=hi];
        let max = counts.iter().copied().max().unwrap_or(0);
        let width: usize = match max {
            0..=0xff => 1,
            0x100..=0xffff => 2,
            0x1_0000..=0xffff_ffff => 4,
            _ => 8,
        };
        let filled = counts.iter().filter(|n| **n > 0).count();
        let dense = 3 + counts.len() * width;
        let sparse = 1 + filled * (2 + width);
        let count =
            |out: &mut Vec<u8>, n: u64| out.extend_from_slice(&n.to_be_bytes()[8 - width..]);
        let mut out = Vec::with_capacity(dense.min(sparse));
        if dense <= sparse {
            out.push(width as u8);
            out.extend_from_slice(&((self.offset + lo as u32) as u16).to_be_bytes());
            for n in counts {
                count(&mut out, *n);
            }
        } else {
            out.push(SPARSE | width as u8);
            for (i, n) in self.buckets() {
                out.extend_from_slice(&(i as u16).to_be_bytes());
                count(&mut out, n);
            }
        }
        out
    }

    /// From [`Histogram::to_bytes`]'s form, or the 12-byte form of migration 0011 (per
    /// non-empty bucket its index as a big-endian `u32` and its count as a big-endian `u64`;
    /// what PostgreSQL's own rebuilds wrote before migration 0037): its first byte is always 0,
    /// as no index reaches 2^24. A trailing partial entry is ignored, an unknown tag reads as
    /// empty, indices beyond [`MAX_INDEX`] count in it.
    pub fn from_bytes(bytes: &[u8]) -> Histogram {
        let mut h = Histogram::new();
        h.add_bytes(bytes);
        h
    }

    /// Adds a stored histogram ([`Histogram::from_bytes`]'s forms) without decoding it first.
    pub fn add_bytes(&mut self, bytes: &[u8]) {
        let Some((&tag, body)) = bytes.split_first() else {
            return;
        };
        let width = usize::from(tag & !SPARSE);
        let be = |b: &[u8]| b.iter().fold(0_u64, |n, byte| (n << 8) | u64::from(*byte));
        match (tag, width) {
            (0, _) => {
                let entries = bytes.chunks_exact(LEGACY_ENTRY);
                self.cover_entries(
                    entries
                        .clone()
                        .map(|e| be(&e[..4]).min(u64::from(MAX_INDEX)) as u32),
                );
                for e in entries {
                    self.add_at(be(&e[..4]).min(u64::from(MAX_INDEX)) as u32, be(&e[4..]));
                }
            }
            (1..=8, 1 | 2 | 4 | 8) if body.len() >= 2 => {
                let lo = u32::from(u16::from_be_bytes([body[0], body[1]]));
                let counts = body[2..].chunks_exact(width);
                let len = counts.len() as u32;
                if len == 0 {
                    return;
                }
                let hi = (lo + len - 1).min(MAX_INDEX);
                self.cover(lo.min(MAX_INDEX), hi);
                for (i, c) in counts.enumerate() {
                    let index = lo + i as u32;
                    let n = be(c);
                    if index <= MAX_INDEX {
                        let c = &mut self.counts[(index - self.offset) as usize];
                        *c = c.saturating_add(n);
                    } else {
                        self.add_at(index, n);
                    }
                }
            }
            (t, 1 | 2 | 4 | 8) if t & SPARSE != 0 => {
                let entries = body.chunks_exact(2 + width);
                self.cover_entries(
                    entries
                        .clone()
                        .map(|e| u32::from(u16::from_be_bytes([e[0], e[1]])).min(MAX_INDEX)),
                );
                for e in entries {
                    self.add_at(u32::from(u16::from_be_bytes([e[0], e[1]])), be(&e[2..]));
                }
            }
            _ => {}
        }
    }

    /// Grows the dense range once for entries in index order (the first and last).
    fn cover_entries(&mut self, mut indices: impl DoubleEndedIterator<Item = u32>) {
        let first = indices.next();
        if let (Some(first), Some(last)) = (first, indices.next_back().or(first)) {
            self.cover(first.min(last), first.max(last));
        }
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

/// Bytes per bucket in the 12-byte form (migration 0011).
const LEGACY_ENTRY: usize = 12;

/// The tag bit of [`Histogram::to_bytes`]'s sparse form.
const SPARSE: u8 = 0x10;

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

    /// The 12-byte form of migration 0011, as PostgreSQL's rebuilds wrote it.
    fn legacy(h: &Histogram) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, n) in h.buckets() {
            out.extend_from_slice(&i.to_be_bytes());
            out.extend_from_slice(&n.to_be_bytes());
        }
        out
    }

    #[test]
    fn the_binary_forms_round_trip_and_the_shorter_is_written() {
        // A latency distribution: dense, one byte a count (a day of one agent: ~170 bytes).
        let mut day = Histogram::new();
        for ms in 1..=3_000_u64 {
            day.record(ms * 97 % 2_900 * 1_000 + 40_000);
        }
        let bytes = day.to_bytes();
        assert_eq!(bytes[0], 1, "dense, counts of one byte");
        let range = day.buckets().last().unwrap().0 - day.buckets().next().unwrap().0 + 1;
        assert_eq!(bytes.len(), 3 + range as usize);
        assert!(
            bytes.len() * 4 < legacy(&day).len(),
            "{} bytes",
            bytes.len()
        );
        assert_eq!(Histogram::from_bytes(&bytes), day);
        // A few values far apart: sparse.
        let mut few = Histogram::new();
        few.record_n(3, 70_000);
        few.record(3_600_000_000);
        let bytes = few.to_bytes();
        assert_eq!(bytes[0], SPARSE | 4, "sparse, counts of four bytes");
        assert_eq!(bytes.len(), 1 + 2 * (2 + 4));
        assert_eq!(Histogram::from_bytes(&bytes), few);
        // Counts beyond 32 bits take eight bytes.
        let mut huge = Histogram::new();
        huge.record_n(1_000, 1 << 40);
        huge.record_n(1_100, 1);
        assert_eq!(huge.to_bytes()[0], SPARSE | 8);
        assert_eq!(Histogram::from_bytes(&huge.to_bytes()), huge);
        // The 12-byte form still reads, and adding stored bytes equals merging.
        assert_eq!(Histogram::from_bytes(&legacy(&day)), day);
        let mut sum = few.clone();
        sum.add_bytes(&day.to_bytes());
        sum.add_bytes(&legacy(&huge));
        let mut merged = few.clone();
        merged.merge(&day);
        merged.merge(&huge);
        assert_eq!(sum, merged);
        assert!(Histogram::new().to_bytes().is_empty());
    }

    #[test]
    fn any_bytes_decode_without_panicking() {
        // Every tag, every short length, and a pseudo-random sweep of longer inputs.
        for tag in 0..=255_u8 {
            for len in 0..40 {
                let bytes: Vec<u8> = std::iter::once(tag)
                    .chain((0..len).map(|i| (i * 37 + tag as usize) as u8))
                    .collect();
                let h = Histogram::from_bytes(&bytes);
                assert!(h.buckets().all(|(i, _)| i <= MAX_INDEX));
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2_000 {
            let bytes: Vec<u8> = (0..(x % 300))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = Histogram::from_bytes(&bytes);
        }
        // An unknown tag is empty; a trailing partial count is ignored.
        assert!(Histogram::from_bytes(&[0x03, 0, 5, 1, 1, 1]).is_empty());
        assert_eq!(Histogram::from_bytes(&[0x02, 0, 5, 0, 7, 0]).count(), 7);
    }
}
