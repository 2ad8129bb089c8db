//! View model: the plain data the engine (and the background worker) publishes for the
//! performance screen.
//!
//! Data flow: the engine builds a [`Snapshot`] from its own state a few dozen times a second
//! and sends it as `AppEvent::Snapshot`; the UI thread keeps the latest one and draws from it.
//! Nothing here refers back into the engine, so a snapshot can be built, cloned, sent across
//! threads and rendered in a test without any engine running. A source that does not exist
//! (yet) is an [`Availability::Unavailable`] with the reason, which the pane prints as
//! "not available: <reason>" — the UI never invents data.

/// Whether a source of data has something to show.
#[derive(Clone, Debug, PartialEq)]
pub enum Availability<T> {
    /// The data is here.
    Ready(T),
    /// The source exists and is computing (e.g. "fitting ALS on 3 users").
    Working(String),
    /// The source does not exist or failed; the string says why.
    Unavailable(String),
}

impl<T> Availability<T> {
    /// The data, if ready.
    pub fn ready(&self) -> Option<&T> {
        match self {
            Availability::Ready(t) => Some(t),
            _ => None,
        }
    }
}

impl<T> Default for Availability<T> {
    fn default() -> Self {
        Availability::Unavailable("waiting for the engine".to_string())
    }
}

/// Everything the screen shows about the running session, at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub transport: TransportView,
    /// One entry per patch file in the watched folder, in display order.
    pub patches: Vec<PatchView>,
    /// One entry per voice of every playing patch, in display order.
    pub voices: Vec<VoiceView>,
    pub spectrum: Availability<SpectrumView>,
    /// Recommendations; an `AppEvent::Recommend` overrides this field for good (see `App`).
    pub recommend: Availability<RecommendView>,
    /// Forecast; an `AppEvent::Forecast` overrides this field for good (see `App`).
    pub forecast: Availability<ForecastView>,
}

/// Transport and audio-engine status.
#[derive(Clone, Debug, PartialEq)]
pub struct TransportView {
    pub playing: bool,
    pub tempo_bpm: f64,
    /// 1-based bar number.
    pub bar: u64,
    /// 1-based beat within the bar.
    pub beat: u32,
    /// Position within the current beat, 0.0 ..= 1.0 (drives the beat flash).
    pub beat_phase: f32,
    /// Numerator and denominator of the time signature.
    pub time_sig: (u8, u8),
    /// Time spent in the audio callback as a percentage of the buffer period.
    pub audio_load_pct: f32,
    pub underruns: u64,
    /// Frames of streamed sample files the streaming thread delivered too late (silence);
    /// shown as `stream late N` only when not zero.
    pub stream_late: u64,
    pub lookahead_ms: f32,
    /// Output device name; `None` means the silent clock ("null sink").
    pub device: Option<String>,
    pub sample_rate: Option<u32>,
    pub recording: Option<RecView>,
    /// Outputs besides the synth (OSC, MIDI out, MIDI clock), in the order they opened;
    /// when there are any the transport pane gets a third line for them.
    pub outputs: Vec<OutputView>,
}

/// One output besides the synth.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputView {
    /// "osc", "midi out", "midi clock".
    pub kind: String,
    /// Where it goes: `127.0.0.1:57120`, a port name.
    pub target: String,
    pub state: OutputViewState,
    pub sent: u64,
    pub dropped: u64,
    /// Cycles its JACK server missed while it sent (MIDI in them may be lost).
    pub xruns: u64,
}

/// How an output is doing (the screen's copy of `outputs::OutputState`).
#[derive(Clone, Debug, PartialEq)]
pub enum OutputViewState {
    Active,
    /// Running but its peer is missing; the string says what.
    Waiting(String),
    Failed(String),
}

impl Default for TransportView {
    fn default() -> Self {
        TransportView {
            playing: false,
            tempo_bpm: 120.0,
            bar: 1,
            beat: 1,
            beat_phase: 0.0,
            time_sig: (4, 4),
            audio_load_pct: 0.0,
            underruns: 0,
            stream_late: 0,
            lookahead_ms: 50.0,
            device: None,
            sample_rate: None,
            recording: None,
            outputs: Vec::new(),
        }
    }
}

/// An SMF recording in progress.
#[derive(Clone, Debug, PartialEq)]
pub struct RecView {
    pub file: String,
    pub elapsed_s: f64,
}

/// One patch file.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchView {
    /// File name as shown, e.g. `groove.rhai`.
    pub file: String,
    pub state: PatchState,
    /// Save-to-swap latency of the last successful reload, in milliseconds.
    pub last_reload_ms: Option<f64>,
}

/// Where a patch file stands.
#[derive(Clone, Debug, PartialEq)]
pub enum PatchState {
    Playing,
    /// Compiled and waiting for its quantized swap point.
    Pending {
        at_bar: u64,
    },
    /// The last save failed; `last_good_playing` tells whether an older version still plays.
    Error {
        line: u32,
        col: u32,
        message: String,
        last_good_playing: bool,
    },
    /// The playing version fails while it runs (`on_bar`, `every`, a voice): its last good bar
    /// plays instead, from `bar` (counted from 1, as the transport shows bars).
    RuntimeError {
        line: u32,
        col: u32,
        message: String,
        bar: u64,
    },
}

impl PatchState {
    /// True when the file needs the performer: a rejected save or a runtime error.
    pub fn is_failing(&self) -> bool {
        matches!(
            self,
            PatchState::Error { .. } | PatchState::RuntimeError { .. }
        )
    }
}

/// One voice of a patch.
#[derive(Clone, Debug, PartialEq)]
pub struct VoiceView {
    /// `file_stem.voice`, e.g. `groove.kick`; also the name sent in `UiCommand::Mute`.
    pub name: String,
    pub muted: bool,
    pub soloed: bool,
    /// Recent and upcoming notes, times relative to now (see [`NoteView`]).
    pub notes: Vec<NoteView>,
    /// `None` for a pattern voice; for an LSTM voice the top-k next-note probabilities,
    /// or why they are not available (e.g. model missing).
    pub lstm_top: Option<Availability<Vec<(String, f32)>>>,
}

/// A note in a voice's piano roll.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoteView {
    /// Start relative to the current transport position, in ticks (960 per quarter note);
    /// negative is in the past.
    pub start_tick: i64,
    pub dur_ticks: u32,
    pub key: u8,
    pub vel: u8,
}

/// Live analysis of the rendered audio.
#[derive(Clone, Debug, PartialEq)]
pub struct SpectrumView {
    /// Magnitudes in dBFS on log-spaced frequency bands, lowest band first.
    pub bands: Vec<f32>,
    /// Lowest and highest band centre in Hz (for the axis labels).
    pub band_range_hz: (f32, f32),
    pub rms: f32,
    pub centroid_hz: f32,
    pub rolloff_hz: f32,
    pub flatness: f32,
    pub flux: f32,
    pub onset: bool,
    pub bpm: Option<f32>,
    /// Chroma energy per pitch class C..B, 0.0 ..= 1.0.
    pub chroma: [f32; 12],
    /// Nearest saved sessions/samples by cosine similarity.
    pub sounds_like: Vec<(String, f32)>,
    pub dropped_frames: u64,
}

/// Recommendations from the listening logs.
#[derive(Clone, Debug, PartialEq)]
pub struct RecommendView {
    /// Which model produced them, e.g. `item-kNN`.
    pub model: String,
    pub user: Option<String>,
    pub items: Vec<RecItem>,
}

/// One recommended item.
#[derive(Clone, Debug, PartialEq)]
pub struct RecItem {
    pub title: String,
    pub artist: String,
    pub score: f32,
    /// The items that led to it, most influential first.
    pub because: Vec<String>,
}

/// A daily forecast with its history.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastView {
    /// What is forecast, e.g. `plays/day (all artists)`.
    pub series: String,
    /// Which model, e.g. `Holt-Winters (weekly)`.
    pub model: String,
    /// Observed values, one per day, oldest first; the last one is "today".
    pub history: Vec<f64>,
    /// The days after the last observed one.
    pub forecast: Vec<ForecastPoint>,
    /// Date labels of the first history day and the last forecast day.
    pub first_date: String,
    pub last_date: String,
    /// Backtest summary, e.g. `MASE 0.82  80% cov 79%`.
    pub backtest: Option<String>,
}

/// One forecast day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForecastPoint {
    pub mean: f64,
    pub lo80: f64,
    pub hi80: f64,
    pub lo95: f64,
    pub hi95: f64,
}
