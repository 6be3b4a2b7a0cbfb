//! Reusable components.

pub mod badges;
pub mod charts;
pub mod copy;
pub mod evaluators;
pub mod filter_bar;
pub mod forms;
pub mod kpi_card;
pub mod layout;
pub mod messages;
pub mod page;
pub mod pager;
pub mod prices;
pub mod score_summary;
pub mod scores;
pub mod settings_nav;
pub mod theme_toggle;
