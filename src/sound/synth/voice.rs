//! One sounding note: a generator (oscillator, noise, pluck, FM, drum model or sample
//! playback) → state-variable filter (low/high/band-pass) → inserts (distort, coarse,
//! crush; see `inserts`) → ADSR × velocity × gain × tremolo → balance pan, added into the
//! engine's interleaved stereo mix and, scaled by the `delay`/`room` sends, into the send
//! buffers of the shared buses (`fx`). Voices are allocated once by the engine and reused;
//! `start` only resets state (the pluck delay line is preallocated for the lowest pitch).

use super::dsp::{poly_blep, sin2pi, Adsr, Rng, Smoothed, Svf};
use super::inserts::Inserts;
use super::samples_swap::Banks;
use super::stream::Item;
use crate::engine::event::{FilterMode, Param, Sound, SynthKind, TrackId};

/// Length of the anti-click fade applied to a stolen voice.
pub const STEAL_FADE_SECS: f32 = 0.005;
/// Low-pass cutoffs at or above this leave the filter out of the signal path (an open
/// filter is bit-transparent), until a cutoff below it or another response is set.
pub const FILTER_OPEN_HZ: f32 = 18_000.0;
/// Lowest pitch the Karplus-Strong delay line is sized for.
const PLUCK_MIN_HZ: f32 = 20.0;
/// While the cutoff or resonance glides, the filter's coefficients (a `tan` and a division)
/// are recomputed every this many frames rather than every frame, and on the frame the
/// glide ends (so a settled filter has exactly its set coefficients). 16 frames are 0.33 ms
/// at 48 kHz against the 10 ms glide: steps of at most ~3 % of the distance, inaudible.
pub const FILTER_COEF_FRAMES: u32 = 16;
/// Frames a voice renders stage by stage (see [`Voice::render`]).
const VOICE_BLOCK: usize = 64;

/// Shared read-only data a voice needs while rendering.
pub struct Ctx<'a> {
    pub sample_rate: f32,
    pub banks: &'a Banks,
}

pub struct Voice {
    pub active: bool,
    pub track: TrackId,
    pub key: u8,
    /// Start order, for stealing the oldest.
    pub age: u64,
    /// Held by a note-on (drums and samples ignore note-off and end by themselves).
    pub gated: bool,
    kind: SynthKind,
    one_shot: bool,
    env: Adsr,
    vel_amp: f32,
    gain: Smoothed,
    pan: Smoothed,
    cutoff: Smoothed,
    resonance: Smoothed,
    filter_on: bool,
    filter_mode: FilterMode,
    filt_l: Svf,
    filt_r: Svf,
    /// Frames until the gliding filter's coefficients are next recomputed.
    coef_wait: u32,
    /// Steal fade: remaining samples and the per-sample decrement of `fade`.
    fading: bool,
    fade: f32,
    fade_step: f32,
    inserts: Inserts,
    delay_send: Smoothed,
    room_send: Smoothed,
    // generator state
    freq: f32,
    /// `freq / sample_rate`: the phase increment, fixed for the note.
    dt: f32,
    phase: f32,
    phase2: f32,
    tri: f32,
    t: u32,
    rng: Rng,
    hp: f32,
    lp: f32,
    pluck: Vec<f32>,
    pluck_len: usize,
    pluck_pos: usize,
    sample_bank: u32,
    sample_folder: u16,
    sample_index: u16,
    sample_pos: f64,
    /// Frames of the file per output frame at speed 1 (rate ratio × pitch).
    sample_unit: f64,
    /// `speed`, glided by `param("v.speed", x)` (negative = backwards).
    sample_speed: Smoothed,
    /// The part of the sample played, in frames: `sample_lo..sample_hi`.
    sample_lo: f64,
    sample_hi: f64,
    sample_loop: bool,
    /// Streamed sample (`stream`): frames before `stream_head` come from the head, from
    /// `stream_tail` on from the tail, between them from this slot's ring.
    streamed: bool,
    stream_head: usize,
    stream_tail: usize,
    /// This slot's ring from the streamer (attached by the engine).
    ring: Option<rtrb::Consumer<Item>>,
    /// The epoch of this voice's latest request; ring frames of others are skipped.
    epoch: u32,
    /// Index of the next frame the ring delivers, and the last two popped (`ring_next - 2`,
    /// `ring_next - 1`).
    ring_next: usize,
    win: [(f32, f32); 2],
    /// First frame to ask the streamer for, until the engine sends the request.
    stream_from: Option<usize>,
    /// Frames played as silence because the ring had not been filled in time.
    pub underruns: u64,
    /// Cut group (0 = none).
    pub cut: u8,
}

fn midi_hz(key: u8) -> f32 {
    440.0 * ((key as f32 - 69.0) / 12.0).exp2()
}

impl Voice {
    pub fn new(sample_rate: f32) -> Self {
        Voice {
            active: false,
            track: 0,
            key: 0,
            age: 0,
            gated: false,
            kind: SynthKind::Sine,
            one_shot: false,
            env: Adsr::new(sample_rate),
            vel_amp: 0.0,
            gain: Smoothed::new(0.0, sample_rate),
            pan: Smoothed::new(0.0, sample_rate),
            cutoff: Smoothed::new(FILTER_OPEN_HZ, sample_rate),
            resonance: Smoothed::new(0.0, sample_rate),
            filter_on: false,
            filter_mode: FilterMode::LowPass,
            filt_l: Svf::default(),
            filt_r: Svf::default(),
            coef_wait: 0,
            fading: false,
            fade: 1.0,
            fade_step: 0.0,
            inserts: Inserts::new(sample_rate),
            delay_send: Smoothed::new(0.0, sample_rate),
            room_send: Smoothed::new(0.0, sample_rate),
            freq: 0.0,
            dt: 0.0,
            phase: 0.0,
            phase2: 0.0,
            tri: 0.0,
            t: 0,
            rng: Rng::new(1),
            hp: 0.0,
            lp: 0.0,
            pluck: vec![0.0; (sample_rate / PLUCK_MIN_HZ) as usize + 2],
            pluck_len: 1,
            pluck_pos: 0,
            sample_bank: 0,
            sample_folder: 0,
            sample_index: 0,
            sample_pos: 0.0,
            sample_unit: 1.0,
            sample_speed: Smoothed::new(1.0, sample_rate),
            sample_lo: 0.0,
            sample_hi: 0.0,
            sample_loop: false,
            streamed: false,
            stream_head: 0,
            stream_tail: 0,
            ring: None,
            epoch: 0,
            ring_next: 0,
            win: [(0.0, 0.0); 2],
            stream_from: None,
            underruns: 0,
            cut: 0,
        }
    }

    /// The bank generation a sample voice plays from (`None` for the other kinds).
    #[inline]
    pub fn sample_gen(&self) -> Option<u32> {
        (self.kind == SynthKind::Sample).then_some(self.sample_bank)
    }

    pub fn is_fading(&self) -> bool {
        self.fading
    }

    /// Starts a note. `sound.synth` must not be `Gm` (the engine routes those to the
    /// SoundFont player). Returns false for a `Sample` note when there are no samples.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        ctx: &Ctx,
        track: TrackId,
        key: u8,
        vel: u8,
        sound: &Sound,
        age: u64,
        seed: u32,
    ) -> bool {
        let sr = ctx.sample_rate;
        let kind = sound.synth;
        let smp = match kind {
            SynthKind::Sample => match ctx.banks.get(sound.bank, sound.folder, sound.sample) {
                // Speed 0 would hold one frame forever (a one-shot never ends): silence.
                Some(s) if s.length() > 0 && sound.speed != 0.0 => Some(s),
                _ => return false,
            },
            _ => None,
        };
        self.active = true;
        self.track = track;
        self.key = key;
        self.age = age;
        self.gated = true;
        self.kind = kind;
        // Looped samples hold while the note is held and then release like a synth.
        self.one_shot = kind.is_drum() || (kind == SynthKind::Sample && !sound.looped);
        self.cut = if kind == SynthKind::Sample {
            sound.cut
        } else {
            0
        };
        self.env
            .set(sound.attack, sound.decay, sound.sustain, sound.release);
        self.env.level = 0.0;
        self.env.gate_on();
        let v = vel.min(127) as f32 / 127.0;
        self.vel_amp = v * v;
        self.gain.reset(sound.gain.clamp(0.0, 4.0));
        self.pan.reset(sound.pan.clamp(-1.0, 1.0));
        self.cutoff.reset(sound.cutoff.clamp(20.0, 20_000.0));
        self.resonance.reset(sound.resonance.clamp(0.0, 1.0));
        self.filter_mode = sound.filter;
        self.filter_on =
            self.filter_mode != FilterMode::LowPass || self.cutoff.value < FILTER_OPEN_HZ;
        self.filt_l.reset();
        self.filt_r.reset();
        self.coef_wait = 0;
        if self.filter_on {
            self.filt_l.set(self.cutoff.value, self.resonance.value, sr);
            self.filt_r = self.filt_l;
        }
        self.fading = false;
        self.fade = 1.0;
        self.fade_step = 0.0;
        self.inserts.start(sound);
        let send = |v: f32| {
            if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        self.delay_send.reset(send(sound.delay));
        self.room_send.reset(send(sound.room));
        self.freq = midi_hz(key);
        self.dt = self.freq / sr;
        self.t = 0;
        self.rng = Rng::new(seed);
        self.hp = 0.0;
        self.lp = 0.0;
        self.phase2 = 0.0;
        // Start phases where the waveform is zero (so onsets do not click), except the square.
        self.phase = match kind {
            SynthKind::Saw => 0.5,
            SynthKind::Tri => 0.25,
            // Mid-plateau, away from the BLEP-smoothed edge (which is 0 at phase 0).
            SynthKind::Square => 0.25,
            _ => 0.0,
        };
        self.tri = 0.0;
        match kind {
            SynthKind::Pluck => {
                let len = (sr / self.freq.max(PLUCK_MIN_HZ)).round() as usize;
                self.pluck_len = len.clamp(2, self.pluck.len());
                for s in &mut self.pluck[..self.pluck_len] {
                    *s = self.rng.next_bipolar();
                }
                self.pluck_pos = 0;
            }
            SynthKind::Sample => {
                if let Some(smp) = smp {
                    self.sample_bank = sound.bank;
                    self.sample_folder = sound.folder;
                    self.sample_index = sound.sample;
                    let n = smp.length() as f64;
                    let fr = |x: f32| {
                        if x.is_finite() {
                            x.clamp(0.0, 1.0) as f64
                        } else {
                            0.0
                        }
                    };
                    let (b, e) = (fr(sound.begin), fr(sound.end));
                    let (b, e) = if e > b {
                        (b, e)
                    } else {
                        (b, (b + 1.0 / n).min(1.0))
                    };
                    // Whole frames, so speed 1 from `begin` reads the file's samples exactly.
                    self.sample_lo = (b * n).floor();
                    self.sample_hi = (e * n).ceil().max(self.sample_lo + 1.0).min(n);
                    let speed = if sound.speed.is_finite() {
                        sound.speed.clamp(-64.0, 64.0) as f64
                    } else {
                        1.0
                    };
                    let transpose = ((key as f64 - 60.0) / 12.0).exp2();
                    self.sample_unit = smp.sample_rate as f64 / sr as f64 * transpose;
                    self.sample_speed.reset(speed as f32);
                    self.stream_from = None;
                    self.streamed = false;
                    if let Some(st) = &smp.stream {
                        if !self.start_streamed(st, speed < 0.0 || sound.looped) {
                            return false;
                        }
                    }
                    // Reversed: from the last frame of the part down to its first.
                    self.sample_pos = if speed < 0.0 {
                        self.sample_hi - 1.0
                    } else {
                        self.sample_lo
                    };
                    self.sample_loop = sound.looped;
                }
            }
            _ => {}
        }
        true
    }

    /// Note-off: enters the release (drums and samples play to their end).
    pub fn release(&mut self) {
        self.gated = false;
        if !self.one_shot {
            self.env.gate_off();
        }
    }

    /// Stealing: fades out over `STEAL_FADE_SECS` and then frees the voice.
    pub fn steal(&mut self, sample_rate: f32) {
        self.gated = false;
        self.fading = true;
        self.fade_step = self.fade / (STEAL_FADE_SECS * sample_rate).max(1.0);
    }

    pub fn set_param(&mut self, param: Param, value: f32, sample_rate: f32) {
        if self.inserts.set_param(param, value) {
            return;
        }
        match param {
            Param::Cutoff | Param::Lpf | Param::Hpf | Param::Bpf => {
                self.cutoff.target = value.clamp(20.0, 20_000.0);
                if let Some(mode) = param.filter_mode() {
                    self.filter_mode = mode;
                }
                let wanted =
                    self.filter_mode != FilterMode::LowPass || self.cutoff.target < FILTER_OPEN_HZ;
                if !self.filter_on && wanted {
                    self.filter_on = true;
                    self.filt_l
                        .set(self.cutoff.value, self.resonance.value, sample_rate);
                    self.filt_r = self.filt_l;
                }
            }
            Param::Delay => self.delay_send.target = value.clamp(0.0, 1.0),
            Param::Room => self.room_send.target = value.clamp(0.0, 1.0),
            Param::Resonance => self.resonance.target = value.clamp(0.0, 1.0),
            Param::Gain => self.gain.target = value.clamp(0.0, 4.0),
            Param::Pan => self.pan.target = value.clamp(-1.0, 1.0),
            Param::Attack => self.env.set_attack(value),
            Param::Decay => self.env.set_decay(value),
            Param::Sustain => self.env.set_sustain(value),
            Param::Release => self.env.set_release(value),
            // Bus settings (the engine routes them to `fx::Buses`) and inserts (above).
            // MIDI controllers are for MIDI out only.
            // A sounding sample glides to the new speed (it may turn round through 0).
            Param::Speed => {
                let (lo, hi) = param.range();
                self.sample_speed.target = value.clamp(lo, hi);
            }
            // The part played is fixed when a note starts: these apply from the next note.
            Param::Begin | Param::End => {}
            Param::Cc(_) => {}
            Param::DelayTime
            | Param::DelayFeedback
            | Param::Size
            | Param::Damp
            | Param::Distort
            | Param::Crush
            | Param::Coarse
            | Param::Tremolo
            | Param::TremoloRate => {}
        }
    }

    /// Adds `out.len() / 2` frames of this voice into the interleaved stereo `out`, and its
    /// sends into `delay_in` / `room_in` (same length as `out`). Returns whether it wrote
    /// into (delay, room).
    pub fn render(
        &mut self,
        ctx: &Ctx,
        out: &mut [f32],
        delay_in: &mut [f32],
        room_in: &mut [f32],
    ) -> (bool, bool) {
        let sr = ctx.sample_rate;
        let feeds_delay = self.delay_send.value > 0.0 || self.delay_send.target > 0.0;
        let feeds_room = self.room_send.value > 0.0 || self.room_send.target > 0.0;
        let mode = self.filter_mode;
        let stereo = self.kind == SynthKind::Sample;
        let frames = out.len() / 2;
        // Stage by stage over blocks of `VOICE_BLOCK` frames: generator and filter (their
        // state runs frame to frame), then each insert over the block, then the gains and
        // the mix. Every stage keeps its own state, so the result is the same as frame by
        // frame, but a settled insert is a plain loop the compiler vectorizes.
        let mut base = 0;
        while base < frames && self.active {
            let n = (frames - base).min(VOICE_BLOCK);
            let mut bl = [0.0f32; VOICE_BLOCK];
            let mut br = [0.0f32; VOICE_BLOCK];
            // Frames to mix (the generator may finish inside the block) and whether it did.
            let mut len = n;
            let mut done = false;
            for i in 0..n {
                let (mut l, mut r, end) = self.generate(ctx);
                if self.filter_on {
                    if !(self.cutoff.is_settled() && self.resonance.is_settled()) {
                        let c = self.cutoff.next();
                        let q = self.resonance.next();
                        self.coef_wait = self.coef_wait.saturating_sub(1);
                        if self.coef_wait == 0
                            || (self.cutoff.is_settled() && self.resonance.is_settled())
                        {
                            self.coef_wait = FILTER_COEF_FRAMES;
                            self.filt_l.set(c, q, sr);
                            if stereo {
                                self.filt_r.set(c, q, sr);
                            }
                        }
                    }
                    l = self.filt_l.process(l, mode);
                    if stereo {
                        r = self.filt_r.process(r, mode);
                    }
                }
                bl[i] = l;
                br[i] = r;
                if end {
                    len = i + 1;
                    done = true;
                    break;
                }
            }
            // A mono generator's right channel is its left one all the way through.
            self.inserts
                .process_block(&mut bl[..len], stereo.then_some(&mut br[..len]));
            let mut trem = [0.0f32; VOICE_BLOCK];
            self.inserts.tremolo_block(&mut trem[..len], sr);
            for i in 0..len {
                let (l, r) = (bl[i], if stereo { br[i] } else { bl[i] });
                let env = self.env.next();
                let mut amp = env * self.vel_amp * self.gain.next() * trem[i];
                if self.fading {
                    self.fade -= self.fade_step;
                    if self.fade <= 0.0 {
                        self.fade = 0.0;
                        self.active = false;
                    }
                    amp *= self.fade;
                }
                let pan = self.pan.next();
                let gl = (1.0 - pan).min(1.0);
                let gr = (1.0 + pan).min(1.0);
                let (ol, or) = (l * amp * gl, r * amp * gr);
                let j = 2 * (base + i);
                out[j] += ol;
                out[j + 1] += or;
                if feeds_delay {
                    let s = self.delay_send.next();
                    delay_in[j] += ol * s;
                    delay_in[j + 1] += or * s;
                }
                if feeds_room {
                    let s = self.room_send.next();
                    room_in[j] += ol * s;
                    room_in[j + 1] += or * s;
                }
                if (done && i + 1 == len) || self.env.is_idle() {
                    self.active = false;
                }
                if !self.active {
                    break;
                }
            }
            base += n;
        }
        if !(self.filt_l.sanitize() & self.filt_r.sanitize()) {
            self.active = false;
        }
        if !self.active {
            self.filt_l.reset();
            self.filt_r.reset();
        }
        (feeds_delay, feeds_room)
    }

    /// Next generator output (left, right, finished). Mono generators return l == r.
    #[inline]
    fn generate(&mut self, ctx: &Ctx) -> (f32, f32, bool) {
        let sr = ctx.sample_rate;
        let dt = self.dt;
        // Seconds since the onset, for the generators with their own decays (computed in
        // their arms only: a division per frame the others do not need).
        let t = self.t;
        let time = || t as f32 / sr;
        self.t = self.t.wrapping_add(1);
        let x = match self.kind {
            SynthKind::Sine | SynthKind::Gm => {
                let y = sin2pi(self.phase);
                self.advance(dt);
                y
            }
            SynthKind::Saw => {
                let y = 2.0 * self.phase - 1.0 - poly_blep(self.phase, dt);
                self.advance(dt);
                y
            }
            SynthKind::Square => {
                let y = self.square(dt);
                self.advance(dt);
                y
            }
            SynthKind::Tri => {
                // Leaky integration of a band-limited square, started at its zero crossing.
                let sq = self.square(dt);
                self.tri = self.tri * 0.9995 + 4.0 * dt * sq;
                self.advance(dt);
                self.tri
            }
            SynthKind::Noise => self.rng.next_bipolar() * 0.5,
            SynthKind::Pluck => {
                let i = self.pluck_pos;
                let j = if i + 1 == self.pluck_len { 0 } else { i + 1 };
                let y = self.pluck[i];
                self.pluck[i] = 0.996 * 0.5 * (y + self.pluck[j]);
                self.pluck_pos = j;
                y * 0.7
            }
            SynthKind::Fm => {
                // 2-op FM: modulator at 2× the carrier, index decaying from 3 to 0.5.
                let index = 0.5 + 2.5 * (-time() / 0.4).exp();
                let m = sin2pi(self.phase2);
                // Wraps by comparison: exactly `fract`/`p - floor(p)` here (2·dt < 1 for
                // any MIDI key, |index·m / 2π| < 1), without their libm calls.
                self.phase2 += 2.0 * dt;
                if self.phase2 >= 1.0 {
                    self.phase2 -= 1.0;
                }
                let mut p = self.phase + index * m * (1.0 / std::f32::consts::TAU);
                if p < 0.0 {
                    p += 1.0;
                } else if p >= 1.0 {
                    p -= 1.0;
                }
                self.advance(dt);
                sin2pi(p)
            }
            SynthKind::Kick => {
                // Sine with a fast downward pitch sweep plus a short noise click.
                let time = time();
                let base = 48.0 * (self.freq / midi_hz(36));
                let f = base + 140.0 * (-time / 0.03).exp();
                let y = sin2pi(self.phase) * (-time / 0.35).exp()
                    + 0.3 * self.rng.next_bipolar() * (-time / 0.002).exp();
                self.advance(f / sr);
                return (y, y, time > 2.5);
            }
            SynthKind::Snare => {
                let time = time();
                let n = self.rng.next_bipolar();
                let hp = n - self.hp;
                self.hp = n;
                let body = sin2pi(self.phase) * 0.5 * (-time / 0.08).exp();
                self.advance(185.0 * (self.freq / midi_hz(38)) / sr);
                let y = body + 0.6 * hp * (-time / 0.15).exp();
                return (y, y, time > 1.5);
            }
            SynthKind::Hat => {
                // High-passed noise; the GM open hi-hat key (46) rings longer.
                let time = time();
                let n = self.rng.next_bipolar();
                self.lp += 0.35 * (n - self.lp);
                let decay = if self.key == 46 { 0.35 } else { 0.05 };
                let y = 0.7 * (n - self.lp) * (-time / decay).exp();
                return (y, y, time > 12.0 * decay);
            }
            SynthKind::Clap => {
                // Three quick noise bursts then a tail, band-limited around 1–2 kHz.
                let time = time();
                let n = self.rng.next_bipolar();
                self.lp += 0.3 * (n - self.lp);
                let band = self.lp - self.hp;
                self.hp += 0.05 * (self.lp - self.hp);
                let burst = |start: f32| {
                    if time >= start {
                        (-(time - start) / 0.004).exp()
                    } else {
                        0.0
                    }
                };
                let tail = if time >= 0.03 {
                    0.6 * (-(time - 0.03) / 0.1).exp()
                } else {
                    0.0
                };
                let e = burst(0.0) + burst(0.011) + burst(0.022) + tail;
                let y = 1.6 * band * e;
                return (y, y, time > 1.2);
            }
            SynthKind::Sample => {
                // A one-shot whose speed `param()` brought to rest at 0 would hold one frame
                // as DC in a voice slot for ever (note-off does not end a one-shot): it ends.
                if !self.sample_loop
                    && self.sample_speed.value == 0.0
                    && self.sample_speed.target == 0.0
                {
                    return (0.0, 0.0, true);
                }
                let Some(smp) =
                    ctx.banks
                        .get(self.sample_bank, self.sample_folder, self.sample_index)
                else {
                    return (0.0, 0.0, true);
                };
                let (lo, hi) = (self.sample_lo, self.sample_hi.min(smp.length() as f64));
                let mut pos = self.sample_pos;
                if pos < lo || pos >= hi {
                    if !self.sample_loop || hi <= lo {
                        return (0.0, 0.0, true);
                    }
                    // Wrap into the part (forwards or backwards); after the note-off the
                    // loop goes on through the release.
                    pos = lo + (pos - lo).rem_euclid(hi - lo);
                }
                let i = pos as usize;
                let frac = (pos - i as f64) as f32;
                if self.streamed
                    && self.sample_speed.value < 0.0
                    && (self.stream_head..self.stream_tail).contains(&i)
                {
                    // Turned backwards by `param` into the streamed middle: not in memory.
                    return (0.0, 0.0, true);
                }
                let (l0, r0) = self.sample_frame(smp, i);
                let (l, r) = if frac == 0.0 || i + 1 >= hi as usize {
                    (l0, r0)
                } else {
                    let (l1, r1) = self.sample_frame(smp, i + 1);
                    (l0 + (l1 - l0) * frac, r0 + (r1 - r0) * frac)
                };
                self.sample_pos = pos + self.sample_unit * self.sample_speed.next() as f64;
                return (l, r, false);
            }
        };
        (x, x, false)
    }

    #[inline]
    fn square(&self, dt: f32) -> f32 {
        let p = self.phase;
        let mut y = if p < 0.5 { 1.0 } else { -1.0 };
        y += poly_blep(p, dt);
        let p2 = if p >= 0.5 { p - 0.5 } else { p + 0.5 };
        y -= poly_blep(p2, dt);
        y
    }

    #[inline]
    fn advance(&mut self, dt: f32) {
        self.phase += dt;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }
    }
}

mod streamed;

#[cfg(test)]
#[path = "voice_tests.rs"]
mod tests;
