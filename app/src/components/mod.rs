//! Reusable components.

pub mod charts;
pub mod forms;
pub mod layout;
pub mod theme_toggle;
