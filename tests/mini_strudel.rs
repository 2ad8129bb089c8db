//! weft's mini-notation against Strudel 1.1.0 (the oracle), with no node needed: the fixture
//! `tests/fixtures/strudel/mini.json` holds random patterns drawn from every feature and the
//! events Strudel gives for them over 8 cycles (written by `benches/peers/strudel/gen.mjs`).
//!
//! Deterministic patterns must agree exactly (begin, end, value). Random ones (`?`, `|`) are
//! compared by their shares: weft's seeded streams against Strudel's, within ±3 points.

use proptest::prelude::*;
use serde_json::Value as Json;
use weft::patch::mini::{Pattern, Rat, Value, MAX_HITS};

struct Case {
    pattern: String,
    random: bool,
    features: Vec<String>,
    events: Vec<(String, String, Json)>,
    plain: Option<(String, u64)>,
}

fn cases() -> (u64, Vec<Case>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/strudel/mini.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture");
    let json: Json = serde_json::from_str(&text).expect("fixture json");
    assert_eq!(json["strudel"], "1.1.0");
    let cycles = json["cycles"].as_u64().expect("cycles");
    let cases = json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            pattern: c["pattern"].as_str().expect("pattern").to_string(),
            random: c["random"].as_bool().expect("random"),
            features: c["features"]
                .as_array()
                .expect("features")
                .iter()
                .map(|f| f.as_str().unwrap_or("").to_string())
                .collect(),
            events: c["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| {
                    (
                        e[0].as_str().expect("begin").to_string(),
                        e[1].as_str().expect("end").to_string(),
                        e[2].clone(),
                    )
                })
                .collect(),
            plain: c["plain"].as_str().map(|p| {
                (
                    p.to_string(),
                    c["plain_events"].as_u64().expect("plain_events"),
                )
            }),
        })
        .collect();
    (cycles, cases)
}

/// Strudel's JSON value as weft's value.
fn value_of(j: &Json) -> Value {
    match j {
        Json::String(s) => Value::Word(s.clone()),
        Json::Number(n) => Value::Num(n.as_f64().expect("number")),
        Json::Array(xs) => Value::List(xs.iter().map(value_of).collect()),
        other => panic!("unexpected value {other}"),
    }
}

type Ev = (String, String, String);

fn key(b: &str, e: &str, v: &Value) -> Ev {
    (b.to_string(), e.to_string(), format!("{v:?}"))
}

fn sort_events(mut v: Vec<Ev>) -> Vec<Ev> {
    v.sort();
    v
}

fn strudel_events(c: &Case) -> Vec<Ev> {
    sort_events(
        c.events
            .iter()
            .map(|(b, e, v)| key(b, e, &value_of(v)))
            .collect(),
    )
}

fn weft_events(p: &Pattern, cycles: u64, seed: u64) -> Vec<Ev> {
    sort_events(
        p.events_seeded(Rat::ZERO, Rat::int(cycles as i64), seed)
            .iter()
            .map(|e| key(&e.begin.to_string(), &e.end.to_string(), &e.value))
            .collect(),
    )
}

#[test]
fn deterministic_patterns_equal_strudel() {
    let (cycles, cases) = cases();
    let det: Vec<&Case> = cases.iter().filter(|c| !c.random).collect();
    assert!(det.len() >= 1000, "{} deterministic patterns", det.len());
    let mut agree = 0;
    let mut shown = 0;
    let mut by_feature = std::collections::BTreeMap::<&str, (u32, u32)>::new();
    for c in &det {
        let want = strudel_events(c);
        let got = match Pattern::parse(&c.pattern) {
            Ok(p) => weft_events(&p, cycles, 0),
            Err(e) => vec![("error".into(), e.to_string(), String::new())],
        };
        let ok = got == want;
        agree += ok as usize;
        for f in &c.features {
            let e = by_feature.entry(f).or_default();
            e.0 += ok as u32;
            e.1 += 1;
        }
        if !ok && shown < 8 {
            shown += 1;
            let first = got.iter().zip(&want).position(|(a, b)| a != b);
            eprintln!(
                "MISMATCH {:?}\n  weft {} events, strudel {}; first difference at {first:?}: weft {:?} strudel {:?}",
                c.pattern,
                got.len(),
                want.len(),
                first.and_then(|i| got.get(i)),
                first.and_then(|i| want.get(i)),
            );
        }
    }
    for (f, (ok, n)) in &by_feature {
        eprintln!("  {f:<16} {ok}/{n}");
    }
    eprintln!(
        "deterministic patterns equal to Strudel 1.1.0: {agree}/{}",
        det.len()
    );
    assert_eq!(agree, det.len());
}

/// Kept share of `?` steps, and the share of `|` choices that pick the first alternative:
/// weft's seeded streams (seeds 1..=4) against Strudel's, over the fixture's long runs.
#[test]
fn random_patterns_match_strudel_statistically() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/strudel/mini.json"
    );
    let json: Json = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture"))
        .expect("fixture json");
    let (cycles, cases) = cases();
    const SEEDS: u64 = 4;
    let (mut s_kept, mut s_all, mut w_kept, mut w_all) = (0u64, 0u64, 0u64, 0u64);
    let (mut s_first, mut s_n, mut w_first, mut w_n) = (0u64, 0u64, 0u64, 0u64);
    let mut exact = 0;
    let mut n_random = 0;
    for (c, j) in cases.iter().zip(json["cases"].as_array().expect("cases")) {
        if !c.random {
            continue;
        }
        n_random += 1;
        let p = Pattern::parse(&c.pattern).expect("random pattern parses");
        exact += (weft_events(&p, cycles, 0) == strudel_events(c)) as usize;
        let long = &j["long"];
        let n = long["cycles"].as_u64().expect("long cycles");
        if let Some((plain, _)) = c.plain.as_ref().filter(|_| !c.pattern.contains('|')) {
            let full = Pattern::parse(plain).expect("plain parses");
            let full_n = weft_events(&full, n, 0).len() as u64;
            assert_eq!(
                full_n,
                long["plain_events"].as_u64().expect("plain"),
                "{plain}"
            );
            s_kept += long["events"].as_u64().expect("events");
            s_all += full_n;
            for seed in 1..=SEEDS {
                w_kept += weft_events(&p, n, seed).len() as u64;
                w_all += full_n;
            }
        }
        if let Some(first) = j["first"].as_str().filter(|_| c.features == ["choose"]) {
            s_first += long["first"].as_u64().expect("first");
            s_n += long["events"].as_u64().expect("events");
            for seed in 1..=SEEDS {
                for e in p.events_seeded(Rat::ZERO, Rat::int(n as i64), seed) {
                    w_n += 1;
                    w_first += (e.value.to_string() == first) as u64;
                }
            }
        }
    }
    let (s, w) = (s_kept as f64 / s_all as f64, w_kept as f64 / w_all as f64);
    eprintln!(
        "'?' kept share: Strudel {:.2}% of {s_all} events, weft {:.2}% of {w_all} (seeds 1..={SEEDS})",
        100.0 * s,
        100.0 * w
    );
    assert!(s_all >= 2000, "{s_all} events");
    assert!((s - w).abs() <= 0.03, "{s} vs {w}");
    let (s, w) = (s_first as f64 / s_n as f64, w_first as f64 / w_n as f64);
    eprintln!(
        "'|' first-alternative share: Strudel {:.2}% of {s_n} events, weft {:.2}% of {w_n} (seeds 1..={SEEDS})",
        100.0 * s,
        100.0 * w
    );
    assert!(s_n >= 2000, "{s_n} events");
    assert!((s - w).abs() <= 0.03, "{s} vs {w}");
    eprintln!("random patterns identical to Strudel over {cycles} cycles with weft's seed 0: {exact}/{n_random}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    /// Any string: no panic, no hang (bounded events per cycle), errors inside the string.
    #[test]
    fn parser_never_panics_or_hangs(s in "[a-gx0-9 ~._<>\\[\\]{}*/!@?:,|()%^#-]{0,48}", cycle in 0u64..1000) {
        match Pattern::parse(&s) {
            Ok(p) => {
                for c in [0, 1, cycle] {
                    let hits = p.query(c);
                    prop_assert!(hits.len() <= MAX_HITS);
                    for h in hits {
                        prop_assert!(h.start.num >= 0 && h.start.num < h.start.den);
                    }
                }
            }
            Err(e) => prop_assert!(e.col >= 1 && e.col <= s.chars().count() + 1, "{e}"),
        }
    }

    #[test]
    fn arbitrary_unicode_never_panics(s in ".{0,40}") {
        if let Err(e) = Pattern::parse(&s) {
            prop_assert!(e.col >= 1 && e.col <= s.chars().count() + 1);
        }
    }

    /// A stray character in a valid pattern is reported at its own column.
    #[test]
    fn bad_character_error_names_its_column(i in 0usize..10_000, j in 0usize..10_000, bad in prop::sample::select(vec!['$', '"', '=', ';', '&'])) {
        let (_, cases) = cases_cached();
        let c = &cases[i % cases.len()];
        let chars: Vec<char> = c.chars().collect();
        let at = j % (chars.len() + 1);
        let mut s: String = chars[..at].iter().collect();
        s.push(bad);
        s.extend(&chars[at..]);
        let e = Pattern::parse(&s).expect_err("a stray character is an error");
        // At the stray character, or at a lone '.' right before it (which then cannot group),
        // or earlier where the text before it is already wrong by itself: cutting `x@0.5@0.5`
        // as `x@0.5@0$.5` leaves the weight 0.5 + 0 - 1 < 0, said at its step.
        let before_dot = at > 0 && chars[at - 1] == '.' && e.col == at;
        let prefix: String = chars[..at].iter().collect();
        let prefix_wrong = e.col <= at && Pattern::parse(&prefix).err().map(|p| p.col) == Some(e.col);
        prop_assert!(e.col == at + 1 || before_dot || prefix_wrong, "{} in {:?}", e, s);
    }
}

fn cases_cached() -> &'static (u64, Vec<String>) {
    static C: std::sync::OnceLock<(u64, Vec<String>)> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        let (n, cs) = cases();
        (n, cs.into_iter().map(|c| c.pattern).collect())
    })
}
