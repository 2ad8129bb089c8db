//! The play command with the performance screen: engine [`Status`] → TUI [`Snapshot`], and
//! the screen's commands → engine [`Command`]s.
//!
//! Three threads meet here by message passing: the engine's report stream is turned into
//! `AppEvent`s (snapshots, message lines) by a bridge thread; the UI thread runs
//! `tui::run`; the UI's commands go straight back to the engine.

use crate::live::{self, LiveHandle, Report, Status};
use crate::tui::model::{
    Availability, ForecastView, NoteView, PatchState, PatchView, RecView, RecommendView, Snapshot,
    SpectrumView, TransportView, VoiceView,
};
use crate::tui::{AppEvent, Command as UiCommand, Level};
use std::sync::mpsc::{Receiver, Sender};
use std::thread;
use std::time::Duration;

/// Audio facts the transport pane shows (from the audio stage when there is one).
#[derive(Clone, Debug, Default)]
pub struct AudioFacts {
    /// Device name, or None for the null sink.
    pub device: Option<String>,
    pub sample_rate: Option<u32>,
    pub load_pct: f32,
    pub underruns: u64,
}

/// Sources for the panes that are not the engine's.
#[derive(Clone, Debug)]
pub struct PaneSources {
    pub spectrum: Availability<SpectrumView>,
    pub recommend: Availability<RecommendView>,
    pub forecast: Availability<ForecastView>,
}

impl Default for PaneSources {
    fn default() -> Self {
        PaneSources {
            spectrum: Availability::Unavailable(
                "no analyzer running (it needs the audio tap)".into(),
            ),
            recommend: Availability::Unavailable(
                "no listening logs given (weft play --logs PATH)".into(),
            ),
            forecast: Availability::Unavailable(
                "no listening logs given (weft play --logs PATH)".into(),
            ),
        }
    }
}

/// Builds the screen's view of the engine state.
pub fn snapshot(s: &Status, audio: &AudioFacts, panes: &PaneSources) -> Snapshot {
    let transport = TransportView {
        playing: s.playing,
        tempo_bpm: s.tempo,
        bar: s.bar + 1,
        beat: s.beat as u32 + 1,
        beat_phase: s.beat_phase,
        time_sig: s.time_sig,
        audio_load_pct: audio.load_pct,
        underruns: audio.underruns,
        lookahead_ms: s.lookahead_ms as f32,
        device: audio.device.clone(),
        sample_rate: audio.sample_rate,
        recording: s.recording.as_ref().map(|(p, e)| RecView {
            file: p.display().to_string(),
            elapsed_s: *e,
        }),
    };
    let patches = s
        .files
        .iter()
        .map(|f| PatchView {
            file: f.file.clone(),
            state: match (&f.error, f.pending_bar) {
                (Some(e), _) => PatchState::Error {
                    line: e.line as u32,
                    col: e.col as u32,
                    message: e.message.clone(),
                    last_good_playing: f.playing,
                },
                (None, Some(b)) => PatchState::Pending { at_bar: b + 1 },
                (None, None) => PatchState::Playing,
            },
            last_reload_ms: f.last_reload_ms,
        })
        .collect();
    let voices = s
        .tracks
        .iter()
        .map(|(t, muted, soloed)| VoiceView {
            name: t.name.clone(),
            muted: *muted,
            soloed: *soloed,
            notes: s
                .recent
                .iter()
                .filter(|n| n.track == t.name)
                .map(|n| NoteView {
                    start_tick: n.tick as i64 - s.tick as i64,
                    dur_ticks: 120,
                    key: n.key,
                    vel: n.vel,
                })
                .collect(),
            lstm_top: None,
        })
        .collect();
    Snapshot {
        transport,
        patches,
        voices,
        spectrum: panes.spectrum.clone(),
        recommend: panes.recommend.clone(),
        forecast: panes.forecast.clone(),
    }
}

/// Runs the screen over a started engine until the performer quits. Blocks.
pub fn run(
    handle: LiveHandle,
    audio: impl Fn() -> AudioFacts + Send + 'static,
    panes: PaneSources,
    startup_messages: Vec<String>,
) -> std::io::Result<()> {
    let (app_tx, app_rx) = std::sync::mpsc::channel::<AppEvent>();
    let (cmd_tx, cmd_rx) = std::sync::mpsc::channel::<UiCommand>();
    for m in startup_messages {
        let _ = app_tx.send(AppEvent::Message(Level::Info, m));
    }
    let stop = handle.stop_flag();
    let (reports, engine, guard) = handle.split();
    let bridge_tx = app_tx.clone();
    let bridge = thread::Builder::new()
        .name("weft-screen-bridge".into())
        .spawn(move || bridge(reports, bridge_tx, audio, panes))
        .expect("spawn bridge");
    let engine_cmds = engine.clone();
    let cmd_thread = thread::spawn(move || forward_commands(cmd_rx, engine_cmds));
    let r = crate::tui::run(app_rx, app_tx, cmd_tx, crate::tui::RunOptions::from_env());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    engine.quit();
    let _ = cmd_thread.join();
    drop(guard);
    let _ = bridge.join();
    r
}

fn forward_commands(rx: Receiver<UiCommand>, engine: live::EngineCommands) {
    while let Ok(c) = rx.recv() {
        let cmd = match c {
            UiCommand::TogglePlay => live::Command::TogglePlay,
            UiCommand::ToggleRecord => live::Command::ToggleRecord,
            UiCommand::TempoDelta(d) => live::Command::TempoDelta(d),
            UiCommand::Mute(v) => live::Command::ToggleMute(v),
            UiCommand::Solo(v) => live::Command::ToggleSolo(v),
            UiCommand::Quit => {
                engine.quit();
                return;
            }
        };
        engine.send(cmd);
    }
}

fn bridge(
    reports: Receiver<Report>,
    tx: Sender<AppEvent>,
    audio: impl Fn() -> AudioFacts,
    panes: PaneSources,
) {
    loop {
        match reports.recv_timeout(Duration::from_millis(200)) {
            Ok(Report::Status(s)) => {
                let snap = snapshot(&s, &audio(), &panes);
                if tx.send(AppEvent::Snapshot(Box::new(snap))).is_err() {
                    return;
                }
            }
            Ok(Report::Stopped) => return,
            Ok(r) => {
                let level = match &r {
                    Report::Rejected { .. } | Report::RecordingFailed(_) => Level::Error,
                    Report::Late { .. } => Level::Warn,
                    Report::Notice(crate::scheduler::Notice::RuntimeError { .. }) => Level::Error,
                    _ => Level::Info,
                };
                if let Some(line) = live::describe_report(&r) {
                    if tx.send(AppEvent::Message(level, line)).is_err() {
                        return;
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => return,
        }
    }
}
