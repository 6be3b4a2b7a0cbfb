//! App-wide client state, provided once from [`crate::App`].

pub mod codec;
pub mod filters;
pub mod hydration;
pub mod prefs;
pub mod query_cache;
pub mod session;
pub mod theme;
pub mod time;
