//! System status: what this Argus instance runs on, read through a server function.

use crate::state::codec::resource;
use argus_types::{CacheStatus, DatabaseStatus, SystemStatus};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::system::get_system_status;
use crate::format::{duration_short, percent, thousands};

#[component]
pub fn StatusPage() -> impl IntoView {
    let status = resource(|| (), |_| get_system_status());
    view! {
        <Title text="System status · Argus" />
        <div class="page-header">
            <div>
                <h1>"System status"</h1>
                <p class="muted">"The services this Argus instance depends on, checked just now."</p>
            </div>
            // A plain GET form: without JavaScript it reloads the page; hydrated, it refetches.
            <form
                method="get"
                action="/status"
                on:submit=move |ev| {
                    ev.prevent_default();
                    status.refetch();
                }
            >
                <button type="submit" class="button button-secondary" data-testid="refresh-status">
                    "Refresh"
                </button>
            </form>
        </div>
        <Transition fallback=StatusSkeleton>
            <ErrorBoundary fallback=|errors| {
                view! {
                    <div class="callout callout-error" role="alert">
                        <h2>"Status unavailable"</h2>
                        <ul>
                            {move || {
                                errors
                                    .get()
                                    .into_iter()
                                    .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                                    .collect_view()
                            }}
                        </ul>
                    </div>
                }
            }>
                {move || Suspend::new(async move {
                    status.await.map(|s| view! { <StatusView status=s /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn StatusSkeleton() -> impl IntoView {
    view! {
        <div class="card-grid" aria-busy="true" aria-label="Loading system status">
            <div class="card skeleton"></div>
            <div class="card skeleton"></div>
            <div class="card skeleton"></div>
        </div>
    }
}

#[component]
fn StatusView(status: SystemStatus) -> impl IntoView {
    let SystemStatus {
        version,
        environment,
        started_at,
        uptime_seconds,
        database,
        cache,
    } = status;
    view! {
        <div class="card-grid" data-testid="system-status">
            <section class="card">
                <header class="card-header">
                    <h2>"Argus"</h2>
                    <Badge ok=true label="running" />
                </header>
                <dl class="facts">
                    <dt>"Version"</dt>
                    <dd data-testid="version">{version}</dd>
                    <dt>"Environment"</dt>
                    <dd>{environment}</dd>
                    <dt>"Uptime"</dt>
                    <dd>{duration_short(uptime_seconds)}</dd>
                    <dt>"Started"</dt>
                    <dd>
                        <time datetime=started_at.clone()>{started_at.clone()}</time>
                    </dd>
                </dl>
            </section>
            <DatabaseCard database />
            <CacheCard cache />
        </div>
    }
}

#[component]
fn Badge(ok: bool, label: &'static str) -> impl IntoView {
    view! {
        <span class="badge" class:badge-ok=ok class:badge-warn=!ok>
            {label}
        </span>
    }
}

#[component]
fn DatabaseCard(database: DatabaseStatus) -> impl IntoView {
    let migrated = database.is_migrated();
    let migration = match (database.migration_version, &database.migration_description) {
        (Some(v), Some(d)) => format!("{v} · {d}"),
        (Some(v), None) => v.to_string(),
        _ => "none applied".to_owned(),
    };
    let (badge_ok, badge) = match (database.reachable, migrated) {
        (false, _) => (false, "unreachable"),
        (true, false) => (false, "migration pending"),
        (true, true) => (true, "connected"),
    };
    view! {
        <section class="card" data-testid="database-status">
            <header class="card-header">
                <h2>"PostgreSQL"</h2>
                <Badge ok=badge_ok label=badge />
            </header>
            <dl class="facts">
                <dt>"URL"</dt>
                <dd class="mono">{database.url}</dd>
                <dt>"Server"</dt>
                <dd>{database.server_version.unwrap_or_else(|| "–".into())}</dd>
                <dt>"Migration"</dt>
                <dd data-testid="migration">{migration}</dd>
                <dt>"Latest known"</dt>
                <dd>{database.latest_known_migration}</dd>
                <dt>"Pool"</dt>
                <dd>{format!("{} open, {} idle", database.pool_size, database.pool_idle)}</dd>
                <dt>"Round trip"</dt>
                <dd>{database.latency_ms.map(|l| format!("{l:.2} ms")).unwrap_or_else(|| "–".into())}</dd>
            </dl>
        </section>
    }
}

#[component]
fn CacheCard(cache: CacheStatus) -> impl IntoView {
    let badge = if !cache.healthy {
        (false, "unhealthy")
    } else if cache.fallback_reason.is_some() {
        (false, "fallback")
    } else {
        (true, "connected")
    };
    let backend = match cache.backend.as_str() {
        "redis" => "Redis",
        "redis-cluster" => "Redis Cluster",
        _ => "In-process (memory)",
    };
    let lookups = if cache.domains.is_empty() {
        Either::Left(view! { <p class="muted small">"No cached lookups yet."</p> })
    } else {
        let rows = cache
            .domains
            .into_iter()
            .map(|d| {
                let rate = percent(d.hits, d.hits + d.misses);
                view! {
                    <tr>
                        <td class="mono">{d.domain}</td>
                        <td class="num">{thousands(d.hits)}</td>
                        <td class="num">{thousands(d.misses)}</td>
                        <td class="num">{rate}</td>
                    </tr>
                }
            })
            .collect_view();
        Either::Right(view! {
            <div class="table-scroll" tabindex="0"><table class="table compact">
                <thead>
                    <tr>
                        <th scope="col">"Domain"</th>
                        <th scope="col" class="num">"Hits"</th>
                        <th scope="col" class="num">"Misses"</th>
                        <th scope="col" class="num">"Hit rate"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table></div>
        })
    };
    view! {
        <section class="card" data-testid="cache-status">
            <header class="card-header">
                <h2>"Cache"</h2>
                <Badge ok=badge.0 label=badge.1 />
            </header>
            <dl class="facts">
                <dt>"Backend"</dt>
                <dd data-testid="cache-backend">{backend}</dd>
                {cache
                    .fallback_reason
                    .map(|r| view! {
                        <dt>"Why"</dt>
                        <dd>{r}</dd>
                    })}
                <dt>"Errors"</dt>
                <dd>{thousands(cache.errors)}</dd>
            </dl>
            {lookups}
        </section>
    }
}
