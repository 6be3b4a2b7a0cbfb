//! Times as people read them: in UTC or in the browser's time zone. The choice is a preference
//! kept with the others in localStorage ([`crate::state::prefs`], which also renders times
//! through it: `when`). The server always renders UTC (it does not know the browser's zone).

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Which clock times are shown in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeZone {
    #[default]
    Utc,
    /// The browser's own zone (UTC on the server and in tests outside a browser).
    Browser,
}

/// What a `datetime-local` input holds: a wall-clock time to the minute.
const INPUT_FORMAT: &str = "%Y-%m-%dT%H:%M";

impl TimeZone {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeZone::Utc => "utc",
            TimeZone::Browser => "browser",
        }
    }

    /// Minutes the wall clock is ahead of UTC at `t`.
    pub fn offset_minutes(self, t: DateTime<Utc>) -> i64 {
        match self {
            TimeZone::Utc => 0,
            TimeZone::Browser => browser_offset_minutes(t),
        }
    }

    /// `t` on this zone's wall clock.
    pub fn wall(self, t: DateTime<Utc>) -> NaiveDateTime {
        t.naive_utc() + TimeDelta::minutes(self.offset_minutes(t))
    }

    /// "UTC", or the offset at `t`: "UTC+05:30", "UTC−03:00".
    pub fn zone_label(self, t: DateTime<Utc>) -> String {
        match self.offset_minutes(t) {
            0 => "UTC".to_owned(),
            m => format!(
                "UTC{}{:02}:{:02}",
                if m < 0 { '−' } else { '+' },
                m.abs() / 60,
                m.abs() % 60
            ),
        }
    }

    /// `t` in chrono's `fmt`, on this zone's clock; `%Z` is the zone label.
    pub fn format(self, t: DateTime<Utc>, fmt: &str) -> String {
        let text = self.wall(t).format(&fmt.replace("%Z", "\u{0}")).to_string();
        if text.contains('\u{0}') {
            text.replace('\u{0}', &self.zone_label(t))
        } else {
            text
        }
    }

    /// The value of a `datetime-local` input showing `t`.
    pub fn input_value(self, t: DateTime<Utc>) -> String {
        self.wall(t).format(INPUT_FORMAT).to_string()
    }

    /// The instant a `datetime-local` input's value names on this zone's clock (`None` when it
    /// is blank or not a time). A wall time that a daylight-saving change skips or repeats
    /// takes the offset in effect just after it.
    pub fn from_input(self, value: &str) -> Option<DateTime<Utc>> {
        let v = value.trim();
        let naive = NaiveDateTime::parse_from_str(v, INPUT_FORMAT)
            .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"))
            .ok()?;
        let guess = naive.and_utc();
        let first = guess - TimeDelta::minutes(self.offset_minutes(guess));
        Some(guess - TimeDelta::minutes(self.offset_minutes(first)))
    }
}

#[cfg(feature = "browser")]
fn browser_offset_minutes(t: DateTime<Utc>) -> i64 {
    let date = js_sys::Date::new(&leptos::wasm_bindgen::JsValue::from_f64(
        t.timestamp_millis() as f64,
    ));
    // getTimezoneOffset is UTC minus local, in minutes.
    -(date.get_timezone_offset() as i64)
}

#[cfg(not(feature = "browser"))]
fn browser_offset_minutes(_: DateTime<Utc>) -> i64 {
    0
}

/// The browser's zone name ("Europe/Berlin"), when it says.
pub fn browser_zone_name() -> Option<String> {
    #[cfg(feature = "browser")]
    {
        let options =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
                .resolved_options();
        js_sys::Reflect::get(&options, &"timeZone".into())
            .ok()
            .and_then(|v| v.as_string())
    }
    #[cfg(not(feature = "browser"))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_and_reads_back_a_wall_clock_time() {
        let t: DateTime<Utc> = "2026-11-30T10:42:07Z".parse().unwrap();
        let tz = TimeZone::Utc;
        assert_eq!(tz.format(t, "%Y-%m-%d %H:%M %Z"), "2026-11-30 10:42 UTC");
        assert_eq!(tz.format(t, "%b %-d"), "Nov 30");
        assert_eq!(tz.input_value(t), "2026-11-30T10:42");
        assert_eq!(
            tz.from_input("2026-11-30T10:42"),
            Some("2026-11-30T10:42:00Z".parse().unwrap())
        );
        assert_eq!(tz.from_input(""), None);
        assert_eq!(tz.from_input("tomorrow"), None);
        // Outside a browser, the browser's zone is UTC.
        assert_eq!(TimeZone::Browser.zone_label(t), "UTC");
        let stored = serde_json::to_string(&TimeZone::Browser).unwrap();
        assert_eq!(stored, "\"browser\"");
    }
}
