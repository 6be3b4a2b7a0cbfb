//! Accounts a hostile user cannot flood or keep: revocable sessions, password changes and
//! one-time links, invitations without account enumeration, sign-up policy and rate limits,
//! log-in counted before checking, and the client address behind trusted proxies.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use argus_domain::policy::{parse_cidrs, Policy, SignupMode};
use argus_domain::tenancy::WorkspaceId;
use argus_domain::{members, session, Services};
use argus_types::Role;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::*;
use serde_json::Value;
use sqlx::PgPool;

const PASSWORD: &str = "a long passphrase";

/// The router with the install's policy changed by `edit`.
async fn app_with(owner: &PgPool, edit: impl FnOnce(&mut Policy)) -> (Router, Services) {
    let db = argus_domain::db::DbConfig::app_role_like(owner);
    let pool = argus_domain::db::connect(&db).await.unwrap();
    let mut state = state(pool, default_gateway());
    let mut policy = Policy::default();
    edit(&mut policy);
    state.services.policy = Arc::new(policy);
    let services = state.services.clone();
    (server::router::build(state), services)
}

/// A form action's success: a redirect for a browser's form post, 200 for an API client.
fn done(status: StatusCode) -> bool {
    status.is_success() || status.is_redirection()
}

fn post(path: &str, body: &str, auth: &Auth) -> Request<Body> {
    request("POST", path, body, auth)
}

fn from(mut req: Request<Body>, peer: &str, forwarded: Option<&str>) -> Request<Body> {
    req.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    if let Some(f) = forwarded {
        req.headers_mut()
            .insert("x-forwarded-for", f.parse().unwrap());
    }
    req
}

async fn token(router: &Router, email: &str, password: &str) -> String {
    let res = send(
        router,
        post(
            "/api/v1/auth/token",
            &format!(
                "email={}&password={}",
                email.replace('@', "%40"),
                password.replace(' ', "+")
            ),
            &Auth::None,
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    body_json(res).await["token"].as_str().unwrap().to_owned()
}

async fn status_of(router: &Router, token: &str) -> StatusCode {
    send(
        router,
        request(
            "GET",
            "/api/v1/auth/session",
            "",
            &Auth::Bearer(token.into()),
        ),
    )
    .await
    .status()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn logging_out_ends_the_token_on_the_server(owner: PgPool) {
    let (router, s) = app_as_server(&owner).await;
    session::register(&s, "ann@example.com", "Ann", PASSWORD, "A")
        .await
        .unwrap();
    let t = token(&router, "ann@example.com", PASSWORD).await;
    let other = token(&router, "ann@example.com", PASSWORD).await;
    assert_eq!(status_of(&router, &t).await, StatusCode::OK);
    let res = send(
        &router,
        post("/api/v1/auth/logout", "", &Auth::Bearer(t.clone())),
    )
    .await;
    assert!(done(res.status()), "{}", res.status());
    // The copied token no longer works, however long it had left; other sessions go on.
    assert_eq!(status_of(&router, &t).await, StatusCode::UNAUTHORIZED);
    let res = send(&router, request("GET", "/", "", &Auth::Cookie(t.clone()))).await;
    assert!(done(res.status()), "a page sends it to log in");
    assert_eq!(status_of(&router, &other).await, StatusCode::OK);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_password_change_ends_the_other_sessions_and_sign_out_everywhere_all(owner: PgPool) {
    let (router, s) = app_as_server(&owner).await;
    session::register(&s, "ann@example.com", "Ann", PASSWORD, "A")
        .await
        .unwrap();
    let here = token(&router, "ann@example.com", PASSWORD).await;
    let laptop = token(&router, "ann@example.com", PASSWORD).await;
    let sessions = send(
        &router,
        request(
            "GET",
            "/api/v1/auth/sessions",
            "",
            &Auth::Bearer(here.clone()),
        ),
    )
    .await;
    let listed = body_json(sessions).await;
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == true)
            .count(),
        1
    );
    let change = |current: &str| {
        post(
            "/api/v1/auth/password",
            &format!(
                "current_password={}&new_password=a+brand+new+passphrase",
                current.replace(' ', "+")
            ),
            &Auth::Bearer(here.clone()),
        )
    };
    let res = send(&router, change("not my password")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_envelope(&body_json(res).await, "INVALID_INPUT");
    assert_eq!(status_of(&router, &laptop).await, StatusCode::OK);
    let res = send(&router, change(PASSWORD)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        body_json(res).await,
        2,
        "the laptop and the registration's session"
    );
    assert_eq!(status_of(&router, &laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_of(&router, &here).await, StatusCode::OK);
    let old = send(
        &router,
        post(
            "/api/v1/auth/token",
            "email=ann%40example.com&password=a+long+passphrase",
            &Auth::None,
        ),
    )
    .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let fresh = token(&router, "ann@example.com", "a brand new passphrase").await;

    let res = send(
        &router,
        post(
            "/api/v1/auth/logout-everywhere",
            "",
            &Auth::Bearer(here.clone()),
        ),
    )
    .await;
    assert!(done(res.status()));
    assert_eq!(status_of(&router, &here).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_of(&router, &fresh).await, StatusCode::UNAUTHORIZED);
}

/// Invites `email` into the workspace of `owner_token`; the response.
async fn invite(
    router: &Router,
    owner_token: &str,
    email: &str,
    role: &str,
) -> (StatusCode, Value) {
    let res = send(
        router,
        post(
            "/api/v1/members/add",
            &format!("email={}&role={role}", email.replace('@', "%40")),
            &Auth::Bearer(owner_token.into()),
        ),
    )
    .await;
    let status = res.status();
    (status, body_json(res).await)
}

fn shape(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v["invitation"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn invitations_tell_nobody_which_addresses_exist_and_join_on_acceptance(owner: PgPool) {
    let (router, s) = app_as_server(&owner).await;
    let ann = session::register(&s, "ann@example.com", "Ann", PASSWORD, "Alpha")
        .await
        .unwrap();
    session::register(&s, "bob@example.com", "Bob", PASSWORD, "Bob's")
        .await
        .unwrap();
    let ann_t = token(&router, "ann@example.com", PASSWORD).await;

    // An address with an account and one without: the same answer.
    let (known_status, known) = invite(&router, &ann_t, "bob@example.com", "member").await;
    let (new_status, new) = invite(&router, &ann_t, "newcomer@example.com", "viewer").await;
    assert_eq!(known_status, StatusCode::OK);
    assert_eq!(new_status, StatusCode::OK);
    assert_eq!(shape(&known), shape(&new));
    assert!(new["link"].as_str().unwrap().starts_with("/invite/"));
    assert_eq!(
        members::list(&s, WorkspaceId(ann.workspace.id))
            .await
            .unwrap()
            .len(),
        1
    );

    // Bob's account predates the invitation: he sees it, and accepting makes him a member.
    let bob_t = token(&router, "bob@example.com", PASSWORD).await;
    let mine = body_json(
        send(
            &router,
            request(
                "GET",
                "/api/v1/invitations",
                "",
                &Auth::Bearer(bob_t.clone()),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["workspace_name"], "Alpha");
    let id = mine[0]["id"].as_str().unwrap();
    let res = send(
        &router,
        post(
            "/api/v1/invitations/accept",
            &format!("id={id}"),
            &Auth::Bearer(bob_t.clone()),
        ),
    )
    .await;
    assert!(done(res.status()), "{}", res.status());
    let listed = members::list(&s, WorkspaceId(ann.workspace.id))
        .await
        .unwrap();
    let bob = listed
        .iter()
        .find(|m| m.email == "bob@example.com")
        .unwrap();
    assert_eq!(bob.role, Role::Member);
    // Accepted once: it is gone.
    let res = send(
        &router,
        post(
            "/api/v1/invitations/accept",
            &format!("id={id}"),
            &Auth::Bearer(bob_t),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Someone signing up with the newcomer's address after the invitation does not see it
    // (Argus sends no email: only the link proves the invitation was theirs).
    session::register(&s, "newcomer@example.com", "Impostor", PASSWORD, "Imp")
        .await
        .unwrap();
    let imp_t = token(&router, "newcomer@example.com", PASSWORD).await;
    let theirs = body_json(
        send(
            &router,
            request("GET", "/api/v1/invitations", "", &Auth::Bearer(imp_t)),
        )
        .await,
    )
    .await;
    assert_eq!(theirs, serde_json::json!([]));

    // The link: what it invites to, and an account made with it joins at once.
    let (_, carol) = invite(&router, &ann_t, "carol@example.com", "viewer").await;
    let link = carol["link"]
        .as_str()
        .unwrap()
        .trim_start_matches("/invite/")
        .to_owned();
    let info = body_json(
        send(
            &router,
            request(
                "GET",
                &format!("/api/v1/invitations/link?token={link}"),
                "",
                &Auth::None,
            ),
        )
        .await,
    )
    .await;
    assert_eq!(info["workspace_name"], "Alpha");
    assert_eq!(info["email"], "carol@example.com");
    let res = send(
        &router,
        post(
            "/api/v1/invitations/signup",
            &format!("token={link}&name=Carol&password=carols+passphrase"),
            &Auth::None,
        ),
    )
    .await;
    assert!(done(res.status()), "{}", res.status());
    let carol_t = token(&router, "carol@example.com", "carols passphrase").await;
    let session = body_json(
        send(
            &router,
            request("GET", "/api/v1/auth/session", "", &Auth::Bearer(carol_t)),
        )
        .await,
    )
    .await;
    assert_eq!(session["workspace"]["name"], "Alpha");
    assert_eq!(
        session["workspaces"].as_array().unwrap().len(),
        1,
        "no workspace of her own"
    );
    // A used or made-up link is a clear 404.
    for bad in [link.as_str(), "made-up"] {
        let res = send(
            &router,
            request(
                "GET",
                &format!("/api/v1/invitations/link?token={bad}"),
                "",
                &Auth::None,
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn only_an_owner_makes_an_owner_and_a_declined_invitation_is_gone(owner: PgPool) {
    let (router, s) = app_as_server(&owner).await;
    let ann = session::register(&s, "ann@example.com", "Ann", PASSWORD, "Alpha")
        .await
        .unwrap();
    session::register(&s, "adm@example.com", "Adm", PASSWORD, "Adm's")
        .await
        .unwrap();
    members::add(
        &s,
        WorkspaceId(ann.workspace.id),
        "adm@example.com",
        Role::Admin,
    )
    .await
    .unwrap();
    let adm_t = {
        let t = token(&router, "adm@example.com", PASSWORD).await;
        let res = send(
            &router,
            post(
                "/api/v1/auth/switch",
                &format!("workspace_id={}", ann.workspace.id),
                &Auth::Bearer(t.clone()),
            ),
        )
        .await;
        assert!(done(res.status()));
        // The switch answers with a cookie; an API client logs in again into the workspace.
        let res = send(
            &router,
            post(
                "/api/v1/auth/token",
                &format!(
                    "email=adm%40example.com&password=a+long+passphrase&workspace_id={}",
                    ann.workspace.id
                ),
                &Auth::None,
            ),
        )
        .await;
        body_json(res).await["token"].as_str().unwrap().to_owned()
    };
    let (status, body) = invite(&router, &adm_t, "x@example.com", "owner").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = invite(&router, &adm_t, "x@example.com", "admin").await;
    assert_eq!(status, StatusCode::OK);
    let ann_t = token(&router, "ann@example.com", PASSWORD).await;
    let (status, _) = invite(&router, &ann_t, "y@example.com", "owner").await;
    assert_eq!(status, StatusCode::OK);
    // A pending invitation can be withdrawn; the list shows what is pending.
    let pending = body_json(
        send(
            &router,
            request(
                "GET",
                "/api/v1/members/invitations",
                "",
                &Auth::Bearer(ann_t.clone()),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(pending.as_array().unwrap().len(), 2, "{pending}");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn an_admin_resets_a_password_with_a_one_time_link_only_where_they_outrank(owner: PgPool) {
    let (router, s) = app_as_server(&owner).await;
    let ann = session::register(&s, "ann@example.com", "Ann", PASSWORD, "Alpha")
        .await
        .unwrap();
    session::register(&s, "own@example.com", "Own", PASSWORD, "Own's")
        .await
        .unwrap();
    let ann_t = token(&router, "ann@example.com", PASSWORD).await;
    // Dee joined by link: Alpha is her only workspace.
    let (_, dee) = invite(&router, &ann_t, "dee@example.com", "member").await;
    let link = dee["link"]
        .as_str()
        .unwrap()
        .trim_start_matches("/invite/")
        .to_owned();
    send(
        &router,
        post(
            "/api/v1/invitations/signup",
            &format!(
                "token={link}&name=Dee&password={}",
                PASSWORD.replace(' ', "+")
            ),
            &Auth::None,
        ),
    )
    .await;
    let dee_t = token(&router, "dee@example.com", PASSWORD).await;
    let dee_id = members::list(&s, WorkspaceId(ann.workspace.id))
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.email == "dee@example.com")
        .unwrap()
        .user_id;
    let res = send(
        &router,
        post(
            "/api/v1/members/reset-password",
            &format!("user_id={dee_id}"),
            &Auth::Bearer(ann_t.clone()),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let link = body_json(res).await["link"].as_str().unwrap().to_owned();
    let token_part = link.split("token=").nth(1).unwrap().to_owned();
    let reset = |password: &str| {
        post(
            "/api/v1/auth/reset-password",
            &format!("token={token_part}&password={}", password.replace(' ', "+")),
            &Auth::None,
        )
    };
    let res = send(&router, reset("dees new passphrase")).await;
    assert!(done(res.status()), "{}", res.status());
    assert_eq!(
        status_of(&router, &dee_t).await,
        StatusCode::UNAUTHORIZED,
        "sessions end"
    );
    token(&router, "dee@example.com", "dees new passphrase").await;
    let again = send(&router, reset("yet another passphrase")).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "one time only");

    // Own is an owner of another workspace: out of Ann's reach even as a member of hers.
    members::add(
        &s,
        WorkspaceId(ann.workspace.id),
        "own@example.com",
        Role::Viewer,
    )
    .await
    .unwrap();
    let own_id = argus_domain::identity::user_by_email(
        &s.pool,
        &argus_domain::identity::Email::parse("own@example.com").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let res = send(
        &router,
        post(
            "/api/v1/members/reset-password",
            &format!("user_id={}", own_id.0),
            &Auth::Bearer(ann_t),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn log_in_lands_in_the_workspace_used_last(owner: PgPool) {
    let (router, s) = app_as_server(&owner).await;
    session::register(&s, "ann@example.com", "Ann", PASSWORD, "Alpha")
        .await
        .unwrap();
    let t = token(&router, "ann@example.com", PASSWORD).await;
    let res = send(
        &router,
        post("/api/v1/workspaces/create", "name=Zeta", &Auth::Bearer(t)),
    )
    .await;
    assert!(done(res.status()));
    let t = token(&router, "ann@example.com", PASSWORD).await;
    let session = body_json(
        send(
            &router,
            request("GET", "/api/v1/auth/session", "", &Auth::Bearer(t)),
        )
        .await,
    )
    .await;
    assert_eq!(session["workspace"]["name"], "Zeta");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn sign_up_follows_the_install_policy_and_is_rate_limited(owner: PgPool) {
    let signup = |email: &str| {
        from(
            post(
                "/api/v1/auth/signup",
                &format!(
                    "email={}&name=N&password=a+long+passphrase&workspace_name=W",
                    email.replace('@', "%40")
                ),
                &Auth::None,
            ),
            "203.0.113.9:5000",
            None,
        )
    };
    for mode in [SignupMode::Closed, SignupMode::Invite] {
        let db = owner.clone();
        sqlx::query("TRUNCATE users CASCADE")
            .execute(&db)
            .await
            .unwrap();
        let (router, _) = app_with(&owner, |p| p.signup = mode).await;
        // The first user of an empty install may always sign up…
        let res = send(&router, signup("first@example.com")).await;
        assert!(done(res.status()), "{mode:?}: {}", res.status());
        // …nobody after.
        let res = send(&router, signup("second@example.com")).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{mode:?}");
        assert_envelope(&body_json(res).await, "INSUFFICIENT_PERMISSIONS");
    }
    let (router, _) = app_with(&owner, |p| p.signup = SignupMode::Open).await;
    for n in 0..5 {
        let res = send(&router, signup(&format!("open{n}@example.com"))).await;
        assert!(done(res.status()), "{}", res.status());
    }
    let res = send(&router, signup("sixth@example.com")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn fifty_parallel_wrong_passwords_get_at_most_five_checks(owner: PgPool) {
    let (router, s) = app_as_server(&owner).await;
    session::register(&s, "ann@example.com", "Ann", PASSWORD, "A")
        .await
        .unwrap();
    let attempts = (0..50).map(|n| {
        let router = router.clone();
        async move {
            let req = from(
                post(
                    "/api/v1/auth/token",
                    "email=ann%40example.com&password=wrong+password",
                    &Auth::None,
                ),
                &format!("198.51.100.{}:4000", n % 200),
                None,
            );
            let res = send(&router, req).await;
            (
                res.status(),
                res.headers().contains_key(header::RETRY_AFTER),
            )
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let checked = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = answers
        .iter()
        .filter(|(s, retry)| *s == StatusCode::TOO_MANY_REQUESTS && *retry)
        .count();
    assert!(checked <= 5, "{checked} passwords were checked");
    assert_eq!(checked + limited, 50, "{answers:?}");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy(owner: PgPool) {
    for (trusted, shared) in [(false, true), (true, false)] {
        sqlx::query("TRUNCATE users CASCADE")
            .execute(&owner)
            .await
            .unwrap();
        let (router, s) = app_with(&owner, |p| {
            if trusted {
                p.trusted_proxies = parse_cidrs("10.0.0.0/8").unwrap();
            }
        })
        .await;
        // Each run its own counters (the in-process limiter is per router).
        session::register(&s, "ann@example.com", "Ann", PASSWORD, "A")
            .await
            .unwrap();
        session::register(&s, "bob@example.com", "Bob", PASSWORD, "B")
            .await
            .unwrap();
        let attempt = |email: &str, password: &str, client: &str| {
            from(
                post(
                    "/api/v1/auth/token",
                    &format!("email={}&password={}", email.replace('@', "%40"), password),
                    &Auth::None,
                ),
                "10.0.0.2:443",
                Some(client),
            )
        };
        // Five failures from one client behind the proxy…
        for _ in 0..5 {
            let res = send(&router, attempt("ann@example.com", "wrong", "192.0.2.1")).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        // …then another user through the same proxy.
        let res = send(
            &router,
            attempt("bob@example.com", "a+long+passphrase", "192.0.2.99"),
        )
        .await;
        if shared {
            assert_eq!(
                res.status(),
                StatusCode::TOO_MANY_REQUESTS,
                "untrusted: the proxy is the client"
            );
        } else {
            assert_eq!(
                res.status(),
                StatusCode::OK,
                "trusted: each client counts alone"
            );
        }
    }
}
