//! One file per page.

pub mod auth;
pub mod home;
pub mod not_found;
pub mod prices;
pub mod settings;
pub mod status;
pub mod usage;
