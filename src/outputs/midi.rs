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
use std::sync::atomic::{AtomicI64, Ordering as AtOrd};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

mod jack_sink;

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

/// The current frame → instant map, shared by the scheduler thread (which updates it) and
/// the sender (which reads it when it waits). Lock-free: one atomic.
#[derive(Clone)]
pub struct FrameTime {
    base: Instant,
    rate: u32,
    /// Nanoseconds from `base` to the instant of frame 0 (negative: before it); `UNSET`
    /// before the first reading.
    origin_ns: Arc<AtomicI64>,
}

const UNSET: i64 = i64::MIN;

impl FrameTime {
    fn new(rate: u32) -> FrameTime {
        FrameTime {
            base: Instant::now(),
            rate,
            origin_ns: Arc::new(AtomicI64::new(UNSET)),
        }
    }

    fn origin(&self) -> Option<i64> {
        Some(self.origin_ns.load(AtOrd::Acquire)).filter(|o| *o != UNSET)
    }

    /// The instant `frame` is due (now, before the first reading).
    pub fn instant(&self, frame: Frame) -> Instant {
        let Some(o) = self.origin() else {
            return Instant::now();
        };
        let ns = o as i128 + frames_to_duration(frame, self.rate).as_nanos() as i128;
        if ns >= 0 {
            self.base + Duration::from_nanos(ns as u64)
        } else {
            self.base
                .checked_sub(Duration::from_nanos((-ns) as u64))
                .unwrap_or(self.base)
        }
    }
}

/// Audio frames → wall-clock instants (see the module docs).
pub struct FrameMap {
    clock: Box<dyn Clock>,
    time: FrameTime,
}

impl FrameMap {
    pub fn new(clock: Box<dyn Clock>) -> FrameMap {
        let time = FrameTime::new(clock.sample_rate());
        FrameMap { clock, time }
    }

    /// Reads the clock once and updates the origin estimate.
    pub fn observe(&mut self) {
        let now = Instant::now().duration_since(self.time.base).as_nanos() as i64;
        let since = frames_to_duration(self.clock.now(), self.clock.sample_rate()).as_nanos();
        let obs = now - since as i64;
        let next = match self.time.origin() {
            None => obs,
            Some(o) if obs <= o => obs,
            // Rise by 1/1000 of the gap per reading (a few hundred readings a second).
            Some(o) => o + (obs - o) / 1000,
        };
        self.time.origin_ns.store(next, AtOrd::Release);
    }

    /// The instant `frame` is due (now, before the first reading).
    pub fn instant(&self, frame: Frame) -> Instant {
        self.time.instant(frame)
    }

    /// The map as the sender reads it.
    pub fn time(&self) -> FrameTime {
        self.time.clone()
    }
}

fn frames_to_duration(frames: Frame, rate: u32) -> Duration {
    let rate = rate.max(1) as u128;
    Duration::from_nanos((frames as u128 * 1_000_000_000 / rate) as u64)
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
}

impl Encoder {
    fn new() -> Encoder {
        Encoder {
            program: [None; 16],
            track_channel: Vec::new(),
            sounding: vec![0; 16 * 128],
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
    let report = |sent: u64| {
        if let Some(s) = &slot {
            s.update(|s| s.sent = sent);
        }
    };
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
                report(sent.get());
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
        if sent.get() != before {
            report(sent.get());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::Sound;
    use crate::engine::live::ManualClock;
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

    /// A sound with no program (as a drum's): no program change before its notes.
    fn plain() -> Sound {
        Sound {
            program: crate::patch::UNSET_PROGRAM,
            ..Sound::default()
        }
    }
    struct Rec(Log);
    impl MidiSink for Rec {
        fn send(&mut self, b: &[u8], _due: Instant) -> Result<(), String> {
            self.0.lock().unwrap().push((Instant::now(), b.to_vec()));
            Ok(())
        }
    }

    fn out(opts: MidiOptions) -> (MidiOut, Log, ManualClock) {
        let log: Log = Arc::default();
        let clock = ManualClock::new(48_000);
        let o = MidiOut::start(Box::new(Rec(log.clone())), Box::new(clock.clone()), opts).unwrap();
        (o, log, clock)
    }

    fn ev(frame: Frame, event: Event) -> TimedEvent {
        TimedEvent {
            tick: frame,
            frame,
            event,
        }
    }

    #[test]
    fn notes_programs_and_ccs_leave_on_their_channel_in_time_order() {
        let (mut o, log, _c) = out(MidiOptions {
            notes: true,
            clock: false,
        });
        let gm = Sound {
            synth: crate::engine::event::SynthKind::Gm,
            program: 33,
            ..plain()
        };
        let on = |ch, key, sound| Event::NoteOn {
            track: ch as u16,
            channel: ch,
            key,
            vel: 90,
            sound,
        };
        o.send(&[
            ev(
                0,
                Event::Param {
                    track: 1,
                    param: Param::Cutoff,
                    value: 1000.0,
                },
            ),
            ev(480, on(1, 40, gm)),
            ev(960, on(9, 36, plain())),
            ev(
                1440,
                Event::Param {
                    track: 1,
                    param: Param::Cutoff,
                    value: 20_000.0,
                },
            ),
            ev(
                1920,
                Event::NoteOff {
                    track: 1,
                    channel: 1,
                    key: 40,
                },
            ),
            ev(2400, on(1, 41, gm)),
        ]);
        drop(o);
        let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
        let mut want = vec![
            vec![0xC1, 33],
            vec![0x91, 40, 90],
            vec![0x99, 36, 90],
            vec![0xB1, 74, 127],
            vec![0x81, 40, 0],
            vec![0x91, 41, 90],
        ];
        want.extend(panic_messages().iter().map(|m| m.bytes().to_vec()));
        assert_eq!(
            got, want,
            "a CC before the track's first note has no channel yet; the program is sent once"
        );
    }

    #[test]
    fn a_synth_voice_sends_its_gm_match_once_per_channel() {
        let (mut o, log, _c) = out(MidiOptions {
            notes: true,
            clock: false,
        });
        let saw = Sound {
            synth: crate::engine::event::SynthKind::Saw,
            program: crate::patch::gm_program_for(crate::engine::event::SynthKind::Saw).unwrap(),
            ..Sound::default()
        };
        let on = |key| Event::NoteOn {
            track: 0,
            channel: 0,
            key,
            vel: 90,
            sound: saw,
        };
        o.send(&[ev(0, on(60)), ev(10, on(62))]);
        drop(o);
        let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
        assert_eq!(
            &got[..3],
            &[vec![0xC0, 81], vec![0x90, 60, 90], vec![0x90, 62, 90]]
        );
    }

    #[test]
    fn clock_pulses_every_40_ticks_with_start_continue_and_stop() {
        let (mut o, log, _c) = out(MidiOptions {
            notes: false,
            clock: true,
        });
        let f = |t: Tick| t * 10;
        o.transport(true, 0, &f);
        o.transport(true, 200, &f);
        o.transport(true, 400, &f);
        o.transport(false, 400, &f);
        o.transport(true, 960, &f);
        o.transport(true, 1000, &f);
        drop(o);
        let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
        let mut want = vec![vec![0xFA]];
        want.extend((0..10).map(|_| vec![0xF8]));
        want.push(vec![0xFC]);
        want.push(vec![0xF2, 4, 0]);
        want.push(vec![0xFB]);
        want.push(vec![0xF8]);
        want.push(vec![0xFC]);
        want.extend(panic_messages().iter().map(|m| m.bytes().to_vec()));
        assert_eq!(got, want);
    }

    #[test]
    fn synth_only_voices_send_nothing_and_offs_follow_only_sent_ons() {
        use crate::engine::event::Route;
        let (mut o, log, _c) = out(MidiOptions {
            notes: true,
            clock: false,
        });
        let on = |key, out| Event::NoteOn {
            track: 0,
            channel: 0,
            key,
            vel: 100,
            sound: Sound { out, ..plain() },
        };
        let off = |key| Event::NoteOff {
            track: 0,
            channel: 0,
            key,
        };
        o.send(&[
            ev(0, on(60, Route::Synth)),
            ev(1, on(61, Route::Midi)),
            ev(2, on(62, Route::Both)),
            ev(3, off(60)),
            ev(4, off(61)),
            ev(5, off(62)),
            ev(6, off(62)),
        ]);
        drop(o);
        let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
        assert_eq!(
            &got[..4],
            &[
                vec![0x90, 61, 100],
                vec![0x90, 62, 100],
                vec![0x80, 61, 0],
                vec![0x80, 62, 0]
            ]
        );
        assert_eq!(got.len(), 4 + 32, "then only the shutdown panic");
    }

    #[test]
    fn param_ccs_scale_into_0_127() {
        assert_eq!(param_cc(Param::Cc(1), 64.4), Some((1, 64)));
        assert_eq!(param_cc(Param::Cutoff, 20.0), Some((74, 0)));
        assert_eq!(param_cc(Param::Lpf, 20_000.0), Some((74, 127)));
        assert_eq!(param_cc(Param::Pan, -1.0), Some((10, 0)));
        assert_eq!(param_cc(Param::Pan, 0.0), Some((10, 64)));
        assert_eq!(param_cc(Param::Gain, 0.5), Some((7, 64)));
        assert_eq!(param_cc(Param::Resonance, 1.0), Some((71, 127)));
        assert_eq!(param_cc(Param::Release, 2.0), Some((72, 127)));
        assert_eq!(param_cc(Param::Attack, 0.0), Some((73, 0)));
        assert_eq!(param_cc(Param::Room, 0.5), None);
    }

    #[test]
    fn events_wait_for_their_frame_on_the_clock() {
        let (mut o, log, _c) = out(MidiOptions {
            notes: true,
            clock: false,
        });
        let t0 = Instant::now();
        // 4800 frames at 48 kHz = 100 ms after frame 0 (the clock reads 0 now).
        o.send(&[ev(
            4800,
            Event::NoteOn {
                track: 0,
                channel: 0,
                key: 60,
                vel: 100,
                sound: plain(),
            },
        )]);
        for _ in 0..400 {
            if !log.lock().unwrap().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let at = log.lock().unwrap().first().expect("the note was sent").0;
        assert!(
            at.duration_since(t0) >= Duration::from_millis(99),
            "sent after {:?}",
            at.duration_since(t0)
        );
        drop(o);
    }

    #[test]
    fn a_note_on_queued_after_a_note_off_at_the_same_frame_never_overtakes_it() {
        // The cause of tests/midi_out.rs's "note-on over a sounding note" on a loaded
        // machine: the frame → instant map moves between scheduler passes (here the audio
        // clock jumps 50 ms ahead, as a stalled then catching-up device does), so a note-on
        // queued in a later pass mapped to an earlier instant than the note-off of the same
        // key at the same frame queued before it. The sender orders by frame, not instant.
        let (mut o, log, clock) = out(MidiOptions {
            notes: true,
            clock: false,
        });
        let on = |key| Event::NoteOn {
            track: 0,
            channel: 0,
            key,
            vel: 100,
            sound: plain(),
        };
        o.send(&[ev(0, on(60))]);
        o.send(&[ev(
            4800,
            Event::NoteOff {
                track: 0,
                channel: 0,
                key: 60,
            },
        )]);
        clock.advance(2400);
        o.send(&[ev(4800, on(60)), ev(4801, on(61))]);
        while log.lock().unwrap().len() < 4 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let got: Vec<Vec<u8>> = log.lock().unwrap()[..4]
            .iter()
            .map(|x| x.1.clone())
            .collect();
        assert_eq!(
            got,
            vec![
                vec![0x90, 60, 100],
                vec![0x80, 60, 0],
                vec![0x90, 60, 100],
                vec![0x90, 61, 100]
            ]
        );
        drop(o);
    }

    #[test]
    fn at_one_frame_the_order_is_offs_clock_programs_ons_whatever_the_arrival() {
        let (mut o, log, _c) = out(MidiOptions {
            notes: true,
            clock: true,
        });
        let saw = Sound {
            program: 81,
            ..Sound::default()
        };
        let at = 4800;
        // The clock pulse at `at` is queued first (its pass came before the late note).
        o.transport(true, 0, &|t| t * 4800 / 40);
        o.transport(true, 41, &|t| t * 4800 / 40);
        o.send(&[ev(0, on_key(61, plain()))]);
        o.send(&[
            ev(at, on_key(60, saw)),
            ev(
                at,
                Event::NoteOff {
                    track: 0,
                    channel: 0,
                    key: 61,
                },
            ),
        ]);
        drop(o);
        let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
        assert_eq!(
            &got[..6],
            &[
                vec![0xFA],
                vec![0xF8],
                vec![0x90, 61, 100],
                vec![0x80, 61, 0],
                vec![0xF8],
                vec![0xC0, 81],
            ]
        );
        assert_eq!(got[6], vec![0x90, 60, 100]);
    }

    fn on_key(key: u8, sound: Sound) -> Event {
        Event::NoteOn {
            track: 0,
            channel: 0,
            key,
            vel: 100,
            sound,
        }
    }

    #[test]
    fn panic_is_sent_at_once_on_every_channel() {
        let (mut o, log, _c) = out(MidiOptions {
            notes: true,
            clock: false,
        });
        o.panic();
        while log.lock().unwrap().len() < 32 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
        for ch in 0..16u8 {
            assert!(got.contains(&vec![0xB0 | ch, 123, 0]));
            assert!(got.contains(&vec![0xB0 | ch, 120, 0]));
        }
        drop(o);
    }
}
