//! API keys of the caller's workspace: list (any member), create and revoke (admin).

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{ApiKeyInfo, CreatedApiKey};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use uuid::Uuid;

use crate::error::AppError;

/// `GET /api/v1/api-keys`: the workspace's keys, newest first (never their secrets).
#[server(prefix = "/api/v1", endpoint = "api-keys", input = GetUrl)]
pub async fn list_api_keys() -> Result<Vec<ApiKeyInfo>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::apikeys::list(&services().pool, access.workspace).await?)
}

/// `POST /api/v1/api-keys/create`: a new key; the response is the only time its secret is
/// shown. Scopes: `scopes` as a comma-separated list (`ingest,read`) and/or the form's
/// `scope_ingest` / `scope_read` / `scope_admin` / `scope_score` / `scope_guardrail` checkboxes.
#[server(prefix = "/api/v1", endpoint = "api-keys/create")]
pub async fn create_api_key(
    name: String,
    scopes: Option<String>,
    scope_ingest: Option<String>,
    scope_read: Option<String>,
    scope_admin: Option<String>,
    scope_score: Option<String>,
    scope_guardrail: Option<String>,
) -> Result<CreatedApiKey, AppError> {
    use argus_domain::apikeys::{self, Scope};
    use secrecy::ExposeSecret;

    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let mut wanted = Vec::new();
    for name in scopes.iter().flat_map(|s| s.split(',')).map(str::trim) {
        if !name.is_empty() {
            wanted.push(Scope::parse(name)?);
        }
    }
    for (flag, scope) in [
        (&scope_ingest, Scope::Ingest),
        (&scope_read, Scope::Read),
        (&scope_admin, Scope::Admin),
        (&scope_score, Scope::Score),
        (&scope_guardrail, Scope::Guardrail),
    ] {
        if flag.is_some() {
            wanted.push(scope);
        }
    }
    wanted.dedup();
    let services = services();
    let created = apikeys::create(
        &services.pool,
        access.workspace,
        access.user(),
        &name,
        &wanted,
        None,
    )
    .await?;
    let info = apikeys::list(&services.pool, access.workspace)
        .await?
        .into_iter()
        .find(|k| k.id == created.id)
        .ok_or_else(|| argus_domain::Error::Internal("the new key is not listed".into()))?;
    let key = created.key.expose_secret().to_owned();
    if super::context::is_form_post() {
        // No JavaScript: the browser is redirected back to the page, which shows it once.
        super::context::set_flash_cookie(NEW_KEY_COOKIE, &key, 120);
    }
    Ok(CreatedApiKey { info, key })
}

/// `POST /api/v1/api-keys/revoke`: revokes a key at once.
#[server(prefix = "/api/v1", endpoint = "api-keys/revoke")]
pub async fn revoke_api_key(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::apikeys::revoke_key(&services(), access.workspace, id).await?)
}

/// The flash cookie that carries a key created by a plain (JavaScript-less) form post to the
/// page that shows it once.
pub const NEW_KEY_COOKIE: &str = "argus_new_key";

/// `GET /api/v1/api-keys/flash`: the key created by the last plain form post, once; the
/// cookie is cleared as it is read.
#[server(prefix = "/api/v1", endpoint = "api-keys/flash", input = GetUrl)]
pub async fn take_new_key() -> Result<Option<String>, AppError> {
    use http::request::Parts;
    let key = use_context::<Parts>().and_then(|parts| {
        super::context::cookie(&parts.headers, NEW_KEY_COOKIE).map(str::to_owned)
    });
    if key.is_some() {
        super::context::set_flash_cookie(NEW_KEY_COOKIE, "", 0);
    }
    Ok(key)
}
