//! Keyboard shortcuts: `?` opens the sheet that lists them, `/` focuses the page's search,
//! `g` then a letter goes to a page (as in GitHub and Grafana), Escape closes the sheet. Keys
//! typed into a field are the field's. In a table, the arrow keys move between rows.

use leptos::prelude::*;

/// A navigation entry: path, label, and the letter that goes there after `g`.
pub type NavItem = (&'static str, &'static str, Option<&'static str>);

/// Where `g` followed by `key` goes.
pub fn go_to(nav: &[NavItem], key: &str) -> Option<&'static str> {
    nav.iter()
        .find(|(_, _, k)| *k == Some(key))
        .map(|(path, _, _)| *path)
}

/// In a table body, the link or button of the row below (`down`) or above the focused one, in
/// the same column when that cell has one: arrow keys walk a table as they walk a list.
#[cfg(feature = "browser")]
fn row_neighbour(down: bool) -> Option<web_sys::HtmlElement> {
    use leptos::wasm_bindgen::JsCast;
    const FOCUSABLE: &str = "a[href], button:not([disabled]), input, select, [tabindex]";
    let active = document().active_element()?;
    let cell = active.closest("tbody td, tbody th").ok()??;
    let row = cell.closest("tr").ok()??;
    let mut column = 0;
    let mut c = cell.previous_element_sibling();
    while let Some(prev) = c {
        column += 1;
        c = prev.previous_element_sibling();
    }
    let mut next = if down {
        row.next_element_sibling()
    } else {
        row.previous_element_sibling()
    };
    while let Some(r) = next {
        let mut cell = r.first_element_child();
        for _ in 0..column {
            cell = cell.and_then(|c| c.next_element_sibling());
        }
        let found = cell
            .and_then(|c| c.query_selector(FOCUSABLE).ok().flatten())
            .or_else(|| r.query_selector(FOCUSABLE).ok().flatten());
        if let Some(el) = found.and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()) {
            return Some(el);
        }
        next = if down {
            r.next_element_sibling()
        } else {
            r.previous_element_sibling()
        };
    }
    None
}

/// The sheet (a dialog) and the listener behind it; rendered once, in the layout.
#[component]
pub fn Shortcuts(nav: &'static [NavItem]) -> impl IntoView {
    let open = RwSignal::new(false);
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsCast;
        let navigate = leptos_router::hooks::use_navigate();
        let pending_g = StoredValue::new(false);
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || ev.default_prevented() {
                return;
            }
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| {
                    matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                        || el.has_attribute("contenteditable")
                });
            let key = ev.key();
            if key == "Escape" && open.get_untracked() {
                open.set(false);
                return;
            }
            if typing {
                return;
            }
            if key == "ArrowDown" || key == "ArrowUp" {
                if let Some(next) = row_neighbour(key == "ArrowDown") {
                    ev.prevent_default();
                    let _ = next.focus();
                }
                return;
            }
            if pending_g.get_value() {
                pending_g.set_value(false);
                if let Some(path) = go_to(nav, &key) {
                    ev.prevent_default();
                    open.set(false);
                    navigate(path, Default::default());
                }
                return;
            }
            match key.as_str() {
                "?" => {
                    ev.prevent_default();
                    open.update(|o| *o = !*o);
                }
                "/" => {
                    let search = document()
                        .query_selector("main input[type=search], main [data-shortcut=search]")
                        .ok()
                        .flatten()
                        .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
                    if let Some(el) = search {
                        ev.prevent_default();
                        let _ = el.focus();
                    }
                }
                "g" => pending_g.set_value(true),
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    }
    view! {
        <Show when=move || open.get()>
            <div class="shortcut-backdrop" on:click=move |_| open.set(false)></div>
            <div class="card shortcut-sheet" role="dialog" aria-modal="true" aria-labelledby="shortcut-title"
                data-testid="shortcut-sheet">
                <div class="card-header">
                    <h2 id="shortcut-title">"Keyboard shortcuts"</h2>
                    <button type="button" class="button button-secondary button-small"
                        on:click=move |_| open.set(false) autofocus>"Close"</button>
                </div>
                <dl class="facts">
                    <dt><kbd>"?"</kbd></dt><dd>"Show or hide this list"</dd>
                    <dt><kbd>"/"</kbd></dt><dd>"Search (on pages with a search box)"</dd>
                    <dt><kbd>"Esc"</kbd></dt><dd>"Close this list"</dd>
                    <dt><kbd>"↓"</kbd>" "<kbd>"↑"</kbd></dt><dd>"Next or previous row of a table (from a link in it); Enter opens it"</dd>
                    {nav.iter().filter_map(|(_, label, key)| key.map(|key| view! {
                        <dt><kbd>"g"</kbd>" "<kbd>{key}</kbd></dt><dd>{format!("Go to {label}")}</dd>
                    })).collect_view()}
                </dl>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::layout::NAV;

    #[test]
    fn every_go_to_key_is_one_letter_and_unique() {
        let mut keys: Vec<&str> = NAV.iter().filter_map(|(_, _, k)| *k).collect();
        let count = keys.len();
        assert!(keys.iter().all(|k| k.len() == 1));
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count);
        assert_eq!(go_to(NAV, "t"), Some("/traces"));
        assert_eq!(go_to(NAV, "x"), None);
    }
}
