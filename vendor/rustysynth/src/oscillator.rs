#![allow(dead_code)]

use crate::loop_mode::LoopMode;
use crate::synthesizer_settings::SynthesizerSettings;

// In this class, fixed-point numbers are used for speed-up.
// A fixed-point number is expressed by Int64, whose lower 24 bits represent the fraction part,
// and the rest represent the integer part.
// For clarity, fixed-point number variables have a suffix "_fp".

#[derive(Debug)]
#[non_exhaustive]
pub(crate) struct Oscillator {
    synthesizer_sample_rate: i32,

    loop_mode: LoopMode,
    sample_sample_rate: i32,
    start: i32,
    end: i32,
    start_loop: i32,
    end_loop: i32,
    root_key: i32,

    tune: f32,
    pitch_change_scale: f32,
    sample_rate_ratio: f32,

    looping: bool,

    position_fp: i64,

    /// The pitch of the last block (NaN before the first) and its step.
    last_pitch: f32,
    pitch_ratio_fp: i64,
}

impl Oscillator {
    const FRAC_BITS: i32 = 24;
    const FRAC_UNIT: i64 = 1_i64 << Oscillator::FRAC_BITS;
    const FP_TO_SAMPLE: f32 = 1_f32 / (32768 * Oscillator::FRAC_UNIT) as f32;

    pub(crate) fn new(settings: &SynthesizerSettings) -> Self {
        Self {
            synthesizer_sample_rate: settings.sample_rate,
            loop_mode: LoopMode::NoLoop,
            sample_sample_rate: 0,
            start: 0,
            end: 0,
            start_loop: 0,
            end_loop: 0,
            root_key: 0,
            tune: 0_f32,
            pitch_change_scale: 0_f32,
            sample_rate_ratio: 0_f32,
            looping: false,
            position_fp: 0,
            last_pitch: f32::NAN,
            pitch_ratio_fp: 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        &mut self,
        loop_mode: LoopMode,
        sample_rate: i32,
        start: i32,
        end: i32,
        start_loop: i32,
        end_loop: i32,
        root_key: i32,
        coarse_tune: i32,
        fine_tune: i32,
        scale_tuning: i32,
    ) {
        self.loop_mode = loop_mode;
        self.sample_sample_rate = sample_rate;
        self.start = start;
        self.end = end;
        self.start_loop = start_loop;
        self.end_loop = end_loop;
        self.root_key = root_key;

        self.tune = coarse_tune as f32 + 0.01_f32 * fine_tune as f32;
        self.pitch_change_scale = 0.01_f32 * scale_tuning as f32;
        self.sample_rate_ratio = sample_rate as f32 / self.synthesizer_sample_rate as f32;
        // Looping is disabled when the loop range is invalid (start >= end),
        // so the region plays once instead of reading past the loop (#55).
        self.looping = self.loop_mode != LoopMode::NoLoop && self.start_loop < self.end_loop;
        self.position_fp = (start as i64) << Oscillator::FRAC_BITS;
        self.last_pitch = f32::NAN;
    }

    pub(crate) fn release(&mut self) {
        if self.loop_mode == LoopMode::LoopUntilNoteOff {
            self.looping = false;
        }
    }

    pub(crate) fn process(&mut self, data: &[i16], block: &mut [f32], pitch: f32) -> bool {
        // Most voices hold their pitch for many blocks: recompute the step only when the
        // pitch moves (same arithmetic as upstream, so the same step).
        if pitch.to_bits() != self.last_pitch.to_bits() {
            let pitch_change = self.pitch_change_scale * (pitch - self.root_key as f32) + self.tune;
            let pitch_ratio = self.sample_rate_ratio * 2_f32.powf(pitch_change / 12_f32);
            self.last_pitch = pitch;
            self.pitch_ratio_fp = (Oscillator::FRAC_UNIT as f64 * pitch_ratio as f64) as i64;
        }
        self.fill_block(data, block, self.pitch_ratio_fp)
    }

    fn fill_block(&mut self, data: &[i16], block: &mut [f32], pitch_ratio_fp: i64) -> bool {
        if self.looping {
            self.fill_block_continuous(data, block, pitch_ratio_fp)
        } else {
            self.fill_block_no_loop(data, block, pitch_ratio_fp)
        }
    }

    fn fill_block_no_loop(&mut self, data: &[i16], block: &mut [f32], pitch_ratio_fp: i64) -> bool {
        let end_fp = (self.end as i64) << Oscillator::FRAC_BITS;
        if self.position_fp >= end_fp {
            return false;
        }
        // Samples before the position reaches the end (all of them if it does not move).
        let n = Oscillator::frames_before(self.position_fp, end_fp, pitch_ratio_fp, block.len());
        self.position_fp = Oscillator::run(data, &mut block[..n], self.position_fp, pitch_ratio_fp);
        block[n..].fill(0_f32);
        true
    }

    fn fill_block_continuous(
        &mut self,
        data: &[i16],
        block: &mut [f32],
        pitch_ratio_fp: i64,
    ) -> bool {
        let end_loop_fp = (self.end_loop as i64) << Oscillator::FRAC_BITS;
        let loop_length = (self.end_loop - self.start_loop) as i64;
        let loop_length_fp = loop_length << Oscillator::FRAC_BITS;
        // Below this position neither the wrap nor the loop's last point is near.
        let safe_fp = ((self.end_loop - 1) as i64) << Oscillator::FRAC_BITS;

        let mut t = 0;
        while t < block.len() {
            let n = if self.position_fp < safe_fp {
                Oscillator::frames_before(
                    self.position_fp,
                    safe_fp,
                    pitch_ratio_fp,
                    block.len() - t,
                )
            } else {
                0
            };
            if n > 0 {
                self.position_fp =
                    Oscillator::run(data, &mut block[t..t + n], self.position_fp, pitch_ratio_fp);
                t += n;
                continue;
            }

            // One sample at the loop's end, as upstream does every sample.
            if self.position_fp >= end_loop_fp {
                self.position_fp -= loop_length_fp;
            }

            let index1 = (self.position_fp >> Oscillator::FRAC_BITS) as usize;
            let mut index2 = index1 + 1;
            if index2 >= self.end_loop as usize {
                index2 -= loop_length as usize;
            }

            block[t] = Oscillator::interpolate(data[index1], data[index2], self.position_fp);
            self.position_fp += pitch_ratio_fp;
            t += 1;
        }

        true
    }

    /// How many of `max` steps of `step` from `position` stay below `limit` (`position` is
    /// below it); all of them if the position does not move.
    #[inline(always)]
    fn frames_before(position: i64, limit: i64, step: i64, max: usize) -> usize {
        if step <= 0 {
            return max;
        }
        let n = (limit - position + step - 1) / step;
        (n as usize).min(max)
    }

    /// Linear interpolation between `x1` and `x2` at the position's fraction. f32
    /// arithmetic (upstream: exact 64-bit fixed point rounded once to f32): the fraction
    /// (24 bits) and the difference (17 bits) are exact in f32, the product and the sum
    /// round once each, about 1e-7 of full scale; in exchange the loop needs no 64-bit
    /// multiply or conversion.
    #[inline(always)]
    fn interpolate(x1: i16, x2: i16, position_fp: i64) -> f32 {
        const FRAC: f32 = 1_f32 / Oscillator::FRAC_UNIT as f32;
        let a = (position_fp & (Oscillator::FRAC_UNIT - 1)) as i32 as f32 * FRAC;
        let (x1, x2) = (x1 as f32, x2 as f32);
        (x1 + a * (x2 - x1)) * (1_f32 / 32768_f32)
    }

    /// `data[index]` and `data[index + 1]` as i32.
    ///
    /// # Safety
    ///
    /// `index + 1 < data.len()`.
    #[inline(always)]
    unsafe fn read_pair(data: &[i16], index: usize) -> [i32; 2] {
        if cfg!(target_endian = "little") {
            // One unaligned 32-bit load for both points: the first in the low half.
            let word = std::ptr::read_unaligned(data.as_ptr().add(index) as *const u32) as i32;
            [(word << 16) >> 16, word >> 16]
        } else {
            [
                *data.get_unchecked(index) as i32,
                *data.get_unchecked(index + 1) as i32,
            ]
        }
    }

    /// Fills `block` from `position_fp` in steps of `step` where no loop wrap or end can
    /// occur; returns the position after. Four samples at a time: their points are
    /// fetched one by one, the interpolation of the four is lane-wise (SSE).
    #[inline(always)]
    fn run(data: &[i16], block: &mut [f32], mut position_fp: i64, step: i64) -> i64 {
        const FRAC: f32 = 1_f32 / Oscillator::FRAC_UNIT as f32;
        if block.is_empty() {
            return position_fp;
        }
        // The positions are evenly spaced, so the first and the last sample bound the
        // points read: check those once instead of every read (upstream's indexing would
        // panic on the same out-of-range reads).
        let last_fp = position_fp + step * (block.len() as i64 - 1);
        let (low_fp, high_fp) = (position_fp.min(last_fp), position_fp.max(last_fp));
        assert!(low_fp >= 0 && ((high_fp >> Oscillator::FRAC_BITS) as usize) + 1 < data.len());
        let mut chunks = block.chunks_exact_mut(4);
        for chunk in &mut chunks {
            let (mut x1, mut x2, mut a) = ([0_i32; 4], [0_i32; 4], [0_i32; 4]);
            for k in 0..4 {
                let index = (position_fp >> Oscillator::FRAC_BITS) as usize;
                // SAFETY: low_fp <= position_fp <= high_fp: index + 1 < data.len() (asserted).
                let pair = unsafe { Oscillator::read_pair(data, index) };
                x1[k] = pair[0];
                x2[k] = pair[1];
                a[k] = (position_fp & (Oscillator::FRAC_UNIT - 1)) as i32;
                position_fp += step;
            }
            // The same arithmetic as `interpolate`.
            for k in 0..4 {
                let (f1, f2) = (x1[k] as f32, x2[k] as f32);
                chunk[k] = (f1 + a[k] as f32 * FRAC * (f2 - f1)) * (1_f32 / 32768_f32);
            }
        }
        for sample in chunks.into_remainder() {
            let index = (position_fp >> Oscillator::FRAC_BITS) as usize;
            *sample = Oscillator::interpolate(data[index], data[index + 1], position_fp);
            position_fp += step;
        }
        position_fp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream 1.3.8's fixed-point sample at `position_fp`.
    fn upstream(x1: i16, x2: i16, position_fp: i64) -> f32 {
        let (x1, x2) = (x1 as i64, x2 as i64);
        let a_fp = position_fp & (Oscillator::FRAC_UNIT - 1);
        Oscillator::FP_TO_SAMPLE * ((x1 << Oscillator::FRAC_BITS) + a_fp * (x2 - x1)) as f32
    }

    fn oscillator(loop_mode: LoopMode, data_len: i32) -> Oscillator {
        let mut settings = SynthesizerSettings::new(48000);
        settings.block_size = 64;
        let mut o = Oscillator::new(&settings);
        // 22,050 Hz sample, loop over 100..=400, root key 60, no tuning.
        o.start(loop_mode, 22050, 0, data_len - 8, 100, 400, 60, 0, 0, 100);
        o
    }

    fn data() -> Vec<i16> {
        (0..1000)
            .map(|i| ((i as f32 * 0.37).sin() * 30000_f32) as i16)
            .collect()
    }

    /// Upstream's per-sample loop (wrap test every sample) as the oracle: same positions,
    /// samples within f32 rounding, same end of the sample.
    #[test]
    fn runs_match_upstream_fixed_point_for_looped_and_one_shot_samples() {
        let data = data();
        for (looped, pitch) in [(true, 60_f32), (true, 95.5), (false, 60.0), (false, 71.3)] {
            let mode = if looped {
                LoopMode::Continuous
            } else {
                LoopMode::NoLoop
            };
            let mut o = oscillator(mode, data.len() as i32);
            let mut position = o.position_fp;
            let mut block = [0_f32; 64];
            let (mut blocks, mut ended) = (0, false);
            while blocks < 200 && !ended {
                let playing = o.process(&data, &mut block, pitch);
                let step = o.pitch_ratio_fp;
                for (t, &got) in block.iter().enumerate() {
                    let want = if looped {
                        let end_loop = (o.end_loop as i64) << Oscillator::FRAC_BITS;
                        if position >= end_loop {
                            position -=
                                ((o.end_loop - o.start_loop) as i64) << Oscillator::FRAC_BITS;
                        }
                        let i = (position >> Oscillator::FRAC_BITS) as usize;
                        let j = if i + 1 >= o.end_loop as usize {
                            i + 1 - 300
                        } else {
                            i + 1
                        };
                        upstream(data[i], data[j], position)
                    } else {
                        let i = (position >> Oscillator::FRAC_BITS) as usize;
                        if i >= o.end as usize {
                            assert_eq!(playing, t > 0, "{pitch}: end of the sample");
                            ended = true;
                            if !playing {
                                break;
                            }
                            0_f32
                        } else {
                            upstream(data[i], data[i + 1], position)
                        }
                    };
                    if ended {
                        assert_eq!(got, 0_f32, "{pitch}: after the end");
                        continue;
                    }
                    assert!(
                        (got - want).abs() <= 1e-6,
                        "{pitch}: {got} vs {want} at {t}"
                    );
                    position += step;
                }
                assert_eq!(o.position_fp, position, "{pitch}: position");
                blocks += 1;
            }
            assert_eq!(ended, !looped, "{pitch}: looped samples never end");
        }
    }

    #[test]
    fn read_pair_gives_both_points_with_their_signs() {
        let data = [i16::MIN, -1, 0, 1, i16::MAX, -12_345, 23_456];
        for index in 0..data.len() - 1 {
            // SAFETY: index + 1 < data.len().
            let pair = unsafe { Oscillator::read_pair(&data, index) };
            assert_eq!(pair, [data[index] as i32, data[index + 1] as i32]);
        }
    }
}
