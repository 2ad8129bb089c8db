//! The engine: musical time, the scheduler that turns playing patches into timestamped
//! events, and the live session around it (watcher → compile worker → scheduler thread →
//! outputs), plus the same scheduler driven by a loop for headless renders.
//!
//! Data flow: [`watch`] (saves) → [`live`] (compile worker, scheduler thread) →
//! [`scheduler`] (patches → [`event::TimedEvent`]s on the [`transport`]'s clock) → the synth
//! ring, the recorder and the screen. [`render`] drives the same [`scheduler`] offline.

pub mod event;
pub mod live;
pub mod render;
pub mod scheduler;
pub mod session;
pub mod transport;
pub mod watch;
