//! Formatting shared by pages: durations, counts, percentages.

/// `3d 4h`, `2h 5m`, `42s`: the two largest units.
pub fn duration_short(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `part / whole` as a percentage with one decimal, or `–` when `whole` is 0.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_short(0), "0s");
        assert_eq!(duration_short(59), "59s");
        assert_eq!(duration_short(61), "1m 1s");
        assert_eq!(duration_short(3_700), "1h 1m");
        assert_eq!(duration_short(90_000), "1d 1h");
    }

    #[test]
    fn counts_and_ratios() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "–");
    }
}

/// A KPI value in its unit: `1,234`, `4.2%`, `830 ms`, `1.2 s`, `12.3M`, `$1,234.56`.
pub fn value(unit: argus_types::Unit, v: Option<f64>) -> String {
    use argus_types::Unit;
    let Some(v) = v else {
        return "–".to_owned();
    };
    match unit {
        Unit::Count => thousands(v.round().max(0.0) as u64),
        Unit::Percent => format!("{v:.1}%"),
        Unit::Ms if v >= 10_000.0 => format!("{:.1} s", v / 1000.0),
        Unit::Ms if v >= 1_000.0 => format!("{:.2} s", v / 1000.0),
        Unit::Ms => format!("{v:.0} ms"),
        Unit::Tokens => compact(v),
        Unit::Usd if v >= 1_000.0 => format!("${}", thousands(v.round() as u64)),
        Unit::Usd if v >= 1.0 => format!("${v:.2}"),
        Unit::Usd => format!("${v:.4}"),
        Unit::Number if v.abs() >= 100.0 => format!("{v:.0}"),
        Unit::Number => format!("{v:.2}"),
    }
}

/// `950`, `12.3K`, `4.56M`, `1.2B`.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}K", v / 1e3)
    } else {
        thousands(v.round().max(0.0) as u64)
    }
}

/// The change from `previous` to `current`: `+12.5%`, `−3.0%`, or `new` / `–`.
pub fn change(current: Option<f64>, previous: Option<f64>) -> String {
    match (current, previous) {
        (Some(c), Some(p)) if p != 0.0 => {
            let pct = (c - p) / p.abs() * 100.0;
            if pct >= 0.0 {
                format!("+{pct:.1}%")
            } else {
                format!("−{:.1}%", -pct)
            }
        }
        (Some(c), Some(_)) if c != 0.0 => "new".to_owned(),
        _ => "–".to_owned(),
    }
}

#[cfg(test)]
mod kpi_tests {
    use super::*;
    use argus_types::Unit;

    #[test]
    fn kpi_values_read_well() {
        assert_eq!(value(Unit::Count, Some(1234.0)), "1,234");
        assert_eq!(value(Unit::Percent, Some(4.25)), "4.2%");
        assert_eq!(value(Unit::Ms, Some(830.4)), "830 ms");
        assert_eq!(value(Unit::Ms, Some(1830.0)), "1.83 s");
        assert_eq!(value(Unit::Tokens, Some(12_345_678.0)), "12.35M");
        assert_eq!(value(Unit::Usd, Some(1234.5)), "$1,235");
        assert_eq!(value(Unit::Usd, Some(0.01234)), "$0.0123");
        assert_eq!(value(Unit::Ms, None), "–");
        assert_eq!(change(Some(110.0), Some(100.0)), "+10.0%");
        assert_eq!(change(Some(90.0), Some(100.0)), "−10.0%");
        assert_eq!(change(Some(5.0), Some(0.0)), "new");
        assert_eq!(change(None, Some(1.0)), "–");
    }
}

/// A time as the settings tables show it: `2026-11-30 10:42 UTC`.
pub fn date(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
