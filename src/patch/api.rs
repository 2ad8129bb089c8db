//! The Rhai side of a patch: the engine with weft's functions registered (`voice`, `tempo`,
//! `quantize`, `param`, `analyze`, theory helpers, `rand`, …) and the conversions between
//! script values and [`super::VoiceSpec`] options. Every function reads and writes the run's
//! [`super::Ctx`]; errors are Rhai runtime errors, which [`super::Patch`] turns into
//! `file:line:col` messages.

use super::*;

/// A voice handle in scripts: methods edit the voice of that name in the current scope.
#[derive(Clone, Debug)]
pub(super) struct VoiceRef {
    pub(super) name: ImmutableString,
}

/// `rand(seed)` in scripts: a small deterministic generator.
#[derive(Clone, Debug)]
pub(super) struct ScriptRng(SplitMix);

pub(super) type RResult<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn rt_err<T>(msg: impl Into<String>) -> RResult<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(msg.into()),
        Position::NONE,
    )))
}

pub(super) fn as_f64(v: &Dynamic, what: &str) -> RResult<f64> {
    if let Some(f) = v.clone().try_cast::<f64>() {
        Ok(f)
    } else if let Some(i) = v.clone().try_cast::<i64>() {
        Ok(i as f64)
    } else {
        rt_err(format!("{what} must be a number, not {}", v.type_name()))
    }
}

/// A number for an option whose range is `lo..=hi`; see [`check_range`].
pub(super) fn in_range(v: &Dynamic, what: &str, lo: f64, hi: f64) -> RResult<f64> {
    let x = as_f64(v, what)?;
    check_range(x, what, lo, hi)
}

/// The policy for numbers a patch passes: NaN and infinities are errors, and so is a negative
/// value for something that cannot be negative (a density, a temperature, a velocity) — those
/// are mistakes. A finite value past an end of the range is clamped to it: a cutoff that
/// sweeps past 20 kHz or a `chance(bar / 8.0)` that passes 1 is music, not a mistake, and an
/// error there would only surface bars later (after the dry run) and stop the part.
pub(super) fn check_range(x: f64, what: &str, lo: f64, hi: f64) -> RResult<f64> {
    if !x.is_finite() {
        return rt_err(format!("{what} must be a number in {lo}..{hi}, got {x}"));
    }
    if x < 0.0 && lo >= 0.0 {
        return rt_err(format!(
            "{what} cannot be negative (its range is {lo}..{hi}), got {x}"
        ));
    }
    Ok(x.clamp(lo, hi))
}

/// A finite whole number within `lo..=hi`.
pub(super) fn whole_in(v: &Dynamic, what: &str, lo: f64, hi: f64) -> RResult<f64> {
    let x = as_f64(v, what)?;
    if !x.is_finite() || x.fract() != 0.0 || x < lo || x > hi {
        return rt_err(format!(
            "{what} must be a whole number in {lo}..{hi}, got {x}"
        ));
    }
    Ok(x)
}

/// The range each voice parameter accepts (the same ranges the synth clamps live `param`s to).
pub(super) fn param_range(p: Param) -> (f64, f64) {
    let (lo, hi) = p.range();
    (lo as f64, hi as f64)
}

/// `delaytime`: a number of beats, or a string with a unit: `"0.375s"`, `"250ms"`, `"0.75b"`.
fn delaytime_of(v: &Dynamic) -> RResult<(f64, bool)> {
    let (lo, hi) = param_range(Param::DelayTime);
    let Some(s) = v.clone().try_cast::<ImmutableString>() else {
        return Ok((in_range(v, "delaytime", lo, hi)?, false));
    };
    let t = s.trim();
    let (num, scale, secs) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001, true)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0, true)
    } else if let Some(n) = t.strip_suffix('b') {
        (n, 1.0, false)
    } else {
        (t, 1.0, false)
    };
    let x: f64 = num.trim().parse().or_else(|_| {
        rt_err(format!(
            "delaytime \"{s}\": write beats (0.75) or a time with a unit (\"0.3s\", \"250ms\")"
        ))
    })?;
    Ok((check_range(x * scale, "delaytime", lo, hi)?, secs))
}

/// A positive whole number (`2048` or `2048.0`, not `2048.5`).
pub(super) fn whole(v: &Dynamic, what: &str) -> RResult<usize> {
    let x = as_f64(v, what)?;
    if x < 1.0 || x.fract() != 0.0 || x > 1e9 {
        return rt_err(format!("{what} must be a positive whole number, got {x}"));
    }
    Ok(x as usize)
}

pub(super) fn as_note(v: &Dynamic, what: &str) -> RResult<u8> {
    if let Some(s) = v.clone().try_cast::<ImmutableString>() {
        theory::note_number(&s).or_else(|e| rt_err(e.to_string()))
    } else if let Some(i) = v.clone().try_cast::<i64>() {
        if (0..=127).contains(&i) {
            Ok(i as u8)
        } else {
            rt_err(format!("{what}: note {i} is outside 0..127"))
        }
    } else {
        rt_err(format!(
            "{what} must be a note name like \"A2\" or a number 0..127, not {}",
            v.type_name()
        ))
    }
}

pub(super) const VOICE_OPTS: &[&str] = &[
    "synth",
    "channel",
    "note",
    "attack",
    "decay",
    "sustain",
    "release",
    "cutoff",
    "resonance",
    "lpf",
    "hpf",
    "bpf",
    "distort",
    "crush",
    "coarse",
    "tremolo",
    "tremolorate",
    "delay",
    "delaytime",
    "delayfeedback",
    "pingpong",
    "room",
    "size",
    "damp",
    "gain",
    "pan",
    "sample",
    "program",
    "vel",
    "gate",
    "prob",
    "transpose",
];

pub(super) fn apply_opts(v: &mut VoiceSpec, opts: &Map, defining: bool) -> RResult<()> {
    if defining {
        if let Some(s) = opts.get("synth") {
            let name = s
                .clone()
                .into_immutable_string()
                .or_else(|_| rt_err("synth must be a string"))?;
            let kind = SynthKind::from_name(&name).map_or_else(
                || {
                    rt_err(format!(
                        "unknown synth '{name}' (known: {})",
                        SynthKind::ALL
                            .iter()
                            .map(|s| s.0)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                },
                Ok,
            )?;
            v.sound.synth = kind;
            v.note = kind.default_key();
            if kind.is_drum() {
                v.channel = 9;
                v.sound.release = 0.05;
            }
        }
    }
    for (k, val) in opts {
        let param = |p: Param, sound: &mut Sound| -> RResult<()> {
            let (lo, hi) = param_range(p);
            p.apply(sound, in_range(val, k, lo, hi)? as f32);
            Ok(())
        };
        match k.as_str() {
            "synth" => {}
            "channel" => {
                let c = whole_in(val, "channel", 1.0, 16.0)
                    .or_else(|_| rt_err("channel must be 1..16 (drums are 10)"))?;
                v.channel = c as u8 - 1;
            }
            "note" => v.note = as_note(val, "note")?,
            "attack" => param(Param::Attack, &mut v.sound)?,
            "decay" => param(Param::Decay, &mut v.sound)?,
            "sustain" => param(Param::Sustain, &mut v.sound)?,
            "release" => param(Param::Release, &mut v.sound)?,
            "cutoff" => param(Param::Cutoff, &mut v.sound)?,
            "resonance" => param(Param::Resonance, &mut v.sound)?,
            "gain" => param(Param::Gain, &mut v.sound)?,
            "pan" => param(Param::Pan, &mut v.sound)?,
            "lpf" => param(Param::Lpf, &mut v.sound)?,
            "hpf" => param(Param::Hpf, &mut v.sound)?,
            "bpf" => param(Param::Bpf, &mut v.sound)?,
            "distort" => param(Param::Distort, &mut v.sound)?,
            "crush" => param(Param::Crush, &mut v.sound)?,
            "coarse" => param(Param::Coarse, &mut v.sound)?,
            "tremolo" => param(Param::Tremolo, &mut v.sound)?,
            "tremolorate" => param(Param::TremoloRate, &mut v.sound)?,
            "delay" => param(Param::Delay, &mut v.sound)?,
            "delayfeedback" => param(Param::DelayFeedback, &mut v.sound)?,
            "room" => param(Param::Room, &mut v.sound)?,
            "size" => param(Param::Size, &mut v.sound)?,
            "damp" => param(Param::Damp, &mut v.sound)?,
            "delaytime" => {
                let (t, secs) = delaytime_of(val)?;
                v.sound.delaytime = t as f32;
                v.sound.delay_in_secs = secs;
            }
            "pingpong" => {
                v.sound.pingpong = val
                    .as_bool()
                    .or_else(|_| rt_err("pingpong must be true or false"))?
            }
            "sample" => v.sound.sample = whole_in(val, "sample", 0.0, 999.0)? as u16,
            "program" => v.sound.program = whole_in(val, "program", 0.0, 127.0)? as u8,
            "vel" => v.vel = vel_of(as_f64(val, "vel")?)?,
            "gate" => v.gate = gate_of(as_f64(val, "gate")?)?,
            "prob" => v.prob = check_range(as_f64(val, "prob")?, "prob", 0.0, 1.0)? as f32,
            "transpose" => {
                v.transpose = check_range(
                    whole_in(val, "transpose", -1e9, 1e9)?,
                    "transpose",
                    -48.0,
                    48.0,
                )? as i32
            }
            other => {
                return rt_err(format!(
                    "unknown voice option '{other}' (known: {})",
                    VOICE_OPTS.join(", ")
                ))
            }
        }
    }
    Ok(())
}

/// Velocity from a patch: 0..=1 floats scale to 0..=127, larger numbers are MIDI velocities.
pub(super) fn vel_of(x: f64) -> RResult<u8> {
    let x = check_range(x, "vel", 0.0, 127.0)?;
    Ok(if x <= 1.0 {
        (x * 127.0).round() as u8
    } else {
        x.round() as u8
    })
}

/// Gate: the fraction of the step a note sounds, 0.01..=1 (see [`check_range`]).
pub(super) fn gate_of(x: f64) -> RResult<f32> {
    Ok(check_range(x, "gate", 0.01, 1.0)? as f32)
}

pub(super) fn pitch_list(arr: &Array) -> RResult<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(arr.len());
    for item in arr {
        if let Some(chord) = item.clone().try_cast::<Array>() {
            let mut c = Vec::with_capacity(chord.len());
            for n in &chord {
                c.push(as_note(n, "notes")?);
            }
            out.push(c);
        } else if item.is_unit() {
            out.push(Vec::new());
        } else {
            out.push(vec![as_note(item, "notes")?]);
        }
    }
    if out.is_empty() {
        return rt_err("notes: the pitch list is empty");
    }
    Ok(out)
}

pub(super) fn parse_pattern(s: &str) -> RResult<Pattern> {
    Pattern::parse_notes(s).or_else(|e| rt_err(format!("pattern \"{s}\": {e}")))
}

pub(super) fn parse_scale_name(s: &str) -> RResult<[bool; 12]> {
    let mut parts = s.split_whitespace();
    let root = parts.next().unwrap_or("");
    let mode = parts.collect::<Vec<_>>().join("_");
    let mode = if mode.is_empty() {
        "major".to_string()
    } else {
        mode
    };
    let root = theory::note_number(root).or_else(|e| rt_err(e.to_string()))?;
    theory::scale_mask(root, &mode).or_else(|e| rt_err(e.to_string()))
}

pub(super) fn lstm_spec(opts: &Map, default_seed: u64) -> RResult<LstmSpec> {
    let mut spec = LstmSpec {
        model: "chorales".into(),
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        prime: Vec::new(),
        scale: None,
        density: 1.0,
        seed: default_seed,
        part: "soprano".into(),
        steps: 16,
    };
    for (k, v) in opts {
        match k.as_str() {
            "model" => spec.model = v.clone().into_string().or_else(|_| rt_err("model must be a string"))?,
            "temperature" => spec.temperature = in_range(v, "lstm option temperature", 0.05, 5.0)? as f32,
            "top_k" => spec.top_k = whole_in(v, "lstm option top_k", 0.0, 512.0)? as usize,
            "top_p" => spec.top_p = in_range(v, "lstm option top_p", 0.01, 1.0)? as f32,
            "density" => spec.density = in_range(v, "lstm option density", 0.0, 1.0)? as f32,
            "seed" => spec.seed = whole_in(v, "lstm option seed", 0.0, 9_007_199_254_740_992.0)? as u64,
            "steps" => spec.steps = whole_in(v, "lstm option steps", 1.0, 64.0)? as u32,
            "part" => {
                let part = v.clone().into_string().or_else(|_| rt_err("part must be a string"))?;
                if crate::neural::Part::from_name(&part).is_none() {
                    return rt_err(format!("unknown part '{part}' (soprano, alto, tenor, bass)"));
                }
                spec.part = part;
            }
            "prime" => {
                let arr = v.clone().try_cast::<Array>().map_or_else(|| rt_err("prime must be an array of notes"), Ok)?;
                spec.prime = arr.iter().map(|n| as_note(n, "prime")).collect::<RResult<_>>()?;
            }
            "scale" => {
                let s = v.clone().into_string().or_else(|_| rt_err("scale must be a string like \"A minor\""))?;
                spec.scale = Some(parse_scale_name(&s)?);
            }
            other => {
                return rt_err(format!(
                    "unknown lstm option '{other}' (known: model, temperature, top_k, top_p, prime, scale, density, seed, part, steps)"
                ))
            }
        }
    }
    Ok(spec)
}

/// The packages a patch engine gets: Rhai's standard library minus `LanguageCorePackage`
/// (`sleep`, `exit`, `parse_json`, reflection), `BasicTimePackage` (wall-clock time breaks
/// determinism) and `BasicBlobPackage`. Nothing here blocks, does I/O or reads the clock;
/// `tests/stage_patch.rs` holds the engine's whole function list to an allow-list.
fn register_packages(engine: &mut Engine) {
    use rhai::packages::{
        ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage,
        BasicMapPackage, BasicMathPackage, BasicStringPackage, BitFieldPackage, LogicPackage,
        MoreStringPackage, Package,
    };
    engine.register_global_module(ArithmeticPackage::new().as_shared_module());
    engine.register_global_module(BasicStringPackage::new().as_shared_module());
    engine.register_global_module(BasicIteratorPackage::new().as_shared_module());
    engine.register_global_module(BasicFnPackage::new().as_shared_module());
    engine.register_global_module(BitFieldPackage::new().as_shared_module());
    engine.register_global_module(LogicPackage::new().as_shared_module());
    engine.register_global_module(BasicMathPackage::new().as_shared_module());
    engine.register_global_module(BasicArrayPackage::new().as_shared_module());
    engine.register_global_module(BasicMapPackage::new().as_shared_module());
    engine.register_global_module(MoreStringPackage::new().as_shared_module());
}

/// What the progress callback stops a run for (carried in Rhai's `ErrorTerminated` token).
pub(super) const STOP_DEADLINE: &str = "weft:deadline";
pub(super) const STOP_ALLOC: &str = "weft:alloc";

/// Per-run bookkeeping the progress callback reads: the deadline (ns since `clock`) and the
/// thread's net allocated bytes when the run started (see [`crate::alloc_meter`]).
#[derive(Debug, Default)]
pub(super) struct Guard {
    pub(super) deadline: AtomicU64,
    pub(super) alloc_base: AtomicI64,
}

/// Where in the patch a registered function was called (line, col).
fn call_at(cx: &NativeCallContext) -> (usize, usize) {
    let p = cx.call_position();
    (p.line().unwrap_or(0), p.position().unwrap_or(0))
}

pub(super) fn build_engine(
    ctx: &Arc<Mutex<Ctx>>,
    guard: &Arc<Guard>,
    clock: Instant,
    limits: &Limits,
) -> Engine {
    let mut engine = Engine::new_raw();
    register_packages(&mut engine);
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_modules(0);
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    {
        let guard = guard.clone();
        let max_alloc = limits.max_alloc_bytes as i64;
        engine.on_progress(move |ops| {
            // Every operation: one thread-local read (the allocation meter).
            let grown = crate::alloc_meter::net_allocated()
                .wrapping_sub(guard.alloc_base.load(Ordering::Relaxed));
            if grown > max_alloc {
                return Some(Dynamic::from(STOP_ALLOC));
            }
            if ops % 256 == 0
                && clock.elapsed().as_nanos() as u64 > guard.deadline.load(Ordering::Relaxed)
            {
                return Some(Dynamic::from(STOP_DEADLINE));
            }
            None
        });
    }
    {
        let c = ctx.clone();
        engine.on_print(move |s| lock(&c).prints.push(s.to_string()));
        let c = ctx.clone();
        engine.on_debug(move |s, _, pos| lock(&c).prints.push(format!("{pos:?}: {s}")));
    }

    // `state`: the per-file map that survives reloads.
    engine.register_type_with_name::<State>("State");
    engine.register_indexer_get(|s: &mut State, k: &str| -> Dynamic {
        lock(&s.0).map.get(k).cloned().unwrap_or(Dynamic::UNIT)
    });
    let mut m = Module::new();
    // Registered as pure so `state.x = 1` works on the resolver's (read-only) handle. Every
    // write to `state` comes through here — `state.list.push(x)` too: Rhai mutates the
    // getter's copy and writes it back through this setter — so the size bound holds.
    let max_state = limits.max_state_bytes;
    FuncRegistration::new("index$set$")
        .with_purity(true)
        .in_global_namespace()
        .set_into_module(
            &mut m,
            move |s: &mut State, k: &str, v: Dynamic| -> RResult<()> {
                lock(&s.0).insert(k, v, max_state).or_else(rt_err)
            },
        );
    engine.register_global_module(m.into());
    {
        let c = ctx.clone();
        // `on_var` is marked deprecated only as "volatile"; it is the documented way to
        // provide a variable to script functions, which cannot see the caller's scope.
        #[allow(deprecated)]
        engine.on_var(move |name, _, _| {
            Ok((name == "state").then(|| Dynamic::from(lock(&c).state.clone())))
        });
    }

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
    fn edit<F>(ctx: &Arc<Mutex<Ctx>>, r: &VoiceRef, f: F) -> RResult<VoiceRef>
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
            let p = parse_pattern(s)?;
            edit(&c, r, |v| {
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
        let x = vel_of(as_f64(&x, "vel")?)?;
        edit(&c, r, |v| {
            v.vel = x;
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
    engine.register_get("name", |r: &mut VoiceRef| r.name.clone());

    // Live parameters: `param("bass.cutoff", 800.0)`.
    let c = ctx.clone();
    engine.register_fn(
        "param",
        move |target: &str, value: Dynamic| -> RResult<()> {
            let value = as_f64(&value, "param value")?;
            if !value.is_finite() {
                return rt_err(format!(
                    "param \"{target}\": the value must be a finite number, got {value}"
                ));
            }
            let Some((voice, p)) = target.split_once('.') else {
                return rt_err(format!(
                    "param \"{target}\": write \"voice.parameter\", e.g. \"bass.cutoff\""
                ));
            };
            let Some(param) = Param::from_name(p) else {
                return rt_err(format!(
                    "param \"{target}\": unknown parameter '{p}' ({})",
                    Param::NAMES.join(", ")
                ));
            };
            let (lo, hi) = param_range(param);
            let value = check_range(value, &format!("param \"{target}\""), lo, hi)? as f32;
            let mut g = lock(&c);
            if let Some(v) = g.voices.iter_mut().find(|v| v.name == voice) {
                param.apply(&mut v.sound, value);
            }
            if g.params.len() < 1024 {
                g.params.push((voice.to_string(), param, value));
            }
            Ok(())
        },
    );
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
                                "analyze: unknown feature '{name}' (known: {})",
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

    // Theory.
    engine.register_fn("note", |n: Dynamic| -> RResult<i64> {
        as_note(&n, "note").map(|n| n as i64)
    });
    engine.register_fn("note_name", |n: i64| -> RResult<String> {
        if !(0..=127).contains(&n) {
            return rt_err(format!("note_name({n}): the note must be 0..127"));
        }
        Ok(theory::note_name(n as u8))
    });
    fn scale_fn(root: Dynamic, mode: &str, octaves: i64) -> RResult<Array> {
        let root = as_note(&root, "scale root")?;
        if octaves < 1 {
            return rt_err(format!("scale: octaves must be 1..8, got {octaves}"));
        }
        theory::scale(root, mode, octaves.min(8) as u8)
            .map(|v| v.into_iter().map(|n| Dynamic::from(n as i64)).collect())
            .or_else(|e| rt_err(e.to_string()))
    }
    engine.register_fn("scale", |root: Dynamic, mode: &str| scale_fn(root, mode, 1));
    engine.register_fn("scale", scale_fn);
    engine.register_fn("chord", |root: Dynamic, kind: &str| -> RResult<Array> {
        let root = as_note(&root, "chord root")?;
        theory::chord(root, kind)
            .map(|v| v.into_iter().map(|n| Dynamic::from(n as i64)).collect())
            .or_else(|e| rt_err(e.to_string()))
    });
    fn euclid_fn(k: i64, n: i64, rot: i64) -> RResult<Array> {
        theory::euclid(k, n, rot)
            .map(|v| v.into_iter().map(Dynamic::from).collect())
            .or_else(|e| rt_err(e.to_string()))
    }
    engine.register_fn("euclid", |k: i64, n: i64| euclid_fn(k, n, 0));
    engine.register_fn("euclid", euclid_fn);

    // Randomness: seeded, repeatable.
    let c = ctx.clone();
    engine.register_fn("rand", move || -> f64 { lock(&c).rng.next_f64() });
    engine.register_type_with_name::<ScriptRng>("Rng");
    engine.register_fn("rand", |seed: i64| {
        ScriptRng(SplitMix(seed as u64 ^ 0x5EED))
    });
    engine.register_fn("float", |r: &mut ScriptRng| r.0.next_f64());
    engine.register_fn(
        "int",
        |r: &mut ScriptRng, lo: i64, hi: i64| -> RResult<i64> {
            if hi < lo {
                return rt_err("int(lo, hi): hi must be >= lo");
            }
            // In i128 so the full i64 range (a span of 2^64) neither overflows nor divides by 0.
            let span = hi as i128 - lo as i128 + 1;
            let x = r.0.next_u64() as i128;
            let off = if span > u64::MAX as i128 { x } else { x % span };
            i64::try_from(lo as i128 + off).or_else(|_| rt_err("int(lo, hi): out of range"))
        },
    );
    engine.register_fn(
        "pick",
        |r: &mut ScriptRng, arr: Array| -> RResult<Dynamic> {
            if arr.is_empty() {
                return rt_err("pick: the array is empty");
            }
            Ok(arr[(r.0.next_u64() % arr.len() as u64) as usize].clone())
        },
    );
    #[cfg(test)]
    {
        // Test-only: a registered function that panics while holding the run's lock, to
        // prove a panic becomes a PatchError and leaves no poisoned mutex behind.
        let c = ctx.clone();
        engine.register_fn("__test_panic", move |msg: &str| -> bool {
            let _g = lock(&c);
            panic!("{msg}")
        });
    }
    engine.register_fn("chance", |r: &mut ScriptRng, p: f64| -> RResult<bool> {
        let p = check_range(p, "chance(p)", 0.0, 1.0)?;
        Ok(r.0.next_f64() < p)
    });
    engine
}
