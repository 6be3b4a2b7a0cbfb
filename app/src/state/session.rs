//! Who is signed in: one resource for the whole app, refreshed after log-in, log-out and
//! workspace changes.

use argus_types::Session;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::session::current_session;
use crate::error::AppError;

/// The signed-in session (`None` when nobody is), provided by [`provide_session`].
#[derive(Clone, Copy)]
pub struct SessionResource(pub Resource<Result<Option<Session>, AppError>>);

pub fn provide_session() -> SessionResource {
    let resource = SessionResource(Resource::new(|| (), |_| current_session()));
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
