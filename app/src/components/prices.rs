//! The price form and the table of models without a price: the prices page's and the cost
//! page's (admins add a price where they see the gap).

use argus_types::UnpricedModel;
use leptos::prelude::*;

use crate::api::prices::SetPrice;
use crate::components::forms::Submit;
use crate::format::thousands;
use crate::state::prefs::when;

/// A price per million tokens, without trailing zeros: `$2.5`.
pub fn usd(per_million: f64) -> String {
    format!("${per_million:.4}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned()
}

/// `/settings/prices`. Works without JavaScript: the forms post and come back here, and a
/// "set a price" link on an unpriced model fills the form through `?price_for=`.

#[component]
pub fn PriceForm(action: ServerAction<SetPrice>, prefill: Signal<String>) -> impl IntoView {
    view! {
                    <ActionForm action=action attr:class="form form-inline" attr:id="set-price" attr:data-testid="set-price-form">
            <label>
                "Model"
                <input type="text" name="model" required maxlength="200"
                    placeholder="e.g. acme-llm-large" prop:value=prefill />
            </label>
            <label>
                "Input $/1M"
                <input type="text" name="input" required inputmode="decimal" size="8" placeholder="2.50" />
            </label>
            <label>
                "Output $/1M"
                <input type="text" name="output" required inputmode="decimal" size="8" placeholder="10" />
            </label>
            <label>
                "Cached input $/1M"
                <input type="text" name="cached_input" inputmode="decimal" size="8" placeholder="input price" />
            </label>
            <label>
                "Cache write $/1M"
                <input type="text" name="cache_write" inputmode="decimal" size="8" placeholder="input price" />
            </label>
            <Submit action=action label="Save price" busy="Saving…" testid="save-price" />
        </ActionForm>
    }
}

#[component]
pub fn UnpricedTable(
    models: Vec<UnpricedModel>,
    manage: bool,
    form_path: &'static str,
) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid="unpriced-table">
            <thead>
                <tr>
                    <th>"Model"</th><th class="num">"Unpriced spans"</th><th class="num">"Input tokens"</th>
                    <th class="num">"Output tokens"</th><th>"Last seen"</th><th></th>
                </tr>
            </thead>
            <tbody>
                {models.into_iter().map(|m| {
                    let href = format!(
                        "{form_path}?price_for={}#set-price",
                        argus_types::encode(&m.model)
                    );
                    view! {
                        <tr data-testid="unpriced-row">
                            <td class="mono">{m.model.clone()}</td>
                            <td class="num">{thousands(m.spans.max(0) as u64)}</td>
                            <td class="num">{thousands(m.input_tokens.max(0) as u64)}</td>
                            <td class="num">{thousands(m.output_tokens.max(0) as u64)}</td>
                            <td>{when(m.last_seen, "%Y-%m-%d")}</td>
                            <td>{manage.then(|| view! { <a href=href>"Set a price"</a> })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
}
