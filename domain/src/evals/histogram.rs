//! The numeric scores' mergeable histogram: 67 fixed bins shared by every score name, so the
//! rollups' rows of any bucket, name or dimension add up bin by bin. The rollups fill it in SQL
//! (`argus_score_bin`, migration `score_histograms`); this is the same layout, for reading:
//!
//! - bin 0: below 0;
//! - bins 1–20: [0, 1] in steps of 0.05, lower-closed (the last closed at both ends);
//! - bins 21–38: (1, 10] in steps of 0.5, upper-closed;
//! - bins 39–56: (10, 100] in steps of 5;
//! - bins 57–65: (100, 1000] in steps of 100;
//! - bin 66: above 1000.
//!
//! Scores on 0–1, 1–5, 0–10 and 0–100 scales keep their own resolution, each whole rating in a
//! bin of its own.

use argus_types::HistBin;

/// Bins in a histogram.
pub const BINS: usize = 67;

const EPS: f64 = 1e-9;

/// The bin of a value (as `argus_score_bin` computes it).
pub fn bin(v: f64) -> usize {
    let steps = |x: f64, lo: f64, step: f64, last: i64| -> i64 {
        (((x - lo) / step - EPS).ceil() as i64 - 1).clamp(0, last)
    };
    if v < 0.0 {
        0
    } else if v <= 1.0 {
        1 + ((v * 20.0 + EPS).floor() as i64).min(19) as usize
    } else if v <= 10.0 {
        21 + steps(v, 1.0, 0.5, 17) as usize
    } else if v <= 100.0 {
        39 + steps(v, 10.0, 5.0, 17) as usize
    } else if v <= 1000.0 {
        57 + steps(v, 100.0, 100.0, 8) as usize
    } else {
        66
    }
}

/// A bin's edges; the open-ended ones (0 and 66) are `None` on their open side.
pub fn edges(i: usize) -> (Option<f64>, Option<f64>) {
    let span = |base: usize, lo: f64, step: f64| {
        let k = (i - base) as f64;
        (Some(lo + k * step), Some(lo + (k + 1.0) * step))
    };
    match i {
        0 => (None, Some(0.0)),
        1..=20 => span(1, 0.0, 0.05),
        21..=38 => span(21, 1.0, 0.5),
        39..=56 => span(39, 10.0, 5.0),
        57..=65 => span(57, 100.0, 100.0),
        _ => (Some(1000.0), None),
    }
}

/// Adds a rollup row's histogram to `into`: its counts from bin `first` on (a row keeps only
/// the bins from its first non-empty one to its last; stray bins past the layout are ignored).
pub fn add(into: &mut [i64; BINS], first: i32, row: &[i64]) {
    let Ok(first) = usize::try_from(first) else {
        return;
    };
    for (acc, n) in into.iter_mut().skip(first).zip(row) {
        *acc += n;
    }
}

/// The bins from the first non-empty to the last, with their edges; the open ends closed by the
/// smallest and largest value seen.
pub fn bins(counts: &[i64; BINS], min: Option<f64>, max: Option<f64>) -> Vec<HistBin> {
    let Some(first) = counts.iter().position(|c| *c > 0) else {
        return Vec::new();
    };
    let last = counts.iter().rposition(|c| *c > 0).unwrap_or(first);
    (first..=last)
        .map(|i| {
            let (lo, hi) = edges(i);
            let lo = lo.or(min).unwrap_or(0.0);
            let hi = hi.or(max).unwrap_or(lo);
            HistBin {
                lo,
                hi: hi.max(lo),
                count: counts[i].max(0),
            }
        })
        .collect()
}

/// The `q` quantile (0–1) of a histogram, linear within its bin; `None` when it is empty.
pub fn quantile(bins: &[HistBin], q: f64) -> Option<f64> {
    let total: i64 = bins.iter().map(|b| b.count).sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0.0;
    for b in bins {
        let n = b.count as f64;
        if n > 0.0 && below + n >= rank {
            return Some(b.lo + (b.hi - b.lo) * ((rank - below) / n).clamp(0.0, 1.0));
        }
        below += n;
    }
    bins.last().map(|b| b.hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_ratings_and_edges_fall_in_their_own_bins() {
        assert_eq!(bin(-0.5), 0);
        assert_eq!(bin(0.0), 1);
        assert_eq!(bin(0.05), 2);
        assert_eq!(bin(0.15), 4);
        assert_eq!(bin(0.99), 20);
        assert_eq!(bin(1.0), 20);
        assert_eq!(bin(1.2), 21);
        assert_eq!(bin(1.5), 21);
        assert_eq!(bin(2.0), 22);
        assert_eq!(bin(10.0), 38);
        assert_eq!(bin(10.1), 39);
        assert_eq!(bin(100.0), 56);
        assert_eq!(bin(1000.0), 65);
        assert_eq!(bin(1e9), 66);
        // Each bin's edges hold what falls in it.
        for i in 1..BINS - 1 {
            let (lo, hi) = edges(i);
            let mid = (lo.unwrap() + hi.unwrap()) / 2.0;
            assert_eq!(bin(mid), i, "{i}: {lo:?}..{hi:?}");
        }
        for r in 1..=5 {
            let rating = r as f64;
            let b = bin(rating);
            assert!((1..=5).filter(|o| *o != r).all(|o| bin(o as f64) != b));
        }
    }

    #[test]
    fn quantiles_interpolate_within_a_bin() {
        let mut counts = [0i64; BINS];
        counts[bin(0.5)] = 10;
        counts[bin(0.9)] = 10;
        let b = bins(&counts, Some(0.5), Some(0.9));
        assert_eq!(b.len(), bin(0.9) - bin(0.5) + 1);
        assert_eq!(b.first().unwrap().lo, 0.5);
        let median = quantile(&b, 0.5).unwrap();
        assert!((0.5..=0.55).contains(&median), "{median}");
        assert!(quantile(&b, 0.9).unwrap() >= 0.9);
        assert_eq!(quantile(&[], 0.5), None);
    }
}
