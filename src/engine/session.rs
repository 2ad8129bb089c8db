//! The play session as one value: everything `weft play` starts, in the order it starts it,
//! and everything it stops, in the order it must stop.
//!
//! ```text
//! Session::start(cfg)                      Session::run()                 (shutdown, inside run)
//!  1 audio output (cpal / null sink) ──┐    headless: signals → stop flag   1 engine: scheduler thread
//!  2 analyzer thread (audio tap)       │    + reports → stderr lines          (notes off, recording
//!  3 model cache (one per session)     │    screen: tui::bridge::run          finished, session log,
//!  4 live engine: watcher, compile     │      (UI loop, bridge thread,        `Stopped`), watcher,
//!    worker, scheduler thread ─────────┘      likeness + logs workers)        compile worker
//!                                                                          2 screen workers (likeness
//!                                                                            after the engine's last
//!                                                                            report, logs worker)
//!                                                                          3 analyzer thread
//!                                                                          4 audio output
//! ```
//!
//! Journal recovery is not part of the session: it happens before (in `cli/play.rs`), so a
//! take recovered from a crash is on disk before a new one may choose its name.

use crate::analysis::likeness;
use crate::analysis::live::{AnalyzerHandle, Monitor};
use crate::engine::event::TimedEvent;
use crate::engine::live::{
    self, AudioClock, FeatureLink, LiveConfig, LiveError, LiveHandle, Report, StepFactory,
};
use crate::neural::voices::{LstmVoices, ModelCache};
use crate::outputs::midi::{MidiError, MidiOptions, MidiOut};
use crate::outputs::osc::{AudioTimeBase, OscError, OscOut};
use crate::outputs::{EventOut, Fanout, OutputBoard, OutputState, OutputStatus, RingOut};
use crate::sound::output::{AudioConfig, AudioError, AudioHandle, AudioStats};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Events the scheduler may have queued for the synth at once.
const SYNTH_RING: usize = 8192;
/// Mono samples the audio tap holds for the analyzer.
const TAP_RING: usize = 1 << 16;
/// Feature frames waiting for the scheduler thread (more are dropped, counted).
const FEATURE_QUEUE: usize = 64;
/// Frames and recording news waiting for the likeness worker (frames beyond are missed).
const LIKENESS_QUEUE: usize = 256;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Analysis(#[from] crate::analysis::AnalysisError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Osc(#[from] OscError),
    #[error("installing signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("the screen: {0}")]
    Screen(std::io::Error),
}

/// What the screen needs besides the engine.
#[derive(Clone, Debug, Default)]
pub struct ScreenConfig {
    /// Listening logs (and whose recommendations) for the recommend and forecast panes.
    pub logs: Option<(PathBuf, Option<String>)>,
    /// Folders of saved sounds the "sounds like" list ranks.
    pub likeness_dirs: Vec<PathBuf>,
}

/// Everything a session needs.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub live: LiveConfig,
    pub audio: AudioConfig,
    /// Where LSTM models live (one cache for every thread that plans bars).
    pub models_dir: PathBuf,
    /// The synth's samples and SoundFont (`SynthConfig::for_patches` finds them).
    pub synth: crate::sound::synth::SynthConfig,
    /// The performance screen, or None for headless (reports as lines on stderr).
    pub screen: Option<ScreenConfig>,
    /// Outputs besides the synth (OSC, MIDI, ...).
    pub outputs: OutputsConfig,
}

/// The outputs a session opens besides the synth (see `crate::outputs`).
#[derive(Clone, Debug, Default)]
pub struct OutputsConfig {
    /// `--osc-out HOST:PORT`: SuperDirt's `/dirt/play` bundles to this target.
    pub osc: Option<String>,
    /// `--sync link`: follow the Ableton Link session's tempo and bar phase (feature `link`;
    /// without it the flag is refused before a session starts).
    pub link: bool,
    /// `--sync midi[:PORT]`: follow an incoming MIDI clock (from the first MIDI output whose
    /// name contains PORT, when given).
    pub midi_sync: Option<Option<String>>,
    /// MIDI out and/or MIDI clock (`--midi-out`, `--midi-clock`), or None.
    pub midi: Option<MidiSetup>,
}

/// What `--midi-out NAME` and `--midi-clock` ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MidiSetup {
    /// Port name substring; `weft` (or no match) creates `weft:midi_out`.
    pub port: String,
    /// Send the notes (`--midi-out` given).
    pub notes: bool,
    /// Send MIDI clock (`--midi-clock`).
    pub clock: bool,
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// The engine stopped cleanly (`Stopped`, no thread died).
    Clean,
    /// A thread died or the engine ended without `Stopped`; `last_words` is a line to print
    /// on the restored terminal, if it has not been printed yet.
    Failed { last_words: Option<String> },
}

/// A started play session (see the module docs for what runs and the shutdown order).
pub struct Session {
    // Field order is drop order: if a session is dropped without `run`, the engine stops
    // first, then the analyzer, then the audio output.
    engine: LiveHandle,
    screen: Option<ScreenParts>,
    analyzer: AnalyzerHandle,
    audio: AudioHandle,
    messages: Vec<String>,
    board: OutputBoard,
}

struct ScreenParts {
    cfg: ScreenConfig,
    /// The likeness worker's one input stream (the analyzer's monitor sends frames into it).
    likeness: (SyncSender<likeness::Input>, Receiver<likeness::Input>),
}

impl Session {
    /// Starts the audio output, the analyzer listening to it, and the live engine on
    /// `cfg.live.dir`. Nothing is shown yet: [`Session::run`] does that.
    pub fn start(cfg: SessionConfig) -> Result<Session, SessionError> {
        let SessionConfig {
            mut live,
            audio: audio_cfg,
            models_dir,
            mut synth,
            screen,
            outputs: outputs_cfg,
        } = cfg;
        // The synth connects a bank feed when it is built; the compile worker sends saved
        // patches' new sample banks through it (hot swap at the reload boundary).
        let swap = crate::sound::synth::BankSwap::new();
        synth.bank_swap = Some(swap.clone());
        live.bank_swap = Some(swap);
        // Audio first (before the screen: probing a missing device makes alsa-lib talk).
        let (producer, consumer) = rtrb::RingBuffer::<TimedEvent>::new(SYNTH_RING);
        let (tap_tx, tap_rx) = rtrb::RingBuffer::<f32>::new(TAP_RING);
        let audio = crate::sound::output::start(audio_cfg, consumer, Some(tap_tx), synth)?;
        // The analyzer listens to what the synth plays (the null sink renders too); the
        // screen's "sounds like" worker gets the same frames (best effort).
        let (feat_tx, feat_rx) = sync_channel(FEATURE_QUEUE);
        let screen = screen.map(|cfg| ScreenParts {
            cfg,
            likeness: sync_channel(LIKENESS_QUEUE),
        });
        let monitor: Option<Monitor> = screen.as_ref().map(|s| {
            let tx = s.likeness.0.clone();
            Box::new(move |f| {
                let _ = tx.try_send(likeness::Input::Frame(f));
            }) as Monitor
        });
        let analyzer = crate::analysis::live::spawn_with_monitor(
            tap_rx,
            crate::analysis::AnalyzerConfig::new(audio.sample_rate()),
            feat_tx,
            monitor,
        )?;
        let mut messages = audio.warnings.clone();
        messages.push(format!(
            "audio: {} at {} Hz",
            audio.device_name(),
            audio.sample_rate()
        ));
        // One model cache for every thread that plans bars: the compile worker loads a
        // patch's models before it is ready, so the scheduler thread never reads a model file.
        live.models_dir = Some(models_dir.clone());
        let cache = Arc::new(ModelCache::new(&models_dir));
        let steps: StepFactory = Arc::new(move || Box::new(LstmVoices::with_cache(cache.clone())));
        live.status = screen.is_some();
        // The outputs the scheduler thread writes to: one line each (see `crate::outputs`).
        let board = OutputBoard::default();
        let mut outs: Vec<Box<dyn EventOut>> = vec![Box::new(RingOut(producer))];
        if let Some(target) = &outputs_cfg.osc {
            let time = AudioTimeBase::new(audio.meters(), audio.sample_rate());
            outs.push(Box::new(OscOut::start(target, Box::new(time), &board)?));
            messages.push(format!(
                "osc: /dirt/play bundles to {target}, time-tagged {} ms ahead",
                live.lookahead.as_millis()
            ));
        }
        #[cfg(feature = "link")]
        if outputs_cfg.link {
            let slot = board.register(crate::outputs::OutputStatus::new("link", "joining"));
            let sync = crate::engine::live::link::LinkSync::join(live.tempo.unwrap_or(120.0));
            live.sync = Some(crate::engine::live::sync::SyncHandoff::new(
                Box::new(sync),
                Some(slot),
            ));
            messages.push(
                "link: joined the Ableton Link session: its tempo and bar phase lead, +/- propose a tempo to it".into(),
            );
        }
        if let Some(port) = &outputs_cfg.midi_sync {
            match crate::outputs::midi::clock_in::MidiClockSync::open(port.as_deref()) {
                Ok((sync, said)) => {
                    let slot =
                        board.register(crate::outputs::OutputStatus::new("midi sync", "waiting"));
                    live.sync = Some(crate::engine::live::sync::SyncHandoff::new(
                        Box::new(sync),
                        Some(slot),
                    ));
                    messages.push(said);
                }
                // Said once; the music goes on at the patch tempo.
                Err(e) => messages.push(e.to_string()),
            }
        }
        if let Some(m) = &outputs_cfg.midi {
            match midi_out(m, &audio, &board) {
                Ok((out, said)) => {
                    messages.push(said);
                    outs.push(Box::new(out));
                }
                // Said once; the music goes on without it.
                Err(e) => messages.push(format!("{e}; playing on without MIDI")),
            }
        }
        let clock = AudioClock::new(audio.meters(), audio.sample_rate());
        let engine = live::start_with_features(
            live,
            Box::new(clock),
            Some(Box::new(Fanout(outs))),
            steps,
            Some(FeatureLink {
                frames: feat_rx,
                control: Some(analyzer.control()),
            }),
        )?;
        Ok(Session {
            engine,
            screen,
            analyzer,
            audio,
            messages,
            board,
        })
    }

    /// The outputs besides the synth and their states (what the transport pane shows).
    pub fn outputs(&self) -> OutputBoard {
        self.board.clone()
    }

    /// Lines for the performer about how the session started (audio device, fallbacks).
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// A flag that stops the session cleanly when set (what the signal handlers set).
    pub fn stop_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.engine.stop_flag()
    }

    /// Runs the session until it ends — the bars are done, the performer quits, a signal
    /// arrives, or a thread dies — then shuts everything down in the order of the module docs.
    /// Headless, every report that is for people is passed to `line` (the binary prints them
    /// on stderr); with the screen they go to its messages pane.
    pub fn run(self, line: impl FnMut(&str)) -> Result<Ending, SessionError> {
        let Session {
            engine,
            screen,
            analyzer,
            audio,
            messages,
            board,
        } = self;
        let ending = match screen {
            Some(s) => run_screen(engine, s, &audio, messages, board),
            None => run_headless(engine, messages, line, &audio, &board),
        };
        drop(analyzer);
        drop(audio);
        ending
    }
}

/// Opens the MIDI port and starts its sender, timed by the audio output's clock.
fn midi_out(
    m: &MidiSetup,
    audio: &AudioHandle,
    board: &OutputBoard,
) -> Result<(MidiOut, String), MidiError> {
    let (sink, said) = crate::outputs::midi::open(&m.port)?;
    let clock = AudioClock::new(audio.meters(), audio.sample_rate());
    let opts = MidiOptions {
        notes: m.notes,
        clock: m.clock,
    };
    let said = match (m.notes, m.clock) {
        (true, true) => format!("{said} (notes and clock)"),
        (false, true) => format!("{said} (clock only)"),
        _ => said,
    };
    let kind = if m.notes { "midi out" } else { "midi clock" };
    let target = midi_target(&said).unwrap_or_else(|| m.port.clone());
    let slot = board.register(OutputStatus::new(kind, &target));
    let out = MidiOut::start_reporting(sink, Box::new(clock), opts, Some(slot))?;
    Ok((out, said))
}

/// The port a MIDI output's opening sentence names: `created port weft:midi_out (…); connect it
/// to your synth` → `weft:midi_out`; `connected to Midi Through Port-0 (notes and clock)` →
/// `Midi Through Port-0` (ALSA names have spaces).
fn midi_target(said: &str) -> Option<String> {
    if let Some((_, t)) = said.split_once("created port ") {
        return t.split([' ', ';', '(']).next().map(str::to_string);
    }
    let (_, t) = said.split_once("connected to ")?;
    Some(t.split_once(" (").map_or(t, |(t, _)| t).to_string())
}

fn run_screen(
    engine: LiveHandle,
    screen: ScreenParts,
    audio: &AudioHandle,
    messages: Vec<String>,
    board: OutputBoard,
) -> Result<Ending, SessionError> {
    use crate::tui::bridge;
    let meters = audio.meters();
    let device = (!audio.is_null()).then(|| audio.device_name());
    let sr = audio.sample_rate();
    let (likeness_tx, likeness_rx) = screen.likeness;
    let died = bridge::run(
        engine,
        move || {
            let st = meters.stats();
            bridge::AudioFacts {
                device: device.clone(),
                sample_rate: Some(sr),
                load_pct: st.load_pct,
                underruns: st.underruns,
                stream_late: st.stream_late,
                outputs: board.snapshot(),
            }
        },
        bridge::PaneSources::default(),
        messages,
        screen.cfg.logs,
        Some(bridge::LikenessSource {
            input: likeness_rx,
            sender: likeness_tx,
            dirs: screen.cfg.likeness_dirs,
        }),
    )
    .map_err(SessionError::Screen)?;
    Ok(match died {
        None => Ending::Clean,
        // The screen showed it; say it again on the restored terminal.
        Some(why) => Ending::Failed {
            last_words: Some(format!("weft: {why}")),
        },
    })
}

fn run_headless(
    engine: LiveHandle,
    messages: Vec<String>,
    mut line: impl FnMut(&str),
    audio: &AudioHandle,
    board: &OutputBoard,
) -> Result<Ending, SessionError> {
    for m in &messages {
        line(&format!("weft: {m}"));
    }
    let mut watch = HeadlessWatch::default();
    let stop = engine.stop_flag();
    let mut handlers = Vec::new();
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        match signal_hook::flag::register(sig, stop.clone()) {
            Ok(id) => handlers.push(id),
            Err(e) => {
                unregister(handlers);
                return Err(SessionError::Signals(e));
            }
        }
    }
    // The session ends cleanly only with `Stopped` after no `Died`; an engine thread that
    // ended any other way is a failure the exit code reports.
    let mut clean = false;
    let mut died = false;
    // `stopped` is said last, after the outputs' final counts (see below).
    let mut stopped = None;
    let mut show = |r: &Report, clean: &mut bool, died: &mut bool, line: &mut dyn FnMut(&str)| {
        match r {
            Report::Stopped => *clean = !*died,
            Report::Died { .. } => *died = true,
            _ => {}
        }
        if let Some(l) = live::describe_report(r) {
            if matches!(r, Report::Stopped) {
                stopped = Some(l);
            } else {
                line(&l);
            }
        }
    };
    loop {
        let got = engine.reports.recv_timeout(Duration::from_millis(100));
        for l in watch.news(&audio.stats(), &board.snapshot()) {
            line(&l);
        }
        match got {
            Ok(r) => {
                show(&r, &mut clean, &mut died, &mut line);
                if matches!(r, Report::Stopped) {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if engine.is_finished() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    stop.store(true, Ordering::SeqCst);
    for r in engine.reports.try_iter() {
        show(&r, &mut clean, &mut died, &mut line);
    }
    engine.join();
    // After the join: the outputs were dropped with the engine, so their last counts (the
    // MIDI sender's, after its closing note-offs went out) are on the board now.
    for l in watch.news(&audio.stats(), &board.snapshot()) {
        line(&l);
    }
    if let Some(l) = stopped {
        line(&l);
    }
    unregister(handlers);
    Ok(if clean {
        Ending::Clean
    } else {
        Ending::Failed {
            // A death was reported in its own line already.
            last_words: (!died)
                .then(|| "error: the engine stopped unexpectedly; the music stopped".to_string()),
        }
    })
}

/// What the headless log has said about the audio xruns, late streamed sample frames and the
/// outputs' states, so each change is said once.
#[derive(Default)]
struct HeadlessWatch {
    xruns: u64,
    stream_late: u64,
    states: Vec<OutputState>,
    /// Per output: the server xruns already said. (Dropped messages are not said line by
    /// line: OSC to a port nobody listens on drops every message, and its state says so.)
    xruns_said: Vec<u64>,
}

impl HeadlessWatch {
    /// Lines for what changed since the last call: more xruns (underruns), more frames of
    /// streamed sample files that came late (the disk did not keep up), an output whose state
    /// changed (e.g. nothing listens on the OSC port, then SuperDirt starts), more cycles an
    /// output's server missed (a JACK xrun can lose that cycle's MIDI).
    fn news(&mut self, audio: &AudioStats, outputs: &[OutputStatus]) -> Vec<String> {
        let mut lines = Vec::new();
        let xruns = audio.underruns;
        if xruns > self.xruns {
            lines.push(format!(
                "weft: audio: {} xrun(s), {xruns} in all",
                xruns - self.xruns
            ));
            self.xruns = xruns;
        }
        let late = audio.stream_late;
        if late > self.stream_late {
            lines.push(format!(
                "weft: samples: {} streamed frame(s) came late and played as silence, {late} in all \
                 (the disk did not keep up)",
                late - self.stream_late
            ));
            self.stream_late = late;
        }
        for (i, o) in outputs.iter().enumerate() {
            let before = self.states.get(i);
            if before == Some(&o.state) || (before.is_none() && o.state == OutputState::Active) {
                if before.is_none() {
                    self.states.push(o.state.clone());
                }
                continue;
            }
            lines.push(match &o.state {
                OutputState::Active => format!("weft: {} → {}: sending", o.kind, o.target),
                OutputState::Waiting(why) => format!("weft: {} → {}: {why}", o.kind, o.target),
                OutputState::Failed(why) => {
                    format!("weft: {} → {}: stopped: {why}", o.kind, o.target)
                }
            });
            match self.states.get_mut(i) {
                Some(s) => *s = o.state.clone(),
                None => self.states.push(o.state.clone()),
            }
        }
        for (i, o) in outputs.iter().enumerate() {
            if self.xruns_said.len() <= i {
                self.xruns_said.resize(i + 1, 0);
            }
            let xruns = self.xruns_said[i];
            if o.xruns > xruns {
                lines.push(format!(
                    "weft: {} → {}: {} JACK xrun(s), {} in all (the server missed a cycle; \
                     its MIDI may not have arrived)",
                    o.kind,
                    o.target,
                    o.xruns - xruns,
                    o.xruns
                ));
            }
            self.xruns_said[i] = o.xruns.max(xruns);
        }
        lines
    }
}

/// Removes this session's signal handlers (a process may run several sessions, e.g. tests).
fn unregister(handlers: Vec<signal_hook::SigId>) {
    for h in handlers {
        signal_hook::low_level::unregister(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(underruns: u64, stream_late: u64) -> AudioStats {
        AudioStats {
            underruns,
            stream_late,
            ..AudioStats::default()
        }
    }

    #[test]
    fn the_headless_log_says_each_new_xrun_and_late_stream_once() {
        let mut w = HeadlessWatch::default();
        assert!(w.news(&stats(0, 0), &[]).is_empty());
        let l = w.news(&stats(2, 0), &[]);
        assert_eq!(l, ["weft: audio: 2 xrun(s), 2 in all"]);
        assert!(w.news(&stats(2, 0), &[]).is_empty());
        let l = w.news(&stats(2, 256), &[]);
        assert_eq!(l.len(), 1);
        assert!(
            l[0].starts_with("weft: samples: 256 streamed frame(s) came late")
                && l[0].contains("256 in all"),
            "{l:?}"
        );
        assert!(w.news(&stats(2, 256), &[]).is_empty());
        let l = w.news(&stats(3, 300), &[]);
        assert_eq!(l.len(), 2, "{l:?}");
        assert!(l[1].contains("44 streamed frame(s)") && l[1].contains("300 in all"));
    }

    #[test]
    fn a_midi_outputs_board_entry_names_its_port() {
        for (said, port) in [
            (
                "MIDI out: created port weft:midi_out; connect it to your synth (notes and clock)",
                "weft:midi_out",
            ),
            (
                "MIDI out: created port weft:midi_out (no port matches 'x'); connect it to your synth",
                "weft:midi_out",
            ),
            (
                "MIDI out: connected to rx:input (notes and clock)",
                "rx:input",
            ),
            (
                "MIDI out: connected to Midi Through Port-0",
                "Midi Through Port-0",
            ),
        ] {
            assert_eq!(midi_target(said).as_deref(), Some(port), "{said}");
        }
        assert_eq!(midi_target("something else"), None);
    }

    #[test]
    fn the_headless_log_says_each_new_jack_xrun_of_an_output_once() {
        let mut w = HeadlessWatch::default();
        let mut o = OutputStatus::new("midi out", "rx:input");
        assert!(w.news(&stats(0, 0), std::slice::from_ref(&o)).is_empty());
        o.xruns = 2;
        let l = w.news(&stats(0, 0), std::slice::from_ref(&o));
        assert_eq!(l.len(), 1, "{l:?}");
        assert!(
            l[0].starts_with("weft: midi out → rx:input: 2 JACK xrun(s), 2 in all"),
            "{l:?}"
        );
        assert!(w.news(&stats(0, 0), std::slice::from_ref(&o)).is_empty());
        // Drops show on the pane, not line by line.
        o.dropped = 5;
        o.xruns = 3;
        let l = w.news(&stats(0, 0), std::slice::from_ref(&o));
        assert_eq!(
            l,
            [
                "weft: midi out → rx:input: 1 JACK xrun(s), 3 in all (the server missed a cycle; \
              its MIDI may not have arrived)"
            ]
        );
        assert!(w.news(&stats(0, 0), &[o]).is_empty());
    }
}
