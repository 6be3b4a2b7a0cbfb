//! The tests "compare versions" runs: Welch's t for numbers, a two-proportion z-test for
//! booleans, with their two-sided p-values (Student's t through the regularized incomplete
//! beta function; the normal through erfc).

/// Welch's t-test of two samples given as (n, mean, variance): `(t, p)`, or `None` when a side
/// has fewer than two values or neither varies.
pub fn welch(a: (f64, f64, f64), b: (f64, f64, f64)) -> Option<(f64, f64)> {
    let (n1, m1, v1) = a;
    let (n2, m2, v2) = b;
    if n1 < 2.0 || n2 < 2.0 {
        return None;
    }
    let (s1, s2) = (v1 / n1, v2 / n2);
    let se2 = s1 + s2;
    if se2 <= 0.0 || !se2.is_finite() {
        return None;
    }
    let t = (m1 - m2) / se2.sqrt();
    let df = se2 * se2 / (s1 * s1 / (n1 - 1.0) + s2 * s2 / (n2 - 1.0));
    let p = incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    Some((t, p.clamp(0.0, 1.0)))
}

/// The two-proportion z-test of `x1` of `n1` against `x2` of `n2`: `(z, p)`, or `None` when a
/// side is empty or the pooled share is 0 or 1.
pub fn two_proportion(x1: f64, n1: f64, x2: f64, n2: f64) -> Option<(f64, f64)> {
    if n1 < 1.0 || n2 < 1.0 {
        return None;
    }
    let pooled = (x1 + x2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return None;
    }
    let z = (x1 / n1 - x2 / n2) / se;
    Some((z, erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)))
}

/// erfc(x), |error| < 1.2e-7 (Numerical Recipes' Chebyshev fit).
/// Cohen's κ of two raters' labels on the same items, and the share that agree: `None` for
/// κ when chance agreement is already total (both raters always gave one and the same label).
pub fn cohen_kappa<T: Eq + std::hash::Hash>(pairs: &[(T, T)]) -> (Option<f64>, Option<f64>) {
    if pairs.is_empty() {
        return (None, None);
    }
    let n = pairs.len() as f64;
    let observed = pairs.iter().filter(|(a, b)| a == b).count() as f64 / n;
    let mut first: std::collections::HashMap<&T, f64> = std::collections::HashMap::new();
    let mut second: std::collections::HashMap<&T, f64> = std::collections::HashMap::new();
    for (a, b) in pairs {
        *first.entry(a).or_default() += 1.0;
        *second.entry(b).or_default() += 1.0;
    }
    let chance: f64 = first
        .iter()
        .map(|(label, x)| (x / n) * (second.get(label).copied().unwrap_or(0.0) / n))
        .sum();
    let kappa = (chance < 1.0 - 1e-12).then(|| (observed - chance) / (1.0 - chance));
    (kappa, Some(observed))
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos (g = 7, n = 9).
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function I_x(a, b).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-12 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_match_the_tables() {
        // Two-sided p of the normal at z = 1.96 is 0.05.
        let (_, p) = two_proportion(60.0, 100.0, 46.0, 100.0).unwrap();
        assert!((p - 0.0477).abs() < 0.002, "{p}");
        assert!((erfc(1.96 / std::f64::consts::SQRT_2) - 0.05).abs() < 1e-4);
        // Student's t with 10 degrees of freedom: P(|T| > 2.228) = 0.05.
        let p = incomplete_beta(5.0, 0.5, 10.0 / (10.0 + 2.228 * 2.228));
        assert!((p - 0.05).abs() < 1e-3, "{p}");
        // Welch on equal samples: t = 0, p = 1.
        let (t, p) = welch((10.0, 0.5, 0.01), (10.0, 0.5, 0.01)).unwrap();
        assert!(t.abs() < 1e-12 && (p - 1.0).abs() < 1e-9);
        // Clearly different means: a small p.
        let (t, p) = welch((50.0, 0.8, 0.01), (50.0, 0.7, 0.01)).unwrap();
        assert!(t > 4.0 && p < 1e-4, "{t} {p}");
        assert!(welch((1.0, 0.5, 0.0), (5.0, 0.5, 0.1)).is_none());
        assert!(two_proportion(0.0, 10.0, 0.0, 10.0).is_none());
    }

    #[test]
    fn kappa_matches_the_textbook_example() {
        // 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 → p_o 0.7, p_e 0.5, κ 0.4.
        let mut pairs = Vec::new();
        pairs.extend(std::iter::repeat_n(("yes", "yes"), 20));
        pairs.extend(std::iter::repeat_n(("yes", "no"), 5));
        pairs.extend(std::iter::repeat_n(("no", "yes"), 10));
        pairs.extend(std::iter::repeat_n(("no", "no"), 15));
        let (kappa, observed) = cohen_kappa(&pairs);
        assert!((kappa.unwrap() - 0.4).abs() < 1e-12);
        assert!((observed.unwrap() - 0.7).abs() < 1e-12);
        assert_eq!(cohen_kappa(&[("a", "a"), ("a", "a")]), (None, Some(1.0)));
        assert_eq!(cohen_kappa::<&str>(&[]), (None, None));
    }
}
