//! Ableton Link as a [`TempoSync`] (cargo feature `link`: the `rusty_link` crate builds
//! Ableton's C++ library, which needs `cmake` and `libclang-dev`, and is GPL-2.0-or-later —
//! a weft built with this feature is distributed under the GPL).
//!
//! weft joins the Link session on the local network (peers found by multicast, also between
//! programs on one machine) and reads the app-thread session state once per poll.

use super::sync::TempoSync;
use rusty_link::{AblLink, SessionState};

pub struct LinkSync {
    link: AblLink,
    state: SessionState,
}

impl LinkSync {
    /// Joins (or starts) the session; `bpm` is weft's tempo, which a new session takes.
    pub fn join(bpm: f64) -> LinkSync {
        let link = AblLink::new(bpm);
        link.enable(true);
        let mut state = SessionState::new();
        link.capture_app_session_state(&mut state);
        LinkSync { link, state }
    }
}

impl Drop for LinkSync {
    fn drop(&mut self) {
        self.link.enable(false);
    }
}

impl TempoSync for LinkSync {
    fn refresh(&mut self) {
        self.link.capture_app_session_state(&mut self.state);
    }
    fn now_micros(&self) -> i64 {
        self.link.clock_micros()
    }
    fn tempo(&self) -> f64 {
        self.state.tempo()
    }
    fn beat_at(&self, micros: i64, quantum: f64) -> f64 {
        self.state.beat_at_time(micros, quantum)
    }
    fn micros_at_beat(&self, beat: f64, quantum: f64) -> i64 {
        self.state.time_at_beat(beat, quantum)
    }
    fn propose_tempo(&mut self, bpm: f64, micros: i64) {
        self.link.capture_app_session_state(&mut self.state);
        self.state.set_tempo(bpm, micros);
        self.link.commit_app_session_state(&self.state);
    }
    fn peers(&self) -> usize {
        self.link.num_peers() as usize
    }
}
