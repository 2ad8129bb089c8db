//! The play session's screen: engine [`Status`] → TUI [`Snapshot`], and the screen's
//! [`UiCommand`]s → engine [`Command`]s.
//!
//! Threads here, all started and joined by [`run`]: the **bridge** thread turns the engine's
//! report stream into `AppEvent`s (snapshots, message lines) and tells the likeness worker
//! about recordings; the **UI** thread (the caller's) runs `tui::run` and sends each command
//! to the engine itself, as the key is handled (no forwarding thread); the **likeness** worker
//! ranks saved sounds from one ordered input stream (analyzer frames + recording news); the
//! **logs** worker computes the recommend and forecast panes once.
//!
//! Shutdown order when the UI loop ends: the engine (stop flag + `Quit`; joined: the recording
//! is finished and `Stopped` reported), the bridge thread (it forwards the engine's last
//! reports, e.g. a recording finished on quit, then ends on `Stopped`), the likeness worker
//! (`Shutdown` goes after those reports in its stream, so that session's profile is written),
//! then the logs worker (it skips what is left once the screen has gone).

use crate::analysis::likeness;
use crate::engine::live::{self, Command, LiveHandle, Report, Status};
use crate::tui::model::{
    Availability, ForecastView, NoteView, OutputView, OutputViewState, PatchState, PatchView,
    RecView, RecommendView, Snapshot, SpectrumView, TransportView, VoiceView,
};
use crate::tui::{AppEvent, Level, UiCommand};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
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
    /// Frames of streamed sample files that came too late (played as silence).
    pub stream_late: u64,
    /// The outputs besides the synth (OSC, MIDI out, MIDI clock) and their states.
    pub outputs: Vec<crate::outputs::OutputStatus>,
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

/// The runtime errors of playing patches, by file name (`bass.rhai`), from the engine's
/// notices: set by a runtime error, cleared when the file runs again, is swapped or removed.
#[derive(Clone, Debug, Default)]
pub struct RuntimeErrors(std::collections::HashMap<String, (crate::patch::PatchError, u64)>);

impl RuntimeErrors {
    /// Follows one report.
    pub fn note(&mut self, r: &Report) {
        use crate::engine::scheduler::Notice;
        match r {
            Report::Notice(Notice::RuntimeError { error, bar }) => {
                let file = std::path::Path::new(&error.path)
                    .file_name()
                    .map_or_else(|| error.path.clone(), |f| f.to_string_lossy().into_owned());
                self.0.insert(file, (error.clone(), *bar));
            }
            Report::Notice(
                Notice::Recovered { file, .. }
                | Notice::Swapped { file, .. }
                | Notice::Removed { file, .. },
            ) => {
                self.0.remove(file);
            }
            _ => {}
        }
    }
}

/// An output's entry on the board as the transport pane shows it.
fn output_view(o: &crate::outputs::OutputStatus) -> OutputView {
    use crate::outputs::OutputState;
    OutputView {
        kind: o.kind.clone(),
        target: o.target.clone(),
        state: match &o.state {
            OutputState::Active => OutputViewState::Active,
            OutputState::Waiting(w) => OutputViewState::Waiting(w.clone()),
            OutputState::Failed(w) => OutputViewState::Failed(w.clone()),
        },
        sent: o.sent,
        dropped: o.dropped,
        xruns: o.xruns,
    }
}

/// Builds the screen's view of the engine state.
pub fn snapshot(
    s: &Status,
    audio: &AudioFacts,
    panes: &PaneSources,
    sounds_like: &[(String, f32)],
) -> Snapshot {
    snapshot_with(s, audio, panes, sounds_like, &RuntimeErrors::default())
}

/// [`snapshot`] with the runtime errors the bridge has seen: a playing file whose code fails
/// shows "runtime error", not "playing".
pub fn snapshot_with(
    s: &Status,
    audio: &AudioFacts,
    panes: &PaneSources,
    sounds_like: &[(String, f32)],
    runtime: &RuntimeErrors,
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
        stream_late: audio.stream_late,
        lookahead_ms: s.lookahead_ms as f32,
        device: audio.device.clone(),
        sample_rate: audio.sample_rate,
        outputs: audio.outputs.iter().map(output_view).collect(),
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
            state: match (&f.error, f.pending_bar, runtime.0.get(&f.file)) {
                (Some(e), _, _) => PatchState::Error {
                    line: e.line as u32,
                    col: e.col as u32,
                    message: e.message.clone(),
                    last_good_playing: f.playing,
                },
                (None, Some(b), _) => PatchState::Pending { at_bar: b + 1 },
                (None, None, Some((e, bar))) if f.playing => PatchState::RuntimeError {
                    line: e.line as u32,
                    col: e.col as u32,
                    message: e.message.clone(),
                    bar: bar + 1,
                },
                (None, None, _) => PatchState::Playing,
            },
            last_reload_ms: f.last_reload_ms,
        })
        .collect();
    let voices = s
        .tracks
        .iter()
        .map(|t| VoiceView {
            name: t.info.name.clone(),
            muted: t.muted,
            soloed: t.soloed,
            notes: s
                .recent
                .iter()
                .filter(|n| n.track == t.info.name)
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
                .find(|(n, _)| *n == t.info.name)
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
        first_date: v
            .history
            .first()
            .map(|h| h.date.clone())
            .unwrap_or_default(),
        last_date: v
            .forecast
            .last()
            .map(|f| f.date.clone())
            .or_else(|| v.history.last().map(|h| h.date.clone()))
            .unwrap_or_default(),
        history: v.history.iter().map(|h| h.value).collect(),
        forecast: v
            .forecast
            .iter()
            .map(|f| crate::tui::model::ForecastPoint {
                mean: f.mean,
                lo80: f.lo80,
                hi80: f.hi80,
                lo95: f.lo95,
                hi95: f.hi95,
            })
            .collect(),
        model: v.model,
        backtest: v.note,
    }
}

/// The background worker for the recommend and forecast panes: computes both from the
/// listening logs off the UI and engine threads and reports back as messages. It skips the
/// forecast when the screen has gone (its channel is closed) by the time the recommendations
/// are ready, so joining it on quit waits for at most one computation.
pub fn spawn_logs_worker(
    logs: std::path::PathBuf,
    user: Option<String>,
    tx: Sender<AppEvent>,
) -> Option<thread::JoinHandle<()>> {
    let _ = tx.send(AppEvent::Recommend(Availability::Working(format!(
        "reading {}",
        logs.display()
    ))));
    let _ = tx.send(AppEvent::Forecast(Availability::Working(format!(
        "reading {}",
        logs.display()
    ))));
    thread::Builder::new()
        .name("weft-logs-worker".into())
        .spawn(move || {
            let rec = match crate::recommend::for_pane(&logs, user.as_deref()) {
                Ok(v) => Availability::Ready(recommend_view(v)),
                Err(e) => Availability::Unavailable(e.to_string()),
            };
            if tx.send(AppEvent::Recommend(rec)).is_err() {
                return;
            }
            let fc = match crate::forecast::for_pane(&logs) {
                Ok(v) => Availability::Ready(forecast_view(v)),
                Err(e) => Availability::Unavailable(e.to_string()),
            };
            let _ = tx.send(AppEvent::Forecast(fc));
        })
        .ok()
}

/// Where the spectrum pane's "sounds like" list comes from: the likeness worker's one input
/// stream (the analyzer's monitor sends frames into it; the bridge adds recording news with
/// `sender`) and the folders of saved sounds (see [`crate::analysis::likeness`]).
pub struct LikenessSource {
    pub input: Receiver<likeness::Input>,
    pub sender: SyncSender<likeness::Input>,
    pub dirs: Vec<std::path::PathBuf>,
}

/// The bridge's end of the likeness worker.
struct Likeness {
    updates: Receiver<likeness::Update>,
    input: SyncSender<likeness::Input>,
    latest: Vec<(String, f32)>,
}

/// The engine command for a screen command.
pub fn engine_command(c: UiCommand) -> Command {
    match c {
        UiCommand::TogglePlay => Command::TogglePlay,
        UiCommand::ToggleRecord => Command::ToggleRecord,
        UiCommand::TempoDelta(d) => Command::TempoDelta(d),
        UiCommand::Mute(v) => Command::ToggleMute(v),
        UiCommand::Solo(v) => Command::ToggleSolo(v),
        UiCommand::Panic => Command::Panic,
        UiCommand::Quit => Command::Quit,
    }
}

/// Runs the screen over a started engine until the performer quits, then stops every thread
/// it started and the engine, in the order of the module docs. Blocks. Returns why the engine
/// died, if one of its threads did (the screen showed it; the caller exits non-zero).
pub fn run(
    handle: LiveHandle,
    audio: impl Fn() -> AudioFacts + Send + 'static,
    panes: PaneSources,
    startup_messages: Vec<String>,
    logs: Option<(std::path::PathBuf, Option<String>)>,
    likeness_source: Option<LikenessSource>,
) -> std::io::Result<Option<String>> {
    let (app_tx, app_rx) = std::sync::mpsc::channel::<AppEvent>();
    let logs_worker = logs.and_then(|(path, user)| spawn_logs_worker(path, user, app_tx.clone()));
    let mut likeness_worker = None;
    let likeness = likeness_source.and_then(|src| {
        let (up_tx, up_rx) = std::sync::mpsc::channel();
        match likeness::spawn(src.input, src.dirs, up_tx) {
            Ok(h) => {
                likeness_worker = Some((h, src.sender.clone()));
                Some(Likeness {
                    updates: up_rx,
                    input: src.sender,
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
    // Where recordings went, printed once the terminal is restored (a recording stopped by
    // quitting finishes after the screen has closed).
    let finished = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let finished_in_bridge = finished.clone();
    let bridge = thread::Builder::new()
        .name("weft-screen-bridge".into())
        .spawn(move || {
            bridge(
                reports,
                bridge_tx,
                audio,
                panes,
                likeness,
                &finished_in_bridge,
            )
        })
        .expect("spawn bridge");
    // The UI thread sends each command to the engine itself: the engine's inbox never blocks.
    let r = crate::tui::run(
        app_rx,
        app_tx,
        |c| engine.send(engine_command(c)),
        crate::tui::RunOptions::from_env(),
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    engine.quit();
    drop(guard);
    let died = bridge
        .join()
        .unwrap_or_else(|_| Some("the screen's bridge thread died".into()));
    for line in finished.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        eprintln!("weft: {line}");
    }
    // The bridge has forwarded the engine's last reports (a recording finished on quit);
    // `Shutdown` comes after them in the worker's stream, so that session's profile is
    // written before the worker ends.
    if let Some((h, input)) = likeness_worker {
        let _ = input.send(likeness::Input::Shutdown);
        let _ = h.join();
    }
    if let Some(h) = logs_worker {
        let _ = h.join();
    }
    r.map(|_| died)
}

fn bridge(
    reports: Receiver<Report>,
    tx: Sender<AppEvent>,
    audio: impl Fn() -> AudioFacts,
    panes: PaneSources,
    mut likeness: Option<Likeness>,
    finished: &std::sync::Mutex<Vec<String>>,
) -> Option<String> {
    // Once the screen has closed there is no one to draw for, but the engine's last reports
    // (a recording finished on quit) still go to the likeness worker, until `Stopped`.
    let mut screen_open = true;
    let mut last: Option<Box<live::Status>> = None;
    let mut died = None;
    let mut runtime = RuntimeErrors::default();
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
                    let snap = snapshot_with(&s, &audio(), &panes, like, &runtime);
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
                    let snap = snapshot_with(&s, &audio(), &panes, like, &runtime);
                    let _ = tx.send(AppEvent::Snapshot(Box::new(snap)));
                }
                let _ = tx.send(AppEvent::Message(Level::Error, line.clone()));
                died = Some(line);
            }
            Ok(r) => {
                runtime.note(&r);
                if let Some(l) = &likeness {
                    match &r {
                        Report::RecordingStarted(_) => {
                            let _ = l.input.send(likeness::Input::RecordingStarted);
                        }
                        Report::RecordingFinished { path, .. } => {
                            let _ = l
                                .input
                                .send(likeness::Input::RecordingFinished(path.clone()));
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
                if let (Report::RecordingFinished { .. }, Some(line)) =
                    (&r, live::describe_report(&r))
                {
                    finished
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(line);
                }
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
