//! The play command with the performance screen: engine [`Status`] → TUI [`Snapshot`], and
//! the screen's commands → engine [`Command`]s.
//!
//! Three threads meet here by message passing: the engine's report stream is turned into
//! `AppEvent`s (snapshots, message lines) by a bridge thread; the UI thread runs
//! `tui::run`; the UI's commands go straight back to the engine.

use crate::analysis::likeness;
use crate::engine::live::{self, LiveHandle, Report, Status};
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
pub fn snapshot(
    s: &Status,
    audio: &AudioFacts,
    panes: &PaneSources,
    sounds_like: &[(String, f32)],
) -> Snapshot {
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
            lstm_top: s
                .lstm_top
                .iter()
                .find(|(n, _)| *n == t.name)
                .map(|(_, top)| Availability::Ready(top.clone())),
        })
        .collect();
    let spectrum = match &s.spectrum {
        Some(f) => Availability::Ready(SpectrumView {
            bands: f.bands.to_vec(),
            band_range_hz: (30.0, 16_000.0),
            rms: f.rms,
            centroid_hz: f.centroid,
            rolloff_hz: f.rolloff,
            flatness: f.flatness,
            flux: f.flux,
            onset: f.onset,
            bpm: (f.bpm > 0.0).then_some(f.bpm),
            chroma: f.chroma,
            sounds_like: sounds_like.to_vec(),
            dropped_frames: s.features_dropped,
        }),
        None => panes.spectrum.clone(),
    };
    Snapshot {
        transport,
        patches,
        voices,
        spectrum,
        recommend: panes.recommend.clone(),
        forecast: panes.forecast.clone(),
    }
}

/// Converts the recommender's pane data to the screen's view.
pub fn recommend_view(v: crate::recommend::RecommendView) -> RecommendView {
    RecommendView {
        model: {
            // "hybrid (period HR@10 .62 on your last 4 weeks)" when validation chose it.
            let why = v.chosen_by.as_deref().unwrap_or(&v.mode);
            match &v.note {
                Some(n) => format!("{} ({why}) — {n}", v.model),
                None => format!("{} ({why})", v.model),
            }
        },
        user: Some(v.user),
        items: v
            .items
            .into_iter()
            .map(|i| crate::tui::model::RecItem {
                title: i.title,
                artist: i.artist,
                score: i.score,
                because: i.because.split(", ").map(str::to_string).collect(),
            })
            .collect(),
    }
}

/// Converts the forecaster's pane data to the screen's view.
pub fn forecast_view(v: crate::forecast::ForecastView) -> ForecastView {
    ForecastView {
        series: v.series_name,
        first_date: v.history.first().map(|h| h.0.clone()).unwrap_or_default(),
        last_date: v
            .forecast
            .last()
            .map(|f| f.0.clone())
            .or_else(|| v.history.last().map(|h| h.0.clone()))
            .unwrap_or_default(),
        history: v.history.iter().map(|h| h.1).collect(),
        forecast: v
            .forecast
            .iter()
            .map(|f| crate::tui::model::ForecastPoint {
                mean: f.1,
                lo80: f.2,
                hi80: f.3,
                lo95: f.4,
                hi95: f.5,
            })
            .collect(),
        model: v.model,
        backtest: v.note,
    }
}

/// The background worker for the recommend and forecast panes: computes both from the
/// listening logs off the UI and engine threads and reports back as messages.
pub fn spawn_logs_worker(logs: std::path::PathBuf, user: Option<String>, tx: Sender<AppEvent>) {
    let _ = tx.send(AppEvent::Recommend(Availability::Working(format!(
        "reading {}",
        logs.display()
    ))));
    let _ = tx.send(AppEvent::Forecast(Availability::Working(format!(
        "reading {}",
        logs.display()
    ))));
    let _ = thread::Builder::new()
        .name("weft-logs-worker".into())
        .spawn(move || {
            let rec = match crate::recommend::for_pane(&logs, user.as_deref()) {
                Ok(v) => Availability::Ready(recommend_view(v)),
                Err(e) => Availability::Unavailable(e.to_string()),
            };
            let _ = tx.send(AppEvent::Recommend(rec));
            let fc = match crate::forecast::for_pane(&logs) {
                Ok(v) => Availability::Ready(forecast_view(v)),
                Err(e) => Availability::Unavailable(e.to_string()),
            };
            let _ = tx.send(AppEvent::Forecast(fc));
        });
}

/// Where the spectrum pane's "sounds like" list comes from: the analyzer's monitor frames
/// and the folders of saved sounds (see [`crate::analysis::likeness`]).
pub struct LikenessSource {
    pub frames: Receiver<crate::analysis::Features>,
    pub dirs: Vec<std::path::PathBuf>,
}

/// The bridge's end of the likeness worker.
struct Likeness {
    updates: Receiver<likeness::Update>,
    control: Sender<likeness::Control>,
    latest: Vec<(String, f32)>,
}

/// Runs the screen over a started engine until the performer quits. Blocks. Returns why the
/// engine died, if one of its threads did (the screen showed it; the caller exits non-zero).
pub fn run(
    handle: LiveHandle,
    audio: impl Fn() -> AudioFacts + Send + 'static,
    panes: PaneSources,
    startup_messages: Vec<String>,
    logs: Option<(std::path::PathBuf, Option<String>)>,
    likeness_source: Option<LikenessSource>,
) -> std::io::Result<Option<String>> {
    let (app_tx, app_rx) = std::sync::mpsc::channel::<AppEvent>();
    let (cmd_tx, cmd_rx) = std::sync::mpsc::channel::<UiCommand>();
    if let Some((path, user)) = logs {
        spawn_logs_worker(path, user, app_tx.clone());
    }
    let mut likeness_worker = None;
    let likeness = likeness_source.and_then(|src| {
        let (ctl_tx, ctl_rx) = std::sync::mpsc::channel();
        let (up_tx, up_rx) = std::sync::mpsc::channel();
        match likeness::spawn(src.frames, ctl_rx, src.dirs, up_tx) {
            Ok(h) => {
                likeness_worker = Some((h, ctl_tx.clone()));
                Some(Likeness {
                    updates: up_rx,
                    control: ctl_tx,
                    latest: Vec::new(),
                })
            }
            Err(e) => {
                let _ = app_tx.send(AppEvent::Message(
                    Level::Warn,
                    format!("sounds like: cannot start its worker: {e}"),
                ));
                None
            }
        }
    });
    for m in startup_messages {
        let _ = app_tx.send(AppEvent::Message(Level::Info, m));
    }
    let stop = handle.stop_flag();
    let (reports, engine, guard) = handle.split();
    let bridge_tx = app_tx.clone();
    let bridge = thread::Builder::new()
        .name("weft-screen-bridge".into())
        .spawn(move || bridge(reports, bridge_tx, audio, panes, likeness))
        .expect("spawn bridge");
    let engine_cmds = engine.clone();
    let cmd_thread = thread::spawn(move || forward_commands(cmd_rx, engine_cmds));
    let r = crate::tui::run(app_rx, app_tx, cmd_tx, crate::tui::RunOptions::from_env());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    engine.quit();
    let _ = cmd_thread.join();
    drop(guard);
    let died = bridge
        .join()
        .unwrap_or_else(|_| Some("the screen's bridge thread died".into()));
    // The bridge has forwarded the engine's last reports (a recording finished on quit);
    // let the worker write that session's profile before the program ends.
    if let Some((h, ctl)) = likeness_worker {
        let _ = ctl.send(likeness::Control::Shutdown);
        let _ = h.join();
    }
    r.map(|_| died)
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
    mut likeness: Option<Likeness>,
) -> Option<String> {
    // Once the screen has closed there is no one to draw for, but the engine's last reports
    // (a recording finished on quit) still go to the likeness worker, until `Stopped`.
    let mut screen_open = true;
    let mut last: Option<Box<live::Status>> = None;
    let mut died = None;
    loop {
        if let Some(l) = &mut likeness {
            for u in l.updates.try_iter() {
                let msg = match u {
                    likeness::Update::Ranking(r) => {
                        l.latest = r;
                        None
                    }
                    likeness::Update::Loaded { entries, errors } => {
                        for e in errors {
                            let _ = tx
                                .send(AppEvent::Message(Level::Warn, format!("sounds like: {e}")));
                        }
                        Some((
                            Level::Info,
                            format!("sounds like: {entries} saved sounds and sessions"),
                        ))
                    }
                    likeness::Update::SessionSaved(Ok(p)) => Some((
                        Level::Info,
                        format!("session profile saved to {}", p.display()),
                    )),
                    likeness::Update::SessionSaved(Err(e)) => {
                        Some((Level::Warn, format!("session profile not saved: {e}")))
                    }
                };
                if let Some((level, line)) = msg {
                    let _ = tx.send(AppEvent::Message(level, line));
                }
            }
        }
        match reports.recv_timeout(Duration::from_millis(200)) {
            Ok(Report::Status(s)) => {
                let like = likeness.as_ref().map_or(&[][..], |l| &l.latest[..]);
                if screen_open {
                    let snap = snapshot(&s, &audio(), &panes, like);
                    screen_open = tx.send(AppEvent::Snapshot(Box::new(snap))).is_ok();
                }
                last = Some(s);
            }
            Ok(Report::Stopped) => return died,
            Ok(r @ Report::Died { music_stopped, .. }) => {
                let line = live::describe_report(&r).unwrap_or_default();
                // The transport shows what is true: nothing plays any more.
                if let (true, true, Some(mut s)) = (music_stopped, screen_open, last.take()) {
                    s.playing = false;
                    let like = likeness.as_ref().map_or(&[][..], |l| &l.latest[..]);
                    let snap = snapshot(&s, &audio(), &panes, like);
                    let _ = tx.send(AppEvent::Snapshot(Box::new(snap)));
                }
                let _ = tx.send(AppEvent::Message(Level::Error, line.clone()));
                died = Some(line);
            }
            Ok(r) => {
                if let Some(l) = &likeness {
                    match &r {
                        Report::RecordingStarted(_) => {
                            let _ = l.control.send(likeness::Control::RecordingStarted);
                        }
                        Report::RecordingFinished { path, .. } => {
                            let _ = l
                                .control
                                .send(likeness::Control::RecordingFinished(path.clone()));
                        }
                        _ => {}
                    }
                }
                let level = match &r {
                    Report::Rejected { .. } | Report::RecordingFailed(_) => Level::Error,
                    Report::Late { .. } | Report::Dropped { .. } => Level::Warn,
                    Report::Notice(crate::engine::scheduler::Notice::RuntimeError { .. }) => {
                        Level::Error
                    }
                    _ => Level::Info,
                };
                if let Some(line) = live::describe_report(&r) {
                    screen_open = screen_open && tx.send(AppEvent::Message(level, line)).is_ok();
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => {
                return died.or_else(|| Some("the engine stopped unexpectedly".to_string()));
            }
        }
    }
}
