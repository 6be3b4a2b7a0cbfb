//! Who is signed in: one resource for the whole app, refreshed after log-in, log-out and
//! workspace changes.

use crate::state::codec::{resource, Json};
use argus_types::{Role, Session};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::session::current_session;
use crate::error::AppError;

/// The signed-in session (`None` when nobody is), provided by [`provide_session`].
#[derive(Clone, Copy)]
pub struct SessionResource(pub Resource<Result<Option<Session>, AppError>, Json>);

pub fn provide_session() -> SessionResource {
    let resource = SessionResource(resource(|| (), |_| current_session()));
    provide_context(resource);
    resource
}

pub fn use_session() -> SessionResource {
    expect_context::<SessionResource>()
}

/// Refetches the session after each successful run of `action` (log in, switch, …).
pub fn use_session_refresh<S>(action: ServerAction<S>)
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let session = use_session();
    Effect::new(move |_| {
        if action.value().with(|v| matches!(v, Some(Ok(_)))) {
            session.0.refetch();
        }
    });
}

/// The caller's role in the current workspace, once the session has loaded.
pub fn my_role() -> Signal<Option<Role>> {
    let session = use_session();
    Signal::derive(move || {
        session
            .0
            .get()
            .and_then(|r| r.ok())
            .flatten()
            .map(|s| s.workspace.role)
    })
}

/// The caller's role, awaited (for use inside a `Suspend`, so server and browser agree).
pub async fn role_now(session: SessionResource) -> Option<Role> {
    session.0.await.ok().flatten().map(|s| s.workspace.role)
}
