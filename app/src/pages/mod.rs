//! One file per page.

pub mod account;
pub mod agents;
pub mod alerts;
pub mod api_docs;
pub mod api_keys;
pub mod auth;
pub mod connect;
pub mod cost;
pub mod dataset;
pub mod evaluations;
pub mod guardrails;
pub mod home;
pub mod members;
pub mod not_found;
pub mod performance;
pub mod prices;
pub mod queue;
pub mod sessions;
pub mod status;
pub mod trace;
pub mod traces;
pub mod usage;
pub mod workspace;
