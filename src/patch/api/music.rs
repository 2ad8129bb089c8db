//! Script functions for music theory (`note`, `note_name`, `scale`, `chord`, `euclid`),
//! harmony on voices and patterns (`.n`, `.scale`, `.chord`, `.voicing`, `.arp`) and seeded
//! randomness (`rand()`, `rand(seed)` and its `float`/`int`/`pick`/`chance`).

use super::transforms::{both, jux_twin, set_voice_pattern, tr, voice_pattern};
use super::*;
use crate::patch::harmony::{Placement, Voicing};

/// Sets a voice's pattern (`.n(..)`, `.chord(..)`), as `.pattern(..)` does.
fn set_source(
    ctx: &Arc<Mutex<RunContext>>,
    cx: &NativeCallContext,
    r: &VoiceRef,
    p: Pattern,
) -> RResult<VoiceRef> {
    let mut g = lock(ctx);
    let Some(v) = g.voices.iter_mut().find(|v| v.name == r.name.as_str()) else {
        return rt_err(format!("voice '{}' is not defined here", r.name));
    };
    v.source = Source::Pattern(p);
    v.source_at = call_at(cx);
    Ok(r.clone())
}

fn mini<T>(what: &str, s: &str, r: Result<T, crate::patch::mini::MiniError>) -> RResult<T> {
    r.or_else(|e| rt_err(format!("{what}(\"{s}\"): {e}")))
}

const VOICING_KEYS: [&str; 7] = [
    "inversion",
    "drop2",
    "anchor",
    "mode",
    "range",
    "lead",
    "reset",
];

/// `.voicing(#{ inversion: 1, drop2: true, anchor: "c5", mode: "below", range: ["c3", "c6"],
/// lead: true, reset: 8 })`.
fn voicing_of(opts: &Map) -> RResult<Voicing> {
    let mut v = Voicing::default();
    for (k, x) in opts {
        match k.as_str() {
            "inversion" => {
                let i = x
                    .as_int()
                    .or_else(|_| rt_err("voicing: inversion must be a whole number"))?;
                v.inversion = check_range(i as f64, "voicing: inversion", -8.0, 8.0)? as i64;
            }
            "drop2" => v.drop2 = x.as_bool().or_else(|_| rt_err("voicing: drop2 is true or false"))?,
            "lead" => v.lead = x.as_bool().or_else(|_| rt_err("voicing: lead is true or false"))?,
            "anchor" => v.anchor = as_note(x, "voicing: anchor")?,
            "mode" => {
                v.placement = match x.to_string().as_str() {
                    "below" => Placement::Below,
                    "above" => Placement::Above,
                    other => {
                        return rt_err(format!(
                            "voicing: mode '{other}' is \"below\" (top note at or under the anchor) or \"above\" (bottom note at or over it)"
                        ))
                    }
                }
            }
            "range" => {
                let arr = x
                    .clone()
                    .try_cast::<Array>()
                    .filter(|a| a.len() == 2)
                    .map_or_else(|| rt_err("voicing: range is [low, high], e.g. [\"c3\", \"c6\"]"), Ok)?;
                let (lo, hi) = (as_note(&arr[0], "voicing: range")?, as_note(&arr[1], "voicing: range")?);
                if hi < lo + 12 {
                    return rt_err("voicing: range must span at least an octave");
                }
                v.range = (lo, hi);
            }
            "reset" => {
                let n = x.as_int().or_else(|_| rt_err("voicing: reset is a whole number of cycles"))?;
                v.reset = check_range(n as f64, "voicing: reset", 1.0, 64.0)? as u32;
            }
            other => {
                return rt_err(format!(
                    "voicing: unknown option '{other}'{} (known: {})",
                    super::super::hints::did_you_mean(other, VOICING_KEYS),
                    VOICING_KEYS.join(", ")
                ))
            }
        }
    }
    Ok(v)
}

fn arp(p: &Pattern, s: &str) -> RResult<Pattern> {
    let arg = mini("arp", s, Pattern::parse(s))?;
    let modes = mini("arp", s, arg.arp_kind())?;
    if modes {
        tr(p.arp_mode(&arg))
    } else {
        tr(p.arp_index(&arg))
    }
}

fn register_harmony(engine: &mut Engine, ctx: &Arc<Mutex<RunContext>>) {
    let c = ctx.clone();
    engine.register_fn(
        "n",
        move |cx: NativeCallContext, r: &mut VoiceRef, s: &str| {
            let p = mini("n", s, Pattern::parse_degrees(s))?;
            set_source(&c, &cx, r, p)
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "chord",
        move |cx: NativeCallContext, r: &mut VoiceRef, s: &str| {
            let p = mini("chord", s, Pattern::parse_chords(s))?;
            let p = tr(p.voiced(&Voicing::default()))?;
            set_source(&c, &cx, r, p)
        },
    );
    both!(engine, ctx, "scale", (s: &str), |cx, p| {
        let scales = mini("scale", s, Pattern::parse_scales(s))?;
        tr(p.scale(&scales))
    });
    both!(engine, ctx, "voicing", (opts: Map), |cx, p| {
        let v = voicing_of(&opts)?;
        p.revoiced(&v).map_or_else(
            || rt_err("voicing(..) re-voices chords: call it right after .chord(\"...\")"),
            Ok,
        )
    });
    both!(engine, ctx, "arp", (s: &str), |cx, p| arp(&p, s));
}

pub(super) fn register(engine: &mut Engine, ctx: &Arc<Mutex<RunContext>>) {
    register_harmony(engine, ctx);
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
}
