//! weft — a live-coding music instrument for the terminal.
//!
//! One module per stage of the data flow; see `ARCHITECTURE.md`.

pub mod alloc_meter;
pub mod analysis;
pub mod audio;
pub mod bounds;
pub mod event;
pub mod fault;
pub mod forecast;
pub mod live;
pub mod logs;
pub mod lstm;
pub mod mini;
pub mod neural;
pub mod patch;
pub mod recommend;
pub mod record;
pub mod render;
pub mod rng;
pub mod scheduler;
pub mod screen;
pub mod smf;
pub mod synth;
pub mod theory;
pub mod transport;
pub mod tui;
pub mod watch;
