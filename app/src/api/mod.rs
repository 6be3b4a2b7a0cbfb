//! Server functions: the API the browser and external clients share.
//!
//! Each one resolves its context, calls one domain function and maps the error. No SQL here.

pub mod system;
