//! General MIDI voices through a SoundFont, played by rustysynth (vendored in
//! `vendor/rustysynth` with faster voice loops: four voices per SSE pass for filter, gain
//! ramp and stereo mix; see its VENDORED.md). The SoundFont is parsed
//! once at engine construction; on the audio thread this only forwards note/controller
//! messages and renders into preallocated scratch buffers that the engine mixes in.
//!
//! Timing: rustysynth applies messages at the start of its next internal block, so GM
//! onsets land within `GM_BLOCK` frames after their event frame (built-in synths are exact).
//! The block is 64 frames (1.33 ms at 48 kHz), fluidsynth's default too: rustysynth does
//! its per-voice work (envelopes, LFOs, pitch, pan) once per block, and at 16 frames that
//! work was ~40 % of a busy GM render.
//!
//! Gain staging (docs/sound.md, "Loudness"): a GM note at gain `g` and velocity `v` is as
//! loud as the built-in `saw` with the same gain and velocity (drums: as the built-in
//! kick, snare and hat). rustysynth's own chain is master volume 0.5 × (CC7/127)² × a
//! −3 dB centre pan × velocity² × the SoundFont's sample levels and attenuations, which
//! left every program 15–40 dB below the built-ins, by a different amount per program. So
//! at load each program's loudness ([`super::dsp::loudness`]) is measured at full channel
//! volume and velocity 127 on three keys; its factor is the built-in reference over that
//! measurement. A note sets its channel's volume (14-bit CC7/CC39, squared by rustysynth)
//! so that master × volume² = gain × factor: one linear control per channel, no table of
//! numbers, and it works for any SoundFont. Velocity needs nothing: rustysynth's curve is
//! velocity², the built-ins' too. rustysynth's reverb and chorus are off (weft's buses are
//! the effects; they also cost more than the voices on a busy render).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use rayon::prelude::*;
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use super::dsp::loudness;
use super::voice::{Ctx, Voice};
use super::SynthError;
use crate::engine::event::{Sound, SynthKind, TrackId};

/// rustysynth's internal block: the GM onset granularity (1.33 ms at 48 kHz).
pub const GM_BLOCK: usize = 64;
/// Longest segment rendered in one call; longer ones are split.
const SCRATCH: usize = 1024;
/// Sounding GM notes remembered for note-off and per-track parameters.
const MAX_NOTES: usize = 256;
/// Largest `gain` of a GM voice (the built-in voices' limit too).
pub const GAIN_MAX: f32 = 4.0;
/// The drum channel (MIDI channel 10).
const DRUM_CHANNEL: u8 = 9;
/// Index of the drum kit in the factor table (after the 128 melodic programs).
const KIT: usize = 128;
/// Calibration: sample rate, note length, and the keys measured (their power mean).
const CAL_RATE: i32 = 32_000;
const CAL_SECS: f32 = 1.0;
const CAL_KEYS: [u8; 3] = [48, 60, 72];
/// Drum keys measured for the kit, and the built-in drum each is balanced against.
const KIT_KEYS: [(u8, SynthKind); 3] = [
    (36, SynthKind::Kick),
    (38, SynthKind::Snare),
    (42, SynthKind::Hat),
];
/// Measurements below this are silence (a missing preset): such a program gets the
/// median factor.
const SILENT: f32 = 1e-6;
/// Largest factor of a program over the median program's (40 dB).
const MAX_BOOST: f32 = 100.0;

#[derive(Clone, Copy)]
struct Held {
    track: TrackId,
    channel: u8,
    key: u8,
}

pub struct Gm {
    synth: Synthesizer,
    left: Vec<f32>,
    right: Vec<f32>,
    programs: [u8; 16],
    held: Vec<Held>,
    /// Per melodic program (and `KIT` for the drum kit): the channel gain that makes a
    /// note as loud as the built-in reference at the same gain and velocity.
    factor: [f32; 129],
    /// rustysynth's master volume: the largest channel gain a note can ask for, so every
    /// channel volume is ≤ 1.
    master: f32,
}

/// What the SoundFont's programs measure at full channel volume and velocity 127
/// ([`loudness`], power mean over the calibration keys); index `KIT` is the drum kit.
type Measured = [f32; 129];

/// Parsed SoundFonts and their measurements, by file (path, length, modification time):
/// engines are rebuilt for every render and test, the calibration needs doing once.
type Cached = (
    PathBuf,
    u64,
    Option<SystemTime>,
    Arc<SoundFont>,
    Arc<Measured>,
);
static CACHE: Mutex<Vec<Cached>> = Mutex::new(Vec::new());
/// SoundFonts kept in the cache (the oldest is dropped).
const CACHE_FONTS: usize = 2;

fn load_font(path: &Path) -> Result<(Arc<SoundFont>, Arc<Measured>), SynthError> {
    let io = |e| SynthError::Io(path.display().to_string(), e);
    let meta = std::fs::metadata(path).map_err(io)?;
    let id = (path.to_path_buf(), meta.len(), meta.modified().ok());
    let cache = |c: &Cached| c.0 == id.0 && c.1 == id.1 && c.2 == id.2;
    if let Some(c) = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|c| cache(c))
    {
        return Ok((c.3.clone(), c.4.clone()));
    }
    let mut file = std::io::BufReader::new(File::open(path).map_err(io)?);
    let font = Arc::new(
        SoundFont::new(&mut file)
            .map_err(|e| SynthError::SoundFont(path.display().to_string(), e.to_string()))?,
    );
    let measured = Arc::new(measure_programs(&font));
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= CACHE_FONTS {
        c.remove(0);
    }
    c.push((id.0, id.1, id.2, font.clone(), measured.clone()));
    Ok((font, measured))
}

/// Loudness of one note (`key`, velocity 127, held `CAL_SECS`) of `program` on `channel`
/// at full channel volume, master volume 1 and no effects.
fn measure_note(font: &Arc<SoundFont>, channel: u8, program: u8, key: u8) -> f32 {
    let mut settings = SynthesizerSettings::new(CAL_RATE);
    settings.enable_reverb_and_chorus = false;
    settings.maximum_polyphony = 16;
    let Ok(mut synth) = Synthesizer::new(font, &settings) else {
        return 0.0;
    };
    synth.set_master_volume(1.0);
    let ch = channel as i32;
    if channel != DRUM_CHANNEL {
        synth.process_midi_message(ch, 0xC0, program as i32, 0);
    }
    set_volume(&mut synth, ch, 1.0);
    synth.note_on(ch, key as i32, 127);
    let n = (CAL_RATE as f32 * CAL_SECS) as usize;
    let (mut l, mut r) = (vec![0.0; n], vec![0.0; n]);
    synth.render(&mut l, &mut r);
    loudness(&l, &r, CAL_RATE as f32)
}

fn power_mean(xs: impl Iterator<Item = f32>) -> f32 {
    let (sum, n) = xs.fold((0.0f64, 0usize), |(s, n), x| {
        (s + (x as f64).powi(2), n + 1)
    });
    (sum / n.max(1) as f64).sqrt() as f32
}

fn measure_programs(font: &Arc<SoundFont>) -> Measured {
    let all: Vec<f32> = (0..=KIT)
        .into_par_iter()
        .map(|i| {
            if i == KIT {
                power_mean(
                    KIT_KEYS
                        .iter()
                        .map(|&(k, _)| measure_note(font, DRUM_CHANNEL, 0, k)),
                )
            } else {
                power_mean(CAL_KEYS.iter().map(|&k| measure_note(font, 0, i as u8, k)))
            }
        })
        .collect();
    let mut m = [0.0; 129];
    m.copy_from_slice(&all);
    m
}

/// The built-in voices' loudness at gain 1 and velocity 127 with the default envelope,
/// rendered for `CAL_SECS`: (the `saw` at C4, the power mean of kick/snare/hat on their
/// GM keys). These are what GM programs and the drum kit are balanced against.
fn builtin_reference() -> (f32, f32) {
    static REFERENCE: OnceLock<(f32, f32)> = OnceLock::new();
    *REFERENCE.get_or_init(render_reference)
}

fn render_reference() -> (f32, f32) {
    let sr = CAL_RATE as f32;
    let empty = super::samples_swap::Banks::new(Default::default());
    let ctx = Ctx {
        sample_rate: sr,
        banks: &empty,
    };
    let one = |kind: SynthKind, key: u8| {
        let mut voice = Voice::new(sr);
        let sound = Sound {
            synth: kind,
            gain: 1.0,
            ..Sound::default()
        };
        voice.start(&ctx, 0, key, 127, &sound, 0, 1);
        let n = (sr * CAL_SECS) as usize;
        let mut out = vec![0.0; 2 * n];
        let (mut d, mut r) = (vec![0.0; 2 * n], vec![0.0; 2 * n]);
        voice.render(&ctx, &mut out, &mut d, &mut r);
        let (l, r): (Vec<f32>, Vec<f32>) = out.chunks_exact(2).map(|f| (f[0], f[1])).unzip();
        loudness(&l, &r, sr)
    };
    let saw = one(SynthKind::Saw, 60);
    let drums = power_mean(KIT_KEYS.iter().map(|&(k, kind)| one(kind, k)));
    (saw, drums)
}

/// Sets a channel's volume (CC7 + CC39, 14 bits) to `v` in 0..=1; rustysynth squares it.
fn set_volume(synth: &mut Synthesizer, channel: i32, v: f32) {
    let x = (v.clamp(0.0, 1.0) * 16383.0).round() as i32;
    synth.process_midi_message(channel, 0xB0, 7, x >> 7);
    synth.process_midi_message(channel, 0xB0, 39, x & 127);
}

impl Gm {
    pub fn load(path: &Path, sample_rate: u32, polyphony: usize) -> Result<Gm, SynthError> {
        let (font, measured) = load_font(path)?;
        let mut settings = SynthesizerSettings::new(sample_rate as i32);
        settings.block_size = GM_BLOCK;
        settings.maximum_polyphony = polyphony.clamp(8, 256);
        settings.enable_reverb_and_chorus = false;
        let mut synth = Synthesizer::new(&font, &settings)
            .map_err(|e| SynthError::SoundFont(path.display().to_string(), e.to_string()))?;
        let (saw, drums) = builtin_reference();
        let mut sorted: Vec<f32> = measured[..KIT]
            .iter()
            .copied()
            .filter(|&m| m > SILENT)
            .collect();
        sorted.sort_by(f32::total_cmp);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(1.0);
        let mut factor = [0.0f32; 129];
        for (i, f) in factor.iter_mut().enumerate() {
            let reference = if i == KIT { drums } else { saw };
            // A nearly silent program is boosted by at most MAX_BOOST over the median one
            // (more would push every other channel's 14-bit volume into coarse steps).
            let m = if measured[i] > SILENT {
                measured[i].max(median / MAX_BOOST)
            } else {
                median
            };
            *f = reference / m;
        }
        let master = GAIN_MAX * factor.iter().copied().fold(0.0, f32::max);
        synth.set_master_volume(master);
        Ok(Gm {
            synth,
            left: vec![0.0; SCRATCH],
            right: vec![0.0; SCRATCH],
            programs: [0; 16],
            held: Vec::with_capacity(MAX_NOTES),
            factor,
            master,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn note_on(
        &mut self,
        track: TrackId,
        channel: u8,
        key: u8,
        vel: u8,
        program: u8,
        gain: f32,
        pan: f32,
    ) {
        let ch = channel & 15;
        if ch != DRUM_CHANNEL && self.programs[ch as usize] != program {
            self.programs[ch as usize] = program;
            self.synth
                .process_midi_message(ch as i32, 0xC0, (program & 127) as i32, 0);
        }
        self.set_gain(ch, gain);
        self.set_pan(ch, pan);
        self.synth
            .note_on(ch as i32, key as i32, vel.min(127) as i32);
        if self.held.len() == MAX_NOTES {
            self.held.remove(0);
        }
        self.held.push(Held {
            track,
            channel: ch,
            key,
        });
    }

    /// Channel volume for `gain` on the program the channel plays (see the module doc).
    fn set_gain(&mut self, ch: u8, gain: f32) {
        let i = if ch == DRUM_CHANNEL {
            KIT
        } else {
            (self.programs[ch as usize] & 127) as usize
        };
        let g = gain.clamp(0.0, GAIN_MAX) * self.factor[i];
        set_volume(&mut self.synth, ch as i32, (g / self.master).sqrt());
    }

    fn set_pan(&mut self, ch: u8, pan: f32) {
        let pan = (64.0 + pan.clamp(-1.0, 1.0) * 63.0).round() as i32;
        self.synth.process_midi_message(ch as i32, 0xB0, 10, pan);
    }

    /// Ends the GM notes of (track, key); returns whether any was sounding.
    pub fn note_off(&mut self, track: TrackId, key: u8) -> bool {
        let mut found = false;
        let mut i = 0;
        while i < self.held.len() {
            let h = self.held[i];
            if h.track == track && h.key == key {
                self.synth.note_off(h.channel as i32, key as i32);
                self.held.swap_remove(i);
                found = true;
            } else {
                i += 1;
            }
        }
        found
    }

    /// Applies gain or pan to the channel(s) the track is sounding on.
    pub fn track_control(&mut self, track: TrackId, gain: Option<f32>, pan: Option<f32>) {
        for i in 0..self.held.len() {
            let h = self.held[i];
            if h.track != track {
                continue;
            }
            if let Some(g) = gain {
                self.set_gain(h.channel, g);
            }
            if let Some(p) = pan {
                self.set_pan(h.channel, p);
            }
        }
    }

    /// Adds the SoundFont output into interleaved stereo `out`.
    pub fn render_add(&mut self, out: &mut [f32]) {
        for chunk in out.chunks_mut(2 * SCRATCH) {
            let n = chunk.len() / 2;
            let (l, r) = (&mut self.left[..n], &mut self.right[..n]);
            self.synth.render(l, r);
            for (i, f) in chunk.chunks_exact_mut(2).enumerate() {
                f[0] += l[i];
                f[1] += r[i];
            }
        }
    }
}
