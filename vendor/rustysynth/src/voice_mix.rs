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

/// Groups of four voices whose filter chains run side by side in one pass over the block.
const CHAINS: usize = 2;

#[derive(Debug)]
pub(crate) struct VoiceMix {
    /// Per frame, one sample of each voice in the group (filtered in place): `chains`
    /// consecutive `F4`s per frame.
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
            input: vec![[0_f32; LANES]; block_size * CHAINS],
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
        self.mix_chained(
            voices,
            master,
            inverse_block_size,
            left,
            right,
            write_back,
            CHAINS,
        );
    }

    /// `mix` with at most `max_chains` groups of four voices per pass (the tests compare
    /// one chain per pass with several).
    #[allow(clippy::too_many_arguments)]
    fn mix_chained(
        &mut self,
        voices: &mut [Voice],
        master: f32,
        inverse_block_size: f32,
        left: &mut [f32],
        right: &mut [f32],
        write_back: bool,
        max_chains: usize,
    ) {
        self.left.fill([0_f32; LANES]);
        self.right.fill([0_f32; LANES]);
        // Two groups per pass: a biquad waits on its previous output every frame, and two
        // independent chains give the CPU work while it waits. Each frame's partial sums
        // take the first group's samples before the second's, as when the groups ran one
        // after the other, so the sums (and the output) are the same bits.
        for group in voices.chunks_mut(LANES * max_chains.clamp(1, CHAINS)) {
            if group.len() > LANES {
                self.mix_group::<2>(group, master, inverse_block_size, write_back);
            } else {
                self.mix_group::<1>(group, master, inverse_block_size, write_back);
            }
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

    /// Up to `N * LANES` voices, lane `k` of chain `j` being voice `j * LANES + k`.
    fn mix_group<const N: usize>(
        &mut self,
        group: &mut [Voice],
        master: f32,
        inverse_block_size: f32,
        write_back: bool,
    ) {
        debug_assert!(N <= CHAINS && group.len() <= N * LANES);
        let frames = self.left.len();
        let input = &mut self.input[..frames * N];
        // Unused lanes: silence through an identity filter at gain 0.
        let mut c = [[[1_f32, 0_f32, 0_f32, 0_f32, 0_f32]; LANES]; N];
        let mut s = [[[0_f32; 4]; LANES]; N];
        let (mut gl, mut dl, mut gr, mut dr) = (
            [[0_f32; LANES]; N],
            [[0_f32; LANES]; N],
            [[0_f32; LANES]; N],
            [[0_f32; LANES]; N],
        );
        if group.len() < N * LANES {
            input.fill([0_f32; LANES]);
        }
        for (v, voice) in group.iter_mut().enumerate() {
            let (j, k) = (v / LANES, v % LANES);
            (gl[j][k], dl[j][k]) = ramp(
                master * voice.previous_mix_gain_left,
                master * voice.current_mix_gain_left,
                inverse_block_size,
            );
            (gr[j][k], dr[j][k]) = ramp(
                master * voice.previous_mix_gain_right,
                master * voice.current_mix_gain_right,
                inverse_block_size,
            );
            let (block, filter) = voice.block_and_filter();
            c[j][k] = filter.coefficients();
            s[j][k] = filter.state();
            for (x, &b) in input.chunks_exact_mut(N).zip(block.iter()) {
                x[j][k] = b;
            }
        }
        let lane = |j: usize, i: usize| -> F4 { [c[j][0][i], c[j][1][i], c[j][2][i], c[j][3][i]] };
        let state = |j: usize, i: usize| -> F4 { [s[j][0][i], s[j][1][i], s[j][2][i], s[j][3][i]] };
        let b0: [F4; N] = std::array::from_fn(|j| lane(j, 0));
        let b1: [F4; N] = std::array::from_fn(|j| lane(j, 1));
        let b2: [F4; N] = std::array::from_fn(|j| lane(j, 2));
        let a1: [F4; N] = std::array::from_fn(|j| lane(j, 3));
        let a2: [F4; N] = std::array::from_fn(|j| lane(j, 4));
        let mut x1: [F4; N] = std::array::from_fn(|j| state(j, 0));
        let mut x2: [F4; N] = std::array::from_fn(|j| state(j, 1));
        let mut y1: [F4; N] = std::array::from_fn(|j| state(j, 2));
        let mut y2: [F4; N] = std::array::from_fn(|j| state(j, 3));
        for ((x, l), r) in input
            .chunks_exact_mut(N)
            .zip(self.left.iter_mut())
            .zip(self.right.iter_mut())
        {
            for j in 0..N {
                let xi = x[j];
                // y2's term first: only the last product waits for the previous output.
                let y = sub(
                    sub(
                        add(add(mul(b0[j], xi), mul(b1[j], x1[j])), mul(b2[j], x2[j])),
                        mul(a2[j], y2[j]),
                    ),
                    mul(a1[j], y1[j]),
                );
                x2[j] = x1[j];
                x1[j] = xi;
                y2[j] = y1[j];
                y1[j] = y;
                x[j] = y;
            }
            // Chain 0's samples first, then chain 1's (see `mix_chained`).
            for j in 0..N {
                *l = add(*l, mul(gl[j], x[j]));
                *r = add(*r, mul(gr[j], x[j]));
                gl[j] = add(gl[j], dl[j]);
                gr[j] = add(gr[j], dr[j]);
            }
        }
        for (v, voice) in group.iter_mut().enumerate() {
            let (j, k) = (v / LANES, v % LANES);
            let (block, filter) = voice.block_and_filter();
            filter.set_state([x1[j][k], x2[j][k], y1[j][k], y2[j][k]]);
            if write_back {
                for (b, x) in block.iter_mut().zip(input.chunks_exact(N)) {
                    *b = x[j][k];
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

    #[test]
    fn two_chains_per_pass_give_the_bits_of_one() {
        for n in [1, 4, 5, 7, 8, 12, 13, 64] {
            let mut seed = 0x51ed_270b ^ n as u32;
            let mut two = voices(n, &mut seed);
            let mut seed = 0x51ed_270b ^ n as u32;
            let mut one = voices(n, &mut seed);
            let mut mix = VoiceMix::new(BLOCK);
            for _ in 0..3 {
                let mut out = [vec![0.125_f32; BLOCK], vec![-0.25_f32; BLOCK]];
                let mut reference = out.clone();
                let [l, r] = &mut out;
                mix.mix_chained(&mut two, 0.7, 1_f32 / BLOCK as f32, l, r, true, 2);
                let [l, r] = &mut reference;
                mix.mix_chained(&mut one, 0.7, 1_f32 / BLOCK as f32, l, r, true, 1);
                let bits = |v: &[Vec<f32>]| -> Vec<u32> {
                    v.iter().flatten().map(|x| x.to_bits()).collect()
                };
                assert_eq!(bits(&out), bits(&reference), "{n} voices");
                for (a, b) in two.iter_mut().zip(one.iter_mut()) {
                    let (ab, af) = a.block_and_filter();
                    let (bb, bf) = b.block_and_filter();
                    assert_eq!(af.state(), bf.state(), "{n} voices: filter state");
                    assert_eq!(ab, bb, "{n} voices: written-back block");
                    for (x, y) in ab.iter_mut().zip(bb.iter_mut()) {
                        *x = noise(&mut seed);
                        *y = *x;
                    }
                }
            }
        }
    }
}
