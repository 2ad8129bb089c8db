//! The command line as a new user meets it (issue #21): refusals instead of silently ignored
//! flags, aligned tables.

use std::process::Command;

fn weft(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run weft")
}

#[test]
fn user_with_eval_is_refused_not_ignored() {
    let o = weft(&[
        "recommend",
        "--logs",
        "samples/logs",
        "--eval",
        "--user",
        "x",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--user") && err.contains("--eval") && err.contains("cannot be used"),
        "{err}"
    );
}

#[test]
fn logs_check_prints_aligned_columns() {
    let o = weft(&["logs", "check", "--logs", "samples/logs"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<&str> = out.lines().filter(|l| l.contains(" rows  ")).collect();
    assert!(rows.len() > 5, "{out}");
    let at: Vec<usize> = rows.iter().map(|l| l.find(" rows  ").unwrap()).collect();
    assert!(
        at.iter().all(|&a| a == at[0]),
        "columns differ: {at:?}\n{out}"
    );
}

/// An error says its file and its cause once each (anyhow's `{:#}` printed the cause twice
/// when it was both in the message and the `source()`).
#[test]
fn errors_say_their_file_and_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let missing = missing.to_str().unwrap();
    let out = dir.path().join("model");
    let o = weft(&["train", "--midi", missing, "-o", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    assert_eq!(err.matches(missing).count(), 1, "{err}");

    let journal = format!("{missing}.weftjournal");
    let o = weft(&["recover", &journal]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.matches(&journal).count(), 1, "{err}");
}

#[test]
fn an_unknown_sync_source_is_refused_before_anything_starts() {
    let o = weft(&[
        "play",
        "--headless",
        "--null-audio",
        "--sync",
        "midi-ish",
        "scripts",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--sync midi-ish: unknown source"), "{err}");
}
