//! The status builder: what the scheduler thread publishes for the screen about 30 times a
//! second ([`Status`]), built from the scheduler plus what only the status needs to keep —
//! the recent notes of the voices pane and each file's last reload time.

use super::{FileStatus, RecentNote, Status, TrackStatus};
use crate::engine::event::{Frame, Tick};
use crate::engine::scheduler::Scheduler;
use crate::patch::PatchError;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Recent notes kept for the voices pane.
const RECENT: usize = 256;
/// Time between two published statuses (about 30 a second).
const EVERY: Duration = Duration::from_millis(33);

/// What the scheduler thread knows that goes into a status besides the scheduler itself.
pub(super) struct StatusInputs<'a> {
    pub now: Frame,
    pub playing: bool,
    pub lookahead: Duration,
    pub late: u64,
    pub dropped: u64,
    pub errors: &'a HashMap<String, PatchError>,
    pub spectrum: Option<crate::analysis::Features>,
    pub features_dropped: u64,
    pub recording: Option<(PathBuf, f64)>,
}

pub(super) struct StatusBuilder {
    recent: VecDeque<RecentNote>,
    reload_ms: HashMap<String, f64>,
    /// When the last status was published.
    pub(super) last_sent: Instant,
}

impl StatusBuilder {
    pub(super) fn new() -> StatusBuilder {
        StatusBuilder {
            recent: VecDeque::new(),
            reload_ms: HashMap::new(),
            last_sent: Instant::now(),
        }
    }

    /// A note started (kept for the voices pane, the last [`RECENT`]).
    pub(super) fn played(&mut self, note: RecentNote) {
        self.recent.push_back(note);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// `file`'s latest save took `ms` from the save to ready.
    pub(super) fn reloaded(&mut self, file: &str, ms: f64) {
        self.reload_ms.insert(file.to_string(), ms);
    }

    /// True (and the clock restarted) when the next status is due.
    pub(super) fn due(&mut self) -> bool {
        if self.last_sent.elapsed() >= EVERY {
            self.last_sent = Instant::now();
            true
        } else {
            false
        }
    }

    pub(super) fn build(&self, sched: &Scheduler, s: StatusInputs<'_>) -> Status {
        let tick = if s.playing {
            let f = s.now.saturating_sub(sched.frame_offset());
            sched.tempo_map().frame_to_tick(f).min(sched.emitted_to())
        } else {
            sched.emitted_to()
        };
        let sig = sched.time_sig();
        let (bar, beat) = sig.bar_beat(tick);
        let phase = ((tick % sig.ticks_per_beat()) as f32) / sig.ticks_per_beat() as f32;
        let pending: HashMap<String, Tick> = sched.pending().into_iter().collect();
        let mut names: Vec<String> = sched.files().into_iter().map(|f| f.0).collect();
        names.extend(s.errors.keys().cloned());
        names.extend(pending.keys().cloned());
        names.sort();
        names.dedup();
        let files = names
            .into_iter()
            .map(|f| {
                let version = sched.files().iter().find(|x| x.0 == f).map_or(0, |x| x.1);
                FileStatus {
                    playing: version > 0,
                    version,
                    pending_bar: pending.get(&f).map(|t| sig.bar_of(*t)),
                    error: s.errors.get(&f).cloned(),
                    last_reload_ms: self.reload_ms.get(&f).copied(),
                    file: f,
                }
            })
            .collect();
        Status {
            playing: s.playing,
            tempo: sched.tempo_map().bpm_at(tick),
            tick,
            bar,
            beat,
            beat_phase: phase,
            time_sig: (sig.num, sig.den),
            lookahead_ms: s.lookahead.as_secs_f64() * 1000.0,
            late_events: s.late,
            dropped_events: s.dropped,
            files,
            tracks: sched
                .tracks()
                .iter()
                .map(|t| TrackStatus {
                    info: t.clone(),
                    muted: sched.is_muted(&t.name),
                    soloed: sched.is_soloed(&t.name),
                })
                .collect(),
            recent: self.recent.iter().cloned().collect(),
            spectrum: s.spectrum,
            features_dropped: s.features_dropped,
            lstm_top: lstm_top(sched),
            recording: s.recording,
        }
    }
}

/// Top next-event probabilities of each LSTM voice, by track name.
fn lstm_top(sched: &Scheduler) -> Vec<(String, Vec<(String, f32)>)> {
    let mut out = Vec::new();
    for (file, _) in sched.files() {
        let Some(p) = sched.patch(&file) else {
            continue;
        };
        let stem = file.strip_suffix(".rhai").unwrap_or(&file).to_string();
        for v in p.base_voices() {
            if matches!(v.source, crate::patch::Source::Lstm(_)) {
                if let Some(top) = sched.lstm_top(p.display_name(), &v.name, 5) {
                    out.push((format!("{stem}.{}", v.name), top));
                }
            }
        }
    }
    out
}
