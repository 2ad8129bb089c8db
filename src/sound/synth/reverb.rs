//! The shared reverb bus: an 8-line feedback delay network (Jot's FDN). The mono sum of the
//! voices' `room` sends passes four Schroeder all-pass diffusers, then enters eight delay
//! lines of mutually prime lengths (30–60 ms) mixed by an orthogonal 8×8 Hadamard matrix.
//! Each line is attenuated by `g = 10^(−3·len / (RT60·sr))`, so every path loses 60 dB in
//! RT60 seconds whatever route it takes: the decay time is set exactly by `size`
//! ([`rt60_of_size`]), and a one-pole low-pass in each loop (`damp`) makes highs die sooner.
//! Left and right take different sign patterns of the lines (decorrelated stereo).
//! All buffers are allocated in [`Reverb::new`].

use super::dsp::Quiet;

/// Line lengths in frames at 48 kHz (primes, no common factors), scaled to the sample rate.
const LINES_48K: [usize; 8] = [1433, 1601, 1867, 2053, 2251, 2399, 2617, 2897];
/// All-pass diffuser lengths at 48 kHz and their gain.
const DIFFUSERS_48K: [usize; 4] = [142, 107, 379, 277];
const DIFFUSER_GAIN: f32 = 0.6;
/// Level of the wet output.
const WET: f32 = 0.35;

/// Decay time (to −60 dB) for a `size` in 0..=1: 0.25 s × 40^size, i.e. 0.25 s at 0,
/// 1.58 s at 0.5, 10 s at 1.
pub fn rt60_of_size(size: f32) -> f32 {
    0.25 * 40f32.powf(size.clamp(0.0, 1.0))
}

struct Line {
    buf: Vec<f32>,
    pos: usize,
}

impl Line {
    fn new(len: usize) -> Self {
        Line {
            buf: vec![0.0; len.max(1)],
            pos: 0,
        }
    }

    /// The sample written `len` frames ago.
    #[inline]
    fn read(&self) -> f32 {
        self.buf[self.pos]
    }

    #[inline]
    fn write(&mut self, x: f32) {
        self.buf[self.pos] = x;
        self.pos += 1;
        if self.pos == self.buf.len() {
            self.pos = 0;
        }
    }
}

#[inline]
fn flush(x: f32) -> f32 {
    if x.abs() < 1e-20 {
        0.0
    } else {
        x
    }
}

pub struct Reverb {
    sample_rate: f32,
    lines: [Line; 8],
    diffusers: [Line; 4],
    lp: [f32; 8],
    gains: [f32; 8],
    /// Settings as set, and as currently applied (they glide toward the set ones per block).
    size: f32,
    damp: f32,
    size_now: f32,
    damp_now: f32,
    /// Frames since the bus last received input (saturating).
    quiet: Quiet,
}

impl Reverb {
    pub fn new(sample_rate: f32) -> Self {
        let scale = |n: usize| ((n as f32 * sample_rate / 48_000.0).round() as usize).max(1);
        let mut r = Reverb {
            sample_rate,
            lines: LINES_48K.map(|n| Line::new(scale(n))),
            diffusers: DIFFUSERS_48K.map(|n| Line::new(scale(n))),
            lp: [0.0; 8],
            gains: [0.0; 8],
            size: 0.4,
            damp: 0.3,
            size_now: 0.4,
            damp_now: 0.3,
            quiet: Quiet::IDLE,
        };
        r.update_gains();
        r
    }

    /// Sets `size` and `damp` (0..=1 each); they glide there over ~50 ms while sounding.
    pub fn set(&mut self, size: f32, damp: f32) {
        if size.is_finite() {
            self.size = size.clamp(0.0, 1.0);
        }
        if damp.is_finite() {
            self.damp = damp.clamp(0.0, 1.0);
        }
        if self.is_idle() {
            self.size_now = self.size;
            self.damp_now = self.damp;
            self.update_gains();
        }
    }

    pub fn set_size(&mut self, size: f32) {
        self.set(size, self.damp);
    }

    pub fn set_damp(&mut self, damp: f32) {
        self.set(self.size, damp);
    }

    fn update_gains(&mut self) {
        let rt60 = rt60_of_size(self.size_now);
        for (g, line) in self.gains.iter_mut().zip(&self.lines) {
            *g = 10f32.powf(-3.0 * line.buf.len() as f32 / (rt60 * self.sample_rate));
        }
    }

    fn tail_frames(&self) -> u64 {
        // −100 dB after the last input, plus the longest line.
        let rt = rt60_of_size(self.size_now.max(self.size));
        (rt * 100.0 / 60.0 * self.sample_rate) as u64 + 4096
    }

    pub fn is_idle(&self) -> bool {
        self.quiet.is_past(self.tail_frames())
    }

    /// Adds the wet output for the interleaved stereo `input` (summed sends) into `out`.
    pub fn process(&mut self, input: &[f32], fed: bool, out: &mut [f32]) {
        let frames = out.len() / 2;
        let tail = self.tail_frames();
        if !self.quiet.run_block(fed, frames, tail) {
            return;
        }
        // Block-rate glide of the settings (≈50 ms time constant).
        if self.size_now != self.size || self.damp_now != self.damp {
            let k = 1.0 - (-(frames as f32) / (0.05 * self.sample_rate)).exp();
            let step = |now: f32, to: f32| {
                let n = now + (to - now) * k;
                if (n - to).abs() < 1e-4 {
                    to
                } else {
                    n
                }
            };
            self.size_now = step(self.size_now, self.size);
            self.damp_now = step(self.damp_now, self.damp);
            self.update_gains();
        }
        let a = 0.85 * self.damp_now;
        let b = 1.0 - a;
        for (i, o) in out.chunks_exact_mut(2).enumerate() {
            let mut x = if fed {
                0.5 * (input[2 * i] + input[2 * i + 1])
            } else {
                0.0
            };
            for d in &mut self.diffusers {
                let z = d.read();
                let v = x + DIFFUSER_GAIN * z;
                d.write(flush(v));
                x = z - DIFFUSER_GAIN * v;
            }
            let mut s = [0.0f32; 8];
            for (((line, lp), gain), s) in self
                .lines
                .iter_mut()
                .zip(&mut self.lp)
                .zip(&self.gains)
                .zip(&mut s)
            {
                *lp = flush(b * line.read() + a * *lp);
                *s = gain * *lp;
            }
            let l = s[0] - s[1] + s[2] - s[3] + s[4] - s[5] + s[6] - s[7];
            let r = s[0] + s[1] - s[2] - s[3] + s[4] + s[5] - s[6] - s[7];
            hadamard8(&mut s);
            for (line, s) in self.lines.iter_mut().zip(s) {
                line.write(flush(s + x));
            }
            o[0] += WET * l;
            o[1] += WET * r;
        }
        if !self.lp.iter().all(|v| v.is_finite()) {
            self.clear();
        }
    }

    /// Empties every line (after a NaN reached them).
    pub fn clear(&mut self) {
        for l in self.lines.iter_mut().chain(self.diffusers.iter_mut()) {
            l.buf.fill(0.0);
        }
        self.lp = [0.0; 8];
    }
}

/// In-place orthonormal 8-point Hadamard transform (lossless mixing of the lines).
#[inline]
fn hadamard8(s: &mut [f32; 8]) {
    let mut h = 1;
    while h < 8 {
        let mut i = 0;
        while i < 8 {
            for j in i..i + h {
                let (x, y) = (s[j], s[j + h]);
                s[j] = x + y;
                s[j + h] = x - y;
            }
            i += 2 * h;
        }
        h *= 2;
    }
    let norm = 1.0 / 8f32.sqrt();
    for v in s.iter_mut() {
        *v *= norm;
    }
}

/// RT60 of an impulse response by Schroeder backward integration: the −5…−35 dB slope of the
/// energy decay curve, extrapolated to 60 dB (T30). `energy[i]` is the squared output at
/// frame `i`. Used by the known-answer tests and the bench.
pub fn rt60_of_response(energy: &[f64], sample_rate: f32) -> Option<f32> {
    let mut edc = vec![0.0f64; energy.len()];
    let mut acc = 0.0;
    for i in (0..energy.len()).rev() {
        acc += energy[i];
        edc[i] = acc;
    }
    let total = *edc.first()?;
    if total <= 0.0 {
        return None;
    }
    let db = |i: usize| 10.0 * (edc[i] / total).log10();
    let t5 = (0..edc.len()).find(|&i| db(i) <= -5.0)?;
    let t35 = (t5..edc.len()).find(|&i| db(i) <= -35.0)?;
    // Least-squares slope (dB per frame) between the two points.
    let n = (t35 - t5 + 1) as f64;
    let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    for i in t5..=t35 {
        let (x, y) = (i as f64, db(i));
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    let slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    if slope >= 0.0 {
        return None;
    }
    Some((-60.0 / slope / sample_rate as f64) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(size: f32, damp: f32, secs: f32) -> Vec<f64> {
        let sr = 48_000.0;
        let mut rev = Reverb::new(sr);
        rev.set(size, damp);
        let frames = (secs * sr) as usize;
        let mut out = vec![0.0f32; 2 * frames];
        let mut input = vec![0.0f32; 2 * frames];
        input[0] = 1.0;
        input[1] = 1.0;
        for (inp, o) in input.chunks(512).zip(out.chunks_mut(512)) {
            rev.process(inp, true, o);
        }
        out.chunks_exact(2)
            .map(|f| (f[0] as f64).powi(2) + (f[1] as f64).powi(2))
            .collect()
    }

    #[test]
    fn rt60_matches_the_size_setting_within_20_percent() {
        for size in [0.0f32, 0.3, 0.5, 0.7] {
            let want = rt60_of_size(size);
            let e = response(size, 0.0, want * 1.6 + 0.5);
            let got = rt60_of_response(&e, 48_000.0).unwrap();
            let err = (got - want).abs() / want;
            assert!(err < 0.2, "size {size}: RT60 {got:.3} s, set {want:.3} s");
        }
    }

    #[test]
    fn hadamard_is_orthonormal() {
        let mut s = [1.0, 2.0, -3.0, 0.5, 0.0, 4.0, -1.0, 2.5];
        let e0: f32 = s.iter().map(|x| x * x).sum();
        hadamard8(&mut s);
        let e1: f32 = s.iter().map(|x| x * x).sum();
        assert!((e0 - e1).abs() < 1e-4);
        hadamard8(&mut s);
        assert!((s[2] + 3.0).abs() < 1e-5, "H·H = I");
    }

    #[test]
    fn damping_darkens_the_tail() {
        // High-frequency share of the tail: first difference energy / energy.
        let brightness = |damp: f32| {
            let sr = 48_000.0;
            let mut rev = Reverb::new(sr);
            rev.set(0.5, damp);
            let mut out = vec![0.0f32; 2 * 48_000];
            let mut input = vec![0.0f32; 2 * 48_000];
            input[0] = 1.0;
            input[1] = 1.0;
            rev.process(&input, true, &mut out);
            let l: Vec<f32> = out.chunks_exact(2).skip(12_000).map(|f| f[0]).collect();
            let e: f32 = l.iter().map(|x| x * x).sum();
            let d: f32 = l.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();
            d / e
        };
        assert!(brightness(0.8) < 0.5 * brightness(0.0));
    }
}
