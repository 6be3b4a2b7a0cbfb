//! Identity over HTTP: sign-up and log-in forms, cookies, bearer tokens, API keys, CSRF, and
//! the cross-tenant matrix every tenant endpoint joins.

mod common;

use std::collections::BTreeSet;

use app::api::{Needs, TenantEndpoint, PUBLIC_ENDPOINTS, TENANT_ENDPOINTS};
use argus_domain::apikeys::{self, Scope};
use argus_domain::tenancy::WorkspaceId;
use argus_domain::{members, session, Services};
use argus_types::Role;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use uuid::Uuid;

const PASSWORD: &str = "a long passphrase";

fn form_post(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, "http://argus.test/login")
        .header(header::HOST, "argus.test")
        .header(header::ORIGIN, "http://argus.test")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn session_cookie(res: &axum::response::Response) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("argus_session="))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie["argus_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn sign_up_then_log_in_with_plain_forms(owner: PgPool) {
    let (router, _) = app_as_server(&owner).await;
    // Sign up without JavaScript: a form post, answered with a redirect to log in — and the
    // very same answer for an address that has an account already (no enumeration).
    let signup = |name: &str| {
        form_post(
            "/api/v1/auth/signup",
            &format!(
                "email=ann%40example.com&name={name}&password=a+long+passphrase&workspace_name=Acme+AI"
            ),
        )
    };
    let mut answers = Vec::new();
    for name in ["Ann", "Impostor"] {
        let res = send(&router, signup(name)).await;
        assert!(session_cookie(&res).is_none(), "sign-up signs nobody in");
        let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
        answers.push((res.status(), location, body_text(res).await));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, StatusCode::FOUND);
    assert_eq!(answers[0].1, "/login?signed_up=1");
    let res = send(
        &router,
        form_post(
            "/api/v1/auth/login",
            "email=ann%40example.com&password=a+long+passphrase",
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::LOCATION], "/");
    let set = session_cookie(&res).expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3600"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let token = cookie_value(&set);

    // The home page renders the workspace, server-side.
    let res = send(
        &router,
        request("GET", "/", "", &Auth::Cookie(token.clone())),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("Acme AI"), "{html}");

    // A wrong password comes back to the form with the error in the URL, no cookie.
    let res = send(
        &router,
        form_post(
            "/api/v1/auth/login",
            "email=ann%40example.com&password=wrong+password",
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://argus.test/login?") && location.contains("__err="),
        "{location}"
    );
    assert!(session_cookie(&res).is_none());

    // The right one signs in and returns to `next`.
    let res = send(
        &router,
        form_post(
            "/api/v1/auth/login",
            "email=ANN%40example.com&password=a+long+passphrase&next=%2Fsettings%2Fmembers",
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::LOCATION], "/settings/members");
    assert!(session_cookie(&res).is_some());

    // Log-out clears the cookie.
    let res = send(&router, form_post("/api/v1/auth/logout", "")).await;
    assert_eq!(res.headers()[header::LOCATION], "/login");
    assert!(session_cookie(&res).unwrap().contains("Max-Age=0"));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn behind_https_the_cookie_is_secure(owner: PgPool) {
    let (router, services) = app_as_server(&owner).await;
    session::register(&services, "ann@example.com", "Ann", PASSWORD, "A")
        .await
        .unwrap();
    let mut req = form_post(
        "/api/v1/auth/login",
        "email=ann%40example.com&password=a+long+passphrase",
    );
    req.headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    let res = send(&router, req).await;
    assert!(session_cookie(&res).unwrap().contains("; Secure"));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn log_in_failures_are_limited_with_retry_after(owner: PgPool) {
    let (router, services) = app_as_server(&owner).await;
    session::register(&services, "ann@example.com", "Ann", PASSWORD, "A")
        .await
        .unwrap();
    let attempt = |password: &str| {
        request(
            "POST",
            "/api/v1/auth/token",
            &format!("email=ann%40example.com&password={password}"),
            &Auth::None,
        )
    };
    for _ in 0..5 {
        let res = send(&router, attempt("wrong+password")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_envelope(&body_json(res).await, "INVALID_CREDENTIALS");
    }
    let res = send(&router, attempt("a+long+passphrase")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_envelope(&body_json(res).await, "RATE_LIMIT_EXCEEDED");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn bearer_tokens_and_api_keys_authenticate_api_calls(owner: PgPool) {
    let (router, services) = app_as_server(&owner).await;
    session::register(&services, "ann@example.com", "Ann", PASSWORD, "A")
        .await
        .unwrap();
    let res = send(
        &router,
        request(
            "POST",
            "/api/v1/auth/token",
            "email=ann%40example.com&password=a+long+passphrase",
            &Auth::None,
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let issued = body_json(res).await;
    assert_eq!(issued["token_type"], "Bearer");
    let token = issued["token"].as_str().unwrap().to_owned();

    let res = send(
        &router,
        request(
            "POST",
            "/api/v1/api-keys/create",
            "name=ci&scopes=read",
            &Auth::Bearer(token.clone()),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let created = body_json(res).await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("argus_"));

    for auth in [Auth::ApiKey(key.clone()), Auth::Bearer(key.clone())] {
        let res = send(&router, request("GET", "/api/v1/api-keys", "", &auth)).await;
        assert_eq!(res.status(), StatusCode::OK, "{auth:?}");
        let listed = body_json(res).await;
        assert!(!listed.to_string().contains(&key[20..]), "never the secret");
    }
    let res = send(
        &router,
        request(
            "POST",
            "/api/v1/api-keys/revoke",
            &format!("id={}", created["info"]["id"].as_str().unwrap()),
            &Auth::Bearer(token),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(
        &router,
        request("GET", "/api/v1/api-keys", "", &Auth::ApiKey(key)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_envelope(&body_json(res).await, "INVALID_API_KEY");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn cross_site_form_posts_are_refused(owner: PgPool) {
    let (router, services) = app_as_server(&owner).await;
    let started = session::register(&services, "ann@example.com", "Ann", PASSWORD, "A")
        .await
        .unwrap();
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let mut req = request(
            "POST",
            "/api/v1/api-keys/create",
            "name=evil&scopes=admin",
            &Auth::Cookie(started.token.clone()),
        );
        req.headers_mut()
            .insert(header::HOST, "argus.test".parse().unwrap());
        req.headers_mut().insert(name, value.parse().unwrap());
        let res = send(&router, req).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}");
        assert_envelope(&body_json(res).await, "INSUFFICIENT_PERMISSIONS");
    }
    // Log-in CSRF too: a cross-site form cannot sign the browser in.
    let mut req = request(
        "POST",
        "/api/v1/auth/login",
        "email=ann%40example.com&password=a+long+passphrase",
        &Auth::None,
    );
    req.headers_mut()
        .insert(header::HOST, "argus.test".parse().unwrap());
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(send(&router, req).await.status(), StatusCode::FORBIDDEN);
    assert!(
        apikeys::list(&services.pool, WorkspaceId(started.workspace.id))
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// The cross-tenant matrix.

/// Workspace A (the target) with an owner, a viewer, a member and a key; workspace B (the
/// other tenant) with its owner's token and keys of each scope; and a user in neither.
struct World {
    router: Router,
    services: Services,
    a: Uuid,
    a_owner: Uuid,
    a_owner_token: String,
    a_viewer_token: String,
    a_member: Uuid,
    a_key: Uuid,
    a_key_prefix: String,
    a_read_key: String,
    a_ingest_key: String,
    a_revoked_key: String,
    b_owner_token: String,
    b_admin_key: String,
    /// A's one trace.
    a_trace: String,
    /// A pending invitation of A.
    a_invitation: uuid::Uuid,
    a_owner_session: uuid::Uuid,
    a_score_key: String,
    /// A's score config (named [`A_SCORE_NAME`]) and a score of A's trace.
    a_score_config: uuid::Uuid,
    a_score: uuid::Uuid,
    a_evaluator: uuid::Uuid,
    a_queue: uuid::Uuid,
    /// A's dataset, its one item, and a run linking A's trace to it.
    a_dataset: uuid::Uuid,
    a_item: uuid::Uuid,
    a_run: uuid::Uuid,
    a_guardrail_key: String,
    /// A's guardrail policy (named [`A_GUARD_POLICY`]), with one decision recorded.
    a_guard_policy: uuid::Uuid,
    /// A's alert rule, channel, silence and budget.
    a_alert_rule: uuid::Uuid,
    a_channel: uuid::Uuid,
    a_silence: uuid::Uuid,
    a_budget: uuid::Uuid,
}

async fn world(owner: &PgPool) -> World {
    let (router, s) = app_as_server(owner).await;
    let ann = session::register(
        &s,
        "ann@example.com",
        "Ann",
        PASSWORD,
        "Alpha Secret Project",
    )
    .await
    .unwrap();
    let a = WorkspaceId(ann.workspace.id);
    let vic = session::register(&s, "vic@example.com", "Vic", PASSWORD, "Vic's")
        .await
        .unwrap();
    let mem = session::register(&s, "mem@example.com", "Mem", PASSWORD, "Mem's")
        .await
        .unwrap();
    session::register(&s, "out@example.com", "Out", PASSWORD, "Out's")
        .await
        .unwrap();
    members::add(&s, a, "vic@example.com", Role::Viewer)
        .await
        .unwrap();
    members::add(&s, a, "mem@example.com", Role::Member)
        .await
        .unwrap();
    let vic_access = argus_domain::access::from_session(&s, &vic.token)
        .await
        .unwrap();
    let vic_in_a = session::switch(&s, &vic_access, a.0).await.unwrap();
    let ann_access = argus_domain::access::from_session(&s, &ann.token)
        .await
        .unwrap();
    let invitation = argus_domain::invitations::invite(
        &s,
        &ann_access,
        "invited-to-alpha@example.com",
        Role::Viewer,
    )
    .await
    .unwrap();
    let key = apikeys::create(&s.pool, a, None, "alpha-key", &[Scope::Read], None)
        .await
        .unwrap();
    let ingest = apikeys::create(&s.pool, a, None, "alpha-ingest", &[Scope::Ingest], None)
        .await
        .unwrap();
    let revoked = apikeys::create(&s.pool, a, None, "alpha-old", &[Scope::Admin], None)
        .await
        .unwrap();
    apikeys::revoke(&s.pool, a, revoked.id).await.unwrap();
    argus_domain::pricing::set(
        &s,
        a,
        None,
        &argus_domain::pricing::NewPrice {
            model: A_PRICE_MODEL.into(),
            input: 1.0,
            output: 2.0,
            cached_input: None,
            cache_write: None,
        },
    )
    .await
    .unwrap();
    // Telemetry of A, whose names no other tenant may ever see.
    let ingest_access = argus_domain::access::from_api_key(&s, ingest.key.expose_secret())
        .await
        .unwrap();
    let stored = argus_domain::ingest::export_native(
        &s,
        &ingest_access,
        &mut s.ingest_gate.admit(ingest_access.workspace),
        br#"{"traces": [{"trace_id": "alpha-1", "agent_id": "alpha-secret-agent",
            "session_id": "alpha-secret-session",
            "department": "alpha-secret-dept", "model": "gpt-4o", "input_tokens": 10,
            "output_tokens": 5, "latency_ms": 100}]}"#,
    )
    .await
    .unwrap();
    assert_eq!(stored.accepted, 1);

    let bob = session::register(&s, "bob@example.com", "Bob", PASSWORD, "Beta")
        .await
        .unwrap();
    let b_admin = apikeys::create(
        &s.pool,
        WorkspaceId(bob.workspace.id),
        None,
        "beta-admin",
        &[Scope::Admin, Scope::Read, Scope::Ingest],
        None,
    )
    .await
    .unwrap();
    let a_trace: String = sqlx::query_scalar("SELECT trace_id FROM traces WHERE workspace_id = $1")
        .bind(a.0)
        .fetch_one(owner)
        .await
        .unwrap();
    let score_key = apikeys::create(&s.pool, a, None, "alpha-score", &[Scope::Score], None)
        .await
        .unwrap();
    let config = argus_domain::evals::configs::create(
        &s,
        a,
        None,
        &argus_domain::evals::configs::NewConfig {
            name: A_SCORE_NAME.into(),
            data_type: "numeric".into(),
            min_value: Some(0.0),
            max_value: Some(1.0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let scored = argus_domain::evals::scores::store_batch(
        &s,
        a,
        &argus_domain::evals::scores::Provenance {
            source: argus_types::ScoreSource::Api,
            author: Default::default(),
        },
        format!(
            r#"{{"scores": [{{"trace_id": "{a_trace}", "name": "{A_SCORE_NAME}", "value": 0.5,
                "explanation": "alpha-secret-explanation"}}]}}"#
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(scored.accepted, 1, "{scored:?}");
    let evaluator = argus_domain::evals::evaluators::create(
        &s,
        a,
        None,
        &argus_domain::evals::evaluators::NewEvaluator {
            name: "alpha-secret-evaluator".into(),
            target: "span".into(),
            filter: Default::default(),
            sampling: None,
            rule: argus_types::Rule::ValidJson {
                field: argus_types::RuleField::Output,
            },
            score_name: None,
            daily_limit_usd: None,
        },
    )
    .await
    .unwrap();
    argus_domain::evals::judge::set(
        &s,
        a,
        None,
        &argus_domain::evals::judge::JudgeForm {
            base_url: "https://alpha-secret-judge.example/v1".into(),
            model: "alpha-secret-judge-model".into(),
            api_key: Some("sk-alpha-secret-judge-key".into()),
            timeout_ms: None,
        },
    )
    .await
    .unwrap();
    let queue = argus_domain::evals::queues::create(
        &s,
        a,
        None,
        &argus_domain::evals::queues::NewQueue {
            name: "alpha-secret-queue".into(),
            configs: A_SCORE_NAME.into(),
            ..Default::default()
        },
        &argus_domain::explorer::parse(
            &argus_types::Filters::default(),
            &argus_types::TraceFilters::default(),
            &s.cursors,
            chrono::Utc::now(),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(queue.progress.items, 1, "A's trace is the queue's item");
    let dataset = argus_domain::evals::datasets::create(&s, a, None, "alpha-secret-dataset", None)
        .await
        .unwrap();
    let added = argus_domain::evals::datasets::upload(
        &s,
        a,
        dataset.id,
        r#"{"input": "alpha-secret-item-input", "expected_output": "alpha-secret-expected"}"#,
    )
    .await
    .unwrap();
    assert_eq!(added.created, 1, "{added:?}");
    let item = argus_domain::evals::datasets::items(&s, a, dataset.id, 1, 10)
        .await
        .unwrap()
        .data[0]
        .id;
    let run = argus_domain::evals::experiments::link(&s, a, item, "alpha-secret-run", &a_trace)
        .await
        .unwrap();
    let guardrail_key = apikeys::create(
        &s.pool,
        a,
        None,
        "alpha-guardrail",
        &[Scope::Guardrail],
        None,
    )
    .await
    .unwrap();
    let policy = argus_domain::guard::policies::create(
        &s,
        a,
        None,
        &argus_domain::guard::policies::NewPolicy {
            name: A_GUARD_POLICY.into(),
            description: "alpha-secret-policy-description".into(),
            definition: serde_json::from_value(serde_json::json!({
                "rules": [{"check": "pii", "action": "redact"}],
                "banned_terms": ["alpha-secret-banned"]
            }))
            .unwrap(),
        },
    )
    .await
    .unwrap();
    argus_domain::guard::check::check(
        &s,
        a,
        serde_json::from_value(serde_json::json!({
            "policy": A_GUARD_POLICY, "stage": "input", "agent_id": "alpha-secret-agent",
            "text": "reach me at alpha@example.com", "trace_id": a_trace
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    s.guard_decisions.flush(&s.pool).await.unwrap();
    let channel = argus_domain::alerts::channels::create_channel(
        &s,
        a,
        "alpha-secret-channel",
        argus_types::ChannelKind::Webhook,
        "https://hooks.example.com/alpha-secret",
    )
    .await
    .unwrap();
    let alert_rule = argus_domain::alerts::rules::create(
        &s,
        a,
        None,
        &argus_domain::alerts::rules::NewRule {
            name: "alpha-secret-rule".into(),
            definition: serde_json::from_value(serde_json::json!({
                "metric": "error_rate", "window_secs": 300, "op": "gt", "threshold": 5,
                "filters": {"agent": "alpha-secret-agent"}
            }))
            .unwrap(),
            channels: vec![channel.id],
            enabled: true,
        },
    )
    .await
    .unwrap();
    let silence = argus_domain::alerts::silences::create(
        &s,
        a,
        None,
        Some(alert_rule.id),
        Some("alpha-secret-agent".into()),
        60,
        "alpha-secret-silence",
    )
    .await
    .unwrap();
    let budget = argus_domain::alerts::budgets::upsert(
        &s,
        a,
        None,
        argus_types::BudgetScope::Agent,
        "alpha-secret-agent",
        1234.0,
        &[channel.id],
    )
    .await
    .unwrap();
    World {
        a_alert_rule: alert_rule.id,
        a_channel: channel.id,
        a_silence: silence.id,
        a_budget: budget.id,
        a_guardrail_key: guardrail_key.key.expose_secret().to_owned(),
        a_guard_policy: policy.id,
        a_dataset: dataset.id,
        a_item: item,
        a_run: run.id,
        a_queue: queue.id,
        a_evaluator: evaluator.id,
        a_score_key: score_key.key.expose_secret().to_owned(),
        a_score_config: config.id,
        a_score: scored.ids[0],
        a_trace,
        a_invitation: invitation.invitation.id,
        router,
        a: a.0,
        a_owner: ann.user.0,
        a_owner_session: ann.session,
        a_owner_token: ann.token,
        a_viewer_token: vic_in_a.token,
        a_member: mem.user.0,
        a_key: key.id,
        a_key_prefix: key.prefix,
        a_read_key: key.key.expose_secret().to_owned(),
        a_ingest_key: ingest.key.expose_secret().to_owned(),
        a_revoked_key: revoked.key.expose_secret().to_owned(),
        b_owner_token: bob.token,
        b_admin_key: b_admin.key.expose_secret().to_owned(),
        services: s,
    }
}

/// A's guardrail policy's name.
const A_GUARD_POLICY: &str = "alpha-secret-policy";

/// A's score config's name.
const A_SCORE_NAME: &str = "alpha-secret-quality";

/// A workspace price of A (a model name no other workspace may see or remove).
const A_PRICE_MODEL: &str = "alpha-secret-model";

impl World {
    fn body(&self, template: &str) -> String {
        template
            .replace("{key}", &self.a_key.to_string())
            .replace("{member}", &self.a_member.to_string())
            .replace("{workspace}", &self.a.to_string())
            .replace("{outsider_email}", "out%40example.com")
            .replace("{price}", A_PRICE_MODEL)
            .replace("{trace}", &self.a_trace)
            .replace("{session}", "alpha-secret-session")
            .replace("{agent}", "alpha-secret-agent")
            .replace("{invitation}", &self.a_invitation.to_string())
            .replace("{score_config_id}", &self.a_score_config.to_string())
            .replace("{score_config}", A_SCORE_NAME)
            .replace("{score}", &self.a_score.to_string())
            .replace("{evaluator}", &self.a_evaluator.to_string())
            .replace("{queue}", &self.a_queue.to_string())
            .replace("{dataset}", &self.a_dataset.to_string())
            .replace("{item}", &self.a_item.to_string())
            .replace("{run}", &self.a_run.to_string())
            .replace("{guard_policy_id}", &self.a_guard_policy.to_string())
            .replace("{guard_policy}", A_GUARD_POLICY)
            .replace("{alert_rule}", &self.a_alert_rule.to_string())
            .replace("{channel}", &self.a_channel.to_string())
            .replace("{silence}", &self.a_silence.to_string())
            .replace("{budget}", &self.a_budget.to_string())
    }

    /// A token for A's owner with `edit` applied to its header and claims, signed with `secret`.
    fn forged(
        &self,
        edit: impl FnOnce(&mut Header, &mut serde_json::Value),
        secret: &str,
    ) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.services.tokens.current_kid().to_owned());
        let mut claims = serde_json::json!({
            "sub": self.a_owner, "workspace_id": self.a, "role": "owner", "sid": self.a_owner_session,
            "iss": "argus", "aud": "argus-api", "iat": now, "nbf": now, "exp": now + 600,
        });
        edit(&mut header, &mut claims);
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    /// What of workspace A must never appear in another tenant's response.
    fn secrets_of_a(&self) -> Vec<String> {
        vec![
            "Alpha Secret Project".into(),
            self.a_key_prefix.clone(),
            A_PRICE_MODEL.into(),
            "alpha-secret-agent".into(),
            "alpha-secret-dept".into(),
            "vic@example.com".into(),
            "mem@example.com".into(),
            "invited-to-alpha@example.com".into(),
            "ann@example.com".into(),
            "alpha-secret-session".into(),
            self.a_trace.clone(),
            A_SCORE_NAME.into(),
            "alpha-secret-explanation".into(),
            "alpha-secret-evaluator".into(),
            "alpha-secret-judge".into(),
            "sk-alpha-secret-judge-key".into(),
            "alpha-secret-queue".into(),
            "alpha-secret-dataset".into(),
            "alpha-secret-item-input".into(),
            "alpha-secret-expected".into(),
            "alpha-secret-run".into(),
            A_GUARD_POLICY.into(),
            "alpha-secret-banned".into(),
        ]
    }
}

fn alg_none(token_for_claims: &str, kid: &str) -> String {
    use base64::Engine;
    let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let claims = token_for_claims.split('.').nth(1).unwrap();
    format!(
        "{}.{claims}.",
        b64(serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string())
    )
}

/// A request to endpoint `e` with `body`, in the endpoint's content type.
fn call(e: &TenantEndpoint, body: &str, auth: &Auth) -> Request<Body> {
    let mut req = if e.in_path {
        request(e.method, &format!("{}{body}", e.path), "", auth)
    } else if e.method == "GET" && !body.is_empty() {
        request(e.method, &format!("{}?{body}", e.path), "", auth)
    } else {
        request(e.method, e.path, body, auth)
    };
    req.headers_mut()
        .insert(header::CONTENT_TYPE, e.content_type.parse().unwrap());
    req
}

async fn expect(
    router: &Router,
    e: &TenantEndpoint,
    body: &str,
    auth: &Auth,
    status: StatusCode,
    code: &str,
) {
    let res = send(router, call(e, body, auth)).await;
    let got = res.status();
    let json = body_json(res).await;
    assert_eq!(got, status, "{} {} with {auth:?}: {json}", e.method, e.path);
    assert_envelope(&json, code);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn every_tenant_endpoint_refuses_what_it_must(owner: PgPool) {
    let w = world(&owner).await;
    let kid = w.services.tokens.current_kid().to_owned();
    let valid = w.forged(|_, _| {}, TEST_SECRET);
    let bad_credentials: Vec<(&str, String)> = vec![
        (
            "bad signature",
            w.forged(|_, _| {}, "another-secret-0123456789-0123456789"),
        ),
        ("alg none", alg_none(&valid, &kid)),
        (
            "alg confusion (HS512)",
            w.forged(|h, _| h.alg = Algorithm::HS512, TEST_SECRET),
        ),
        (
            "wrong iss",
            w.forged(|_, c| c["iss"] = "evil".into(), TEST_SECRET),
        ),
        (
            "wrong aud",
            w.forged(|_, c| c["aud"] = "other-api".into(), TEST_SECRET),
        ),
        (
            "wrong typ",
            w.forged(|h, _| h.typ = Some("at+jwt".into()), TEST_SECRET),
        ),
        (
            "unknown kid",
            w.forged(|h, _| h.kid = Some("0011223344556677".into()), TEST_SECRET),
        ),
        ("garbage", "not.a.token".into()),
    ];
    let expired = w.forged(
        |_, c| {
            let past = chrono::Utc::now().timestamp() - 3600;
            c["iat"] = (past - 600).into();
            c["nbf"] = (past - 600).into();
            c["exp"] = past.into();
        },
        TEST_SECRET,
    );

    for e in TENANT_ENDPOINTS {
        let body = w.body(e.body);
        let r = &w.router;
        let w = &w;
        let body = &body;
        let forbidden = |auth: Auth| async move {
            expect(
                r,
                e,
                body,
                &auth,
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_PERMISSIONS",
            )
            .await
        };
        let mut refusals = vec![
            (Auth::None, "INVALID_CREDENTIALS"),
            (Auth::Bearer(expired.clone()), "EXPIRED_TOKEN"),
            (Auth::Cookie(expired.clone()), "EXPIRED_TOKEN"),
            (
                Auth::ApiKey("argus_000000000000_notarealkeynotarealkeynotarealkey00000".into()),
                "INVALID_API_KEY",
            ),
            (Auth::ApiKey(w.a_revoked_key.clone()), "INVALID_API_KEY"),
        ];
        for (_, token) in &bad_credentials {
            refusals.push((Auth::Bearer(token.clone()), "INVALID_CREDENTIALS"));
        }
        for (auth, code) in &refusals {
            expect(r, e, body, auth, StatusCode::UNAUTHORIZED, code).await;
        }

        // Roles and scopes inside workspace A.
        match e.needs {
            Needs::Read(_) if e.path != "/api/v1/auth/session" => {
                forbidden(Auth::ApiKey(w.a_ingest_key.clone())).await;
            }
            Needs::Read(_) => {}
            Needs::Write(min) => {
                forbidden(Auth::ApiKey(w.a_ingest_key.clone())).await;
                if min > Role::Viewer {
                    forbidden(Auth::Bearer(w.a_viewer_token.clone())).await;
                }
            }
            Needs::Score => {
                forbidden(Auth::ApiKey(w.a_read_key.clone())).await;
                forbidden(Auth::ApiKey(w.a_ingest_key.clone())).await;
                forbidden(Auth::Bearer(w.a_viewer_token.clone())).await;
                let res = send(r, call(e, body, &Auth::ApiKey(w.a_score_key.clone()))).await;
                assert_eq!(
                    res.status(),
                    StatusCode::OK,
                    "{} with the score key",
                    e.path
                );
            }
            Needs::Guardrail => {
                forbidden(Auth::ApiKey(w.a_read_key.clone())).await;
                forbidden(Auth::ApiKey(w.a_ingest_key.clone())).await;
                forbidden(Auth::ApiKey(w.a_score_key.clone())).await;
                forbidden(Auth::Bearer(w.a_viewer_token.clone())).await;
                let res = send(r, call(e, body, &Auth::ApiKey(w.a_guardrail_key.clone()))).await;
                assert_eq!(
                    res.status(),
                    StatusCode::OK,
                    "{} with the guardrail key",
                    e.path
                );
            }
            Needs::Ingest => {
                forbidden(Auth::ApiKey(w.a_read_key.clone())).await;
                forbidden(Auth::Bearer(w.a_viewer_token.clone())).await;
                let res = send(r, call(e, body, &Auth::ApiKey(w.a_ingest_key.clone()))).await;
                assert_eq!(
                    res.status(),
                    StatusCode::OK,
                    "{} with the ingest key",
                    e.path
                );
            }
        }

        // Another tenant's valid credentials: A's resources are not found, and nothing of A
        // comes back.
        for auth in [
            Auth::Bearer(w.b_owner_token.clone()),
            Auth::ApiKey(w.b_admin_key.clone()),
        ] {
            let res = send(r, call(e, body, &auth)).await;
            let status = res.status();
            let text = body_text(res).await;
            for secret in w.secrets_of_a() {
                assert!(
                    !text.contains(&secret),
                    "{} as B leaked {secret:?}: {text}",
                    e.path
                );
            }
            if [
                "{key}",
                "{member}",
                "{workspace}",
                "{price}",
                "{trace}",
                "{session}",
                "{agent}",
                "{score}",
                "{score_config_id}",
                "{evaluator}",
                "{queue}",
                "{dataset}",
                "{item}",
                "{run}",
                "{guard_policy}",
                "{guard_policy_id}",
                "{alert_rule}",
                "{channel}",
                "{silence}",
                "{budget}",
            ]
            .iter()
            .any(|p| e.body.contains(p))
            {
                let is_key = matches!(auth, Auth::ApiKey(_));
                let owner_only = matches!(e.needs, Needs::Write(Role::Owner));
                let user_only = e.path.starts_with("/api/v1/auth/")
                    || e.path == "/api/v1/members/reset-password"
                    || app::api::USER_ACTS.contains(&e.path);
                let expected = if is_key && (owner_only || user_only) {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::NOT_FOUND
                };
                assert_eq!(status, expected, "{} with {auth:?}: {text}", e.path);
            }
        }
    }

    // A's data is untouched by all of the above.
    let keys = apikeys::list(&w.services.pool, WorkspaceId(w.a))
        .await
        .unwrap();
    assert_eq!(keys.iter().filter(|k| k.revoked_at.is_none()).count(), 4);
    let listed = members::list(&w.services, WorkspaceId(w.a)).await.unwrap();
    assert_eq!(listed.len(), 3);
    let ws = argus_domain::workspaces::settings(&w.services.pool, WorkspaceId(w.a))
        .await
        .unwrap();
    assert_eq!(ws.name, "Alpha Secret Project");
    let prices = argus_domain::pricing::list(&w.services.pool, WorkspaceId(w.a))
        .await
        .unwrap();
    assert_eq!(prices.len(), 1, "A's price survives: {prices:?}");
    let configs = argus_domain::evals::configs::list(&w.services, WorkspaceId(w.a), false)
        .await
        .unwrap();
    assert_eq!(configs.len(), 1, "A's score config stays live: {configs:?}");
    let a_scores = argus_domain::evals::scores::of_trace(&w.services, WorkspaceId(w.a), &w.a_trace)
        .await
        .unwrap();
    assert!(
        a_scores.iter().any(|s| s.id == w.a_score),
        "A's score survives: {a_scores:?}"
    );
    let a_items =
        argus_domain::evals::datasets::items(&w.services, WorkspaceId(w.a), w.a_dataset, 1, 10)
            .await
            .unwrap();
    assert!(
        a_items.data.iter().any(|i| i.id == w.a_item),
        "A's dataset item survives: {a_items:?}"
    );
    let a_runs = argus_domain::evals::experiments::runs(&w.services, WorkspaceId(w.a), w.a_dataset)
        .await
        .unwrap();
    assert!(a_runs.iter().any(|r| r.id == w.a_run), "A's run survives");

    // And the valid owner token does work everywhere (the matrix is not refusing everything).
    for e in TENANT_ENDPOINTS
        .iter()
        .filter(|e| matches!(e.needs, Needs::Read(_)))
    {
        let res = send(
            &w.router,
            call(e, &w.body(e.body), &Auth::Bearer(w.a_owner_token.clone())),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{} {}", e.method, e.path);
        // A judge's key is write-only: not even its own workspace reads it back.
        let text = body_text(res).await;
        assert!(
            !text.contains("sk-alpha-secret-judge-key"),
            "{} {} shows the judge's key",
            e.method,
            e.path
        );
    }
}

#[test]
fn every_server_function_is_in_the_matrix_or_declared_public() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    let declared: BTreeSet<String> = TENANT_ENDPOINTS
        .iter()
        .filter(|e| e.server_fn)
        .map(|e| e.path.to_owned())
        .chain(PUBLIC_ENDPOINTS.iter().map(|p| (*p).to_owned()))
        .collect();
    let missing: Vec<_> = registered.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "server functions in neither TENANT_ENDPOINTS nor PUBLIC_ENDPOINTS: {missing:?}"
    );
    let stale: Vec<_> = declared.difference(&registered).collect();
    assert!(stale.is_empty(), "declared but not registered: {stale:?}");
}
