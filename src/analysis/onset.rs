//! Onset detection stage: a causal peak picker with an adaptive threshold over the onset
//! strength envelope, one value per analysis frame.
//!
//! A frame `c` is an onset when, at the arrival of frame `c + 1`:
//! * `x[c]` is the maximum of `x[c - pre_max ..= c + 1]` (local peak, one frame look-ahead),
//! * `x[c] >= mean(x[c - pre_avg .. c]) + delta · max(level, floor)` where `level` is a
//!   peak follower of the envelope (instant attack, exponential release over a few seconds),
//! * at least `wait` frames have passed since the previous onset.
//!
//! This is `librosa.util.peak_pick` with `post_max = 1`, `post_avg = 0`, and the global
//! max-normalisation of `librosa.onset.onset_detect` replaced by the running `level` so that
//! it works on a stream. The detector therefore confirms an onset one hop after its frame.

/// Peak-picker settings, in frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PickerConfig {
    pub pre_max: usize,
    pub pre_avg: usize,
    pub wait: usize,
    /// Threshold above the local mean, as a fraction of the running peak level.
    pub delta: f64,
    /// Lower bound for the running level, so near-silence does not trigger onsets.
    pub floor: f64,
    /// Per-frame release factor of the peak follower.
    pub release: f64,
}

impl PickerConfig {
    /// librosa's `onset_detect` windows (30 ms max, 100 ms mean, 30 ms wait) at `fps`
    /// frames per second; `delta` 0.07 of the level, level released with a 4 s half-life.
    pub fn for_frame_rate(fps: f64) -> Self {
        let frames = |s: f64| ((s * fps).round() as usize).max(1);
        PickerConfig {
            pre_max: frames(0.03),
            pre_avg: frames(0.10),
            wait: frames(0.03),
            delta: 0.07,
            floor: 0.1,
            release: 0.5f64.powf(1.0 / (4.0 * fps)),
        }
    }
}

/// The streaming peak picker. Holds a fixed ring of recent envelope values.
#[derive(Debug, Clone)]
pub struct PeakPicker {
    cfg: PickerConfig,
    hist: Vec<f64>,
    /// Number of values pushed so far.
    n: u64,
    level: f64,
    last_onset: Option<u64>,
}

/// An onset confirmed by [`PeakPicker::push`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detected {
    /// Index of the peak frame.
    pub frame: u64,
    /// Sub-frame offset of the envelope peak from parabolic interpolation, in −0.5..=0.5.
    pub offset: f64,
}

impl PeakPicker {
    pub fn new(cfg: PickerConfig) -> Self {
        // A power of two, so reading the ring is a mask instead of a 64-bit division (ten
        // of those per frame were most of the offline causal stage's time).
        let len = (cfg.pre_max.max(cfg.pre_avg) + 2).next_power_of_two();
        PeakPicker {
            cfg,
            hist: vec![0.0; len],
            n: 0,
            level: 0.0,
            last_onset: None,
        }
    }

    pub fn config(&self) -> &PickerConfig {
        &self.cfg
    }

    pub fn reset(&mut self) {
        self.hist.iter_mut().for_each(|h| *h = 0.0);
        self.n = 0;
        self.level = 0.0;
        self.last_onset = None;
    }

    /// Value pushed `back` pushes ago (0 = the latest). Frames before the start read 0.
    fn at(&self, back: usize) -> f64 {
        if back as u64 >= self.n {
            return 0.0;
        }
        let mask = self.hist.len() as u64 - 1;
        self.hist[((self.n - 1 - back as u64) & mask) as usize]
    }

    /// Pushes the envelope value of the newest frame; returns the onset confirmed by it
    /// (which is always the previous frame).
    pub fn push(&mut self, x: f64) -> Option<Detected> {
        let mask = self.hist.len() as u64 - 1;
        self.hist[(self.n & mask) as usize] = x;
        self.n += 1;
        if self.n < 2 {
            self.level = self.level.max(x);
            return None;
        }
        let c = self.n - 2; // candidate frame
        let xc = self.at(1);
        let next = self.at(0);
        let is_peak = xc >= next && (2..=self.cfg.pre_max + 1).all(|b| self.at(b) <= xc);
        let mean =
            (2..self.cfg.pre_avg + 2).map(|b| self.at(b)).sum::<f64>() / self.cfg.pre_avg as f64;
        // The level seen before the candidate, so a peak does not raise its own bar.
        let threshold = mean + self.cfg.delta * self.level.max(self.cfg.floor);
        let waited = self
            .last_onset
            .is_none_or(|l| c >= l + self.cfg.wait as u64);
        self.level = (self.level * self.cfg.release).max(xc);
        if is_peak && xc > 0.0 && xc >= threshold && waited {
            self.last_onset = Some(c);
            let prev = self.at(2);
            let denom = prev - 2.0 * xc + next;
            let offset = if denom < 0.0 {
                (0.5 * (prev - next) / denom).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            Some(Detected { frame: c, offset })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(xs: &[f64]) -> Vec<u64> {
        let mut p = PeakPicker::new(PickerConfig::for_frame_rate(86.0));
        xs.iter()
            .filter_map(|x| p.push(*x))
            .map(|d| d.frame)
            .collect()
    }

    #[test]
    fn isolated_peaks_are_found_at_their_frame() {
        let mut xs = vec![0.0; 200];
        for &i in &[10usize, 60, 61, 130] {
            xs[i] = 1.0;
        }
        xs[61] = 0.5; // shoulder of the peak at 60, not a second onset
        assert_eq!(run(&xs), vec![10, 60, 130]);
    }

    #[test]
    fn wait_suppresses_double_triggers() {
        let mut xs = vec![0.0; 50];
        xs[10] = 1.0;
        xs[12] = 0.9;
        assert_eq!(run(&xs), vec![10]);
    }

    #[test]
    fn tiny_wiggles_below_the_floor_are_ignored() {
        let xs: Vec<f64> = (0..300).map(|i| 1e-4 * ((i * 7919) % 13) as f64).collect();
        assert!(run(&xs).is_empty());
    }

    #[test]
    fn parabolic_offset_points_towards_the_larger_neighbour() {
        let mut p = PeakPicker::new(PickerConfig::for_frame_rate(86.0));
        let mut got = None;
        for x in [0.0, 0.0, 0.0, 0.0, 0.6, 1.0, 0.2, 0.0] {
            got = got.or(p.push(x));
        }
        let d = got.unwrap();
        assert_eq!(d.frame, 5);
        assert!(d.offset < 0.0);
    }
}
