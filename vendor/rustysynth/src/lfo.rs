#![allow(dead_code)]

use crate::synthesizer_settings::SynthesizerSettings;

#[derive(Debug)]
#[non_exhaustive]
pub(crate) struct Lfo {
    sample_rate: i32,
    block_size: usize,

    active: bool,

    delay: f64,
    period: f64,

    processed_sample_count: usize,
    value: f32,
}

impl Lfo {
    pub(crate) fn new(settings: &SynthesizerSettings) -> Self {
        Self {
            sample_rate: settings.sample_rate,
            block_size: settings.block_size,
            active: false,
            delay: 0_f64,
            period: 0_f64,
            processed_sample_count: 0,
            value: 0_f32,
        }
    }

    pub(crate) fn start(&mut self, delay: f32, frequency: f32) {
        if frequency > 1.0E-3_f32 {
            self.active = true;

            self.delay = delay as f64;
            self.period = 1.0_f64 / frequency as f64;

            self.processed_sample_count = 0;
            self.value = 0_f32;
        } else {
            self.active = false;
            self.value = 0_f32;
        }
    }

    pub(crate) fn process(&mut self) {
        if !self.active {
            return;
        }

        self.processed_sample_count += self.block_size;

        let current_time = self.processed_sample_count as f64 / self.sample_rate as f64;

        if current_time < self.delay {
            self.value = 0_f32;
        } else {
            // Upstream: `(t % period) / period`; f64 `%` is a slow software fmod here, and
            // the fractional part of t / period is the same phase to within rounding.
            let cycles = (current_time - self.delay) / self.period;
            let phase = cycles - cycles.floor();
            if phase < 0.25 {
                self.value = (4_f64 * phase) as f32;
            } else if phase < 0.75 {
                self.value = (4_f64 * (0.5 - phase)) as f32;
            } else {
                self.value = (4_f64 * (phase - 1.0)) as f32;
            }
        }
    }

    pub(crate) fn get_value(&self) -> f32 {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The floor-based phase follows upstream's `%` triangle to within rounding, through
    /// the delay and many periods.
    #[test]
    fn triangle_matches_upstream_fmod_phase() {
        let mut settings = SynthesizerSettings::new(48000);
        settings.block_size = 64;
        for (delay, frequency) in [(0_f32, 5.3_f32), (0.25, 0.7), (0.01, 8.176)] {
            let mut lfo = Lfo::new(&settings);
            lfo.start(delay, frequency);
            let (delay, period) = (delay as f64, 1_f64 / frequency as f64);
            let mut moved = false;
            for block in 1..20_000 {
                lfo.process();
                let t = (block * 64) as f64 / 48000_f64;
                let want = if t < delay {
                    0_f32
                } else {
                    let phase = ((t - delay) % period) / period;
                    if phase < 0.25 {
                        (4_f64 * phase) as f32
                    } else if phase < 0.75 {
                        (4_f64 * (0.5 - phase)) as f32
                    } else {
                        (4_f64 * (phase - 1.0)) as f32
                    }
                };
                moved |= want.abs() > 0.9;
                assert!(
                    (lfo.get_value() - want).abs() < 1e-5,
                    "{frequency} Hz at {t} s"
                );
            }
            assert!(moved, "{frequency} Hz: the triangle never reached its peak");
        }
    }
}
