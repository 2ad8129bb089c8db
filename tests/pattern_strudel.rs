//! weft's pattern transforms against Strudel 1.1.0 (the oracle), with no node needed: the
//! fixture `tests/fixtures/strudel/transforms.json` holds random chains of 1-3 transforms over
//! random mini-notation patterns and Strudel's events for them over 8 cycles (written by
//! `benches/peers/strudel/gen_transforms.mjs`, run by `make fixtures`).
//!
//! Deterministic chains must agree exactly (begin, end, value). Random ones (`degradeBy`,
//! `sometimesBy` and its names, `someCyclesBy`) are compared by their shares over the
//! fixture's long runs: weft's seeded streams against Strudel's, within ±3 points.

use serde_json::Value as Json;
use weft::patch::mini::{Pattern, Rat, TransformError, Value};

struct Case {
    pattern: String,
    chain: Json,
    random: bool,
    /// begin, end, value, gain (1 unless the fixture gives a 4th element).
    events: Vec<(String, String, Value, f64)>,
    long: Json,
}

fn cases() -> (u64, Vec<Case>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/strudel/transforms.json"
    );
    let json: Json = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture"))
        .expect("fixture json");
    assert_eq!(json["strudel"], "1.1.0");
    let cycles = json["cycles"].as_u64().expect("cycles");
    let cases = json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            pattern: c["pattern"].as_str().expect("pattern").to_string(),
            chain: c["chain"].clone(),
            random: c["random"].as_bool().expect("random"),
            events: c["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| {
                    (
                        e[0].as_str().expect("begin").to_string(),
                        e[1].as_str().expect("end").to_string(),
                        value_of(&e[2]),
                        e.get(3).map_or(1.0, num),
                    )
                })
                .collect(),
            long: c["long"].clone(),
        })
        .collect();
    (cycles, cases)
}

fn value_of(j: &Json) -> Value {
    match j {
        Json::String(s) => Value::Word(s.clone()),
        Json::Number(n) => Value::Num(n.as_f64().expect("number")),
        Json::Array(xs) => Value::List(xs.iter().map(value_of).collect()),
        other => panic!("unexpected value {other}"),
    }
}

fn num(j: &Json) -> f64 {
    j.as_f64().expect("number argument")
}

fn int(j: &Json) -> i64 {
    j.as_i64().expect("whole argument")
}

/// A mini-notation argument (Strudel's patterned argument), if the argument is a string.
fn patterned(j: &Json) -> Option<Pattern> {
    j.as_str()
        .map(|s| Pattern::parse(s).expect("argument pattern"))
}

/// `sometimesBy(x, f)` as weft's Rhai function builds it for one chance `x`.
fn sometimes(p: &Pattern, x: f64, f: &Json) -> Result<Pattern, TransformError> {
    let (kept, chosen) = p.sometimes_split(x)?;
    let on = apply(chosen, f)?;
    kept.stack_with(&[&on], "sometimesBy")
}

fn some_cycles(p: &Pattern, x: f64, f: &Json) -> Result<Pattern, TransformError> {
    let (kept, chosen) = p.some_cycles_split(x)?;
    let on = apply(chosen, f)?;
    kept.stack_with(&[&on], "someCyclesBy")
}

fn off(p: &Pattern, t: f64, f: &Json) -> Result<Pattern, TransformError> {
    let on = apply(p.late(t)?, f)?;
    p.stack_with(&[&on], "off")
}

/// Applies a chain as weft's Rhai functions do (`off` = stack(p, f(p.late(t))), …); a
/// string argument is a pattern, joined over as the Rhai functions do with one.
fn apply(p: Pattern, chain: &Json) -> Result<Pattern, TransformError> {
    let mut p = p;
    for step in chain.as_array().expect("chain") {
        let step = step.as_array().expect("step");
        let name = step[0].as_str().expect("name");
        let a = &step[1..];
        let arg = a.first().and_then(patterned);
        p = match (name, arg) {
            ("fast", Some(x)) => p.fast_by(&x)?,
            ("slow", Some(x)) => p.slow_by(&x)?,
            ("early", Some(x)) => p.early_by(&x)?,
            ("late", Some(x)) => p.late_by(&x)?,
            ("ply", Some(x)) => p.ply_by(&x)?,
            ("degradeBy", Some(x)) => p.degrade_by_pattern(&x)?,
            ("off", Some(x)) => p.by_pattern("off", &x, |p, t| off(p, t, &a[1]))?,
            ("sometimesBy", Some(x)) => {
                p.by_pattern("sometimesBy", &x, |p, v| sometimes(p, v, &a[1]))?
            }
            ("someCyclesBy", Some(x)) => {
                p.by_pattern("someCyclesBy", &x, |p, v| some_cycles(p, v, &a[1]))?
            }
            (name, _) => apply_num(p, name, a)?,
        };
    }
    Ok(p)
}

/// One step with number arguments.
fn apply_num(p: Pattern, name: &str, a: &[Json]) -> Result<Pattern, TransformError> {
    Ok({
        match name {
            "fast" => p.fast(num(&a[0]))?,
            "slow" => p.slow(num(&a[0]))?,
            "early" => p.early(num(&a[0]))?,
            "late" => p.late(num(&a[0]))?,
            "rev" => p.rev()?,
            "iter" => p.iter(int(&a[0]))?,
            "palindrome" => p.palindrome()?,
            "ply" => p.ply(num(&a[0]))?,
            "chunk" => {
                let src = p.chunk_source(int(&a[0]))?;
                let on = apply(src.clone(), &a[1])?;
                src.chunk_with(int(&a[0]), &on)?
            }
            "off" => off(&p, num(&a[0]), &a[1])?,
            "superimpose" => {
                let on = apply(p.clone(), &a[0])?;
                p.stack_with(&[&on], "superimpose")?
            }
            "echo" => p.echo(int(&a[0]), num(&a[1]), num(&a[2]))?,
            "stut" => p.echo(int(&a[0]), num(&a[2]), num(&a[1]))?,
            "firstOf" | "every" => {
                let on = apply(p.clone(), &a[1])?;
                p.first_of(int(&a[0]), &on)?
            }
            "lastOf" => {
                let on = apply(p.clone(), &a[1])?;
                p.last_of(int(&a[0]), &on)?
            }
            "struct" => {
                p.struct_by(&Pattern::parse(a[0].as_str().expect("mask")).expect("mask"))?
            }
            "mask" => p.mask(&Pattern::parse(a[0].as_str().expect("mask")).expect("mask"))?,
            "euclid" => p.euclid(int(&a[0]), int(&a[1]), 0)?,
            "euclidRot" => p.euclid(int(&a[0]), int(&a[1]), int(&a[2]))?,
            "euclidLegato" => p.euclid_legato(int(&a[0]), int(&a[1]))?,
            "segment" => p.segment(int(&a[0]))?,
            "add" => p.add(num(&a[0]))?,
            "sub" => p.sub(num(&a[0]))?,
            "range" => p.range(num(&a[0]), num(&a[1]))?,
            "degradeBy" => p.degrade_by(num(&a[0]))?,
            "sometimesBy" | "sometimes" | "often" | "rarely" | "almostNever" => {
                let (x, f) = match name {
                    "sometimesBy" => (num(&a[0]), &a[1]),
                    "sometimes" => (0.5, &a[0]),
                    "often" => (0.75, &a[0]),
                    "rarely" => (0.25, &a[0]),
                    _ => (0.1, &a[0]),
                };
                sometimes(&p, x, f)?
            }
            "someCyclesBy" => some_cycles(&p, num(&a[0]), &a[1])?,
            other => panic!("transform {other} is not in weft"),
        }
    })
}

type Ev = (String, String, String);

/// A value as compared: its debug form, with the gain when `echo`/`stut` changed it.
fn compared(v: &Value, gain: f64) -> String {
    if gain == 1.0 {
        format!("{v:?}")
    } else {
        format!("{v:?} gain {gain:.9}")
    }
}

fn sorted(mut v: Vec<Ev>) -> Vec<Ev> {
    v.sort();
    v
}

fn weft_events(p: &Pattern, cycles: u64, seed: u64) -> Vec<Ev> {
    sorted(
        p.events_seeded(Rat::ZERO, Rat::int(cycles as i64), seed)
            .iter()
            .map(|e| {
                (
                    e.begin.to_string(),
                    e.end.to_string(),
                    compared(&e.value, e.gain),
                )
            })
            .collect(),
    )
}

#[test]
fn deterministic_chains_equal_strudel() {
    let (cycles, cases) = cases();
    let det: Vec<&Case> = cases.iter().filter(|c| !c.random).collect();
    assert!(det.len() >= 300, "{} deterministic chains", det.len());
    let mut agree = 0;
    let mut shown = 0;
    let mut by_name = std::collections::BTreeMap::<String, (u32, u32)>::new();
    for c in &det {
        let want = sorted(
            c.events
                .iter()
                .map(|(b, e, v, g)| (b.clone(), e.clone(), compared(v, *g)))
                .collect(),
        );
        let got = match apply(Pattern::parse(&c.pattern).expect("pattern"), &c.chain) {
            Ok(p) => weft_events(&p, cycles, 0),
            Err(e) => vec![("error".into(), e.to_string(), String::new())],
        };
        let ok = got == want;
        agree += ok as usize;
        for step in c.chain.as_array().expect("chain") {
            let e = by_name
                .entry(step[0].as_str().unwrap_or("").to_string())
                .or_default();
            e.0 += ok as u32;
            e.1 += 1;
        }
        if !ok && shown < 8 {
            shown += 1;
            let first = got.iter().zip(&want).position(|(a, b)| a != b);
            eprintln!(
                "MISMATCH {:?} {}\n  weft {} events, strudel {}; first difference at {first:?}: weft {:?} strudel {:?}",
                c.pattern,
                c.chain,
                got.len(),
                want.len(),
                first.and_then(|i| got.get(i)),
                first.and_then(|i| want.get(i)),
            );
        }
    }
    for (f, (ok, n)) in &by_name {
        eprintln!("  {f:<14} {ok}/{n}");
    }
    eprintln!(
        "deterministic transform chains equal to Strudel 1.1.0: {agree}/{}",
        det.len()
    );
    assert_eq!(agree, det.len());
}

/// Share of events `degradeBy` keeps, and share `sometimesBy`/`someCyclesBy` hand to their
/// function (marked by its `add(100)`): weft's seeded streams (seeds 1..=4) against Strudel's.
#[test]
fn random_chains_match_strudel_statistically() {
    let (_, cases) = cases();
    const SEEDS: u64 = 4;
    let (mut s_kept, mut s_all, mut w_kept, mut w_all) = (0u64, 0u64, 0u64, 0u64);
    let (mut s_marked, mut s_n, mut w_marked, mut w_n) = (0u64, 0u64, 0u64, 0u64);
    let mut n_random = 0;
    for c in cases.iter().filter(|c| c.random) {
        n_random += 1;
        let p = apply(Pattern::parse(&c.pattern).expect("pattern"), &c.chain).expect("chain");
        let n = c.long["cycles"].as_u64().expect("long cycles");
        let last = c.chain.as_array().and_then(|s| s.last()).expect("a step");
        if last[0] == "degradeBy" {
            let plain: Vec<Json> = c.chain.as_array().expect("chain")
                [..c.chain.as_array().map_or(0, |s| s.len() - 1)]
                .to_vec();
            let full = apply(
                Pattern::parse(&c.pattern).expect("pattern"),
                &Json::Array(plain),
            )
            .expect("plain chain");
            let full_n = weft_events(&full, n, 0).len() as u64;
            assert_eq!(
                full_n,
                c.long["plain_events"].as_u64().expect("plain"),
                "{}",
                c.pattern
            );
            s_kept += c.long["events"].as_u64().expect("events");
            s_all += full_n;
            for seed in 1..=SEEDS {
                w_kept += weft_events(&p, n, seed).len() as u64;
                w_all += full_n;
            }
        } else {
            s_marked += c.long["marked"].as_u64().expect("marked");
            s_n += c.long["events"].as_u64().expect("events");
            for seed in 1..=SEEDS {
                for e in p.events_seeded(Rat::ZERO, Rat::int(n as i64), seed) {
                    w_n += 1;
                    w_marked += matches!(e.value, Value::Num(x) if x >= 50.0) as u64;
                }
            }
        }
    }
    let (s, w) = (s_kept as f64 / s_all as f64, w_kept as f64 / w_all as f64);
    eprintln!(
        "degradeBy kept share: Strudel {:.2}% of {s_all} events, weft {:.2}% of {w_all} (seeds 1..={SEEDS})",
        100.0 * s,
        100.0 * w
    );
    assert!(s_all >= 2000, "{s_all} events");
    assert!((s - w).abs() <= 0.03, "{s} vs {w}");
    let (s, w) = (s_marked as f64 / s_n as f64, w_marked as f64 / w_n as f64);
    eprintln!(
        "sometimesBy/someCyclesBy transformed share: Strudel {:.2}% of {s_n} events, weft {:.2}% of {w_n} (seeds 1..={SEEDS}); {n_random} random chains",
        100.0 * s,
        100.0 * w
    );
    assert!(s_n >= 2000, "{s_n} events");
    assert!((s - w).abs() <= 0.03, "{s} vs {w}");
}
