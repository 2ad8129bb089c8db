//! Following an incoming MIDI clock (`weft play --sync midi[:PORT]`) as a
//! [`TempoSync`]: the same follower that keeps weft on an Ableton Link session
//! ([`crate::engine::live::sync`]) keeps it on a clock master's tempo and beat.
//!
//! Input: on a JACK server (when one runs) weft's JACK client `weft` gets a MIDI input port
//! `midi_in`, stamped at each message's frame on JACK's µs clock in the process callback;
//! otherwise the ALSA sequencer through midir (a virtual port `weft:midi_in`, or the first
//! port whose name contains PORT), stamped when midir hands the bytes over. Only the
//! real-time bytes and Song Position Pointer are read; the callback allocates nothing and
//! passes them on through an rtrb ring.
//!
//! The estimate ([`ClockEstimator`]): 24 pulses per quarter note; the tick period is the
//! median of the last 24 gaps (one late or early pulse does not move it), a gap of about
//! k periods counts as k pulses (lost pulses do not slip the beat), and three gaps in a row
//! that agree with each other and not with the median are a tempo change (the window
//! restarts from them). Tempo and beat timeline come from a least-squares line through the
//! last 96 pulses (four beats; position → time), and the tempo shown to the engine moves only when the
//! estimate leaves a ±0.1 BPM deadband (or stays over half of it away for four beats), so a
//! steady clock gives a steady tempo. A phase step (a gap that is no whole number of periods,
//! then pulses a period apart again: a master that lost time and skipped pulses) moves the
//! older pulses to the new phase instead of tilting the line (see `check_line`); a pulse late
//! by over half a period is not counted twice (see `count`). Pulses
//! closer than 2 ms (a flood: over 1,250 BPM), estimates outside 20–400 BPM and garbage
//! bytes are ignored. Start (0xFA) puts the next pulse at beat 0 and starts the transport,
//! Continue (0xFB) resumes it at the Song Position Pointer (0xF2) last received, Stop
//! (0xFC) stops it; weft's transport then lines its bar phase up with the master's
//! ([`crate::engine::live::sync::Follower::start_frame`]).

use crate::engine::live::sync::{Cue, TempoSync};
use crate::outputs::OutputState;
use std::collections::VecDeque;
use std::time::Instant;

/// Pulses per quarter note.
const PPQN: f64 = 24.0;
/// Gaps whose median is the period.
const GAPS: usize = 24;
/// Pulses the timeline line is fitted through.
const POINTS: usize = 96;
/// Gaps in a row that make a tempo change.
const CHANGE_RUN: usize = 3;
/// The shown tempo moves when the estimate is further than this from it (BPM).
const DEADBAND: f64 = 0.1;
/// Pulses closer than this (µs) are a flood, not a clock.
const MIN_GAP: f64 = 2_000.0;
/// A gap longer than this (µs; 20 BPM is 125 ms a pulse) means the clock paused: the
/// estimate starts again.
const MAX_GAP: f64 = 300_000.0;
/// A pulse further than this from the fitted line (a share of the period, at least
/// [`OFF_LINE_MIN`] µs) is off the line: an outlier, or the first of a new phase.
const OFF_LINE: f64 = 0.15;
const OFF_LINE_MIN: f64 = 1_000.0;
/// No pulse for this long (µs): the clock is gone (status only).
const SILENT: f64 = 500_000.0;
const MIN_BPM: f64 = 20.0;
const MAX_BPM: f64 = 400.0;

/// A message of the clock protocol.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockMsg {
    Tick,
    Start,
    Continue,
    Stop,
    /// Song Position Pointer: MIDI beats (sixteenth notes) from the top.
    Position(u16),
}

impl ClockMsg {
    /// The clock message in `bytes` (one MIDI message), if it is one; anything else
    /// (notes, sysex, truncated or garbage bytes) is None.
    pub fn parse(bytes: &[u8]) -> Option<ClockMsg> {
        match *bytes {
            [0xF8, ..] => Some(ClockMsg::Tick),
            [0xFA, ..] => Some(ClockMsg::Start),
            [0xFB, ..] => Some(ClockMsg::Continue),
            [0xFC, ..] => Some(ClockMsg::Stop),
            [0xF2, lo, hi, ..] if lo < 0x80 && hi < 0x80 => {
                Some(ClockMsg::Position(lo as u16 | (hi as u16) << 7))
            }
            _ => None,
        }
    }
}

/// Tempo, beat timeline and transport cues from timestamped clock messages (module docs).
#[derive(Debug, Default)]
pub struct ClockEstimator {
    /// Period per gap (µs), and the pulses each gap counted.
    gaps: VecDeque<(f64, i64)>,
    /// (song position in pulses, time in µs) of the last pulses.
    points: VecDeque<(i64, f64)>,
    /// The position of the last pulse, and its time.
    last: Option<(i64, f64)>,
    /// Where the next pulse is, set by Start / Song Position Pointer.
    next_pos: Option<i64>,
    /// Song position (pulses) from the last Song Position Pointer.
    spp: i64,
    /// Least-squares line: time = origin + position × period.
    fit: Option<(f64, f64)>,
    /// The last pulse was off the line by this much (µs): the next one says whether it was
    /// an outlier (kept, at 1/96) or a phase step (the older pulses move to it).
    off_line: Option<f64>,
    /// The last pulse's label was set by Start / Continue, not counted: it is not taken back.
    pinned: bool,
    shown: Option<f64>,
    /// Pulses in a row whose estimate is more than half the deadband from `shown`.
    persist: usize,
    cues: VecDeque<Cue>,
    /// A Start/Continue waiting for the pulse it refers to: the pulse after it is the first
    /// (or the song position's) beat, so the cue is given out only once that pulse has
    /// relabelled the timeline — the follower reads the master's new beat, not the old one.
    pending: Option<Cue>,
    /// Messages not used (floods, garbage times).
    pub ignored: u64,
}

impl ClockEstimator {
    pub fn new() -> ClockEstimator {
        ClockEstimator::default()
    }

    /// Takes one message received at `t` µs (times never go backwards on one source).
    pub fn feed(&mut self, t: f64, m: ClockMsg) {
        if !t.is_finite() {
            self.ignored += 1;
            return;
        }
        match m {
            ClockMsg::Tick => self.tick(t),
            ClockMsg::Start => {
                self.spp = 0;
                self.next_pos = Some(0);
                self.pending = Some(Cue::Start);
            }
            ClockMsg::Continue => {
                self.next_pos = Some(self.spp);
                self.pending = Some(Cue::Continue);
            }
            ClockMsg::Stop => {
                // A Start whose first pulse never came is over before it began.
                self.pending = None;
                self.next_pos = None;
                self.cues.push_back(Cue::Stop);
            }
            ClockMsg::Position(p) => self.spp = p as i64 * 6,
        }
    }

    fn tick(&mut self, t: f64) {
        let pos = match self.last {
            Some((_, lt)) if t - lt < MIN_GAP => {
                self.ignored += 1;
                return;
            }
            Some((_, lt)) if t - lt > MAX_GAP => {
                self.gaps.clear();
                self.points.clear();
                self.fit = None;
                self.last.map_or(0, |l| l.0 + 1)
            }
            // `count` may take a pulse back from the last label: read it afterwards.
            Some((_, lt)) => {
                let k = self.count(t - lt);
                self.last.map_or(0, |l| l.0) + k
            }
            None => 0,
        };
        // Start / Continue relabel the timeline: the next pulse is at `next_pos`.
        let pos = match self.next_pos.take() {
            Some(p) => {
                let shift = p - pos;
                for q in &mut self.points {
                    q.0 += shift;
                }
                self.off_line = None;
                self.pinned = true;
                p
            }
            None => {
                self.check_line(pos, t);
                self.pinned = false;
                pos
            }
        };
        self.last = Some((pos, t));
        if self.points.len() == POINTS {
            self.points.pop_front();
        }
        self.points.push_back((pos, t));
        self.refit();
        if let Some(c) = self.pending.take() {
            self.cues.push_back(c);
        }
    }

    /// Keeps the fitted line honest about pulses off it. A master's pulses can come late
    /// once (a stalled transport) or jump to a new phase and go on from there (a master that
    /// lost time under load and skipped pulses, a relocation): a straight line through both
    /// sides of a jump tilts, and showed a 100 BPM clock as 100.6 BPM for four beats. So a
    /// pulse after a gap that is no whole number of periods is held in doubt until the next
    /// one: if that one follows it by a whole period, off the line by the same amount, the
    /// phase moved, and the older pulses move with it (the tempo is the spacing, which did
    /// not change). Back on the line, the doubtful pulse was an outlier, which the fit
    /// through 96 pulses absorbs (removing it would also remove the first pulse of a tempo
    /// change whose second pulse falls on the old grid: 0, 1.5, 3 periods). Anything else
    /// (the first gaps of a tempo change) is left to the tempo-change rule. Only with a full
    /// window: after a tempo change or a pause the line is new and pulses are not judged
    /// against it.
    fn check_line(&mut self, pos: i64, t: f64) {
        let (Some((origin, period)), Some((lp, lt))) = (self.fit, self.last) else {
            self.off_line = None;
            return;
        };
        if self.points.len() < GAPS {
            self.off_line = None;
            return;
        }
        let r = t - (origin + pos as f64 * period);
        let tol = (OFF_LINE * period).max(OFF_LINE_MIN);
        // How far the gap from the last pulse is from its whole number of periods.
        let gap_off = (t - lt - (pos - lp) as f64 * period).abs();
        match self.off_line.take() {
            // Back on the line: the doubtful pulse was an outlier (or the first of a tempo
            // change whose second pulse fell on the old grid); the line keeps it, at 1/96.
            Some(_) if r.abs() <= tol => {}
            // One period on from the doubtful pulse, off the line with it: a new phase. The
            // pulses before the doubtful one move to it.
            Some(before) if gap_off <= tol / 2.0 => {
                let shift = (r + before) / 2.0;
                let n = self.points.len();
                for q in self.points.iter_mut().take(n - 1) {
                    q.1 += shift;
                }
            }
            Some(_) => {}
            None if gap_off > tol => self.off_line = Some(r),
            None => {}
        }
    }

    /// How many pulses a gap of `gap` µs stands for (and the tempo-change check: then the
    /// step from the last label, which takes back pulses the run's earlier gaps over-counted).
    fn count(&mut self, gap: f64) -> i64 {
        let Some(period) = self.median() else {
            self.push_gap(gap, 1);
            return 1;
        };
        // A short gap after one counted as several pulses, the two together a pulse fewer
        // than counted apart (1.55 + 0.45 periods: 2 + 1, but 2 in all): that pulse was late
        // by over half a period, not a pulse after a lost one. Its gap is counted one pulse
        // shorter and its label comes back by one; this pulse is the one after it. (Clamping
        // this gap to one pulse instead left every later label a pulse ahead: the beat a
        // pulse early for good, and the tempo up to 1.5 % fast while the line crossed it.)
        let k = (gap / period).round().clamp(1.0, 8.0) as i64;
        let joint = |g: &(f64, i64)| ((g.0 * g.1 as f64 + gap) / period).round() as i64;
        if gap / period < 0.75 && !self.pinned {
            if let Some(g) = self
                .gaps
                .back_mut()
                .filter(|g| g.1 >= 2 && g.1 + k > joint(g))
            {
                *g = (g.0 * g.1 as f64 / (g.1 - 1) as f64, g.1 - 1);
                if let Some(q) = self.points.back_mut() {
                    q.0 -= 1;
                }
                if let Some(l) = &mut self.last {
                    l.0 -= 1;
                }
            }
        }
        self.push_gap(gap / k as f64, k);
        // A tempo change: the last gaps agree with each other and not with the median.
        let n = self.gaps.len();
        if n > CHANGE_RUN {
            let run: Vec<f64> = self
                .gaps
                .iter()
                .skip(n - CHANGE_RUN)
                .map(|g| g.0 * g.1 as f64)
                .collect();
            let lo = run.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = run.iter().cloned().fold(0.0, f64::max);
            let mid = (lo + hi) / 2.0;
            let off = (mid - period).abs() / period;
            if hi - lo < 0.1 * mid && off > 0.15 {
                // The run's earlier gaps were counted with the old period (a gap 1.5 or 2
                // times as long as two pulses): the pulses they added that the master never
                // sent come off the labels, or the beat would stay ahead for good.
                let extra: i64 = self
                    .gaps
                    .iter()
                    .skip(n - CHANGE_RUN)
                    .take(CHANGE_RUN - 1)
                    .map(|g| g.1 - 1)
                    .sum();
                // Restart from the run, one pulse per gap; relabel its pulses.
                self.gaps.clear();
                for g in &run {
                    self.gaps.push_back((*g, 1));
                }
                // Keep the run's earlier pulses, renumbered one apart up to the last one
                // (they were counted with the old period).
                let keep = CHANGE_RUN.min(self.points.len());
                let drop = self.points.len() - keep;
                self.points.drain(..drop);
                let lp = self.last.map_or(0, |l| l.0) - extra;
                let m = self.points.len() as i64;
                for (i, q) in self.points.iter_mut().enumerate() {
                    q.0 = lp - (m - 1 - i as i64);
                }
                // The caller adds this to the (uncorrected) last label: one pulse on from `lp`.
                return 1 - extra;
            }
        }
        k
    }

    fn push_gap(&mut self, per_pulse: f64, k: i64) {
        if self.gaps.len() == GAPS {
            self.gaps.pop_front();
        }
        self.gaps.push_back((per_pulse, k));
    }

    /// The median period per pulse of the recent gaps (µs).
    fn median(&self) -> Option<f64> {
        if self.gaps.is_empty() {
            return None;
        }
        let mut v: Vec<f64> = self.gaps.iter().map(|g| g.0).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        Some(v[v.len() / 2])
    }

    fn refit(&mut self) {
        let n = self.points.len();
        if n < 3 {
            self.fit = self.median().and_then(|p| {
                let (pos, t) = self.last?;
                Some((t - pos as f64 * p, p))
            });
        } else {
            let (p0, t0) = self.points[0];
            let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
            for &(p, t) in &self.points {
                let (x, y) = ((p - p0) as f64, t - t0);
                sx += x;
                sy += y;
                sxx += x * x;
                sxy += x * y;
            }
            let nf = n as f64;
            let den = nf * sxx - sx * sx;
            if den <= 0.0 {
                return;
            }
            let slope = (nf * sxy - sx * sy) / den;
            let icpt = (sy - slope * sx) / nf;
            self.fit = Some((t0 + icpt - p0 as f64 * slope, slope));
        }
        if let Some(bpm) = self.raw_bpm() {
            let off = self.shown.map_or(f64::INFINITY, |s| (bpm - s).abs());
            // Inside the deadband a difference of over half of it that lasts four beats
            // moves the tempo too (the first estimate after a change is the roughest).
            self.persist = if off > DEADBAND / 2.0 {
                self.persist + 1
            } else {
                0
            };
            if off > DEADBAND || self.persist >= POINTS {
                self.shown = Some((bpm * 100.0).round() / 100.0);
                self.persist = 0;
            }
        }
    }

    /// The fitted tempo, if within 20–400 BPM.
    fn raw_bpm(&self) -> Option<f64> {
        let (_, period) = self.fit?;
        let bpm = 60e6 / (period * PPQN);
        (bpm.is_finite() && (MIN_BPM..=MAX_BPM).contains(&bpm)).then_some(bpm)
    }

    /// The tempo to follow (steady inside the deadband), or None before a clock is read.
    pub fn tempo(&self) -> Option<f64> {
        self.raw_bpm().and(self.shown)
    }

    /// The master's beat (quarter notes from its song position 0) at `t` µs.
    pub fn beat_at(&self, t: f64) -> Option<f64> {
        self.raw_bpm()?;
        let (origin, period) = self.fit?;
        Some((t - origin) / period / PPQN)
    }

    /// When the master reaches `beat`.
    pub fn time_at_beat(&self, beat: f64) -> Option<f64> {
        self.raw_bpm()?;
        let (origin, period) = self.fit?;
        Some(origin + beat * PPQN * period)
    }

    /// Whether a pulse arrived within the last half second before `now`.
    pub fn live(&self, now: f64) -> bool {
        self.last.is_some_and(|(_, t)| now - t < SILENT)
    }

    pub fn take_cue(&mut self) -> Option<Cue> {
        self.cues.pop_front()
    }
}

/// Slots in the ring from the input callback (a second of pulses at 400 BPM, many times).
const RING: usize = 4096;

/// Where the clock comes from.
enum Input {
    Jack(jack::AsyncClient<(), JackIn>),
    /// Held open for its callback.
    Midir {
        _conn: midir::MidiInputConnection<()>,
    },
}

struct JackIn {
    port: jack::Port<jack::MidiIn>,
    tx: rtrb::Producer<(u64, ClockMsg)>,
}

impl jack::ProcessHandler for JackIn {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let n = ps.n_frames().max(1) as u64;
        let Ok(ct) = ps.cycle_times() else {
            return jack::Control::Continue;
        };
        let span = match ct.next_usecs.saturating_sub(ct.current_usecs) {
            0 => ct.period_usecs as u64,
            s => s,
        };
        for m in self.port.iter(ps) {
            if let Some(c) = ClockMsg::parse(m.bytes) {
                let t = ct.current_usecs + m.time as u64 * span / n;
                let _ = self.tx.push((t, c));
            }
        }
        jack::Control::Continue
    }
}

/// An incoming MIDI clock as a [`TempoSync`] (module docs).
pub struct MidiClockSync {
    input: Input,
    rx: rtrb::Consumer<(u64, ClockMsg)>,
    est: ClockEstimator,
    /// midir stamps: µs since this instant.
    base: Instant,
}

/// Why no clock input could be opened.
#[derive(Debug, thiserror::Error)]
pub enum ClockInError {
    #[error("--sync midi: no MIDI input ({0}); playing at the patch tempo")]
    NoSource(String),
    #[error("--sync midi: could not open the MIDI input: {0}")]
    Open(String),
}

impl MidiClockSync {
    /// Opens the clock input: JACK when a server runs (port `weft:midi_in`, connected from
    /// the first MIDI output whose name contains `port`), else the ALSA sequencer. Returns
    /// the sync and a sentence saying what it did.
    pub fn open(port: Option<&str>) -> Result<(MidiClockSync, String), ClockInError> {
        let (tx, rx) = rtrb::RingBuffer::new(RING);
        let base = Instant::now();
        let (input, said) = match open_jack(port, tx) {
            Ok(x) => x,
            Err((jack, Some(tx))) => open_midir(port, tx, base).map_err(|alsa| {
                ClockInError::NoSource(format!("no JACK server: {jack}; ALSA sequencer: {alsa}"))
            })?,
            Err((e, None)) => return Err(ClockInError::Open(e)),
        };
        let sync = MidiClockSync {
            input,
            rx,
            est: ClockEstimator::new(),
            base,
        };
        Ok((sync, said))
    }

    fn now(&self) -> u64 {
        match &self.input {
            Input::Jack(c) => c.as_client().time(),
            Input::Midir { .. } => self.base.elapsed().as_micros() as u64,
        }
    }
}

/// An opened input and the sentence saying what was done.
type JackOpened = (Input, String);
/// The ring's writing end, into the callback.
type Feed = rtrb::Producer<(u64, ClockMsg)>;
/// Why JACK was not used: the reason, and the ring back when there is no server (for the
/// ALSA sequencer) or None when a server runs but failed.
type JackFailed = (String, Option<Feed>);

fn open_jack(port: Option<&str>, tx: Feed) -> Result<JackOpened, JackFailed> {
    jack::set_logger(jack::LoggerType::None);
    let client = match jack::Client::new("weft", jack::ClientOptions::NO_START_SERVER) {
        Ok((c, _)) => c,
        Err(e) => return Err((e.to_string(), Some(tx))),
    };
    let fail = |e: jack::Error| (e.to_string(), None);
    let p = client
        .register_port("midi_in", jack::MidiIn::default())
        .map_err(fail)?;
    let own = p.name().map_err(fail)?;
    let source = port.and_then(|want| {
        let want = want.to_lowercase();
        client
            .ports(None, Some("midi"), jack::PortFlags::IS_OUTPUT)
            .into_iter()
            .find(|n| n.to_lowercase().contains(&want))
    });
    let client = client
        .activate_async((), JackIn { port: p, tx })
        .map_err(fail)?;
    let said = match (&source, port) {
        (Some(s), _) => {
            client
                .as_client()
                .connect_ports_by_name(s, &own)
                .map_err(fail)?;
            format!("sync: following the MIDI clock from {s} (into {own})")
        }
        (None, Some(want)) => {
            format!("sync: no MIDI output matches '{want}'; connect your clock source to {own}")
        }
        (None, None) => format!("sync: connect your MIDI clock source to {own}"),
    };
    Ok((Input::Jack(client), said))
}

fn open_midir(port: Option<&str>, mut tx: Feed, base: Instant) -> Result<JackOpened, String> {
    let mut input = midir::MidiInput::new("weft").map_err(|e| e.to_string())?;
    // Clock and real-time messages are what this input is for.
    input.ignore(midir::Ignore::Sysex);
    let handler = move |_stamp: u64, bytes: &[u8], _: &mut ()| {
        if let Some(c) = ClockMsg::parse(bytes) {
            let _ = tx.push((base.elapsed().as_micros() as u64, c));
        }
    };
    let found = port.and_then(|want| {
        let want = want.to_lowercase();
        input.ports().into_iter().find_map(|p| {
            let n = input.port_name(&p).ok()?;
            n.to_lowercase().contains(&want).then_some((p, n))
        })
    });
    match found {
        Some((p, n)) => {
            let c = input
                .connect(&p, "midi_in", handler, ())
                .map_err(|e| e.to_string())?;
            Ok((
                Input::Midir { _conn: c },
                format!("sync: following the MIDI clock from {n}"),
            ))
        }
        None => {
            let c = virtual_in(input, handler)?;
            Ok((
                Input::Midir { _conn: c },
                "sync: connect your MIDI clock source to weft:midi_in".into(),
            ))
        }
    }
}

#[cfg(unix)]
fn virtual_in(
    input: midir::MidiInput,
    handler: impl FnMut(u64, &[u8], &mut ()) + Send + 'static,
) -> Result<midir::MidiInputConnection<()>, String> {
    use midir::os::unix::VirtualInput;
    input
        .create_virtual("midi_in", handler, ())
        .map_err(|e| e.to_string())
}

#[cfg(not(unix))]
fn virtual_in(
    _input: midir::MidiInput,
    _handler: impl FnMut(u64, &[u8], &mut ()) + Send + 'static,
) -> Result<midir::MidiInputConnection<()>, String> {
    Err("virtual ports are not supported on this system".into())
}

impl TempoSync for MidiClockSync {
    fn refresh(&mut self) {
        while let Ok((t, m)) = self.rx.pop() {
            self.est.feed(t as f64, m);
        }
    }
    fn now_micros(&self) -> i64 {
        self.now() as i64
    }
    fn tempo(&self) -> f64 {
        self.est.tempo().unwrap_or(f64::NAN)
    }
    fn beat_at(&self, micros: i64, _quantum: f64) -> f64 {
        self.est.beat_at(micros as f64).unwrap_or(f64::NAN)
    }
    fn micros_at_beat(&self, beat: f64, _quantum: f64) -> i64 {
        self.est
            .time_at_beat(beat)
            .map_or(i64::MIN, |t| t.round() as i64)
    }
    /// A clock master owns the tempo: weft cannot propose one.
    fn propose_tempo(&mut self, _bpm: f64, _micros: i64) {}
    fn peers(&self) -> usize {
        usize::from(self.est.live(self.now() as f64))
    }
    fn take_cue(&mut self) -> Option<Cue> {
        self.est.take_cue()
    }
    fn describe(&self) -> (String, OutputState) {
        match self.est.tempo() {
            Some(bpm) if self.peers() > 0 => (format!("{bpm:.1} BPM"), OutputState::Active),
            _ => (
                "MIDI clock".into(),
                OutputState::Waiting("no clock yet".into()),
            ),
        }
    }
}

#[cfg(test)]
#[path = "clock_in_tests.rs"]
mod tests;
