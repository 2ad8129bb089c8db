//! Script functions for pattern transforms: `fast slow early late rev iter palindrome ply
//! chunk off superimpose echo stut sometimesBy sometimes often rarely almostNever
//! almostAlways someCyclesBy someCycles degradeBy whenmod firstOf lastOf every struct mask
//! euclid euclidRot euclidLegato segment range add sub`, each registered twice: as a voice
//! method (rewrites the voice's pattern) and as a method of `Pattern`, the value the
//! functions given to `off`, `sometimes`, `chunk`, … receive and must return. They run when
//! the patch is evaluated, so the scheduler only ever queries plain pattern data.

use super::*;
use crate::patch::mini::TransformError;

/// The pattern a voice plays (its `.pattern(...)`, or the rhythm of `.notes(..., "...")`).
fn voice_pattern(ctx: &Arc<Mutex<RunContext>>, r: &VoiceRef) -> RResult<Pattern> {
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

fn set_voice_pattern(ctx: &Arc<Mutex<RunContext>>, r: &VoiceRef, p: Pattern) -> RResult<VoiceRef> {
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

fn tr(r: Result<Pattern, TransformError>) -> RResult<Pattern> {
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
                let $p: Pattern = voice_pattern(&c, r)?;
                let _ = &$cx;
                let new: Pattern = $body?;
                set_voice_pattern(&c, r, new)
            },
        );
    }};
}

/// `sometimesBy(x, f)`: the events drawn with chance `x` go through `f`.
fn sometimes_by(cx: &NativeCallContext, p: &Pattern, x: f64, f: &FnPtr) -> RResult<Pattern> {
    let (kept, chosen) = p.sometimes_split(x).or_else(|e| rt_err(e.to_string()))?;
    let changed = apply(cx, f, chosen)?;
    tr(kept.stack_with(&[&changed], "sometimesBy"))
}

pub(super) fn register(engine: &mut Engine, ctx: &Arc<Mutex<RunContext>>) {
    engine.register_type_with_name::<Pattern>("Pattern");
    engine.register_fn("to_string", |p: &mut Pattern| p.source().to_string());

    both!(engine, ctx, "fast", (x: Dynamic), |cx, p| tr(p.fast(as_f64(&x, "fast")?)));
    both!(engine, ctx, "slow", (x: Dynamic), |cx, p| tr(p.slow(as_f64(&x, "slow")?)));
    both!(engine, ctx, "early", (x: Dynamic), |cx, p| tr(p.early(as_f64(&x, "early")?)));
    both!(engine, ctx, "late", (x: Dynamic), |cx, p| tr(p.late(as_f64(&x, "late")?)));
    both!(engine, ctx, "rev", (), |cx, p| tr(p.rev()));
    both!(engine, ctx, "iter", (n: i64), |cx, p| tr(p.iter(n)));
    both!(engine, ctx, "palindrome", (), |cx, p| tr(p.palindrome()));
    both!(engine, ctx, "ply", (x: Dynamic), |cx, p| tr(p.ply(as_f64(&x, "ply")?)));
    both!(engine, ctx, "chunk", (n: i64, f: FnPtr), |cx, p| {
        let src = tr(p.chunk_source(n))?;
        let on = apply(&cx, &f, src.clone())?;
        tr(src.chunk_with(n, &on))
    });
    both!(engine, ctx, "off", (t: Dynamic, f: FnPtr), |cx, p| {
        let later = tr(p.late(as_f64(&t, "off")?))?;
        let changed = apply(&cx, &f, later)?;
        tr(p.stack_with(&[&changed], "off"))
    });
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
        sometimes_by(&cx, &p, as_f64(&x, "sometimesBy")?, &f)
    });
    both!(engine, ctx, "sometimes", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.5, &f));
    both!(engine, ctx, "often", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.75, &f));
    both!(engine, ctx, "rarely", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.25, &f));
    both!(engine, ctx, "almostNever", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.1, &f));
    both!(engine, ctx, "almostAlways", (f: FnPtr), |cx, p| sometimes_by(&cx, &p, 0.9, &f));
    both!(engine, ctx, "someCyclesBy", (x: Dynamic, f: FnPtr), |cx, p| {
        let (kept, chosen) = p
            .some_cycles_split(as_f64(&x, "someCyclesBy")?)
            .or_else(|e| rt_err(e.to_string()))?;
        let changed = apply(&cx, &f, chosen)?;
        tr(kept.stack_with(&[&changed], "someCyclesBy"))
    });
    both!(engine, ctx, "degradeBy", (x: Dynamic), |cx, p| {
        tr(p.degrade_by(as_f64(&x, "degradeBy")?))
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
