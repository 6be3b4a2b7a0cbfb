//! The home page's alert card and the header's bell: what fires and is pending now, and the
//! budgets in trouble; cached in the hot tier and dropped whenever a state changes
//! ([`super::cache::forget`]).

use argus_types::AlertFeed;

use super::cache::key;
use crate::cache::Ttl;
use crate::tenancy::WorkspaceId;
use crate::{Result, Services};

/// The feed, from the cache when it holds it.
pub async fn get(services: &Services, workspace: WorkspaceId) -> Result<AlertFeed> {
    services
        .cache
        .get_with_cache(&key(workspace), Ttl::Hot, || async {
            let (firing, pending) = super::rules::active(services, workspace)
                .await?
                .into_iter()
                .partition(|i| i.state == argus_types::AlertState::Firing);
            let budgets = super::budgets::list(services, workspace, chrono::Utc::now())
                .await?
                .into_iter()
                .filter(|b| b.spent_usd >= 0.8 * b.amount_usd || b.exceeds_on.is_some())
                .collect();
            Ok(AlertFeed {
                firing,
                pending,
                budgets,
            })
        })
        .await
}
