//! Reusable components.

pub mod charts;
pub mod filter_bar;
pub mod forms;
pub mod layout;
pub mod page;
pub mod theme_toggle;
