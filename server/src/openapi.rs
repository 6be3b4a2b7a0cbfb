//! The OpenAPI 3.1 document of the public API, served at `GET /api/v1/openapi.json` and shown
//! at `/docs/api`.
//!
//! Generated, not written: every response and body schema is derived (schemars) from the very
//! types the handlers return and read; every server function's parameters are read off its
//! argument struct (the field names serde expects, which of them are required, what each
//! accepts). The table below only names each route's handler types, tag, access and a summary;
//! `server/tests/openapi.rs` fails when a route exists without an entry here.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use app::api::{
    alerts, datasets, docs, evals, explorer, guardrails, invitations, keys, members, metrics,
    prices, queues, session, system, workspace,
};
use argus_domain::ingest::native::NativeBatch;
use argus_domain::ingest::BatchOutcome;
use argus_types as t;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

/// The document's tags, in the order a reader meets them.
pub const TAGS: [&str; 10] = [
    "dashboard",
    "traces",
    "agents",
    "ingest",
    "prices",
    "auth",
    "members",
    "api-keys",
    "workspace",
    "system",
];

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A signed-in member with at least this role (or an API key with the matching scope:
    /// `read` for viewer, `admin` for admin and owner).
    Member(t::Role),
    /// A signed-in user (a session, not an API key), any role.
    User,
    /// An API key with the `ingest` scope (or a member's session).
    Ingest,
    /// An API key with the `score` scope (or a member's session).
    Score,
    /// An API key with the `guardrail` scope (or a member's session).
    Guardrail,
}

/// One operation of the document.
pub struct Operation {
    pub method: &'static str,
    pub path: String,
    pub tag: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub deprecated: bool,
    op: Value,
}

/// A server function's argument struct, read through serde: its fields, which are required,
/// and what each accepts (`string`, `integer`, `boolean`, `array`).
#[derive(Debug, Default, PartialEq)]
pub struct Fields {
    pub fields: Vec<(String, &'static str, bool)>,
}

/// The candidate values a probe tries for one field, and the type each one shows.
type Candidate = (&'static str, fn() -> Value);
const CANDIDATES: [Candidate; 5] = [
    ("string", || json!("1")),
    ("uuid", || json!("00000000-0000-0000-0000-000000000000")),
    ("integer", || json!(1)),
    ("boolean", || json!(true)),
    ("array", || json!(["1"])),
];

/// Reads the fields of `A` through serde: the names it declares (a struct's `FIELDS`), then
/// a probe per field for what it accepts and whether it is required. `extra` names fields a
/// flattened struct hides from the declaration.
pub fn fields_of<A: DeserializeOwned>(extra: &[&'static str]) -> Fields {
    let mut names: Vec<String> = declared::<A>().iter().map(|f| (*f).to_owned()).collect();
    for e in extra {
        if !names.iter().any(|n| n == e) {
            names.push((*e).to_owned());
        }
    }
    // Required: what an empty object lacks, one at a time, each given a value it accepts.
    let mut base = Map::new();
    let mut required = Vec::new();
    for _ in 0..32 {
        let Err(e) = serde_json::from_value::<A>(Value::Object(base.clone())) else {
            break;
        };
        let message = e.to_string();
        let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        else {
            break;
        };
        let accepted = CANDIDATES.iter().find_map(|(_, v)| {
            let mut tried = base.clone();
            tried.insert(missing.to_owned(), v());
            // Accepted: the struct is whole, or it now lacks only another field.
            let ok = match serde_json::from_value::<A>(Value::Object(tried)) {
                Ok(_) => true,
                Err(e) => {
                    let e = e.to_string();
                    e.starts_with("missing field `") && !e.contains(&format!("`{missing}`"))
                }
            };
            ok.then(v)
        });
        base.insert(missing.to_owned(), accepted.unwrap_or_else(|| json!("1")));
        required.push(missing.to_owned());
        if !names.iter().any(|n| n == missing) {
            names.push(missing.to_owned());
        }
    }
    let fields = names
        .into_iter()
        .map(|name| {
            let kind = CANDIDATES
                .iter()
                .find(|(_, v)| {
                    let mut tried = base.clone();
                    tried.insert(name.clone(), v());
                    serde_json::from_value::<A>(Value::Object(tried)).is_ok()
                })
                .map_or("string", |(k, _)| *k);
            let is_required = required.contains(&name);
            (name, kind, is_required)
        })
        .collect();
    Fields { fields }
}

/// The field names a struct declares to serde (empty for a map, or a struct with a flattened
/// field, which declares none).
fn declared<A: DeserializeOwned>() -> &'static [&'static str] {
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl std::error::Error for Found {}
    impl serde::de::Error for Found {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Found(&[])
        }
    }
    struct Recorder;
    impl<'de> serde::Deserializer<'de> for Recorder {
        type Error = Found;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    match A::deserialize(Recorder) {
        Err(Found(fields)) => fields,
        Ok(_) => &[],
    }
}

/// The document's operations.
pub struct Builder {
    generator: SchemaGenerator,
    ops: Vec<Operation>,
}

impl Builder {
    fn new() -> Builder {
        let mut settings = SchemaSettings::draft2020_12();
        settings.definitions_path = "/components/schemas".into();
        Builder {
            generator: settings.into_generator(),
            ops: Vec::new(),
        }
    }

    fn schema<T: JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    /// A server function: `GET` arguments as query parameters, `POST` ones as a form or JSON
    /// body; the answer as JSON.
    fn function<A: DeserializeOwned, R: JsonSchema>(
        &mut self,
        method: &'static str,
        endpoint: &'static str,
        tag: &'static str,
        access: Access,
        summary: &'static str,
        flattened: Flattened,
    ) -> &mut Self {
        let fields = fields_of::<A>(flattened.own);
        let mut params: Vec<Value> = Vec::new();
        let mut props = Map::new();
        let mut required = Vec::new();
        for (name, kind, is_required) in &fields.fields {
            let schema = match *kind {
                "array" => json!({"type": "array", "items": {"type": "string"}}),
                "uuid" => json!({"type": "string", "format": "uuid"}),
                k => json!({ "type": k }),
            };
            if method == "GET" {
                params.push(
                    json!({"name": name, "in": "query", "required": is_required, "schema": schema}),
                );
            } else {
                props.insert(name.clone(), schema);
                if *is_required {
                    required.push(name.clone());
                }
            }
        }
        for extra in flattened.schemas(&mut self.generator) {
            let Some(Value::Object(extra_props)) = extra.get("properties").cloned() else {
                continue;
            };
            for (name, schema) in extra_props {
                if method == "GET" {
                    params.push(
                        json!({"name": name, "in": "query", "required": false, "schema": schema}),
                    );
                } else {
                    props.insert(name, schema);
                }
            }
        }
        let mut op = json!({
            "parameters": params,
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": self.schema::<R>()}}}},
        });
        if method == "POST" {
            let body = json!({"type": "object", "properties": props, "required": required});
            op["requestBody"] = json!({"required": true, "content": {
                "application/x-www-form-urlencoded": {"schema": body},
                "application/json": {"schema": body}
            }});
        }
        self.push(
            method,
            format!("/api/v1/{endpoint}"),
            tag,
            access,
            summary,
            op,
        )
    }

    fn push(
        &mut self,
        method: &'static str,
        path: String,
        tag: &'static str,
        access: Access,
        summary: &'static str,
        op: Value,
    ) -> &mut Self {
        self.ops.push(Operation {
            method,
            path,
            tag,
            summary,
            access,
            deprecated: false,
            op,
        });
        self
    }

    /// Marks the last operation deprecated, naming its successor.
    fn deprecated(&mut self, successor: &'static str) -> &mut Self {
        if let Some(last) = self.ops.last_mut() {
            last.deprecated = true;
            last.op["description"] = json!(format!("Deprecated: use `{successor}`."));
        }
        self
    }
}

/// What a server function's argument struct flattens in (its own fields stay hidden from
/// serde's declaration then, so they are named here and probed like the rest).
#[derive(Clone, Copy, Default)]
struct Flattened {
    filters: bool,
    list: bool,
    /// The scores list's own filters ([`t::ScoreFilters`]).
    scores: bool,
    own: &'static [&'static str],
}

impl Flattened {
    const NONE: Flattened = Flattened {
        filters: false,
        list: false,
        scores: false,
        own: &[],
    };

    fn filters(own: &'static [&'static str]) -> Flattened {
        Flattened {
            filters: true,
            list: false,
            scores: false,
            own,
        }
    }

    fn schemas(&self, g: &mut SchemaGenerator) -> Vec<Value> {
        let mut out = Vec::new();
        if self.filters {
            out.push(t::Filters::json_schema(g).to_value());
        }
        if self.list {
            out.push(t::TraceFilters::json_schema(g).to_value());
        }
        if self.scores {
            out.push(t::ScoreFilters::json_schema(g).to_value());
        }
        out
    }
}

#[rustfmt::skip]
fn operations() -> Builder {
    use t::Role::{Admin, Owner, Viewer};
    use Access::{Member, Public, Score, User};
    let filters = Flattened::filters(&["fallback"]);
    let list = Flattened {
        list: true,
        ..Flattened::filters(&["fallback"])
    };
    let mut b = Builder::new();
    b.function::<metrics::GetHome, t::Home>("GET", "metrics/home", "dashboard", Member(Viewer), "The home page in one answer: KPIs, time series, activity", filters)
        .function::<metrics::GetHomeKpis, t::HomeKpis>("GET", "metrics/home-kpis", "dashboard", Member(Viewer), "KPIs over the window with the previous period and sparklines", filters)
        .function::<metrics::GetTimeseries, t::Timeseries>("GET", "metrics/timeseries", "dashboard", Member(Viewer), "Requests, errors, tokens, cost and latency per chart step", filters)
        .function::<metrics::GetFilterOptions, t::FilterOptions>("GET", "metrics/filter-options", "dashboard", Member(Viewer), "The values each filter offers", Flattened::NONE)
        .function::<metrics::GetUsageBreakdown, t::UsageBreakdown>("GET", "usage/breakdown", "dashboard", Member(Viewer), "Usage split by department, agent or model", Flattened::filters(&["by", "fallback"]))
        .function::<metrics::GetCostReport, t::CostReport>("GET", "cost/breakdown", "dashboard", Member(Viewer), "Cost over time and by department, model and agent, with the month's projection", filters)
        .function::<metrics::GetPerformance, t::Performance>("GET", "performance/latency", "dashboard", Member(Viewer), "Latency percentiles, error rate, distribution, slowest agents and models", filters)
        .function::<metrics::GetActivity, t::Activity>("GET", "activity", "dashboard", Member(Viewer), "Notable events over the window, newest first", filters)
        .function::<explorer::GetTraces, t::TracePage>("GET", "traces", "traces", Member(Viewer), "One cursor page of traces", list)
        .function::<explorer::GetTrace, t::TraceDetail>("GET", "traces/get", "traces", Member(Viewer), "One trace with a page of its spans", Flattened::NONE)
        .deprecated("GET /api/v1/traces/{id}")
        .function::<explorer::DeleteTraces, t::TraceDeletion>("POST", "traces/delete", "traces", Member(Admin), "Delete one trace or every trace matching the list's filters (a background job)", Flattened { list: true, ..Flattened::filters(&["trace_id"]) })
        .function::<explorer::GetDeletions, Vec<t::TraceDeletion>>("GET", "traces/deletions", "traces", Member(Viewer), "The latest deletions and their progress", Flattened::NONE)
        .function::<explorer::GetSessions, t::SessionPage>("GET", "sessions", "traces", Member(Viewer), "Sessions active in the window, 50 a page", Flattened::filters(&["page", "fallback"]))
        .function::<explorer::GetSession, t::SessionDetail>("GET", "sessions/get", "traces", Member(Viewer), "One session's traces in order", Flattened::NONE)
        .deprecated("GET /api/v1/sessions/{id}")
        .function::<explorer::GetAgents, t::AgentPage>("GET", "agents", "agents", Member(Viewer), "The agents registry, most recently seen first", Flattened::NONE)
        .function::<explorer::GetAgent, t::AgentInfo>("GET", "agents/get", "agents", Member(Viewer), "One agent of the registry", Flattened::NONE)
        .deprecated("GET /api/v1/agents/{id}")
        .function::<explorer::UpdateAgent, ()>("POST", "agents/update", "agents", Member(Admin), "Set an agent's department and display name", Flattened::NONE)
        .function::<prices::GetPrices, t::Prices>("GET", "prices", "prices", Member(Viewer), "The workspace's prices and the models without one", Flattened::NONE)
        .function::<prices::SetPrice, t::PriceJob>("POST", "prices/set", "prices", Member(Admin), "Set a model's price (USD per million tokens); re-prices past spans", Flattened::NONE)
        .function::<prices::RemovePrice, t::PriceJob>("POST", "prices/remove", "prices", Member(Admin), "Remove a model's price; re-prices past spans", Flattened::NONE)
        .function::<session::SignUp, ()>("POST", "auth/signup", "auth", Public, "Create an account and its workspace (when sign-up is open)", Flattened::NONE)
        .function::<session::LogIn, ()>("POST", "auth/login", "auth", Public, "Log in: sets the session cookie", Flattened::NONE)
        .function::<session::IssueToken, t::IssuedToken>("POST", "auth/token", "auth", Public, "Exchange an email and password for a bearer token", Flattened::NONE)
        .function::<session::LogOut, ()>("POST", "auth/logout", "auth", Public, "End this session", Flattened::NONE)
        .function::<session::LogOutEverywhere, ()>("POST", "auth/logout-everywhere", "auth", User, "End every session of this user", Flattened::NONE)
        .function::<session::ChangePassword, usize>("POST", "auth/password", "auth", User, "Change the password (ends the other sessions; answers how many)", Flattened::NONE)
        .function::<session::ListSessions, Vec<t::SessionInfo>>("GET", "auth/sessions", "auth", User, "This user's sessions", Flattened::NONE)
        .function::<session::ResetPassword, ()>("POST", "auth/reset-password", "auth", Public, "Set a new password with a reset link's token", Flattened::NONE)
        .function::<session::SwitchWorkspace, ()>("POST", "auth/switch", "auth", User, "Switch the session to another of the user's workspaces", Flattened::NONE)
        .function::<session::CreateWorkspace, ()>("POST", "workspaces/create", "workspace", User, "Create a workspace owned by this user", Flattened::NONE)
        .function::<session::GetSession, t::Session>("GET", "auth/session", "auth", Member(Viewer), "The caller: user, workspace and role", Flattened::NONE)
        .function::<session::CurrentSession, Option<t::Session>>("GET", "auth/current", "auth", Public, "The caller, or null when signed out", Flattened::NONE)
        .function::<invitations::MyInvitations, Vec<t::Invitation>>("GET", "invitations", "members", User, "The signed-in user's pending invitations", Flattened::NONE)
        .function::<invitations::AcceptInvitation, ()>("POST", "invitations/accept", "members", User, "Accept an invitation", Flattened::NONE)
        .function::<invitations::DeclineInvitation, ()>("POST", "invitations/decline", "members", User, "Decline an invitation", Flattened::NONE)
        .function::<invitations::InvitationLink, t::LinkInfo>("GET", "invitations/link", "members", Public, "What an invitation link invites to", Flattened::NONE)
        .function::<invitations::SignUpWithInvitation, ()>("POST", "invitations/signup", "members", Public, "Create an account through an invitation link", Flattened::NONE)
        .function::<keys::ListApiKeys, Vec<t::ApiKeyInfo>>("GET", "api-keys", "api-keys", Member(Viewer), "The workspace's API keys (never the secrets)", Flattened::NONE)
        .function::<keys::CreateApiKey, t::CreatedApiKey>("POST", "api-keys/create", "api-keys", Member(Admin), "Create an API key (the secret is shown once)", Flattened::NONE)
        .function::<keys::RevokeApiKey, ()>("POST", "api-keys/revoke", "api-keys", Member(Admin), "Revoke an API key", Flattened::NONE)
        .function::<keys::TakeNewKey, Option<String>>("GET", "api-keys/flash", "api-keys", Member(Admin), "The secret of the key just created by a form post, once", Flattened::NONE)
        .function::<members::ListMembers, Vec<t::Member>>("GET", "members", "members", Member(Viewer), "The workspace's members", Flattened::NONE)
        .function::<members::AddMember, t::InvitationCreated>("POST", "members/add", "members", Member(Admin), "Invite someone by email", Flattened::NONE)
        .function::<members::ListInvitations, Vec<t::Invitation>>("GET", "members/invitations", "members", Member(Admin), "The workspace's pending invitations", Flattened::NONE)
        .function::<members::RevokeInvitation, ()>("POST", "members/invitations/revoke", "members", Member(Admin), "Revoke an invitation", Flattened::NONE)
        .function::<members::ResetMemberPassword, t::ResetLink>("POST", "members/reset-password", "members", Member(Admin), "A password reset link for a member", Flattened::NONE)
        .function::<members::SetMemberRole, t::Member>("POST", "members/role", "members", Member(Owner), "Change a member's role", Flattened::NONE)
        .function::<members::RemoveMember, ()>("POST", "members/remove", "members", Member(Owner), "Remove a member", Flattened::NONE)
        .function::<workspace::GetWorkspaceSettings, t::WorkspaceSettings>("GET", "workspace", "workspace", Member(Viewer), "The workspace's settings", Flattened::NONE)
        .function::<workspace::UpdateWorkspace, t::WorkspaceSettings>("POST", "workspace/update", "workspace", Member(Owner), "Rename the workspace or change its retention", Flattened::NONE)
        .function::<evals::ListScores, t::ScorePage>("GET", "evaluate/scores", "evaluations", Member(Viewer), "Scores newest first, one cursor page (by trace, span, session, name, source, dimensions, window)", Flattened { scores: true, ..Flattened::filters(&[]) })
        .function::<evals::TraceScores, Vec<t::Score>>("GET", "evaluate/trace-scores", "evaluations", Member(Viewer), "Every score of one trace and its spans", Flattened::NONE)
        .function::<evals::Annotate, t::Score>("POST", "evaluate/annotate", "evaluations", User, "A member scores a trace, span or session by hand against a config (replaces their earlier score)", Flattened::NONE)
        .function::<evals::DeleteScore, ()>("POST", "evaluate/scores/delete", "evaluations", Member(Admin), "Delete one score", Flattened::NONE)
        .function::<evals::ListConfigs, Vec<t::ScoreConfig>>("GET", "evaluate/configs", "evaluations", Member(Viewer), "The workspace's score configs", Flattened::NONE)
        .function::<evals::CreateConfig, t::ScoreConfig>("POST", "evaluate/configs/create", "evaluations", Member(Admin), "Define a score: type, range or categories, which direction is better", Flattened::NONE)
        .function::<evals::ArchiveConfig, t::ScoreConfig>("POST", "evaluate/configs/archive", "evaluations", Member(Admin), "Archive a score config (old scores keep it)", Flattened::NONE)
        .function::<evals::GetScoreSummary, t::ScoreSummaries>("GET", "evaluate/summary", "evaluations", Member(Viewer), "Every score over the window, overall and by version, agent or environment (from the rollups)", Flattened::filters(&["by", "fallback"]))
        .function::<evals::GetScoreTrends, Vec<t::ScoreTrend>>("GET", "evaluate/trends", "evaluations", Member(Viewer), "Each score's mean (or share true) step by step over the window, by version, agent or environment", Flattened::filters(&["by", "fallback"]))
        .function::<evals::CompareVersions, t::VersionComparison>("GET", "evaluate/compare", "evaluations", Member(Viewer), "Two versions score by score, with Welch's t or a two-proportion z-test", Flattened::filters(&["a", "b"]))
        .function::<evals::ListEvaluators, Vec<t::Evaluator>>("GET", "evaluate/evaluators", "evaluations", Member(Viewer), "The online evaluators, with what each has done today and its last errors", Flattened::NONE)
        .function::<evals::CreateEvaluator, t::Evaluator>("POST", "evaluate/evaluators/create", "evaluations", Member(Admin), "Define an online evaluator: a filter, a target (span or trace), sampling, and a rule or an LLM judge's prompt (with a daily spend limit)", Flattened { own: &["agent", "environment", "version", "model", "operation", "span_name", "status", "rule_type", "field", "value", "pattern", "min", "max", "max_ms", "max_usd", "phrases", "prompt", "schema"], ..Flattened::NONE })
        .function::<evals::UpdateEvaluator, t::Evaluator>("POST", "evaluate/evaluators/update", "evaluations", Member(Admin), "Change an evaluator's definition (not its target); its version goes up, and its later scores carry it", Flattened { own: &["agent", "environment", "version", "model", "operation", "span_name", "status", "rule_type", "field", "value", "pattern", "min", "max", "max_ms", "max_usd", "phrases", "prompt", "schema"], ..Flattened::NONE })
        .function::<evals::GetJudge, t::JudgeSettings>("GET", "evaluate/judge", "evaluations", Member(Viewer), "The workspace's judge model (never its key: only the last four characters)", Flattened::NONE)
        .function::<evals::SetJudge, t::JudgeSettings>("POST", "evaluate/judge/set", "evaluations", Member(Admin), "Set the judge model: an OpenAI-compatible endpoint, model, API key (sealed at rest), timeout", Flattened::NONE)
        .function::<evals::BackfillEvaluator, t::Backfill>("POST", "evaluate/evaluators/backfill", "evaluations", Member(Admin), "Run an evaluator over what is already stored in a window (≤ 90 days, the dashboard's filters), as a job with progress", Flattened::filters(&["id"]))
        .function::<queues::ListQueues, Vec<t::AnnotationQueue>>("GET", "evaluate/queues", "evaluations", Member(Viewer), "Annotation queues with progress and reviewers' agreement (Cohen's κ, mean absolute difference)", Flattened::NONE)
        .function::<queues::CreateQueue, t::AnnotationQueue>("POST", "evaluate/queues/create", "evaluations", Member(Admin), "Define an annotation queue from the trace list's filters (sampled, ≤ 1,000 traces) and the configs to fill", Flattened { list: true, ..Flattened::filters(&["name", "description", "configs", "sampling"]) })
        .function::<queues::DeleteQueue, ()>("POST", "evaluate/queues/delete", "evaluations", Member(Admin), "Delete an annotation queue (its scores stay)", Flattened::NONE)
        .function::<queues::NextQueueItem, Option<t::QueueItem>>("GET", "evaluate/queues/next", "evaluations", User, "The caller's next item of a queue (or null when through)", Flattened::NONE)
        .function::<queues::SubmitQueueItem, usize>("POST", "evaluate/queues/submit", "evaluations", User, "Score a queue item (values[CONFIG]=…, comment); done for the caller", Flattened::NONE)
        .function::<queues::SkipQueueItem, ()>("POST", "evaluate/queues/skip", "evaluations", User, "Skip a queue item (it stays for the others)", Flattened::NONE)
        .function::<evals::PauseEvaluator, ()>("POST", "evaluate/evaluators/pause", "evaluations", Member(Admin), "Pause an evaluator", Flattened::NONE)
        .function::<evals::ResumeEvaluator, ()>("POST", "evaluate/evaluators/resume", "evaluations", Member(Admin), "Resume an evaluator", Flattened::NONE)
        .function::<evals::DeleteEvaluator, ()>("POST", "evaluate/evaluators/delete", "evaluations", Member(Admin), "Delete an evaluator (its scores stay)", Flattened::NONE)
        .function::<datasets::ListDatasets, Vec<t::Dataset>>("GET", "evaluate/datasets", "evaluations", Member(Viewer), "The datasets, newest first, with item and run counts", Flattened::NONE)
        .function::<datasets::GetDataset, t::Dataset>("GET", "evaluate/datasets/get", "evaluations", Member(Viewer), "One dataset", Flattened::NONE)
        .function::<datasets::CreateDataset, t::Dataset>("POST", "evaluate/datasets/create", "evaluations", Score, "Create an empty dataset", Flattened::NONE)
        .function::<datasets::DeleteDataset, ()>("POST", "evaluate/datasets/delete", "evaluations", Member(Admin), "Delete a dataset with its items and runs (traces and scores stay)", Flattened::NONE)
        .function::<datasets::DatasetItems, t::DatasetItemPage>("GET", "evaluate/datasets/items", "evaluations", Member(Viewer), "A page of a dataset's items, newest first", Flattened::NONE)
        .function::<datasets::UploadDatasetItems, t::ItemsAdded>("POST", "evaluate/datasets/upload", "evaluations", Score, "Add items from JSONL (input, expected_output, metadata, id per line); bad lines reported by number", Flattened::NONE)
        .function::<datasets::AddTracesToDataset, t::ItemsAdded>("POST", "evaluate/datasets/add-traces", "evaluations", Score, "Add one trace (trace_id) or the newest traces the list's filters match (max ≤ 1,000) as items", Flattened { list: true, ..Flattened::filters(&["id", "trace_id", "max"]) })
        .function::<datasets::DeleteDatasetItem, ()>("POST", "evaluate/datasets/items/delete", "evaluations", Member(t::Role::Member), "Delete a dataset item", Flattened::NONE)
        .function::<datasets::ListRuns, Vec<t::ExperimentRun>>("GET", "evaluate/experiments", "evaluations", Member(Viewer), "A dataset's experiment runs with arrivals, errors, latency, cost and score means", Flattened::NONE)
        .function::<datasets::LinkRunTrace, t::ExperimentRun>("POST", "evaluate/experiments/link", "evaluations", Score, "Link a trace to a dataset item in a named run (also done at ingest by the dataset.item_id span attribute)", Flattened::NONE)
        .function::<guardrails::ListPolicies, Vec<t::GuardPolicy>>("GET", "guardrails/policies", "guardrails", Member(Viewer), "The guardrail policies by name, each with its last 24 hours of decisions", Flattened::NONE)
        .function::<guardrails::CreatePolicy, t::GuardPolicy>("POST", "guardrails/policies/create", "guardrails", Member(Admin), "Define a guardrail policy: rules (check, action, stages, kinds), banned terms and patterns, limits, scope (agents, environments), shadow mode", Flattened::NONE)
        .function::<guardrails::UpdatePolicy, t::GuardPolicy>("POST", "guardrails/policies/update", "guardrails", Member(Admin), "Change a policy; a changed definition is a new version", Flattened::NONE)
        .function::<guardrails::DeletePolicy, ()>("POST", "guardrails/policies/delete", "guardrails", Member(Admin), "Delete a policy (its decisions stay)", Flattened::NONE)
        .function::<guardrails::SetIngestPolicy, ()>("POST", "guardrails/policies/ingest", "guardrails", Member(Admin), "Redact what ingestion stores with a policy (or, without id, stop)", Flattened::NONE)
        .function::<guardrails::TryPolicy, t::GuardCheckResponse>("POST", "guardrails/try", "guardrails", Member(t::Role::Member), "Run a draft definition on a text; nothing is recorded", Flattened::NONE)
        .function::<guardrails::GetGuardSummary, t::GuardSummary>("GET", "guardrails/summary", "guardrails", Member(Viewer), "Decisions over the window by action, violations by check, top agents, shadow policies' effect (from the rollups)", Flattened::filters(&["fallback"]))
        .function::<guardrails::ListGuardDecisions, Vec<t::GuardDecision>>("GET", "guardrails/decisions", "guardrails", Member(Viewer), "Recorded decisions newest first (never the checked text)", Flattened::NONE)
        .function::<guardrails::TraceDecisions, Vec<t::GuardDecision>>("GET", "guardrails/trace", "guardrails", Member(Viewer), "The decisions that name a trace", Flattened::NONE)
        .function::<alerts::ListAlertRules, Vec<t::AlertRule>>("GET", "alerts/rules", "alerts", Member(Viewer), "Alert rules by name, each with its instances (one a group value) worst first", Flattened::NONE)
        .function::<alerts::CreateAlertRule, t::AlertRule>("POST", "alerts/rules/create", "alerts", Member(t::Role::Member), "Create a rule: a metric over a window (5 minutes to 7 days), filters, comparison and threshold, minimum requests, a \"for\" duration, group-by, channels", Flattened::NONE)
        .function::<alerts::UpdateAlertRule, t::AlertRule>("POST", "alerts/rules/update", "alerts", Member(t::Role::Member), "Change a rule; a changed definition starts its instances afresh", Flattened::NONE)
        .function::<alerts::DeleteAlertRule, ()>("POST", "alerts/rules/delete", "alerts", Member(Admin), "Delete a rule (its history stays)", Flattened::NONE)
        .function::<alerts::BacktestAlertRule, t::AlertBacktest>("POST", "alerts/rules/backtest", "alerts", Member(t::Role::Member), "How often a draft rule would have fired over the last 7 days", Flattened::NONE)
        .function::<alerts::GetAlertFeed, t::AlertFeed>("GET", "alerts/instances", "alerts", Member(Viewer), "What fires and is pending now, and budgets past 80 % or forecast to run out", Flattened::NONE)
        .function::<alerts::AcknowledgeAlert, ()>("POST", "alerts/instances/ack", "alerts", Member(t::Role::Member), "Acknowledge an instance: no repeats until its state changes", Flattened::NONE)
        .function::<alerts::AlertHistory, Vec<t::AlertEvent>>("GET", "alerts/history", "alerts", Member(Viewer), "State changes newest first, with the value, the reason and what was notified", Flattened::NONE)
        .function::<alerts::ListSilences, Vec<t::AlertSilence>>("GET", "alerts/silences", "alerts", Member(Viewer), "Silences, active first", Flattened::NONE)
        .function::<alerts::CreateSilence, t::AlertSilence>("POST", "alerts/silences/create", "alerts", Member(t::Role::Member), "Silence a rule and/or a group value for a while", Flattened::NONE)
        .function::<alerts::ExpireSilence, ()>("POST", "alerts/silences/expire", "alerts", Member(t::Role::Member), "End a silence now", Flattened::NONE)
        .function::<alerts::ListChannels, Vec<t::AlertChannel>>("GET", "alerts/channels", "alerts", Member(Viewer), "Notification channels (never a secret)", Flattened::NONE)
        .function::<alerts::CreateChannel, t::AlertChannel>("POST", "alerts/channels/create", "alerts", Member(Admin), "Add a signed webhook, a Slack-compatible incoming webhook or e-mail addresses (with an SMTP relay); a webhook's signing secret is shown once", Flattened::NONE)
        .function::<alerts::TestChannel, uuid::Uuid>("POST", "alerts/channels/test", "alerts", Member(Admin), "Queue a test notification; answers the delivery's id", Flattened::NONE)
        .function::<alerts::EnableChannel, ()>("POST", "alerts/channels/enable", "alerts", Member(Admin), "Turn a channel on (clearing its failures) or off", Flattened::NONE)
        .function::<alerts::DeleteChannel, ()>("POST", "alerts/channels/delete", "alerts", Member(Admin), "Delete a channel", Flattened::NONE)
        .function::<alerts::ListDeliveries, Vec<t::AlertDelivery>>("GET", "alerts/deliveries", "alerts", Member(Viewer), "Deliveries newest first, or only the dead letters", Flattened::NONE)
        .function::<alerts::ListBudgets, Vec<t::Budget>>("GET", "alerts/budgets", "alerts", Member(Viewer), "Monthly budgets with the month's spend, forecast and the day it runs out", Flattened::NONE)
        .function::<alerts::SetBudget, t::Budget>("POST", "alerts/budgets/set", "alerts", Member(Admin), "Set the monthly budget of the workspace, a department or an agent", Flattened::NONE)
        .function::<alerts::DeleteBudget, ()>("POST", "alerts/budgets/delete", "alerts", Member(Admin), "Delete a budget", Flattened::NONE)
        .function::<datasets::CompareRuns, t::RunComparison>("GET", "evaluate/experiments/compare", "evaluations", Member(Viewer), "Two runs score by score (Welch's t, two-proportion z), paired per item, and a page of items side by side", Flattened::NONE)
        .function::<datasets::DeleteRun, ()>("POST", "evaluate/experiments/delete", "evaluations", Member(Admin), "Delete an experiment run (traces and scores stay)", Flattened::NONE)
        .function::<docs::GetApiDocs, Vec<t::ApiOperation>>("GET", "docs", "system", Public, "The operations of this document, as the reference page lists them", Flattened::NONE)
        .function::<system::GetSystemStatus, t::SystemStatus>("GET", "system/status", "system", Member(Admin), "Database, cache and version", Flattened::NONE)
        .function::<system::GetConnect, t::ConnectInfo>("GET", "connect", "system", Member(Viewer), "Where agents send traces, and the newest trace (the setup panel waits for it)", Flattened::NONE);
    server_routes(&mut b);
    b
}

/// The routes the server answers itself.
fn server_routes(b: &mut Builder) {
    use Access::{Guardrail, Ingest, Member, Public, Score};
    let otlp_body = |what: &str| {
        json!({"required": true, "description": format!("An OTLP/HTTP {what} export (protobuf or JSON, optionally gzip: Content-Encoding: gzip)."), "content": {
            "application/x-protobuf": {"schema": {"type": "string", "contentMediaType": "application/x-protobuf"}},
            "application/json": {"schema": {"type": "object"}}
        }})
    };
    let otlp_answer = json!({"200": {"description": "Accepted; partial_success counts what was refused", "content": {
        "application/x-protobuf": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object", "properties": {"partialSuccess": {"type": "object", "properties": {
            "rejectedSpans": {"type": "string"}, "errorMessage": {"type": "string"}}}}}}}
    }});
    let batch = b.schema::<NativeBatch>();
    let outcome = b.schema::<BatchOutcome>();
    let score_batch = b.schema::<argus_domain::evals::scores::ScoreBatch>();
    let score_outcome = b.schema::<argus_domain::evals::scores::ScoreOutcome>();
    let detail = b.schema::<t::TraceDetail>();
    let check_request = b.schema::<t::GuardCheckRequest>();
    let check_response = b.schema::<t::GuardCheckResponse>();
    let session = b.schema::<t::SessionDetail>();
    let agent = b.schema::<t::AgentInfo>();
    let mut filters = Vec::new();
    for s in [
        t::Filters::json_schema(&mut b.generator).to_value(),
        t::TraceFilters::json_schema(&mut b.generator).to_value(),
    ] {
        if let Some(Value::Object(props)) = s.get("properties") {
            for (name, schema) in props {
                if !matches!(name.as_str(), "cursor" | "limit" | "sort") {
                    filters.push(
                        json!({"name": name, "in": "query", "required": false, "schema": schema}),
                    );
                }
            }
        }
    }
    let mut export_params = vec![json!({"name": "format", "in": "query", "required": false,
        "schema": {"type": "string", "enum": ["csv", "jsonl"], "default": "csv"}})];
    export_params.extend(filters);
    let id = |what: &str| json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": what});
    b.push("GET", "/healthz".into(), "system", Public, "Liveness", json!({"responses": {"200": {"description": "Alive", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ok"}}}}}}}}))
        .push("GET", "/readyz".into(), "system", Public, "Readiness: the database answers", json!({"responses": {"200": {"description": "Ready", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ready"}}}}}}}}))
        .push("POST", "/v1/traces".into(), "ingest", Ingest, "OTLP/HTTP traces", json!({"requestBody": otlp_body("trace"), "responses": otlp_answer.clone()}))
        .push("POST", "/v1/metrics".into(), "ingest", Ingest, "OTLP/HTTP metrics (GenAI token usage)", json!({"requestBody": otlp_body("metrics"), "responses": otlp_answer.clone()}))
        .push("POST", "/v1/logs".into(), "ingest", Ingest, "OTLP/HTTP logs: gen_ai.evaluation.result records become scores; other records are accepted and ignored", json!({"requestBody": otlp_body("logs"), "responses": otlp_answer}))
        .push("POST", "/api/v1/evaluate/scores".into(), "evaluations", Score, "Create up to 1,000 scores, each checked on its own against the workspace's configs (idempotent by id)", json!({
            "requestBody": {"required": true, "content": {"application/json": {"schema": score_batch}}},
            "responses": {
                "200": {"description": "Every score stored (or already stored)", "content": {"application/json": {"schema": score_outcome}}},
                "207": {"description": "Some scores refused, each with its reason", "content": {"application/json": {"schema": score_outcome}}}
            }}))
        .push("POST", "/api/v1/guardrails/check".into(), "guardrails", Guardrail, "Run a policy on a text, chat messages or a tool call's arguments before they reach a model or a tool; the decision is recorded (never the text)", json!({
            "requestBody": {"required": true, "content": {"application/json": {"schema": check_request}}},
            "responses": {
                "200": {"description": "The decision: branch on `action` (allow, flag, redact: send `redacted`, block) — a block is a 200 too", "content": {"application/json": {"schema": check_response}}}
            }}))
        .push("POST", "/api/v1/traces".into(), "ingest", Ingest, "The native JSON batch: up to 1,000 traces, each validated on its own", json!({
            "requestBody": {"required": true, "content": {"application/json": {"schema": batch}}},
            "responses": {
                "200": {"description": "Every trace accepted", "content": {"application/json": {"schema": outcome}}},
                "207": {"description": "Some traces refused, each with its reason", "content": {"application/json": {"schema": outcome}}}
            }}))
        .push("GET", "/api/v1/traces/export".into(), "traces", Member(t::Role::Viewer), "Every trace matching the list's filters, streamed as CSV or JSON Lines", json!({
            "parameters": export_params,
            "responses": {"200": {"description": "The download", "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}}}}))
        .push("GET", "/api/v1/traces/{id}".into(), "traces", Member(t::Role::Viewer), "One trace with a page of its spans (500 a page)", json!({
            "parameters": [id("The trace id (32 hex digits)"),
                {"name": "span", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Open the page holding this span"},
                {"name": "spans_from", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}, "description": "The first span of the page"}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": detail}}}}}))
        .push("GET", "/api/v1/sessions/{id}".into(), "traces", Member(t::Role::Viewer), "One session's traces in order, with its totals", json!({
            "parameters": [id("The session id")],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": session}}}}}))
        .push("GET", "/api/v1/agents/{id}".into(), "agents", Member(t::Role::Viewer), "One agent of the registry", json!({
            "parameters": [id("The agent id")],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": agent}}}}}))
        .push("GET", "/api/v1/openapi.json".into(), "system", Public, "This document", json!({
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}));
}

/// The document's operations as `(method, path)`, for the coverage test.
pub fn documented() -> Vec<(&'static str, String)> {
    documented_access()
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect()
}

/// The document's operations with who may call them, for the test that holds them to the
/// access matrix the cross-tenant test walks.
pub fn documented_access() -> Vec<(&'static str, String, Access)> {
    operations()
        .ops
        .iter()
        .map(|o| (o.method, o.path.clone(), o.access))
        .collect()
}

/// The OpenAPI 3.1 document.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let mut b = operations();
    let envelope = b.schema::<t::ErrorEnvelope>();
    let errors = json!({
        "4XX": {"description": "A client error: the standard envelope names what was wrong", "content": {"application/json": {"schema": envelope}}},
        "5XX": {"description": "A server fault or an unavailable dependency (503 with Retry-After)", "content": {"application/json": {"schema": envelope}}}
    });
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for o in &b.ops {
        let mut op = o.op.clone();
        op["summary"] = json!(o.summary);
        op["tags"] = json!([o.tag]);
        op["operationId"] = json!(operation_id(o.method, &o.path));
        if o.deprecated {
            op["deprecated"] = json!(true);
        }
        if let Some(Value::Object(responses)) = op.get_mut("responses") {
            if let Value::Object(e) = &errors {
                for (k, v) in e {
                    responses.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        let (security, note) = match o.access {
            Access::Public => (json!([]), "Public.".to_owned()),
            Access::User => (
                json!([{"session": []}, {"bearer": []}]),
                "A signed-in user (session cookie or bearer token; not an API key).".to_owned(),
            ),
            Access::Ingest => (
                json!([{"apiKey": []}, {"bearer": []}]),
                "An API key with the `ingest` scope.".to_owned(),
            ),
            Access::Score => (
                json!([{"apiKey": []}, {"bearer": []}, {"session": []}]),
                "An API key with the `score` (or `admin`) scope, or a member.".to_owned(),
            ),
            Access::Guardrail => (
                json!([{"apiKey": []}, {"bearer": []}, {"session": []}]),
                "An API key with the `guardrail` (or `admin`) scope, or a member.".to_owned(),
            ),
            Access::Member(role) => (
                json!([{"session": []}, {"bearer": []}, {"apiKey": []}]),
                format!(
                    "A member with the {} role or more, or an API key with the `{}` scope.",
                    role.label().to_lowercase(),
                    if role == t::Role::Viewer {
                        "read"
                    } else {
                        "admin"
                    }
                ),
            ),
        };
        op["security"] = security;
        let description = op
            .get("description")
            .and_then(Value::as_str)
            .map(|d| format!("{d} {note}"))
            .unwrap_or(note);
        op["description"] = json!(description);
        paths
            .entry(o.path.clone())
            .or_default()
            .insert(o.method.to_lowercase(), op);
    }
    let schemas = b.generator.take_definitions(true);
    let tags: Vec<Value> = TAGS.iter().map(|t| json!({"name": t})).collect();
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Argus",
            "version": crate::VERSION,
            "summary": "Observability for AI agents: ingest traces (OTLP or JSON), read tokens, cost, latency and errors.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "argus_session", "description": "The browser session (__Host-argus_session in production)."},
                "bearer": {"type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/auth/token."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "A workspace API key (Authorization: Bearer works too)."}
            }
        }
    })
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_lowercase();
    for part in path
        .split('/')
        .filter(|p| !p.is_empty() && *p != "api" && *p != "v1")
    {
        let part = part.trim_start_matches('{').trim_end_matches('}');
        for word in part.split(|c: char| !c.is_ascii_alphanumeric()) {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                id.push(first.to_ascii_uppercase());
                id.extend(chars);
            }
        }
    }
    id
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(document().clone()),
    )
        .into_response()
}
