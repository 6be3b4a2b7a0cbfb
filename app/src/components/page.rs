//! Pieces every dashboard page shares: the header with "last updated" and a refresh button,
//! the notice about ignored filters, a load error, and [`Loaded`] — the data section itself.

use crate::state::codec::Json;
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::AppError;

/// The page title, a one-line description, when the data on screen was computed, and a
/// refresh button (the data also refreshes every 30 seconds while the tab is visible).
#[component]
pub fn DataHeader(
    title: &'static str,
    subtitle: &'static str,
    /// "Last 24 hours · updated 10:42:07 UTC", once data is on screen.
    updated: Signal<Option<String>>,
    refresh: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="page-header">
            <div>
                <h1>{title}</h1>
                <p class="muted">{subtitle}</p>
            </div>
            <div class="page-actions">
                // The signal reads a resource: inside a Transition, so SSR waits for it and
                // hydration matches.
                <Transition>
                    <span class="muted" data-testid="last-updated" aria-live="polite">
                        {move || updated.get()}
                    </span>
                </Transition>
                <button type="button" class="button button-secondary button-small"
                    data-testid="refresh" on:click=move |_| refresh.run(())>"Refresh"</button>
            </div>
        </div>
    }
}

/// "Last 24 hours · updated 10:42:07 UTC".
pub fn updated_label(window: &argus_types::Window, at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{} · updated {}", window.label, at.format("%H:%M:%S UTC"))
}

/// The filters the server ignored (bad values in the URL), if any.
#[component]
pub fn Notices(notices: Vec<String>) -> impl IntoView {
    (!notices.is_empty()).then(|| {
        view! {
            <div class="callout callout-warn" role="status" data-testid="filter-notice">
                {notices.into_iter().map(|n| view! { <p>{n}</p> }).collect_view()}
                <p class="muted">"Showing the default instead."</p>
            </div>
        }
    })
}

/// A failed load, in words.
#[component]
pub fn LoadError(error: AppError) -> impl IntoView {
    view! {
        <div class="callout callout-error" role="alert">
            <p>{error.message().to_owned()}</p>
        </div>
    }
}

/// A resource's data shown through `view`, or its error in words: the one data section of the
/// dashboard pages. A `Transition` keeps the old numbers on screen while new ones load (a
/// skeleton of class `skeleton` the first time); an `ErrorBoundary` turns a failed load into
/// a [`LoadError`]-like callout, so no page writes its own error branch.
#[component]
pub fn Loaded<T, V, F>(
    resource: Resource<Result<T, AppError>, Json>,
    view: F,
    /// The skeleton's classes: `card`, `kpi-grid`, `chart`, `table`.
    #[prop(default = "card")]
    skeleton: &'static str,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    V: IntoView + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
{
    view! {
        <Transition fallback=move || view! { <div class=format!("{skeleton} skeleton") aria-busy="true"></div> }>
            <ErrorBoundary fallback=|errors| view! {
                <div class="callout callout-error" role="alert">
                    {move || errors.get().into_iter().map(|(_, e)| view! { <p>{e.to_string()}</p> }).collect_view()}
                </div>
            }>
                {
                    let view = view.clone();
                    move || {
                        let view = view.clone();
                        Suspend::new(async move { resource.await.map(view) })
                    }
                }
            </ErrorBoundary>
        </Transition>
    }
}
