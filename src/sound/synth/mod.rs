//! Sound stage: turns timestamped events into stereo audio.
//!
//! Data flow: `TimedEvent`s (from the scheduler over the lock-free ring live, or from a
//! slice offline) → [`Engine::process`], which splits each block at every event frame so a
//! note starts at exactly its frame → voices (built-in synths and one-shot samples, see
//! `voice`, with per-voice inserts from `inserts`) and the General MIDI player (`gm`,
//! rustysynth) are summed; the built-in voices' `delay`/`room` sends feed the shared delay
//! and reverb buses (`fx`, `delay`, `reverb`), whose wet output joins the mix → master chain
//! (DC blocker → soft limiter) → interleaved stereo `f32`. Blocks are rendered in chunks of
//! at most `fx::CHUNK` frames (the size of the send buffers).
//!
//! All allocation happens in [`Engine::new`]; `process` does no allocation, locking, I/O or
//! logging and is what the cpal callback and the null sink (`crate::sound::output`) call.
//! [`render_to_wav`] drives the same engine offline and writes a deterministic WAV.

mod delay;
mod dsp;
mod fx;
#[cfg(test)]
mod fx_tests;
mod gm;
mod inserts;
mod render;
mod reverb;
mod sampler;
mod samples;
mod samples_swap;
mod stream;
mod voice;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::event::{Event, Frame, Param, Sound, SynthKind, TimedEvent};
pub use delay::{MAX_DELAY_SECS, MAX_FEEDBACK};
pub use dsp::{loudness, LOUDNESS_WINDOW_SECS};
use dsp::{DcBlocker, Limiter};
pub use gm::{GAIN_MAX as GM_GAIN_MAX, GM_BLOCK};
pub use render::{render, render_to_wav, render_with, RenderReport, WavFormat};
pub use reverb::{rt60_of_response, rt60_of_size};
pub use sampler::{sample_names, Sample};
pub use samples::{decode, decode_symphonia, fit, scan, Bank, FolderInfo, MAX_SAMPLE_SECS};
pub use samples_swap::{BankFeed, BankSwap, Banks, BANK_SLOTS};
pub use stream::{StreamOptions, HEAD_SECS, MAX_STREAM_SECS, RING_FRAMES, STREAM_AFTER_SECS};
use voice::{Ctx, Voice};
pub use voice::{FILTER_OPEN_HZ, STEAL_FADE_SECS};

/// Extra voice slots beyond the polyphony, used by stolen voices while they fade out.
const FADE_SLOTS: usize = 16;
/// Frames per block in offline rendering.
const OFFLINE_BLOCK: usize = 512;
/// Frames rendered between two in-line pumps of the streamer offline: at the top speed (64)
/// they read 8,192 frames, half a voice's ring.
const OFFLINE_STREAM_PIECE: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    // Causes are in the messages, not `source()`s, so `anyhow`'s `{:#}` says each once.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: {1}")]
    Wav(String, hound::Error),
    #[error("{0}: cannot decode: {1}")]
    Decode(String, String),
    #[error("{0}: not a usable SoundFont: {1}")]
    SoundFont(String, String),
    #[error("invalid synth configuration: {0}")]
    Config(String),
    #[error("all {0} sample-bank slots hold banks that are sounding or in the playing patch; this bank can be loaded once one of them falls silent (the playing patch keeps its banks)")]
    BanksInUse(usize),
}

/// How to build an [`Engine`].
#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub sample_rate: u32,
    /// Voices sounding at once before the oldest is stolen (default 64).
    pub polyphony: usize,
    /// Folder of one-shot `*.wav` samples (default `samples/`).
    pub samples_dir: Option<PathBuf>,
    /// General MIDI SoundFont (default `samples/sf_GMbank.sf2`).
    pub soundfont: Option<PathBuf>,
    /// DC blocker and soft limiter on the master bus (default on; off only for tests that
    /// need the dry mix bit-exact).
    pub master_chain: bool,
    /// Where the engine connects its bank feed, so saved patches can hot-swap sample banks
    /// (`weft play`); `None` plays the startup bank only.
    pub bank_swap: Option<BankSwap>,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            sample_rate: 48_000,
            polyphony: 64,
            samples_dir: Some(PathBuf::from("samples")),
            soundfont: Some(PathBuf::from("samples/sf_GMbank.sf2")),
            master_chain: true,
            bank_swap: None,
        }
    }
}

impl SynthConfig {
    /// The default configuration with the samples and SoundFont found for patches in
    /// `patch_dir` ([`sounds_for`]).
    pub fn for_patches(patch_dir: &Path, flag: Option<&Path>) -> SynthConfig {
        let (samples, soundfont) = sounds_for(patch_dir, flag);
        SynthConfig {
            samples_dir: Some(samples),
            soundfont: Some(soundfont),
            ..Default::default()
        }
    }
}

/// The samples folder and General MIDI SoundFont for patches in `patch_dir`: the first
/// folder that exists of the patch folder's `samples/`, its parent's, `flag` (`--samples`),
/// `WEFT_SAMPLES`, the current folder's `samples/` and weft's installed data
/// ([`crate::data`]); the SoundFont is that folder's `sf_GMbank.sf2`, else the installed one.
pub fn sounds_for(patch_dir: &Path, flag: Option<&Path>) -> (PathBuf, PathBuf) {
    let samples = crate::data::find_dir("samples", patch_dir, flag, "WEFT_SAMPLES")
        .unwrap_or_else(|| PathBuf::from("samples"));
    let sf = samples.join(SOUNDFONT);
    let soundfont = if sf.is_file() {
        sf
    } else {
        crate::data::installed()
            .map(|d| d.join("samples").join(SOUNDFONT))
            .ok()
            .filter(|p| p.is_file())
            .unwrap_or(sf)
    };
    (samples, soundfont)
}

/// The shipped General MIDI SoundFont's file name.
pub const SOUNDFONT: &str = "sf_GMbank.sf2";

/// The block renderer. Build it off the audio thread, then move it there.
pub struct Engine {
    sample_rate: f32,
    polyphony: usize,
    voices: Vec<Voice>,
    /// The sample banks: the startup one and those hot-swapped in (`samples_swap`), each
    /// immutable, shared and loaded off the audio thread.
    banks: Banks,
    gm: Option<gm::Gm>,
    next_age: u64,
    master_chain: bool,
    dc: [DcBlocker; 2],
    limiter: Limiter,
    buses: fx::Buses,
    late_events: u64,
    stolen: u64,
    /// Where voices ask for streamed frames (`stream`), and the streamer itself when it is
    /// pumped in line (offline renders) rather than on its thread.
    stream_requests: rtrb::Producer<stream::Request>,
    streamer: Option<stream::Streamer>,
    stream_stop: Arc<std::sync::atomic::AtomicBool>,
    stream_errors: Arc<std::sync::atomic::AtomicU64>,
    /// Requests that found the request ring full (their notes play their head only).
    stream_dropped: u64,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The streaming thread ends at its next poll.
        self.stream_stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Engine {
    /// Allocates everything the engine will ever use and loads samples and the SoundFont.
    /// Missing samples or SoundFont are not errors: they come back as one-line warnings and
    /// the built-in synths still play (GM notes fall back to the `tri` synth).
    pub fn new(cfg: SynthConfig) -> Result<(Engine, Vec<String>), SynthError> {
        Engine::with_streaming(cfg, StreamOptions::default(), false)
    }

    /// [`Engine::new`] streaming long files as `stream` says; `offline` pumps the streamer
    /// in line before each stretch is rendered (deterministic, for renders) instead of on
    /// its own thread.
    pub fn with_streaming(
        cfg: SynthConfig,
        stream: StreamOptions,
        offline: bool,
    ) -> Result<(Engine, Vec<String>), SynthError> {
        if !(8_000..=384_000).contains(&cfg.sample_rate) {
            return Err(SynthError::Config(format!(
                "sample rate {} Hz is outside 8000..=384000",
                cfg.sample_rate
            )));
        }
        if cfg.polyphony == 0 || cfg.polyphony > 1024 {
            return Err(SynthError::Config(format!(
                "polyphony {} is outside 1..=1024",
                cfg.polyphony
            )));
        }
        let sr = cfg.sample_rate as f32;
        let mut warnings = Vec::new();
        let bank = match &cfg.samples_dir {
            Some(dir) => match Bank::load_with(dir, cfg.sample_rate, stream, &mut warnings) {
                Ok(b) => {
                    if b.is_empty() {
                        warnings.push(format!(
                            "no samples in {}; `synth: \"sample\"` voices are silent, built-in synths still play",
                            dir.display()
                        ));
                    }
                    b
                }
                Err(e) => {
                    warnings.push(format!(
                        "no samples: {e}; `synth: \"sample\"` voices are silent, built-in synths still play"
                    ));
                    Bank::default()
                }
            },
            None => Bank::default(),
        };
        let gm = match &cfg.soundfont {
            Some(path) if path.exists() => {
                match gm::Gm::load(path, cfg.sample_rate, cfg.polyphony) {
                    Ok(g) => Some(g),
                    Err(e) => {
                        warnings.push(format!(
                            "{e}; `synth: \"gm\"` voices play the built-in tri synth"
                        ));
                        None
                    }
                }
            }
            Some(path) => {
                warnings.push(format!(
                    "no SoundFont at {}; `synth: \"gm\"` voices play the built-in tri synth",
                    path.display()
                ));
                None
            }
            None => None,
        };
        let streams_now = bank
            .flat
            .iter()
            .chain(bank.folders.iter().flat_map(|f| &f.1))
            .any(|s| s.stream.is_some());
        let mut banks = Banks::new(Arc::new(bank));
        if let Some(swap) = &cfg.bank_swap {
            let listing = cfg
                .samples_dir
                .as_ref()
                .and_then(|d| Some((d.clone(), scan(d).ok()?)));
            swap.set(banks.connect(cfg.sample_rate, listing).streaming(stream));
        }
        let slots = cfg.polyphony + FADE_SLOTS;
        let (streamer, taps) = stream::Streamer::new(slots);
        let stream_errors = streamer.errors.clone();
        let stream_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let streamer = if offline {
            Some(streamer)
        } else {
            // Its own thread, when there is or may come something to stream.
            if streams_now || cfg.bank_swap.is_some() {
                streamer
                    .spawn(stream_stop.clone())
                    .map_err(|e| SynthError::Io("streaming thread".into(), e))?;
            }
            None
        };
        let voices = taps
            .rings
            .into_iter()
            .map(|ring| {
                let mut v = Voice::new(sr);
                v.attach_ring(ring);
                v
            })
            .collect();
        Ok((
            Engine {
                sample_rate: sr,
                polyphony: cfg.polyphony,
                voices,
                banks,
                gm,
                next_age: 0,
                master_chain: cfg.master_chain,
                dc: [DcBlocker::new(sr); 2],
                limiter: Limiter::new(sr),
                buses: fx::Buses::new(sr),
                late_events: 0,
                stolen: 0,
                stream_requests: taps.requests,
                streamer,
                stream_stop,
                stream_errors,
                stream_dropped: 0,
            },
            warnings,
        ))
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate as u32
    }

    /// Names of the flat bank's samples (folder 0) in `Sound::sample` index order.
    pub fn sample_names(&self) -> impl Iterator<Item = &str> {
        self.banks.startup().flat.iter().map(|s| s.name.as_str())
    }

    /// The sample bank loaded at start (generation 0).
    pub fn bank(&self) -> &Arc<Bank> {
        self.banks.startup()
    }

    pub fn has_soundfont(&self) -> bool {
        self.gm.is_some()
    }

    /// Events that arrived after their frame had already been rendered (applied at the
    /// start of the block they arrived in).
    pub fn late_events(&self) -> u64 {
        self.late_events
    }

    /// Voices stolen so far because the polyphony was exhausted.
    pub fn stolen_voices(&self) -> u64 {
        self.stolen
    }

    /// Frames of streamed samples played as silence because the streamer had not read them
    /// in time, plus notes whose request found the request ring full and files that failed
    /// to read while streaming (0 in offline renders).
    pub fn stream_underruns(&self) -> u64 {
        self.voices.iter().map(|v| v.underruns).sum::<u64>()
            + self.stream_dropped
            + self
                .stream_errors
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Built-in voices currently sounding (including ones fading after being stolen).
    pub fn active_voices(&self) -> usize {
        self.voices.iter().filter(|v| v.active).count()
    }

    /// Renders `out.len() / 2` stereo frames starting at absolute frame `block_start` into
    /// interleaved `out` (overwritten). `next_event(block_end)` must return, in frame order,
    /// the events due before `block_end` and `None` once there are no more (it must not
    /// consume later events). Each event is applied at its exact frame inside the block;
    /// a late one at the block start. No allocation, locks or I/O.
    pub fn process<F>(&mut self, block_start: Frame, out: &mut [f32], next_event: &mut F)
    where
        F: FnMut(Frame) -> Option<TimedEvent>,
    {
        let frames = out.len() / 2;
        // Banks hot-swapped in since the last block (lock- and allocation-free).
        self.poll_banks();
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(fx::CHUNK);
            self.process_chunk(
                block_start + done as Frame,
                &mut out[2 * done..2 * (done + n)],
                next_event,
            );
            done += n;
        }
    }

    /// Counts the sounding voices of each bank slot (so a bank in use is never replaced) and
    /// takes the banks pushed since. No allocation, no lock.
    fn poll_banks(&mut self) {
        let gens = self
            .voices
            .iter()
            .filter(|v| v.active)
            .filter_map(|v| v.sample_gen());
        self.banks.count_users(gens);
        self.banks.poll();
    }

    /// `process` for at most `fx::CHUNK` frames.
    fn process_chunk<F>(&mut self, block_start: Frame, out: &mut [f32], next_event: &mut F)
    where
        F: FnMut(Frame) -> Option<TimedEvent>,
    {
        out.fill(0.0);
        let frames = out.len() / 2;
        let block_end = block_start + frames as Frame;
        let mut pos = 0usize;
        while let Some(ev) = next_event(block_end) {
            let at = if ev.frame < block_start {
                self.late_events += 1;
                0
            } else {
                ((ev.frame - block_start) as usize).min(frames)
            };
            if at > pos {
                self.render_dry(&mut out[2 * pos..2 * at], pos);
                pos = at;
            }
            self.apply(&ev.event);
        }
        if pos < frames {
            self.render_dry(&mut out[2 * pos..2 * frames], pos);
        }
        self.buses.process(&mut out[..2 * frames]);
        if self.master_chain {
            self.master(&mut out[..2 * frames]);
        }
    }

    /// Renders the voices into `seg`, which starts `pos` frames into the chunk (their sends
    /// go to the same frames of the send buffers).
    fn render_dry(&mut self, seg: &mut [f32], pos: usize) {
        if let Some(s) = &mut self.streamer {
            s.pump();
        }
        if self.streamer.is_some() && self.voices.iter().any(|v| v.active && v.streams()) {
            // Offline with streamed notes sounding: read what they need before each piece is
            // rendered, in pieces small enough that no ring runs dry even at the top speed.
            // (Without them the stretch is rendered whole, exactly as before streaming.)
            let mut done = 0;
            while done < seg.len() / 2 {
                let n = (seg.len() / 2 - done).min(OFFLINE_STREAM_PIECE);
                if let Some(s) = &mut self.streamer {
                    s.pump();
                }
                self.render_voices(&mut seg[2 * done..2 * (done + n)], pos + done);
                done += n;
            }
            return;
        }
        self.render_voices(seg, pos);
    }

    fn render_voices(&mut self, seg: &mut [f32], pos: usize) {
        let ctx = Ctx {
            sample_rate: self.sample_rate,
            banks: &self.banks,
        };
        let range = 2 * pos..2 * pos + seg.len();
        let b = &mut self.buses;
        for v in self.voices.iter_mut().filter(|v| v.active) {
            let (d, r) = v.render(
                &ctx,
                seg,
                &mut b.delay_in[range.clone()],
                &mut b.room_in[range.clone()],
            );
            b.delay_fed |= d;
            b.room_fed |= r;
        }
        if let Some(gm) = &mut self.gm {
            gm.render_add(seg);
        }
    }

    fn master(&mut self, out: &mut [f32]) {
        let mut poisoned = false;
        for f in out.chunks_exact_mut(2) {
            if !(f[0].is_finite() && f[1].is_finite()) {
                poisoned = true;
                // Never let a NaN/inf reach the device or poison the chain's state.
                f[0] = 0.0;
                f[1] = 0.0;
                self.dc[0].reset();
                self.dc[1].reset();
                self.limiter.reset();
            }
            let l = self.dc[0].process(f[0]);
            let r = self.dc[1].process(f[1]);
            let (l, r) = self.limiter.process(l, r);
            f[0] = l;
            f[1] = r;
        }
        if poisoned {
            // Whatever made the NaN may have reached the buses' lines too.
            self.buses.delay.clear();
            self.buses.reverb.clear();
        }
    }

    /// Applies one event now (between two samples of the current block).
    pub fn apply(&mut self, event: &Event) {
        match *event {
            Event::NoteOn {
                track,
                channel,
                key,
                vel,
                sound,
            } => {
                if vel == 0 {
                    self.note_off(track, key);
                } else {
                    self.note_on(track, channel, key, vel, sound);
                }
            }
            Event::NoteOff { track, key, .. } => self.note_off(track, key),
            Event::Param {
                track,
                param,
                value,
            } => {
                if !value.is_finite() {
                    return;
                }
                if self.buses.set_param(param, value) {
                    return;
                }
                let sr = self.sample_rate;
                for v in self
                    .voices
                    .iter_mut()
                    .filter(|v| v.active && v.track == track)
                {
                    v.set_param(param, value, sr);
                }
                if let Some(gm) = &mut self.gm {
                    match param {
                        Param::Gain => gm.track_control(track, Some(value), None),
                        Param::Pan => gm.track_control(track, None, Some(value)),
                        _ => {}
                    }
                }
            }
        }
    }

    fn note_on(&mut self, track: u16, channel: u8, key: u8, vel: u8, mut sound: Sound) {
        if sound.synth == SynthKind::Gm {
            if let Some(gm) = &mut self.gm {
                gm.note_on(
                    track,
                    channel,
                    key,
                    vel,
                    sound.program,
                    sound.gain,
                    sound.pan,
                );
                return;
            }
            sound.synth = SynthKind::Tri;
        }
        if sound.synth == SynthKind::Sample && sound.cut > 0 {
            // Cut group: the group's sounding samples fade out (no click) as this one starts.
            let sr = self.sample_rate;
            for v in self
                .voices
                .iter_mut()
                .filter(|v| v.active && !v.is_fading() && v.cut == sound.cut)
            {
                v.steal(sr);
            }
        }
        // A note may arrive in the same block as its bank.
        if sound.synth == SynthKind::Sample && self.banks.bank(sound.bank).is_none() {
            self.poll_banks();
        }
        self.buses.note(&sound);
        let slot = self.allocate();
        let age = self.next_age;
        self.next_age += 1;
        let ctx = Ctx {
            sample_rate: self.sample_rate,
            banks: &self.banks,
        };
        let seed = (age as u32) ^ ((track as u32) << 16) ^ key as u32;
        self.voices[slot].start(&ctx, track, key, vel, &sound, age, seed);
        if let Some((epoch, from)) = self.voices[slot].take_stream_request() {
            // The sample's stream description (an `Arc` clone: a count, no allocation).
            let st = self
                .banks
                .get(sound.bank, sound.folder, sound.sample)
                .and_then(|s| s.stream.clone());
            if let Some(sample) = st {
                let req = stream::Request {
                    slot,
                    epoch,
                    sample,
                    from,
                };
                if self.stream_requests.push(req).is_err() {
                    self.stream_dropped += 1;
                }
            }
        }
    }

    /// Finds a slot for a new voice: a free one if fewer than `polyphony` voices sound,
    /// otherwise the oldest sounding voice is sent into a short fade (in one of the spare
    /// fade slots) and a free slot is used.
    fn allocate(&mut self) -> usize {
        let sounding = self
            .voices
            .iter()
            .filter(|v| v.active && !v.is_fading())
            .count();
        if sounding >= self.polyphony {
            let oldest = self
                .voices
                .iter()
                .enumerate()
                .filter(|(_, v)| v.active && !v.is_fading())
                .min_by_key(|(_, v)| v.age)
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                self.voices[i].steal(self.sample_rate);
                self.stolen += 1;
            }
        }
        if let Some(i) = self.voices.iter().position(|v| !v.active) {
            return i;
        }
        // Every slot is busy (many steals within one fade time): reuse the fading voice
        // that started first; its fade is nearly done.
        self.voices
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_fading())
            .min_by_key(|(_, v)| v.age)
            .map(|(i, _)| i)
            .unwrap_or(0)
    }

    fn note_off(&mut self, track: u16, key: u8) {
        for v in self
            .voices
            .iter_mut()
            .filter(|v| v.active && v.gated && v.track == track && v.key == key)
        {
            v.release();
        }
        if let Some(gm) = &mut self.gm {
            gm.note_off(track, key);
        }
    }
}

#[cfg(test)]
mod tests;
