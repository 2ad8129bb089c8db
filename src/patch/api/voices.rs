//! Script functions for transport (`tempo`, `quantize`, `meter`), voices and their options and
//! methods (`voice`, `.pattern`, `.notes`, `.vel`, `.every`, …), live parameters (`param`) and
//! analysis settings (`analyze`). Each edits the run's voices through [`RunContext`].

use super::*;

pub(super) fn register(engine: &mut Engine, ctx: &Arc<Mutex<RunContext>>) {
    // Transport.
    let c = ctx.clone();
    engine.register_fn("tempo", move |bpm: Dynamic| -> RResult<()> {
        let b = as_f64(&bpm, "tempo")?;
        if !(crate::engine::transport::MIN_BPM..=crate::engine::transport::MAX_BPM).contains(&b) {
            return rt_err(format!("tempo {b} is outside 20..400 BPM"));
        }
        lock(&c).tempo = Some(b);
        Ok(())
    });
    let c = ctx.clone();
    engine.register_fn("quantize", move |q: Dynamic| -> RResult<()> {
        let s = q.to_string();
        let parsed = Quantize::parse(&s).map_or_else(
            || {
                rt_err(format!(
                    "quantize \"{s}\": use \"now\", \"beat\", \"bar\" or a number of beats"
                ))
            },
            Ok,
        )?;
        lock(&c).quantize = parsed;
        Ok(())
    });
    let c = ctx.clone();
    engine.register_fn("meter", move |num: i64, den: i64| -> RResult<()> {
        let sig = TimeSig::new(num.clamp(0, 255) as u8, den.clamp(0, 255) as u8).map_or_else(
            || {
                rt_err(format!(
                    "meter({num}, {den}): numerator 1..32, denominator 1,2,4,8,16,32"
                ))
            },
            Ok,
        )?;
        lock(&c).sig = sig;
        Ok(())
    });

    // Sample folders: `samples("./kit")`, a folder of folders (bd/, sd/, …).
    let c = ctx.clone();
    engine.register_fn("samples", move |cx: NativeCallContext, path: &str| -> RResult<()> {
        let (patch_dir, flag) = {
            let g = lock(&c);
            (g.patch_dir.clone(), g.samples_flag.clone())
        };
        let tried = crate::data::resolve(Path::new(path), &patch_dir, flag.as_deref());
        let Some(dir) = tried.iter().find(|p| p.is_dir()) else {
            return rt_err(format!(
                "samples(\"{path}\"): no such folder (looked in {})",
                crate::data::list(&tried)
            ));
        };
        let folders = crate::sound::synth::scan(dir)
            .or_else(|e| rt_err(format!("samples(\"{path}\"): {e}")))?;
        if folders.is_empty() {
            return rt_err(format!(
                "samples(\"{path}\"): {} has no sample folders (bd/, sd/, … holding .wav, .flac or .ogg files)",
                dir.display()
            ));
        }
        let mut bank = BankIndex::new(dir.clone(), folders);
        bank.at = Some(call_at(&cx));
        lock(&c).bank = Some(Arc::new(bank));
        Ok(())
    });

    // Voices.
    engine.register_type_with_name::<VoiceRef>("Voice");
    let c = ctx.clone();
    engine.register_fn("voice", move |name: &str, opts: Map| -> RResult<VoiceRef> {
        if name.is_empty() || name.len() > 64 || name.contains(['.', '/']) {
            return rt_err(format!(
                "voice name '{name}' must be 1-64 characters without '.' or '/'"
            ));
        }
        let mut v = VoiceSpec::new(name);
        let sample_voice = opts
            .get("synth")
            .is_some_and(|s| s.to_string() == SynthKind::Sample.name());
        if sample_voice {
            v.bank = bank_for(&c);
        }
        apply_opts(&mut v, &opts, true)?;
        let mut g = lock(&c);
        if let Some(slot) = g.voices.iter_mut().find(|x| x.name == name) {
            *slot = v;
        } else {
            if g.voices.len() >= 64 {
                return rt_err("a patch may have at most 64 voices");
            }
            g.voices.push(v);
        }
        Ok(VoiceRef { name: name.into() })
    });
    let c = ctx.clone();
    engine.register_fn("voice", move |name: &str| -> RResult<VoiceRef> {
        if lock(&c).voices.iter().any(|v| v.name == name) {
            Ok(VoiceRef { name: name.into() })
        } else {
            rt_err(format!(
                "no voice '{name}' (define it with voice(\"{name}\", #{{ synth: ... }}))"
            ))
        }
    });

    // Helper: register a method on Voice that edits the spec.
    fn edit<F>(ctx: &Arc<Mutex<RunContext>>, r: &VoiceRef, f: F) -> RResult<VoiceRef>
    where
        F: FnOnce(&mut VoiceSpec) -> RResult<()>,
    {
        let mut g = lock(ctx);
        match g.voices.iter_mut().find(|v| v.name == r.name.as_str()) {
            Some(v) => f(v).map(|_| r.clone()),
            None => rt_err(format!("voice '{}' is not defined here", r.name)),
        }
    }
    let c = ctx.clone();
    engine.register_fn(
        "pattern",
        move |cx: NativeCallContext, r: &mut VoiceRef, s: &str| {
            edit(&c, r, |v| {
                // Sample voices take any word (a folder name); expansion checks it against
                // the bank's folders.
                let p = if v.sound.synth == SynthKind::Sample {
                    Pattern::parse(s).or_else(|e| rt_err(format!("pattern \"{s}\": {e}")))?
                } else {
                    parse_pattern(s)?
                };
                v.source = Source::Pattern(p);
                v.source_at = call_at(&cx);
                Ok(())
            })
        },
    );
    let c = ctx.clone();
    engine.register_fn("notes", move |cx: NativeCallContext, r: &mut VoiceRef, pitches: Array, rhythm: Array| {
        let pitches = pitch_list(&pitches)?;
        let steps: Vec<bool> = rhythm
            .iter()
            .map(|d| d.as_bool().ok().or_else(|| d.as_int().ok().map(|i| i != 0)))
            .collect::<Option<_>>()
            .map_or_else(|| rt_err("notes: rhythm must be an array of true/false or 1/0 (e.g. euclid(5, 8))"), Ok)?;
        if steps.is_empty() || steps.len() > 256 {
            return rt_err("notes: rhythm must have 1..256 steps");
        }
        edit(&c, r, |v| {
            v.source = Source::Notes { pitches, rhythm: Rhythm::Steps(steps) };
            v.source_at = call_at(&cx);
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn(
        "notes",
        move |cx: NativeCallContext, r: &mut VoiceRef, pitches: Array, rhythm: &str| {
            let pitches = pitch_list(&pitches)?;
            let p = parse_pattern(rhythm)?;
            edit(&c, r, |v| {
                v.source = Source::Notes {
                    pitches,
                    rhythm: Rhythm::Pattern(p),
                };
                v.source_at = call_at(&cx);
                Ok(())
            })
        },
    );
    let c = ctx.clone();
    engine.register_fn("vel", move |r: &mut VoiceRef, x: Dynamic| {
        if let Some(sig) = x.clone().try_cast::<Signal>() {
            return edit(&c, r, |v| {
                v.vel_signal = Some(sig);
                Ok(())
            });
        }
        let x = vel_of(as_f64(&x, "vel")?)?;
        edit(&c, r, |v| {
            v.vel = x;
            v.vel_signal = None;
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn("gate", move |r: &mut VoiceRef, x: Dynamic| {
        let x = gate_of(as_f64(&x, "gate")?)?;
        edit(&c, r, |v| {
            v.gate = x;
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn("prob", move |r: &mut VoiceRef, x: Dynamic| {
        let x = check_range(as_f64(&x, "prob")?, "prob", 0.0, 1.0)? as f32;
        edit(&c, r, |v| {
            v.prob = x;
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn("transpose", move |r: &mut VoiceRef, x: i64| {
        // Clamped to -48..48 like the option (see `check_range`); no overflow whatever x is.
        edit(&c, r, |v| {
            v.transpose = (v.transpose as i64).saturating_add(x).clamp(-48, 48) as i32;
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn(
        "every",
        move |cx: NativeCallContext, r: &mut VoiceRef, n: i64, f: FnPtr| {
            let at = call_at(&cx);
            if n < 1 {
                return rt_err("every(n, fn): n must be at least 1");
            }
            edit(&c, r, |v| {
                if v.every.len() >= 16 {
                    return rt_err("at most 16 every() transforms per voice");
                }
                v.every.push((n as u64, f, at));
                Ok(())
            })
        },
    );
    let c = ctx.clone();
    engine.register_fn("set", move |r: &mut VoiceRef, opts: Map| {
        edit(&c, r, |v| apply_opts(v, &opts, false))
    });
    let c = ctx.clone();
    engine.register_fn(
        "lstm",
        move |cx: NativeCallContext, r: &mut VoiceRef, opts: Map| {
            let seed = lock(&c).seed;
            let spec = lstm_spec(&opts, seed)?;
            edit(&c, r, |v| {
                v.source = Source::Lstm(spec);
                v.source_at = call_at(&cx);
                Ok(())
            })
        },
    );
    // Sample voices: `chop(n)` and `slice(n, "0 2 1 3")` (Strudel's).
    let c = ctx.clone();
    engine.register_fn("chop", move |r: &mut VoiceRef, n: i64| {
        if !(1..=256).contains(&n) {
            return rt_err(format!("chop({n}): n must be 1..256"));
        }
        edit(&c, r, |v| {
            if v.sound.synth != SynthKind::Sample {
                return rt_err("chop(n) needs a sample voice (synth: \"sample\")");
            }
            v.chop = n as u32;
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn(
        "slice",
        move |cx: NativeCallContext, r: &mut VoiceRef, n: i64, s: &str| {
            if !(1..=256).contains(&n) {
                return rt_err(format!("slice({n}, ...): n must be 1..256"));
            }
            let p = parse_pattern(s)?;
            edit(&c, r, |v| {
                if v.sound.synth != SynthKind::Sample {
                    return rt_err("slice(n, pattern) needs a sample voice (synth: \"sample\")");
                }
                v.slice = n as u32;
                v.source = Source::Pattern(p);
                v.source_at = call_at(&cx);
                Ok(())
            })
        },
    );
    engine.register_get("name", |r: &mut VoiceRef| r.name.clone());

    // Live parameters: `param("bass.cutoff", 800.0)`.
    let c = ctx.clone();
    engine.register_fn(
        "param",
        move |target: &str, value: Dynamic| -> RResult<()> {
            if let Some(sig) = value.clone().try_cast::<Signal>() {
                let (voice, param) = param_target(target)?;
                if matches!(param, Param::Begin | Param::End) {
                    return rt_err(format!(
                        "param \"{target}\": begin and end take a number (the part a sample note plays is fixed when it starts)"
                    ));
                }
                let mut g = lock(&c);
                let Some(v) = g.voices.iter_mut().find(|v| v.name == voice) else {
                    return rt_err(format!(
                        "param \"{target}\": a signal needs a voice of this file (define '{voice}' first)"
                    ));
                };
                set_signal(&mut v.controls, param, Some(sig));
                return Ok(());
            }
            let value = as_f64(&value, "param value")?;
            if !value.is_finite() {
                return rt_err(format!(
                    "param \"{target}\": the value must be a finite number, got {value}"
                ));
            }
            let (voice, param) = param_target(target)?;
            let (lo, hi) = param_range(param);
            let value = check_range(value, &format!("param \"{target}\""), lo, hi)? as f32;
            let mut g = lock(&c);
            if let Some(v) = g.voices.iter_mut().find(|v| v.name == voice) {
                param.apply(&mut v.sound, value);
                // A number ends a control stream of the same parameter.
                set_signal(&mut v.controls, param, None);
            }
            if g.params.len() < 1024 {
                g.params.push((voice.to_string(), param, value));
            }
            Ok(())
        },
    );
    // Any MIDI controller, MIDI out only: `cc("bass", 1, 64)` (controller 0..119, value 0..127).
    let c = ctx.clone();
    engine.register_fn(
        "cc",
        move |voice: &str, n: Dynamic, value: Dynamic| -> RResult<()> {
            let n = whole_in(&n, "cc: controller", 0.0, 119.0)? as u8;
            let value = in_range(&value, "cc: value", 0.0, 127.0)? as f32;
            let mut g = lock(&c);
            if g.params.len() < 1024 {
                g.params.push((voice.to_string(), Param::Cc(n), value));
            }
            Ok(())
        },
    );
    register_signals(engine, ctx);
    let c = ctx.clone();
    engine.register_fn("analyze", move |opts: Map| -> RResult<()> {
        let mut spec = AnalyzeSpec {
            fft: 2048,
            hop: 512,
            features: None,
        };
        for (k, v) in &opts {
            match k.as_str() {
                "fft" => spec.fft = whole(v, "analyze: fft")?,
                "hop" => spec.hop = whole(v, "analyze: hop")?,
                "features" => {
                    let Some(list) = v.read_lock::<Array>() else {
                        return rt_err("analyze: features must be an array of names");
                    };
                    let mut names = Vec::new();
                    for item in list.iter() {
                        let name = item.to_string();
                        if !FEATURE_NAMES.contains(&name.as_str()) {
                            return rt_err(format!(
                                "analyze: unknown feature '{name}'{} (known: {})",
                                super::super::hints::did_you_mean(&name, FEATURE_NAMES),
                                FEATURE_NAMES.join(", ")
                            ));
                        }
                        names.push(name);
                    }
                    spec.features = Some(names);
                }
                other => {
                    return rt_err(format!(
                        "analyze: unknown option '{other}' (fft, hop, features)"
                    ))
                }
            }
        }
        if !spec.fft.is_power_of_two() || !(512..=8192).contains(&spec.fft) {
            return rt_err("analyze: fft must be a power of two in 512..8192");
        }
        if spec.hop == 0 || spec.hop > spec.fft {
            return rt_err("analyze: hop must be 1..fft");
        }
        lock(&c).analyze = Some(spec);
        Ok(())
    });
}

/// The bank a new sample voice picks from: `samples("path")`'s, else the samples folder
/// found for the patch (looked up and listed once per load).
fn bank_for(c: &Arc<Mutex<RunContext>>) -> Option<Arc<BankIndex>> {
    let mut g = lock(c);
    if let Some(b) = &g.bank {
        return Some(b.clone());
    }
    if let Some(d) = &g.default_bank {
        return d.clone();
    }
    let (dir, _) = crate::sound::synth::sounds_for(&g.patch_dir, g.samples_flag.as_deref());
    let found = crate::sound::synth::scan(&dir)
        .ok()
        .filter(|f| !f.is_empty())
        .map(|folders| Arc::new(BankIndex::new(dir, folders)));
    g.default_bank = Some(found.clone());
    found
}

/// `"voice.parameter"` → (voice, parameter), with the messages `param` gives.
fn param_target(target: &str) -> RResult<(&str, Param)> {
    let Some((voice, p)) = target.split_once('.') else {
        return rt_err(format!(
            "param \"{target}\": write \"voice.parameter\", e.g. \"bass.cutoff\""
        ));
    };
    let Some(param) = Param::from_name(p) else {
        return rt_err(format!(
            "param \"{target}\": unknown parameter '{p}'{} ({})",
            super::super::hints::did_you_mean(p, Param::NAMES.iter().copied()),
            Param::NAMES.join(", ")
        ));
    };
    Ok((voice, param))
}

/// Continuous signals: the type, `irand(n)` and the methods that shape a signal. The bare
/// names (`sine`, `saw` …) are provided as values by the variable resolver in `api/mod.rs`.
fn register_signals(engine: &mut Engine, ctx: &Arc<Mutex<RunContext>>) {
    use crate::patch::signal::SignalError;
    fn ok(r: Result<Signal, SignalError>) -> RResult<Signal> {
        r.or_else(|e| rt_err(e.to_string()))
    }
    engine.register_type_with_name::<Signal>("Signal");
    engine.register_fn("to_string", |s: &mut Signal| s.to_string());
    engine.register_fn("to_debug", |s: &mut Signal| s.to_string());
    let c = ctx.clone();
    engine.register_fn("irand", move |n: Dynamic| {
        ok(Signal::irand(as_f64(&n, "irand(n)")?, lock(&c).seed))
    });
    engine.register_fn("fast", |s: &mut Signal, k: Dynamic| {
        ok(s.fast(as_f64(&k, "fast")?))
    });
    engine.register_fn("slow", |s: &mut Signal, k: Dynamic| {
        ok(s.slow(as_f64(&k, "slow")?))
    });
    engine.register_fn("segment", |s: &mut Signal, n: Dynamic| {
        ok(s.segment(as_f64(&n, "segment")?))
    });
    engine.register_fn("range", |s: &mut Signal, lo: Dynamic, hi: Dynamic| {
        ok(s.range(as_f64(&lo, "range")?, as_f64(&hi, "range")?))
    });
    engine.register_fn("rangex", |s: &mut Signal, lo: Dynamic, hi: Dynamic| {
        ok(s.rangex(as_f64(&lo, "rangex")?, as_f64(&hi, "rangex")?))
    });
    // Arithmetic, as Strudel's `add sub mul div` (with a number or another signal, read at
    // the same time), and as the operators `+ - * /` (`sine.range(0, 7) + saw * 2`).
    use crate::patch::signal::Arith;
    fn arith(s: &Signal, op: Arith, x: &Dynamic, what: &str) -> RResult<Signal> {
        match x.clone().try_cast::<Signal>() {
            Some(o) => ok(s.arith_signal(op, &o)),
            None => ok(s.arith(op, as_f64(x, what)?)),
        }
    }
    for (name, op) in Arith::NAMES {
        engine.register_fn(name, move |s: &mut Signal, x: Dynamic| {
            arith(s, op, &x, name)
        });
    }
    for (sym, op) in [
        ("+", Arith::Add),
        ("-", Arith::Sub),
        ("*", Arith::Mul),
        ("/", Arith::Div),
    ] {
        engine.register_fn(sym, move |a: Signal, b: Signal| ok(a.arith_signal(op, &b)));
        engine.register_fn(sym, move |a: Signal, b: f64| ok(a.arith(op, b)));
        engine.register_fn(sym, move |a: Signal, b: i64| ok(a.arith(op, b as f64)));
    }
    // A number on the left: `1 - saw`, `2 * sine`, `0.5 + rand` (a number over a signal has
    // no operator: write the signal's reciprocal out).
    let left = |x: f64, s: &Signal, op: Arith| -> RResult<Signal> {
        match op {
            Arith::Add => ok(s.arith(Arith::Add, x)),
            Arith::Mul => ok(s.arith(Arith::Mul, x)),
            _ => ok(s
                .arith(Arith::Mul, -1.0)
                .and_then(|n| n.arith(Arith::Add, x))),
        }
    };
    for (sym, op) in [("+", Arith::Add), ("-", Arith::Sub), ("*", Arith::Mul)] {
        engine.register_fn(sym, move |a: f64, b: Signal| left(a, &b, op));
        engine.register_fn(sym, move |a: i64, b: Signal| left(a as f64, &b, op));
    }
}
