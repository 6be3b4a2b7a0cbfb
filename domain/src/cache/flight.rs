//! Single flight: concurrent misses of one key in this process compute it once.
//!
//! The first miss of a key leads: it fetches and stores the value, then hands the encoded
//! value to every request that missed the same key meanwhile (they wait instead of querying).
//! A leader that fails or is cancelled (its request dropped) hands over nothing: each waiter
//! then fetches for itself, so a failure is never shared and never waited on twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// What a leader hands over: the stored value's bytes, or nothing (it failed).
type Outcome = Option<Arc<[u8]>>;
type Slot = watch::Receiver<Option<Outcome>>;

/// The keys being fetched now.
#[derive(Default)]
pub(super) struct Flights {
    inflight: Mutex<HashMap<String, Slot>>,
}

/// A miss's part in the flight of its key.
pub(super) enum Role<'a> {
    /// Fetch, store and [`Leader::finish`].
    Leader(Leader<'a>),
    /// Another request fetches: [`wait`] for its value.
    Follower(Slot),
}

/// The request fetching a key; dropping it (done, failed or cancelled) ends the flight.
pub(super) struct Leader<'a> {
    flights: &'a Flights,
    key: String,
    tx: watch::Sender<Option<Outcome>>,
}

impl Flights {
    /// Leads the flight of `key`, or follows the one under way.
    pub(super) fn join(&self, key: &str) -> Role<'_> {
        let mut inflight = self.inflight.lock().expect("flights lock");
        if let Some(slot) = inflight.get(key) {
            return Role::Follower(slot.clone());
        }
        let (tx, rx) = watch::channel(None);
        inflight.insert(key.to_owned(), rx);
        Role::Leader(Leader {
            flights: self,
            key: key.to_owned(),
            tx,
        })
    }

    /// Keys being fetched now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.inflight.lock().expect("flights lock").len()
    }
}

impl Leader<'_> {
    /// Hands the stored value's bytes to the followers.
    pub(super) fn finish(self, bytes: Arc<[u8]>) {
        // No receiver left is fine: nobody waited.
        let _ = self.tx.send(Some(Some(bytes)));
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.flights
            .inflight
            .lock()
            .expect("flights lock")
            .remove(&self.key);
    }
}

/// The leader's value, or `None` when it failed or was cancelled.
pub(super) async fn wait(mut slot: Slot) -> Option<Arc<[u8]>> {
    let outcome = slot.wait_for(Option::is_some).await.ok()?.clone();
    outcome.flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_leaders_value_and_the_flight_ends() {
        let flights = Flights::default();
        let Role::Leader(leader) = flights.join("k") else {
            panic!("the first miss leads")
        };
        let Role::Follower(slot) = flights.join("k") else {
            panic!("the second follows")
        };
        assert!(matches!(flights.join("other"), Role::Leader(_)));
        let waiting = tokio::spawn(wait(slot));
        leader.finish(Arc::from(&b"42"[..]));
        assert_eq!(waiting.await.unwrap().as_deref(), Some(&b"42"[..]));
        assert_eq!(flights.len(), 0, "the next miss leads again");
        assert!(matches!(flights.join("k"), Role::Leader(_)));
    }

    #[tokio::test]
    async fn a_failed_or_cancelled_leader_hands_over_nothing() {
        let flights = Flights::default();
        let Role::Leader(leader) = flights.join("k") else {
            panic!("the first miss leads")
        };
        let Role::Follower(slot) = flights.join("k") else {
            panic!("the second follows")
        };
        drop(leader);
        assert_eq!(wait(slot).await, None);
        assert_eq!(flights.len(), 0);
    }
}
