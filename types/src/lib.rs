//! The wire contract shared by the Argus server and the browser.
//!
//! Everything here compiles both natively and to WebAssembly: no I/O, no server-only crates.
#![forbid(unsafe_code)]

mod error;
mod system;

pub use error::{ErrorBody, ErrorCode, ErrorEnvelope};
pub use system::{CacheStatus, DatabaseStatus, DomainCacheStats, SystemStatus};
