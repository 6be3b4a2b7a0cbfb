//! The list's query: parsed from the URL's filters, validated, and sanitized.

use argus_types::{Filters, TraceFilters};
use chrono::{DateTime, Utc};

use super::cursor::{CursorKey, Position, Sort};
use crate::analytics::{self, Resolved};
use crate::{Error, Result};

/// The list's query, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceQuery {
    pub window: Resolved,
    /// `Some(true)`: error traces only; `Some(false)`: traces without errors.
    pub errors: Option<bool>,
    pub session: Option<String>,
    pub user: Option<String>,
    pub min_latency_us: Option<i64>,
    /// USD × 10⁹ (the `cost_nanos` column).
    pub min_cost_nanos: Option<i64>,
    pub tags: Vec<String>,
    pub meta: Option<(String, String)>,
    pub score: Option<ScoreFilter>,
    pub search: Option<String>,
    pub sort: Sort,
    pub limit: u32,
    pub cursor: Option<Position>,
}

/// A trace list filter on a score of the trace or its spans.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreFilter {
    pub name: String,
    /// One of `<`, `<=`, `>`, `>=`, `=`, `<>`.
    pub op: &'static str,
    pub value: ScoreOperand,
}

/// What a score is compared with: its number, or its label (`true`/`false`, a category).
#[derive(Clone, Debug, PartialEq)]
pub enum ScoreOperand {
    Number(f64),
    Label(String),
}

impl ScoreFilter {
    /// `helpfulness<0.5`, `resolved=false`, `tone!=rude`.
    pub fn parse(s: &str) -> Result<ScoreFilter> {
        const OPS: [(&str, &str); 6] = [
            ("<=", "<="),
            (">=", ">="),
            ("!=", "<>"),
            ("<", "<"),
            (">", ">"),
            ("=", "="),
        ];
        let bad = || {
            Error::invalid_input(
                "score",
                "use name, an operator and a value: helpfulness<0.5, resolved=false, tone=rude",
            )
        };
        let (at, token, op) = OPS
            .iter()
            .filter_map(|(token, op)| s.find(token).map(|at| (at, *token, *op)))
            .min_by_key(|(at, token, _)| (*at, std::cmp::Reverse(token.len())))
            .ok_or_else(bad)?;
        let name = s[..at].trim();
        let value = s[at + token.len()..].trim();
        if name.is_empty() || value.is_empty() {
            return Err(bad());
        }
        let value = match value.parse::<f64>() {
            Ok(n) if n.is_finite() => ScoreOperand::Number(n),
            _ if matches!(op, "=" | "<>") => ScoreOperand::Label(value.to_owned()),
            _ => {
                return Err(Error::invalid_input(
                    "score",
                    format!("{value:?} is not a number: only = and != compare labels"),
                ))
            }
        };
        Ok(ScoreFilter {
            name: name.to_owned(),
            op,
            value,
        })
    }
}

const MAX_TEXT: usize = 200;

fn text(field: &str, v: &Option<String>) -> Result<Option<String>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.len() > MAX_TEXT || s.contains('\0') => Err(Error::invalid_input(
            field,
            format!("at most {MAX_TEXT} characters, no NUL"),
        )),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

fn number(field: &str, v: &Option<String>) -> Result<Option<f64>> {
    text(field, v)?
        .map(|s| match s.parse::<f64>() {
            Ok(n) if (0.0..1e12).contains(&n) => Ok(n),
            _ => Err(Error::invalid_input(
                field,
                format!("{s:?} is not a non-negative number"),
            )),
        })
        .transpose()
}

/// Validates the list's parameters. A bad value is an [`Error::InvalidInput`] naming its
/// parameter; a cursor that is not one of ours is [`Error::InvalidFormat`].
pub fn parse(
    filters: &Filters,
    extra: &TraceFilters,
    keys: &CursorKey,
    now: DateTime<Utc>,
) -> Result<TraceQuery> {
    list_query(analytics::resolve(filters, now)?, extra, keys)
}

/// The list's own parameters over a resolved window.
fn list_query(window: Resolved, extra: &TraceFilters, keys: &CursorKey) -> Result<TraceQuery> {
    let errors = match text("status", &extra.status)?.as_deref() {
        None => None,
        Some("error") => Some(true),
        Some("ok") => Some(false),
        Some(other) => {
            return Err(Error::invalid_input(
                "status",
                format!("{other:?} is not a status; use ok or error"),
            ))
        }
    };
    let sort = match text("sort", &extra.sort)? {
        None => Sort::Time,
        Some(s) => Sort::parse(&s).ok_or_else(|| {
            Error::invalid_input(
                "sort",
                format!("{s:?} is not a sort; use time, latency or cost"),
            )
        })?,
    };
    let limit = match text("limit", &extra.limit)? {
        None => argus_types::DEFAULT_PAGE_SIZE,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| argus_types::PAGE_SIZES.contains(n))
            .ok_or_else(|| Error::invalid_input("limit", "a page is 50 or 100 traces"))?,
    };
    let min_latency_us = number("min_latency", &extra.min_latency)?.map(|ms| (ms * 1000.0) as i64);
    let min_cost_nanos = number("min_cost", &extra.min_cost)?.map(|usd| (usd * 1e9).round() as i64);
    let tags = text("tags", &extra.tags)?
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let meta = text("meta", &extra.meta)?
        .map(|m| match m.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(Error::invalid_input("meta", "use key=value")),
        })
        .transpose()?;
    let cursor = match extra.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => {
            let p = keys.decode(c)?;
            if p.sort != sort {
                return Err(Error::InvalidFormat {
                    message: format!(
                        "invalid cursor: it continues the {} sort, not {}",
                        p.sort.as_str(),
                        sort.as_str()
                    ),
                    location: Some("cursor".into()),
                });
            }
            Some(p)
        }
    };
    Ok(TraceQuery {
        window,
        errors,
        session: text("session", &extra.session)?,
        user: text("user", &extra.user)?,
        min_latency_us,
        min_cost_nanos,
        tags,
        meta,
        score: text("score", &extra.score)?
            .map(|s| ScoreFilter::parse(&s))
            .transpose()?,
        search: text("q", &extra.q)?,
        sort,
        limit,
        cursor,
    })
}

/// For pages: the parameters with every bad value dropped, and a notice for each.
pub fn sanitize(
    filters: &Filters,
    extra: &TraceFilters,
    keys: &CursorKey,
    now: DateTime<Utc>,
) -> (TraceQuery, Vec<String>) {
    let (window, mut notices) = analytics::resolve_lenient(filters, now);
    let mut extra = extra.clone();
    loop {
        let e = match list_query(window.clone(), &extra, keys) {
            Ok(q) => return (q, notices),
            Err(e) => e,
        };
        let field = match &e {
            Error::InvalidInput { field, .. } => field.clone(),
            _ => "cursor".to_owned(),
        };
        notices.push(format!("Ignored {field}: {e}."));
        let slot = match field.as_str() {
            "status" => &mut extra.status,
            "session" => &mut extra.session,
            "user" => &mut extra.user,
            "min_latency" => &mut extra.min_latency,
            "min_cost" => &mut extra.min_cost,
            "tags" => &mut extra.tags,
            "meta" => &mut extra.meta,
            "score" => &mut extra.score,
            "q" => &mut extra.q,
            "sort" => &mut extra.sort,
            "limit" => &mut extra.limit,
            _ => &mut extra.cursor,
        };
        if slot.take().is_none() {
            // Nothing left to drop (cannot happen: every error names a set parameter).
            extra = TraceFilters::default();
        }
    }
}
