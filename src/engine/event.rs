//! Timestamped events: the one currency between the scheduler and every consumer
//! (synth, recorder, MIDI writer, TUI).
//!
//! An event carries both its musical time (`tick`, 960 per quarter note) and its audio
//! time (`frame`, at the session sample rate), computed once by the scheduler from the
//! tempo map. Consumers never convert time themselves: the synth starts a note at exactly
//! `frame`, the recorder writes it at exactly `tick`.
//!
//! Everything here is `Copy` plain data so it can cross the lock-free ring into the audio
//! callback without allocation.

/// Musical time: ticks since the start of the transport, 960 per quarter note.
pub type Tick = u64;
/// Audio time: sample frames since the start of the transport.
pub type Frame = u64;

/// Index of a track (one voice of one patch file) in the session's track table.
pub type TrackId = u16;

/// Which built-in sound generator plays a note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SynthKind {
    #[default]
    Sine,
    Saw,
    Square,
    Tri,
    Noise,
    Pluck,
    Fm,
    Kick,
    Snare,
    Hat,
    Clap,
    /// One-shot sample from `samples/`, chosen by `Sound::sample`.
    Sample,
    /// General MIDI program from the SoundFont, chosen by `Sound::program`.
    Gm,
}

impl SynthKind {
    /// All kinds with the name a patch uses for them.
    pub const ALL: [(&'static str, SynthKind); 13] = [
        ("sine", SynthKind::Sine),
        ("saw", SynthKind::Saw),
        ("square", SynthKind::Square),
        ("tri", SynthKind::Tri),
        ("noise", SynthKind::Noise),
        ("pluck", SynthKind::Pluck),
        ("fm", SynthKind::Fm),
        ("kick", SynthKind::Kick),
        ("snare", SynthKind::Snare),
        ("hat", SynthKind::Hat),
        ("clap", SynthKind::Clap),
        ("sample", SynthKind::Sample),
        ("gm", SynthKind::Gm),
    ];

    /// Parses the name used in patches (`synth: "saw"`).
    pub fn from_name(name: &str) -> Option<SynthKind> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| *k)
    }

    /// The name used in patches.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("sine")
    }

    /// Drum synths default to MIDI channel 10 and a GM drum key.
    pub fn is_drum(self) -> bool {
        matches!(
            self,
            SynthKind::Kick | SynthKind::Snare | SynthKind::Hat | SynthKind::Clap
        )
    }

    /// The key a bare `x` step plays for this synth (GM drum map for drums, C4 otherwise).
    pub fn default_key(self) -> u8 {
        match self {
            SynthKind::Kick => 36,
            SynthKind::Snare => 38,
            SynthKind::Hat => 42,
            SynthKind::Clap => 39,
            _ => 60,
        }
    }
}

/// The response of a voice's state-variable filter (`lpf`, `hpf`, `bpf` in a patch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FilterMode {
    #[default]
    LowPass,
    HighPass,
    BandPass,
}

/// Where a voice's notes go (`out:` in a patch): the synth, MIDI out, or both. `Auto` is
/// the synth, plus MIDI out when the session has one (`--midi-out`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Route {
    #[default]
    Auto,
    Synth,
    Midi,
    Both,
}

impl Route {
    /// Whether the synth plays the note.
    pub fn to_synth(self) -> bool {
        !matches!(self, Route::Midi)
    }
    /// Whether MIDI out sends the note (when there is a MIDI out).
    pub fn to_midi(self) -> bool {
        !matches!(self, Route::Synth)
    }
}

/// How a note sounds: everything the synth needs to start a voice, carried by value in
/// every note-on so the audio thread never looks anything up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sound {
    pub synth: SynthKind,
    /// ADSR in seconds (sustain is a level 0..=1).
    pub attack: f32,
    pub decay: f32,
    pub sustain: f32,
    pub release: f32,
    /// State-variable low-pass filter cutoff in Hz and resonance 0..=1.
    pub cutoff: f32,
    pub resonance: f32,
    /// Linear gain and pan (-1 left .. 1 right).
    pub gain: f32,
    pub pan: f32,
    /// Sample index (for `SynthKind::Sample`) — the mini-notation `:n`.
    pub sample: u16,
    /// Sample folder (for `SynthKind::Sample`): 0 = the flat bank of loose `*.wav` files,
    /// k = the k-th folder of the bank in name order (`bd:3` → folder of `bd`, sample 3).
    pub folder: u16,
    /// Which sample bank (for `SynthKind::Sample`): 0 = the one the synth started with, else
    /// the generation of a bank hot-swapped in when a saved patch changed `samples("…")`
    /// (`sound::synth::BankSwap`).
    pub bank: u32,
    /// Sample playback: the part played (`begin`..`end`, fractions 0..=1 of the file),
    /// `speed` (1 = as recorded, 2 = an octave up, negative = reversed), `looped` (loop the
    /// part while the note is held) and the `cut` group (0 = none; a new note in a group
    /// chokes the group's sounding notes with a short fade).
    pub begin: f32,
    pub end: f32,
    pub speed: f32,
    pub looped: bool,
    pub cut: u8,
    /// General MIDI program (for `SynthKind::Gm`), 0-based.
    pub program: u8,
    /// Which response the filter has (`cutoff` is its corner or centre frequency).
    pub filter: FilterMode,
    /// Per-voice inserts: drive 0..=10 (0 off), bit depth 1..=16 (0 off), sample-rate
    /// division 1..=64 (1 off), tremolo depth 0..=1 and rate in Hz.
    pub distort: f32,
    pub crush: f32,
    pub coarse: f32,
    pub tremolo: f32,
    pub tremolorate: f32,
    /// Send levels 0..=1 into the shared delay and reverb buses.
    pub delay: f32,
    pub room: f32,
    /// Delay bus settings: time (in beats, or seconds when `delay_in_secs`), feedback
    /// 0..=0.95, ping-pong. Taken by the bus from notes with a `delay` send.
    pub delaytime: f32,
    pub delay_in_secs: bool,
    pub delayfeedback: f32,
    pub pingpong: bool,
    /// Reverb bus settings 0..=1: `size` sets the decay time, `damp` the high-frequency loss.
    pub size: f32,
    pub damp: f32,
    /// Seconds per beat at this note's tick, stamped by the scheduler so the synth can
    /// turn a `delaytime` in beats into frames.
    pub beat_secs: f32,
    /// The note's length in ticks, stamped by the scheduler when it plans the note (outputs
    /// whose notes carry their own length, like SuperDirt's `delta`, read it; 0 = unknown).
    pub dur_ticks: u32,
    /// Where the note goes (the synth, MIDI out, both).
    pub out: Route,
}

impl Default for Sound {
    fn default() -> Self {
        Sound {
            synth: SynthKind::Sine,
            attack: 0.005,
            decay: 0.1,
            sustain: 0.8,
            release: 0.1,
            cutoff: 18_000.0,
            resonance: 0.1,
            gain: 0.8,
            pan: 0.0,
            sample: 0,
            folder: 0,
            bank: 0,
            begin: 0.0,
            end: 1.0,
            speed: 1.0,
            looped: false,
            cut: 0,
            program: 0,
            filter: FilterMode::LowPass,
            distort: 0.0,
            crush: 0.0,
            coarse: 1.0,
            tremolo: 0.0,
            tremolorate: 4.0,
            delay: 0.0,
            room: 0.0,
            delaytime: 0.75,
            delay_in_secs: false,
            delayfeedback: 0.4,
            pingpong: false,
            size: 0.4,
            damp: 0.3,
            beat_secs: 0.5,
            dur_ticks: 0,
            out: Route::Auto,
        }
    }
}

/// A sound parameter that can be changed while notes are sounding (`param("bass.cutoff", v)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    Cutoff,
    Resonance,
    Gain,
    Pan,
    Attack,
    Decay,
    Sustain,
    Release,
    /// Cutoff plus filter response (Strudel's `lpf`, `hpf`, `bpf`).
    Lpf,
    Hpf,
    Bpf,
    Distort,
    Crush,
    Coarse,
    Tremolo,
    TremoloRate,
    Delay,
    DelayTime,
    DelayFeedback,
    Room,
    Size,
    Damp,
    /// Sample playback rate (sounding sample notes glide to it); `begin`/`end` (fractions of
    /// the file) apply from the next sample note.
    Speed,
    Begin,
    End,
    /// Any MIDI controller 0..=119 (`cc("voice", n, value)`, value 0..=127): MIDI out only.
    Cc(u8),
}

impl Param {
    /// The names `param("voice.name", v)` accepts (`res` is also accepted for resonance).
    pub const NAMES: [&'static str; 25] = [
        "cutoff",
        "resonance",
        "gain",
        "pan",
        "attack",
        "decay",
        "sustain",
        "release",
        "lpf",
        "hpf",
        "bpf",
        "distort",
        "crush",
        "coarse",
        "tremolo",
        "tremolorate",
        "delay",
        "delaytime",
        "delayfeedback",
        "room",
        "size",
        "damp",
        "speed",
        "begin",
        "end",
    ];

    /// The range a value is clamped to (the patch side also rejects NaN/inf and negatives).
    pub fn range(self) -> (f32, f32) {
        match self {
            Param::Cutoff | Param::Lpf | Param::Hpf | Param::Bpf => (20.0, 20_000.0),
            Param::Resonance | Param::Sustain => (0.0, 1.0),
            Param::Gain => (0.0, 4.0),
            Param::Pan => (-1.0, 1.0),
            Param::Attack | Param::Decay | Param::Release => (0.0, 10.0),
            Param::Distort => (0.0, 10.0),
            Param::Crush => (0.0, 16.0),
            Param::Coarse => (1.0, 64.0),
            Param::Tremolo | Param::Delay | Param::Room | Param::Size | Param::Damp => (0.0, 1.0),
            Param::TremoloRate => (0.0, 40.0),
            Param::Speed => (-64.0, 64.0),
            Param::Begin | Param::End => (0.0, 1.0),
            Param::DelayTime => (0.0, 16.0),
            Param::DelayFeedback => (0.0, 0.95),
            Param::Cc(_) => (0.0, 127.0),
        }
    }

    pub fn from_name(name: &str) -> Option<Param> {
        Some(match name {
            "cutoff" => Param::Cutoff,
            "resonance" | "res" => Param::Resonance,
            "gain" => Param::Gain,
            "pan" => Param::Pan,
            "attack" => Param::Attack,
            "decay" => Param::Decay,
            "sustain" => Param::Sustain,
            "release" => Param::Release,
            "lpf" => Param::Lpf,
            "hpf" => Param::Hpf,
            "bpf" => Param::Bpf,
            "distort" => Param::Distort,
            "crush" => Param::Crush,
            "coarse" => Param::Coarse,
            "tremolo" => Param::Tremolo,
            "tremolorate" => Param::TremoloRate,
            "delay" => Param::Delay,
            "delaytime" => Param::DelayTime,
            "delayfeedback" => Param::DelayFeedback,
            "room" => Param::Room,
            "size" => Param::Size,
            "damp" => Param::Damp,
            "speed" => Param::Speed,
            "begin" => Param::Begin,
            "end" => Param::End,
            _ => return None,
        })
    }

    /// Applies the value to a sound (used for notes started after the change).
    pub fn apply(self, sound: &mut Sound, value: f32) {
        let (lo, hi) = self.range();
        let v = value.clamp(lo, hi);
        match self {
            Param::Cutoff => sound.cutoff = v,
            Param::Resonance => sound.resonance = v,
            Param::Gain => sound.gain = v,
            Param::Pan => sound.pan = v,
            Param::Attack => sound.attack = v,
            Param::Decay => sound.decay = v,
            Param::Sustain => sound.sustain = v,
            Param::Release => sound.release = v,
            Param::Lpf | Param::Hpf | Param::Bpf => {
                sound.cutoff = v;
                sound.filter = self.filter_mode().unwrap_or_default();
            }
            Param::Distort => sound.distort = v,
            Param::Crush => sound.crush = v,
            Param::Coarse => sound.coarse = v,
            Param::Tremolo => sound.tremolo = v,
            Param::TremoloRate => sound.tremolorate = v,
            Param::Delay => sound.delay = v,
            Param::DelayTime => sound.delaytime = v,
            Param::DelayFeedback => sound.delayfeedback = v,
            Param::Room => sound.room = v,
            Param::Size => sound.size = v,
            Param::Damp => sound.damp = v,
            Param::Speed => sound.speed = v,
            Param::Begin => sound.begin = v,
            Param::End => sound.end = v,
            Param::Cc(_) => {}
        }
    }

    /// The filter response an `lpf`/`hpf`/`bpf` parameter selects.
    pub fn filter_mode(self) -> Option<FilterMode> {
        match self {
            Param::Lpf => Some(FilterMode::LowPass),
            Param::Hpf => Some(FilterMode::HighPass),
            Param::Bpf => Some(FilterMode::BandPass),
            _ => None,
        }
    }
}

/// What happens at an instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// `channel` is 0..=15 on the wire (patches count 1..=16).
    NoteOn {
        track: TrackId,
        channel: u8,
        key: u8,
        vel: u8,
        sound: Sound,
    },
    NoteOff {
        track: TrackId,
        channel: u8,
        key: u8,
    },
    /// A live parameter change for every sounding and future note of a track.
    Param {
        track: TrackId,
        param: Param,
        value: f32,
    },
}

impl Event {
    pub fn track(&self) -> TrackId {
        match *self {
            Event::NoteOn { track, .. }
            | Event::NoteOff { track, .. }
            | Event::Param { track, .. } => track,
        }
    }
}

/// An event at a sample-accurate instant, with the musical tick it was scheduled at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedEvent {
    pub tick: Tick,
    pub frame: Frame,
    pub event: Event,
}

/// A track of the session: one voice of one patch file. Sent to the recorder and the MIDI
/// writer so each voice becomes a named SMF track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInfo {
    pub id: TrackId,
    /// `file_stem.voice`, e.g. `groove.kick`.
    pub name: String,
    /// MIDI channel 0..=15 on the wire (patches say 1..=16; drums are 10, i.e. 9 here).
    pub channel: u8,
    /// GM program for `synth: "gm"` voices.
    pub program: Option<u8>,
}
