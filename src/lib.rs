//! weft — a live-coding music instrument for the terminal.
//!
//! One module per stage of the data flow; see `ARCHITECTURE.md`.

pub mod analysis;
pub mod event;
pub mod mini;
pub mod theory;
pub mod transport;
