//! weft — a live-coding music instrument for the terminal.
//!
//! One module per stage of the data flow; see `ARCHITECTURE.md`.

pub mod event;
pub mod lstm;
pub mod mini;
pub mod theory;
pub mod transport;
