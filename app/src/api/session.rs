//! Sign-up, log-in, log-out, switching and creating workspaces, and who is signed in.
//!
//! Browsers get the session in an HttpOnly cookie and are redirected; API clients exchange an
//! email and password for a bearer token at `POST /api/v1/auth/token`.

pub use argus_types::IssuedToken;
use argus_types::Session;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use uuid::Uuid;

use crate::error::AppError;

#[cfg(feature = "ssr")]
pub use super::request::{SECURE_SESSION_COOKIE, SESSION_COOKIE};

/// Where to go after logging in: a path on this site, else `/` (never another host).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `POST /api/v1/auth/signup`: creates the account and its first workspace (when
/// `ARGUS_SIGNUP` allows), then sends the browser to log in. The answer is the same whether or
/// not the address already had an account.
#[server(prefix = "/api/v1", endpoint = "auth/signup")]
pub async fn sign_up(
    email: String,
    name: String,
    password: String,
    workspace_name: String,
) -> Result<(), AppError> {
    use super::context::{client_ip, services};
    argus_domain::session::sign_up(
        &services(),
        &email,
        &name,
        &password,
        &workspace_name,
        client_ip(),
    )
    .await?;
    leptos_axum::redirect("/login?signed_up=1");
    Ok(())
}

/// `POST /api/v1/auth/login`: checks the email and password (rate-limited), signs in and
/// redirects to `next`.
#[server(prefix = "/api/v1", endpoint = "auth/login")]
pub async fn log_in(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use super::context::{client_ip, origin, services, set_session_cookie};
    let started =
        argus_domain::session::log_in(&services(), &email, &password, &origin(), client_ip(), None)
            .await?;
    set_session_cookie(&started.token);
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// `POST /api/v1/auth/token`: exchanges an email and password for a bearer token in
/// `workspace_id` (default: the user's first workspace). Rate-limited like log-in.
#[server(prefix = "/api/v1", endpoint = "auth/token")]
pub async fn issue_token(
    email: String,
    password: String,
    workspace_id: Option<Uuid>,
) -> Result<IssuedToken, AppError> {
    use super::context::{client_ip, origin, services};
    let services = services();
    let started = argus_domain::session::log_in(
        &services,
        &email,
        &password,
        &origin(),
        client_ip(),
        workspace_id,
    )
    .await?;
    Ok(IssuedToken {
        token: started.token,
        token_type: "Bearer".into(),
        expires_in: services.tokens.ttl().as_secs(),
        workspace: started.workspace,
    })
}

/// `POST /api/v1/auth/logout`: ends the session on the server (its token stops working at
/// once, wherever it was copied) and forgets the browser's cookie.
#[server(prefix = "/api/v1", endpoint = "auth/logout")]
pub async fn log_out() -> Result<(), AppError> {
    use argus_domain::access::Caller;

    use super::context::{caller, clear_session_cookie, services};
    if let Caller::Authenticated(access) = caller() {
        argus_domain::session::log_out(&services(), &access).await?;
    }
    clear_session_cookie();
    leptos_axum::redirect("/login");
    Ok(())
}

/// `POST /api/v1/auth/logout-everywhere`: ends every session of the signed-in user, this one
/// too.
#[server(prefix = "/api/v1", endpoint = "auth/logout-everywhere")]
pub async fn log_out_everywhere() -> Result<(), AppError> {
    use super::context::{clear_session_cookie, require_user, services};
    let (access, _) = require_user(argus_types::Role::Viewer)?;
    argus_domain::session::sign_out_everywhere(&services(), &access).await?;
    clear_session_cookie();
    leptos_axum::redirect("/login");
    Ok(())
}

/// `POST /api/v1/auth/password`: changes the signed-in user's password (the current one is
/// checked); every other session of theirs ends. Answers how many ended.
#[server(prefix = "/api/v1", endpoint = "auth/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<usize, AppError> {
    use super::context::{client_ip, require_user, services};
    let (access, _) = require_user(argus_types::Role::Viewer)?;
    Ok(argus_domain::session::change_password(
        &services(),
        &access,
        &current_password,
        &new_password,
        client_ip(),
    )
    .await?)
}

/// `GET /api/v1/auth/sessions`: the signed-in user's live sessions, newest first.
#[server(prefix = "/api/v1", endpoint = "auth/sessions", input = GetUrl)]
pub async fn list_sessions() -> Result<Vec<argus_types::SessionInfo>, AppError> {
    use super::context::{require_user, services};
    let (access, user) = require_user(argus_types::Role::Viewer)?;
    Ok(argus_domain::user_sessions::list(&services().pool, user, access.session).await?)
}

/// `POST /api/v1/auth/reset-password`: sets a new password with a one-time link's `token`;
/// every session of the account ends. Then the browser logs in.
#[server(prefix = "/api/v1", endpoint = "auth/reset-password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use super::context::{client_ip, services};
    argus_domain::passwords::reset(&services(), &token, &password, client_ip()).await?;
    leptos_axum::redirect("/login?reset=1");
    Ok(())
}

/// `POST /api/v1/auth/switch`: continues the session in another of the user's workspaces.
#[server(prefix = "/api/v1", endpoint = "auth/switch")]
pub async fn switch_workspace(workspace_id: Uuid) -> Result<(), AppError> {
    use super::context::{require_user, services, set_session_cookie};
    let (access, _) = require_user(argus_types::Role::Viewer)?;
    let started = argus_domain::session::switch(&services(), &access, workspace_id).await?;
    set_session_cookie(&started.token);
    leptos_axum::redirect("/");
    Ok(())
}

/// `POST /api/v1/workspaces/create`: a new workspace owned by the caller, who moves into it.
#[server(prefix = "/api/v1", endpoint = "workspaces/create")]
pub async fn create_workspace(name: String) -> Result<(), AppError> {
    use super::context::{require_user, services, set_session_cookie};
    let (access, _) = require_user(argus_types::Role::Viewer)?;
    let started = argus_domain::session::create_workspace(&services(), &access, &name).await?;
    set_session_cookie(&started.token);
    leptos_axum::redirect("/");
    Ok(())
}

/// `GET /api/v1/auth/session`: who is signed in, where, and the workspaces they can switch to.
#[server(prefix = "/api/v1", endpoint = "auth/session", input = GetUrl)]
pub async fn get_session() -> Result<Session, AppError> {
    use super::context::{access, services};
    let access = access()?;
    Ok(argus_domain::session::describe(&services(), &access).await?)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/settings/api-keys?x=1")),
            "/settings/api-keys?x=1"
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}

/// `GET /api/v1/auth/current`: like [`get_session`], but "nobody" is an answer (`null`), not an
/// error — for the header, which also renders on the log-in page.
#[server(prefix = "/api/v1", endpoint = "auth/current", input = GetUrl)]
pub async fn current_session() -> Result<Option<Session>, AppError> {
    use argus_domain::access::Caller;

    use super::context::{caller, services};
    let Caller::Authenticated(access) = caller() else {
        return Ok(None);
    };
    if access.user().is_none() {
        return Ok(None);
    }
    match argus_domain::session::describe(&services(), &access).await {
        Ok(session) => Ok(Some(session)),
        Err(e) if !e.is_server_fault() => Ok(None),
        Err(e) => Err(e.into()),
    }
}
