//! Reusable components.

pub mod forms;
pub mod layout;
pub mod theme_toggle;
