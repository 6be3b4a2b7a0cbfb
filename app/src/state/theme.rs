//! Light/dark theme: follows `prefers-color-scheme` until the user picks one, which is kept in
//! localStorage. The inline [`THEME_BOOT_SCRIPT`] applies it before the first paint.

use serde::{Deserialize, Serialize};

/// localStorage key of the user's choice (a JSON string, as gloo-storage writes it).
pub const THEME_STORAGE_KEY: &str = "argus.theme";

/// Runs in `<head>` before any CSS paints, so the page never flashes the wrong theme.
pub const THEME_BOOT_SCRIPT: &str = r#"(function(){var t=null;try{t=JSON.parse(localStorage.getItem("argus.theme"));}catch(e){}if(t!=="light"&&t!=="dark"){t=window.matchMedia&&window.matchMedia("(prefers-color-scheme: dark)").matches?"dark":"light";}document.documentElement.setAttribute("data-theme",t);})();"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn toggled(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }
}

/// The theme on screen, as the boot script or an earlier toggle set it.
#[cfg(feature = "browser")]
pub fn current() -> Theme {
    let attr = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| e.get_attribute("data-theme"));
    match attr.as_deref() {
        Some("dark") => Theme::Dark,
        _ => Theme::Light,
    }
}

/// Shows `theme` and remembers it as the user's choice.
#[cfg(feature = "browser")]
pub fn apply(theme: Theme) {
    use gloo_storage::Storage;

    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("data-theme", theme.as_str());
    }
    // Private browsing may refuse storage: the theme still applies for this page.
    let _ = gloo_storage::LocalStorage::set(THEME_STORAGE_KEY, theme);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_is_what_the_boot_script_parses() {
        assert_eq!(serde_json::to_string(&Theme::Dark).unwrap(), "\"dark\"");
        assert_eq!(serde_json::to_string(&Theme::Light).unwrap(), "\"light\"");
        assert!(THEME_BOOT_SCRIPT.contains(THEME_STORAGE_KEY));
    }

    #[test]
    fn trunk_index_boots_the_theme_the_same_way() {
        let index = include_str!("../../../index.html");
        assert!(
            index.contains(THEME_BOOT_SCRIPT),
            "index.html and THEME_BOOT_SCRIPT differ"
        );
    }

    #[test]
    fn toggles_between_the_two() {
        assert_eq!(Theme::Light.toggled(), Theme::Dark);
        assert_eq!(Theme::Dark.toggled(), Theme::Light);
    }
}
