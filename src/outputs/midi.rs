//! MIDI out and MIDI clock: events leave as MIDI bytes at their scheduled time.
//!
//! ```text
//! scheduler thread                          midi sender thread ("weft-midi")
//!  MidiOut::send(events)                     heap of (frame, seq, bytes): schedule order
//!   (frame, bytes) ──────────mpsc──────▶     deadline of the head = FrameTime(frame), now
//!  MidiOut::transport(..) → clock bytes       wait until `lead` before it (ALSA/midir: 0,
//!  FrameMap::observe → FrameTime (shared)     sleep then spin; JACK: ahead, the JACK process
//!  MidiOut::panic() → Panic (sent at once)    callback places it at its frame); sink.send
//!                                            Shutdown: everything left at once, then panic
//! ```
//!
//! Messages are ordered by their **audio frame** (then by kind, see `rank`, then by
//! arrival), never by a wall-clock
//! instant computed when they were queued: the frame → instant map moves while the music
//! plays, and ordering by instants once let a note-on queued after a note-off of the same
//! key at the same frame overtake it (and clock pulses overtake notes). Events carry audio
//! frames; [`FrameMap`] turns them into wall-clock instants through the same clock the
//! scheduler uses (the audio device's frame counter, read on the scheduler thread): it keeps
//! the lower envelope of `Instant::now() - frames/rate` (the device counter moves in blocks,
//! so the earliest reading is the truest), rising slowly to follow drift between the audio
//! clock and the system clock. The sender reads that map ([`FrameTime`]) when it waits.
//!
//! Two sinks: on a JACK server (always, when one runs) weft's own JACK client `weft` with a
//! MIDI port `midi_out`, written in its process callback at each message's frame inside the
//! period ([`JackSink`], from an rtrb ring); otherwise midir (ALSA sequencer), which has no
//! timestamps, so the sender waits to each message's time itself.
//!
//! What is sent (channel from the event, 0..=15 on the wire):
//! - note-on / note-off (velocity from the note) of voices whose `out` is not `"synth"` (a
//!   note-off only for a note-on sent); a program change before a voice's first note on a
//!   channel and whenever its program changes there (its `program`, else its synth's GM
//!   match, `patch::spec::gm_program_for`; none for drums and samples);
//! - `param` changes as CCs on the channel the track last played on: cutoff/lpf/hpf/bpf → 74
//!   (log scale 20 Hz..20 kHz), resonance → 71, gain → 7 (0..1 → 0..127), pan → 10, release →
//!   72, attack → 73 (0..2 s → 0..127); `cc("voice", n, value)` → CC n as is; other
//!   parameters have no CC and are not sent;
//! - with `--midi-clock`: 24 clock pulses per quarter note (every 40 ticks) at their frames,
//!   Start (0xFA) from the top, Song Position Pointer + Continue (0xFB) when resuming, Stop
//!   (0xFC) at the tick the transport stopped;
//! - panic: all-notes-off (CC 123) and all-sound-off (CC 120) on all 16 channels, at once;
//!   also at shutdown, after the last note-offs.

use crate::engine::event::{Event, Frame, Param, Tick, TimedEvent};
use crate::engine::live::Clock;
use crate::outputs::{EventOut, OutputSlot};
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

pub mod clock_in;
mod jack_sink;
mod time;
pub use time::{FrameMap, FrameTime};

/// Ticks per quarter note (the engine's resolution).
const PPQ: Tick = 960;
/// Ticks between two MIDI clock pulses (24 per quarter).
pub const CLOCK_TICKS: Tick = PPQ / 24;
/// The sender sleeps until this long before a deadline, then spins.
const SPIN: Duration = Duration::from_micros(300);

#[derive(Debug, Error)]
pub enum MidiError {
    #[error("MIDI out: no MIDI system ({0}); is a JACK server running?")]
    NoSystem(String),
    #[error("MIDI out: could not open port '{port}': {why}")]
    Open { port: String, why: String },
    #[error("MIDI out: starting the sender thread: {0}")]
    Thread(std::io::Error),
}

/// Where the sender writes bytes: JACK MIDI, a midir connection, or a recorder in tests and
/// benches. The sender hands over messages in schedule order, `lead()` before they are due.
pub trait MidiSink: Send {
    /// Sends `bytes`, due at `due` (in the past for messages sent at once: the panic).
    fn send(&mut self, bytes: &[u8], due: Instant) -> Result<(), String>;
    /// How long before its due time the sink wants a message: zero for a sink that sends
    /// at once (the sender waits to the time), more for one that places messages itself.
    fn lead(&self) -> Duration {
        Duration::ZERO
    }
    /// Called once before the sink is dropped, after the last message.
    fn drain(&mut self) {}
    /// Messages accepted but then lost inside the sink (JACK: the port buffer refused them).
    fn lost(&self) -> u64 {
        0
    }
    /// Cycles the server reported missed while the sink was open (JACK xruns): messages in
    /// them may not have reached the receiver. Zero for sinks without cycles.
    fn xruns(&self) -> u64 {
        0
    }
}

/// A midir output connection (ALSA sequencer) as a sink: sends at once.
pub struct MidirSink(pub midir::MidiOutputConnection);

impl MidiSink for MidirSink {
    fn send(&mut self, bytes: &[u8], _due: Instant) -> Result<(), String> {
        self.0.send(bytes).map_err(|e| e.to_string())
    }
}

/// Opens `name` on JACK when a server runs, else on the ALSA sequencer (midir): the first
/// port whose name contains it (case-insensitive), or a new port `weft:midi_out` when `name`
/// is `weft` or no port matches. Returns the sink and a sentence saying which it did.
pub fn open(name: &str) -> Result<(Box<dyn MidiSink>, String), MidiError> {
    match jack_sink::JackSink::open(name) {
        Ok((s, said)) => Ok((Box::new(s), said)),
        Err(jack_sink::JackOpen::NoServer(jack)) => {
            let (s, said) = open_midir(name).map_err(|e| match e {
                MidiError::NoSystem(alsa) => {
                    MidiError::NoSystem(format!("no JACK server: {jack}; ALSA sequencer: {alsa}"))
                }
                e => e,
            })?;
            Ok((Box::new(s), said))
        }
        Err(jack_sink::JackOpen::Port(e)) => Err(e),
    }
}

pub use jack_sink::JackSink;

/// The ALSA-sequencer path (midir).
fn open_midir(name: &str) -> Result<(MidirSink, String), MidiError> {
    let out = midir::MidiOutput::new("weft").map_err(|e| MidiError::NoSystem(e.to_string()))?;
    let wanted = name.to_lowercase();
    let found = if wanted == "weft" {
        None
    } else {
        out.ports().into_iter().find_map(|p| {
            let n = out.port_name(&p).ok()?;
            n.to_lowercase().contains(&wanted).then_some((p, n))
        })
    };
    match found {
        Some((p, n)) => {
            let conn = out.connect(&p, "midi_out").map_err(|e| MidiError::Open {
                port: n.clone(),
                why: e.to_string(),
            })?;
            Ok((MidirSink(conn), format!("MIDI out: connected to {n}")))
        }
        None => {
            let conn = virtual_port(out).map_err(|why| MidiError::Open {
                port: "weft:midi_out".into(),
                why,
            })?;
            let why = if wanted == "weft" {
                String::new()
            } else {
                format!(" (no port matches '{name}')")
            };
            Ok((
                MidirSink(conn),
                format!("MIDI out: created port weft:midi_out{why}; connect it to your synth"),
            ))
        }
    }
}

#[cfg(unix)]
fn virtual_port(out: midir::MidiOutput) -> Result<midir::MidiOutputConnection, String> {
    use midir::os::unix::VirtualOutput;
    out.create_virtual("midi_out").map_err(|e| e.to_string())
}

#[cfg(not(unix))]
fn virtual_port(_out: midir::MidiOutput) -> Result<midir::MidiOutputConnection, String> {
    Err("virtual ports are not supported on this system".into())
}

/// A short MIDI message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg {
    len: u8,
    bytes: [u8; 3],
}

impl Msg {
    pub fn new(bytes: &[u8]) -> Msg {
        let mut b = [0; 3];
        b[..bytes.len()].copy_from_slice(bytes);
        Msg {
            len: bytes.len() as u8,
            bytes: b,
        }
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

enum ToSender {
    /// One scheduler pass's messages (notes, then the clock pulses of the same span): they
    /// reach the heap together, so the sender orders them even when they are already due
    /// (a scheduler thread preempted between its notes and its pulses once let a note-on
    /// leave before the clock pulse at its frame).
    Batch(Vec<(Frame, Msg)>),
    Panic,
    /// Send what is queued at once, then this (a clock Stop), then the panic messages.
    Shutdown(Option<Msg>),
}

/// The CC a parameter is sent as, and its value 0..=127.
pub fn param_cc(param: Param, value: f32) -> Option<(u8, u8)> {
    let unit = |x: f32| (x.clamp(0.0, 1.0) * 127.0).round() as u8;
    Some(match param {
        Param::Cutoff | Param::Lpf | Param::Hpf | Param::Bpf => {
            let v = (value.clamp(20.0, 20_000.0) / 20.0).ln() / 1000f32.ln();
            (74, unit(v))
        }
        Param::Resonance => (71, unit(value)),
        Param::Gain => (7, unit(value)),
        Param::Pan => (10, unit((value + 1.0) / 2.0)),
        Param::Release => (72, unit(value / 2.0)),
        Param::Attack => (73, unit(value / 2.0)),
        Param::Cc(n) => (n & 127, value.clamp(0.0, 127.0).round() as u8),
        _ => return None,
    })
}

/// The MIDI messages of one event, given what has been sent on each channel so far.
struct Encoder {
    /// The program last sent on each channel.
    program: [Option<u8>; 16],
    /// The channel each track last played on (for its CCs).
    track_channel: Vec<Option<u8>>,
    /// Note-ons sent and not yet ended, per (channel, key): only those get note-offs (a voice
    /// with `out: "synth"` sends neither).
    sounding: Vec<u8>,
    /// The value last sent per (channel, controller) by a `param` (255: none yet). A control
    /// stream sends a point per audio block, ~190 a second; most repeat the same 7-bit value,
    /// and a DIN port carries only ~1,000 messages a second, so repeats are not sent again.
    /// `cc(n, v)` from a patch is always sent (gear may use a CC as a trigger).
    last_cc: Vec<u8>,
}

impl Encoder {
    fn new() -> Encoder {
        Encoder {
            program: [None; 16],
            track_channel: Vec::new(),
            sounding: vec![0; 16 * 128],
            last_cc: vec![255; 16 * 128],
        }
    }

    fn encode(&mut self, e: &Event, out: &mut Vec<Msg>) {
        match *e {
            Event::NoteOn {
                track,
                channel,
                key,
                vel,
                sound,
            } => {
                if !sound.out.to_midi() {
                    return;
                }
                let ch = channel & 15;
                let t = track as usize;
                if self.track_channel.len() <= t {
                    self.track_channel.resize(t + 1, None);
                }
                self.track_channel[t] = Some(ch);
                // Every voice with a program (its `program`, or its synth's GM match; drums
                // and samples have none), the same as the MIDI file.
                if sound.program <= 127 && self.program[ch as usize] != Some(sound.program) {
                    self.program[ch as usize] = Some(sound.program);
                    out.push(Msg::new(&[0xC0 | ch, sound.program & 127]));
                }
                let n = &mut self.sounding[ch as usize * 128 + (key & 127) as usize];
                *n = n.saturating_add(1);
                out.push(Msg::new(&[0x90 | ch, key & 127, vel.clamp(1, 127)]));
            }
            Event::NoteOff { channel, key, .. } => {
                let n = &mut self.sounding[(channel & 15) as usize * 128 + (key & 127) as usize];
                if *n > 0 {
                    *n -= 1;
                    out.push(Msg::new(&[0x80 | (channel & 15), key & 127, 0]));
                }
            }
            Event::Param {
                track,
                param,
                value,
            } => {
                let ch = self.track_channel.get(track as usize).copied().flatten();
                if let (Some(ch), Some((cc, v))) = (ch, param_cc(param, value)) {
                    if !matches!(param, Param::Cc(_)) {
                        let last =
                            &mut self.last_cc[(ch & 15) as usize * 128 + (cc & 127) as usize];
                        if *last == v {
                            return;
                        }
                        *last = v;
                    }
                    out.push(Msg::new(&[0xB0 | ch, cc, v]));
                }
            }
        }
    }
}

/// What the output sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MidiOptions {
    /// Notes, programs and CCs.
    pub notes: bool,
    /// 24 ppqn clock, start/stop/continue, song position.
    pub clock: bool,
}

/// The MIDI output (see the module docs).
pub struct MidiOut {
    opts: MidiOptions,
    map: FrameMap,
    enc: Encoder,
    tx: Sender<ToSender>,
    thread: Option<JoinHandle<()>>,
    scratch: Vec<Msg>,
    /// This pass's messages, handed over as one batch by `transport` (or at once without
    /// clock).
    pending: Vec<(Frame, Msg)>,
    /// Clock: where the next pulse is (None while stopped).
    next_pulse: Option<Tick>,
}

impl MidiOut {
    /// Starts the sender thread writing to `sink`; frames are read against `clock`.
    pub fn start(
        sink: Box<dyn MidiSink>,
        clock: Box<dyn Clock>,
        opts: MidiOptions,
    ) -> Result<MidiOut, MidiError> {
        Self::start_reporting(sink, clock, opts, None)
    }

    /// [`MidiOut::start`], counting what it sends (and whether the sink fails) on `slot`.
    pub fn start_reporting(
        sink: Box<dyn MidiSink>,
        clock: Box<dyn Clock>,
        opts: MidiOptions,
        slot: Option<OutputSlot>,
    ) -> Result<MidiOut, MidiError> {
        let (tx, rx) = mpsc::channel();
        let mut map = FrameMap::new(clock);
        map.observe();
        let time = map.time();
        let thread = std::thread::Builder::new()
            .name("weft-midi".into())
            .spawn(move || sender(sink, rx, time, slot))
            .map_err(MidiError::Thread)?;
        Ok(MidiOut {
            opts,
            map,
            enc: Encoder::new(),
            tx,
            thread: Some(thread),
            scratch: Vec::new(),
            pending: Vec::new(),
            next_pulse: None,
        })
    }

    fn at(&mut self, frame: Frame, m: Msg) {
        self.pending.push((frame, m));
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let batch = std::mem::take(&mut self.pending);
            let _ = self.tx.send(ToSender::Batch(batch));
        }
    }
}

impl EventOut for MidiOut {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        self.map.observe();
        if !self.opts.notes {
            return 0;
        }
        // Leftovers of a pass without a transport call go first.
        self.flush();
        for e in events {
            self.scratch.clear();
            let mut msgs = std::mem::take(&mut self.scratch);
            self.enc.encode(&e.event, &mut msgs);
            for m in &msgs {
                self.at(e.frame, *m);
            }
            self.scratch = msgs;
        }
        if !self.opts.clock {
            self.flush();
        }
        0
    }

    fn transport(&mut self, playing: bool, emitted_to: Tick, frame_of: &dyn Fn(Tick) -> Frame) {
        if !self.opts.clock {
            self.flush();
            return;
        }
        self.map.observe();
        match (self.next_pulse, playing) {
            (None, true) => {
                // Starting: from the top, or resuming where the transport stopped.
                let resume = emitted_to;
                if resume == 0 {
                    self.at(frame_of(0), Msg::new(&[0xFA]));
                } else {
                    // Song position in sixteenths (240 ticks), 14 bits.
                    let spp = ((resume / (PPQ / 4)) & 0x3fff) as u16;
                    self.at(
                        frame_of(resume),
                        Msg::new(&[0xF2, (spp & 127) as u8, (spp >> 7) as u8]),
                    );
                    self.at(frame_of(resume), Msg::new(&[0xFB]));
                }
                self.next_pulse = Some(resume.div_ceil(CLOCK_TICKS) * CLOCK_TICKS);
                self.transport(true, emitted_to, frame_of);
            }
            (Some(mut next), true) => {
                while next < emitted_to {
                    self.at(frame_of(next), Msg::new(&[0xF8]));
                    next += CLOCK_TICKS;
                }
                self.next_pulse = Some(next);
            }
            (Some(_), false) => {
                self.at(frame_of(emitted_to), Msg::new(&[0xFC]));
                self.next_pulse = None;
            }
            (None, false) => {}
        }
        self.flush();
    }

    fn panic(&mut self) {
        self.flush();
        let _ = self.tx.send(ToSender::Panic);
    }
}

impl Drop for MidiOut {
    fn drop(&mut self) {
        let stop = (self.opts.clock && self.next_pulse.is_some()).then(|| Msg::new(&[0xFC]));
        self.flush();
        let _ = self.tx.send(ToSender::Shutdown(stop));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The panic messages: all notes off and all sound off on every channel.
pub fn panic_messages() -> Vec<Msg> {
    (0..16u8)
        .flat_map(|ch| {
            [
                Msg::new(&[0xB0 | ch, 123, 0]),
                Msg::new(&[0xB0 | ch, 120, 0]),
            ]
        })
        .collect()
}

/// A queued message: its frame (the schedule's order), its [`rank`] at that frame, its
/// arrival number, the bytes.
#[derive(PartialEq, Eq)]
struct Due(Frame, u8, u64, Msg);

/// The order of messages due at the same frame, whatever order they were queued in (a note
/// planned late arrives after the clock pulse at its frame): note-offs first (a note-on of
/// the same key at that frame must not be cut), then clock and transport bytes, then program
/// changes and CCs (they apply to the notes at that frame), then note-ons.
fn rank(m: &Msg) -> u8 {
    match m.bytes()[0] {
        0x80..=0x8F => 0,
        0xF0..=0xFF => 1,
        0xB0..=0xCF => 2,
        _ => 3,
    }
}

impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // Earliest first (BinaryHeap is a max-heap), then by rank, then in arrival order.
        (o.0, o.1, o.2).cmp(&(self.0, self.1, self.2))
    }
}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialOrd for Msg {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Msg {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.len, self.bytes).cmp(&(o.len, o.bytes))
    }
}

/// Makes this thread's sleeps precise (timer slack 1 µs) and, when permitted, real-time.
fn tune_sender_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread with valid arguments.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
        let p = libc::sched_param { sched_priority: 40 };
        let _ = libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &p);
    }
}

fn sender(
    mut sink: Box<dyn MidiSink>,
    rx: Receiver<ToSender>,
    time: FrameTime,
    slot: Option<OutputSlot>,
) {
    tune_sender_thread();
    let lead = sink.lead();
    let mut heap: BinaryHeap<Due> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut failed = false;
    let sent = std::cell::Cell::new(0u64);
    let mut put = |sink: &mut Box<dyn MidiSink>, m: &Msg, due: Instant| {
        // A sink that fails once (the server went away) is not retried message by message.
        if failed {
            return;
        }
        match sink.send(m.bytes(), due) {
            Ok(()) => sent.set(sent.get() + 1),
            Err(why) => {
                failed = true;
                if let Some(s) = &slot {
                    s.update(|s| s.state = crate::outputs::OutputState::Failed(why));
                }
            }
        }
    };
    let report = |sent: u64, sink: &dyn MidiSink| {
        if let Some(s) = &slot {
            s.update(|s| {
                s.sent = sent;
                s.dropped = sink.lost();
                s.xruns = sink.xruns();
            });
        }
    };
    let mut xruns_said = 0;
    // When the head may go to the sink.
    let due = |d: &Due| time.instant(d.0);
    let release = |d: &Due| due(d).checked_sub(lead).unwrap_or_else(Instant::now);
    // None: a timed message was queued; Some(None): panic; Some(Some(last)): shut down.
    let mut take = |m: ToSender, heap: &mut BinaryHeap<Due>| -> Option<Option<Option<Msg>>> {
        match m {
            ToSender::Batch(v) => {
                for (t, msg) in v {
                    seq += 1;
                    heap.push(Due(t, rank(&msg), seq, msg));
                }
                None
            }
            ToSender::Panic => Some(None),
            ToSender::Shutdown(last) => Some(Some(last)),
        }
    };
    loop {
        let wait = heap
            .peek()
            .map(|d| release(d).saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(100));
        let mut control = None;
        if wait > SPIN {
            match rx.recv_timeout(wait - SPIN) {
                Ok(m) => control = take(m, &mut heap),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => control = Some(Some(None)),
            }
        }
        while control.is_none() {
            match rx.try_recv() {
                Ok(m) => control = take(m, &mut heap),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => control = Some(Some(None)),
            }
        }
        match control {
            Some(Some(last)) => {
                // Shutdown: what is left (the last note-offs) at once, then silence.
                let now = Instant::now();
                while let Some(Due(_, _, _, m)) = heap.pop() {
                    put(&mut sink, &m, now);
                }
                if let Some(m) = last {
                    put(&mut sink, &m, now);
                }
                for m in panic_messages() {
                    put(&mut sink, &m, now);
                }
                sink.drain();
                report(sent.get(), sink.as_ref());
                return;
            }
            Some(None) => {
                let now = Instant::now();
                for m in panic_messages() {
                    put(&mut sink, &m, now);
                }
            }
            None => {}
        }
        // Spin to the head's deadline when it is close, then send everything due.
        if let Some(d) = heap.peek() {
            let t = release(d);
            if lead.is_zero() && t.saturating_duration_since(Instant::now()) <= SPIN {
                while Instant::now() < t {
                    std::hint::spin_loop();
                }
            }
        }
        let now = Instant::now();
        let before = sent.get();
        while heap.peek().is_some_and(|d| release(d) <= now) {
            if let Some(d) = heap.pop() {
                put(&mut sink, &d.3, due(&d));
            }
        }
        if sent.get() != before || sink.xruns() != xruns_said {
            xruns_said = sink.xruns();
            report(sent.get(), sink.as_ref());
        }
    }
}

#[cfg(test)]
mod tests;
