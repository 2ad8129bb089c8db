//! What crosses the live engine's edge: the performer's [`Command`]s in, the engine's
//! [`Report`]s out (with the [`Status`] snapshot the screen draws), and one line of text per
//! report for stderr or the messages pane ([`describe_report`]).

use crate::engine::event::{Tick, TrackInfo};
use crate::engine::scheduler::Notice;
use crate::patch::PatchError;
use std::path::PathBuf;
use std::time::Instant;

/// Commands from the performer (TUI keys, signals).
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Start or stop the transport.
    TogglePlay,
    /// Start recording (to this file, or a dated name in the recordings folder) or stop.
    ToggleRecord,
    TempoDelta(f64),
    ToggleMute(String),
    ToggleSolo(String),
    /// All notes off and all sound off on every MIDI channel, now.
    Panic,
    Quit,
}

/// A file as the patches pane shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct FileStatus {
    pub file: String,
    pub version: u32,
    pub playing: bool,
    pub pending_bar: Option<u64>,
    pub error: Option<PatchError>,
    pub last_reload_ms: Option<f64>,
}

/// A track as the voices pane shows it: what it is, and whether it is muted or soloed.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackStatus {
    pub info: TrackInfo,
    pub muted: bool,
    pub soloed: bool,
}

/// A recent note for the voices pane.
#[derive(Clone, Debug, PartialEq)]
pub struct RecentNote {
    pub track: String,
    pub tick: Tick,
    pub key: u8,
    pub vel: u8,
}

/// The engine's state, published for the TUI about 30 times a second.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Status {
    pub playing: bool,
    pub tempo: f64,
    pub tick: Tick,
    pub bar: u64,
    pub beat: u64,
    pub beat_phase: f32,
    pub time_sig: (u8, u8),
    pub lookahead_ms: f64,
    pub late_events: u64,
    /// Events the synth's ring had no room for.
    pub dropped_events: u64,
    pub files: Vec<FileStatus>,
    pub tracks: Vec<TrackStatus>,
    pub recent: Vec<RecentNote>,
    pub recording: Option<(PathBuf, f64)>,
    /// The analyzer's latest frame, and frames dropped because scripts were slow.
    pub spectrum: Option<crate::analysis::Features>,
    pub features_dropped: u64,
    /// Top next-event probabilities of LSTM voices, by track name.
    pub lstm_top: Vec<(String, Vec<(String, f32)>)>,
}

/// What the engine tells the performer.
#[derive(Clone, Debug)]
pub enum Report {
    /// A save compiled and passed its dry run; it takes over at `bar`.
    Ready {
        file: String,
        bar: u64,
        ready_ms: f64,
    },
    Rejected {
        error: PatchError,
    },
    Notice(Notice),
    /// Events emitted after their frame had already passed.
    Late {
        count: u64,
    },
    /// Events the synth's ring had no room for (note-ons first: note-offs have reserved room).
    Dropped {
        count: u64,
    },
    /// A thread of the engine died (a bug in weft, never a patch's fault). When it stopped
    /// the music (the scheduler), the recording was finished before this report and `Stopped`
    /// follows; otherwise (the compile worker) the music plays on but saves no longer load.
    Died {
        thread: String,
        message: String,
        music_stopped: bool,
    },
    RecordingStarted(PathBuf),
    RecordingFinished {
        path: PathBuf,
        notes: usize,
        /// Most events that waited for the disk at once.
        max_backlog: u64,
    },
    RecordingFailed(String),
    /// The live analyzer was asked for new frame settings: by `file`'s `analyze(#{...})`,
    /// or back to the defaults (`file` None) when no loaded patch asks any more.
    Analysis {
        fft: usize,
        hop: usize,
        file: Option<String>,
    },
    Status(Box<Status>),
    /// The first event of a new version was emitted (for latency measurement).
    FirstEvent {
        file: String,
        version: u32,
        at: Instant,
    },
    Stopped,
    /// A line for the performer that needs no action (e.g. the scheduler's priority).
    Info(String),
}

/// One line for stderr / the messages pane.
pub fn describe(n: &Notice) -> String {
    match n {
        Notice::Swapped {
            file, version, bar, ..
        } => {
            if *version == 1 {
                format!("{file}: playing from bar {}", bar + 1)
            } else {
                format!("{file}: v{version} swapped in at bar {}", bar + 1)
            }
        }
        Notice::Removed { file, .. } => format!("{file}: removed, stopped"),
        Notice::RuntimeError { error, bar } => {
            format!(
                "{error} (bar {}; playing the last good bar instead)",
                bar + 1
            )
        }
        Notice::Recovered { file, bar } => format!("{file}: running again from bar {}", bar + 1),
        Notice::Print { file, line } => format!("{file}: {line}"),
        Notice::Tempo { bpm, .. } => format!("tempo {bpm} BPM"),
    }
}

/// One line for a report, or None for reports that are not for people (status, timing).
pub fn describe_report(r: &Report) -> Option<String> {
    Some(match r {
        Report::Ready {
            file,
            bar,
            ready_ms,
        } => {
            format!(
                "{file}: loaded in {ready_ms:.1} ms, takes over at bar {}",
                bar + 1
            )
        }
        Report::Rejected { error } => {
            format!("{error} (rejected; the last good version keeps playing)")
        }
        Report::Notice(n) => describe(n),
        Report::Late { count } => format!("warning: {count} late events"),
        Report::Dropped { count } => {
            format!("warning: {count} events dropped (the synth's queue was full)")
        }
        Report::Died {
            thread,
            message,
            music_stopped,
        } => {
            if *music_stopped {
                format!("error: the {thread} thread died ({message}); the music stopped")
            } else {
                format!(
                    "error: the {thread} thread died ({message}); the music plays on, but saves \
                     no longer load: restart weft"
                )
            }
        }
        Report::RecordingStarted(p) => format!("recording to {}", p.display()),
        Report::RecordingFinished {
            path,
            notes,
            max_backlog,
        } => {
            format!(
                "recorded {notes} notes to {} (at most {max_backlog} events waited for the disk)",
                path.display()
            )
        }
        Report::RecordingFailed(e) => format!("recording failed: {e}"),
        Report::Analysis { fft, hop, file } => match file {
            Some(f) => format!("analysis: fft {fft}, hop {hop} (asked by {f})"),
            None => format!("analysis: fft {fft}, hop {hop} (default)"),
        },
        Report::Stopped => "stopped".to_string(),
        Report::Info(line) => line.clone(),
        Report::Status(_) | Report::FirstEvent { .. } => return None,
    })
}
