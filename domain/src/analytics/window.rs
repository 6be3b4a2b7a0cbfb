//! Resolving a request's filters to a window of whole rollup buckets, a chart step and the
//! previous period; and the same, leniently, for pages (bad values dropped with a notice).

use argus_types::{Filters, Window, DEFAULT_RANGE, RANGES};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::cache::Ttl;
use crate::{Error, Result};

/// The most points a chart gets.
pub const MAX_POINTS: i64 = 150;
/// The longest custom range.
pub const MAX_DAYS: i64 = 400;

/// Dimension filters (all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dims {
    pub dept: Option<String>,
    pub env: Option<String>,
    pub version: Option<String>,
    pub agent: Option<String>,
    pub model: Option<String>,
}

/// Filters resolved against the clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub previous_from: DateTime<Utc>,
    pub step: TimeDelta,
    pub daily: bool,
    pub label: String,
    /// The preset, when one was used.
    pub preset: Option<&'static str>,
    pub dims: Dims,
}

impl Resolved {
    pub fn window(&self) -> Window {
        Window {
            from: self.from,
            to: self.to,
            previous_from: self.previous_from,
            step_seconds: self.step.num_seconds(),
            rollup: if self.daily { "daily" } else { "hourly" }.into(),
            label: self.label.clone(),
        }
    }

    /// The number of chart points.
    pub fn points(&self) -> usize {
        ((self.to - self.from).num_seconds() / self.step.num_seconds()).max(0) as usize
    }

    /// The chart step a bucket of the window falls in.
    pub(super) fn step_of(&self, bucket: DateTime<Utc>) -> Option<usize> {
        (bucket >= self.from && bucket < self.to)
            .then(|| ((bucket - self.from).num_seconds() / self.step.num_seconds()) as usize)
    }

    /// The start of each chart step.
    pub(super) fn steps(&self) -> Vec<DateTime<Utc>> {
        (0..self.points())
            .map(|i| self.from + self.step * i as i32)
            .collect()
    }

    /// The whole UTC days inside the previous period of an hourly window, `[lo, hi)` (empty
    /// when there are none): the previous period needs only its sums, so the workspace totals
    /// read them from the daily table — a row a day instead of 24 (7 d: ~190 rows, not 336).
    pub fn previous_whole_days(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let day = TimeDelta::days(1);
        let floor = |t: DateTime<Utc>| t.duration_trunc(day).unwrap_or(t);
        let lo = floor(self.previous_from);
        let lo = if lo < self.previous_from {
            lo + day
        } else {
            lo
        };
        let hi = floor(self.from);
        if self.daily || hi <= lo {
            (lo, lo)
        } else {
            (lo, hi)
        }
    }

    /// Whether no dimension filter is set (the workspace totals answer).
    pub(super) fn is_unfiltered(&self) -> bool {
        self.dims == Dims::default()
    }

    pub(super) fn total_table(&self) -> &'static str {
        if self.daily {
            "rollup_total_daily"
        } else {
            "rollup_total_hourly"
        }
    }

    pub(super) fn table(&self) -> &'static str {
        if self.daily {
            "rollup_daily"
        } else {
            "rollup_hourly"
        }
    }

    /// What identifies this query in the cache.
    pub(super) fn cache_scope(&self) -> String {
        let d = &self.dims;
        crate::cache::scope(&[
            &self.from.timestamp().to_string(),
            &self.to.timestamp().to_string(),
            &self.step.num_seconds().to_string(),
            d.dept.as_deref().unwrap_or(""),
            d.env.as_deref().unwrap_or(""),
            d.version.as_deref().unwrap_or(""),
            d.agent.as_deref().unwrap_or(""),
            d.model.as_deref().unwrap_or(""),
        ])
    }

    pub(super) fn ttl(&self) -> Ttl {
        match self.preset {
            Some("1h") => Ttl::Hot,
            Some("24h") => Ttl::Warm,
            _ if self.to - self.from <= TimeDelta::hours(48) => Ttl::Warm,
            _ => Ttl::Cold,
        }
    }
}

fn label_of(preset: &str) -> &'static str {
    match preset {
        "1h" => "Last hour",
        "24h" => "Last 24 hours",
        "7d" => "Last 7 days",
        "30d" => "Last 30 days",
        _ => "Last 90 days",
    }
}

/// The smallest step of whole buckets giving at most [`MAX_POINTS`] points.
fn step_for(buckets: i64, bucket: TimeDelta) -> TimeDelta {
    let factors: &[i64] = if bucket == TimeDelta::hours(1) {
        &[1, 2, 3, 4, 6, 12, 24, 48, 168]
    } else {
        &[1, 2, 3, 7, 14, 30]
    };
    let f = factors
        .iter()
        .copied()
        .find(|f| (buckets + f - 1) / f <= MAX_POINTS)
        .unwrap_or(*factors.last().unwrap_or(&1));
    bucket * f as i32
}

fn text_filter(field: &str, value: &Option<String>) -> Result<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > 200 || v.chars().any(char::is_control) => Err(
            Error::invalid_input(field, "at most 200 characters, without control characters"),
        ),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| {
            Error::invalid_input(
                field,
                format!("{value:?} is not a time (RFC 3339, e.g. 2026-11-01T00:00:00Z, or a date)"),
            )
        })
}

/// Resolves `filters` at `now`. Any bad value is an [`Error::InvalidInput`] naming its field
/// (the API's behaviour; pages use [`sanitize`] first).
pub fn resolve(filters: &Filters, now: DateTime<Utc>) -> Result<Resolved> {
    let dims = Dims {
        dept: text_filter("dept", &filters.dept)?,
        env: text_filter("env", &filters.env)?,
        version: text_filter("version", &filters.version)?,
        agent: text_filter("agent", &filters.agent)?,
        model: text_filter("model", &filters.model)?,
    };
    let hour = TimeDelta::hours(1);
    let day = TimeDelta::days(1);
    let custom = filters
        .from
        .as_deref()
        .is_some_and(|f| !f.trim().is_empty())
        || filters.to.as_deref().is_some_and(|t| !t.trim().is_empty());
    if custom {
        let from = parse_time(
            "from",
            filters.from.as_deref().ok_or_else(|| Error::MissingField {
                field: "from".into(),
            })?,
        )?;
        let to = match filters.to.as_deref().map(str::trim) {
            None | Some("") => now,
            Some(t) => parse_time("to", t)?,
        };
        if to <= from {
            return Err(Error::invalid_input("to", "must be after from"));
        }
        if to - from > TimeDelta::days(MAX_DAYS) {
            return Err(Error::invalid_input(
                "from",
                format!("a range is at most {MAX_DAYS} days"),
            ));
        }
        let daily = to - from >= TimeDelta::days(30);
        let bucket = if daily { day } else { hour };
        let from = from.duration_trunc(bucket).unwrap_or(from);
        let to_floor = to.duration_trunc(bucket).unwrap_or(to);
        let to = if to_floor == to {
            to
        } else {
            to_floor + bucket
        };
        let buckets = (to - from).num_seconds() / bucket.num_seconds();
        return Ok(Resolved {
            from,
            to,
            previous_from: from - (to - from),
            step: step_for(buckets, bucket),
            daily,
            label: format!(
                "{} → {}",
                from.format("%Y-%m-%d %H:%M"),
                to.format("%Y-%m-%d %H:%M")
            ),
            preset: None,
            dims,
        });
    }
    let preset = match filters.range.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_RANGE,
        Some(r) => RANGES.into_iter().find(|p| *p == r).ok_or_else(|| {
            Error::invalid_input(
                "range",
                format!("{r:?} is not a range; use one of {}", RANGES.join(", ")),
            )
        })?,
    };
    let (daily, buckets) = match preset {
        "1h" => (false, 2),
        "24h" => (false, 24),
        "7d" => (false, 168),
        "30d" => (true, 30),
        _ => (true, 90),
    };
    let bucket = if daily { day } else { hour };
    let to = now.duration_trunc(bucket).unwrap_or(now) + bucket;
    let from = to - bucket * buckets;
    Ok(Resolved {
        from,
        to,
        previous_from: from - (to - from),
        step: step_for(buckets as i64, bucket),
        daily,
        label: label_of(preset).into(),
        preset: Some(preset),
        dims,
    })
}

/// For pages: the filters with every bad value dropped (back to its default), and a notice
/// per dropped value. Never fails.
pub fn sanitize(filters: &Filters, now: DateTime<Utc>) -> (Filters, Vec<String>) {
    let mut clean = filters.clone();
    let mut notices = Vec::new();
    for _ in 0..8 {
        match resolve(&clean, now) {
            Ok(_) => break,
            Err(Error::InvalidInput { field, message }) => {
                notices.push(format!("Ignored {field}: {message}."));
                match field.as_str() {
                    "range" => clean.range = None,
                    "from" | "to" => {
                        clean.from = None;
                        clean.to = None;
                    }
                    "dept" => clean.dept = None,
                    "env" => clean.env = None,
                    "version" => clean.version = None,
                    "agent" => clean.agent = None,
                    _ => clean.model = None,
                }
            }
            Err(Error::MissingField { .. }) => {
                notices.push("Ignored to: a custom range needs from.".into());
                clean.from = None;
                clean.to = None;
            }
            Err(_) => break,
        }
    }
    (clean, notices)
}
