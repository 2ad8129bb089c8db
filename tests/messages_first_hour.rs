//! The messages a performer meets in the first hour (issue #21, "Messages"): paths relative
//! to the current directory, where an unclosed `(` opened, "did you mean", top-level
//! `print()` in `check` and `render`, bar numbers, long errors wrapped in the messages pane,
//! the error badge after a fix, and a runtime error shown as such in the patches pane.

mod tui_fixtures;

use insta::assert_snapshot;
use std::path::Path;
use std::process::Command;
use tui_fixtures::busy;
use weft::engine::live::{Report, Status};
use weft::engine::scheduler::Notice;
use weft::patch::PatchError;
use weft::tui::{App, AppEvent, Level, Pane, PatchState, PatchView, Theme};

fn weft(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run weft");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, src: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, src).unwrap();
    p
}

#[test]
fn check_prints_relative_paths_the_open_paren_and_the_nearest_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bass = write(
        root,
        "scripts/bass.rhai",
        "tempo(120);\nlet v = voice(\"bass\", #{ synth: \"saw\" });\n\n\
         v.pattern(\"x ~ x ~\")\n  .gain(0.5\n  .transpose(0);\n",
    );
    // Given as an absolute path inside the current directory: printed relative.
    let (ok, out, _) = weft(root, &["check", bass.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.starts_with("scripts/bass.rhai:6:"),
        "relative, as compilers print it: {out}"
    );
    assert!(out.contains("unclosed '(' opened at 5:8"), "{out}");
    // Outside the current directory: absolute.
    let elsewhere = tempfile::tempdir().unwrap();
    let (_, out, _) = weft(elsewhere.path(), &["check", bass.to_str().unwrap()]);
    assert!(out.starts_with(bass.to_str().unwrap()), "{out}");

    write(
        root,
        "scripts/typo.rhai",
        "let v = voice(\"lead\", #{ synth: \"saw\" });\nv.patern(\"x ~\");\n",
    );
    let (_, out, _) = weft(root, &["check", "scripts/typo.rhai"]);
    assert!(
        out.starts_with("scripts/typo.rhai:2:3: Function not found: patern"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("did you mean `pattern`?"), "{out}");

    write(
        root,
        "scripts/synth.rhai",
        "voice(\"lead\", #{ synth: \"sqare\" });\n",
    );
    let (_, out, _) = weft(root, &["check", "scripts/synth.rhai"]);
    assert!(out.contains("did you mean `square`?"), "{out}");
}

#[test]
fn top_level_prints_show_once_with_file_and_line_in_check_and_render() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "scripts/hello.rhai",
        "print(\"hello from the top\");\nvoice(\"k\", #{ synth: \"kick\" }).pattern(\"x ~\");\n\
         fn on_bar(bar) { if bar == 1 { print(`on_bar ${bar}`); } }\n",
    );
    let (ok, _, err) = weft(root, &["check", "scripts/hello.rhai"]);
    assert!(ok, "{err}");
    assert_eq!(
        err.matches("scripts/hello.rhai:1: hello from the top")
            .count(),
        1,
        "{err}"
    );
    let (ok, _, err) = weft(
        root,
        &[
            "render",
            "scripts/hello.rhai",
            "--bars",
            "3",
            "-o",
            "out.mid",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        err.matches("scripts/hello.rhai:1: hello from the top")
            .count(),
        1,
        "once per load, not once per bar: {err}"
    );
    // on_bar(1) is the second bar: counted from 0 in the script, as documented.
    assert_eq!(
        err.matches("scripts/hello.rhai:3 (bar 2): on_bar 1")
            .count(),
        1,
        "{err}"
    );
}

fn long_error() -> String {
    "scripts/bass.rhai:7:35: Expecting ',' to separate the arguments to function call 'gain'; \
     unclosed '(' opened at 5:12"
        .to_string()
}

fn app_with(patches: Vec<PatchView>, messages: &[(Level, String)]) -> App {
    let mut snap = busy();
    snap.patches = patches;
    let mut app = App::new(Theme::new(false));
    app.handle(AppEvent::Snapshot(Box::new(snap)));
    for (level, text) in messages {
        app.handle(AppEvent::Message(*level, text.clone()));
    }
    app
}

fn bass(state: PatchState) -> PatchView {
    PatchView {
        file: "bass.rhai".into(),
        state,
        last_reload_ms: None,
    }
}

#[test]
fn long_errors_wrap_in_the_messages_pane() {
    let mut app = app_with(
        vec![bass(PatchState::Error {
            line: 7,
            col: 35,
            message: "Expecting ','".into(),
            last_good_playing: true,
        })],
        &[
            (Level::Info, "watching scripts/ (1 patch)".into()),
            (Level::Error, long_error()),
        ],
    );
    let pane = app.render_pane_to_string(Pane::Messages, 40, 8);
    // Every word of the error is on screen.
    let shown: String = pane.split_whitespace().collect::<Vec<_>>().join(" ");
    for word in long_error().split(' ') {
        assert!(shown.contains(word), "{word} missing:\n{pane}");
    }
    assert_snapshot!("messages_long_error_80x24", app.render_to_string(80, 24));
}

#[test]
fn the_error_badge_goes_when_the_file_is_fixed() {
    let messages = [(Level::Error, long_error())];
    let mut failing = app_with(
        vec![bass(PatchState::Error {
            line: 7,
            col: 35,
            message: "Expecting ','".into(),
            last_good_playing: true,
        })],
        &messages,
    );
    let text = failing.render_to_string(160, 48);
    assert!(text.contains(" 1 error "), "{text}");
    let mut fixed = app_with(vec![bass(PatchState::Playing)], &messages);
    let text = fixed.render_to_string(160, 48);
    assert!(!text.contains(" 1 error "), "{text}");
    // The line stays readable, tagged as fixed.
    let pane = fixed.render_pane_to_string(Pane::Messages, 100, 4);
    assert!(pane.contains("fixed scripts/bass.rhai:7:35"), "{pane}");
}

fn status_playing(file: &str) -> Status {
    let mut s = Status::default();
    s.files.push(weft::engine::live::FileStatus {
        file: file.into(),
        version: 1,
        playing: true,
        pending_bar: None,
        error: None,
        last_reload_ms: None,
    });
    s
}

#[test]
fn a_runtime_error_in_on_bar_is_not_shown_as_playing() {
    use weft::tui::bridge::{snapshot_with, AudioFacts, PaneSources, RuntimeErrors};
    let s = status_playing("bass.rhai");
    let mut runtime = RuntimeErrors::default();
    let state = |runtime: &RuntimeErrors| {
        snapshot_with(
            &s,
            &AudioFacts::default(),
            &PaneSources::default(),
            &[],
            runtime,
        )
        .patches[0]
            .state
            .clone()
    };
    assert_eq!(state(&runtime), PatchState::Playing);
    runtime.note(&Report::Notice(Notice::RuntimeError {
        error: PatchError {
            path: "/tmp/x/scripts/bass.rhai".into(),
            line: 4,
            col: 9,
            message: "Variable not found: cutof".into(),
        },
        bar: 11,
    }));
    let failing = state(&runtime);
    assert_eq!(
        failing,
        PatchState::RuntimeError {
            line: 4,
            col: 9,
            message: "Variable not found: cutof".into(),
            bar: 12,
        },
        "bar 12 as the transport counts (on_bar(11))"
    );
    let mut app = app_with(vec![bass(failing)], &[]);
    let pane = app.render_pane_to_string(Pane::Patches, 100, 4);
    assert!(pane.contains("runtime error 4:9"), "{pane}");
    assert!(!pane.contains("playing"), "{pane}");
    assert!(
        app.render_to_string(160, 48).contains(" 1 failing "),
        "the patches badge counts it"
    );
    runtime.note(&Report::Notice(Notice::Recovered {
        file: "bass.rhai".into(),
        bar: 13,
    }));
    assert_eq!(state(&runtime), PatchState::Playing);
}

#[test]
fn headless_play_shows_top_level_prints_once_and_bars_from_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "scripts/hello.rhai",
        "print(\"hello from the top\");\nvoice(\"k\", #{ synth: \"kick\" }).pattern(\"x ~\");\n\
         fn on_bar(bar) { if bar == 0 { print(`on_bar ${bar}`); } }\n",
    );
    let (ok, _, err) = weft(
        root,
        &[
            "play",
            "--headless",
            "--tempo",
            "400",
            "--bars",
            "2",
            "scripts",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        err.matches("scripts/hello.rhai:1: hello from the top")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("hello.rhai: playing from bar 1"), "{err}");
    assert!(
        err.contains("scripts/hello.rhai:3 (bar 1): on_bar 0"),
        "the first bar is bar 1 on screen, on_bar(0) in the script: {err}"
    );
}
