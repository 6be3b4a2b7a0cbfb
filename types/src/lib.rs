//! The wire contract shared by the Argus server and the browser.
//!
//! Everything here compiles both natively and to WebAssembly: no I/O, no server-only crates.
#![forbid(unsafe_code)]

mod alerts;
mod auth;
mod dashboard;
mod datasets;
mod error;
mod evals;
mod evaluators;
mod explorer;
mod filters;
mod guardrails;
mod jobs;
mod prices;
mod system;

pub use alerts::{
    AlertBacktest, AlertChannel, AlertDefinition, AlertDelivery, AlertEvent, AlertFeed,
    AlertFilters, AlertInstance, AlertMetric, AlertRule, AlertSilence, AlertState, Budget,
    BudgetScope, ChannelKind, Comparison, GroupBy,
};
pub use auth::{
    ApiKeyInfo, CreatedApiKey, Invitation, InvitationCreated, IssuedToken, LinkInfo, Member,
    ResetLink, Role, Session, SessionInfo, WorkspaceSettings, WorkspaceSummary,
};
pub use dashboard::{
    Activity, ActivityEvent, AgentStat, CostReport, CostRow, CostSeries, FilterOptions,
    GroupSeries, Home, HomeKpis, Kpi, LatencyBin, LatencyPoint, LatencyStat, MonthProjection,
    Performance, SeriesPoint, Timeseries, Unit, UsageBreakdown, UsageRow, Window,
};
pub use datasets::{
    CellScore, ComparedItem, Dataset, DatasetItem, DatasetItemPage, ExperimentRun, ItemsAdded,
    LineError, PairedScore, RunCell, RunComparison, RunScore,
};
pub use error::{ErrorBody, ErrorCode, ErrorEnvelope};
pub use evals::{
    Agreement, AnnotationQueue, Category, ComparedScore, HistBin, LabelCount, QueueItem,
    QueueProgress, Score, ScoreAuthor, ScoreConfig, ScoreFilters, ScoreGroup, ScorePage,
    ScoreSource, ScoreStat, ScoreSummaries, ScoreSummary, ScoreTrend, ScoreType, Significance,
    TrendSeries, VersionComparison,
};
pub use evaluators::{
    Backfill, EvalTarget, Evaluator, EvaluatorFilter, EvaluatorStats, JudgeSettings, Rule,
    RuleField, RuleForm, SpanFacts,
};
pub use explorer::{
    AgentInfo, AgentPage, CursorMeta, PageMeta, ScoreBrief, SessionDetail, SessionPage,
    SessionSummary, SessionTurn, SpanDetail, TraceDeletion, TraceDetail, TraceFilters, TracePage,
    TraceRow, DEFAULT_PAGE_SIZE, PAGE_SIZES,
};
pub use filters::{
    decode_query, encode, Custom, Dim, Dimension, Filters, Notice, Range, Step, FILTER_KEYS,
    MAX_DIM_CHARS, MAX_RANGE_DAYS,
};
pub use guardrails::{
    GuardAction, GuardBucket, GuardCheckRequest, GuardCheckResponse, GuardCount, GuardDecision,
    GuardPolicy, GuardRule, GuardShadow, GuardStage, GuardSummary, GuardViolation,
    PolicyDefinition,
};
pub use jobs::{JobStatus, UnknownStatus};
pub use prices::{PriceJob, Prices, UnpricedModel, WorkspacePrice};
pub use system::{
    ApiOperation, CacheStatus, ConnectInfo, DatabaseStatus, DomainCacheStats, LatestTrace,
    SystemStatus,
};
