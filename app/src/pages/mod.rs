//! One file per page.

pub mod auth;
pub mod cost;
pub mod home;
pub mod not_found;
pub mod performance;
pub mod prices;
pub mod settings;
pub mod status;
pub mod usage;
