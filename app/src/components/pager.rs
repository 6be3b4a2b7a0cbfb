//! "Page 2 of 7" with previous and next links: the offset-paged lists (sessions, agents).

use leptos::prelude::*;

/// "Page 2 of 7" with previous and next links (offset pagination).
#[component]
pub fn Pager(
    prev: Option<String>,
    next: Option<String>,
    page: u32,
    total: i64,
    limit: u32,
) -> impl IntoView {
    let pages = ((total.max(0) as u64).div_ceil(u64::from(limit.max(1)))).max(1);
    view! {
        <nav class="pager" aria-label="Pages">
            {match prev {
                Some(h) => view! { <a class="button button-secondary button-small" href=h rel="prev" data-testid="page-prev">"← Previous"</a> }.into_any(),
                None => view! { <span class="button button-secondary button-small" aria-disabled="true">"← Previous"</span> }.into_any(),
            }}
            <span class="muted">{format!("Page {page} of {pages}")}</span>
            {match next {
                Some(h) => view! { <a class="button button-secondary button-small" href=h rel="next" data-testid="page-next">"Next →"</a> }.into_any(),
                None => view! { <span class="button button-secondary button-small" aria-disabled="true">"Next →"</span> }.into_any(),
            }}
        </nav>
    }
}
