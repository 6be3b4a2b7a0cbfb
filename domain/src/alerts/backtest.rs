//! The backtest: how often a draft rule would have fired over the last 7 days, through the
//! same observations and state machine as the live cycle.

use std::collections::{BTreeMap, BTreeSet};

use argus_types::{AlertBacktest, AlertDefinition, AlertState};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use uuid::Uuid;

use super::data;
use super::evaluate::{observations, LiveRule};
use super::state::{self, Current, Observation};
use crate::tenancy::{self, WorkspaceId};
use crate::{Result, Services};

/// How often a draft rule would have fired over the last 7 days: evaluated every hour (every
/// six for guardrail and score metrics) on hourly data, its groups through the state machine.
pub async fn backtest(
    services: &Services,
    ws: WorkspaceId,
    def: &AlertDefinition,
    now: DateTime<Utc>,
) -> Result<AlertBacktest> {
    let def = super::rules::validate(def)?;
    let step = if data::from_rollups(def.metric) {
        TimeDelta::hours(1)
    } else {
        TimeDelta::hours(6)
    };
    let to = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    let from = to - TimeDelta::days(7);
    let window = TimeDelta::seconds(def.window_secs);
    let rule = LiveRule {
        id: Uuid::nil(),
        name: "backtest".into(),
        def: def.clone(),
        channels: Vec::new(),
    };
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    let rows = if data::from_rollups(def.metric) {
        data::fetch(
            &mut tx,
            ws,
            &BTreeSet::new(),
            Some((from - window - TimeDelta::hours(1), to)),
        )
        .await?
    } else {
        Vec::new()
    };
    let mut out = AlertBacktest {
        from,
        to,
        step_seconds: step.num_seconds(),
        ..AlertBacktest::default()
    };
    let mut states: BTreeMap<String, Current> = BTreeMap::new();
    let mut t = from + step;
    while t <= to {
        // Hourly data only: minute rows are taken to be gone.
        let src = data::sources(t - window, t, t);
        let known: Vec<String> = states.keys().cloned().collect();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let seen = observations(&mut tx, ws, &rule, &rows, &src, t, &known).await?;
        let worst = seen
            .values()
            .filter_map(Observation::value)
            .fold(None::<f64>, |acc, v| {
                Some(match (acc, def.op) {
                    (None, _) => v,
                    (Some(a), argus_types::Comparison::Gt | argus_types::Comparison::Gte) => {
                        a.max(v)
                    }
                    (Some(a), _) => a.min(v),
                })
            });
        out.values.push(worst);
        for (group, obs) in seen {
            let cur = states.entry(group).or_insert(Current {
                state: AlertState::Normal,
                since: t,
            });
            if let Some(tr) = state::next(cur, &obs, TimeDelta::seconds(def.for_secs), t, |_| {
                String::new()
            }) {
                if tr.to == AlertState::Firing {
                    out.firings += 1;
                }
                *cur = Current {
                    state: tr.to,
                    since: t,
                };
            }
            if cur.state == AlertState::Firing {
                out.firing_steps += 1;
            }
        }
        out.steps += 1;
        t += step;
    }
    tx.commit().await?;
    out.groups = states.into_keys().filter(|g| !g.is_empty()).collect();
    Ok(out)
}
