//! The request's tracing span carries the workspace and the user the gateway resolved.
//! Alone in its test binary, because it installs the global tracing subscriber.

mod common;

use argus_domain::session;
use axum::http::StatusCode;
use common::*;
use sqlx::PgPool;

const PASSWORD: &str = "a long passphrase";

/// Collects what a tracing subscriber writes.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_request_span_names_the_workspace_and_the_user(owner: PgPool) {
    let (router, services) = app_as_server(&owner).await;
    let started = session::register(&services, "ann@example.com", "Ann", PASSWORD, "A")
        .await
        .unwrap();
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_writer(logs.clone())
        .finish();
    // The global subscriber: this binary holds this one test, so nothing races it (a thread-local
    // default can lose events to the global callsite-interest cache when tests run in parallel).
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let res = send(
        &router,
        request("GET", "/api/v1/api-keys", "", &Auth::Bearer(started.token)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let served = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["fields"]["message"] == "request served")
        .unwrap_or_else(|| panic!("no request log: {text}"));
    assert_eq!(
        served["span"]["workspace_id"],
        started.workspace.id.to_string(),
        "{served}"
    );
    assert_eq!(
        served["span"]["user_id"],
        started.user.0.to_string(),
        "{served}"
    );
}
