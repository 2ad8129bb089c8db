//! Script functions for music theory (`note`, `note_name`, `scale`, `chord`, `euclid`) and
//! seeded randomness (`rand()`, `rand(seed)` and its `float`/`int`/`pick`/`chance`).

use super::*;

pub(super) fn register(engine: &mut Engine, ctx: &Arc<Mutex<RunContext>>) {
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
