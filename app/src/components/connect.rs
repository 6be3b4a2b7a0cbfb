//! "Connect an agent": an ingest key made in place (admins), copy-ready snippets with this
//! server's address and the key filled in, and a wait for the first trace that turns into a
//! link to it when it arrives (polled every 3 s, no reload). On the home page of a workspace
//! without traces and on `/settings/connect`.

use crate::state::codec::{resource, Json};
use argus_types::{ConnectInfo, Role};
use leptos::prelude::*;

use crate::api::keys::CreateApiKey;
use crate::api::system::get_connect;
use crate::components::copy::CopyButton;
use crate::components::forms::{ActionError, Submit};
use crate::error::AppError;
use crate::state::filters::use_refresh;
use crate::state::session::my_role;

/// What stands in for the key until one is created.
pub const KEY_PLACEHOLDER: &str = "<your ingest key>";

/// One way to send traces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    pub id: &'static str,
    pub title: &'static str,
    pub note: &'static str,
    pub code: String,
}

/// The snippets for `base` (`https://argus.example.com`) and `key`.
pub fn snippets(base: &str, key: &str) -> Vec<Snippet> {
    let base = base.trim_end_matches('/');
    vec![
        Snippet {
            id: "env",
            title: "Any OpenTelemetry SDK",
            note: "Set these where the agent runs: every OpenTelemetry SDK and the Collector read them.",
            code: format!(
                "export OTEL_EXPORTER_OTLP_ENDPOINT=\"{base}\"\n\
                 export OTEL_EXPORTER_OTLP_PROTOCOL=\"http/protobuf\"\n\
                 export OTEL_EXPORTER_OTLP_HEADERS=\"x-api-key={key}\"\n\
                 export OTEL_SERVICE_NAME=\"my-agent\"\n\
                 export OTEL_RESOURCE_ATTRIBUTES=\"department=support,deployment.environment.name=production\""
            ),
        },
        Snippet {
            id: "python",
            title: "Python + OpenAI",
            note: "The OpenTelemetry OpenAI instrumentation records each call as a GenAI span (model, tokens, latency); prompts only when you turn capture on.",
            code: format!(
                "pip install openai opentelemetry-distro opentelemetry-exporter-otlp-proto-http \\\n    \
                 opentelemetry-instrumentation-openai-v2\n\
                 export OTEL_EXPORTER_OTLP_ENDPOINT=\"{base}\"\n\
                 export OTEL_EXPORTER_OTLP_PROTOCOL=\"http/protobuf\"\n\
                 export OTEL_EXPORTER_OTLP_HEADERS=\"x-api-key={key}\"\n\
                 export OTEL_SERVICE_NAME=\"my-agent\"\n\
                 # optional: store prompts and answers too\n\
                 export OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true\n\
                 opentelemetry-instrument python my_agent.py"
            ),
        },
        Snippet {
            id: "node",
            title: "TypeScript / Node",
            note: "Start the SDK before the OpenAI client is imported (e.g. node --import ./tracing.mjs app.mjs).",
            code: format!(
                "// npm install @opentelemetry/sdk-node @opentelemetry/exporter-trace-otlp-proto @traceloop/instrumentation-openai\n\
                 import {{ NodeSDK }} from \"@opentelemetry/sdk-node\";\n\
                 import {{ OTLPTraceExporter }} from \"@opentelemetry/exporter-trace-otlp-proto\";\n\
                 import {{ OpenAIInstrumentation }} from \"@traceloop/instrumentation-openai\";\n\
                 \n\
                 new NodeSDK({{\n  \
                   serviceName: \"my-agent\",\n  \
                   traceExporter: new OTLPTraceExporter({{\n    \
                     url: \"{base}/v1/traces\",\n    \
                     headers: {{ \"x-api-key\": \"{key}\" }},\n  \
                   }}),\n  \
                   instrumentations: [new OpenAIInstrumentation()],\n\
                 }}).start();"
            ),
        },
        Snippet {
            id: "curl",
            title: "curl (the JSON batch)",
            note: "No SDK: one trace in Argus's own JSON batch. Run it and watch below.",
            code: format!(
                "curl -sS -X POST \"{base}/api/v1/traces\" \\\n  \
                 -H \"x-api-key: {key}\" -H \"content-type: application/json\" \\\n  \
                 -d '{{\"traces\": [{{\"agent_id\": \"my-agent\", \"department\": \"support\", \
                 \"environment\": \"production\", \"name\": \"first trace\", \"model\": \"gpt-4o-mini\", \
                 \"input_tokens\": 420, \"output_tokens\": 96, \"latency_ms\": 850, \"status\": \"ok\", \
                 \"input\": \"Hello\", \"output\": \"Hi! How can I help?\"}}]}}'"
            ),
        },
    ]
}

/// The connect data, polled every 3 s until the workspace has a trace (then never again).
/// Create it unconditionally at the top of a page (a resource made in a branch that appears
/// after a load would not hydrate).
pub fn use_connect() -> Resource<Result<ConnectInfo, AppError>, Json> {
    let (tick, _) = use_refresh(Signal::derive(|| 3));
    let arrived = RwSignal::new(false);
    let info = resource(
        move || if arrived.get() { 0 } else { tick.get() },
        |_| get_connect(),
    );
    Effect::new(move |_| {
        if info
            .get()
            .and_then(Result::ok)
            .is_some_and(|i| i.latest_trace.is_some())
        {
            arrived.set(true);
        }
    });
    info
}

/// The setup panel. `home`: shown on an empty home page (a heading that says so).
#[component]
pub fn ConnectPanel(
    info: Resource<Result<ConnectInfo, AppError>, Json>,
    #[prop(optional)] home: bool,
) -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let key = move || create.value().get().and_then(Result::ok).map(|c| c.key);
    let role = my_role();
    let admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    let chosen = RwSignal::new("env");
    view! {
        <section class="card connect" aria-label="Connect an agent" data-testid="connect">
            <h2>{if home { "Send your first trace" } else { "Connect an agent" }}</h2>
            <p class="muted">"Argus takes OpenTelemetry (OTLP/HTTP, protobuf or JSON) from any GenAI instrumentation, and its own JSON batch. Agents authenticate with an ingest key."</p>
            <Transition>{move || if admin() {
                view! {
                    <div class="connect-key">
                        {move || match key() {
                            Some(k) => view! {
                                <div class="callout callout-ok" role="status" data-testid="connect-key">
                                    <p>"Ingest key created; it is in the snippets below. Copy it now: it is not shown again."</p>
                                    <p class="secret-row"><code class="mono" data-testid="connect-key-value">{k.clone()}</code><CopyButton text=k /></p>
                                </div>
                            }.into_any(),
                            None => view! {
                                <ActionForm action=create attr:class="form form-inline" attr:data-testid="connect-create-key">
                                    <input type="hidden" name="name" value="first agent" />
                                    <input type="hidden" name="scope_ingest" value="on" />
                                    <Submit action=create label="Create an ingest key" busy="Creating…" testid="connect-create" />
                                    <span class="muted">" or use one from "<a href="/settings/api-keys">"API keys"</a>"."</span>
                                </ActionForm>
                            }.into_any(),
                        }}
                        <ActionError action=create />
                    </div>
                }.into_any()
            } else {
                view! { <p class="muted">"Ask an admin of this workspace for an ingest key, and put it where the snippets say "<code>{KEY_PLACEHOLDER}</code>"."</p> }.into_any()
            }}</Transition>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    let base = info.await.map(|i| i.base_url).unwrap_or_default();
                    view! {
                        <div role="tablist" class="tabs connect-tabs" aria-label="How to send">
                            {snippets("", "").into_iter().map(|s| view! {
                                <button type="button" role="tab" class="tab" data-testid=format!("tab-{}", s.id)
                                    aria-selected=move || (chosen.get() == s.id).to_string()
                                    on:click=move |_| chosen.set(s.id)>{s.title}</button>
                            }).collect_view()}
                        </div>
                        {move || {
                            let k = key().unwrap_or_else(|| KEY_PLACEHOLDER.to_owned());
                            snippets(&base, &k).into_iter().filter(|s| s.id == chosen.get()).map(|s| view! {
                                <div role="tabpanel" class="snippet">
                                    <p class="muted small">{s.note}</p>
                                    <pre class="code"><code data-testid=format!("snippet-{}", s.id)>{s.code.clone()}</code></pre>
                                    <CopyButton text=s.code />
                                </div>
                            }).collect_view()
                        }}
                    }
                })}
            </Transition>
            <Transition>
                {move || Suspend::new(async move {
                    match info.await.ok().and_then(|i| i.latest_trace) {
                        Some(t) => {
                            view! {
                                <p class="callout callout-ok" role="status">
                                    "Trace received from "<strong>{t.agent.clone()}</strong>": "
                                    <a href=format!("/traces/{}", t.trace_id) data-testid="first-trace">{format!("open \u{201c}{}\u{201d}", t.name)}</a>
                                </p>
                            }.into_any()
                        }
                        None => view! {
                            <p class="waiting" role="status" data-testid="waiting">
                                <span class="pulse" aria-hidden="true"></span>
                                "Waiting for the first trace… this updates by itself."
                            </p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snippet_carries_the_address_and_the_key() {
        let all = snippets("https://argus.example.com/", "ak_test_123");
        assert_eq!(all.len(), 4);
        for s in &all {
            assert!(s.code.contains("https://argus.example.com"), "{}", s.id);
            assert!(!s.code.contains(".com//"), "{}", s.id);
            assert!(s.code.contains("ak_test_123"), "{}", s.id);
        }
        let curl = &all[3].code;
        assert!(curl.contains("https://argus.example.com/api/v1/traces"));
        // The JSON in the curl snippet is valid JSON.
        let body = curl.split("-d '").nth(1).unwrap().trim_end_matches('\'');
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["traces"][0]["agent_id"], "my-agent");
        assert!(all[2]
            .code
            .contains("url: \"https://argus.example.com/v1/traces\""));
    }
}
