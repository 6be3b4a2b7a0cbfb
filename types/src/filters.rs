//! The filter context every dashboard page, the explorer, the export and deletions read: a
//! range preset or a custom `from`/`to`, and the five dimensions.
//!
//! One type from the URL to the SQL. [`Filters::parse`] reads a query (lenient: a bad value is
//! dropped and a [`Notice`] says so); [`Filters::strict`] turns the first notice into an error
//! for API callers that want one. The value writes itself back as a query string
//! ([`Filters::to_query`], `Display`) with the values it refused kept verbatim, so a page's
//! notices survive the trip to the server. Serde reads and writes the same flat map of strings,
//! which is what lets a server function take `Filters` whole (`#[server(flatten)]`).

use std::fmt;

use chrono::{DateTime, DurationRound, NaiveTime, SecondsFormat, TimeDelta, Utc};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest custom range, in days.
pub const MAX_RANGE_DAYS: i64 = 400;
/// The longest dimension value, in characters.
pub const MAX_DIM_CHARS: usize = 200;

/// A range preset: the window ends with the current bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Range {
    LastHour,
    #[default]
    Last24Hours,
    Last7Days,
    Last30Days,
    Last90Days,
}

impl Range {
    /// The presets, in the order the picker shows them.
    pub const ALL: [Range; 5] = [
        Range::LastHour,
        Range::Last24Hours,
        Range::Last7Days,
        Range::Last30Days,
        Range::Last90Days,
    ];

    /// The URL form: `1h`, `24h`, `7d`, `30d`, `90d`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Range::LastHour => "1h",
            Range::Last24Hours => "24h",
            Range::Last7Days => "7d",
            Range::Last30Days => "30d",
            Range::Last90Days => "90d",
        }
    }

    /// What people read: "Last 24 hours".
    pub const fn label(self) -> &'static str {
        match self {
            Range::LastHour => "Last hour",
            Range::Last24Hours => "Last 24 hours",
            Range::Last7Days => "Last 7 days",
            Range::Last30Days => "Last 30 days",
            Range::Last90Days => "Last 90 days",
        }
    }

    /// The preset a URL value names.
    pub fn parse(s: &str) -> Option<Range> {
        Range::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// How long the preset's window is.
    pub fn duration(self) -> TimeDelta {
        match self {
            Range::LastHour => TimeDelta::hours(1),
            Range::Last24Hours => TimeDelta::hours(24),
            Range::Last7Days => TimeDelta::days(7),
            Range::Last30Days => TimeDelta::days(30),
            Range::Last90Days => TimeDelta::days(90),
        }
    }
}

/// Which way [`Filters::stepped`] moves the period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Earlier,
    Later,
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The dimensions a dashboard filters by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    Department,
    Environment,
    Version,
    Agent,
    Model,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Department,
        Dimension::Environment,
        Dimension::Version,
        Dimension::Agent,
        Dimension::Model,
    ];

    /// The query parameter: `dept`, `env`, `version`, `agent`, `model`.
    pub const fn key(self) -> &'static str {
        match self {
            Dimension::Department => "dept",
            Dimension::Environment => "env",
            Dimension::Version => "version",
            Dimension::Agent => "agent",
            Dimension::Model => "model",
        }
    }

    /// "Department".
    pub const fn label(self) -> &'static str {
        match self {
            Dimension::Department => "Department",
            Dimension::Environment => "Environment",
            Dimension::Version => "Version",
            Dimension::Agent => "Agent",
            Dimension::Model => "Model",
        }
    }

    /// The dimension a query parameter names.
    pub fn from_key(key: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.key() == key)
    }
}

/// A dimension value: trimmed, at most [`MAX_DIM_CHARS`] characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dim(String);

impl Dim {
    /// The value, validated; `Ok(None)` when blank.
    pub fn new(value: &str) -> Result<Option<Dim>, String> {
        let v = value.trim();
        if v.is_empty() {
            Ok(None)
        } else if v.chars().count() > MAX_DIM_CHARS || v.chars().any(char::is_control) {
            Err(format!(
                "at most {MAX_DIM_CHARS} characters, without control characters"
            ))
        } else {
            Ok(Some(Dim(v.to_owned())))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Dim> for String {
    fn from(d: Dim) -> String {
        d.0
    }
}

/// A custom range: `from`, and `to` (now when open). `to` is after `from` and the span at most
/// [`MAX_RANGE_DAYS`] (an open range is checked against the clock when it is resolved).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Custom {
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
}

impl Custom {
    pub fn new(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Result<Custom, Notice> {
        if let Some(to) = to {
            if to <= from {
                return Err(Notice::new("to", "", "must be after from"));
            }
            if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
                return Err(Notice::new(
                    "from",
                    "",
                    format!("a range is at most {MAX_RANGE_DAYS} days"),
                ));
            }
        }
        Ok(Custom { from, to })
    }

    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    pub fn to(&self) -> Option<DateTime<Utc>> {
        self.to
    }
}

/// A value the parse refused: which parameter, what it said, and why. `Display` is the
/// sentence pages show: "Ignored range: "2w" is not a range; use one of 1h, 24h, …".
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Notice {
    pub field: String,
    pub value: String,
    pub message: String,
}

impl Notice {
    pub fn new(field: &str, value: &str, message: impl Into<String>) -> Notice {
        Notice {
            field: field.to_owned(),
            value: value.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ignored {}: {}.", self.field, self.message)
    }
}

/// The query parameters [`Filters`] reads, in URL order.
pub const FILTER_KEYS: [&str; 8] = [
    "range", "from", "to", "dept", "env", "version", "agent", "model",
];

/// The filter context, typed. Build it with [`Filters::parse`] or the setters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filters {
    /// The preset (the default when neither it nor a custom range is set).
    pub range: Option<Range>,
    /// A custom range; it wins over `range`.
    pub custom: Option<Custom>,
    pub dept: Option<Dim>,
    pub env: Option<Dim>,
    pub version: Option<Dim>,
    pub agent: Option<Dim>,
    pub model: Option<Dim>,
    /// What the parse refused, verbatim (so the trip to the server reproduces the notices).
    refused: Vec<Notice>,
}

impl Filters {
    /// Reads the filters from a query, given a lookup of its parameters. Blank values are unset;
    /// a bad value is dropped and recorded as a [`Notice`] ([`Filters::notices`]). Never fails.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Filters {
        let mut f = Filters::default();
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if let Some(r) = get("range") {
            match Range::parse(&r) {
                Some(range) => f.range = Some(range),
                None => f.refuse(Notice::new(
                    "range",
                    &r,
                    format!(
                        "{r:?} is not a range; use one of {}",
                        Range::ALL.map(Range::as_str).join(", ")
                    ),
                )),
            }
        }
        match (get("from"), get("to")) {
            (None, None) => {}
            (None, Some(to)) => f.refuse(Notice::new("to", &to, "a custom range needs from")),
            (Some(from), to) => {
                let parsed = parse_time("from", &from).and_then(|from| {
                    let to = to.as_deref().map(|t| parse_time("to", t)).transpose()?;
                    Custom::new(from, to)
                });
                match parsed {
                    Ok(c) => f.custom = Some(c),
                    Err(n) => {
                        // Both halves go (the pair is one setting); the other half is kept
                        // verbatim, without a notice of its own.
                        let raw = |field: &str| {
                            if field == "from" {
                                Some(from.clone())
                            } else {
                                to.clone()
                            }
                        };
                        for field in ["from", "to"] {
                            if let Some(value) = raw(field) {
                                let message = if field == n.field {
                                    n.message.clone()
                                } else {
                                    String::new()
                                };
                                f.refused.push(Notice::new(field, &value, message));
                            }
                        }
                    }
                }
            }
        }
        for d in Dimension::ALL {
            if let Some(v) = get(d.key()) {
                match Dim::new(&v) {
                    Ok(dim) => *f.slot(d) = dim,
                    Err(message) => f.refuse(Notice::new(d.key(), &v, message)),
                }
            }
        }
        f
    }

    /// A query string's filters (`range=7d&dept=support`); other parameters are not filters
    /// and are left to their page.
    pub fn from_query(query: &str) -> Filters {
        let pairs = decode_query(query);
        Filters::parse(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    fn refuse(&mut self, notice: Notice) {
        self.refused.push(notice);
    }

    /// What the parse dropped, one notice each (a refused custom range is one notice).
    pub fn notices(&self) -> Vec<Notice> {
        self.refused
            .iter()
            .filter(|n| !n.message.is_empty())
            .cloned()
            .collect()
    }

    /// The filters, or the first value the parse refused (the API's behaviour).
    pub fn strict(&self) -> Result<&Filters, Notice> {
        match self.notices().into_iter().next() {
            Some(n) => Err(n),
            None => Ok(self),
        }
    }

    /// The filters without the refused values, and a notice for each (the pages' behaviour).
    pub fn lenient(&self) -> (Filters, Vec<Notice>) {
        let notices = self.notices();
        let clean = Filters {
            refused: Vec::new(),
            ..self.clone()
        };
        (clean, notices)
    }

    /// The value of one dimension.
    pub fn dim(&self, d: Dimension) -> Option<&Dim> {
        match d {
            Dimension::Department => self.dept.as_ref(),
            Dimension::Environment => self.env.as_ref(),
            Dimension::Version => self.version.as_ref(),
            Dimension::Agent => self.agent.as_ref(),
            Dimension::Model => self.model.as_ref(),
        }
    }

    fn slot(&mut self, d: Dimension) -> &mut Option<Dim> {
        match d {
            Dimension::Department => &mut self.dept,
            Dimension::Environment => &mut self.env,
            Dimension::Version => &mut self.version,
            Dimension::Agent => &mut self.agent,
            Dimension::Model => &mut self.model,
        }
    }

    /// These filters with one dimension set (a blank or invalid value clears it).
    pub fn with_dim(&self, d: Dimension, value: &str) -> Filters {
        let mut f = self.clone();
        f.refused.retain(|n| n.field != d.key());
        *f.slot(d) = Dim::new(value).ok().flatten();
        f
    }

    /// These filters over a preset (which replaces a custom range).
    pub fn with_range(&self, range: Option<Range>) -> Filters {
        let mut f = self.clone();
        f.refused
            .retain(|n| !matches!(n.field.as_str(), "range" | "from" | "to"));
        f.range = range;
        f.custom = None;
        f
    }

    /// These filters over a custom range (which wins over a preset).
    pub fn with_custom(&self, custom: Custom) -> Filters {
        let mut f = self.with_range(None);
        f.custom = Some(custom);
        f
    }

    /// These filters over no period at all (the default range): what links to a list that has
    /// its own default use.
    pub fn without_period(&self) -> Filters {
        self.with_range(None)
    }

    /// Sets one filter by its query parameter. An unknown parameter is not a filter: nothing
    /// changes and the notice says so (it is never taken for another one).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Notice> {
        if let Some(d) = Dimension::from_key(key) {
            *self = self.with_dim(d, value);
            return Ok(());
        }
        match key {
            "range" => {
                let r = Range::parse(value);
                if r.is_none() && !value.trim().is_empty() {
                    return Err(Notice::new("range", value, "not a range"));
                }
                *self = self.with_range(r);
                Ok(())
            }
            _ => Err(Notice::new(key, value, "not a filter")),
        }
    }

    /// The period these filters show, at `now`: `[from, to)`.
    /// A preset ends now, to the second.
    pub fn period(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let now = now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now);
        match (self.custom, self.preset()) {
            (Some(c), _) => (c.from, c.to.unwrap_or(now).max(c.from)),
            (None, preset) => {
                let d = preset.unwrap_or_default().duration();
                (now - d, now)
            }
        }
    }

    /// These filters over the period of the same length just before (`Earlier`) or after
    /// (`Later`) the current one. Later stops at now: a step that would reach past it shows
    /// the last period of that length up to now (the preset of that length, if there is one);
    /// there is nothing later than a period that already ends now (`None`).
    pub fn stepped(&self, step: Step, now: DateTime<Utc>) -> Option<Filters> {
        let now = now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now);
        let (from, to) = self.period(now);
        // Within a minute of now is now (the page may have been open for a moment).
        let near_now = now - TimeDelta::minutes(1);
        let len = to - from;
        if len <= TimeDelta::zero() {
            return None;
        }
        let until_now = |f: &Filters| match Range::ALL.into_iter().find(|r| r.duration() == len) {
            Some(r) => f.with_range(Some(r)),
            None => f.with_custom(Custom {
                from: now - len,
                to: None,
            }),
        };
        match step {
            Step::Earlier => Custom::new(from - len, Some(from))
                .ok()
                .map(|c| self.with_custom(c)),
            Step::Later if to >= near_now => None,
            Step::Later if to + len >= near_now => Some(until_now(self)),
            Step::Later => Custom::new(to, Some(to + len))
                .ok()
                .map(|c| self.with_custom(c)),
        }
    }

    /// The preset in effect when no custom range is set.
    pub fn preset(&self) -> Option<Range> {
        match self.custom {
            Some(_) => None,
            None => Some(self.range.unwrap_or_default()),
        }
    }

    /// The set filters as `(name, value)` pairs, in URL order, refused values verbatim.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::new();
        let refused = |key: &str| {
            self.refused
                .iter()
                .find(|n| n.field == key)
                .map(|n| n.value.clone())
        };
        for key in FILTER_KEYS {
            let value = match key {
                "range" => self.range.map(|r| r.as_str().to_owned()),
                "from" => self.custom.map(|c| format_time(c.from)),
                "to" => self.custom.and_then(|c| c.to).map(format_time),
                _ => Dimension::from_key(key)
                    .and_then(|d| self.dim(d))
                    .map(|v| v.as_str().to_owned()),
            };
            if let Some(v) = value.or_else(|| refused(key)) {
                out.push((key, v));
            }
        }
        out
    }

    /// Whether no filter at all is set.
    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    /// The query string (`range=24h&dept=support`), percent-encoded.
    pub fn to_query(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Filters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.pairs().into_iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            write!(f, "{k}={}", encode(&v))?;
        }
        Ok(())
    }
}

/// A time as the URL writes it: a date at midnight, else RFC 3339 in UTC.
fn format_time(t: DateTime<Utc>) -> String {
    if t.time() == NaiveTime::MIN {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>, Notice> {
    let v = value.trim();
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            // What a `datetime-local` input submits (no JavaScript): a time without a zone, UTC.
            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"))
                .map(|t| t.and_utc())
        })
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(|d| d.and_time(NaiveTime::MIN).and_utc())
        })
        .map_err(|_| {
            Notice::new(
                field,
                value,
                format!("{value:?} is not a time (RFC 3339, e.g. 2026-11-01T00:00:00Z, or a date)"),
            )
        })
}

impl Serialize for Filters {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pairs = self.pairs();
        let mut map = serializer.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            map.serialize_entry(k, &v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Filters {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Filters, D::Error> {
        struct FiltersVisitor;
        impl<'de> Visitor<'de> for FiltersVisitor {
            type Value = Filters;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of filter parameters")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Filters, A::Error> {
                let mut pairs: Vec<(String, String)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<Text>()?;
                    if let Some(v) = value.0 {
                        pairs.push((key, v));
                    }
                }
                Ok(Filters::parse(|k| {
                    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
                }))
            }
        }
        // A struct, so a flattened `Filters` takes only its own keys from a larger query.
        deserializer.deserialize_struct("Filters", &FILTER_KEYS, FiltersVisitor)
    }
}

/// The query parameters, as the OpenAPI document shows them.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Filters {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Filters".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let time = "RFC 3339 (2026-11-01T00:00:00Z) or a date (2026-11-01)";
        let dim = format!("at most {MAX_DIM_CHARS} characters, no control characters");
        schemars::json_schema!({
            "type": "object",
            "description": "The filter context: a range preset or a custom from/to, and the dimensions. A bad value is a 400 INVALID_INPUT naming it, unless fallback=true (then it is ignored and the answer's notices say so).",
            "properties": {
                "range": {"type": "string", "enum": Range::ALL.map(Range::as_str), "default": Range::default().as_str()},
                "from": {"type": "string", "description": format!("{time}; wins over range")},
                "to": {"type": "string", "description": format!("{time}; default now; at most {MAX_RANGE_DAYS} days after from")},
                "dept": {"type": "string", "description": format!("department: {dim}")},
                "env": {"type": "string", "description": format!("environment: {dim}")},
                "version": {"type": "string", "description": format!("version: {dim}")},
                "agent": {"type": "string", "description": format!("agent id: {dim}")},
                "model": {"type": "string", "description": format!("model: {dim}")}
            }
        })
    }
}

/// Any scalar as text; anything else (a nested map, a list) as nothing — the parse then has
/// nothing to refuse, rather than failing the whole request's arguments.
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
                Text::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `(name, value)` pairs of a query string (`+` is a space; bad escapes kept verbatim).
pub fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Filters {
        Filters::from_query(q)
    }

    #[test]
    fn a_query_round_trips() {
        for q in [
            "",
            "range=7d",
            "range=1h&dept=support&env=prod&version=v2&agent=a%20b%26c&model=gpt-4o",
            "from=2026-11-01&to=2026-11-02T10%3A30%3A00Z&dept=x",
            "from=2026-11-01",
        ] {
            let f = parse(q);
            assert!(f.notices().is_empty(), "{q}: {:?}", f.notices());
            assert_eq!(f.to_query(), q);
            assert_eq!(parse(&f.to_query()), f);
        }
    }

    #[test]
    fn a_form_without_javascript_sends_times_without_a_zone_read_as_utc() {
        let f = parse("from=2026-11-20T10%3A00&to=2026-11-21T08%3A30%3A15&range=24h");
        assert!(f.notices().is_empty(), "{:?}", f.notices());
        let c = f.custom.unwrap();
        assert_eq!(c.from().to_rfc3339(), "2026-11-20T10:00:00+00:00");
        assert_eq!(c.to().unwrap().to_rfc3339(), "2026-11-21T08:30:15+00:00");
        // The custom range wins over the preset the form also sent.
        assert_eq!(f.preset(), None);
    }

    #[test]
    fn a_period_steps_back_and_forward_by_its_length_and_never_past_now() {
        let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // A preset steps back into a custom range of the same length.
        let day = parse("range=24h&dept=support");
        let back = day.stepped(Step::Earlier, now).unwrap();
        assert_eq!(
            back.period(now),
            (t("2026-11-28T12:00:00Z"), t("2026-11-29T12:00:00Z"))
        );
        assert_eq!(back.dept, day.dept);
        // Nothing is later than a period that ends now.
        assert_eq!(day.stepped(Step::Later, now), None);
        // Forward again reaches now: the preset of that length.
        let two_back = back.stepped(Step::Earlier, now).unwrap();
        let fwd = two_back.stepped(Step::Later, now).unwrap();
        assert_eq!(fwd, back);
        assert_eq!(
            back.stepped(Step::Later, now).unwrap().to_query(),
            "range=24h&dept=support"
        );
        // A custom length with no preset ends open ("until now").
        let odd = parse("from=2026-11-29T06:00:00Z&to=2026-11-29T09:00:00Z");
        let later = odd.stepped(Step::Later, now).unwrap();
        assert_eq!(
            later.period(now),
            (t("2026-11-29T09:00:00Z"), t("2026-11-29T12:00:00Z"))
        );
        let (mut last, mut steps) = (later, 0);
        while let Some(next) = last.stepped(Step::Later, now) {
            (last, steps) = (next, steps + 1);
        }
        assert_eq!(
            (steps, last.to_query().as_str()),
            (8, "from=2026-11-30T09%3A00%3A00Z")
        );
        // Stepping back past the longest range's reach is still a valid range.
        let q = parse("range=90d").stepped(Step::Earlier, now).unwrap();
        assert!(q.notices().is_empty());
    }

    #[test]
    fn bad_values_are_dropped_with_a_notice_and_kept_for_the_server() {
        let f = parse("range=2w&dept=ok&from=nope&to=2026-01-01&model=%07x");
        let notices: Vec<String> = f.notices().iter().map(ToString::to_string).collect();
        assert_eq!(notices.len(), 3, "{notices:?}");
        assert!(notices[0].starts_with("Ignored range: \"2w\" is not a range"));
        assert!(notices[1].starts_with("Ignored from: \"nope\" is not a time"));
        assert!(notices[2].starts_with("Ignored model: at most 200"));
        assert_eq!(f.dept.as_ref().map(Dim::as_str), Some("ok"));
        assert_eq!(f.range, None);
        assert_eq!(f.strict().unwrap_err().field, "range");
        // Serialized as the URL said it, so the server's parse says the same.
        assert_eq!(parse(&f.to_query()).notices(), f.notices());
        let (clean, dropped) = f.lenient();
        assert_eq!(dropped.len(), 3);
        assert_eq!(clean.to_query(), "dept=ok");
        assert!(parse("to=2026-01-01").notices()[0]
            .message
            .contains("needs from"));
        assert!(parse("from=2026-01-02&to=2026-01-01").notices()[0]
            .message
            .contains("after from"));
        assert!(parse("from=2020-01-01&to=2026-01-01").notices()[0]
            .message
            .contains("400 days"));
        let long = "x".repeat(201);
        assert_eq!(parse(&format!("agent={long}")).notices()[0].field, "agent");
    }

    #[test]
    fn setters_are_typed_and_unknown_keys_are_not_filters() {
        let f = parse("from=2026-11-01&to=2026-11-02&env=prod");
        let g = f.with_range(Some(Range::Last7Days));
        assert_eq!(g.to_query(), "range=7d&env=prod");
        assert_eq!(
            g.with_dim(Dimension::Agent, "a b").to_query(),
            "range=7d&env=prod&agent=a%20b"
        );
        assert_eq!(
            g.with_dim(Dimension::Environment, "").to_query(),
            "range=7d"
        );
        let mut h = g.clone();
        let n = h.set("colour", "red").unwrap_err();
        assert_eq!(n.to_string(), "Ignored colour: not a filter.");
        assert_eq!(h, g, "an unknown key changes nothing");
        h.set("model", "gpt").unwrap();
        assert_eq!(h.model.as_ref().map(Dim::as_str), Some("gpt"));
        assert_eq!(Range::default().label(), "Last 24 hours");
        assert_eq!(g.preset(), Some(Range::Last7Days));
        assert_eq!(f.preset(), None);
    }

    #[test]
    fn serde_is_the_flat_query_map() {
        let f = parse("range=30d&dept=support&agent=bad%01");
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"range":"30d","dept":"support","agent":"bad\u0001"}"#
        );
        let back: Filters = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        // Scalars of any kind are text; nested values are nothing.
        let odd: Filters =
            serde_json::from_str(r#"{"range":7,"dept":["a"],"env":{"x":1},"zzz":"1"}"#).unwrap();
        assert_eq!(odd.notices()[0].field, "range");
        assert_eq!(odd.env, None);
        assert_eq!(odd.dept, None);
    }

    #[test]
    fn decoding_is_total() {
        assert_eq!(
            decode_query("?a=%41%2&b=x+y&c=%zz&d=%E2%9C%93&e"),
            vec![
                ("a".into(), "A%2".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "%zz".into()),
                ("d".into(), "✓".into()),
                ("e".into(), "".into())
            ]
        );
    }
}
