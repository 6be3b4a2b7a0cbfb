//! Argus's server-side core.
//!
//! Everything that touches PostgreSQL, Redis or secrets lives here, behind typed functions.
//! Axum handlers and Leptos server functions are thin adapters over this crate: they resolve the
//! request context, call one function here and map its [`Error`] to the standard envelope.
#![forbid(unsafe_code)]

use std::sync::Arc;

pub mod apikeys;
pub mod cache;
pub mod db;
pub mod error;
pub mod identity;
pub mod system;
pub mod tenancy;
pub mod token;

pub use error::{Error, Result};

/// The handles every domain function needs, built once at start and shared by the HTTP
/// handlers and the server functions. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Services {
    pub pool: sqlx::PgPool,
    pub cache: cache::Cache,
    pub info: Arc<system::SystemInfo>,
    /// Signs and verifies session tokens.
    pub tokens: Arc<token::TokenKeys>,
}
