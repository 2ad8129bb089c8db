//! Following a shared tempo and bar phase (`weft play --sync link`, `--sync midi`): the
//! scheduler thread asks a [`TempoSync`] — Ableton Link ([`super::link`], cargo feature
//! `link`) or an incoming MIDI clock ([`crate::outputs::midi::clock_in`]) — for the
//! session's tempo and beat timeline, starts its transport on the session's bar line, follows
//! tempo changes, and nudges its frame offset when its bar phase drifts from the session's by
//! more than a millisecond. The performer's `+`/`-` propose a new tempo to the session instead
//! of changing weft's alone; patches' `tempo()` calls are ignored while synced (as with
//! `--tempo`), because the session owns the tempo. A MIDI clock master also starts and stops
//! the transport ([`Cue`]s, which the scheduler takes whether it is playing or not); it takes
//! no proposals, so `+`/`-` do nothing while following one.
//!
//! Time: the sync has its own clock (µs); the engine counts frames. [`Follower`] maps one to
//! the other by an offset averaged over the last polls (audio clocks move a block at a time),
//! at the engine's nominal sample rate.
//!
//! Nudging the frame offset never loses or repeats a note: the scheduler emits ticks in
//! order from where it stopped; a nudge only moves the frames of the ticks not yet emitted.

use crate::engine::event::Frame;
use crate::outputs::{OutputSlot, OutputState};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A transport change from the sync (a MIDI clock master's Start, Continue, Stop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cue {
    /// From the top: the master's next beat is its beat 0.
    Start,
    /// From the master's song position.
    Continue,
    Stop,
}

/// A shared tempo and beat timeline (Ableton Link's session state, a MIDI clock).
pub trait TempoSync: Send {
    /// Reads the session's current state (called once per poll, before the other calls).
    fn refresh(&mut self);
    /// The sync's clock now, in µs.
    fn now_micros(&self) -> i64;
    /// The session's tempo in BPM.
    fn tempo(&self) -> f64;
    /// The session's beat at `micros`, for bars of `quantum` beats.
    fn beat_at(&self, micros: i64, quantum: f64) -> f64;
    /// When the session reaches `beat`, for bars of `quantum` beats.
    fn micros_at_beat(&self, beat: f64, quantum: f64) -> i64;
    /// Asks the session for a new tempo from `micros` on.
    fn propose_tempo(&mut self, bpm: f64, micros: i64);
    /// How many other peers share the session.
    fn peers(&self) -> usize;
    /// The next transport change the sync asks for, oldest first (Link: none).
    fn take_cue(&mut self) -> Option<Cue> {
        None
    }
    /// What the output board shows: the target text and the state.
    fn describe(&self) -> (String, OutputState) {
        let peers = self.peers();
        let target = format!(
            "{:.1} BPM, {peers} peer{}",
            self.tempo(),
            if peers == 1 { "" } else { "s" }
        );
        let state = if peers == 0 {
            OutputState::Waiting("no peers yet".into())
        } else {
            OutputState::Active
        };
        (target, state)
    }
}

/// A sync handed to the engine through [`super::LiveConfig`] (taken once by the scheduler
/// thread), with the output-board slot where its state is shown.
#[derive(Clone, Default)]
pub struct SyncHandoff(Arc<Mutex<Option<Handed>>>);

/// What a [`SyncHandoff`] carries: the sync and its output-board slot.
type Handed = (Box<dyn TempoSync>, Option<OutputSlot>);

impl std::fmt::Debug for SyncHandoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncHandoff")
    }
}

impl SyncHandoff {
    pub fn new(sync: Box<dyn TempoSync>, slot: Option<OutputSlot>) -> SyncHandoff {
        SyncHandoff(Arc::new(Mutex::new(Some((sync, slot)))))
    }
    pub(super) fn take(&self) -> Option<Follower> {
        let (sync, slot) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        Some(Follower::new(sync, slot))
    }
}

/// How often the scheduler thread looks at the session.
const POLL: Duration = Duration::from_millis(20);
/// Clock-offset samples averaged (at [`POLL`], about 1.3 s).
const OFFSET_WINDOW: usize = 64;

/// What the scheduler should change after a poll.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Adjust {
    /// The session's tempo differs from weft's: take it from the next emitted tick.
    pub tempo: Option<f64>,
    /// Move the frame offset by this many frames (negative: play earlier).
    pub shift: i64,
}

/// Where weft's transport stands, for a phase comparison.
#[derive(Clone, Copy, Debug)]
pub(super) struct Local {
    /// The engine clock now.
    pub now: Frame,
    /// weft's tempo at the next beat.
    pub bpm: f64,
    /// The frame where weft's next beat sounds, and its position in the bar, in beats.
    pub next_beat_frame: Frame,
    pub next_beat_phase: f64,
    /// Beats per bar (the session quantum).
    pub quantum: f64,
}

/// The scheduler thread's side of a sync.
pub(super) struct Follower {
    sync: Box<dyn TempoSync>,
    slot: Option<OutputSlot>,
    sample_rate: f64,
    offsets: VecDeque<f64>,
    next_poll: Instant,
    shown: Option<(String, OutputState)>,
    /// Phase corrections applied (for the status and the tests).
    pub nudges: u64,
}

impl Follower {
    fn new(sync: Box<dyn TempoSync>, slot: Option<OutputSlot>) -> Follower {
        Follower {
            sync,
            slot,
            sample_rate: 48_000.0,
            offsets: VecDeque::with_capacity(OFFSET_WINDOW),
            next_poll: Instant::now(),
            shown: None,
            nudges: 0,
        }
    }

    /// Reads the session and the clock offset (engine frame `now`).
    fn observe(&mut self, now: Frame, sample_rate: u32) {
        self.sample_rate = sample_rate as f64;
        self.sync.refresh();
        let off = self.sync.now_micros() as f64 - now as f64 * 1e6 / self.sample_rate;
        if self.offsets.len() == OFFSET_WINDOW {
            self.offsets.pop_front();
        }
        self.offsets.push_back(off);
        self.show();
    }

    fn offset(&self) -> f64 {
        self.offsets.iter().sum::<f64>() / self.offsets.len().max(1) as f64
    }

    fn micros(&self, frame: Frame) -> i64 {
        (frame as f64 * 1e6 / self.sample_rate + self.offset()).round() as i64
    }

    fn frame(&self, micros: i64) -> f64 {
        (micros as f64 - self.offset()) * self.sample_rate / 1e6
    }

    /// The session's tempo now (and the clock offset refreshed at `now`); None if the sync
    /// reports no usable tempo (not finite, not positive).
    pub fn tempo(&mut self, now: Frame, sample_rate: u32) -> Option<f64> {
        self.observe(now, sample_rate);
        usable(self.sync.tempo())
    }

    /// The first frame at or after `earliest` where the session is `phase` beats into its bar
    /// of `quantum` beats: where a transport that resumes at that bar position starts.
    pub fn start_frame(
        &mut self,
        now: Frame,
        sample_rate: u32,
        earliest: Frame,
        phase: f64,
        quantum: f64,
    ) -> Frame {
        self.observe(now, sample_rate);
        let b0 = self.sync.beat_at(self.micros(earliest), quantum);
        if !b0.is_finite() {
            // No timeline yet (a clock that has not ticked): start when asked.
            return earliest;
        }
        let k = ((b0 - phase) / quantum).ceil();
        let beat = phase + k * quantum;
        let f = self.frame(self.sync.micros_at_beat(beat, quantum)).round();
        if !f.is_finite() {
            return earliest;
        }
        (f.max(0.0) as Frame).max(earliest)
    }

    /// The performer's `+`/`-`: ask the session for `bpm`.
    pub fn propose(&mut self, bpm: f64, now: Frame, sample_rate: u32) {
        self.observe(now, sample_rate);
        let at = self.micros(now);
        self.sync.propose_tempo(bpm, at);
    }

    /// The next transport change the sync asks for (the sync is read afresh; the clock
    /// offset is left to the polls).
    pub fn cue(&mut self) -> Option<Cue> {
        if let Some(c) = self.sync.take_cue() {
            return Some(c);
        }
        self.sync.refresh();
        self.sync.take_cue()
    }

    /// At most every 20 ms: the tempo to take, or the nudge that puts weft's next beat where
    /// the session has it (when the tempi agree and the phases differ by more than 1 ms).
    pub fn poll(&mut self, local: Local, sample_rate: u32) -> Adjust {
        let t = Instant::now();
        if t < self.next_poll {
            return Adjust::default();
        }
        self.next_poll = t + POLL;
        self.observe(local.now, sample_rate);
        let Some(bpm) = usable(self.sync.tempo()) else {
            return Adjust::default();
        };
        if (bpm - local.bpm).abs() > 1e-4 {
            return Adjust {
                tempo: Some(bpm),
                shift: 0,
            };
        }
        let q = local.quantum;
        let beat = self.sync.beat_at(self.micros(local.next_beat_frame), q);
        if !beat.is_finite() {
            return Adjust::default();
        }
        let mut diff = beat.rem_euclid(q) - local.next_beat_phase;
        // The nearest way round the bar.
        if diff > q / 2.0 {
            diff -= q;
        } else if diff < -q / 2.0 {
            diff += q;
        }
        let frames_per_beat = self.sample_rate * 60.0 / bpm;
        // The session is `diff` beats further on: weft's beat must sound that much earlier.
        let shift = (-diff * frames_per_beat).round() as i64;
        if shift.abs() as f64 > self.sample_rate / 1000.0 {
            self.nudges += 1;
            Adjust { tempo: None, shift }
        } else {
            Adjust::default()
        }
    }

    fn show(&mut self) {
        let Some(slot) = &self.slot else { return };
        let (target, state) = self.sync.describe();
        if self.shown.as_ref() == Some(&(target.clone(), state.clone())) {
            return;
        }
        self.shown = Some((target.clone(), state.clone()));
        slot.update(|s| {
            s.target = target;
            s.state = state;
        });
    }
}

/// A tempo weft can follow: finite and positive.
fn usable(bpm: f64) -> Option<f64> {
    (bpm.is_finite() && bpm > 0.0).then_some(bpm)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session timeline in plain arithmetic: `bpm` from beat 0 at `origin` µs, on a clock
    /// that the test sets.
    struct Timeline {
        now: i64,
        origin: i64,
        bpm: f64,
    }
    impl TempoSync for Arc<Mutex<Timeline>> {
        fn refresh(&mut self) {}
        fn now_micros(&self) -> i64 {
            self.lock().unwrap().now
        }
        fn tempo(&self) -> f64 {
            self.lock().unwrap().bpm
        }
        fn beat_at(&self, micros: i64, _q: f64) -> f64 {
            let t = self.lock().unwrap();
            (micros - t.origin) as f64 / 1e6 * t.bpm / 60.0
        }
        fn micros_at_beat(&self, beat: f64, _q: f64) -> i64 {
            let t = self.lock().unwrap();
            t.origin + (beat * 60.0 / t.bpm * 1e6).round() as i64
        }
        fn propose_tempo(&mut self, bpm: f64, _at: i64) {
            self.lock().unwrap().bpm = bpm;
        }
        fn peers(&self) -> usize {
            1
        }
    }

    fn follower(origin: i64, bpm: f64, clock_at_frame0: i64) -> (Arc<Mutex<Timeline>>, Follower) {
        let t = Arc::new(Mutex::new(Timeline {
            now: clock_at_frame0,
            origin,
            bpm,
        }));
        (
            t.clone(),
            SyncHandoff::new(Box::new(t), None).take().unwrap(),
        )
    }

    #[test]
    fn the_transport_starts_on_the_sessions_bar_line() {
        // Session: 120 BPM, beat 0 at 1.1 s on its clock; frame 0 is at 1.0 s on that clock.
        let (_t, mut f) = follower(1_100_000, 120.0, 1_000_000);
        // Earliest start 0.5 s in (frame 24,000): the next bar of 4 beats after beat 0 is at
        // 1.1 s + 2 s = 3.1 s → frame (3.1 − 1.0) × 48,000 = 100,800.
        assert_eq!(f.start_frame(0, 48_000, 24_000, 0.0, 4.0), 100_800);
        // Resuming 1.5 beats into a bar: the session's next beat 1.5 of a bar is at
        // 1.1 + 0.75 s = 1.85 s → frame 40,800.
        assert_eq!(f.start_frame(0, 48_000, 24_000, 1.5, 4.0), 40_800);
    }

    #[test]
    fn a_tempo_change_is_taken_and_a_drift_is_nudged_back() {
        let (t, mut f) = follower(1_000_000, 120.0, 1_000_000);
        // weft at 120 too, its next beat (phase 0) at frame 48,000 = 2.0 s = beat 2 → phase 2:
        // two beats off, the nearest way is 2 beats either way (exactly half a bar: forward).
        let local = Local {
            now: 0,
            bpm: 120.0,
            next_beat_frame: 48_000,
            next_beat_phase: 2.0,
            quantum: 4.0,
        };
        assert_eq!(f.poll(local, 48_000), Adjust::default(), "in phase");
        // 3 ms late: the session's beat 2 is at 47,856.
        f.next_poll = Instant::now();
        let late = Local {
            next_beat_frame: 48_144,
            ..local
        };
        assert_eq!(
            f.poll(late, 48_000),
            Adjust {
                tempo: None,
                shift: -144
            }
        );
        // Half a millisecond is left alone.
        f.next_poll = Instant::now();
        let close = Local {
            next_beat_frame: 48_024,
            ..local
        };
        assert_eq!(f.poll(close, 48_000), Adjust::default());
        // The session goes to 130 BPM: weft takes the tempo first, the phase after.
        t.lock().unwrap().bpm = 130.0;
        f.next_poll = Instant::now();
        assert_eq!(f.poll(local, 48_000).tempo, Some(130.0));
        assert_eq!(f.nudges, 1);
    }

    #[test]
    fn plus_and_minus_propose_to_the_session() {
        let (t, mut f) = follower(0, 120.0, 0);
        f.propose(123.0, 0, 48_000);
        assert_eq!(t.lock().unwrap().bpm, 123.0);
        assert_eq!(f.tempo(0, 48_000), Some(123.0));
    }

    #[test]
    fn a_session_tempo_that_is_not_a_number_is_not_followed() {
        let (t, mut f) = follower(0, 120.0, 0);
        t.lock().unwrap().bpm = f64::NAN;
        assert_eq!(f.tempo(0, 48_000), None);
        let local = Local {
            now: 0,
            bpm: 120.0,
            next_beat_frame: 24_000,
            next_beat_phase: 1.0,
            quantum: 4.0,
        };
        assert_eq!(f.poll(local, 48_000), Adjust::default());
    }
}
