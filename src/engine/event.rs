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
    /// General MIDI program (for `SynthKind::Gm`), 0-based.
    pub program: u8,
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
            program: 0,
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
}

impl Param {
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
            _ => return None,
        })
    }

    /// Applies the value to a sound (used for notes started after the change).
    pub fn apply(self, sound: &mut Sound, value: f32) {
        match self {
            Param::Cutoff => sound.cutoff = value.clamp(20.0, 20_000.0),
            Param::Resonance => sound.resonance = value.clamp(0.0, 1.0),
            Param::Gain => sound.gain = value.clamp(0.0, 4.0),
            Param::Pan => sound.pan = value.clamp(-1.0, 1.0),
            Param::Attack => sound.attack = value.clamp(0.0, 10.0),
            Param::Decay => sound.decay = value.clamp(0.0, 10.0),
            Param::Sustain => sound.sustain = value.clamp(0.0, 1.0),
            Param::Release => sound.release = value.clamp(0.0, 10.0),
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
