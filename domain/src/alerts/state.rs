//! The state machine of one alert instance, pure: given where it is and what the evaluation
//! saw, where it goes (Grafana's states: a breach is `pending` for the rule's "for" duration,
//! then `firing`; a firing instance whose condition clears is `resolved`).

use argus_types::AlertState;
use chrono::{DateTime, TimeDelta, Utc};

/// What one evaluation saw for one instance.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// The condition holds at `value`.
    Breach(f64),
    /// The condition does not hold (`value`, when there was one).
    Clear(Option<f64>),
    /// Fewer requests than the rule's minimum (`n` of them): the rule may not fire.
    TooFew {
        value: Option<f64>,
        n: i64,
        min: i64,
    },
    /// Nothing in the window.
    NoData,
    /// The evaluation failed.
    Error(String),
}

impl Observation {
    pub fn value(&self) -> Option<f64> {
        match self {
            Observation::Breach(v) => Some(*v),
            Observation::Clear(v) | Observation::TooFew { value: v, .. } => *v,
            Observation::NoData | Observation::Error(_) => None,
        }
    }
}

/// An instance's stored state.
#[derive(Clone, Debug, PartialEq)]
pub struct Current {
    pub state: AlertState,
    /// When it entered `state`.
    pub since: DateTime<Utc>,
}

/// A change of state, with the reason shown in the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub from: AlertState,
    pub to: AlertState,
    pub reason: String,
}

impl Transition {
    /// Whether receivers hear of it: firing, resolved (from firing), no data and errors.
    pub fn notifies(&self) -> bool {
        match self.to {
            AlertState::Firing | AlertState::NoData | AlertState::Error => true,
            AlertState::Resolved => true,
            AlertState::Normal | AlertState::Pending => false,
        }
    }
}

/// Where an instance in `current` goes after `seen` at `now`, for a rule that must hold `hold`
/// before firing; `None`: it stays. `describe` words the condition ("p95 latency 2,300 > 2,000").
pub fn next(
    current: &Current,
    seen: &Observation,
    hold: TimeDelta,
    now: DateTime<Utc>,
    describe: impl Fn(f64) -> String,
) -> Option<Transition> {
    use AlertState::*;
    let to = |to: AlertState, reason: String| {
        (to != current.state).then_some(Transition {
            from: current.state,
            to,
            reason,
        })
    };
    match seen {
        Observation::Breach(v) => match current.state {
            Firing => None,
            Pending if now - current.since >= hold => to(
                Firing,
                format!(
                    "{} for {}",
                    describe(*v),
                    duration_words(now - current.since)
                ),
            ),
            Pending => None,
            Normal | Resolved | NoData | Error if hold <= TimeDelta::zero() => {
                to(Firing, describe(*v))
            }
            Normal | Resolved | NoData | Error => to(
                Pending,
                format!(
                    "{}; fires if it holds for {}",
                    describe(*v),
                    duration_words(hold)
                ),
            ),
        },
        Observation::Clear(v) => match current.state {
            Firing => to(
                Resolved,
                v.map_or("the condition no longer holds".into(), |v| {
                    format!("back to {}", describe(v))
                }),
            ),
            Pending | NoData | Error => to(
                Normal,
                v.map_or("the condition no longer holds".into(), describe),
            ),
            Normal | Resolved => None,
        },
        Observation::TooFew { n, min, .. } => {
            let why = format!("only {n} requests in the window (the rule needs {min})");
            match current.state {
                Firing => to(Resolved, why),
                Pending | NoData | Error => to(Normal, why),
                Normal | Resolved => None,
            }
        }
        Observation::NoData => to(NoData, "no data in the window".into()),
        Observation::Error(e) => to(Error, e.clone()),
    }
}

/// "5 minutes", "1 hour 30 minutes", "45 seconds".
pub fn duration_words(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    let unit = |n: i64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    match (h, m, sec) {
        (0, 0, s) => unit(s, "second"),
        (0, m, _) => unit(m, "minute"),
        (h, 0, _) => unit(h, "hour"),
        (h, m, _) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlertState::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn step(state: AlertState, since: i64, seen: Observation, hold: i64, now: i64) -> AlertState {
        let current = Current {
            state,
            since: at(since),
        };
        next(&current, &seen, TimeDelta::seconds(hold), at(now), |v| {
            format!("{v} > 1")
        })
        .map_or(state, |t| t.to)
    }

    #[test]
    fn the_table() {
        let breach = || Observation::Breach(5.0);
        let clear = || Observation::Clear(Some(0.5));
        let few = || Observation::TooFew {
            value: Some(9.0),
            n: 3,
            min: 10,
        };
        // (from, entered, seen, for, now) -> to
        let cases: Vec<(AlertState, i64, Observation, i64, i64, AlertState)> = vec![
            (Normal, 0, breach(), 0, 30, Firing),
            (Normal, 0, breach(), 300, 30, Pending),
            (Pending, 30, breach(), 300, 300, Pending),
            (Pending, 30, breach(), 300, 330, Firing),
            (Pending, 30, clear(), 300, 60, Normal),
            (Firing, 0, breach(), 300, 9_000, Firing),
            (Firing, 0, clear(), 300, 60, Resolved),
            (Resolved, 0, clear(), 0, 60, Resolved),
            (Resolved, 0, breach(), 0, 60, Firing),
            (Resolved, 0, breach(), 60, 60, Pending),
            (Normal, 0, Observation::NoData, 0, 60, NoData),
            (Firing, 0, Observation::NoData, 0, 60, NoData),
            (NoData, 0, Observation::NoData, 0, 60, NoData),
            (NoData, 0, clear(), 0, 60, Normal),
            (NoData, 0, breach(), 0, 60, Firing),
            (Normal, 0, Observation::Error("db".into()), 0, 60, Error),
            (Error, 0, clear(), 0, 60, Normal),
            (Normal, 0, few(), 0, 60, Normal),
            (Pending, 0, few(), 0, 60, Normal),
            (Firing, 0, few(), 0, 60, Resolved),
        ];
        for (from, since, seen, hold, now, want) in cases {
            assert_eq!(
                step(from, since, seen.clone(), hold, now),
                want,
                "{from:?} since {since} seeing {seen:?} (for {hold}s) at {now}"
            );
        }
    }

    #[test]
    fn reasons_say_what_and_how_long() {
        let t = next(
            &Current {
                state: Pending,
                since: at(0),
            },
            &Observation::Breach(2300.0),
            TimeDelta::minutes(5),
            at(330),
            |v| format!("p95 latency {v} > 2000"),
        )
        .unwrap();
        assert_eq!(t.to, Firing);
        assert_eq!(t.reason, "p95 latency 2300 > 2000 for 5 minutes");
        assert!(t.notifies());
        assert_eq!(
            duration_words(TimeDelta::seconds(5400)),
            "1 hour 30 minutes"
        );
        assert_eq!(duration_words(TimeDelta::seconds(45)), "45 seconds");
    }
}
