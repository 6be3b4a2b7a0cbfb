//! Settings → Connect: the setup panel for later (keys, snippets, the newest trace).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::connect::{use_connect, ConnectPanel};
use crate::components::settings_nav::SettingsNav;

#[component]
pub fn ConnectPage() -> impl IntoView {
    let info = use_connect();
    view! {
        <Title text="Connect an agent · Argus" />
        <div class="page-header"><div><h1>"Settings"</h1></div></div>
        <SettingsNav />
        <ConnectPanel info />
    }
}
