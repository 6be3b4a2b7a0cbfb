//! App-wide client state, provided once from [`crate::App`].

pub mod filters;
pub mod session;
pub mod theme;
