//! Resolving a request's filters to a window of whole rollup buckets, a chart step and the
//! previous period; and the same, leniently, for pages (bad values dropped with a notice).

use argus_types::{Dimension, Filters, Range, Window};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::cache::Ttl;
use crate::{Error, Result};

/// The most points a chart gets.
pub const MAX_POINTS: i64 = 150;
/// The longest custom range.
pub const MAX_DAYS: i64 = argus_types::MAX_RANGE_DAYS;

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
    pub preset: Option<Range>,
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
    pub(crate) fn step_of(&self, bucket: DateTime<Utc>) -> Option<usize> {
        (bucket >= self.from && bucket < self.to)
            .then(|| ((bucket - self.from).num_seconds() / self.step.num_seconds()) as usize)
    }

    /// The start of each chart step.
    pub(crate) fn steps(&self) -> Vec<DateTime<Utc>> {
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

    /// The whole UTC days inside the window of an hourly window, `[lo, hi)` (`[to, to)` when
    /// there are none, or on daily windows): sums over the window (not per step) read them as
    /// daily rows — 7 d: six days of daily rows and 24 edge hours instead of 168 hours.
    pub fn window_whole_days(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let day = TimeDelta::days(1);
        let floor = |t: DateTime<Utc>| t.duration_trunc(day).unwrap_or(t);
        let lo = if floor(self.from) < self.from {
            floor(self.from) + day
        } else {
            self.from
        };
        let hi = floor(self.to);
        if self.daily || hi <= lo {
            (self.to, self.to)
        } else {
            (lo, hi)
        }
    }

    /// The whole UTC weeks (Monday to Monday) inside a daily window read from the agent
    /// rollup, `[lo, hi)` (`[to, to)` when there are none, on hourly windows, or under an
    /// environment or version filter): sums over the window read them from
    /// `rollup_agent_weekly` (migration 0039) and only the edge days as daily rows — 90 d:
    /// ≤ 24 rows per agent and model instead of 90.
    pub fn window_whole_weeks(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let week = TimeDelta::weeks(1);
        let lo = crate::ingest::rollup::week_start(self.from);
        let lo = if lo < self.from { lo + week } else { lo };
        let hi = crate::ingest::rollup::week_start(self.to);
        if !self.daily || self.reads_detailed() || hi <= lo {
            (self.to, self.to)
        } else {
            (lo, hi)
        }
    }

    /// Whether no dimension filter is set (the workspace totals answer).
    pub(super) fn is_unfiltered(&self) -> bool {
        self.dims == Dims::default()
    }

    /// Whether the only filters are a department and/or an environment (the scope rollups
    /// answer: a row per bucket, department and environment).
    pub(super) fn reads_scope(&self) -> bool {
        let d = &self.dims;
        (d.dept.is_some() || d.env.is_some())
            && d.version.is_none()
            && d.agent.is_none()
            && d.model.is_none()
    }

    /// The scope rollup at the window's granularity (see [`Resolved::reads_scope`]).
    pub(super) fn scope_table(&self) -> &'static str {
        if self.daily {
            "rollup_scope_daily"
        } else {
            "rollup_scope_hourly"
        }
    }

    pub(super) fn total_table(&self) -> &'static str {
        if self.daily {
            "rollup_total_daily"
        } else {
            "rollup_total_hourly"
        }
    }

    /// The narrowest rollup that answers the filters at the window's granularity: the agent
    /// rollup (no environment or version dimension, a sixth of the rows) unless one of those
    /// two is filtered. Its WHERE is [`super::query::window_and_dims`] of it.
    pub(super) fn table(&self) -> &'static str {
        self.table_at(self.daily)
    }

    /// [`Resolved::table`]'s daily table (for whole days of an hourly window).
    pub(super) fn daily_table(&self) -> &'static str {
        self.table_at(true)
    }

    /// The rollup with every dimension (for breakdowns by environment or version).
    pub(super) fn detailed_table(&self) -> &'static str {
        if self.daily {
            "rollup_daily"
        } else {
            "rollup_hourly"
        }
    }

    /// Whether a filter names a dimension only the detailed rollups have (environment,
    /// version): the agent rollups (`rollup_agent_*`) do not answer.
    fn reads_detailed(&self) -> bool {
        self.dims.env.is_some() || self.dims.version.is_some()
    }

    fn table_at(&self, daily: bool) -> &'static str {
        match (self.reads_detailed(), daily) {
            (true, true) => "rollup_daily",
            (true, false) => "rollup_hourly",
            (false, true) => "rollup_agent_daily",
            (false, false) => "rollup_agent_hourly",
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
            Some(Range::LastHour) => Ttl::Hot,
            Some(Range::Last24Hours) => Ttl::Warm,
            _ if self.to - self.from <= TimeDelta::hours(48) => Ttl::Warm,
            _ => Ttl::Cold,
        }
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

impl Dims {
    /// The dimension filters of `filters`.
    pub fn of(filters: &Filters) -> Dims {
        let text = |d: Dimension| filters.dim(d).map(|v| v.as_str().to_owned());
        Dims {
            dept: text(Dimension::Department),
            env: text(Dimension::Environment),
            version: text(Dimension::Version),
            agent: text(Dimension::Agent),
            model: text(Dimension::Model),
        }
    }
}

/// Resolves `filters` at `now`. A value the parse refused, or a custom range that ends before
/// it starts or spans more than [`MAX_DAYS`] once `to` is now, is an [`Error::InvalidInput`]
/// naming its field (the API's behaviour; pages use [`resolve_lenient`]).
pub fn resolve(filters: &Filters, now: DateTime<Utc>) -> Result<Resolved> {
    let filters = filters
        .strict()
        .map_err(|n| Error::invalid_input(&n.field, n.message))?;
    let dims = Dims::of(filters);
    let hour = TimeDelta::hours(1);
    let day = TimeDelta::days(1);
    if let Some(custom) = filters.custom {
        let from = custom.from();
        let to = custom.to().unwrap_or(now);
        if to <= from {
            return Err(Error::invalid_input("from", "must be before now"));
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
    Ok(preset_window(filters.range.unwrap_or_default(), dims, now))
}

/// The window of a preset ending with the current bucket.
fn preset_window(preset: Range, dims: Dims, now: DateTime<Utc>) -> Resolved {
    let (daily, buckets) = match preset {
        Range::LastHour => (false, 2),
        Range::Last24Hours => (false, 24),
        Range::Last7Days => (false, 168),
        Range::Last30Days => (true, 30),
        Range::Last90Days => (true, 90),
    };
    let bucket = if daily {
        TimeDelta::days(1)
    } else {
        TimeDelta::hours(1)
    };
    let to = now.duration_trunc(bucket).unwrap_or(now) + bucket;
    let from = to - bucket * buckets;
    Resolved {
        from,
        to,
        previous_from: from - (to - from),
        step: step_for(buckets as i64, bucket),
        daily,
        label: preset.label().into(),
        preset: Some(preset),
        dims,
    }
}

/// For pages: `filters` resolved with every refused value dropped (back to its default), and
/// a notice per dropped value. Never fails.
pub fn resolve_lenient(filters: &Filters, now: DateTime<Utc>) -> (Resolved, Vec<String>) {
    let (clean, notices) = filters.lenient();
    let mut notices: Vec<String> = notices.iter().map(ToString::to_string).collect();
    match resolve(&clean, now) {
        Ok(r) => (r, notices),
        Err(e) => {
            // Only a custom range can still fail (against the clock): the preset instead.
            notices.push(format!("Ignored from: {e}."));
            let preset = clean.range.unwrap_or_default();
            (preset_window(preset, Dims::of(&clean), now), notices)
        }
    }
}
