//! Live generation stage: a `Generator` steps a shared `Model` one 16th at a time with
//! carried state, on the scheduler thread (never the audio thread).
//!
//! Controls → (re)prime → for each step: next-token logits → masks (part tokens, the
//! `scale`'s pitch classes, out-of-range pitches, a hold after silence) → `density` shifts
//! note onsets → temperature → top-k → top-p → seeded sample → fed back into the state.
//!
//! The model works in its normalised key (white-key collection, see `tokenize`). The
//! generator picks the transposition that maps the requested `scale` (or else the `prime`
//! notes) onto that collection, so a Bach-trained model plays idiomatically in any key; notes
//! come out transposed back. Same model + same controls + same seed → same steps.

use super::infer::{Model, State};
use super::tokenize::{
    note_token, token_label, token_pitch, transpose_for_histogram, GridNote, Part, HOLD, NOTE0,
    N_PARTS, PITCH_HI, PITCH_LO, REST,
};
use crate::rng::Rng;
use std::sync::Arc;

const WHITE: [bool; 12] = [
    true, false, true, false, true, true, false, true, false, true, false, true,
];
/// Each prime pitch is fed as a quarter note (onset + 3 holds).
const PRIME_HOLDS: usize = 3;

/// Musical controls of one LSTM voice. All may change live (`Generator::set_controls`).
#[derive(Clone, Debug, PartialEq)]
pub struct Controls {
    /// Softmax temperature (> 0; 1 = as trained, lower = safer).
    pub temperature: f32,
    /// Keep only the k most likely events (0 = all).
    pub top_k: usize,
    /// Nucleus sampling: keep the most likely events up to this cumulative probability (1 = all).
    pub top_p: f32,
    /// MIDI pitches fed (as quarter notes) after the part token to condition the state.
    pub prime: Vec<u8>,
    /// Allowed pitch classes (index 0 = C). Every generated note is in the set.
    pub scale: Option<[bool; 12]>,
    /// 0..=1: multiplies the odds of a new note against hold/rest (1 = as trained, 0 = silence).
    pub density: f32,
    pub seed: u64,
    /// Which voice of the four-part texture the model writes.
    pub part: Part,
}

impl Default for Controls {
    fn default() -> Self {
        Controls {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            prime: Vec::new(),
            scale: None,
            density: 1.0,
            seed: 0,
            part: Part::Soprano,
        }
    }
}

/// One 16th-note grid step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A new note starts (MIDI pitch).
    Note(u8),
    /// The previous note keeps sounding.
    Hold,
    /// Silence.
    Rest,
}

/// A stream of steps from one model with its own state and random source.
pub struct Generator {
    model: Arc<Model>,
    controls: Controls,
    state: State,
    logits: Vec<f32>,
    scratch: Vec<(u32, f32)>,
    rng: Rng,
    /// real pitch = model pitch + transpose
    transpose: i8,
    sounding: bool,
    /// Whether the caller has a sounding note (prime notes are never played, so a hold
    /// right after priming is reported as a rest).
    out_sounding: bool,
}

impl Generator {
    pub fn new(model: Arc<Model>, controls: Controls) -> Generator {
        let v = model.vocab();
        let mut g = Generator {
            state: model.zero_state(),
            logits: vec![0.0; v],
            scratch: Vec::with_capacity(v),
            rng: Rng::new(controls.seed),
            transpose: 0,
            sounding: false,
            out_sounding: false,
            controls,
            model,
        };
        g.transpose = g.choose_transpose();
        g.prime();
        g
    }

    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The interval between the model's key and the played key.
    pub fn transpose(&self) -> i8 {
        self.transpose
    }

    /// Changes controls live. The hidden state is kept unless `prime` or `part` changed (then
    /// the state is reset and re-primed); a new `seed` restarts the random source.
    pub fn set_controls(&mut self, c: Controls) {
        let reprime = c.prime != self.controls.prime || c.part != self.controls.part;
        let reseed = c.seed != self.controls.seed;
        let rekey = reprime || c.scale != self.controls.scale;
        self.controls = c;
        if reseed {
            self.rng = Rng::new(self.controls.seed);
        }
        if rekey {
            self.transpose = self.choose_transpose();
        }
        if reprime {
            self.prime();
        }
    }

    fn choose_transpose(&self) -> i8 {
        let mut hist = [0u64; 12];
        if let Some(scale) = self.controls.scale {
            for (pc, &on) in scale.iter().enumerate() {
                hist[pc] = u64::from(on);
            }
        } else {
            for &p in &self.controls.prime {
                hist[(p % 12) as usize] += 1;
            }
        }
        transpose_for_histogram(&hist, &WHITE)
    }

    fn feed(&mut self, token: u32) {
        self.model.step(token, &mut self.state, &mut self.logits);
        if token_pitch(token).is_some() {
            self.sounding = true;
        } else if token != HOLD {
            self.sounding = false;
        }
    }

    fn prime(&mut self) {
        self.state = self.model.zero_state();
        self.sounding = false;
        self.out_sounding = false;
        self.feed(self.controls.part.token());
        let prime = self.controls.prime.clone();
        for p in prime {
            let mut m = i32::from(p) - i32::from(self.transpose);
            while m < i32::from(PITCH_LO) {
                m += 12;
            }
            while m > i32::from(PITCH_HI) {
                m -= 12;
            }
            self.feed(note_token(m as u8).expect("folded into range"));
            for _ in 0..PRIME_HOLDS {
                self.feed(HOLD);
            }
        }
    }

    /// The real MIDI pitch a note token plays, if playable.
    fn real_pitch(&self, token: u32) -> Option<u8> {
        let p = i32::from(token_pitch(token)?) + i32::from(self.transpose);
        (0..=127).contains(&p).then_some(p as u8)
    }

    /// Masked, density-shifted, temperature-scaled log-scores into `scratch` (allowed
    /// tokens only), sorted most likely first, normalised to probabilities.
    fn distribution(&mut self) {
        let c = &self.controls;
        let note_shift = if c.density <= 0.0 {
            f32::NEG_INFINITY
        } else {
            c.density.min(1.0).ln()
        };
        let temp = c.temperature.max(1e-3);
        self.scratch.clear();
        for (t, &l) in self.logits.iter().enumerate() {
            let t = t as u32;
            let score = if (t as usize) < N_PARTS {
                continue;
            } else if t == REST {
                l
            } else if t == HOLD {
                if !self.sounding {
                    continue;
                }
                l
            } else {
                let Some(p) = self.real_pitch(t) else {
                    continue;
                };
                if c.scale.is_some_and(|s| !s[(p % 12) as usize]) {
                    continue;
                }
                l + note_shift
            };
            if score.is_finite() {
                self.scratch.push((t, score / temp));
            }
        }
        // Rest is never masked, so scratch is non-empty.
        self.scratch
            .sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let max = self.scratch[0].1;
        let mut z = 0.0;
        for e in &mut self.scratch {
            e.1 = (e.1 - max).exp();
            z += e.1;
        }
        for e in &mut self.scratch {
            e.1 /= z;
        }
    }

    /// Samples the next grid step and advances the state.
    pub fn step(&mut self) -> Step {
        self.distribution();
        let c = &self.controls;
        let mut n = self.scratch.len();
        if c.top_k > 0 {
            n = n.min(c.top_k);
        }
        if c.top_p < 1.0 {
            let mut cum = 0.0;
            for (i, e) in self.scratch[..n].iter().enumerate() {
                cum += e.1;
                if cum >= c.top_p.max(0.0) {
                    n = i + 1;
                    break;
                }
            }
        }
        let total: f32 = self.scratch[..n].iter().map(|e| e.1).sum();
        let mut u = self.rng.next_f32() * total;
        let mut token = self.scratch[n - 1].0;
        for e in &self.scratch[..n] {
            if u < e.1 {
                token = e.0;
                break;
            }
            u -= e.1;
        }
        self.feed(token);
        let step = match token {
            HOLD if self.out_sounding => Step::Hold,
            t if t >= NOTE0 => Step::Note(self.real_pitch(t).expect("masked to playable")),
            _ => Step::Rest,
        };
        self.out_sounding = step != Step::Rest;
        step
    }

    /// The k most likely next events (after masks, density and temperature) with their
    /// probabilities, labelled in the played key — for the voices pane.
    pub fn top_k(&self, k: usize) -> Vec<(String, f32)> {
        let mut probe = Generator {
            model: self.model.clone(),
            controls: self.controls.clone(),
            state: self.state.clone(),
            logits: self.logits.clone(),
            scratch: Vec::with_capacity(self.logits.len()),
            rng: self.rng.clone(),
            transpose: self.transpose,
            sounding: self.sounding,
            out_sounding: self.out_sounding,
        };
        probe.distribution();
        probe
            .scratch
            .iter()
            .take(k)
            .map(|&(t, p)| {
                let label = match self.real_pitch(t) {
                    Some(r) if t >= NOTE0 => pitch_name(r),
                    _ => token_label(t),
                };
                (label, p)
            })
            .collect()
    }
}

/// Turns generated steps into grid notes (a `Hold` extends the sounding note).
pub fn steps_to_notes(steps: &[Step]) -> Vec<GridNote> {
    let mut notes: Vec<GridNote> = Vec::new();
    let mut sounding = false;
    for (i, s) in steps.iter().enumerate() {
        let i = i as u32;
        match *s {
            Step::Note(pitch) => {
                notes.push(GridNote {
                    start: i,
                    end: i + 1,
                    pitch,
                });
                sounding = true;
            }
            Step::Hold if sounding => notes.last_mut().expect("sounding").end = i + 1,
            _ => sounding = false,
        }
    }
    notes
}

/// `A4`-style name of a MIDI pitch.
pub fn pitch_name(p: u8) -> String {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    format!("{}{}", NAMES[(p % 12) as usize], i32::from(p) / 12 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neural::model::{ModelConfig, Net};
    use crate::neural::tokenize::VOCAB;

    fn model() -> Arc<Model> {
        let cfg = ModelConfig {
            vocab: VOCAB,
            embed: 8,
            hidden: 16,
            layers: 2,
        };
        Arc::new(Model::from_net("t", &Net::new(cfg, 5).unwrap()).unwrap())
    }

    fn run(g: &mut Generator, n: usize) -> Vec<Step> {
        (0..n).map(|_| g.step()).collect()
    }

    #[test]
    fn same_seed_same_steps_and_other_seed_differs() {
        let m = model();
        let c = Controls {
            seed: 9,
            ..Controls::default()
        };
        let a = run(&mut Generator::new(m.clone(), c.clone()), 200);
        let b = run(&mut Generator::new(m.clone(), c.clone()), 200);
        let d = run(&mut Generator::new(m, Controls { seed: 10, ..c }), 200);
        assert_eq!(a, b);
        assert_ne!(a, d);
    }

    #[test]
    fn scale_mask_holds_for_every_note() {
        // A minor pentatonic: A C D E G — and an untrained model, which would play anything.
        let mut scale = [false; 12];
        for pc in [9, 0, 2, 4, 7] {
            scale[pc] = true;
        }
        let c = Controls {
            scale: Some(scale),
            seed: 3,
            temperature: 1.5,
            ..Controls::default()
        };
        let steps = run(&mut Generator::new(model(), c), 2000);
        let notes: Vec<u8> = steps
            .iter()
            .filter_map(|s| {
                if let Step::Note(p) = s {
                    Some(*p)
                } else {
                    None
                }
            })
            .collect();
        assert!(notes.len() > 50);
        assert!(notes.iter().all(|p| scale[(p % 12) as usize]), "{notes:?}");
    }

    #[test]
    fn density_zero_is_silent_and_hold_never_follows_rest() {
        let c = Controls {
            density: 0.0,
            ..Controls::default()
        };
        let steps = run(&mut Generator::new(model(), c), 300);
        assert!(steps.iter().all(|s| *s == Step::Rest));
        let primed = Controls {
            prime: vec![60, 64],
            ..Controls::default()
        };
        let mut steps = run(&mut Generator::new(model(), primed), 1000);
        assert_ne!(
            steps[0],
            Step::Hold,
            "a prime note is not played, so it cannot be held"
        );
        steps.extend(run(&mut Generator::new(model(), Controls::default()), 2000));
        for w in steps.windows(2) {
            assert!(!(w[0] == Step::Rest && w[1] == Step::Hold));
        }
    }

    #[test]
    fn set_controls_keeps_state_unless_prime_changes() {
        let m = model();
        let c = Controls {
            seed: 1,
            prime: vec![60, 62],
            ..Controls::default()
        };
        let mut a = Generator::new(m.clone(), c.clone());
        let mut b = Generator::new(m.clone(), c.clone());
        run(&mut a, 10);
        run(&mut b, 10);
        // Same control change on both → same continuation (state carried, not reset).
        let c2 = Controls {
            temperature: 0.5,
            ..c.clone()
        };
        a.set_controls(c2.clone());
        b.set_controls(c2);
        assert_eq!(run(&mut a, 50), run(&mut b, 50));
        // Changing the prime resets: equals a fresh generator with that prime after reseeding.
        let c3 = Controls {
            prime: vec![64],
            seed: 2,
            ..c
        };
        a.set_controls(c3.clone());
        let mut fresh = Generator::new(m, c3);
        assert_eq!(run(&mut a, 50), run(&mut fresh, 50));
    }

    #[test]
    fn top_k_is_sorted_labelled_and_does_not_advance() {
        let mut g = Generator::new(
            model(),
            Controls {
                seed: 4,
                ..Controls::default()
            },
        );
        let t = g.top_k(5);
        assert_eq!(t.len(), 5);
        assert!(t.windows(2).all(|w| w[0].1 >= w[1].1));
        assert!(t
            .iter()
            .all(|(l, p)| !l.is_empty() && *p > 0.0 && *p <= 1.0));
        let mut h = Generator::new(
            model(),
            Controls {
                seed: 4,
                ..Controls::default()
            },
        );
        assert_eq!(g.step(), h.step());
    }

    #[test]
    fn transposition_follows_the_scale() {
        // E major: four sharps → model key is 4 semitones below (t = +4).
        let mut e = [false; 12];
        for pc in [4, 6, 8, 9, 11, 1, 3] {
            e[pc] = true;
        }
        let g = Generator::new(
            model(),
            Controls {
                scale: Some(e),
                ..Controls::default()
            },
        );
        assert_eq!(g.transpose(), 4);
    }
}
