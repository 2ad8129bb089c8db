//! OSC to SuperDirt: each note-on becomes one `/dirt/play` message, in its own OSC bundle
//! whose NTP time tag is the moment the note should sound — the scheduler works `lookahead`
//! ahead of the clock, so bundles arrive that much early and SuperCollider plays them on time
//! (the way Tidal sends them).
//!
//! Data flow: scheduler thread → [`OscOut::send`] (turns each note-on into a plain
//! [`DirtNote`] with its wall-clock time; never blocks: a full queue drops and counts) →
//! bounded channel → the `weft-osc` sender thread (builds the message with [`dirt_play`],
//! encodes it with `rosc`, sends one UDP datagram per bundle). The audio thread is not
//! involved. Note-offs and parameter changes send nothing: a SuperDirt event carries its
//! own length (`delta` × `legato`), and parameter changes reach the next notes through
//! their `Sound`.
//!
//! Time: the event's audio frame becomes wall-clock time through a [`TimeBase`]; in a
//! session that is [`AudioTimeBase`] (the audio clock anchored to the system clock).
//!
//! Nobody listening is a state, not an error: the socket is connected, so the kernel's
//! "port unreachable" comes back as `ConnectionRefused` on a later send; the output's entry
//! on the [`OutputBoard`] says "waiting" (the screen and the headless log say so once) and
//! it keeps sending, so SuperDirt started later is picked up.
//!
//! The field mapping is the table in `docs/outputs.md` ("OSC to SuperDirt").

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rosc::{OscBundle, OscMessage, OscPacket, OscTime, OscType};

use super::{EventOut, OutputBoard, OutputSlot, OutputState, OutputStatus};
use crate::engine::event::{Event, FilterMode, Frame, Sound, SynthKind, Tick, TimedEvent};
use crate::engine::transport::TPQ as TICKS_PER_QUARTER;
use crate::sound::output::Meters;

/// SuperDirt's default port (`~dirt.start(57120, ...)`).
pub const DEFAULT_TARGET: &str = "127.0.0.1:57120";
/// Notes waiting for the sender thread; more are dropped and counted.
const QUEUE: usize = 4096;
/// Quarter notes per Tidal cycle: one cycle is one 4/4 bar.
pub const BEATS_PER_CYCLE: f64 = 4.0;

#[derive(Debug, thiserror::Error)]
pub enum OscError {
    #[error("--osc-out '{0}': expected HOST:PORT (e.g. {DEFAULT_TARGET})")]
    Address(String),
    #[error("OSC socket for {target}: {source}")]
    Socket {
        target: String,
        source: std::io::Error,
    },
    #[error("could not start the OSC sender thread: {0}")]
    Thread(std::io::Error),
}

/// Turns an event's audio frame into the wall-clock time it sounds.
pub trait TimeBase: Send {
    fn wall_time(&mut self, frame: Frame) -> SystemTime;
}

/// Frame 0 is at a fixed instant and frames pass at the sample rate (tests, renders).
pub struct FixedTimeBase {
    pub origin: SystemTime,
    pub sample_rate: u32,
}

impl TimeBase for FixedTimeBase {
    fn wall_time(&mut self, frame: Frame) -> SystemTime {
        self.origin + Duration::from_secs_f64(frame as f64 / self.sample_rate as f64)
    }
}

/// The audio clock anchored to the system clock. Each call observes
/// `now − frames rendered / rate` (when frame 0 was, as seen now); the audio clock advances
/// a block at a time, so the earliest observation is the tightest and is kept. When
/// [`AudioTimeBase::LATE_CALLS`] observations in a row are later than the anchor by more
/// than [`AudioTimeBase::REANCHOR`] (the audio lost time in a stall, or the two clocks
/// drifted apart), the anchor moves to the earliest of them; a late block that the audio
/// catches up on moves nothing.
pub struct AudioTimeBase {
    meters: Arc<Meters>,
    sample_rate: f64,
    /// Unix seconds of frame 0.
    origin: Option<f64>,
    /// Consecutive late observations and the earliest of them.
    late: (u32, f64),
}

impl AudioTimeBase {
    pub const REANCHOR: f64 = 0.02;
    pub const LATE_CALLS: u32 = 4;
    pub fn new(meters: Arc<Meters>, sample_rate: u32) -> Self {
        AudioTimeBase {
            meters,
            sample_rate: sample_rate as f64,
            origin: None,
            late: (0, f64::INFINITY),
        }
    }

    /// Folds one observation of when frame 0 was into the anchor; returns the anchor.
    fn observe(&mut self, seen: f64) -> f64 {
        let origin = match self.origin {
            None => seen,
            Some(o) if seen - o <= Self::REANCHOR => {
                self.late = (0, f64::INFINITY);
                o.min(seen)
            }
            Some(o) => {
                self.late = (self.late.0 + 1, self.late.1.min(seen));
                if self.late.0 >= Self::LATE_CALLS {
                    let moved = self.late.1;
                    self.late = (0, f64::INFINITY);
                    moved
                } else {
                    o
                }
            }
        };
        self.origin = Some(origin);
        origin
    }
}

impl TimeBase for AudioTimeBase {
    fn wall_time(&mut self, frame: Frame) -> SystemTime {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let seen = now - self.meters.now_frame() as f64 / self.sample_rate;
        let origin = self.observe(seen);
        UNIX_EPOCH + Duration::from_secs_f64((origin + frame as f64 / self.sample_rate).max(0.0))
    }
}

/// One note as SuperDirt gets it: everything [`dirt_play`] needs, `Copy` for the queue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirtNote {
    /// When it sounds (the bundle's time tag).
    pub at: SystemTime,
    pub tick: Tick,
    pub channel: u8,
    pub key: u8,
    pub vel: u8,
    pub sound: Sound,
}

/// SuperDirt's `s` for a weft synth (see the table in `docs/outputs.md`).
pub fn dirt_sound(kind: SynthKind) -> &'static str {
    match kind {
        SynthKind::Sine => "superpiano",
        SynthKind::Saw => "supersaw",
        SynthKind::Square => "supersquare",
        SynthKind::Tri => "superchip",
        SynthKind::Noise => "supernoise",
        SynthKind::Pluck => "superpiano",
        SynthKind::Fm => "superfm",
        SynthKind::Kick => "bd",
        SynthKind::Snare => "sn",
        SynthKind::Hat => "hh",
        SynthKind::Clap => "cp",
        SynthKind::Sample => "weft",
        SynthKind::Gm => "superpiano",
    }
}

/// The `/dirt/play` message for a note: key–value pairs in the order Tidal sends them.
pub fn dirt_play(n: &DirtNote) -> OscMessage {
    let s = &n.sound;
    let beat = s.beat_secs as f64;
    let cps = 1.0 / (BEATS_PER_CYCLE * beat);
    let quarters = |t: u64| t as f64 / TICKS_PER_QUARTER as f64;
    let mut args: Vec<(&str, OscType)> = vec![
        ("_id_", OscType::String("1".into())),
        ("cps", OscType::Float(cps as f32)),
        (
            "cycle",
            OscType::Float((quarters(n.tick) / BEATS_PER_CYCLE) as f32),
        ),
        (
            "delta",
            OscType::Float((quarters(s.dur_ticks as u64) * beat) as f32),
        ),
        ("orbit", OscType::Int(n.channel as i32)),
        ("s", OscType::String(dirt_sound(s.synth).into())),
    ];
    // Samples and drums pick a sample by number; pitched synths play a note (0 = C5 = key 60).
    match s.synth {
        k if k.is_drum() || k == SynthKind::Sample => {
            args.push(("n", OscType::Float(s.sample as f32)))
        }
        _ => args.push(("note", OscType::Float(n.key as f32 - 60.0))),
    }
    // SuperDirt's amplitude is gain⁴: send the fourth root so the level matches weft's.
    args.push(("gain", OscType::Float(s.gain.max(0.0).powf(0.25))));
    args.push(("velocity", OscType::Float(n.vel as f32 / 127.0)));
    args.push(("pan", OscType::Float((s.pan + 1.0) * 0.5)));
    let corner = match s.filter {
        FilterMode::LowPass => "cutoff",
        FilterMode::HighPass => "hcutoff",
        FilterMode::BandPass => "bandf",
    };
    args.push((corner, OscType::Float(s.cutoff)));
    args.push(("resonance", OscType::Float(s.resonance)));
    args.push(("legato", OscType::Float(1.0)));
    args.push(("attack", OscType::Float(s.attack)));
    args.push(("release", OscType::Float(s.release)));
    if s.room > 0.0 {
        args.push(("room", OscType::Float(s.room)));
        args.push(("size", OscType::Float(s.size)));
    }
    if s.delay > 0.0 {
        let time = if s.delay_in_secs {
            s.delaytime
        } else {
            s.delaytime * s.beat_secs
        };
        args.push(("delay", OscType::Float(s.delay)));
        args.push(("delaytime", OscType::Float(time)));
        args.push(("delayfeedback", OscType::Float(s.delayfeedback)));
    }
    if s.crush > 0.0 {
        args.push(("crush", OscType::Float(s.crush)));
    }
    if s.coarse > 1.0 {
        args.push(("coarse", OscType::Float(s.coarse)));
    }
    if s.distort > 0.0 {
        args.push(("distort", OscType::Float(s.distort)));
    }
    OscMessage {
        addr: "/dirt/play".to_string(),
        args: args
            .into_iter()
            .flat_map(|(k, v)| [OscType::String(k.to_string()), v])
            .collect(),
    }
}

/// The encoded bundle for a note: one `/dirt/play` message tagged with the note's time.
pub fn encode_note(n: &DirtNote) -> Vec<u8> {
    let timetag = OscTime::try_from(n.at).unwrap_or(OscTime {
        seconds: 0,
        fractional: 1, // "immediately"
    });
    let packet = OscPacket::Bundle(OscBundle {
        timetag,
        content: vec![OscPacket::Message(dirt_play(n))],
    });
    // Encoding a bundle of strings, floats and ints cannot fail.
    rosc::encoder::encode(&packet).unwrap_or_default()
}

/// Resolves `HOST:PORT`.
pub fn resolve(target: &str) -> Result<SocketAddr, OscError> {
    target
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| OscError::Address(target.to_string()))
}

/// The OSC output (see the module docs). Dropping it stops and joins the sender thread.
pub struct OscOut {
    tx: Option<SyncSender<DirtNote>>,
    time: Box<dyn TimeBase>,
    slot: OutputSlot,
    thread: Option<JoinHandle<()>>,
}

impl OscOut {
    /// Opens a UDP socket towards `target` (HOST:PORT), registers on `board` and starts the
    /// sender thread.
    pub fn start(
        target: &str,
        time: Box<dyn TimeBase>,
        board: &OutputBoard,
    ) -> Result<OscOut, OscError> {
        let addr = resolve(target)?;
        let sock_err = |source| OscError::Socket {
            target: target.to_string(),
            source,
        };
        let local: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local).map_err(sock_err)?;
        socket.connect(addr).map_err(sock_err)?;
        let slot = board.register(OutputStatus::new("osc", &addr.to_string()));
        let (tx, rx) = sync_channel(QUEUE);
        let s2 = slot.clone();
        let thread = std::thread::Builder::new()
            .name("weft-osc".into())
            .spawn(move || sender(socket, addr, rx, s2))
            .map_err(OscError::Thread)?;
        Ok(OscOut {
            tx: Some(tx),
            time,
            slot,
            thread: Some(thread),
        })
    }
}

/// How long sends must succeed after a failure before the peer counts as back: with
/// nobody listening, every other send fails (the first goes out, the kernel's "port
/// unreachable" fails the next), so one success proves nothing.
const RECOVERED_AFTER: Duration = Duration::from_secs(1);

fn sender(socket: UdpSocket, addr: SocketAddr, rx: Receiver<DirtNote>, slot: OutputSlot) {
    let mut last_error: Option<std::time::Instant> = None;
    for note in rx {
        let bytes = encode_note(&note);
        match socket.send(&bytes) {
            Ok(_) => {
                let back = last_error.is_none_or(|t| t.elapsed() >= RECOVERED_AFTER);
                slot.update(|s| {
                    s.sent += 1;
                    if back && s.state != OutputState::Active {
                        s.state = OutputState::Active;
                    }
                });
            }
            Err(e) => {
                last_error = Some(std::time::Instant::now());
                let why = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    format!("nothing listens at {addr} (is SuperDirt running?); still sending")
                } else {
                    format!("{e}; still sending")
                };
                slot.update(|s| {
                    s.dropped += 1;
                    s.state = OutputState::Waiting(why);
                });
            }
        }
    }
}

impl EventOut for OscOut {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        let Some(tx) = &self.tx else {
            return 0;
        };
        let mut dropped = 0;
        for e in events {
            if let Event::NoteOn {
                channel,
                key,
                vel,
                sound,
                ..
            } = e.event
            {
                let note = DirtNote {
                    at: self.time.wall_time(e.frame),
                    tick: e.tick,
                    channel,
                    key,
                    vel,
                    sound,
                };
                if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                    tx.try_send(note)
                {
                    dropped += 1;
                }
            }
        }
        if dropped > 0 {
            self.slot.update(|s| s.dropped += dropped as u64);
        }
        // The OSC queue's drops are the output's own business (shown on the board); the
        // scheduler's `Dropped` report is about the synth ring.
        0
    }
}

impl Drop for OscOut {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(synth: SynthKind) -> DirtNote {
        DirtNote {
            at: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            tick: 3 * TICKS_PER_QUARTER * 4 + 480,
            channel: 2,
            key: 64,
            vel: 127,
            sound: Sound {
                synth,
                beat_secs: 0.5,
                dur_ticks: 480,
                gain: 1.0,
                pan: 0.5,
                sample: 3,
                ..Sound::default()
            },
        }
    }

    fn field<'a>(m: &'a OscMessage, key: &str) -> Option<&'a OscType> {
        m.args
            .chunks(2)
            .find(|kv| kv[0] == OscType::String(key.into()))
            .map(|kv| &kv[1])
    }

    #[test]
    fn a_pitched_note_carries_tidal_time_and_note_relative_to_c5() {
        let m = dirt_play(&note(SynthKind::Saw));
        assert_eq!(m.addr, "/dirt/play");
        assert_eq!(field(&m, "s"), Some(&OscType::String("supersaw".into())));
        assert_eq!(field(&m, "note"), Some(&OscType::Float(4.0)));
        assert_eq!(field(&m, "n"), None);
        // 120 BPM, 4 quarters a cycle: 0.5 cycles per second; bar 4 beat 2 is cycle 3.125.
        assert_eq!(field(&m, "cps"), Some(&OscType::Float(0.5)));
        assert_eq!(field(&m, "cycle"), Some(&OscType::Float(3.125)));
        assert_eq!(field(&m, "delta"), Some(&OscType::Float(0.25)));
        assert_eq!(field(&m, "orbit"), Some(&OscType::Int(2)));
        assert_eq!(field(&m, "pan"), Some(&OscType::Float(0.75)));
        assert_eq!(field(&m, "gain"), Some(&OscType::Float(1.0)));
        assert_eq!(field(&m, "legato"), Some(&OscType::Float(1.0)));
    }

    #[test]
    fn drums_pick_a_sample_by_number_and_filters_name_their_corner() {
        let mut n = note(SynthKind::Snare);
        n.sound.filter = FilterMode::HighPass;
        n.sound.cutoff = 500.0;
        let m = dirt_play(&n);
        assert_eq!(field(&m, "s"), Some(&OscType::String("sn".into())));
        assert_eq!(field(&m, "n"), Some(&OscType::Float(3.0)));
        assert_eq!(field(&m, "note"), None);
        assert_eq!(field(&m, "hcutoff"), Some(&OscType::Float(500.0)));
        assert_eq!(field(&m, "cutoff"), None);
    }

    #[test]
    fn the_anchor_keeps_the_earliest_view_and_moves_only_after_a_lasting_lag() {
        let mut tb = AudioTimeBase::new(Arc::new(Meters::default()), 48_000);
        assert_eq!(tb.observe(100.004), 100.004);
        assert_eq!(tb.observe(100.001), 100.001, "a tighter view is kept");
        assert_eq!(
            tb.observe(100.010),
            100.001,
            "a block's jitter changes nothing"
        );
        // One late block the audio catches up on: no move.
        assert_eq!(tb.observe(100.040), 100.001);
        assert_eq!(tb.observe(100.002), 100.001);
        // The audio lost 35 ms for good: the anchor follows after LATE_CALLS views.
        for _ in 1..AudioTimeBase::LATE_CALLS {
            assert_eq!(tb.observe(100.037), 100.001);
        }
        assert_eq!(tb.observe(100.036), 100.036);
        assert_eq!(tb.observe(100.038), 100.036);
    }

    #[test]
    fn the_bundle_is_tagged_with_the_notes_ntp_time() {
        let n = note(SynthKind::Sine);
        let bytes = encode_note(&n);
        let (_, packet) = rosc::decoder::decode_udp(&bytes).expect("decodes");
        let OscPacket::Bundle(b) = packet else {
            panic!("a bundle")
        };
        // 1_800_000_000 s after 1970 is that plus 70 years (2_208_988_800 s) after 1900.
        assert_eq!(b.timetag.seconds, 1_800_000_000 + 2_208_988_800);
        assert_eq!(b.timetag.fractional, 0);
        assert_eq!(b.content.len(), 1);
    }
}
