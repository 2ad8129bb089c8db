//! Running a loaded patch: `on_start`, each bar's plan (`on_bar`, the voices' `every`
//! transforms, then pattern expansion into [`PlannedNote`]s with exact ticks) and
//! `on_features`. Every run goes through [`Patch::guarded`], so the limits of `mod.rs` hold.

use super::*;

impl Patch {
    /// Runs `on_start()` if the patch has one (once, when the file first starts playing).
    pub fn start(&mut self) -> Result<(), PatchError> {
        if !self.has_on_start {
            return Ok(());
        }
        self.guarded(
            "on_start",
            self.fn_position("on_start"),
            self.limits.top_level_deadline,
            || {
                self.engine.call_fn_with_options::<Dynamic>(
                    once(),
                    &mut Scope::new(),
                    &self.callbacks,
                    "on_start",
                    (),
                )
            },
        )?;
        // on_start may define or change voices: they become the base.
        let c = lock(&self.ctx);
        self.base = c.voices.clone();
        Ok(())
    }

    /// Plans bar `bar`: runs `on_bar(bar)` and the voices' `every` functions on a copy of the base
    /// voices, then expands every voice into notes. LSTM voices take their steps from `steps`.
    pub fn plan_bar(
        &mut self,
        bar: u64,
        steps: &mut dyn StepSource,
    ) -> Result<BarPlan, PatchError> {
        {
            let mut c = lock(&self.ctx);
            c.voices = self.base.clone();
            c.params.clear();
            c.prints.clear();
            c.rng = SplitMix(c.seed ^ fnv1a(&[self.seed_name.as_bytes(), &bar.to_le_bytes()]));
        }
        if self.has_on_bar {
            let bar = i64::try_from(bar).map_err(|_| PatchError {
                path: self.display.clone(),
                line: 0,
                col: 0,
                message: format!("bar index {bar} is too large"),
            })?;
            self.guarded(
                "on_bar",
                self.fn_position("on_bar"),
                self.limits.callback_deadline,
                || {
                    self.engine.call_fn_with_options::<Dynamic>(
                        once(),
                        &mut Scope::new(),
                        &self.callbacks,
                        "on_bar",
                        (bar,),
                    )
                },
            )?;
        }
        // every(n, fn): apply the transforms due this bar.
        let due: Vec<(String, FnPtr, (usize, usize))> = lock(&self.ctx)
            .voices
            .iter()
            .flat_map(|v| {
                v.every
                    .iter()
                    .filter(|(n, _, _)| *n > 0 && bar % *n == 0)
                    .map(|(_, f, at)| (v.name.clone(), f.clone(), *at))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (name, f, at) in due {
            self.guarded("every", at, self.limits.callback_deadline, || {
                f.call::<Dynamic>(&self.engine, &self.ast, (VoiceRef { name: name.into() },))
            })?;
        }
        let (mut voices, params, prints, seed, sig) = {
            let c = lock(&self.ctx);
            (
                c.voices.clone(),
                c.params.clone(),
                c.prints.clone(),
                c.seed,
                c.sig,
            )
        };
        // Sample notes say which of the synth's banks they play from (hot-swapped banks).
        for v in voices.iter_mut() {
            if let Some(b) = &v.bank {
                v.sound.bank = b.gen();
            }
        }
        let mut notes = Vec::new();
        for (i, v) in voices.iter().enumerate() {
            expand_voice(
                i,
                v,
                bar,
                sig,
                seed,
                (&self.display, &self.seed_name),
                steps,
                &mut notes,
            )
            .map_err(|m| PatchError {
                path: self.display.clone(),
                line: v.source_at.0,
                col: v.source_at.1,
                message: format!("voice '{}': {m}", v.name),
            })?;
        }
        Ok(BarPlan {
            voices,
            notes,
            params,
            prints,
        })
    }

    /// Calls `on_features(f)` with a feature map (analysis patches).
    pub fn on_features(&mut self, features: Map) -> Result<Vec<(String, Param, f32)>, PatchError> {
        if !self.has_on_features {
            return Ok(Vec::new());
        }
        {
            let mut c = lock(&self.ctx);
            c.voices = self.base.clone();
            c.params.clear();
        }
        self.guarded(
            "on_features",
            self.fn_position("on_features"),
            self.limits.callback_deadline,
            || {
                self.engine.call_fn_with_options::<Dynamic>(
                    once(),
                    &mut Scope::new(),
                    &self.callbacks,
                    "on_features",
                    (Dynamic::from_map(features),),
                )
            },
        )?;
        let mut c = lock(&self.ctx);
        // Parameter changes made here persist in the base voices, so later notes keep them.
        let params = std::mem::take(&mut c.params);
        for (voice, p, val) in &params {
            if let Some(v) = self.base.iter_mut().find(|v| &v.name == voice) {
                p.apply(&mut v.sound, *val);
            }
        }
        // So do control streams: `param("v.cutoff", sine.slow(4))` here starts one from the
        // next bar the scheduler plans (a number for that parameter ends it, as anywhere).
        for v in std::mem::take(&mut c.voices) {
            if let Some(b) = self.base.iter_mut().find(|b| b.name == v.name) {
                b.controls = v.controls;
            }
        }
        Ok(params)
    }
}

/// `vel` scaled for a pattern event's `gain` (`echo`/`stut` copies): by √gain, because the
/// synths' amplitude follows velocity² — so the copy's amplitude is `gain` times the original's,
/// as in Strudel (and MIDI out hears the quieter velocity). A gain of 0 silences the note.
fn with_gain(vel: u8, gain: f64) -> u8 {
    if gain == 1.0 {
        return vel;
    }
    let g = if gain.is_finite() { gain.max(0.0) } else { 0.0 };
    (vel as f64 * g.sqrt()).round().clamp(0.0, 127.0) as u8
}

/// Expands one voice for one bar into notes (ticks relative to the bar start).
#[allow(clippy::too_many_arguments)]
fn expand_voice(
    index: usize,
    v: &VoiceSpec,
    bar: u64,
    sig: TimeSig,
    seed: u64,
    (file, seed_name): (&str, &str),
    steps: &mut dyn StepSource,
    out: &mut Vec<PlannedNote>,
) -> Result<(), String> {
    let bar_ticks = sig.ticks_per_bar();
    let voice_seed = seed ^ fnv1a(&[seed_name.as_bytes(), v.name.as_bytes(), &bar.to_le_bytes()]);
    let mut coin = SplitMix(voice_seed);
    let key_of = |k: u8| (k as i32 + v.transpose).clamp(0, 127) as u8;
    // Where a step (start, length in ticks) samples signals: its middle, in cycles (bars),
    // as Strudel queries a signal over an event's whole span and samples the span's midpoint.
    let cycle =
        |start: u64, len: u64| bar as f64 + (start as f64 + len as f64 / 2.0) / bar_ticks as f64;
    let mut push = |start: u64,
                    len: u64,
                    key: u8,
                    vel: u8,
                    sample: Option<SampleSel>,
                    out: &mut Vec<PlannedNote>| {
        // Draw for every candidate note so one note's chance never shifts another's.
        let roll = coin.next_f64() as f32;
        if roll >= v.prob || vel == 0 {
            return;
        }
        let dur = ((len as f64 * v.gate as f64).round() as u64).max(1);
        out.push(PlannedNote {
            voice: index,
            start,
            dur,
            key: key_of(key),
            vel,
            sample,
            at: cycle(start, len),
        });
    };
    match &v.source {
        Source::Silent => {}
        Source::Pattern(p) if v.sound.synth == SynthKind::Sample => {
            // Sample voices: words name sample folders (`bd:3`), `slice` numbers pick parts,
            // `chop` cuts each event into successive parts of its sample.
            for h in p.query_seeded(bar, voice_seed) {
                let start = h.start.of(bar_ticks);
                let end = h.start.plus(h.dur).of(bar_ticks).max(start + 1);
                let Some((key, sel)) = sample_step(v, &h.value)? else {
                    continue;
                };
                let parts = v.chop.max(1) as u64;
                let len = end - start;
                for i in 0..parts {
                    let (a, b) = (start + len * i / parts, start + len * (i + 1) / parts);
                    if b <= a {
                        continue;
                    }
                    let f = |k: u64| sel.begin + (sel.end - sel.begin) * k as f32 / parts as f32;
                    let part = SampleSel {
                        begin: f(i),
                        end: f(i + 1),
                        ..sel
                    };
                    let vel = with_gain(v.vel_at(cycle(a, b - a)), h.gain);
                    push(a, b - a, key, vel, Some(part), out);
                }
            }
        }
        Source::Pattern(p) => {
            let drums = v.channel == 9;
            for h in p.query_seeded(bar, voice_seed) {
                let start = h.start.of(bar_ticks);
                let end = h.start.plus(h.dur).of(bar_ticks).max(start + 1);
                let key = match h.value.key(drums) {
                    Some(Key::Own) => v.note,
                    Some(Key::Note(n)) => n,
                    None => continue,
                };
                let vel = match (h.value.index(), v.sound.synth) {
                    (Some(i), k) if k != SynthKind::Sample => ((i.min(9) as u32 * 127) / 9) as u8,
                    _ => v.vel_at(cycle(start, end - start)),
                };
                push(start, end - start, key, with_gain(vel, h.gain), None, out);
            }
        }
        Source::Notes { pitches, rhythm } => {
            let onsets: Vec<(u64, u64)> = match rhythm {
                Rhythm::Steps(s) => {
                    let n = s.len() as u64;
                    s.iter()
                        .enumerate()
                        .filter(|(_, on)| **on)
                        .map(|(i, _)| {
                            let a = bar_ticks * i as u64 / n;
                            (a, bar_ticks * (i as u64 + 1) / n - a)
                        })
                        .collect()
                }
                Rhythm::Pattern(p) => p
                    .query_seeded(bar, voice_seed)
                    .iter()
                    .map(|h| {
                        let a = h.start.of(bar_ticks);
                        (a, h.start.plus(h.dur).of(bar_ticks).max(a + 1) - a)
                    })
                    .collect(),
            };
            let per_bar = onsets.len() as u64;
            for (j, (start, len)) in onsets.into_iter().enumerate() {
                let idx = (bar as u128 * per_bar as u128 + j as u128) % pitches.len() as u128;
                for key in &pitches[idx as usize] {
                    push(start, len, *key, v.vel_at(cycle(start, len)), None, out);
                }
            }
        }
        Source::Lstm(spec) => {
            let n = spec.steps as usize;
            let got = steps.steps(file, v, spec, n)?;
            for (i, s) in got.iter().enumerate() {
                if let Some((key, hold)) = s {
                    let a = bar_ticks * i as u64 / n as u64;
                    let b = bar_ticks * (i as u64 + *hold as u64) / n as u64;
                    let len = b.saturating_sub(a).max(1);
                    push(a, len, *key, v.vel_at(cycle(a, len)), None, out);
                }
            }
        }
    }
    Ok(())
}

/// What one step of a sample voice's pattern plays: the key (pitch; 60 = as recorded) and the
/// sample part, or `None` for a step that is not a note. Unknown names are errors (with a
/// did-you-mean over the bank's folders), never silence.
fn sample_step(v: &VoiceSpec, value: &mini::Value) -> Result<Option<(u8, SampleSel)>, String> {
    use mini::Value;
    let own = SampleSel {
        folder: v.sound.folder,
        index: v.sound.sample,
        begin: v.sound.begin,
        end: v.sound.end,
    };
    if v.slice > 0 {
        let k = match value {
            Value::Num(x) => *x,
            Value::List(xs) => match xs.first() {
                Some(Value::Num(x)) => *x,
                _ => return Err(format!("slice: '{value}' is not a slice number")),
            },
            Value::Word(_) => return Err(format!("slice: '{value}' is not a slice number")),
        };
        let n = v.slice as i64;
        let k = (k.floor() as i64).rem_euclid(n) as f32;
        let n = n as f32;
        return Ok(Some((
            v.note,
            SampleSel {
                begin: k / n,
                end: (k + 1.0) / n,
                ..own
            },
        )));
    }
    let (word, index) = match value {
        Value::Word(w) => (w.as_str(), None),
        Value::List(xs) => match (xs.first(), value.index()) {
            (Some(Value::Word(w)), i) => (w.as_str(), i),
            _ => return Ok(value.key(false).map(|k| (key_or(v, k), own))),
        },
        Value::Num(_) => return Ok(value.key(false).map(|k| (key_or(v, k), own))),
    };
    if let Some(bank) = &v.bank {
        if let Some((folder, count)) = bank.folder(word) {
            let index = (index.unwrap_or(0) as usize % count.max(1)) as u16;
            return Ok(Some((
                v.note,
                SampleSel {
                    folder,
                    index,
                    ..own
                },
            )));
        }
    }
    // `x` and note names play the voice's own sample at that pitch.
    if word == "x" || word == "X" || crate::patch::theory::note_number(word).is_ok() {
        return Ok(value.key(false).map(|k| (key_or(v, k), own)));
    }
    Err(match &v.bank {
        Some(bank) => bank.unknown(word),
        None => format!(
            "unknown sample '{word}': no sample folders found (call samples(\"path\") first)"
        ),
    })
}

fn key_or(v: &VoiceSpec, k: Key) -> u8 {
    match k {
        Key::Own => v.note,
        Key::Note(n) => n,
    }
}
