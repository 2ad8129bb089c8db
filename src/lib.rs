//! weft — a live-coding music instrument for the terminal.
//!
//! One module per stage of the data flow; see `ARCHITECTURE.md`.

pub mod event;
pub mod forecast;
pub mod logs;
pub mod mini;
pub mod recommend;
pub mod theory;
pub mod transport;
