//! Settings → API keys: create (the secret shown once), list, revoke.

use crate::state::codec::resource;
use argus_types::{ApiKeyInfo, Role};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::keys::{list_api_keys, take_new_key, CreateApiKey, RevokeApiKey};
use crate::components::forms::{ActionError, Submit};
use crate::state::session::use_session;

use crate::components::copy::CopyButton;
use crate::components::page::LoadError;
use crate::components::settings_nav::SettingsNav;
use crate::format::date;
use crate::state::session::{my_role, role_now};

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let session = use_session();
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = resource(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let flashed = resource(|| (), |_| take_new_key());
    let role = my_role();
    let can_manage = move || role.get().is_some_and(|r| r >= Role::Admin);
    let new_key = move || {
        let from_action = create.value().get().and_then(|r| r.ok()).map(|c| c.key);
        from_action.or_else(|| flashed.get().and_then(|r| r.ok()).flatten())
    };
    view! {
        <Title text="API keys · Argus" />
        <div class="page-header"><div><h1>"Settings"</h1></div></div>
        <SettingsNav />
        <section class="card">
            <h2>"API keys"</h2>
            <p class="muted">
                "Keys authenticate agents and scripts: " <code>"ingest"</code> " writes traces and reads nothing, "
                <code>"read"</code> " reads the API, " <code>"admin"</code> " also changes settings. Send one as "
                <code>"Authorization: Bearer <key>"</code> " or " <code>"X-API-Key"</code> "."
            </p>
            <Suspense>
                {move || new_key().map(|key| view! {
                    <div class="callout callout-ok" role="status" data-testid="new-key">
                        <h3>"Copy this key now: it is not shown again."</h3>
                        <p class="mono" data-testid="new-key-value">{key.clone()}</p>
                        <CopyButton text=key />
                    </div>
                })}
            </Suspense>
            // Role-gated: inside a Transition so the server waits for the session.
            <Transition>
                {move || can_manage().then(|| view! {
                <ActionForm action=create attr:class="form form-inline" attr:data-testid="create-key-form">
                    <label>
                        "Name"
                        <input type="text" name="name" required maxlength="200" placeholder="e.g. support-bot production" />
                    </label>
                    <fieldset class="checks">
                        <legend>"Scopes"</legend>
                        <label><input type="checkbox" name="scope_ingest" checked /> "ingest"</label>
                        <label><input type="checkbox" name="scope_read" /> "read"</label>
                        <label><input type="checkbox" name="scope_admin" /> "admin"</label>
                        <label><input type="checkbox" name="scope_score" /> "score"</label>
                        <label><input type="checkbox" name="scope_guardrail" /> "guardrail"</label>
                    </fieldset>
                    <Submit action=create label="Create key" busy="Creating…" testid="create-key" />
                </ActionForm>
                <ActionError action=create />
                <ActionError action=revoke />
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                {move || Suspend::new(async move {
                    let manage = role_now(session).await.is_some_and(|r| r >= Role::Admin);
                    match keys.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty" data-testid="no-keys">"No API keys yet."</p>
                        }.into_any(),
                        Ok(list) => view! { <KeyTable keys=list revoke can_manage=manage /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn KeyTable(
    keys: Vec<ApiKeyInfo>,
    revoke: ServerAction<RevokeApiKey>,
    can_manage: bool,
) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid="key-table">
            <thead>
                <tr>
                    <th>"Name"</th><th>"Prefix"</th><th>"Scopes"</th><th>"Created"</th>
                    <th>"Last used"</th><th>"Status"</th><th></th>
                </tr>
            </thead>
            <tbody>
                {keys.into_iter().map(|k| {
                    let revoked = k.revoked_at.is_some();
                    let id = k.id.to_string();
                    let warn = format!(
                        "Revoke the key \u{201c}{}\u{201d}? Agents using it are refused from now on; this cannot be undone.",
                        k.name
                    );
                    view! {
                        <tr data-testid="key-row">
                            <td>{k.name.clone()}</td>
                            <td class="mono">{format!("argus_{}_…", k.prefix)}</td>
                            <td>{k.scopes.join(", ")}</td>
                            <td>{date(&k.created_at)}</td>
                            <td>{k.last_used_at.as_ref().map_or_else(|| "never".to_owned(), date)}</td>
                            <td>{if revoked { "revoked" } else { "active" }}</td>
                            <td>
                                {(can_manage && !revoked).then(|| view! {
                                    <ActionForm action=revoke>
                                        <input type="hidden" name="id" value=id.clone() />
                                        <button type="submit" class="button button-danger button-small"
                                            on:click=crate::components::forms::confirm_first(warn.clone())>"Revoke"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
}
