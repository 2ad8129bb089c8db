//! weft — a live-coding music instrument for the terminal.
//!
//! One folder per stage of the data flow, in that order; see `ARCHITECTURE.md`:
//! [`patch`] (Rhai patches, mini-notation, theory) → [`engine`] (time, scheduler, live
//! session) → [`sound`] (synth, audio output) and [`record`] (journal, MIDI files) →
//! [`analysis`] (features of what plays) → [`tui`] (the screen). [`neural`] is the note LSTM;
//! [`logs`], [`recommend`] and [`forecast`] serve the listening panes; [`cli`] is the
//! command-line edge.

pub mod alloc_meter;
pub mod analysis;
pub mod bounds;
pub mod cli;
pub mod data;
pub mod engine;
pub mod fault;
pub mod forecast;
pub mod logs;
pub mod neural;
pub mod outputs;
pub mod patch;
pub mod recommend;
pub mod record;
pub mod rng;
pub mod sound;
pub mod tui;
