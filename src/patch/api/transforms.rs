//! Script functions for pattern transforms: `fast slow early late rev iter palindrome ply
//! chunk off superimpose echo stut sometimesBy sometimes often rarely almostNever
//! almostAlways someCyclesBy someCycles degradeBy whenmod firstOf lastOf every struct mask
//! euclid euclidRot euclidLegato segment range add sub`, each registered twice: as a voice
//! method (rewrites the voice's pattern) and as a method of `Pattern`, the value the
//! functions given to `off`, `sometimes`, `chunk`, … receive and must return. They run when
//! the patch is evaluated, so the scheduler only ever queries plain pattern data.
//! `jux`/`juxBy` are voice methods only: they pan the voice left and add a twin voice on
//! the right (events carry no pan of their own).

use super::*;
use crate::patch::mini::TransformError;

/// A transform argument as Strudel takes it: a number, a pattern (a mini-notation string
/// such as `"<2 3>"`, joined over as Strudel's patterned arguments are) or, for the
/// probabilities, a continuous signal (read per event).
enum Arg {
    Num(f64),
    Pat(Pattern),
    Sig(Signal),
}

fn arg_of(x: &Dynamic, what: &str) -> RResult<Arg> {
    if let Some(p) = x.clone().try_cast::<Pattern>() {
        return Ok(Arg::Pat(p));
    }
    if let Some(s) = x.clone().try_cast::<ImmutableString>() {
        return Pattern::parse(&s)
            .map(Arg::Pat)
            .or_else(|e| rt_err(format!("{what}: pattern \"{s}\": {e}")));
    }
    if let Some(sig) = x.clone().try_cast::<Signal>() {
        return Ok(Arg::Sig(sig));
    }
    Ok(Arg::Num(as_f64(x, what).or_else(|_| {
        rt_err(format!(
            "{what} takes a number or a pattern string (\"<2 3>\"), not {}",
            x.type_name()
        ))
    })?))
}

/// A number or a pattern argument (signals are refused: a speed or a time shift needs
/// events to join over).
fn timed(
    p: &Pattern,
    x: &Dynamic,
    what: &'static str,
    num: impl Fn(&Pattern, f64) -> Result<Pattern, TransformError>,
) -> RResult<Pattern> {
    match arg_of(x, what)? {
        Arg::Num(v) => tr(num(p, v)),
        Arg::Pat(a) => tr(p.by_pattern(what, &a, num)),
        Arg::Sig(_) => rt_err(format!(
            "{what} takes a number or a pattern (\"<1 2>\"), not a signal: a signal has no \
             events to take its values from"
        )),
    }
}

/// The pattern a voice plays (its `.pattern(...)`, or the rhythm of `.notes(..., "...")`).
pub(super) fn voice_pattern(ctx: &Arc<Mutex<RunContext>>, r: &VoiceRef) -> RResult<Pattern> {
    let g = lock(ctx);
    let Some(v) = g.voices.iter().find(|v| v.name == r.name.as_str()) else {
        return rt_err(format!("voice '{}' is not defined here", r.name));
    };
    match &v.source {
        Source::Pattern(p) => Ok(p.clone()),
        Source::Notes {
            rhythm: Rhythm::Pattern(p),
            ..
        } => Ok(p.clone()),
        _ => rt_err(format!(
            "voice '{}': transforms need a pattern first (.pattern(\"x ~ x ~\"))",
            r.name
        )),
    }
}

pub(super) fn set_voice_pattern(
    ctx: &Arc<Mutex<RunContext>>,
    r: &VoiceRef,
    p: Pattern,
) -> RResult<VoiceRef> {
    let mut g = lock(ctx);
    let Some(v) = g.voices.iter_mut().find(|v| v.name == r.name.as_str()) else {
        return rt_err(format!("voice '{}' is not defined here", r.name));
    };
    match &mut v.source {
        Source::Pattern(old)
        | Source::Notes {
            rhythm: Rhythm::Pattern(old),
            ..
        } => *old = p,
        _ => return rt_err(format!("voice '{}' has no pattern", r.name)),
    }
    Ok(r.clone())
}

pub(super) fn tr(r: Result<Pattern, TransformError>) -> RResult<Pattern> {
    r.or_else(|e| rt_err(e.to_string()))
}

/// Runs a script function given to a transform on a pattern; it must return a pattern.
fn apply(cx: &NativeCallContext, f: &FnPtr, p: Pattern) -> RResult<Pattern> {
    let out: Dynamic = f.call_within_context(cx, (p,))?;
    let name = out.type_name();
    out.try_cast::<Pattern>().map_or_else(
        || {
            rt_err(format!(
                "the function given to a transform must return the pattern (|p| p.fast(2)), not {name}"
            ))
        },
        Ok,
    )
}

fn mask_of(s: &str) -> RResult<Pattern> {
    Pattern::parse(s).or_else(|e| rt_err(format!("mask \"{s}\": {e}")))
}

/// Registers `$name` on `Pattern` and on `Voice` with the same body, which sees the
/// pattern as `$p` and returns `RResult<Pattern>`.
macro_rules! both {
    ($engine:ident, $ctx:ident, $name:literal, ($($a:ident : $t:ty),*), |$cx:ident, $p:ident| $body:expr) => {{
        $engine.register_fn(
            $name,
            move |$cx: NativeCallContext, $p: &mut Pattern $(, $a: $t)*| -> RResult<Pattern> {
                let $p: Pattern = $p.clone();
                let _ = &$cx;
                $body
            },
        );
        let c = $ctx.clone();
        $engine.register_fn(
            $name,
            move |$cx: NativeCallContext, r: &mut VoiceRef $(, $a: $t)*| -> RResult<VoiceRef> {
                let _ = &$cx;
                // After `jux`, the right-hand twin follows the voice's later transforms
                // (Strudel transforms the stack of both sides).
                if let Some(twin) = jux_twin(&c, r) {
                    let $p: Pattern = voice_pattern(&c, &twin)?;
                    let new: Pattern = $body?;
                    set_voice_pattern(&c, &twin, new)?;
                }
                let $p: Pattern = voice_pattern(&c, r)?;
                let new: Pattern = $body?;
                set_voice_pattern(&c, r, new)
            },
        );
    }};
}
/// `both!` for the harmony methods in `music.rs`.
pub(super) use both;

/// The name of the voice `jux` adds for `name`'s right side (`.` is not allowed in the
/// names scripts give, so it never meets a voice of the script's own).
fn twin_name(name: &str) -> String {
    format!("{name}.jux")
}

/// The right-hand twin `jux` made for this voice, if any.
pub(super) fn jux_twin(ctx: &Arc<Mutex<RunContext>>, r: &VoiceRef) -> Option<VoiceRef> {
    let twin = twin_name(&r.name);
    lock(ctx)
        .voices
        .iter()
        .any(|v| v.name == twin)
        .then(|| VoiceRef { name: twin.into() })
}

/// `juxBy(by, f)` on a voice: Strudel's `stack(left, f(right))` with `left` panned `by`
/// towards the left and `right` towards the right (`jux` is `by` = 1: hard left and right).
/// weft's events carry no pan of their own, so the right side is a second voice, a copy of
/// this one named `NAME.jux` with the pattern `f(pattern)`; this voice becomes the left side.
/// Later transforms of this voice apply to both sides.
fn jux_by(
    cx: &NativeCallContext,
    ctx: &Arc<Mutex<RunContext>>,
    r: &VoiceRef,
    by: f64,
    f: &FnPtr,
) -> RResult<VoiceRef> {
    let by = check_range(by, "juxBy", 0.0, 1.0)?;
    let p = voice_pattern(ctx, r)?;
    // The function runs without the lock held (it may call other script functions).
    let right = apply(cx, f, p)?;
    let (lo, hi) = param_range(Param::Pan);
    let mut g = lock(ctx);
    let Some(i) = g.voices.iter().position(|v| v.name == r.name.as_str()) else {
        return rt_err(format!("voice '{}' is not defined here", r.name));
    };
    let pan = g.voices[i].sound.pan as f64;
    let mut twin = g.voices[i].clone();
    twin.name = twin_name(&r.name);
    // The twin's `every` functions would run a second time: the voice's own ones reach the
    // twin through the transforms they call.
    twin.every.clear();
    twin.sound.pan = (pan + by).clamp(lo, hi) as f32;
    match &mut twin.source {
        Source::Pattern(old)
        | Source::Notes {
            rhythm: Rhythm::Pattern(old),
            ..
        } => *old = right,
        _ => return rt_err(format!("voice '{}' has no pattern", r.name)),
    }
    g.voices[i].sound.pan = (pan - by).clamp(lo, hi) as f32;
    if let Some(slot) = g.voices.iter_mut().find(|v| v.name == twin.name) {
        *slot = twin;
    } else {
        if g.voices.len() >= 64 {
            return rt_err("jux: a patch may have at most 64 voices (jux adds one)");
        }
        g.voices.push(twin);
    }
    Ok(r.clone())
}

/// `sometimesBy(x, f)`: the events drawn with chance `x` go through `f`.
fn sometimes_by(cx: &NativeCallContext, p: &Pattern, x: f64, f: &FnPtr) -> RResult<Pattern> {
    let (kept, chosen) = p.sometimes_split(x).or_else(|e| rt_err(e.to_string()))?;
    let changed = apply(cx, f, chosen)?;
    tr(kept.stack_with(&[&changed], "sometimesBy"))
}

/// `sometimesBy` with a number, a pattern of chances (`f` runs once per distinct chance,
/// as Strudel runs it per value) or a signal (the chance read per event).
fn sometimes_by_arg(
    cx: &NativeCallContext,
    p: &Pattern,
    x: &Dynamic,
    f: &FnPtr,
) -> RResult<Pattern> {
    match arg_of(x, "sometimesBy")? {
        Arg::Num(x) => sometimes_by(cx, p, x, f),
        Arg::Pat(a) => {
            let mut table = Vec::new();
            for v in tr_vals(a.arg_values("sometimesBy"))? {
                table.push((v, sometimes_by(cx, p, v, f)?));
            }
            tr(p.picked("sometimesBy", &a, table))
        }
        Arg::Sig(sig) => {
            let (kept, chosen) = tr_pair(p.sometimes_split_signal(&sig))?;
            let changed = apply(cx, f, chosen)?;
            tr(kept.stack_with(&[&changed], "sometimesBy"))
        }
    }
}

/// `someCyclesBy(x, f)` with a number or a pattern of chances.
fn some_cycles_by(cx: &NativeCallContext, p: &Pattern, x: &Dynamic, f: &FnPtr) -> RResult<Pattern> {
    let one = |x: f64| -> RResult<Pattern> {
        let (kept, chosen) = tr_pair(p.some_cycles_split(x))?;
        let changed = apply(cx, f, chosen)?;
        tr(kept.stack_with(&[&changed], "someCyclesBy"))
    };
    match arg_of(x, "someCyclesBy")? {
        Arg::Num(x) => one(x),
        Arg::Pat(a) => {
            let mut table = Vec::new();
            for v in tr_vals(a.arg_values("someCyclesBy"))? {
                table.push((v, one(v)?));
            }
            tr(p.picked("someCyclesBy", &a, table))
        }
        Arg::Sig(_) => rt_err(
            "someCyclesBy takes a number or a pattern of chances; a signal is read per event: \
             use sometimesBy(signal, f)",
        ),
    }
}

/// `off(t, f)` = `stack(p, f(p.late(t)))`, with `t` a number or a pattern of times.
fn off(cx: &NativeCallContext, p: &Pattern, t: &Dynamic, f: &FnPtr) -> RResult<Pattern> {
    let one = |t: f64| -> RResult<Pattern> {
        let later = tr(p.late(t))?;
        let changed = apply(cx, f, later)?;
        tr(p.stack_with(&[&changed], "off"))
    };
    match arg_of(t, "off")? {
        Arg::Num(t) => one(t),
        Arg::Pat(a) => {
            let mut table = Vec::new();
            for v in tr_vals(a.arg_values("off"))? {
                table.push((v, one(v)?));
            }
            tr(p.picked("off", &a, table))
        }
        Arg::Sig(_) => {
            rt_err("off takes a time or a pattern of times (\"<0.25 0.125>\"), not a signal")
        }
    }
}

fn tr_vals(r: Result<Vec<f64>, TransformError>) -> RResult<Vec<f64>> {
    r.or_else(|e| rt_err(e.to_string()))
}

fn tr_pair(r: Result<(Pattern, Pattern), TransformError>) -> RResult<(Pattern, Pattern)> {
    r.or_else(|e| rt_err(e.to_string()))
}

pub(super) fn register(engine: &mut Engine, ctx: &Arc<Mutex<RunContext>>) {
    engine.register_type_with_name::<Pattern>("Pattern");
    engine.register_fn("to_string", |p: &mut Pattern| p.source().to_string());

    both!(engine, ctx, "fast", (x: Dynamic), |cx, p| timed(&p, &x, "fast", |p, v| p.fast(v)));
    both!(engine, ctx, "slow", (x: Dynamic), |cx, p| timed(&p, &x, "slow", |p, v| p.slow(v)));
    both!(engine, ctx, "early", (x: Dynamic), |cx, p| timed(&p, &x, "early", |p, v| p.early(v)));
    both!(engine, ctx, "late", (x: Dynamic), |cx, p| timed(&p, &x, "late", |p, v| p.late(v)));
    both!(engine, ctx, "rev", (), |cx, p| tr(p.rev()));
    both!(engine, ctx, "iter", (n: i64), |cx, p| tr(p.iter(n)));
    both!(engine, ctx, "palindrome", (), |cx, p| tr(p.palindrome()));
    both!(engine, ctx, "ply", (x: Dynamic), |cx, p| timed(&p, &x, "ply", |p, v| p.ply(v)));
    both!(engine, ctx, "chunk", (n: i64, f: FnPtr), |cx, p| {
        let src = tr(p.chunk_source(n))?;
        let on = apply(&cx, &f, src.clone())?;
        tr(src.chunk_with(n, &on))
    });
    both!(engine, ctx, "off", (t: Dynamic, f: FnPtr), |cx, p| off(&cx, &p, &t, &f));
    both!(engine, ctx, "superimpose", (f: FnPtr), |cx, p| {
        let changed = apply(&cx, &f, p.clone())?;
        tr(p.stack_with(&[&changed], "superimpose"))
    });
    both!(engine, ctx, "echo", (times: i64, t: Dynamic, fb: Dynamic), |cx, p| {
        tr(p.echo(times, as_f64(&t, "echo time")?, as_f64(&fb, "echo feedback")?))
    });
    both!(engine, ctx, "stut", (times: i64, fb: Dynamic, t: Dynamic), |cx, p| {
        tr(p.echo(times, as_f64(&t, "stut time")?, as_f64(&fb, "stut feedback")?))
    });
    both!(engine, ctx, "sometimesBy", (x: Dynamic, f: FnPtr), |cx, p| {
        sometimes_by_arg(&cx, &p, &x, &f)
    });
    both!(engine, ctx, "sometimes", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.5, &f));
    both!(engine, ctx, "often", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.75, &f));
    both!(engine, ctx, "rarely", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.25, &f));
    both!(engine, ctx, "almostNever", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.1, &f));
    both!(engine, ctx, "almostAlways", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.9, &f));
    both!(engine, ctx, "someCyclesBy", (x: Dynamic, f: FnPtr), |cx, p| {
        some_cycles_by(&cx, &p, &x, &f)
    });
    let c = ctx.clone();
    engine.register_fn(
        "jux",
        move |cx: NativeCallContext, r: &mut VoiceRef, f: FnPtr| jux_by(&cx, &c, r, 1.0, &f),
    );
    let c = ctx.clone();
    engine.register_fn(
        "juxBy",
        move |cx: NativeCallContext, r: &mut VoiceRef, by: Dynamic, f: FnPtr| {
            jux_by(&cx, &c, r, as_f64(&by, "juxBy")?, &f)
        },
    );
    both!(engine, ctx, "degradeBy", (x: Dynamic), |cx, p| {
        match arg_of(&x, "degradeBy")? {
            Arg::Num(x) => tr(p.degrade_by(x)),
            Arg::Pat(a) => tr(p.degrade_by_pattern(&a)),
            Arg::Sig(sig) => tr(p.degrade_by_signal(&sig)),
        }
    });
    both!(engine, ctx, "whenmod", (a: i64, b: i64, f: FnPtr), |cx, p| {
        let on = apply(&cx, &f, p.clone())?;
        tr(p.when_mod(a, b, &on))
    });
    both!(engine, ctx, "firstOf", (n: i64, f: FnPtr), |cx, p| {
        let on = apply(&cx, &f, p.clone())?;
        tr(p.first_of(n, &on))
    });
    both!(engine, ctx, "lastOf", (n: i64, f: FnPtr), |cx, p| {
        let on = apply(&cx, &f, p.clone())?;
        tr(p.last_of(n, &on))
    });
    // `every` on a voice is weft's per-bar `every(n, fn)` (voices.rs); on a pattern it is
    // Strudel's `every` = `firstOf`.
    engine.register_fn(
        "every",
        |cx: NativeCallContext, p: &mut Pattern, n: i64, f: FnPtr| -> RResult<Pattern> {
            let on = apply(&cx, &f, p.clone())?;
            tr(p.first_of(n, &on))
        },
    );
    both!(engine, ctx, "struct", (m: &str), |cx, p| tr(p.struct_by(&mask_of(m)?)));
    both!(engine, ctx, "mask", (m: &str), |cx, p| tr(p.mask(&mask_of(m)?)));
    both!(engine, ctx, "euclid", (k: i64, n: i64), |cx, p| tr(p.euclid(k, n, 0)));
    both!(engine, ctx, "euclidRot", (k: i64, n: i64, r: i64), |cx, p| tr(p.euclid(k, n, r)));
    both!(engine, ctx, "euclidLegato", (k: i64, n: i64), |cx, p| tr(p.euclid_legato(k, n)));
    both!(engine, ctx, "segment", (n: i64), |cx, p| tr(p.segment(n)));
    both!(engine, ctx, "range", (a: Dynamic, b: Dynamic), |cx, p| {
        tr(p.range(as_f64(&a, "range")?, as_f64(&b, "range")?))
    });
    both!(engine, ctx, "add", (x: Dynamic), |cx, p| tr(p.add(as_f64(&x, "add")?)));
    both!(engine, ctx, "sub", (x: Dynamic), |cx, p| tr(p.sub(as_f64(&x, "sub")?)));
}

#[cfg(test)]
mod tests {
    use crate::patch::check::NoModels;
    use crate::patch::{LoadOptions, Patch};
    use std::path::Path;

    /// A voice's name, pan and notes (start tick, key) in one bar.
    type Planned = (String, f32, Vec<(u64, u8)>);

    fn plan(src: &str, bar: u64) -> Vec<Planned> {
        let mut p = Patch::load(Path::new("t.rhai"), src, LoadOptions::default()).unwrap();
        let plan = p.plan_bar(bar, &mut NoModels).unwrap();
        plan.voices
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let notes = plan
                    .notes
                    .iter()
                    .filter(|n| n.voice == i)
                    .map(|n| (n.start, n.key))
                    .collect();
                (v.name.clone(), v.sound.pan, notes)
            })
            .collect()
    }

    #[test]
    fn jux_plays_the_function_on_a_right_hand_twin() {
        // Strudel: stack(pat with pan 0, f(pat) with pan 1); weft's pan is -1..1.
        let got = plan(
            r#"voice("a", #{ synth: "sine" }).pattern("c4 e4 g4 ~").jux(|p| p.rev());"#,
            0,
        );
        assert_eq!(
            got,
            vec![
                ("a".into(), -1.0, vec![(0, 60), (960, 64), (1920, 67)]),
                ("a.jux".into(), 1.0, vec![(960, 67), (1920, 64), (2880, 60)]),
            ]
        );
        // juxBy(0.5) around the voice's own pan; later transforms reach both sides, and
        // `every` runs once per side.
        let src = r#"voice("a", #{ synth: "sine", pan: 0.25 }).pattern("c4 e4")
            .juxBy(0.5, |p| p.add(12)).fast(2).every(2, |v| v.late(0.25));"#;
        let got = plan(src, 1);
        assert_eq!(got[0].0, "a");
        assert_eq!((got[0].1, got[1].1), (-0.25, 0.75));
        assert_eq!(got[0].2, vec![(0, 60), (960, 64), (1920, 60), (2880, 64)]);
        assert_eq!(got[1].2, vec![(0, 72), (960, 76), (1920, 72), (2880, 76)]);
        let shifted = plan(src, 2);
        assert_eq!(
            shifted[0].2,
            vec![(0, 64), (960, 60), (1920, 64), (2880, 60)]
        );
        assert_eq!(
            shifted[1].2,
            vec![(0, 76), (960, 72), (1920, 76), (2880, 72)]
        );
    }

    #[test]
    fn patterned_and_signal_arguments_from_scripts() {
        // fast("<1 2>"): one note in bar 0, two in bar 1 (Strudel's joined argument).
        let src = r#"voice("a", #{ synth: "sine" }).pattern("c4").fast("<1 2>");"#;
        assert_eq!(plan(src, 0)[0].2, vec![(0, 60)]);
        assert_eq!(plan(src, 1)[0].2, vec![(0, 60), (1920, 60)]);
        // off with a pattern of times, on a Pattern inside a function too.
        let src = r#"voice("a", #{ synth: "sine" }).pattern("c4 ~")
            .off("<0.25 0.5>", |p| p.add(12).ply("<2 1>"));"#;
        assert_eq!(plan(src, 0)[0].2, vec![(0, 60), (960, 72), (1920, 72)]);
        assert_eq!(plan(src, 1)[0].2, vec![(0, 60), (1920, 72)]);
        // A signal chance: isaw (1 at the bar's start, 0 at its end) drops early notes.
        let src = r#"voice("a", #{ synth: "sine" }).pattern("c4*16").degradeBy(isaw);"#;
        let notes: Vec<(u64, u8)> = (0..16).flat_map(|b| plan(src, b)[0].2.clone()).collect();
        let first = notes.iter().filter(|n| n.0 < 960).count();
        let last = notes.iter().filter(|n| n.0 >= 2880).count();
        assert!(
            first < last,
            "{first} in the first quarters vs {last} in the last"
        );
        // sometimesBy with a signal: every note is kept or transformed, never both.
        let src =
            r#"voice("a", #{ synth: "sine" }).pattern("c4*8").sometimesBy(saw, |p| p.add(12));"#;
        assert_eq!(plan(src, 3)[0].2.len(), 8);
        for (bad, want) in [
            (r#".fast(sine)"#, "not a signal"),
            (r#".fast("<2 x>")"#, "is not a number"),
            (r#".late("<0 [0.25")"#, "late: pattern"),
        ] {
            let src = format!(r#"voice("a", #{{ synth: "sine" }}).pattern("c4"){bad};"#);
            let e = Patch::load(Path::new("t.rhai"), &src, LoadOptions::default()).unwrap_err();
            assert!(e.message.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn jux_needs_a_voice_with_a_pattern() {
        let e = Patch::load(
            Path::new("t.rhai"),
            r#"voice("a", #{ synth: "sine" }).jux(|p| p.rev());"#,
            LoadOptions::default(),
        )
        .unwrap_err();
        assert!(e.message.contains("pattern first"), "{e}");
    }
}
