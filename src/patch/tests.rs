//! Unit tests of the patch stage: loading, limits and stop policy, planning, callbacks.

use super::*;

fn load(src: &str) -> Result<Patch, PatchError> {
    Patch::load(Path::new("t.rhai"), src, LoadOptions::default())
}

#[test]
fn analyze_records_settings_and_checks_feature_names() {
    let p = load("analyze(#{ fft: 4096, hop: 1024, features: [\"rms\", \"onset\"] });").unwrap();
    assert_eq!(
        p.analyze_spec(),
        Some(AnalyzeSpec {
            fft: 4096,
            hop: 1024,
            features: Some(vec!["rms".into(), "onset".into()]),
        })
    );
    let e = load("let x = 1;\nanalyze(#{ features: [\"rms\", \"loudness\"] });").unwrap_err();
    assert_eq!((e.line, e.col), (2, 1), "{e}");
    assert!(e.message.contains("unknown feature 'loudness'"), "{e}");
    let e = load("analyze(#{ fft: 1000 });").unwrap_err();
    assert!(e.message.contains("power of two"), "{e}");
    assert_eq!(load("let x = 1;").unwrap().analyze_spec(), None);
}

fn keys(p: &mut Patch, bar: u64) -> Vec<(u64, u8)> {
    p.plan_bar(bar, &mut NoModels)
        .unwrap()
        .notes
        .iter()
        .map(|n| (n.start, n.key))
        .collect()
}

#[test]
fn drum_pattern_plans_exact_ticks() {
    let mut p =
        load(r#"voice("kick", #{ synth: "kick" }).pattern("x ~ ~ ~ x ~ ~ ~ x ~ ~ ~ x ~ x ~");"#)
            .unwrap();
    assert_eq!(
        keys(&mut p, 0),
        vec![(0, 36), (960, 36), (1920, 36), (2880, 36), (3360, 36)]
    );
    assert_eq!(p.base_voices()[0].channel, 9);
}

#[test]
fn notes_with_euclid_walk_the_scale_across_bars() {
    let mut p = load(r#"voice("bass", #{ synth: "saw", channel: 2 }).notes(scale("A2", "minor"), euclid(3, 8));"#).unwrap();
    assert_eq!(keys(&mut p, 0), vec![(0, 45), (1440, 47), (2880, 48)]);
    assert_eq!(keys(&mut p, 1), vec![(0, 50), (1440, 52), (2880, 53)]);
}

#[test]
fn on_bar_changes_are_bar_local_and_state_persists() {
    let src = r#"
        voice("k", #{ synth: "kick" }).pattern("x");
        fn on_bar(bar) {
            state.bars = if state.bars == () { 1 } else { state.bars + 1 };
            if bar % 4 == 3 { voice("k").pattern("x x x x"); }
        }
    "#;
    let mut p = load(src).unwrap();
    assert_eq!(keys(&mut p, 0).len(), 1);
    assert_eq!(keys(&mut p, 3).len(), 4);
    assert_eq!(keys(&mut p, 4).len(), 1);
    assert_eq!(p.state().get("bars").unwrap().as_int().unwrap(), 3);
}

#[test]
fn every_transposes_on_its_bars() {
    let mut p = load(r#"voice("l", #{}).pattern("c4").every(2, |v| v.transpose(12));"#).unwrap();
    assert_eq!(keys(&mut p, 0), vec![(0, 72)]);
    assert_eq!(keys(&mut p, 1), vec![(0, 60)]);
}

#[test]
fn prob_is_seeded_and_repeatable() {
    let src = r#"voice("h", #{ synth: "hat" }).pattern("x*16").prob(0.5);"#;
    let a: Vec<_> = (0..8).map(|b| keys(&mut load(src).unwrap(), b)).collect();
    let b: Vec<_> = (0..8).map(|b| keys(&mut load(src).unwrap(), b)).collect();
    assert_eq!(a, b);
    let total: usize = a.iter().map(|x| x.len()).sum();
    assert!(total > 30 && total < 98, "{total}");
}

#[test]
fn errors_name_line_and_column() {
    let e = load("tempo(120);\nlet x = ;").unwrap_err();
    assert_eq!((e.line, e.col), (2, 9));
    let e = load("tempo(120);\n  voice(\"a\", #{}).pattern(\"x [\");").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("unclosed"), "{e}");
    let e = load("fn f() { throw \"boom\"; }\n\nf();").unwrap_err();
    assert_eq!((e.line, e.col), (1, 10), "{e}");
    assert!(e.to_string().starts_with("t.rhai:1:10: "), "{e}");
}

#[test]
fn runaway_scripts_are_stopped() {
    for src in [
        "loop {}",
        "let x = 0; loop { x += 1; }",
        "fn f(n) { f(n + 1) } f(0);",
        "let a = []; loop { a.push(1); }",
        "let s = \"x\"; loop { s += s; }",
        "let a = [0]; a.pad(1000000000, 0);",
        "let s = \"x\"; s.pad(1000000000, \"x\");",
        "let a = []; for i in range(0, 1000000000) { a.push(i); }",
        "let m = #{}; for i in 0..1000000000 { m[`${i}`] = i; }",
    ] {
        let e = load(src).unwrap_err();
        assert_eq!(e.line, 1, "{src}: {e}");
    }
    // A slow on_bar hits its deadline.
    let mut p = load("fn on_bar(b) { let x = 0; while true { x += 1; } }").unwrap();
    let e = p.plan_bar(0, &mut NoModels).unwrap_err();
    assert!(e.message.contains("stopped"), "{e}");
}

#[test]
fn no_file_or_eval_access() {
    assert!(load(r#"eval("1")"#).is_err());
    assert!(load(r#"import "x" as y;"#).is_err());
}

#[test]
fn import_says_it_is_not_available_at_its_line() {
    let e = load("let a = 1;\n  import \"x\" as y;").unwrap_err();
    assert_eq!(e.message, "import is not available in patches", "{e}");
    assert_eq!((e.line, e.col), (2, 3), "{e}");
}

#[test]
fn sleep_and_other_core_functions_are_not_reachable() {
    // `sleep` froze the music (on_bar), hung `check` (top level) or panicked (1e30).
    for src in [
        "sleep(1000000.0);",
        "sleep(1e30);",
        "sleep(1);",
        "exit();",
        "timestamp();",
    ] {
        let e = load(src).unwrap_err();
        assert!(e.message.contains("Function not found"), "{src}: {e}");
    }
    let mut p = load("let a = 1;\nfn on_bar(b) {\n    sleep(1000000.0);\n}").unwrap();
    let e = p.plan_bar(0, &mut NoModels).unwrap_err();
    assert!(e.message.contains("Function not found"), "{e}");
    assert_eq!(e.line, 3, "{e}");
}

#[test]
fn full_range_int_does_not_divide_by_zero() {
    let mut p = load(
        "fn on_bar(b) { state.x = rand(1).int(-9223372036854775807 - 1, 9223372036854775807); }",
    )
    .unwrap();
    p.plan_bar(0, &mut NoModels).unwrap();
    let mut p = load("let r = rand(3); let a = r.int(5, 5); let b = r.int(-2, 2);\nif a != 5 || b < -2 || b > 2 { throw \"range\"; }").unwrap();
    p.plan_bar(0, &mut NoModels).unwrap();
    let e = load("rand(1).int(3, 2);").unwrap_err();
    assert!(e.message.contains("hi must be >= lo"), "{e}");
    // Huge transpositions clamp to -48..48 without overflowing.
    let mut p =
        load("voice(\"a\", #{}).pattern(\"x\").transpose(9223372036854775807).transpose(1);")
            .unwrap();
    p.plan_bar(0, &mut NoModels).unwrap();
    assert_eq!(p.base_voices()[0].transpose, 48);
}

#[test]
fn finite_values_past_a_range_end_are_clamped_not_errors() {
    // Review finding: `chance(bar / 8.0)` and a cutoff sweep passed the dry run and then
    // failed bars later, stopping the part; a sweep past the end is music.
    let src = "voice(\"a\", #{ synth: \"saw\" }).pattern(\"x*4\");\n\
               fn on_bar(b) {\n\
                 voice(\"a\").set(#{ cutoff: 2000.0 * (b + 1), pan: 3, vel: 300, gate: 0 });\n\
                 if rand(b).chance(b / 8.0) { voice(\"a\").prob(1.5); }\n\
               }";
    let mut p = load(src).unwrap();
    for b in 0..24 {
        let plan = p.plan_bar(b, &mut NoModels).unwrap();
        assert!(plan.voices[0].sound.cutoff <= 20_000.0);
        assert!(plan.voices[0].gate >= 0.01);
    }
    let s = load("let s = scale(\"C3\", \"minor\", 9); if s.len() == 0 { throw \"empty\"; }");
    assert!(s.is_ok(), "{s:?}");
}

#[test]
fn a_panic_in_any_callback_becomes_an_error_and_the_patch_keeps_working() {
    let src = "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x\");\n\
               fn on_bar(b) {\n    if b == 1 { __test_panic(\"boom\"); }\n}\n\
               fn on_features(f) { __test_panic(\"feat\"); }";
    let mut p = load(src).unwrap();
    assert_eq!(keys(&mut p, 0).len(), 1);
    let e = p.plan_bar(1, &mut NoModels).unwrap_err();
    assert_eq!(e.message, "internal error in on_bar: boom", "{e}");
    assert_eq!(e.line, 2, "{e}");
    assert!(
        !p.ctx.is_poisoned(),
        "the run's mutex must not stay poisoned"
    );
    assert_eq!(keys(&mut p, 2).len(), 1);
    let e = p.on_features(Map::new()).unwrap_err();
    assert_eq!(e.message, "internal error in on_features: feat", "{e}");
    assert!(!p.ctx.is_poisoned());
    let e = load("let x = 1;\n__test_panic(\"top\");").unwrap_err();
    assert_eq!(e.message, "internal error in the top level: top", "{e}");
    let mut p =
        load("voice(\"k\", #{}).pattern(\"x\").every(2, |v| __test_panic(\"ev\"));").unwrap();
    let e = p.plan_bar(0, &mut NoModels).unwrap_err();
    assert_eq!(e.message, "internal error in every: ev", "{e}");
    let e = Patch::dry_run(
        Path::new("t.rhai"),
        "fn on_start() { __test_panic(\"st\"); }",
        LoadOptions::default(),
        0,
        1,
        &mut NoModels,
    )
    .unwrap_err();
    assert_eq!(e.message, "internal error in on_start: st", "{e}");
}

#[test]
fn state_has_a_size_limit_at_the_writing_line() {
    // 300 keys x 32 KB per bar grew without bound (531 MB in 60 s).
    let src = "fn on_bar(b) {\n    let s = \"x\"; s.pad(32000, \"x\");\n    for i in 0..300 { state[`k${b}_${i}`] = s; }\n}";
    let slow = || LoadOptions {
        limits: Limits {
            callback_deadline: Duration::from_secs(600),
            ..Limits::default()
        },
        ..LoadOptions::default()
    };
    let mut p = Patch::load(Path::new("t.rhai"), src, slow()).unwrap();
    let mut err = None;
    for b in 0..4 {
        if let Err(e) = p.plan_bar(b, &mut NoModels) {
            err = Some(e);
            break;
        }
    }
    let e = err.unwrap_or_else(|| {
        panic!(
            "state must fill up: {} bytes, k0_0 {:?}",
            p.state().bytes(),
            p.state().get("k0_0").map(|v| v.type_name())
        )
    });
    assert!(e.message.contains("state is full"), "{e}");
    assert!(e.message.contains("limit is 16 MB"), "{e}");
    assert_eq!(e.line, 3, "{e}");
    assert!(p.state().bytes() <= 16 << 20);
    // Growing a value in place (`state.list.push`) goes through the same bound.
    let opts = LoadOptions {
        limits: Limits {
            max_state_bytes: 64 << 10,
            ..slow().limits
        },
        ..LoadOptions::default()
    };
    let src = "state.list = [];\nfn on_bar(b) {\n    let s = 1;\n    for i in 0..1000 { state.list.push(s); }\n}";
    let mut p = Patch::load(Path::new("t.rhai"), src, opts).unwrap();
    let mut err = None;
    for b in 0..8 {
        if let Err(e) = p.plan_bar(b, &mut NoModels) {
            err = Some(e);
            break;
        }
    }
    let e = err.unwrap_or_else(|| {
        panic!(
            "state.list.push must hit the bound: {:?} bytes {}",
            p.state().get("list").map(|l| l.into_array().unwrap().len()),
            p.state().bytes()
        )
    });
    assert!(e.message.contains("state is full"), "{e}");
    assert_eq!((e.line, e.col), (4, 29), "{e}");
    assert!(e.message.contains("the limit is 64 KB"), "{e}");
    let len = p.state().get("list").unwrap().into_array().unwrap().len();
    assert!((3000..4096).contains(&len), "{len}");
    // Replacing a big value with a small one is always allowed.
    let mut p = Patch::load(
        Path::new("t.rhai"),
        "fn on_bar(b) { state.list = []; }",
        LoadOptions {
            state: Some(p.state()),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    p.plan_bar(0, &mut NoModels).unwrap();
}

#[test]
fn callbacks_do_not_rerun_the_top_level() {
    let src = "state.list = [];\nstate.runs = if state.runs == () { 1 } else { state.runs + 1 };\n\
               fn on_bar(b) { state.list.push(b); }";
    let mut p = load(src).unwrap();
    for b in 0..3 {
        p.plan_bar(b, &mut NoModels).unwrap();
    }
    assert_eq!(p.state().get("runs").unwrap().as_int().unwrap(), 1);
    assert_eq!(
        p.state().get("list").unwrap().into_array().unwrap().len(),
        3
    );
}

#[test]
fn constants_computed_from_top_level_variables_keep_their_values_in_callbacks() {
    // Review finding: keeping only the `const` statements broke Rhai's compile-time
    // variable indexes (D read A's value; `root + 7` underflowed an index).
    let src = "const A = 1;\nlet b = 2;\nconst C = 3;\nconst D = b;\nlet root = 60;\n\
               const CH = root + 7;\nconst A = 5;\n\
               fn on_bar(x) { state.d = global::D; state.ch = global::CH; state.a = global::A; }";
    let mut p = load(src).unwrap();
    p.plan_bar(0, &mut NoModels).unwrap();
    let st = p.state();
    assert_eq!(st.get("d").unwrap().as_int().unwrap(), 2);
    assert_eq!(st.get("ch").unwrap().as_int().unwrap(), 67);
    assert_eq!(st.get("a").unwrap().as_int().unwrap(), 5);
}

#[test]
fn state_refuses_closures_and_itself_at_the_writing_line() {
    // Review finding: a closure chain in `state` grew to 580 MB past the 16 MB bound
    // (captured values are not counted), and `state.s = state` made a cycle.
    for (src, what) in [
        ("state.f = || 0;", "function"),
        (
            "let big = [1, 2];\nstate.f = [1, || big.len()];",
            "function",
        ),
        ("state.s = #{ inner: state };", "state itself"),
        ("fn on_bar(b) {\n  state.s = state;\n}", "state itself"),
    ] {
        let e = match load(src) {
            Err(e) => e,
            Ok(mut p) => p.plan_bar(0, &mut NoModels).unwrap_err(),
        };
        assert!(e.message.contains(what), "{src}: {e}");
        assert!(e.line >= 1 && !e.message.contains("internal"), "{src}: {e}");
    }
    let mut p = load("state.x = [1, #{ a: \"b\" }, 2.5, true];").unwrap();
    p.plan_bar(0, &mut NoModels).unwrap();
}

#[test]
fn top_level_constants_are_visible_in_callbacks_as_global() {
    let src = "const ROOT = 45;\nstate.runs = if state.runs == () { 1 } else { state.runs + 1 };\n\
               voice(\"b\", #{}).notes([ROOT], \"x\");\n\
               fn on_bar(b) { state.seen = global::ROOT; }";
    let mut p = load(src).unwrap();
    for b in 0..3 {
        p.plan_bar(b, &mut NoModels).unwrap();
    }
    assert_eq!(p.state().get("seen").unwrap().as_int().unwrap(), 45);
    assert_eq!(p.state().get("runs").unwrap().as_int().unwrap(), 1);
}

#[test]
fn runaway_callbacks_are_placed_in_the_patch_not_at_1_1() {
    let src = "voice(\"k\", #{}).pattern(\"x\");\n\n  fn on_bar(b) {\n    let x = 0;\n    loop { x += 1; }\n}";
    let mut p = load(src).unwrap();
    let e = p.plan_bar(0, &mut NoModels).unwrap_err();
    assert!(e.message.contains("stopped"), "{e}");
    // Rhai drops the loop's own position at the callback boundary: the callback's body
    // (its `{`), found in the AST, so a comment or string mentioning `fn` cannot mislead.
    assert_eq!((e.line, e.col), (3, 16), "{e}");
    let src = "/* fn on_bar */ let s = \"fn on_bar\";\nfn on_bar(b) { loop {} }";
    let mut p = load(src).unwrap();
    let e = p.plan_bar(0, &mut NoModels).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    let src = "let a = 1;\nfn f(n) { f(n + 1) }\nfn on_bar(b) {\n    f(0);\n}";
    let mut p = load(src).unwrap();
    let e = p.plan_bar(0, &mut NoModels).unwrap_err();
    assert!(e.message.contains("nested deeper"), "{e}");
    assert!(e.line >= 2, "{e}");
    let src = "let a = 1;\nfn on_features(f) {\n    loop {}\n}";
    let mut p = load(src).unwrap();
    let e = p.on_features(Map::new()).unwrap_err();
    assert!(e.message.contains("stopped"), "{e}");
    assert!(e.line >= 2, "{e}");
}

#[test]
fn every_callback_has_a_deadline_and_an_operation_budget() {
    let mut p =
        load("let a = 1;\nvoice(\"k\", #{}).pattern(\"x\")\n    .every(1, |v| { loop {} });")
            .unwrap();
    let e = p.plan_bar(0, &mut NoModels).unwrap_err();
    assert!(e.message.contains("stopped"), "{e}");
    assert_eq!(e.line, 3, "placed at its every(...), not 1:1: {e}");
    let e = Patch::dry_run(
        Path::new("t.rhai"),
        "fn on_start() { loop {} }",
        LoadOptions::default(),
        0,
        1,
        &mut NoModels,
    )
    .unwrap_err();
    assert!(e.message.contains("stopped"), "{e}");
}

#[test]
fn bad_option_values_are_rejected_at_their_line() {
    for (src, needle) in [
        ("voice(\"a\", #{}).gate(0.0 / 0.0);", "gate must be"),
        ("voice(\"a\", #{ gate: -1.0 });", "gate cannot be negative"),
        (
            "voice(\"a\", #{ cutoff: 1.0 / 0.0 });",
            "cutoff must be a number in 20..20000",
        ),
        ("voice(\"a\", #{ vel: -5 });", "vel cannot be negative"),
        ("voice(\"a\", #{}).prob(-0.5);", "prob cannot be negative"),
        (
            "voice(\"a\", #{}).lstm(#{ temperature: 0.0 / 0.0 });",
            "temperature",
        ),
        (
            "voice(\"a\", #{}).lstm(#{ temperature: -1.0 });",
            "temperature",
        ),
        (
            "voice(\"a\", #{}).lstm(#{ density: -5 });",
            "lstm option density cannot be negative",
        ),
        ("voice(\"a\", #{}).lstm(#{ top_k: 2.5 });", "top_k"),
        ("voice(\"a\", #{}).lstm(#{ seed: -1 });", "seed"),
        (
            "voice(\"a\", #{}).lstm(#{ part: \"lead\" });",
            "unknown part",
        ),
        ("param(\"a.cutoff\", 0.0 / 0.0);", "finite"),
        ("let c = chord(\"G9\", \"maj9\");", "above 127"),
        (
            "let s = scale(\"C4\", \"major\", 0);",
            "octaves must be 1..8",
        ),
        ("let n = note_name(200);", "0..127"),
    ] {
        let e = load(&format!("let x = 1;\n{src}")).unwrap_err();
        assert!(e.message.contains(needle), "{src}: {e}");
        assert_eq!(e.line, 2, "{src}: {e}");
    }
}

#[test]
fn transforms_rewrite_the_voice_pattern_and_take_closures() {
    let mut p = load(
        r#"voice("lead", #{ synth: "saw" }).pattern("c4 e4").rev().off(0.25, |q| q.add(12));"#,
    )
    .unwrap();
    // rev: e4 then c4; off: the same a quarter later, an octave up.
    let mut k = keys(&mut p, 0);
    k.sort();
    assert_eq!(k, vec![(0, 64), (960, 76), (1920, 60), (2880, 72)]);
    let mut p =
        load(r#"voice("k", #{ synth: "kick" }).pattern("x").every(2, |v| v.fast(2));"#).unwrap();
    assert_eq!(keys(&mut p, 0).len(), 2);
    assert_eq!(keys(&mut p, 1).len(), 1);
    let e = load("let x = 1;\nvoice(\"k\", #{ synth: \"kick\" }).pattern(\"x\").off(0.25, |q| 3);")
        .unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("must return the pattern"), "{e}");
    let e = load("voice(\"k\", #{ synth: \"kick\" }).pattern(\"x*64*64\").fast(2);").unwrap_err();
    assert!(e.message.contains("4096"), "{e}");
    let e = load("voice(\"k\", #{ synth: \"kick\" }).fast(2);").unwrap_err();
    assert!(e.message.contains("need a pattern first"), "{e}");
}

#[test]
fn paths_in_errors_are_relative_to_the_current_directory() {
    let cwd = std::env::current_dir().unwrap();
    let inside = cwd.join("scripts").join("bass.rhai");
    let e = Patch::load(&inside, "let x = ;", LoadOptions::default()).unwrap_err();
    assert!(e.to_string().starts_with("scripts/bass.rhai:1:"), "{e}");
    // Outside the current directory the path stays absolute.
    let outside = Path::new("/weft-nowhere/bass.rhai");
    let e = Patch::load(outside, "let x = ;", LoadOptions::default()).unwrap_err();
    assert!(
        e.to_string().starts_with("/weft-nowhere/bass.rhai:1:"),
        "{e}"
    );
    assert_eq!(shown_path("scripts/a.rhai"), "scripts/a.rhai");
}

#[test]
fn a_missing_paren_names_where_it_opened() {
    let src = "let v = voice(\"b\", #{ synth: \"saw\" });\n\
               v.pattern(\"x ~ ( x\"\n  .gain(0.5) // (\n  .transpose(0);\n";
    let e = load(src).unwrap_err();
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.ends_with("unclosed '(' opened at 2:10"), "{e}");
}

#[test]
fn misspelt_names_get_the_nearest_known_one() {
    let e = load("let v = voice(\"b\", #{ synth: \"saw\" });\nv.patern(\"x ~\");").unwrap_err();
    assert!(e.message.ends_with("did you mean `pattern`?"), "{e}");
    // The patch's own functions count too.
    let e = load("fn groove(v) { v }\ngroov(1);").unwrap_err();
    assert!(e.message.ends_with("did you mean `groove`?"), "{e}");
    // Nothing near: no hint.
    let e = load("zzqqxx(1);").unwrap_err();
    assert!(!e.message.contains("did you mean"), "{e}");
    for (src, want) in [
        (
            "voice(\"b\", #{ synth: \"sqare\" });",
            "did you mean `square`?",
        ),
        (
            "voice(\"b\", #{ synth: \"saw\", gian: 1.0 });",
            "did you mean `gain`?",
        ),
        (
            "let s = scale(\"C4\", \"dorain\");",
            "did you mean `dorian`?",
        ),
        ("let c = chord(\"C4\", \"mjor\");", "did you mean `major`?"),
    ] {
        let e = load(src).unwrap_err();
        assert!(e.message.contains(want), "{src}: {e}");
    }
}

#[test]
fn top_level_prints_carry_their_line_once() {
    let src = "print(\"a\");\nlet x = 2;\nprint(x);\nprint([1, 2]);\nprint();\n\
               fn on_start() { print(\"start\"); }\n\
               fn on_bar(bar) { print(`bar ${bar}`); }";
    let mut p = load(src).unwrap();
    p.start().unwrap();
    assert_eq!(
        p.take_prints(),
        [
            (1, "a".to_string()),
            (3, "2".to_string()),
            (4, "[1, 2]".to_string()),
            (5, String::new()),
            (6, "start".to_string()),
        ]
    );
    assert!(p.take_prints().is_empty(), "taken once");
    assert_eq!(
        p.plan_bar(0, &mut NoModels).unwrap().prints,
        [(7, "bar 0".to_string())]
    );
    assert_eq!(p.place(7), "t.rhai:7");
    assert_eq!(p.place(0), "t.rhai");
}

#[test]
fn echo_copies_play_at_feedback_power_gain() {
    // Copy i of `echo(3, 0.25, 0.5)` has gain 0.5^i: velocity × √gain, so the synths'
    // amplitude (∝ velocity²) falls by 0.5 per copy; a feedback of 0 silences the copies.
    let mut p = load(
        "voice(\"e\", #{ synth: \"pluck\", vel: 1.0 }).pattern(\"c4 ~ ~ ~\").echo(3, 0.25, 0.5);",
    )
    .unwrap();
    let plan = p.plan_bar(0, &mut NoModels).unwrap();
    let mut notes: Vec<(u64, u8)> = plan.notes.iter().map(|n| (n.start, n.vel)).collect();
    notes.sort();
    let vels: Vec<u8> = notes.iter().map(|n| n.1).collect();
    assert_eq!(vels, vec![127, 90, 64], "{notes:?}");
    assert!(notes.windows(2).all(|w| w[0].0 < w[1].0), "{notes:?}");
    let mut p =
        load("voice(\"e\", #{ synth: \"pluck\" }).pattern(\"c4 ~ ~ ~\").echo(3, 0.25, 0.0);")
            .unwrap();
    assert_eq!(p.plan_bar(0, &mut NoModels).unwrap().notes.len(), 1);
}

#[test]
fn a_signal_param_in_on_features_starts_a_control_stream_that_a_number_ends() {
    let src = "voice(\"b\", #{ synth: \"saw\" }).pattern(\"a2*4\");\n\
               fn on_features(f) {\n\
                 if f.rms > 0.5 { param(\"b.cutoff\", sine.slow(4).range(300, 3000)); }\n\
                 else { param(\"b.cutoff\", 800.0); }\n\
               }\n";
    let mut p = load(src).unwrap();
    let controls = |p: &mut Patch, bar| {
        p.plan_bar(bar, &mut NoModels).unwrap().voices[0]
            .controls
            .clone()
    };
    assert!(controls(&mut p, 0).is_empty());
    let mut loud = rhai::Map::new();
    loud.insert("rms".into(), rhai::Dynamic::from(0.9_f64));
    p.on_features(loud).unwrap();
    let c = controls(&mut p, 1);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].0, Param::Cutoff);
    // It lasts: the next bars keep it without another frame.
    assert_eq!(controls(&mut p, 2).len(), 1);
    let mut quiet = rhai::Map::new();
    quiet.insert("rms".into(), rhai::Dynamic::from(0.1_f64));
    let params = p.on_features(quiet).unwrap();
    assert_eq!(params, vec![("b".to_string(), Param::Cutoff, 800.0)]);
    assert!(controls(&mut p, 3).is_empty());
}
