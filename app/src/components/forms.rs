//! Form pieces shared by pages: the error of a server action, and a submit button that shows
//! when the action is pending.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::error::AppError;

/// The error of the action's last run (also after a plain, JavaScript-less form post, which
/// carries it back in the URL), as an alert.
#[component]
pub fn ActionError<S>(action: ServerAction<S>) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    move || {
        action.value().with(|v| match v {
            Some(Err(e)) => Some(view! {
                <p class="form-error" role="alert" data-testid="form-error">
                    {e.message().to_owned()}
                </p>
            }),
            _ => None,
        })
    }
}

/// A submit button, disabled with a busy label while the action runs.
#[component]
pub fn Submit<S>(
    action: ServerAction<S>,
    label: &'static str,
    busy: &'static str,
    #[prop(optional)] class: &'static str,
    #[prop(optional)] testid: &'static str,
) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let pending = action.pending();
    let class = if class.is_empty() { "button" } else { class };
    view! {
        <button type="submit" class=class disabled=move || pending.get() data-testid=testid>
            {move || if pending.get() { busy } else { label }}
        </button>
    }
}

/// A click handler for a destructive submit button: asks first, saying what will happen, and
/// cancels the submit unless the user agrees. (Without JavaScript the form posts directly; the
/// server's own checks still apply.)
pub fn confirm_first(message: String) -> impl Fn(leptos::ev::MouseEvent) + 'static {
    move |ev| {
        #[cfg(feature = "browser")]
        {
            let agreed = window().confirm_with_message(&message).unwrap_or(false);
            if !agreed {
                ev.prevent_default();
            }
        }
        #[cfg(not(feature = "browser"))]
        let _ = (&ev, &message);
    }
}
