//! One annotation queue worked item by item (`/evaluations/queues/{id}`): the next trace the
//! reviewer has not scored — its input and output, a link to the whole trace — and the queue's
//! configs to fill, or skip. Each answer brings the next item.

use crate::state::codec::resource;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

use crate::api::queues::{next_queue_item, SkipQueueItem, SubmitQueueItem};
use crate::components::forms::{ActionError, Submit};
use crate::components::page::LoadError;
use crate::components::scores::value_input;

#[component]
pub fn QueuePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let submit = ServerAction::<SubmitQueueItem>::new();
    let skip = ServerAction::<SkipQueueItem>::new();
    let item = resource(
        move || (id.get(), submit.version().get(), skip.version().get()),
        |(id, _, _)| async move {
            match Uuid::parse_str(&id) {
                Ok(id) => next_queue_item(id).await.map(Some),
                Err(_) => Ok(None),
            }
        },
    );
    view! {
        <Title text="Annotation queue · Argus" />
        <div class="page-header"><div>
            <p><a href="/evaluations">"← Evaluations"</a></p>
            <h1>"Annotation queue"</h1>
        </div></div>
        <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match item.await {
                    Err(e) => view! { <LoadError error=e /> }.into_any(),
                    Ok(None) => view! {
                        <section class="card"><p class="empty">"No such queue."</p></section>
                    }.into_any(),
                    Ok(Some(None)) => view! {
                        <section class="card" data-testid="queue-done">
                            <p class="empty">"Nothing left for you in this queue: every item is scored or skipped."</p>
                            <p><a class="button button-secondary" href="/evaluations">"Back to Evaluations"</a></p>
                        </section>
                    }.into_any(),
                    Ok(Some(Some(item))) => {
                        let fields = item
                            .configs
                            .iter()
                            .map(|c| {
                                let input = value_input(
                                    c,
                                    format!("values[{}]", c.name),
                                    false,
                                    format!("queue-value-{}", c.name),
                                );
                                view! {
                                    <label>{c.name.clone()}
                                        {c.description.clone().map(|d| view! { <span class="hint">{d}</span> })}
                                        {input}
                                    </label>
                                }
                            })
                            .collect_view();
                        let trace_href = format!("/traces/{}", item.trace_id);
                        let (queue_id, trace_id) = (item.queue_id.to_string(), item.trace_id.clone());
                        let (skip_queue, skip_trace) = (queue_id.clone(), trace_id.clone());
                        view! {
                            <section class="card" data-testid="queue-item">
                                <h2>{item.queue_name.clone()}</h2>
                                <p class="muted" data-testid="queue-remaining">{format!(
                                    "{} left for you · {} · {} · {:.0} ms",
                                    item.remaining, item.agent, item.start_time.format("%Y-%m-%d %H:%M UTC"), item.latency_ms
                                )} " · " <a href=trace_href>"open the trace"</a></p>
                                <h3>"Input"</h3>
                                <pre class="message" data-testid="queue-input">{item.input.clone().unwrap_or_else(|| "(none recorded)".into())}</pre>
                                <h3>"Output"</h3>
                                <pre class="message" data-testid="queue-output">{item.output.clone().unwrap_or_else(|| "(none recorded)".into())}</pre>
                                <ActionForm action=submit attr:class="form form-inline" attr:data-testid="queue-score-form">
                                    <input type="hidden" name="id" value=queue_id />
                                    <input type="hidden" name="trace_id" value=trace_id />
                                    {fields}
                                    <label>"Comment" <input type="text" name="comment" maxlength="10000" /></label>
                                    <Submit action=submit label="Save and next" busy="Saving…" testid="queue-save" />
                                </ActionForm>
                                <ActionForm action=skip attr:class="inline-form">
                                    <input type="hidden" name="id" value=skip_queue />
                                    <input type="hidden" name="trace_id" value=skip_trace />
                                    <button type="submit" class="button button-secondary" data-testid="queue-skip">"Skip"</button>
                                </ActionForm>
                                <ActionError action=submit />
                                <ActionError action=skip />
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
