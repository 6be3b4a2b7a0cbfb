//! App-wide client state, provided once from [`crate::App`].

pub mod theme;
