//! The Guardrails page's parts: the policies (admins edit, delete, attach one to ingestion),
//! the policy editor with its "try it" box, the decisions table, and a trace's guardrail rows.

use crate::state::codec::resource;
use argus_types::{GuardAction, GuardCheckResponse, GuardDecision, GuardPolicy, Role};
use leptos::prelude::*;

use crate::api::guardrails::{
    list_policies, CreatePolicy, DeletePolicy, SetIngestPolicy, TryPolicy, UpdatePolicy,
};
use crate::components::forms::{ActionError, Submit};
use crate::components::page::LoadError;
use crate::format::date;
use crate::state::session::my_role;

/// What a new policy starts from: the common checks, enforced on input and tool calls.
pub const TEMPLATE: &str = r#"{
  "rules": [
    {"check": "pii", "action": "redact"},
    {"check": "secrets", "action": "block"},
    {"check": "injection", "action": "block", "stages": ["input", "tool_call"], "min_score": 0.5}
  ],
  "banned_terms": [],
  "banned_patterns": [],
  "agents": [],
  "environments": [],
  "shadow": false
}"#;

/// An action as a badge: block red, redact and flag amber, allow green; a shadow decision
/// shows what it would have done.
pub fn action_badge(action: GuardAction, would: GuardAction, shadow: bool) -> impl IntoView {
    let (class, text) = match (shadow, action, would) {
        (true, _, w) if w != GuardAction::Allow => {
            ("badge badge-warn", format!("would {}", w.as_str()))
        }
        (_, GuardAction::Block, _) => ("badge badge-bad", "block".to_owned()),
        (_, GuardAction::Redact | GuardAction::Flag, _) => {
            ("badge badge-warn", action.as_str().to_owned())
        }
        _ => ("badge badge-ok", "allow".to_owned()),
    };
    view! { <span class=class data-testid="guard-action">{text}</span> }
}

/// The kinds a decision found, counted: `email ×2, aws_access_key`.
pub fn kinds(d: &GuardDecision) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for v in &d.violations {
        match out.iter_mut().find(|(k, _)| *k == v.kind) {
            Some((_, n)) => *n += 1,
            None => out.push((v.kind.clone(), 1)),
        }
    }
    if out.is_empty() {
        return "–".into();
    }
    out.into_iter()
        .map(|(k, n)| if n > 1 { format!("{k} ×{n}") } else { k })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Recorded decisions, newest first.
#[component]
pub fn DecisionTable(decisions: Vec<GuardDecision>) -> impl IntoView {
    if decisions.is_empty() {
        return view! {
            <p class="empty" data-testid="no-decisions">
                "No decisions in this range. Agents call " <code>"POST /api/v1/guardrails/check"</code>
                " before a model or a tool; each check is recorded here (never the checked text)."
            </p>
        }
        .into_any();
    }
    view! {
        <div class="table-scroll" tabindex="0">
        <table class="table" data-testid="decision-table">
            <thead>
                <tr><th>"Time"</th><th>"Policy"</th><th>"Stage"</th><th>"Agent"</th><th>"Action"</th>
                    <th>"Found"</th><th>"Excerpt"</th><th>"Trace"</th></tr>
            </thead>
            <tbody>
                {decisions.into_iter().map(|d| {
                    let found = kinds(&d);
                    let trace = d.trace_id.clone().map(|t| {
                        let href = match &d.span_id {
                            Some(s) => format!("/traces/{t}?span={s}"),
                            None => format!("/traces/{t}"),
                        };
                        view! { <a href=href class="mono" data-testid="decision-trace">{t[..8].to_owned()}"…"</a> }
                    });
                    view! {
                        <tr data-testid="decision-row">
                            <td>{date(&d.at)}</td>
                            <td>{format!("{} v{}", d.policy, d.policy_version)}
                                {(d.source == "ingest").then(|| view! { <span class="muted">" · ingest"</span> })}</td>
                            <td>{d.stage.as_str()}</td>
                            <td>{d.agent.clone()}</td>
                            <td>{action_badge(d.action, d.would, d.shadow)}</td>
                            <td>{found}</td>
                            <td class="excerpt">{d.excerpt.clone().unwrap_or_default()}</td>
                            <td>{trace}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
    .into_any()
}

/// A policy's rules in a line: `pii → redact, secrets → block (input)`.
fn rules_line(p: &GuardPolicy) -> String {
    p.definition
        .rules
        .iter()
        .map(|r| {
            let stages: Vec<&str> = r.stages.iter().map(|s| s.as_str()).collect();
            if stages.is_empty() {
                format!("{} → {}", r.check, r.action.as_str())
            } else {
                format!(
                    "{} → {} ({})",
                    r.check,
                    r.action.as_str(),
                    stages.join(", ")
                )
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The policies, the editor (admins) and the "try it" box.
#[component]
pub fn Policies() -> impl IntoView {
    let create = ServerAction::<CreatePolicy>::new();
    let update = ServerAction::<UpdatePolicy>::new();
    let delete = ServerAction::<DeletePolicy>::new();
    let ingest = ServerAction::<SetIngestPolicy>::new();
    let policies = resource(
        move || {
            (
                create.version().get(),
                update.version().get(),
                delete.version().get(),
                ingest.version().get(),
            )
        },
        |_| list_policies(),
    );
    let role = my_role();
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    let member = move || role.get().is_some_and(|r| r >= Role::Member);
    // The policy being edited (None: a new one), and the editor's fields.
    let editing = RwSignal::new(None::<GuardPolicy>);
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let definition = RwSignal::new(TEMPLATE.to_owned());
    let edit = move |p: Option<GuardPolicy>| {
        match &p {
            Some(p) => {
                name.set(p.name.clone());
                description.set(p.description.clone());
                definition.set(serde_json::to_string_pretty(&p.definition).unwrap_or_default());
            }
            None => {
                name.set(String::new());
                description.set(String::new());
                definition.set(TEMPLATE.to_owned());
            }
        }
        editing.set(p);
    };
    // A save ends the edit and empties the form for the next policy.
    Effect::new(move |_| {
        let created = create.version().get();
        let updated = update.version().get();
        let saved = create.value().with(|v| matches!(v, Some(Ok(_))))
            || update.value().with(|v| matches!(v, Some(Ok(_))));
        if (created > 0 || updated > 0) && saved {
            name.set(String::new());
            description.set(String::new());
            definition.set(TEMPLATE.to_owned());
            editing.set(None);
        }
    });
    view! {
        <section class="card" aria-label="Policies" data-testid="guard-policies">
            <h2>"Policies"</h2>
            <p class="muted">
                "A policy is a set of checks — PII, secrets, prompt injection, banned terms, limits — each with an action: "
                <strong>"block"</strong>", "<strong>"redact"</strong>" (typed placeholders such as "<code>"[EMAIL_1]"</code>") or "
                <strong>"flag"</strong>". In shadow mode it decides and records what it would do, and changes nothing. "
                "Every change is a new version; decisions name the version that made them."
            </p>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match policies.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty" data-testid="no-policies">"No policies yet. Define one below; agents then name it in their checks."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll" tabindex="0">
                            <table class="table" data-testid="policy-table">
                                <thead><tr><th>"Name"</th><th>"Version"</th><th>"Rules"</th><th class="num">"Checks (24 h)"</th>
                                    <th class="num">"Blocks (24 h)"</th><th>"Updated"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|p| {
                                        let id = p.id.to_string();
                                        let id2 = id.clone();
                                        let rules = rules_line(&p);
                                        let shadow = p.definition.shadow;
                                        let on_ingest = p.ingest;
                                        let redacts = p.definition.rules.iter().any(|r| r.action == GuardAction::Redact);
                                        let for_edit = p.clone();
                                        view! {
                                            <tr data-testid="policy-row" data-policy=p.name.clone()>
                                                <td><strong>{p.name.clone()}</strong>
                                                    {shadow.then(|| view! { " " <span class="badge badge-warn" data-testid="policy-shadow">"shadow"</span> })}
                                                    {on_ingest.then(|| view! { " " <span class="badge badge-ok" data-testid="policy-ingest">"redacts ingest"</span> })}
                                                    {(!p.description.is_empty()).then(|| view! { <br/><span class="muted">{p.description.clone()}</span> })}</td>
                                                <td class="num">{format!("v{}", p.version)}</td>
                                                <td>{rules}</td>
                                                <td class="num">{p.decisions_24h}</td>
                                                <td class="num">{p.blocks_24h}</td>
                                                <td>{date(&p.updated_at)}</td>
                                                <td class="actions">
                                                    {admin().then(|| view! {
                                                        <button type="button" class="button button-secondary button-small" data-testid="policy-edit"
                                                            on:click=move |_| edit(Some(for_edit.clone()))>"Edit"</button>
                                                        {(redacts && !on_ingest).then(|| view! {
                                                            <ActionForm action=ingest attr:class="inline">
                                                                <input type="hidden" name="id" value=id.clone() />
                                                                <button type="submit" class="button button-secondary button-small"
                                                                    title="Redact span inputs, outputs and attributes with this policy before they are stored">"Redact ingest"</button>
                                                            </ActionForm>
                                                        })}
                                                        {on_ingest.then(|| view! {
                                                            <ActionForm action=ingest attr:class="inline">
                                                                <input type="hidden" name="id" value="" />
                                                                <button type="submit" class="button button-secondary button-small">"Stop redacting ingest"</button>
                                                            </ActionForm>
                                                        })}
                                                        <ActionForm action=delete attr:class="inline">
                                                            <input type="hidden" name="id" value=id2.clone() />
                                                            <button type="submit" class="button button-danger button-small">"Delete"</button>
                                                        </ActionForm>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
            <ActionError action=delete />
            <ActionError action=ingest />
        </section>
        <section class="card" aria-label="Policy editor" data-testid="guard-editor">
            <h2>{move || match editing.get() {
                Some(p) => format!("Edit {} (v{})", p.name, p.version),
                None => "New policy".to_owned(),
            }}</h2>
            <Transition>
                {move || admin().then(|| view! {
                    {move || match editing.get() {
                        None => view! {
                            <ActionForm action=create attr:class="form" attr:data-testid="policy-form">
                                <PolicyFields name description definition />
                                <Submit action=create label="Create policy" busy="Saving…" testid="policy-save" />
                            </ActionForm>
                        }.into_any(),
                        Some(p) => view! {
                            <ActionForm action=update attr:class="form" attr:data-testid="policy-form">
                                <input type="hidden" name="id" value=p.id.to_string() />
                                <PolicyFields name description definition />
                                <div class="form-actions">
                                    <Submit action=update label="Save as a new version" busy="Saving…" testid="policy-save" />
                                    <button type="button" class="button button-secondary" on:click=move |_| edit(None)>"Cancel"</button>
                                </div>
                            </ActionForm>
                        }.into_any(),
                    }}
                    <ActionError action=create />
                    <ActionError action=update />
                })}
                {move || (!admin()).then(|| view! {
                    <p class="muted">"Only admins change policies; you can try a definition below."</p>
                })}
            </Transition>
            <Transition>
                {move || member().then(|| view! { <TryIt definition /> })}
            </Transition>
        </section>
    }
}

/// The editor's fields, bound to signals (so "try it" runs what is being written).
#[component]
fn PolicyFields(
    name: RwSignal<String>,
    description: RwSignal<String>,
    definition: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label>"Name"
            <input type="text" name="name" required maxlength="100" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*"
                placeholder="e.g. support-input" data-testid="policy-name"
                prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
        </label>
        <label>"Description"
            <input type="text" name="description" maxlength="1000" placeholder="What it protects"
                prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev)) />
        </label>
        <label>"Definition (JSON)"
            <textarea name="definition" rows="14" class="mono" spellcheck="false" data-testid="policy-definition"
                prop:value=move || definition.get() on:input=move |ev| definition.set(event_target_value(&ev))>
                {definition.get_untracked()}
            </textarea>
        </label>
        <p class="muted small">
            "Checks: " <code>"pii"</code>" (email, phone, card, iban, ssn, ipv4, ipv6, date_of_birth), "
            <code>"secrets"</code>" (aws_access_key, github_token, openai_key, private_key, jwt, url_password, …), "
            <code>"injection"</code>", " <code>"banned"</code>" (with banned_terms / banned_patterns), "
            <code>"limits"</code>" (max_tokens, require_json, json_schema). Each rule: check, action, optional stages (input, output, tool_call), kinds, min_score."
        </p>
    }
}

/// Runs the editor's definition on pasted text; nothing is saved or recorded.
#[component]
fn TryIt(definition: RwSignal<String>) -> impl IntoView {
    let run = ServerAction::<TryPolicy>::new();
    view! {
        <h3 class="try-title">"Try it"</h3>
        <ActionForm action=run attr:class="form" attr:data-testid="try-form">
            <input type="hidden" name="definition" prop:value=move || definition.get() value=definition.get_untracked() />
            <label>"Stage"
                <select name="stage" data-testid="try-stage">
                    <option value="input" selected>"input"</option>
                    <option value="output">"output"</option>
                    <option value="tool_call">"tool_call"</option>
                </select>
            </label>
            <label>"Text"
                <textarea name="text" rows="4" required data-testid="try-text"
                    placeholder="Paste a prompt, an answer or a tool call's arguments"></textarea>
            </label>
            <Submit action=run label="Run the policy" busy="Checking…" testid="try-run" />
        </ActionForm>
        <ActionError action=run />
        {move || run.value().get().and_then(|r| r.ok()).map(|r| view! { <TryResult result=r /> })}
    }
}

#[component]
fn TryResult(result: GuardCheckResponse) -> impl IntoView {
    let redacted = result
        .redacted
        .as_ref()
        .and_then(|v| v.as_str().map(str::to_owned));
    view! {
        <div class="callout" role="status" data-testid="try-result">
            <p>{action_badge(result.action, result.would, result.shadow)}
               {format!(" {} found · {} µs", result.violations.len(), result.duration_us)}</p>
            {(!result.violations.is_empty()).then(|| view! {
                <div class="table-scroll" tabindex="0"><table class="table compact" data-testid="try-violations">
                    <thead><tr><th>"Check"</th><th>"Kind"</th><th class="num">"Bytes"</th><th class="num">"Score"</th><th>"Action"</th></tr></thead>
                    <tbody>
                        {result.violations.iter().map(|v| view! {
                            <tr><td>{v.check.clone()}</td><td>{v.kind.clone()}</td>
                                <td class="num">{format!("{}–{}", v.start, v.end)}</td>
                                <td class="num">{format!("{:.2}", v.score)}</td><td>{v.action.as_str()}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
            })}
            {redacted.map(|t| view! { <p>"Redacted:"</p><pre data-testid="try-redacted">{t}</pre> })}
        </div>
    }
}
