//! On stage (issue #15): a thread of the engine that dies, or a tempo that is not a number,
//! never ends a session silently. The take is finished, the performer is told what died, and
//! the exit code says it failed.

use std::path::Path;
use std::process::{Command, Output};

fn weft(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weft"));
    c.args(args).current_dir(dir).env_remove("WEFT_FAULT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn patches(dir: &Path) {
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(
        scripts.join("a.rhai"),
        "voice(\"b\", #{ synth: \"saw\" }).notes(scale(\"A2\", \"minor\"), euclid(5, 8));\n",
    )
    .unwrap();
}

#[test]
fn play_rejects_a_tempo_that_is_not_a_number() {
    let dir = tempfile::tempdir().unwrap();
    patches(dir.path());
    for bad in ["NaN", "inf", "-5", "0", "1e9"] {
        let tempo = format!("--tempo={bad}");
        let out = weft(
            &[
                "play",
                "--headless",
                "--null-audio",
                "--bars",
                "1",
                &tempo,
                "scripts",
            ],
            dir.path(),
            &[],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--tempo {bad} accepted: {err}");
        assert!(err.contains("--tempo"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_dying_scheduler_finishes_the_take_says_so_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    patches(dir.path());
    let out = weft(
        &[
            "play",
            "--headless",
            "--null-audio",
            "--tempo",
            "400",
            "--bars",
            "8",
            "--record",
            "take.mid",
            "--record-dir",
            "rec",
            "scripts",
        ],
        dir.path(),
        &[("WEFT_FAULT", "scheduler-panic@2")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "exit 0 after the scheduler died: {err}"
    );
    assert!(err.contains("scheduler thread died"), "{err}");
    assert!(err.contains("injected fault"), "{err}");
    // The take up to the fault is a complete MIDI file, and no journal is left behind.
    let bytes = std::fs::read(dir.path().join("take.mid")).expect("the take was written");
    let back = weft::smf::read(&bytes, "take.mid").unwrap();
    assert!(back.problems.is_empty(), "{:?}", back.problems);
    assert!(
        !back.notes.is_empty(),
        "the bars before the fault were kept"
    );
    let journals = weft::record::find_journals(dir.path());
    assert!(journals.is_empty(), "{journals:?}");
}

#[test]
fn a_panic_while_loading_rejects_that_save_and_the_rest_plays() {
    let dir = tempfile::tempdir().unwrap();
    patches(dir.path());
    std::fs::write(
        dir.path().join("scripts/b.rhai"),
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x ~ x ~\");\n",
    )
    .unwrap();
    let out = weft(
        &[
            "play",
            "--headless",
            "--null-audio",
            "--tempo",
            "400",
            "--bars",
            "2",
            "--record",
            "take.mid",
            "--record-dir",
            "rec",
            "scripts",
        ],
        dir.path(),
        &[("WEFT_FAULT", "compile-panic@b.rhai")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("b.rhai") && err.contains("internal error"),
        "{err}"
    );
    let back = weft::smf::read(&std::fs::read(dir.path().join("take.mid")).unwrap(), "t").unwrap();
    assert!(
        back.notes.iter().any(|n| n.track.starts_with("a.")),
        "a.rhai played"
    );
    assert!(
        !back.notes.iter().any(|n| n.track.starts_with("b.")),
        "b.rhai never loaded"
    );
}
