//! Alerts (`/alerts`): what fires now (acknowledge, silence, open the dashboard or traces of
//! its window), the rules with their state, the rule editor with its 7-day backtest, the
//! history of state changes, silences, budgets, channels with "send test", and deliveries with
//! the dead letters. `?metric=…&agent=…&dept=…` opens the editor prefilled (a chart's "alert on
//! this" link).

use crate::state::codec::resource;
use argus_types::{
    AlertDefinition, AlertFilters, AlertInstance, AlertMetric, AlertState, BudgetScope,
    ChannelKind, Comparison, GroupBy, Role,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::alerts::{
    alert_history, get_alert_feed, list_alert_rules, list_budgets, list_channels, list_deliveries,
    list_silences, AcknowledgeAlert, BacktestAlertRule, CreateAlertRule, CreateChannel,
    CreateSilence, DeleteAlertRule, DeleteBudget, DeleteChannel, EnableChannel, ExpireSilence,
    SetBudget, TestChannel,
};
use crate::components::forms::{ActionError, Submit};
use crate::components::page::LoadError;
use crate::format::date;
use crate::state::session::my_role;

/// A state as a badge.
pub fn state_badge(s: AlertState) -> impl IntoView {
    let class = match s {
        AlertState::Firing | AlertState::Error => "badge badge-bad",
        AlertState::Pending | AlertState::NoData => "badge badge-warn",
        AlertState::Normal | AlertState::Resolved => "badge badge-ok",
    };
    view! { <span class=class data-testid="alert-state">{s.as_str().replace('_', " ")}</span> }
}

/// "5 minutes", "1 hour", "7 days".
pub fn span_words(secs: i64) -> String {
    let (n, unit) = if secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs % 3_600 == 0 {
        (secs / 3_600, "hour")
    } else if secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// "p95 latency > 2,000 over 5 minutes, per agent".
pub fn condition(d: &AlertDefinition) -> String {
    let window = span_words(d.window_secs);
    let mut s = if d.metric == AlertMetric::NoData {
        format!("no requests over {window}")
    } else {
        format!(
            "{} {} {} over {window}",
            d.metric.label(),
            d.op.symbol(),
            d.threshold
        )
    };
    if let Some(g) = d.group_by {
        s.push_str(&format!(", per {g}"));
    }
    let f = &d.filters;
    for (k, v) in [
        ("dept", &f.dept),
        ("env", &f.env),
        ("agent", &f.agent),
        ("model", &f.model),
        ("version", &f.version),
    ] {
        if let Some(v) = v {
            s.push_str(&format!(" · {k}={v}"));
        }
    }
    if d.for_secs > 0 {
        s.push_str(&format!(
            " · for {}",
            crate::format::duration_short(d.for_secs as u64)
        ));
    }
    s
}

/// One firing or pending instance, with its actions.
#[component]
pub fn InstanceRow(i: AlertInstance, #[prop(optional)] actions: bool) -> impl IntoView {
    let ack = ServerAction::<AcknowledgeAlert>::new();
    let silence = ServerAction::<CreateSilence>::new();
    let value = crate::format::value(i.metric.unit(), i.value);
    let rule = i.rule_id.to_string();
    let group = i.group_value.clone();
    let (rule_ack, group_ack) = (rule.clone(), group.clone());
    view! {
        <tr data-testid="alert-instance" data-state=i.state.as_str()>
            <td>{state_badge(i.state)}</td>
            <td><strong>{i.rule_name.clone()}</strong>
                {(!i.group_value.is_empty()).then(|| view! { <span class="muted">" · "{i.group_value.clone()}</span> })}</td>
            <td>{i.reason.clone()}</td>
            <td class="num">{value}</td>
            <td>{date(&i.since)}</td>
            <td class="actions">
                <a href=i.dashboard_link.clone() data-testid="alert-dashboard">"Dashboard"</a>" · "
                <a href=i.traces_link.clone()>"Traces"</a>
                {actions.then(|| view! {
                    {i.acked_at.is_none().then(|| view! {
                        <ActionForm action=ack attr:class="inline">
                            <input type="hidden" name="rule_id" value=rule_ack.clone() />
                            <input type="hidden" name="group_value" value=group_ack.clone() />
                            <button type="submit" class="button button-secondary button-small">"Acknowledge"</button>
                        </ActionForm>
                    })}
                    <ActionForm action=silence attr:class="inline">
                        <input type="hidden" name="rule_id" value=rule.clone() />
                        <input type="hidden" name="group_value" value=group.clone() />
                        <input type="hidden" name="minutes" value="60" />
                        <input type="hidden" name="comment" value="silenced from the alert list" />
                        <button type="submit" class="button button-secondary button-small" data-testid="silence-1h">"Silence 1 h"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let role = my_role();
    let member = move || role.get().is_some_and(|r| r >= Role::Member);
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    let create = ServerAction::<CreateAlertRule>::new();
    let delete = ServerAction::<DeleteAlertRule>::new();
    let expire = ServerAction::<ExpireSilence>::new();
    let rules = resource(
        move || (create.version().get(), delete.version().get()),
        |_| list_alert_rules(),
    );
    let feed = resource(move || create.version().get(), |_| get_alert_feed());
    let history = resource(|| (), |_| alert_history(None, Some(100)));
    let silences = resource(move || expire.version().get(), |_| list_silences());
    view! {
        <Title text="Alerts · Argus" />
        <div class="page-header"><div>
            <h1>"Alerts"</h1>
            <p class="muted">"Rules on latency, errors, cost, tokens, scores and guardrail decisions, evaluated every 30 seconds; budgets for the month's spend; notifications to signed webhooks and Slack."</p>
        </div></div>
        <section class="card" aria-label="Firing now" data-testid="alerts-now">
            <h2>"Firing and pending now"</h2>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match feed.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(f) if f.firing.is_empty() && f.pending.is_empty() => view! {
                            <p class="empty" data-testid="nothing-firing">"Nothing is firing."</p>
                        }.into_any(),
                        Ok(f) => view! {
                            <div class="table-scroll" tabindex="0"><table class="table">
                                <thead><tr><th>"State"</th><th>"Rule"</th><th>"Why"</th><th class="num">"Value"</th><th>"Since"</th><th></th></tr></thead>
                                <tbody>{f.firing.into_iter().chain(f.pending).map(|i| view! { <InstanceRow i actions=true /> }).collect_view()}</tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="card" aria-label="Rules" data-testid="alert-rules">
            <h2>"Rules"</h2>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match rules.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty" data-testid="no-rules">"No rules yet. Create one below — for example p95 latency over 2,000 ms for 5 minutes, per agent."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll" tabindex="0"><table class="table">
                                <thead><tr><th>"State"</th><th>"Name"</th><th>"Condition"</th><th class="num">"Instances"</th><th></th></tr></thead>
                                <tbody>{list.into_iter().map(|r| {
                                    let id = r.id.to_string();
                                    let firing = r.instances.iter().filter(|i| i.state == AlertState::Firing).count();
                                    view! {
                                        <tr data-testid="rule-row" data-rule=r.name.clone()>
                                            <td>{if r.enabled { state_badge(r.state).into_any() } else { view! { <span class="badge">"off"</span> }.into_any() }}</td>
                                            <td><strong>{r.name.clone()}</strong></td>
                                            <td>{condition(&r.definition)}</td>
                                            <td class="num">{format!("{} ({} firing)", r.instances.len(), firing)}</td>
                                            <td class="actions">{admin().then(|| view! {
                                                <ActionForm action=delete attr:class="inline">
                                                    <input type="hidden" name="id" value=id.clone() />
                                                    <button type="submit" class="button button-danger button-small">"Delete"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}</tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
            <ActionError action=delete />
        </section>
        <Transition>{move || member().then(|| view! { <RuleEditor create /> })}</Transition>
        <section class="card" aria-label="History" data-testid="alert-history">
            <h2>"History"</h2>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No state changes yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll" tabindex="0"><table class="table compact">
                                <thead><tr><th>"Time"</th><th>"Rule"</th><th>"Change"</th><th>"Reason"</th><th>"Notified"</th></tr></thead>
                                <tbody>{list.into_iter().map(|e| view! {
                                    <tr data-testid="history-row">
                                        <td>{date(&e.at)}</td>
                                        <td>{e.rule_name.clone()}{(!e.group_value.is_empty()).then(|| format!(" · {}", e.group_value))}</td>
                                        <td>{state_badge(e.from_state)}" → "{state_badge(e.to_state)}</td>
                                        <td>{e.reason.clone()}</td>
                                        <td>{e.notified.clone()}</td>
                                    </tr>
                                }).collect_view()}</tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="card" aria-label="Silences" data-testid="alert-silences">
            <h2>"Silences"</h2>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match silences.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No silences. Silence an instance from the list above while you work on it."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll" tabindex="0"><table class="table compact">
                                <thead><tr><th>"Matches"</th><th>"Comment"</th><th>"Ends"</th><th></th></tr></thead>
                                <tbody>{list.into_iter().map(|s| {
                                    let id = s.id.to_string();
                                    view! {
                                        <tr data-testid="silence-row" data-active=s.active.to_string()>
                                            <td>{s.rule_name.clone().unwrap_or_else(|| "every rule".into())}
                                                {" · "}{s.group_value.clone().unwrap_or_else(|| "every group".into())}</td>
                                            <td>{s.comment.clone()}</td>
                                            <td>{date(&s.ends_at)}{(!s.active).then_some(" (ended)")}</td>
                                            <td>{(s.active && member()).then(|| view! {
                                                <ActionForm action=expire attr:class="inline">
                                                    <input type="hidden" name="id" value=id.clone() />
                                                    <button type="submit" class="button button-secondary button-small">"End now"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}</tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <Budgets />
        <Channels />
    }
}

fn window_choices() -> [(i64, &'static str); 7] {
    [
        (300, "5 minutes"),
        (900, "15 minutes"),
        (3600, "1 hour"),
        (6 * 3600, "6 hours"),
        (86_400, "24 hours"),
        (3 * 86_400, "3 days"),
        (7 * 86_400, "7 days"),
    ]
}

/// The rule editor: fields bound to signals, the definition sent as JSON, and the backtest.
#[component]
fn RuleEditor(create: ServerAction<CreateAlertRule>) -> impl IntoView {
    let query = use_query_map();
    let q = move |k: &str| query.with_untracked(|q| q.get(k)).filter(|v| !v.is_empty());
    let metric = RwSignal::new(
        q("metric")
            .and_then(|m| AlertMetric::parse(&m))
            .unwrap_or(AlertMetric::LatencyP95),
    );
    let window = RwSignal::new(300i64);
    let op = RwSignal::new(Comparison::Gt);
    let threshold = RwSignal::new(q("threshold").unwrap_or_else(|| "2000".into()));
    let min_requests = RwSignal::new("10".to_owned());
    let for_secs = RwSignal::new(300i64);
    let group_by = RwSignal::new(None::<GroupBy>);
    let agent = RwSignal::new(q("agent").unwrap_or_default());
    let dept = RwSignal::new(q("dept").unwrap_or_default());
    let env = RwSignal::new(q("env").unwrap_or_default());
    let score_name = RwSignal::new(String::new());
    let score_label = RwSignal::new(String::new());
    let backtest = ServerAction::<BacktestAlertRule>::new();
    let some = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let definition = move || {
        let def = AlertDefinition {
            metric: metric.get(),
            window_secs: window.get(),
            filters: AlertFilters {
                dept: some(dept.get()),
                env: some(env.get()),
                agent: some(agent.get()),
                ..AlertFilters::default()
            },
            op: op.get(),
            threshold: threshold.get().trim().parse().unwrap_or(f64::NAN),
            min_requests: min_requests.get().trim().parse().unwrap_or(0),
            for_secs: for_secs.get(),
            group_by: group_by.get(),
            score_name: some(score_name.get()),
            score_label: some(score_label.get()),
            repeat_secs: 4 * 3600,
        };
        // A threshold that is not a number goes as null: the server names the field.
        serde_json::to_string(&def).unwrap_or_default()
    };
    let opt = |v: &'static str, label: &'static str| view! { <option value=v>{label}</option> };
    view! {
        <section class="card" aria-label="New rule" data-testid="rule-editor">
            <h2>"New rule"</h2>
            <ActionForm action=create attr:class="form" attr:data-testid="rule-form">
                <label>"Name"<input type="text" name="name" required maxlength="200" placeholder="e.g. support p95 latency" data-testid="rule-name" /></label>
                <div class="form-row">
                    <label>"Metric"
                        <select data-testid="rule-metric" on:change=move |ev| if let Some(m) = AlertMetric::parse(&event_target_value(&ev)) { metric.set(m) }
                            prop:value=move || metric.get().as_str()>
                            {AlertMetric::ALL.iter().map(|m| view! { <option value=m.as_str()>{m.label()}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Comparison"
                        <select on:change=move |ev| if let Some(c) = Comparison::parse(&event_target_value(&ev)) { op.set(c) }>
                            {opt("gt", ">")}{opt("gte", "≥")}{opt("lt", "<")}{opt("lte", "≤")}
                        </select>
                    </label>
                    <label>"Threshold"<input type="number" step="any" required data-testid="rule-threshold"
                        prop:value=move || threshold.get() on:input=move |ev| threshold.set(event_target_value(&ev)) /></label>
                    <label>"Window"
                        <select data-testid="rule-window" on:change=move |ev| window.set(event_target_value(&ev).parse().unwrap_or(300))>
                            {window_choices().into_iter().map(|(s, l)| view! { <option value=s.to_string()>{l}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"For"
                        <select data-testid="rule-for" on:change=move |ev| for_secs.set(event_target_value(&ev).parse().unwrap_or(0))>
                            <option value="300" selected>"5 minutes"</option>
                            <option value="0">"fire at once"</option>
                            <option value="60">"1 minute"</option>
                            <option value="900">"15 minutes"</option>
                            <option value="3600">"1 hour"</option>
                        </select>
                    </label>
                    <label>"Minimum requests"<input type="number" min="0" prop:value=move || min_requests.get()
                        on:input=move |ev| min_requests.set(event_target_value(&ev)) /></label>
                    <label>"One alert per"
                        <select data-testid="rule-group" on:change=move |ev| group_by.set(GroupBy::parse(&event_target_value(&ev)))>
                            <option value="">"nothing (one alert)"</option>
                            {GroupBy::ALL.iter().map(|g| view! { <option value=g.as_str()>{g.as_str()}</option> }).collect_view()}
                        </select>
                    </label>
                </div>
                <div class="form-row">
                    <label>"Agent"<input type="text" maxlength="200" placeholder="any" prop:value=move || agent.get() on:input=move |ev| agent.set(event_target_value(&ev)) /></label>
                    <label>"Department"<input type="text" maxlength="200" placeholder="any" prop:value=move || dept.get() on:input=move |ev| dept.set(event_target_value(&ev)) /></label>
                    <label>"Environment"<input type="text" maxlength="200" placeholder="any" prop:value=move || env.get() on:input=move |ev| env.set(event_target_value(&ev)) /></label>
                    {move || matches!(metric.get(), AlertMetric::ScoreAvg | AlertMetric::ScoreShare).then(|| view! {
                        <label>"Score name"<input type="text" maxlength="200" prop:value=move || score_name.get() on:input=move |ev| score_name.set(event_target_value(&ev)) /></label>
                        <label>"Label (share)"<input type="text" maxlength="200" placeholder="fail" prop:value=move || score_label.get() on:input=move |ev| score_label.set(event_target_value(&ev)) /></label>
                    })}
                </div>
                <label>"Channels (ids, comma-separated; see Channels below)"<input type="text" name="channels" placeholder="none: the state is shown here only" data-testid="rule-channels" /></label>
                <input type="hidden" name="definition" prop:value=definition />
                <div class="form-actions">
                    <Submit action=create label="Create rule" busy="Saving…" testid="rule-save" />
                    <button type="button" class="button button-secondary" data-testid="rule-backtest"
                        on:click=move |_| { backtest.dispatch(BacktestAlertRule { definition: definition() }); }>"Backtest 7 days"</button>
                </div>
            </ActionForm>
            <ActionError action=create />
            <ActionError action=backtest />
            {move || backtest.value().get().and_then(Result::ok).map(|b| view! {
                <p data-testid="backtest-result" role="status">
                    {format!("Over the last 7 days this rule would have fired {} time{} ({} of {} hourly evaluations firing{}).",
                        b.firings, if b.firings == 1 { "" } else { "s" }, b.firing_steps, b.steps,
                        if b.groups.is_empty() { String::new() } else { format!(", across {} groups", b.groups.len()) })}
                </p>
            })}
        </section>
    }
}

/// Budgets: each one's month so far against its amount, its forecast, and the form (admins).
#[component]
pub fn Budgets() -> impl IntoView {
    let set = ServerAction::<SetBudget>::new();
    let delete = ServerAction::<DeleteBudget>::new();
    let budgets = resource(
        move || (set.version().get(), delete.version().get()),
        |_| list_budgets(),
    );
    let role = my_role();
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    view! {
        <section class="card" aria-label="Budgets" data-testid="budgets">
            <h2>"Monthly budgets"</h2>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match budgets.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No budgets. Set one for the workspace, a department or an agent; Argus notifies at 50 %, 80 %, 100 % and when the forecast crosses it."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll" tabindex="0"><table class="table compact">
                                <thead><tr><th>"Budget"</th><th class="num">"Spent"</th><th>"Progress"</th><th class="num">"Forecast"</th><th>"Runs out"</th><th></th></tr></thead>
                                <tbody>{list.into_iter().map(|b| {
                                    let pct = if b.amount_usd > 0.0 { b.spent_usd * 100.0 / b.amount_usd } else { 0.0 };
                                    let who = match b.scope { BudgetScope::Workspace => "the workspace".to_owned(), s => format!("{s} {}", b.scope_value) };
                                    let id = b.id.to_string();
                                    view! {
                                        <tr data-testid="budget-row">
                                            <td>{who}</td>
                                            <td class="num">{format!("{} of {}", crate::format::value(argus_types::Unit::Usd, Some(b.spent_usd)), crate::format::value(argus_types::Unit::Usd, Some(b.amount_usd)))}</td>
                                            <td><meter min="0" max="100" low="80" high="99" optimum="0" value=pct.min(100.0)
                                                aria-label="Share of the budget spent">{format!("{pct:.0} %")}</meter>{format!(" {pct:.0} %")}</td>
                                            <td class="num">{crate::format::value(argus_types::Unit::Usd, Some(b.forecast_usd))}</td>
                                            <td>{b.exceeds_on.map(|d| d.format("%b %-d").to_string()).unwrap_or_else(|| "–".into())}</td>
                                            <td>{admin().then(|| view! {
                                                <ActionForm action=delete attr:class="inline">
                                                    <input type="hidden" name="id" value=id.clone() />
                                                    <button type="submit" class="button button-danger button-small">"Delete"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}</tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
            <Transition>{move || admin().then(|| view! {
                <ActionForm action=set attr:class="form form-row" attr:data-testid="budget-form">
                    <label>"For"<select name="scope">
                        <option value="workspace">"the workspace"</option>
                        <option value="department">"a department"</option>
                        <option value="agent">"an agent"</option>
                    </select></label>
                    <label>"Department or agent"<input type="text" name="scope_value" maxlength="200" /></label>
                    <label>"USD a month"<input type="number" name="amount_usd" min="0.01" step="0.01" required /></label>
                    <label>"Channels"<input type="text" name="channels" placeholder="ids, comma-separated" /></label>
                    <Submit action=set label="Set budget" busy="Saving…" />
                </ActionForm>
                <ActionError action=set />
            })}</Transition>
        </section>
    }
}

/// Channels and their deliveries.
#[component]
fn Channels() -> impl IntoView {
    let create = ServerAction::<CreateChannel>::new();
    let test = ServerAction::<TestChannel>::new();
    let enable = ServerAction::<EnableChannel>::new();
    let delete = ServerAction::<DeleteChannel>::new();
    let channels = resource(
        move || {
            (
                create.version().get(),
                enable.version().get(),
                delete.version().get(),
            )
        },
        |_| list_channels(),
    );
    let dead_only = RwSignal::new(false);
    let deliveries = resource(
        move || (test.version().get(), dead_only.get()),
        |(_, dead)| list_deliveries(Some(dead), Some(50)),
    );
    let role = my_role();
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    view! {
        <section class="card" aria-label="Channels" data-testid="alert-channels">
            <h2>"Channels"</h2>
            <p class="muted">"Webhooks get JSON signed with "<code>"X-Argus-Signature: t=…,v1=HMAC-SHA256(secret, t.body)"</code>
                " and an "<code>"Idempotency-Key"</code>"; a Slack-compatible incoming webhook gets a message; e-mail goes to up to 10 addresses through the server's SMTP relay (when the operator set "<code>"ARGUS_SMTP_URL"</code>")."</p>
            <p class="muted small" id="channel-target-hint">"Webhooks and Slack: the URL to POST to. E-mail: addresses separated by commas."</p>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match channels.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No channels: alerts show here and on the home page only."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll" tabindex="0"><table class="table compact">
                                <thead><tr><th>"Name"</th><th>"Id"</th><th>"Kind"</th><th>"Target"</th><th>"Status"</th><th></th></tr></thead>
                                <tbody>{list.into_iter().map(|c| {
                                    let id = c.id.to_string();
                                    let (id_test, id_enable, id_delete) = (id.clone(), id.clone(), id.clone());
                                    view! {
                                        <tr data-testid="channel-row">
                                            <td>{c.name.clone()}</td>
                                            <td class="mono small">{id.clone()}</td>
                                            <td>{c.kind.as_str()}</td>
                                            <td class="mono small">{c.target.clone()}</td>
                                            <td>{if c.enabled { view! { <span class="badge badge-ok">"on"</span> }.into_any() } else {
                                                view! { <span class="badge badge-bad">"off"</span>" "<span class="muted">{c.disabled_reason.clone().unwrap_or_default()}</span> }.into_any() }}</td>
                                            <td class="actions">{admin().then(|| view! {
                                                <ActionForm action=test attr:class="inline">
                                                    <input type="hidden" name="id" value=id_test.clone() />
                                                    <button type="submit" class="button button-secondary button-small">"Send test"</button>
                                                </ActionForm>
                                                <ActionForm action=enable attr:class="inline">
                                                    <input type="hidden" name="id" value=id_enable.clone() />
                                                    <input type="hidden" name="enabled" value=(!c.enabled).to_string() />
                                                    <button type="submit" class="button button-secondary button-small">{if c.enabled { "Turn off" } else { "Turn on" }}</button>
                                                </ActionForm>
                                                <ActionForm action=delete attr:class="inline">
                                                    <input type="hidden" name="id" value=id_delete.clone() />
                                                    <button type="submit" class="button button-danger button-small">"Delete"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}</tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
            <Transition>{move || admin().then(|| view! {
                <ActionForm action=create attr:class="form form-row" attr:data-testid="channel-form">
                    <label>"Name"<input type="text" name="name" required maxlength="100" /></label>
                    <label>"Kind"<select name="kind">
                        <option value=ChannelKind::Webhook.as_str()>"webhook (signed JSON)"</option>
                        <option value=ChannelKind::Slack.as_str()>"Slack incoming webhook"</option>
                        <option value=ChannelKind::Email.as_str()>"e-mail (SMTP)"</option>
                    </select></label>
                    <label>"URL or e-mail addresses"<input type="text" name="target" required maxlength="2000"
                        placeholder="https://… or ops@example.com, oncall@example.com" aria-describedby="channel-target-hint" /></label>
                    <Submit action=create label="Add channel" busy="Saving…" />
                </ActionForm>
                <ActionError action=create />
                {move || create.value().get().and_then(Result::ok).and_then(|c| c.secret).map(|s| view! {
                    <p role="status" data-testid="channel-secret">"Signing secret (shown once): "<code>{s}</code></p>
                })}
            })}</Transition>
            <ActionError action=test />
            <ActionError action=enable />
            <ActionError action=delete />
            <h3>"Deliveries"</h3>
            <label class="inline"><input type="checkbox" on:change=move |ev| dead_only.set(event_target_checked(&ev)) />" Dead letters only"</label>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match deliveries.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No deliveries."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll" tabindex="0"><table class="table compact">
                                <thead><tr><th>"Queued"</th><th>"Channel"</th><th>"Event"</th><th>"Status"</th><th class="num">"Tries"</th><th>"Last answer"</th></tr></thead>
                                <tbody>{list.into_iter().map(|d| view! {
                                    <tr data-testid="delivery-row" data-status=d.status.clone()>
                                        <td>{date(&d.created_at)}</td>
                                        <td>{d.channel_name.clone()}</td>
                                        <td>{d.event.clone()}{(!d.group_value.is_empty()).then(|| format!(" · {}", d.group_value))}</td>
                                        <td>{d.status.clone()}</td>
                                        <td class="num">{d.attempts}</td>
                                        <td>{d.last_error.clone().or(d.last_status.map(|s| format!("HTTP {s}"))).unwrap_or_default()}</td>
                                    </tr>
                                }).collect_view()}</tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
