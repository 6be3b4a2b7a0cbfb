//! Alerts and budgets on the wire: a rule's definition, its instances (one a group value) and
//! their state changes, silences, notification channels and deliveries, monthly budgets.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! names {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names!(
    /// What a rule measures over its window.
    AlertMetric {
        Requests = "requests",
        ErrorRate = "error_rate",
        LatencyP50 = "latency_p50",
        LatencyP95 = "latency_p95",
        LatencyP99 = "latency_p99",
        Tokens = "tokens",
        Cost = "cost",
        GuardBlocks = "guard_blocks",
        GuardFlags = "guard_flags",
        ScoreAvg = "score_avg",
        ScoreShare = "score_share",
        NoData = "no_data",
    }
);

impl AlertMetric {
    /// The unit its values are in (for formatting).
    pub fn unit(self) -> crate::Unit {
        use crate::Unit;
        match self {
            AlertMetric::Requests
            | AlertMetric::GuardBlocks
            | AlertMetric::GuardFlags
            | AlertMetric::NoData => Unit::Count,
            AlertMetric::ErrorRate | AlertMetric::ScoreShare => Unit::Percent,
            AlertMetric::LatencyP50 | AlertMetric::LatencyP95 | AlertMetric::LatencyP99 => Unit::Ms,
            AlertMetric::Tokens => Unit::Tokens,
            AlertMetric::Cost => Unit::Usd,
            AlertMetric::ScoreAvg => Unit::Number,
        }
    }

    /// How the value reads: "p95 latency (ms)".
    pub fn label(self) -> &'static str {
        match self {
            AlertMetric::Requests => "requests",
            AlertMetric::ErrorRate => "error rate (%)",
            AlertMetric::LatencyP50 => "p50 latency (ms)",
            AlertMetric::LatencyP95 => "p95 latency (ms)",
            AlertMetric::LatencyP99 => "p99 latency (ms)",
            AlertMetric::Tokens => "tokens",
            AlertMetric::Cost => "cost (USD)",
            AlertMetric::GuardBlocks => "guardrail blocks",
            AlertMetric::GuardFlags => "guardrail flags",
            AlertMetric::ScoreAvg => "score average",
            AlertMetric::ScoreShare => "score share (%)",
            AlertMetric::NoData => "requests (fires at none)",
        }
    }
}

names!(
    /// How the value is compared with the threshold.
    Comparison {
        Gt = "gt",
        Gte = "gte",
        Lt = "lt",
        Lte = "lte",
    }
);

impl Comparison {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Gt => value > threshold,
            Comparison::Gte => value >= threshold,
            Comparison::Lt => value < threshold,
            Comparison::Lte => value <= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Gt => ">",
            Comparison::Gte => "≥",
            Comparison::Lt => "<",
            Comparison::Lte => "≤",
        }
    }
}

names!(
    /// The dimension a rule makes one instance per value of.
    GroupBy {
        Agent = "agent",
        Department = "department",
        Model = "model",
        Environment = "environment",
        Version = "version",
    }
);

names!(
    /// An instance's state. `resolved` is where a firing instance goes when its condition
    /// clears (and stays until it breaches again).
    AlertState {
        Normal = "normal",
        Pending = "pending",
        Firing = "firing",
        Resolved = "resolved",
        NoData = "no_data",
        Error = "error",
    }
);

names!(
    /// Where notifications go.
    ChannelKind {
        Webhook = "webhook",
        Slack = "slack",
        Email = "email",
    }
);

names!(
    /// What a budget covers.
    BudgetScope {
        Workspace = "workspace",
        Department = "department",
        Agent = "agent",
    }
);

/// The dashboard filters a rule is scoped by (all optional; exact values).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertFilters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// What a rule checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertDefinition {
    pub metric: AlertMetric,
    /// 300 (5 minutes) to 604,800 (7 days).
    pub window_secs: i64,
    #[serde(default)]
    pub filters: AlertFilters,
    pub op: Comparison,
    pub threshold: f64,
    /// Fewer requests than this in the window: the rule does not fire (0: any).
    #[serde(default)]
    pub min_requests: i64,
    /// How long the condition must hold before the instance fires (0: at once).
    #[serde(default)]
    pub for_secs: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<GroupBy>,
    /// For `score_avg` and `score_share`: the score's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_name: Option<String>,
    /// For `score_share`: the label whose share is measured ("fail", "false", …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_label: Option<String>,
    /// While firing, notify again after this long (0: once).
    #[serde(default = "default_repeat")]
    pub repeat_secs: i64,
}

fn default_repeat() -> i64 {
    4 * 3600
}

/// A rule, with its instances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertRule {
    pub id: Uuid,
    pub name: String,
    pub definition: AlertDefinition,
    pub channels: Vec<Uuid>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The worst state of its instances (`normal` without any).
    pub state: AlertState,
    pub instances: Vec<AlertInstance>,
}

/// One rule's state for one group value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertInstance {
    pub rule_id: Uuid,
    pub rule_name: String,
    /// `''` for a rule without group-by.
    pub group_value: String,
    pub state: AlertState,
    pub since: DateTime<Utc>,
    pub value: Option<f64>,
    pub threshold: f64,
    pub metric: AlertMetric,
    pub reason: String,
    pub evaluated_at: DateTime<Utc>,
    pub acked_at: Option<DateTime<Utc>>,
    /// The dashboard and the traces of the rule's filters and window (and the group value).
    pub dashboard_link: String,
    pub traces_link: String,
}

/// One state change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub rule_id: Uuid,
    pub rule_name: String,
    pub group_value: String,
    pub from_state: AlertState,
    pub to_state: AlertState,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub reason: String,
    /// "2 deliveries queued", "silenced", "no channel".
    pub notified: String,
}

/// A silence: notifications of matching instances are not sent until it ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertSilence {
    pub id: Uuid,
    /// None: every rule.
    pub rule_id: Option<Uuid>,
    pub rule_name: Option<String>,
    /// None: every group value.
    pub group_value: Option<String>,
    pub comment: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub active: bool,
}

/// A notification channel (a webhook's URL shown, a Slack URL masked; never a secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertChannel {
    pub id: Uuid,
    pub name: String,
    pub kind: ChannelKind,
    pub target: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failures: i32,
    pub created_at: DateTime<Utc>,
    /// Only in the answer to its creation: the webhook's signing secret, shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// One notification's delivery to one channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertDelivery {
    /// Also the idempotency key the receiver gets.
    pub id: Uuid,
    pub channel_id: Uuid,
    pub channel_name: String,
    pub rule_id: Option<Uuid>,
    pub group_value: String,
    pub event: String,
    /// `queued`, `sending`, `delivered` or `dead` (dead letters: given up).
    pub status: String,
    pub attempts: i32,
    pub next_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A monthly budget and where the month stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Budget {
    pub id: Uuid,
    pub scope: BudgetScope,
    /// `''` for the workspace.
    pub scope_value: String,
    pub amount_usd: f64,
    pub channels: Vec<Uuid>,
    /// The month (UTC) these figures are for.
    pub month: NaiveDate,
    pub spent_usd: f64,
    /// The month's projected spend (the cost page's method).
    pub forecast_usd: f64,
    /// The day the projection crosses the budget, when it does this month.
    pub exceeds_on: Option<NaiveDate>,
    /// The levels announced this month: "50", "80", "100", "forecast".
    pub notices: Vec<String>,
}

/// How often a draft rule would have fired.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertBacktest {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub step_seconds: i64,
    /// Times an instance went to `firing`.
    pub firings: usize,
    /// Evaluations (of all instances) spent firing.
    pub firing_steps: usize,
    pub steps: usize,
    /// The ungrouped value (or the worst group's) at each step.
    pub values: Vec<Option<f64>>,
    pub groups: Vec<String>,
}

/// The home page's card and the header's bell: what is firing and pending now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertFeed {
    pub firing: Vec<AlertInstance>,
    pub pending: Vec<AlertInstance>,
    /// Budgets past 80 % of the month or forecast to exceed it.
    pub budgets: Vec<Budget>,
}
