//! Sums per chart step and over the window, and the KPI cards made of them.

use std::borrow::Cow;
use std::collections::HashMap;

use argus_types::{Kpi, Unit};

use super::query::{agent_names, Row};
use super::window::Resolved;
use crate::histogram::Histogram;

/// Sums over a set of rows.
#[derive(Clone, Debug, Default)]
pub(super) struct Sums {
    pub(super) requests: i64,
    pub(super) errors: i64,
    pub(super) latency_sum_us: i64,
    pub(super) hist: Histogram,
    pub(super) input_tokens: i64,
    pub(super) output_tokens: i64,
    pub(super) cost: f64,
    /// Agents, a bit per index into the names of the rows summed (see [`totals`]).
    pub(super) agents: Vec<u64>,
}

impl Sums {
    pub(super) fn add(&mut self, r: &Row, agents: &[u32]) {
        self.requests += r.requests;
        self.errors += r.errors;
        self.latency_sum_us += r.latency_sum_us;
        self.hist.merge(&r.hist.0);
        self.input_tokens += r.input_tokens;
        self.output_tokens += r.output_tokens;
        self.cost += r.cost;
        for &a in agents {
            let (word, bit) = (a as usize / 64, a % 64);
            if self.agents.len() <= word {
                self.agents.resize(word + 1, 0);
            }
            self.agents[word] |= 1 << bit;
        }
    }

    pub(super) fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 * 100.0 / self.requests as f64)
    }

    pub(super) fn avg_latency_ms(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.latency_sum_us as f64 / self.requests as f64 / 1000.0)
    }

    pub(super) fn p95_ms(&self) -> Option<f64> {
        self.hist.quantile(0.95).map(|us| us / 1000.0)
    }

    pub(super) fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens
    }
}

/// The window's sums, the previous period's, and one per chart step.
pub(super) struct Totals {
    pub(super) current: Sums,
    pub(super) previous: Sums,
    pub(super) steps: Vec<Sums>,
}

pub(super) fn totals(q: &Resolved, rows: &[Row]) -> Totals {
    let mut t = Totals {
        current: Sums::default(),
        previous: Sums::default(),
        steps: vec![Sums::default(); q.points()],
    };
    // Agent names become small numbers once, so the sets per step are cheap to fill.
    fn id<'a>(ids: &mut HashMap<Cow<'a, str>, u32>, name: Cow<'a, str>) -> u32 {
        let next = ids.len() as u32;
        *ids.entry(name).or_insert(next)
    }
    let mut ids: HashMap<Cow<str>, u32> = HashMap::new();
    let mut agents: Vec<u32> = Vec::new();
    for r in rows {
        agents.clear();
        match &r.agents {
            Some(text) => {
                for name in agent_names(text) {
                    agents.push(id(&mut ids, name));
                }
            }
            None if r.requests > 0 || r.spans > 0 => {
                agents.push(id(&mut ids, Cow::Borrowed(&r.agent)));
            }
            None => {}
        }
        if r.bucket < q.from {
            t.previous.add(r, &agents);
            continue;
        }
        t.current.add(r, &agents);
        if let Some(s) = q.step_of(r.bucket).and_then(|i| t.steps.get_mut(i)) {
            s.add(r, &agents);
        }
    }
    t
}

pub(super) fn kpis(q: &Resolved, t: &Totals) -> Vec<Kpi> {
    let calls = q.dims.model.is_some();
    let kpi = |key: &str, label: &str, unit: Unit, f: &dyn Fn(&Sums) -> Option<f64>| Kpi {
        key: key.into(),
        label: label.into(),
        unit,
        value: f(&t.current),
        previous: f(&t.previous),
        spark: t.steps.iter().map(f).collect(),
    };
    vec![
        kpi(
            "requests",
            if calls { "Calls" } else { "Requests" },
            Unit::Count,
            &|s| Some(s.requests as f64),
        ),
        kpi("error_rate", "Error rate", Unit::Percent, &|s| {
            s.error_rate()
        }),
        kpi("avg_latency", "Avg latency", Unit::Ms, &|s| {
            s.avg_latency_ms()
        }),
        kpi("p95_latency", "p95 latency", Unit::Ms, &|s| s.p95_ms()),
        kpi("tokens", "Tokens", Unit::Tokens, &|s| {
            Some(s.tokens() as f64)
        }),
        kpi("cost", "Cost", Unit::Usd, &|s| Some(s.cost)),
        kpi("active_agents", "Active agents", Unit::Count, &|s| {
            Some(s.agents.iter().map(|w| w.count_ones()).sum::<u32>() as f64)
        }),
    ]
}
