//! The shared delay bus: a stereo delay line (up to `MAX_DELAY_SECS`) fed by every voice's
//! `delay` send, with feedback and an optional ping-pong mode (a mono sum enters the left
//! line, each repeat crosses to the other side). The time is smoothed in frames, so moving it
//! glides like tape instead of clicking. Buffers are allocated once in [`DelayBus::new`].

use super::dsp::{Quiet, Smoothed};

/// Longest delay the bus holds; longer settings are clamped to it.
pub const MAX_DELAY_SECS: f32 = 4.0;
/// Highest feedback: below 1 so repeats always die away.
pub const MAX_FEEDBACK: f32 = 0.95;

pub struct DelayBus {
    left: Vec<f32>,
    right: Vec<f32>,
    pos: usize,
    /// Delay in frames (≥ 1).
    time: Smoothed,
    feedback: Smoothed,
    pub pingpong: bool,
    /// Frames since the bus last received input (saturating).
    quiet: Quiet,
}

#[inline]
fn flush(x: f32) -> f32 {
    if x.abs() < 1e-20 {
        0.0
    } else {
        x
    }
}

impl DelayBus {
    pub fn new(sample_rate: f32) -> Self {
        let len = (MAX_DELAY_SECS * sample_rate) as usize + 2;
        DelayBus {
            left: vec![0.0; len],
            right: vec![0.0; len],
            pos: 0,
            time: Smoothed::new(0.375 * sample_rate, sample_rate),
            feedback: Smoothed::new(0.4, sample_rate),
            pingpong: false,
            quiet: Quiet::IDLE,
        }
    }

    /// Sets the delay in frames (clamped to 1..the line length) — smoothly unless the bus is
    /// silent, when it jumps there.
    pub fn set_time_frames(&mut self, frames: f32) {
        let max = (self.left.len() - 2) as f32;
        let f = if frames.is_finite() { frames } else { 1.0 };
        let f = f.clamp(1.0, max);
        if self.is_idle() {
            self.time.reset(f);
        } else {
            self.time.target = f;
        }
    }

    pub fn set_feedback(&mut self, fb: f32) {
        let fb = if fb.is_finite() { fb } else { 0.0 };
        let fb = fb.clamp(0.0, MAX_FEEDBACK);
        if self.is_idle() {
            self.feedback.reset(fb);
        } else {
            self.feedback.target = fb;
        }
    }

    /// Frames after the last input until the repeats are below −100 dB.
    fn tail_frames(&self) -> u64 {
        let d = self.time.value.max(self.time.target) as f64;
        let fb = self.feedback.value.max(self.feedback.target) as f64;
        let repeats = if fb < 1e-3 {
            1.0
        } else {
            1.0 + (1e-5f64).ln() / fb.ln()
        };
        // Ping-pong alternates sides: the same decay per repeat, one line further.
        (d * (repeats + 1.0)) as u64 + 1
    }

    /// True when nothing audible is left in the lines and no input is arriving.
    pub fn is_idle(&self) -> bool {
        self.quiet.is_past(self.tail_frames())
    }

    /// Adds the wet output for the interleaved stereo `input` (the summed sends) into `out`.
    /// `fed` says whether any voice wrote into `input` this time; an idle, unfed bus costs
    /// nothing.
    pub fn process(&mut self, input: &[f32], fed: bool, out: &mut [f32]) {
        let frames = out.len() / 2;
        let tail = self.tail_frames();
        if !self.quiet.run_block(fed, frames, tail) {
            return;
        }
        let len = self.left.len();
        for (i, o) in out.chunks_exact_mut(2).enumerate() {
            let d = self.time.next();
            let fb = self.feedback.next();
            let di = d as usize;
            let frac = d - di as f32;
            // 1 <= di <= len - 2, so one conditional wrap replaces the `%` (a division).
            let mut a = self.pos + len - di;
            if a >= len {
                a -= len;
            }
            let b = if a == 0 { len - 1 } else { a - 1 };
            let rl = self.left[a] + (self.left[b] - self.left[a]) * frac;
            let rr = self.right[a] + (self.right[b] - self.right[a]) * frac;
            let (il, ir) = if fed {
                (input[2 * i], input[2 * i + 1])
            } else {
                (0.0, 0.0)
            };
            let (wl, wr) = if self.pingpong {
                (0.5 * (il + ir) + fb * rr, fb * rl)
            } else {
                (il + fb * rl, ir + fb * rr)
            };
            self.left[self.pos] = flush(wl);
            self.right[self.pos] = flush(wr);
            self.pos += 1;
            if self.pos == len {
                self.pos = 0;
            }
            o[0] += rl;
            o[1] += rr;
        }
        if !(self.left[0].is_finite() && self.right[0].is_finite()) {
            self.clear();
        }
    }

    /// Empties the lines (after a NaN reached them).
    pub fn clear(&mut self) {
        self.left.fill(0.0);
        self.right.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn impulse_response(pingpong: bool, d: f32, fb: f32, frames: usize) -> Vec<f32> {
        let mut bus = DelayBus::new(48_000.0);
        bus.pingpong = pingpong;
        bus.set_time_frames(d);
        bus.set_feedback(fb);
        let mut out = vec![0.0; 2 * frames];
        let mut input = vec![0.0; 2 * frames];
        input[0] = 1.0;
        input[1] = 1.0;
        for (inp, o) in input.chunks(512).zip(out.chunks_mut(512)) {
            let fed = inp.iter().any(|&x| x != 0.0);
            bus.process(inp, fed, o);
        }
        out
    }

    #[test]
    fn repeats_at_the_delay_time_decaying_by_the_feedback() {
        let out = impulse_response(false, 1000.0, 0.5, 5000);
        for (i, f) in out.chunks_exact(2).enumerate() {
            let want = if i > 0 && i % 1000 == 0 {
                0.5f32.powi(i as i32 / 1000 - 1)
            } else {
                0.0
            };
            assert!(
                (f[0] - want).abs() < 1e-6 && (f[1] - want).abs() < 1e-6,
                "{i}: {f:?}"
            );
        }
    }

    #[test]
    fn ping_pong_alternates_sides() {
        let out = impulse_response(true, 800.0, 0.5, 4000);
        let l = |i: usize| out[2 * i];
        let r = |i: usize| out[2 * i + 1];
        assert!((l(800) - 1.0).abs() < 1e-6 && r(800) == 0.0);
        assert!((r(1600) - 0.5).abs() < 1e-6 && l(1600) == 0.0);
        assert!((l(2400) - 0.25).abs() < 1e-6 && r(2400) == 0.0);
        assert!((r(3200) - 0.125).abs() < 1e-6);
    }

    #[test]
    fn goes_idle_after_the_tail_and_clamps_settings() {
        let mut bus = DelayBus::new(48_000.0);
        bus.set_feedback(7.0);
        assert_eq!(bus.feedback.target, MAX_FEEDBACK);
        bus.set_time_frames(1e9);
        assert!(bus.time.target <= MAX_DELAY_SECS * 48_000.0);
        bus.set_time_frames(100.0);
        bus.set_feedback(0.5);
        let mut out = vec![0.0; 1024];
        let input = vec![0.1; 1024];
        bus.process(&input, true, &mut out);
        assert!(!bus.is_idle());
        let silence = vec![0.0; 1024];
        for _ in 0..100 {
            bus.process(&silence, false, &mut out);
        }
        assert!(bus.is_idle());
    }
}
