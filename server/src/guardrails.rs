//! `POST /api/v1/guardrails/check`: a JSON body in, the decision out — a blocked check is a
//! 200 with `action: "block"`, so a client branches on the body. As thin as the other
//! handlers: the caller, its scope, one domain call.

use argus_domain::access::Caller;
use argus_domain::guard::check;
use argus_types::{GuardCheckRequest, GuardCheckResponse};
use axum::body::Body;
use axum::extract::State;
use axum::{Extension, Json};

use crate::error::HttpError;
use crate::state::AppState;

/// The largest check body: the 1 MB of text a check takes, and its JSON around it.
pub const MAX_CHECK_BODY: usize = 2 * 1024 * 1024;

pub async fn check(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    body: Body,
) -> Result<Json<GuardCheckResponse>, HttpError> {
    let caller = caller.map_or(Caller::Anonymous, |Extension(c)| c);
    let access = caller.access().cloned().map_err(HttpError)?;
    access.require_guardrail()?;
    let limit =
        MAX_CHECK_BODY.min(usize::try_from(state.gateway.body_limit_bytes).unwrap_or(usize::MAX));
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        HttpError::from(if too_large {
            argus_domain::Error::PayloadTooLarge {
                limit_bytes: limit as u64,
            }
        } else {
            argus_domain::Error::InvalidFormat {
                message: format!("could not read the request body: {e}"),
                location: None,
            }
        })
    })?;
    let req: GuardCheckRequest =
        serde_json::from_slice(&bytes).map_err(|e| argus_domain::Error::InvalidFormat {
            message: format!(
                "the body is not a check {{\"policy\", \"stage\", \"text\" | \"messages\" | \"arguments\", …}}: {e}"
            ),
            location: Some(format!("line {}, column {}", e.line(), e.column())),
        })?;
    Ok(Json(
        check::check(&state.services, access.workspace, req).await?,
    ))
}
