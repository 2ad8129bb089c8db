//! The second half of a block's voice rendering (added in weft's vendored copy, see
//! VENDORED.md): each voice's low-pass filter, its gain ramp and its stereo mix in one pass,
//! four voices at a time in the lanes of `[f32; 4]` values.
//!
//! Upstream ran the filter over each voice's block, then mixed the block into the left and
//! then the right output. A biquad is a chain of dependent operations per sample, so one
//! voice at a time left the CPU waiting on it; four independent voices side by side fill
//! one SIMD register each step and the block is read once instead of three times.

use crate::soundfont_math::SoundFontMath;
use crate::voice::Voice;

/// Voices per group: one SSE register of f32.
const LANES: usize = 4;

type F4 = [f32; LANES];

#[derive(Debug)]
pub(crate) struct VoiceMix {
    /// Per frame, one sample of each voice in the group (filtered in place).
    input: Vec<F4>,
    /// Per frame, the partial left and right sums of the lanes over all groups.
    left: Vec<F4>,
    right: Vec<F4>,
}

// Lane-wise arithmetic, written so that it compiles to one SSE instruction each.
#[inline(always)]
fn add(a: F4, b: F4) -> F4 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

#[inline(always)]
fn sub(a: F4, b: F4) -> F4 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3]]
}

#[inline(always)]
fn mul(a: F4, b: F4) -> F4 {
    [a[0] * b[0], a[1] * b[1], a[2] * b[2], a[3] * b[3]]
}

/// Start gain and per-frame step of a voice's ramp from `previous` to `current` over a
/// block, as upstream's `Synthesizer::write_block`: silent below the audible limit, flat
/// when the change is tiny.
fn ramp(previous: f32, current: f32, inverse_block_size: f32) -> (f32, f32) {
    if SoundFontMath::max(previous, current) < SoundFontMath::NON_AUDIBLE {
        (0_f32, 0_f32)
    } else if (current - previous).abs() < 1.0E-3_f32 {
        (current, 0_f32)
    } else {
        (previous, inverse_block_size * (current - previous))
    }
}

impl VoiceMix {
    pub(crate) fn new(block_size: usize) -> Self {
        Self {
            input: vec![[0_f32; LANES]; block_size],
            left: vec![[0_f32; LANES]; block_size],
            right: vec![[0_f32; LANES]; block_size],
        }
    }

    /// Filters every voice's block, and adds it with its gain ramp (times `master`) into
    /// `left` and `right` (each `block_size` long). With `write_back` the filtered block is
    /// stored back into the voice (the reverb and chorus sends read it).
    pub(crate) fn mix(
        &mut self,
        voices: &mut [Voice],
        master: f32,
        inverse_block_size: f32,
        left: &mut [f32],
        right: &mut [f32],
        write_back: bool,
    ) {
        self.left.fill([0_f32; LANES]);
        self.right.fill([0_f32; LANES]);
        for group in voices.chunks_mut(LANES) {
            self.mix_group(group, master, inverse_block_size, write_back);
        }
        for (((l, r), sl), sr) in left
            .iter_mut()
            .zip(right.iter_mut())
            .zip(self.left.iter())
            .zip(self.right.iter())
        {
            *l += (sl[0] + sl[1]) + (sl[2] + sl[3]);
            *r += (sr[0] + sr[1]) + (sr[2] + sr[3]);
        }
    }

    fn mix_group(
        &mut self,
        group: &mut [Voice],
        master: f32,
        inverse_block_size: f32,
        write_back: bool,
    ) {
        // Unused lanes: silence through an identity filter at gain 0.
        let mut c = [[1_f32, 0_f32, 0_f32, 0_f32, 0_f32]; LANES];
        let mut s = [[0_f32; 4]; LANES];
        let (mut gl, mut dl, mut gr, mut dr) = (
            [0_f32; LANES],
            [0_f32; LANES],
            [0_f32; LANES],
            [0_f32; LANES],
        );
        if group.len() < LANES {
            for x in self.input.iter_mut() {
                *x = [0_f32; LANES];
            }
        }
        for (k, voice) in group.iter_mut().enumerate() {
            (gl[k], dl[k]) = ramp(
                master * voice.previous_mix_gain_left,
                master * voice.current_mix_gain_left,
                inverse_block_size,
            );
            (gr[k], dr[k]) = ramp(
                master * voice.previous_mix_gain_right,
                master * voice.current_mix_gain_right,
                inverse_block_size,
            );
            let (block, filter) = voice.block_and_filter();
            c[k] = filter.coefficients();
            s[k] = filter.state();
            for (x, &b) in self.input.iter_mut().zip(block.iter()) {
                x[k] = b;
            }
        }
        let lane = |i: usize| -> F4 { [c[0][i], c[1][i], c[2][i], c[3][i]] };
        let (b0, b1, b2, a1, a2) = (lane(0), lane(1), lane(2), lane(3), lane(4));
        let state = |i: usize| -> F4 { [s[0][i], s[1][i], s[2][i], s[3][i]] };
        let (mut x1, mut x2, mut y1, mut y2) = (state(0), state(1), state(2), state(3));
        for ((x, l), r) in self
            .input
            .iter_mut()
            .zip(self.left.iter_mut())
            .zip(self.right.iter_mut())
        {
            let xi = *x;
            // y2's term first: only the last product waits for the previous output.
            let y = sub(
                sub(add(add(mul(b0, xi), mul(b1, x1)), mul(b2, x2)), mul(a2, y2)),
                mul(a1, y1),
            );
            x2 = x1;
            x1 = xi;
            y2 = y1;
            y1 = y;
            *x = y;
            *l = add(*l, mul(gl, y));
            *r = add(*r, mul(gr, y));
            gl = add(gl, dl);
            gr = add(gr, dr);
        }
        for (k, voice) in group.iter_mut().enumerate() {
            let (block, filter) = voice.block_and_filter();
            filter.set_state([x1[k], x2[k], y1[k], y2[k]]);
            if write_back {
                for (b, x) in block.iter_mut().zip(self.input.iter()) {
                    *b = x[k];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array_math::ArrayMath;
    use crate::synthesizer_settings::SynthesizerSettings;

    const BLOCK: usize = 64;

    /// Deterministic noise in -1..1 (xorshift32).
    fn noise(seed: &mut u32) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 17;
        *seed ^= *seed << 5;
        (*seed as f32 / u32::MAX as f32) * 2_f32 - 1_f32
    }

    /// `n` voices with noise blocks, filters open, closed and resonant, and gains that are
    /// flat, ramping and silent.
    fn voices(n: usize, seed: &mut u32) -> Vec<Voice> {
        let mut settings = SynthesizerSettings::new(48000);
        settings.block_size = BLOCK;
        (0..n)
            .map(|i| {
                let mut v = Voice::new(&settings);
                let gains = [(0.5, 0.5), (0.2, 0.9), (1e-4, 2e-4), (0.8, 0.1)];
                (v.previous_mix_gain_left, v.current_mix_gain_left) = gains[i % 4];
                (v.previous_mix_gain_right, v.current_mix_gain_right) = gains[(i + 1) % 4];
                let (block, filter) = v.block_and_filter();
                for x in block.iter_mut() {
                    *x = noise(seed);
                }
                // 30 kHz is above 0.499 of the rate: the filter is inactive. (Much lower
                // cutoffs amplify rounding differences: at 120 Hz only about -75 dB agree.)
                let cutoffs = [19_912_f32, 30_000_f32, 800_f32, 5_000_f32, 2_000_f32];
                filter.set_low_pass_filter(cutoffs[i % 5], 1_f32 + (i % 3) as f32);
                filter.set_state([noise(seed), noise(seed), noise(seed), noise(seed)]);
                v
            })
            .collect()
    }

    /// Upstream's order: the filter over each block, then `write_block` into left and right.
    fn reference(voices: &mut [Voice], master: f32) -> (Vec<f32>, Vec<f32>) {
        let inverse = 1_f32 / BLOCK as f32;
        let (mut left, mut right) = (vec![0_f32; BLOCK], vec![0_f32; BLOCK]);
        for v in voices.iter_mut() {
            let gains = [
                (v.previous_mix_gain_left, v.current_mix_gain_left),
                (v.previous_mix_gain_right, v.current_mix_gain_right),
            ];
            let (block, filter) = v.block_and_filter();
            filter.process(block);
            for ((previous, current), out) in gains.into_iter().zip([&mut left, &mut right]) {
                let (previous, current) = (master * previous, master * current);
                if previous.max(current) < SoundFontMath::NON_AUDIBLE {
                    continue;
                }
                if (current - previous).abs() < 1.0E-3_f32 {
                    ArrayMath::multiply_add(current, block, out);
                } else {
                    let step = inverse * (current - previous);
                    ArrayMath::multiply_add_slope(previous, step, block, out);
                }
            }
        }
        (left, right)
    }

    #[test]
    fn four_lane_mix_matches_upstream_filter_and_write_block() {
        for n in [1, 3, 4, 5, 8, 9, 64] {
            let mut seed = 0x9e37_79b9 ^ n as u32;
            let mut ours = voices(n, &mut seed);
            let mut seed = 0x9e37_79b9 ^ n as u32;
            let mut theirs = voices(n, &mut seed);
            // Rounding differs (lane sums, the y2 term first): agreement to -80 dB of the
            // peak; a wrong lane, gain or state would be off by the signal itself.
            let mut mix = VoiceMix::new(BLOCK);
            for round in 0..3 {
                let (mut left, mut right) = (vec![0_f32; BLOCK], vec![0_f32; BLOCK]);
                mix.mix(
                    &mut ours,
                    0.7,
                    1_f32 / BLOCK as f32,
                    &mut left,
                    &mut right,
                    true,
                );
                let (l, r) = reference(&mut theirs, 0.7);
                let peak = l.iter().chain(&r).fold(0_f32, |m, x| m.max(x.abs()));
                assert!(peak > 0.1, "{n} voices: the reference is silent");
                for (a, b) in left.iter().chain(&right).zip(l.iter().chain(&r)) {
                    assert!(
                        (a - b).abs() <= 1e-4 * peak,
                        "{n} voices, round {round}: {a} vs {b}"
                    );
                }
                for (o, t) in ours.iter_mut().zip(theirs.iter_mut()) {
                    let (ob, of) = o.block_and_filter();
                    let (os, ob) = (of.state(), ob.to_vec());
                    let (tb, tf) = t.block_and_filter();
                    for (a, b) in os
                        .iter()
                        .zip(tf.state().iter())
                        .chain(ob.iter().zip(tb.iter()))
                    {
                        assert!((a - b).abs() <= 1e-4 * b.abs().max(1_f32), "{a} vs {b}");
                    }
                    // The next block: fresh input, each side from its own filter state.
                    for (x, y) in tb.iter_mut().zip(o.block_and_filter().0.iter_mut()) {
                        *x = noise(&mut seed);
                        *y = *x;
                    }
                }
            }
        }
    }

    #[test]
    fn silent_ramps_add_nothing_and_unused_lanes_stay_silent() {
        let mut seed = 7;
        let mut vs = voices(2, &mut seed);
        for v in vs.iter_mut() {
            v.previous_mix_gain_left = 0_f32;
            v.current_mix_gain_left = 0_f32;
        }
        let mut mix = VoiceMix::new(BLOCK);
        let (mut left, mut right) = (vec![0.25_f32; BLOCK], vec![0_f32; BLOCK]);
        mix.mix(
            &mut vs,
            1_f32,
            1_f32 / BLOCK as f32,
            &mut left,
            &mut right,
            false,
        );
        assert!(
            left.iter().all(|&x| x == 0.25),
            "the left output was touched"
        );
        assert!(right.iter().any(|&x| x != 0_f32));
    }
}
