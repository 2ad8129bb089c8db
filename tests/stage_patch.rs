//! Issue #15, what a patch can do to the engine: no blocking function reachable from Rhai
//! (the engine's whole function list against a committed allow-list), one evaluation's
//! allocation bounded by the counting allocator, and the CLI's `check` neither hanging on
//! mini-notation bombs nor on `sleep`.

use std::path::Path;
use std::process::Command;
use weft::patch::{engine_functions, Limits, LoadOptions, Patch};

// What the binary installs too, so allocation budgets are measured the same way here.
#[global_allocator]
static ALLOC: weft::alloc_meter::CountingAlloc = weft::alloc_meter::CountingAlloc;

const ALLOW_LIST: &str = "tests/fixtures/patch_functions.txt";

/// Names that must never be callable from a patch: they block, read the clock, exit, or
/// reach outside the process.
const FORBIDDEN: &[&str] = &[
    "sleep",
    "timestamp",
    "elapsed",
    "exit",
    "parse_json",
    "eval",
    "import",
    "print_to",
    "read",
    "write",
    "open",
    "spawn",
    "wait",
];

fn fn_name(sig: &str) -> &str {
    let s = sig.strip_prefix("fn ").unwrap_or(sig);
    let s = s
        .strip_prefix("get$")
        .or(s.strip_prefix("set$"))
        .unwrap_or(s);
    s.split('(').next().unwrap_or(s).trim()
}

#[test]
fn engine_functions_match_the_allow_list() {
    let got = engine_functions();
    for sig in &got {
        let name = fn_name(sig);
        assert!(
            !FORBIDDEN.contains(&name),
            "forbidden function reachable from patches: {sig}"
        );
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(ALLOW_LIST);
    let allowed: Vec<String> = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let new: Vec<&String> = got.iter().filter(|s| !allowed.contains(s)).collect();
    let gone: Vec<&String> = allowed.iter().filter(|s| !got.contains(s)).collect();
    if std::env::var_os("WEFT_BLESS_FUNCTIONS").is_some() {
        let mut text = String::from(
            "# Every function a patch may call (tests/stage_patch.rs). Review each new one:\n\
             # nothing that blocks, sleeps, reads the clock, exits or does I/O.\n",
        );
        for s in &got {
            text.push_str(s);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        return;
    }
    assert!(
        new.is_empty() && gone.is_empty(),
        "the patch engine's functions changed.\nnew (review, then add to {ALLOW_LIST}):\n{}\ngone:\n{}",
        new.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
        gone.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
    );
}

#[test]
fn rhai_size_limits_are_per_value_not_per_evaluation() {
    // What Rhai's own limits check: the total string bytes inside ONE value (recursively)…
    let e = Patch::load(
        Path::new("t.rhai"),
        "let s = \"x\"; s.pad(30000, \"x\"); let a = []; for i in 0..4 { a.push(s); }",
        LoadOptions::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("grew past its limit"), "{e}");
    // …but a map assigned into key by key is not re-measured, and separate values are never
    // summed: without the allocation budget this loop grew to ~650 MB before the deadline.
    let opts = LoadOptions {
        limits: Limits {
            max_alloc_bytes: 48 << 20,
            top_level_deadline: std::time::Duration::from_secs(600),
            ..Limits::default()
        },
        ..LoadOptions::default()
    };
    let src = "let s = \"x\"; s.pad(60000, \"x\");\nlet m = #{}; for i in 0..10000000 { m[\"k\" + i] = s + i; }";
    let e = Patch::load(Path::new("t.rhai"), src, opts).unwrap_err();
    assert_eq!(
        e.message, "stopped: allocated more than 48 MB (runaway allocation?)",
        "{e}"
    );
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn allocation_budget_applies_to_callbacks() {
    let opts = LoadOptions {
        limits: Limits {
            max_alloc_bytes: 32 << 20,
            callback_deadline: std::time::Duration::from_secs(600),
            ..Limits::default()
        },
        ..LoadOptions::default()
    };
    let src = "fn on_bar(b) {\n    let s = \"y\"; s.pad(60000, \"y\"); let m = #{};\n    for i in 0..10000000 { m[\"k\" + i] = s + i; }\n}";
    let mut p = Patch::load(Path::new("t.rhai"), src, opts.clone()).unwrap();
    let e = p.plan_bar(0, &mut weft::patch::NoModels).unwrap_err();
    assert_eq!(
        e.message, "stopped: allocated more than 32 MB (runaway allocation?)",
        "{e}"
    );
    assert!(e.line >= 1 && e.line <= 3, "{e}");
    // A normal patch is far below the budget (with the same long deadline: on a loaded
    // machine a debug build can spend more than the default 20 ms on this callback, and the
    // deadline is not what this test is about).
    let mut p = Patch::load(
        Path::new("t.rhai"),
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x*16\");\nfn on_bar(b) { let a = []; for i in 0..1000 { a.push(i); } }",
        opts,
    )
    .unwrap();
    for b in 0..8 {
        p.plan_bar(b, &mut weft::patch::NoModels).unwrap();
    }
}

fn weft_check(src: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.rhai");
    std::fs::write(&p, src).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("check")
        .arg(&p)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn check_rejects_sleep_and_mini_notation_bombs_instead_of_hanging() {
    let (ok, out) = weft_check("sleep(1000000.0);\n");
    assert!(!ok, "{out}");
    assert!(out.contains("p.rhai:1:"), "{out}");
    let (ok, out) = weft_check("sleep(1e30);\n");
    assert!(!ok && !out.contains("panicked"), "{out}");
    let (ok, out) =
        weft_check("voice(\"h\", #{ synth: \"hat\" }).pattern(\"~*64*64*64*64*64*64*64*64\");\n");
    assert!(!ok, "{out}");
    assert!(out.contains("limit is 4096"), "{out}");
    let mut pat = "x".to_string();
    for _ in 0..8 {
        pat = format!("[{pat} {}]", vec!["~"; 255].join(" "));
    }
    let (ok, out) = weft_check(&format!(
        "let a = 1;\nvoice(\"h\", #{{ synth: \"hat\" }}).pattern(\"{pat}\");\n"
    ));
    assert!(!ok && !out.contains("panicked"), "{out}");
    assert!(out.contains("p.rhai:2:"), "{out}");
}
