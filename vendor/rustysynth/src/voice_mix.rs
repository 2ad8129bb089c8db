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
        let (mut gl, mut dl, mut gr, mut dr) = ([0_f32; LANES], [0_f32; LANES], [0_f32; LANES], [0_f32; LANES]);
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
                sub(
                    add(add(mul(b0, xi), mul(b1, x1)), mul(b2, x2)),
                    mul(a2, y2),
                ),
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
