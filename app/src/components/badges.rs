//! Small status marks.

use leptos::prelude::*;

/// `ok` or `error` as a badge.
pub fn status_badge_view(status: &str) -> impl IntoView {
    let bad = status == "error";
    view! {
        <span class=if bad { "badge badge-bad" } else { "badge badge-ok" } data-testid="trace-status">
            {if bad { "error" } else { "ok" }}
        </span>
    }
}
