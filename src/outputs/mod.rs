//! Outputs: where events leave the engine.
//!
//! The scheduler thread hands every batch of [`TimedEvent`]s it emits (in time order, already
//! `lookahead` ahead of the clock) to one [`EventOut`]; it must not block, and it says how
//! many events it could not deliver (the scheduler counts and reports them as `Dropped`).
//! Outputs: the synth's lock-free ring ([`RingOut`]); OSC to SuperDirt ([`osc::OscOut`]);
//! MIDI out and MIDI clock ([`midi::MidiOut`]).
//!
//! **What the screen shows about an output**: each output registers one [`OutputStatus`] on
//! the session's [`OutputBoard`] (kind, target, state, counts) and updates it from its own
//! thread (never from the audio callback); the transport pane and the headless log read the
//! board. A target that is missing (no server, no port) is a state, said once, not an error:
//! the music goes on.
//!
//! **Adding an output** is one file and one line (plus its `pub mod NAME;` here): write
//! `outputs/NAME.rs` with a type that implements [`EventOut`], and add it to the session's
//! session with one `Box::new(...)` line in the `outs` list of
//! [`crate::engine::session::Session::start`]. [`Fanout`] gives each output the same events
//! and adds up what each one dropped.
//!
//! The recorder is not an output in this sense: it gets the events with the recording's own
//! time origin and track list, from the scheduler thread's recording session
//! (`engine/live/recording.rs`).

pub mod midi;
pub mod osc;

use std::sync::{Arc, Mutex};

use crate::engine::event::{Event, Frame, Tick, TimedEvent};

/// How an output is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputState {
    /// Delivering.
    Active,
    /// Running, but its peer is not there (yet): e.g. nothing listens on the OSC port. The
    /// output keeps trying; the string says what is missing.
    Waiting(String),
    /// Gave up; the string says why.
    Failed(String),
}

/// One output as the transport pane and the headless log show it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputStatus {
    /// What it is: "audio", "osc", "midi out", "midi clock".
    pub kind: String,
    /// Where it goes: device, host:port, port name.
    pub target: String,
    pub state: OutputState,
    /// Messages (notes, bundles, clock bytes) delivered so far.
    pub sent: u64,
    /// Messages dropped (queue full, send failed).
    pub dropped: u64,
    /// Cycles its server reported missed (JACK xruns) while it sent: messages in them may
    /// not have arrived. Only JACK outputs have cycles; others stay at 0.
    pub xruns: u64,
}

impl OutputStatus {
    pub fn new(kind: &str, target: &str) -> Self {
        OutputStatus {
            kind: kind.to_string(),
            target: target.to_string(),
            state: OutputState::Active,
            sent: 0,
            dropped: 0,
            xruns: 0,
        }
    }
}

/// The session's outputs and their states, shared by the outputs (writers, each its own
/// entry) and the screen / headless log (readers). Short, uncontended locks; never taken on
/// the audio thread.
#[derive(Clone, Debug, Default)]
pub struct OutputBoard(Arc<Mutex<Vec<OutputStatus>>>);

/// One output's entry on the board.
#[derive(Clone, Debug)]
pub struct OutputSlot {
    board: OutputBoard,
    index: usize,
}

impl OutputBoard {
    /// Adds an entry; the output keeps the slot to update it.
    pub fn register(&self, status: OutputStatus) -> OutputSlot {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.push(status);
        OutputSlot {
            board: self.clone(),
            index: v.len() - 1,
        }
    }

    /// Every output's state now, in registration order.
    pub fn snapshot(&self) -> Vec<OutputStatus> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl OutputSlot {
    /// Changes this output's entry.
    pub fn update(&self, f: impl FnOnce(&mut OutputStatus)) {
        let mut v = self.board.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = v.get_mut(self.index) {
            f(s);
        }
    }
}

/// Where the scheduler's events go besides the recorder.
pub trait EventOut: Send {
    /// Hands over events; must not block. Returns how many could not be delivered.
    fn send(&mut self, events: &[TimedEvent]) -> usize;

    /// The transport after each scheduler pass, start and stop: whether it plays, the tick
    /// it has emitted events up to, and the frame of any tick (for outputs that send time
    /// itself, like MIDI clock). Must not block.
    fn transport(&mut self, _playing: bool, _emitted_to: Tick, _frame_of: &dyn Fn(Tick) -> Frame) {}

    /// Silence everything now (the performer's panic command).
    fn panic(&mut self) {}
}

/// Several outputs as one: each gets every event; the dropped counts add up.
#[derive(Default)]
pub struct Fanout(pub Vec<Box<dyn EventOut>>);

impl EventOut for Fanout {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        self.0.iter_mut().map(|o| o.send(events)).sum()
    }
    fn transport(&mut self, playing: bool, emitted_to: Tick, frame_of: &dyn Fn(Tick) -> Frame) {
        for o in &mut self.0 {
            o.transport(playing, emitted_to, frame_of);
        }
    }
    fn panic(&mut self) {
        self.0.iter_mut().for_each(|o| o.panic());
    }
}

/// The scheduler → synth ring (lock-free SPSC; the audio callback is the consumer).
///
/// The last [`RingOut::RESERVED`] slots are kept for note-offs: when the ring is that full,
/// new note-ons and parameter changes are dropped (and counted) so that a note that did start
/// can always be stopped — a dropped note-off would be a note hanging forever.
pub struct RingOut(pub rtrb::Producer<TimedEvent>);

impl RingOut {
    /// Slots only note-offs may use.
    pub const RESERVED: usize = 256;
}

impl EventOut for RingOut {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        let mut dropped = 0;
        for e in events {
            // Notes of `out: "midi"` voices are not the synth's.
            if let Event::NoteOn { sound, .. } = &e.event {
                if !sound.out.to_synth() {
                    continue;
                }
            }
            let room = self.0.slots();
            let fits = match e.event {
                Event::NoteOff { .. } => room > 0,
                _ => room > Self::RESERVED,
            };
            if !fits || self.0.push(*e).is_err() {
                dropped += 1;
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::Sound;

    fn on(key: u8) -> TimedEvent {
        TimedEvent {
            tick: 0,
            frame: 0,
            event: Event::NoteOn {
                track: 0,
                channel: 0,
                key,
                vel: 100,
                sound: Sound::default(),
            },
        }
    }
    fn off(key: u8) -> TimedEvent {
        TimedEvent {
            tick: 1,
            frame: 1,
            event: Event::NoteOff {
                track: 0,
                channel: 0,
                key,
            },
        }
    }
    #[test]
    fn a_full_ring_drops_note_ons_counted_but_keeps_room_for_every_note_off() {
        let (p, mut c) = rtrb::RingBuffer::<TimedEvent>::new(RingOut::RESERVED + 100);
        let mut out = RingOut(p);
        let ons: Vec<TimedEvent> = (0..300).map(|i| on((i % 128) as u8)).collect();
        let dropped = out.send(&ons);
        assert_eq!(dropped, 200, "only the unreserved slots take note-ons");
        let offs: Vec<TimedEvent> = (0..100).map(|i| off((i % 128) as u8)).collect();
        assert_eq!(out.send(&offs), 0, "every note-off of a started note fits");
        let mut n_on = 0;
        let mut n_off = 0;
        while let Ok(e) = c.pop() {
            match e.event {
                Event::NoteOn { .. } => n_on += 1,
                Event::NoteOff { .. } => n_off += 1,
                _ => {}
            }
        }
        assert_eq!((n_on, n_off), (100, 100));
    }

    #[test]
    fn each_output_updates_only_its_own_entry_on_the_board() {
        let board = OutputBoard::default();
        let a = board.register(OutputStatus::new("osc", "127.0.0.1:57120"));
        let b = board.register(OutputStatus::new("midi out", "weft:midi_out"));
        a.update(|s| s.state = OutputState::Waiting("nothing listens".into()));
        b.update(|s| s.sent += 3);
        let snap = board.snapshot();
        assert_eq!(
            snap[0].state,
            OutputState::Waiting("nothing listens".into())
        );
        assert_eq!(snap[0].sent, 0);
        assert_eq!(snap[1].state, OutputState::Active);
        assert_eq!(snap[1].sent, 3);
    }

    #[test]
    fn a_fanout_gives_every_output_the_events_and_adds_up_their_drops() {
        let (p1, mut c1) = rtrb::RingBuffer::<TimedEvent>::new(RingOut::RESERVED + 1);
        let (p2, mut c2) = rtrb::RingBuffer::<TimedEvent>::new(RingOut::RESERVED + 3);
        let mut fan = Fanout(vec![Box::new(RingOut(p1)), Box::new(RingOut(p2))]);
        let ons: Vec<TimedEvent> = (0..3).map(on).collect();
        assert_eq!(
            fan.send(&ons),
            2,
            "the small ring takes one note-on, the big one all three"
        );
        let mut n1 = 0;
        while c1.pop().is_ok() {
            n1 += 1;
        }
        let mut n2 = 0;
        while c2.pop().is_ok() {
            n2 += 1;
        }
        assert_eq!((n1, n2), (1, 3));
    }
}
