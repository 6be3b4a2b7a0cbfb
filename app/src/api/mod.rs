//! Server functions: the API the browser and external clients share.
//!
//! Each one resolves its caller (see `context`), checks the role, calls one domain function
//! and maps the error. No SQL here. Every function that touches tenant data is listed in
//! [`TENANT_ENDPOINTS`], which the cross-tenant test matrix walks.

pub mod alerts;
#[cfg(feature = "ssr")]
pub mod context;
pub mod datasets;
pub mod docs;
pub mod evals;
pub mod explorer;
pub mod guardrails;
pub mod invitations;
pub mod keys;
pub mod members;
pub mod metrics;
pub mod prices;
pub mod queues;
#[cfg(feature = "ssr")]
pub mod request;
pub mod session;
pub mod system;
pub mod workspace;

/// Whether an endpoint reads or changes tenant data, and the least role it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Any member or a key with `read`/`admin`.
    Read(argus_types::Role),
    /// A change: the role, or for keys the `admin` scope.
    Write(argus_types::Role),
    /// Writing telemetry: a key with `ingest` (or `admin`), or a member.
    Ingest,
    /// Writing scores: a key with `score` (or `admin`), or a member.
    Score,
    /// Running guardrail checks: a key with `guardrail` (or `admin`), or a member.
    Guardrail,
}

/// Tenant endpoints only a signed-in person may call (an API key is refused with 403): what
/// they do is someone's own act (a reviewer's score, their place in a queue).
pub const USER_ACTS: &[&str] = &[
    "/api/v1/evaluate/annotate",
    "/api/v1/evaluate/queues/next",
    "/api/v1/evaluate/queues/submit",
    "/api/v1/evaluate/queues/skip",
];

/// One tenant endpoint for the cross-tenant matrix: method, path, the least role, and an
/// example body — for a GET, its query string (placeholders like `{key}` are replaced with ids
/// of the workspace under test).
#[derive(Clone, Copy, Debug)]
pub struct TenantEndpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub needs: Needs,
    pub body: &'static str,
    pub content_type: &'static str,
    /// A Leptos server function (else a plain axum route).
    pub server_fn: bool,
    /// The body is the path's last segment (a REST resource: `/api/v1/traces/{id}`).
    pub in_path: bool,
}

const FORM: &str = "application/x-www-form-urlencoded";

impl TenantEndpoint {
    const fn read(path: &'static str) -> Self {
        TenantEndpoint {
            method: "GET",
            path,
            needs: Needs::Read(Viewer),
            body: "",
            content_type: FORM,
            server_fn: true,
            in_path: false,
        }
    }

    /// A REST resource: `prefix` then the id (`body`, a placeholder).
    const fn resource(prefix: &'static str, id: &'static str) -> Self {
        TenantEndpoint {
            body: id,
            server_fn: false,
            in_path: true,
            ..TenantEndpoint::read(prefix)
        }
    }

    /// A read with a query string (`body`, placeholders allowed).
    const fn read_with(path: &'static str, query: &'static str) -> Self {
        TenantEndpoint {
            body: query,
            ..TenantEndpoint::read(path)
        }
    }

    const fn write(path: &'static str, role: argus_types::Role, body: &'static str) -> Self {
        TenantEndpoint {
            method: "POST",
            path,
            needs: Needs::Write(role),
            body,
            content_type: FORM,
            server_fn: true,
            in_path: false,
        }
    }

    /// A form post that writes evaluation data: a key with `score`, or a member.
    const fn scoring(path: &'static str, body: &'static str) -> Self {
        TenantEndpoint {
            needs: Needs::Score,
            ..TenantEndpoint::write(path, argus_types::Role::Member, body)
        }
    }

    const fn ingest(path: &'static str, content_type: &'static str, body: &'static str) -> Self {
        TenantEndpoint {
            method: "POST",
            path,
            needs: Needs::Ingest,
            body,
            content_type,
            server_fn: false,
            in_path: false,
        }
    }
}

use argus_types::Role::{Admin, Member, Owner, Viewer};

/// Every route and server function that touches tenant data. A server function missing from
/// here and from [`PUBLIC_ENDPOINTS`] fails the matrix test.
pub const TENANT_ENDPOINTS: &[TenantEndpoint] = &[
    TenantEndpoint::read("/api/v1/auth/session"),
    TenantEndpoint::read("/api/v1/api-keys"),
    TenantEndpoint::write("/api/v1/api-keys/create", Admin, "name=matrix&scopes=read"),
    TenantEndpoint::write("/api/v1/api-keys/revoke", Admin, "id={key}"),
    TenantEndpoint::read("/api/v1/members"),
    TenantEndpoint::write(
        "/api/v1/members/add",
        Admin,
        "email={outsider_email}&role=viewer",
    ),
    TenantEndpoint {
        needs: Needs::Read(Admin),
        ..TenantEndpoint::read("/api/v1/members/invitations")
    },
    TenantEndpoint::write(
        "/api/v1/members/invitations/revoke",
        Admin,
        "id={invitation}",
    ),
    TenantEndpoint::write("/api/v1/members/reset-password", Admin, "user_id={member}"),
    TenantEndpoint::write(
        "/api/v1/members/role",
        Owner,
        "user_id={member}&role=viewer",
    ),
    TenantEndpoint::write("/api/v1/members/remove", Owner, "user_id={member}"),
    TenantEndpoint::read("/api/v1/workspace"),
    TenantEndpoint::write(
        "/api/v1/workspace/update",
        Owner,
        "name=Renamed&retention_days=30",
    ),
    TenantEndpoint::read("/api/v1/metrics/home"),
    TenantEndpoint::read("/api/v1/metrics/home-kpis"),
    TenantEndpoint::read("/api/v1/metrics/timeseries"),
    TenantEndpoint::read("/api/v1/metrics/filter-options"),
    TenantEndpoint::read("/api/v1/usage/breakdown"),
    TenantEndpoint::read("/api/v1/cost/breakdown"),
    TenantEndpoint::read("/api/v1/performance/latency"),
    TenantEndpoint::read("/api/v1/activity"),
    TenantEndpoint::read("/api/v1/prices"),
    TenantEndpoint::read("/api/v1/traces"),
    TenantEndpoint::read_with("/api/v1/traces/get", "id={trace}"),
    TenantEndpoint {
        server_fn: false,
        ..TenantEndpoint::read("/api/v1/traces/export")
    },
    TenantEndpoint::read("/api/v1/traces/deletions"),
    TenantEndpoint::write("/api/v1/traces/delete", Admin, "trace_id={trace}"),
    TenantEndpoint::read("/api/v1/sessions"),
    TenantEndpoint::read_with("/api/v1/sessions/get", "id={session}"),
    TenantEndpoint::read("/api/v1/agents"),
    TenantEndpoint::read_with("/api/v1/agents/get", "id={agent}"),
    TenantEndpoint::resource("/api/v1/traces/", "{trace}"),
    TenantEndpoint::resource("/api/v1/sessions/", "{session}"),
    TenantEndpoint::resource("/api/v1/agents/", "{agent}"),
    TenantEndpoint::write(
        "/api/v1/agents/update",
        Admin,
        "id={agent}&department=renamed&display_name=Renamed",
    ),
    TenantEndpoint::write(
        "/api/v1/prices/set",
        Admin,
        "model=matrix-model&input=1.5&output=2",
    ),
    TenantEndpoint::write("/api/v1/prices/remove", Admin, "model={price}"),
    TenantEndpoint::write("/api/v1/auth/switch", Viewer, "workspace_id={workspace}"),
    TenantEndpoint::write("/api/v1/workspaces/create", Viewer, "name=Another"),
    TenantEndpoint::ingest("/v1/traces", "application/json", r#"{"resourceSpans":[]}"#),
    TenantEndpoint::ingest(
        "/v1/metrics",
        "application/json",
        r#"{"resourceMetrics":[]}"#,
    ),
    TenantEndpoint::ingest("/api/v1/traces", "application/json", r#"{"traces":[]}"#),
    TenantEndpoint::ingest("/v1/logs", "application/json", r#"{"resourceLogs":[]}"#),
    TenantEndpoint {
        needs: Needs::Score,
        ..TenantEndpoint::ingest(
            "/api/v1/evaluate/scores",
            "application/json",
            r#"{"scores":[{"trace_id":"matrix-trace","name":"matrix","value":1}]}"#,
        )
    },
    TenantEndpoint::read("/api/v1/evaluate/scores"),
    TenantEndpoint::read("/api/v1/guardrails/policies"),
    TenantEndpoint::write(
        "/api/v1/guardrails/policies/create",
        Admin,
        "name=matrix-policy&definition=%7B%22rules%22%3A%5B%7B%22check%22%3A%22pii%22%2C%22action%22%3A%22redact%22%7D%5D%7D",
    ),
    TenantEndpoint::write(
        "/api/v1/guardrails/policies/update",
        Admin,
        "id={guard_policy_id}&name=alpha-secret-policy&definition=%7B%22rules%22%3A%5B%7B%22check%22%3A%22pii%22%2C%22action%22%3A%22redact%22%7D%5D%7D",
    ),
    TenantEndpoint::write(
        "/api/v1/guardrails/policies/ingest",
        Admin,
        "id={guard_policy_id}",
    ),
    TenantEndpoint::write(
        "/api/v1/guardrails/try",
        Member,
        "definition=%7B%22rules%22%3A%5B%7B%22check%22%3A%22pii%22%2C%22action%22%3A%22flag%22%7D%5D%7D&text=hello",
    ),
    TenantEndpoint::read("/api/v1/guardrails/summary"),
    TenantEndpoint::read("/api/v1/guardrails/decisions"),
    TenantEndpoint::read_with("/api/v1/guardrails/trace", "id={trace}"),
    TenantEndpoint {
        needs: Needs::Guardrail,
        ..TenantEndpoint::ingest(
            "/api/v1/guardrails/check",
            "application/json",
            r#"{"policy":"{guard_policy}","stage":"input","text":"mail me at a@example.com"}"#,
        )
    },
    TenantEndpoint::write(
        "/api/v1/guardrails/policies/delete",
        Admin,
        "id={guard_policy_id}",
    ),
    TenantEndpoint::read_with("/api/v1/evaluate/trace-scores", "id={trace}"),
    TenantEndpoint::write(
        "/api/v1/evaluate/annotate",
        Member,
        "trace_id={trace}&name={score_config}&value=1",
    ),
    TenantEndpoint::write("/api/v1/evaluate/scores/delete", Admin, "id={score}"),
    TenantEndpoint::read("/api/v1/evaluate/configs"),
    TenantEndpoint::write(
        "/api/v1/evaluate/configs/create",
        Admin,
        "name=matrix-config&data_type=numeric",
    ),
    TenantEndpoint::write(
        "/api/v1/evaluate/configs/archive",
        Admin,
        "id={score_config_id}",
    ),
    TenantEndpoint::read("/api/v1/evaluate/evaluators"),
    TenantEndpoint::read("/api/v1/evaluate/judge"),
    TenantEndpoint::read("/api/v1/evaluate/queues"),
    TenantEndpoint::read_with("/api/v1/evaluate/queues/next", "id={queue}"),
    TenantEndpoint::write(
        "/api/v1/evaluate/queues/create",
        Admin,
        "name=matrix-queue&configs=matrix-config&range=24h",
    ),
    TenantEndpoint::write(
        "/api/v1/evaluate/queues/submit",
        Member,
        "id={queue}&trace_id={trace}&values%5B{score_config}%5D=1",
    ),
    TenantEndpoint::write(
        "/api/v1/evaluate/queues/skip",
        Member,
        "id={queue}&trace_id={trace}",
    ),
    TenantEndpoint::write("/api/v1/evaluate/queues/delete", Admin, "id={queue}"),
    TenantEndpoint::write(
        "/api/v1/evaluate/judge/set",
        Admin,
        "base_url=https%3A%2F%2Fjudge.example%2Fv1&model=matrix-judge",
    ),
    TenantEndpoint::read("/api/v1/evaluate/summary"),
    TenantEndpoint::read("/api/v1/evaluate/trends"),
    TenantEndpoint::read_with("/api/v1/evaluate/compare", "a=1.0&b=2.0"),
    TenantEndpoint::write(
        "/api/v1/evaluate/evaluators/create",
        Admin,
        "name=matrix-evaluator&target=span&rule_type=valid_json",
    ),
    TenantEndpoint::write("/api/v1/evaluate/evaluators/pause", Admin, "id={evaluator}"),
    TenantEndpoint::write(
        "/api/v1/evaluate/evaluators/update",
        Admin,
        "id={evaluator}&name=matrix-evaluator&rule_type=valid_json",
    ),
    TenantEndpoint::write(
        "/api/v1/evaluate/evaluators/backfill",
        Admin,
        "id={evaluator}&range=24h",
    ),
    TenantEndpoint::write(
        "/api/v1/evaluate/evaluators/resume",
        Admin,
        "id={evaluator}",
    ),
    TenantEndpoint::write(
        "/api/v1/evaluate/evaluators/delete",
        Admin,
        "id={evaluator}",
    ),
    TenantEndpoint::read("/api/v1/evaluate/datasets"),
    TenantEndpoint::read_with("/api/v1/evaluate/datasets/get", "id={dataset}"),
    TenantEndpoint::read_with("/api/v1/evaluate/datasets/items", "id={dataset}"),
    TenantEndpoint::read_with("/api/v1/evaluate/experiments", "dataset={dataset}"),
    TenantEndpoint::read_with("/api/v1/evaluate/experiments/compare", "a={run}&b={run}"),
    TenantEndpoint::scoring("/api/v1/evaluate/datasets/create", "name=matrix-dataset"),
    TenantEndpoint::scoring(
        "/api/v1/evaluate/datasets/upload",
        "id={dataset}&jsonl=%7B%22input%22%3A%22matrix%22%7D",
    ),
    TenantEndpoint::scoring(
        "/api/v1/evaluate/datasets/add-traces",
        "id={dataset}&trace_id={trace}",
    ),
    TenantEndpoint::scoring(
        "/api/v1/evaluate/experiments/link",
        "item_id={item}&run=matrix-run&trace_id={trace}",
    ),
    TenantEndpoint::write(
        "/api/v1/evaluate/datasets/items/delete",
        Member,
        "dataset_id={dataset}&item_id={item}",
    ),
    TenantEndpoint::write("/api/v1/evaluate/experiments/delete", Admin, "id={run}"),
    TenantEndpoint::write("/api/v1/evaluate/datasets/delete", Admin, "id={dataset}"),    TenantEndpoint::read("/api/v1/alerts/rules"),
    TenantEndpoint::write(
        "/api/v1/alerts/rules/create",
        Member,
        "name=matrix-rule&definition=%7B%22metric%22%3A%22error_rate%22%2C%22window_secs%22%3A300%2C%22op%22%3A%22gt%22%2C%22threshold%22%3A5%7D",
    ),
    TenantEndpoint::write(
        "/api/v1/alerts/rules/update",
        Member,
        "id={alert_rule}&name=alpha-secret-rule&definition=%7B%22metric%22%3A%22error_rate%22%2C%22window_secs%22%3A300%2C%22op%22%3A%22gt%22%2C%22threshold%22%3A5%7D",
    ),
    TenantEndpoint::write(
        "/api/v1/alerts/rules/backtest",
        Member,
        "definition=%7B%22metric%22%3A%22error_rate%22%2C%22window_secs%22%3A300%2C%22op%22%3A%22gt%22%2C%22threshold%22%3A5%7D",
    ),
    TenantEndpoint::read("/api/v1/alerts/instances"),
    TenantEndpoint::write("/api/v1/alerts/instances/ack", Member, "rule_id={alert_rule}"),
    TenantEndpoint::read("/api/v1/alerts/history"),
    TenantEndpoint::read("/api/v1/alerts/silences"),
    TenantEndpoint::write(
        "/api/v1/alerts/silences/create",
        Member,
        "rule_id={alert_rule}&minutes=60",
    ),
    TenantEndpoint::write("/api/v1/alerts/silences/expire", Member, "id={silence}"),
    TenantEndpoint::read("/api/v1/alerts/channels"),
    TenantEndpoint::write(
        "/api/v1/alerts/channels/create",
        Admin,
        "name=matrix-hook&kind=webhook&target=https%3A%2F%2Fhooks.example.com%2Fargus",
    ),
    TenantEndpoint::write("/api/v1/alerts/channels/test", Admin, "id={channel}"),
    TenantEndpoint::write(
        "/api/v1/alerts/channels/enable",
        Admin,
        "id={channel}&enabled=true",
    ),
    TenantEndpoint::read("/api/v1/alerts/deliveries"),
    TenantEndpoint::read("/api/v1/alerts/budgets"),
    TenantEndpoint::write(
        "/api/v1/alerts/budgets/set",
        Admin,
        "scope=workspace&amount_usd=100",
    ),
    TenantEndpoint::write("/api/v1/alerts/budgets/delete", Admin, "id={budget}"),
    TenantEndpoint::write("/api/v1/alerts/channels/delete", Admin, "id={channel}"),
    TenantEndpoint::write("/api/v1/alerts/rules/delete", Admin, "id={alert_rule}"),
    TenantEndpoint::read("/api/v1/connect"),
];

/// Server functions that need no credentials, or touch no tenant data.
pub const PUBLIC_ENDPOINTS: &[&str] = &[
    "/api/v1/system/status",
    "/api/v1/auth/signup",
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/logout",
    // The caller's own account: their sessions, password, invitations addressed to them.
    "/api/v1/auth/logout-everywhere",
    "/api/v1/auth/password",
    "/api/v1/auth/sessions",
    "/api/v1/auth/reset-password",
    "/api/v1/invitations",
    "/api/v1/invitations/accept",
    "/api/v1/invitations/decline",
    "/api/v1/invitations/link",
    "/api/v1/invitations/signup",
    // The caller's own session or null; never another workspace's data.
    "/api/v1/auth/current",
    // The key just created by a plain form post, from the browser's own flash cookie.
    "/api/v1/api-keys/flash",
    // The API's reference: the same for everyone.
    "/api/v1/docs",
];
