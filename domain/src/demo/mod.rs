//! Demo data: a demo user and workspace, and 30 days of realistic agent traffic sent through
//! the real ingest path (OTLP protobuf requests → `ingest::export_traces`).
//!
//! Five departments with four agents each, several models and providers, three environments,
//! a release of every production agent mid-month, diurnal and weekly load, a 5 % error
//! baseline with two incidents (support on day 9, a Gemini outage on day 22), a runaway cost
//! spike (finance's forecast-bot on day 18), and conversations of several traces.
//!
//! Deterministic: ids and times come from the calendar day and a seeded generator, so running
//! it again stores nothing twice (a later day only adds its new days).

mod samples;
mod traffic;

pub use samples::dataset;
pub use traffic::{day, first_day};

use chrono::{DateTime, Duration, Utc};

use samples::{define_evaluations, guard_sample, review_queue, score_sample};

pub const DEMO_EMAIL: &str = "demo@argus.local";
pub const DEMO_PASSWORD: &str = "argus-demo-password";
pub const DEMO_WORKSPACE: &str = "Demo: Acme AI";
pub const DAYS: i64 = 30;

/// What loading did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub days: i64,
    pub spans_sent: usize,
    pub spans_stored: usize,
}

/// The demo user's workspace, created (with the user) when missing.
pub async fn ensure_workspace(
    services: &crate::Services,
) -> crate::Result<(crate::identity::UserId, crate::tenancy::WorkspaceId)> {
    use crate::identity::{self, Email, Password};
    let email = Email::parse(DEMO_EMAIL)?;
    let user = match identity::user_by_email(&services.pool, &email).await? {
        Some(user) => user,
        None => {
            let password = Password::parse(DEMO_PASSWORD)?;
            match identity::sign_up(
                &services.pool,
                &email,
                "Demo User",
                &password,
                DEMO_WORKSPACE,
            )
            .await?
            {
                Some(made) => made.user,
                // Created meanwhile by another process.
                None => identity::user_by_email(&services.pool, &email)
                    .await?
                    .ok_or_else(|| crate::Error::not_found("demo user"))?,
            }
        }
    };
    let workspaces = crate::workspaces::for_user(&services.pool, user).await?;
    let workspace = match workspaces.iter().find(|w| w.name == DEMO_WORKSPACE) {
        Some(w) => w.id,
        None => {
            crate::workspaces::create(&services.pool, user, DEMO_WORKSPACE)
                .await?
                .id
        }
    };
    Ok((user, crate::tenancy::WorkspaceId(workspace)))
}

/// Loads the last `days` (at most [`DAYS`]) of the 30 days that end at `until` into the demo
/// workspace through the OTLP ingest path, calling `progress(day done, days)` after each day.
pub async fn load(
    services: &crate::Services,
    until: DateTime<Utc>,
    days: i64,
    body_limit: u64,
    mut progress: impl FnMut(i64, i64),
) -> crate::Result<Loaded> {
    use secrecy::ExposeSecret;
    let (user, workspace) = ensure_workspace(services).await?;
    let key = crate::apikeys::create(
        &services.pool,
        workspace,
        Some(user),
        "demo loader",
        &[crate::apikeys::Scope::Ingest],
        Some(Utc::now() + Duration::hours(1)),
    )
    .await?;
    let access = crate::access::from_api_key(services, key.key.expose_secret()).await?;
    // Evaluators first, so they judge the traffic as it arrives.
    define_evaluations(services, workspace, user).await?;
    let mut loaded = Loaded::default();
    let first = first_day(until);
    let days = days.clamp(0, DAYS);
    for index in DAYS - days..DAYS {
        let date = first + Duration::days(index);
        for request in day(date, index, until) {
            let spans: usize = request
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum();
            let body = prost::Message::encode_to_vec(&request);
            let exported = crate::ingest::export_traces(
                services,
                &access,
                &mut services.ingest_gate.admit(access.workspace),
                &body,
                Some("application/x-protobuf"),
                None,
                body_limit,
            )
            .await?;
            loaded.spans_sent += spans;
            loaded.spans_stored += exported.stored.inserted;
        }
        loaded.days += 1;
        progress(loaded.days, days);
    }
    crate::apikeys::revoke_key(services, workspace, key.id).await?;
    score_sample(services, workspace).await?;
    guard_sample(services, workspace, user).await?;
    crate::alerts::sample::sample(services, workspace, user).await?;
    review_queue(services, workspace, user).await?;
    dataset(services, workspace, user).await?;
    Ok(loaded)
}
