//! The recording session on the scheduler thread, and the session log.
//!
//! [`Recordings`] starts a take (a [`Recorder`] with its journal, the take's time origin, and
//! the provenance of what plays), feeds it the emitted events shifted to that origin with the
//! track list, tempo changes and markers it has not seen yet, tells it to stop, and collects
//! the finished files off the scheduler thread's critical path (the recorder writes the
//! Standard MIDI File on its own thread; the scheduler never waits, except at shutdown).
//!
//! [`SessionFacts`] gathers what the session log line says about the whole performance
//! (start, files played, LSTM models used, the recording) and the patch hashes a take's
//! provenance names; [`SessionFacts::append_log`] writes the line when the session ends.

use super::Report;
use crate::engine::event::{Tick, TimedEvent};
use crate::engine::render::provenance;
use crate::engine::scheduler::Scheduler;
use crate::record::{RecordMsg, RecordOptions, Recorder};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant, SystemTime};

/// The take being recorded, and how much of the scheduler's running lists it has seen.
struct Take {
    rec: Recorder,
    /// The tick the take starts at (its tick 0).
    t0: Tick,
    tracks_sent: usize,
    tempo_sent: usize,
    markers_sent: usize,
}

/// Recording sessions: at most one take recording, any number finishing.
#[derive(Default)]
pub(super) struct Recordings {
    take: Option<Take>,
    /// Recordings told to stop whose files are still being written (off this thread).
    finishing: Vec<Recorder>,
}

impl Recordings {
    pub(super) fn is_recording(&self) -> bool {
        self.take.is_some()
    }

    pub(super) fn is_finishing(&self) -> bool {
        !self.finishing.is_empty()
    }

    /// The file being recorded and for how long, for the status.
    pub(super) fn current(&self) -> Option<(PathBuf, f64)> {
        self.take
            .as_ref()
            .map(|t| (t.rec.target.clone(), t.rec.started.elapsed().as_secs_f64()))
    }

    /// Starts a take at the scheduler's next unemitted tick.
    pub(super) fn start(
        &mut self,
        target: PathBuf,
        sched: &Scheduler,
        provenance: Vec<String>,
        slow_disk: Option<Duration>,
        reports: &Sender<Report>,
    ) {
        let opts = RecordOptions {
            target,
            time_sig: sched.time_sig(),
            provenance,
            slow_disk,
        };
        match Recorder::start(opts) {
            Ok(rec) => {
                let _ = reports.send(Report::RecordingStarted(rec.target.clone()));
                let t0 = sched.emitted_to();
                let bpm = sched.tempo_map().bpm_at(t0);
                rec.send(RecordMsg::Tempo(0, bpm));
                rec.send(RecordMsg::Marker(0, "start".into()));
                let tempo_sent = sched
                    .tempo_map()
                    .changes()
                    .iter()
                    .filter(|c| c.0 <= t0)
                    .count();
                let markers_sent = sched.markers().iter().filter(|m| m.0 < t0).count();
                self.take = Some(Take {
                    rec,
                    t0,
                    tracks_sent: 0,
                    tempo_sent,
                    markers_sent,
                });
            }
            Err(e) => {
                let _ = reports.send(Report::RecordingFailed(e.to_string()));
            }
        }
    }

    /// Hands the take what it has not seen: new tracks, tempo changes, markers, and `events`.
    pub(super) fn feed(
        &mut self,
        events: &[TimedEvent],
        sched: &Scheduler,
        reports: &Sender<Report>,
    ) {
        let Some(rs) = self.take.as_mut() else { return };
        let tracks = sched.tracks();
        if tracks.len() > rs.tracks_sent {
            rs.rec
                .send(RecordMsg::Tracks(tracks[rs.tracks_sent..].to_vec()));
            rs.tracks_sent = tracks.len();
        }
        let changes = sched.tempo_map().changes();
        for (t, bpm) in changes.iter().skip(rs.tempo_sent) {
            rs.rec.send(RecordMsg::Tempo(t.saturating_sub(rs.t0), *bpm));
        }
        rs.tempo_sent = changes.len().max(rs.tempo_sent);
        let markers = sched.markers();
        for (t, m) in markers.iter().skip(rs.markers_sent) {
            rs.rec
                .send(RecordMsg::Marker(t.saturating_sub(rs.t0), m.clone()));
        }
        rs.markers_sent = markers.len();
        if !events.is_empty() {
            let shifted: Vec<TimedEvent> = events
                .iter()
                .filter(|e| e.tick >= rs.t0)
                .map(|e| TimedEvent {
                    tick: e.tick - rs.t0,
                    ..*e
                })
                .collect();
            if !rs.rec.send(RecordMsg::Events(shifted)) {
                let rs = self.take.take().expect("recording");
                let err = rs
                    .rec
                    .finish(0)
                    .err()
                    .map_or("recorder stopped".to_string(), |e| e.to_string());
                let _ = reports.send(Report::RecordingFailed(err));
            }
        }
    }

    /// Tells the take to stop at the scheduler's next unemitted tick; its file is written on
    /// the recorder's thread and reported by [`Recordings::collect`] when it is done.
    pub(super) fn stop(&mut self, sched: &Scheduler) {
        let Some(rs) = self.take.take() else {
            return;
        };
        let end = sched.emitted_to().saturating_sub(rs.t0);
        // Notes still sounding are closed at `end` by the recorder when it writes the file.
        rs.rec.send(RecordMsg::Marker(end, "stop".into()));
        rs.rec.request_stop(end);
        self.finishing.push(rs.rec);
    }

    /// Reports the recordings whose files are written (all of them, waiting, when `wait`);
    /// returns the path of the last one written.
    pub(super) fn collect(&mut self, wait: bool, reports: &Sender<Report>) -> Option<PathBuf> {
        let (done, busy): (Vec<Recorder>, Vec<Recorder>) = std::mem::take(&mut self.finishing)
            .into_iter()
            .partition(|r| wait || r.is_done());
        self.finishing = busy;
        let mut written = None;
        for rec in done {
            let _ = reports.send(match rec.finish(0) {
                Ok(f) => {
                    written = Some(f.path.clone());
                    Report::RecordingFinished {
                        path: f.path,
                        notes: f.notes,
                        max_backlog: f.max_backlog,
                    }
                }
                Err(e) => Report::RecordingFailed(e.to_string()),
            });
        }
        written
    }
}

/// What the session log and a take's provenance say about the performance.
pub(super) struct SessionFacts {
    started: Instant,
    started_wall: SystemTime,
    /// Every file that played.
    played: BTreeSet<String>,
    /// Provenance line of each LSTM model a loaded patch uses, by model name.
    models: BTreeMap<String, String>,
    /// Source hash of each installed file's latest version.
    hashes: HashMap<String, u64>,
    /// The last recording written.
    pub(super) recorded: Option<PathBuf>,
}

impl SessionFacts {
    pub(super) fn new() -> SessionFacts {
        SessionFacts {
            started: Instant::now(),
            started_wall: SystemTime::now(),
            played: Default::default(),
            models: Default::default(),
            hashes: HashMap::new(),
            recorded: None,
        }
    }

    /// A version of `file` (source hash `hash`, LSTM model provenance `models`) was installed.
    pub(super) fn installed(&mut self, file: &str, hash: u64, models: Vec<(String, String)>) {
        self.hashes.insert(file.to_string(), hash);
        self.played.insert(file.to_string());
        self.models.extend(models);
    }

    /// The provenance lines of a take started now.
    pub(super) fn provenance(&self, seed: u64) -> Vec<String> {
        let mut patches: Vec<(String, u64)> =
            self.hashes.iter().map(|(k, v)| (k.clone(), *v)).collect();
        patches.sort();
        provenance(
            &patches,
            seed,
            &self.models.values().cloned().collect::<Vec<_>>(),
        )
    }

    /// One line per performance in weft's own session log (a format `weft recommend` reads).
    pub(super) fn append_log(&self, path: &Path, sched: &Scheduler, reports: &Sender<Report>) {
        let secs = self
            .started_wall
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (y, mo, d, h, mi, s) = crate::record::civil(secs);
        let tempos: Vec<f64> = sched.tempo_map().changes().iter().map(|c| c.1).collect();
        let mut line = crate::logs::session::SessionLogLine::new(
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
            self.started.elapsed().as_secs_f64(),
            self.played.iter().cloned().collect(),
        );
        line.models = self.models.keys().cloned().collect();
        line.tempo_min = tempos.iter().copied().reduce(f64::min);
        line.tempo_max = tempos.iter().copied().reduce(f64::max);
        line.file = self.recorded.as_ref().map(|p| p.display().to_string());
        if let Err(e) = crate::logs::session::append_session_log(path, &line) {
            let _ = reports.send(Report::RecordingFailed(format!(
                "session log {}: {e}",
                path.display()
            )));
        }
    }
}
