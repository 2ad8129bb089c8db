//! The Rhai side of a patch: the engine with weft's functions registered (`voice`, `tempo`,
//! `quantize`, `param`, `analyze`, theory helpers, `rand`, …) and the conversions between
//! script values and [`super::VoiceSpec`] options. Every function reads and writes the run's
//! [`super::RunContext`]; errors are Rhai runtime errors, which [`super::Patch`] turns into
//! `file:line:col` messages.
//!
//! This file holds the conversions, the limits and the `state` map; `voices.rs` registers
//! transport, voices, their options and live parameters; `music.rs` theory and randomness;
//! `transforms.rs` the pattern transforms (`fast`, `rev`, `off`, `sometimes`, …).

use super::*;

mod music;
mod transforms;
mod voices;

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
    "begin",
    "end",
    "speed",
    "loop",
    "cut",
    "program",
    "vel",
    "gate",
    "prob",
    "transpose",
    "out",
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
                        "unknown synth '{name}'{} (known: {})",
                        super::hints::did_you_mean(&name, SynthKind::ALL.iter().map(|s| s.0)),
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
        let signal = val.clone().try_cast::<Signal>();
        let mut param = |p: Param, sound: &mut Sound| -> RResult<()> {
            // A signal is evaluated per note; a number replaces an earlier signal.
            if let Some(sig) = &signal {
                set_signal(&mut v.signals, p, Some(sig.clone()));
                return Ok(());
            }
            set_signal(&mut v.signals, p, None);
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
            "sample" => match val.clone().into_immutable_string() {
                Ok(name) => {
                    let (folder, index) = sample_of(v, &name)?;
                    v.sound.folder = folder;
                    v.sound.sample = index;
                }
                Err(_) => {
                    v.sound.folder = 0;
                    v.sound.sample = whole_in(val, "sample", 0.0, 999.0)? as u16;
                }
            },
            "begin" => v.sound.begin = in_range(val, "begin", 0.0, 1.0)? as f32,
            "end" => v.sound.end = in_range(val, "end", 0.0, 1.0)? as f32,
            // A number, or a signal evaluated at each note's onset.
            "speed" => param(Param::Speed, &mut v.sound)?,
            "loop" => {
                v.sound.looped = val
                    .as_bool()
                    .or_else(|_| rt_err("loop must be true or false"))?
            }
            "cut" => v.sound.cut = whole_in(val, "cut", 0.0, 255.0)? as u8,
            "program" => v.sound.program = whole_in(val, "program", 0.0, 127.0)? as u8,
            "vel" => match &signal {
                Some(sig) => v.vel_signal = Some(sig.clone()),
                None => {
                    v.vel = vel_of(as_f64(val, "vel")?)?;
                    v.vel_signal = None;
                }
            },
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
            "out" => {
                let name = val.clone().into_immutable_string().unwrap_or_default();
                v.sound.out = match name.as_str() {
                    "synth" => crate::engine::event::Route::Synth,
                    "midi" => crate::engine::event::Route::Midi,
                    "both" => crate::engine::event::Route::Both,
                    _ => return rt_err("out must be \"synth\", \"midi\" or \"both\""),
                };
            }
            other => {
                return rt_err(format!(
                    "unknown voice option '{other}'{} (known: {})",
                    super::hints::did_you_mean(other, VOICE_OPTS.iter().copied()),
                    VOICE_OPTS.join(", ")
                ))
            }
        }
    }
    Ok(())
}

/// `"bd:3"` or `"bd"` on a sample voice → (`Sound::folder`, index wrapped to the folder's
/// count, as in Strudel).
pub(super) fn sample_of(v: &VoiceSpec, name: &str) -> RResult<(u16, u16)> {
    if v.sound.synth != SynthKind::Sample {
        return rt_err(format!(
            "sample \"{name}\": sample names need a sample voice (synth: \"sample\")"
        ));
    }
    let Some(bank) = &v.bank else {
        return rt_err(format!(
            "sample \"{name}\": no sample folders found; call samples(\"path\") first or put \
             folders of samples (bd/, sd/, …) in a samples/ folder next to the patch"
        ));
    };
    let (folder, index) = match name.split_once(':') {
        Some((f, i)) => {
            let i: u64 = i.trim().parse().or_else(|_| {
                rt_err(format!(
                    "sample \"{name}\": the index after ':' must be a whole number"
                ))
            })?;
            (f.trim(), i)
        }
        None => (name.trim(), 0),
    };
    match bank.folder(folder) {
        Some((f, count)) => Ok((f, (index % count.max(1) as u64) as u16)),
        None => rt_err(bank.unknown(folder)),
    }
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
            "model" => {
                spec.model = v
                    .clone()
                    .into_string()
                    .or_else(|_| rt_err("model must be a string"))?
            }
            "temperature" => {
                spec.temperature = in_range(v, "lstm option temperature", 0.05, 5.0)? as f32
            }
            "top_k" => spec.top_k = whole_in(v, "lstm option top_k", 0.0, 512.0)? as usize,
            "top_p" => spec.top_p = in_range(v, "lstm option top_p", 0.01, 1.0)? as f32,
            "density" => spec.density = in_range(v, "lstm option density", 0.0, 1.0)? as f32,
            "seed" => {
                spec.seed = whole_in(v, "lstm option seed", 0.0, 9_007_199_254_740_992.0)? as u64
            }
            "steps" => spec.steps = whole_in(v, "lstm option steps", 1.0, 64.0)? as u32,
            "part" => {
                let part = v
                    .clone()
                    .into_string()
                    .or_else(|_| rt_err("part must be a string"))?;
                if crate::neural::Part::from_name(&part).is_none() {
                    return rt_err(format!(
                        "unknown part '{part}' (soprano, alto, tenor, bass)"
                    ));
                }
                spec.part = part;
            }
            "prime" => {
                let arr = v
                    .clone()
                    .try_cast::<Array>()
                    .map_or_else(|| rt_err("prime must be an array of notes"), Ok)?;
                spec.prime = arr
                    .iter()
                    .map(|n| as_note(n, "prime"))
                    .collect::<RResult<_>>()?;
            }
            "scale" => {
                let s = v
                    .clone()
                    .into_string()
                    .or_else(|_| rt_err("scale must be a string like \"A minor\""))?;
                spec.scale = Some(parse_scale_name(&s)?);
            }
            other => {
                const KNOWN: [&str; 10] = [
                    "model",
                    "temperature",
                    "top_k",
                    "top_p",
                    "prime",
                    "scale",
                    "density",
                    "seed",
                    "part",
                    "steps",
                ];
                return rt_err(format!(
                    "unknown lstm option '{other}'{} (known: {})",
                    super::hints::did_you_mean(other, KNOWN),
                    KNOWN.join(", ")
                ));
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

/// `print(x)` for every type Rhai's packages print, each noting where it was called (for
/// `file:line` in front of the printed text) and then making the same text as before:
/// `to_string(x)`, which the packages (and weft's own types) define.
fn register_print(engine: &mut Engine, ctx: &Arc<Mutex<RunContext>>) {
    fn text(cx: &NativeCallContext, c: &Mutex<RunContext>, x: Dynamic) -> RResult<ImmutableString> {
        lock(c).print_line = call_at(cx).0;
        if x.is_unit() {
            return Ok(ImmutableString::new());
        }
        cx.call_native_fn::<ImmutableString>("to_string", (x,))
    }
    macro_rules! by_value {
        ($($t:ty),*) => {$({
            let c = ctx.clone();
            engine.register_fn("print", move |cx: NativeCallContext, x: $t| {
                text(&cx, &c, Dynamic::from(x))
            });
        })*};
    }
    macro_rules! by_ref {
        ($($t:ty),*) => {$({
            let c = ctx.clone();
            engine.register_fn("print", move |cx: NativeCallContext, x: &mut $t| {
                text(&cx, &c, Dynamic::from(x.clone()))
            });
        })*};
    }
    by_value!(char, f32, f64, ImmutableString, bool, ());
    by_ref!(Array, Map);
    let c = ctx.clone();
    engine.register_fn("print", move |cx: NativeCallContext, x: &mut Dynamic| {
        text(&cx, &c, x.clone())
    });
    let c = ctx.clone();
    engine.register_fn("print", move |cx: NativeCallContext| {
        text(&cx, &c, Dynamic::UNIT)
    });
}

pub(super) fn build_engine(
    ctx: &Arc<Mutex<RunContext>>,
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
        // Rhai calls the script function `print(x)` for the text, then this callback. The
        // `print` overloads below (one per type the packages print) note the call's line first.
        let c = ctx.clone();
        engine.on_print(move |s| {
            let mut c = lock(&c);
            let line = std::mem::take(&mut c.print_line);
            c.prints.push((line, s.to_string()));
        });
        let c = ctx.clone();
        engine.on_debug(move |s, _, pos| lock(&c).prints.push((pos.line().unwrap_or(0), s.into())));
    }
    register_print(&mut engine, ctx);

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
        engine.on_var(move |name, _, ctx| {
            if name == "state" {
                return Ok(Some(Dynamic::from(lock(&c).state.clone())));
            }
            // The signals are values: `sine`, `saw` … unless the script has its own variable
            // of that name.
            Ok(match crate::patch::signal::Shape::from_name(name) {
                Some(shape) if !ctx.scope().contains(name) => {
                    Some(Dynamic::from(Signal::new(shape, lock(&c).seed)))
                }
                _ => None,
            })
        });
    }
    voices::register(&mut engine, ctx);
    music::register(&mut engine, ctx);
    transforms::register(&mut engine, ctx);
    engine
}
