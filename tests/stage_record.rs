//! Issue 15, "the take is never lost, files are never clobbered", through the real binary:
//! a live journal survives another weft's recovery, render never writes over its inputs or
//! non-MIDI files, a taken `--record` name moves to the next free one, long renders keep exact
//! times, CLI sizes are bounded, and a voice whose model is missing fails the render.

use std::path::Path;
use std::process::{Command, Output};
use weft::engine::transport::TimeSig;
use weft::record::{journal_path, RecordMsg, RecordOptions, Recorder};

fn weft() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weft"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn patch(dir: &Path, name: &str, src: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, src).unwrap();
    p
}

#[test]
fn a_journal_in_use_is_left_alone_by_recover_and_by_a_second_play() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    // This process plays the first weft: its recorder holds the journal open and locked.
    let r = Recorder::start(RecordOptions {
        target: rec.join("a.mid"),
        time_sig: TimeSig::default(),
        provenance: vec!["first weft".into()],
        slow_disk: None,
    })
    .unwrap();
    r.send(RecordMsg::Tempo(0, 120.0));
    let j = journal_path(&r.target);
    while !std::fs::read_to_string(&j).unwrap().contains("\nP 0 120") {
        std::thread::yield_now();
    }
    let before = std::fs::read(&j).unwrap();

    let o = weft().arg("recover").arg(&j).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("in use by another weft; left alone"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&j).unwrap(), before, "journal intact");
    assert!(!rec.join("a.mid").exists());

    // A second instance recording into the same folder recovers only dead journals.
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    patch(
        &scripts,
        "k.rhai",
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x\");\n",
    );
    let o = weft()
        .args(["play", "--headless", "--null-audio", "--tempo", "400"])
        .args(["--bars", "1", "--record"])
        .arg(rec.join("b.mid"))
        .arg("--record-dir")
        .arg(&rec)
        .arg(&scripts)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("left alone"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&j).unwrap(), before, "journal intact");
    assert!(rec.join("b.mid").exists(), "{}", stderr(&o));

    // The first weft finishes its take as if nothing happened.
    let f = r.finish(960).unwrap();
    assert_eq!(f.path, rec.join("a.mid"));
    assert!(!j.exists());
}

#[test]
fn render_never_writes_over_an_input_or_a_file_that_is_not_midi() {
    let dir = tempfile::tempdir().unwrap();
    let src = "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x ~ x ~\");\n";
    let p = patch(dir.path(), "p.rhai", src);
    let notes = patch(dir.path(), "notes.txt", "my notes\n");
    for (out, needle) in [(&p, "is also an input"), (&notes, "not a MIDI file")] {
        let o = weft()
            .arg("render")
            .arg(&p)
            .arg("-o")
            .arg(out)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("weft: ") && err.contains(needle), "{err}");
    }
    // The same file by another spelling is still an input.
    let other = dir.path().join(".").join("p.rhai");
    let o = weft()
        .arg("render")
        .arg(&p)
        .arg("-o")
        .arg(&other)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", stderr(&o));
    // --wav over an input is refused too.
    let o = weft()
        .arg("render")
        .arg(&p)
        .arg("--wav")
        .arg(&p)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), src);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    // An existing MIDI file is replaced as before, and no temporary file stays behind.
    let mid = dir.path().join("out.mid");
    for _ in 0..2 {
        let o = weft()
            .arg("render")
            .arg(&p)
            .arg("-o")
            .arg(&mid)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["notes.txt", "out.mid", "p.rhai"]);
}

#[test]
fn a_taken_record_name_moves_to_the_next_free_one_and_a_bad_folder_stops_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    patch(
        &scripts,
        "k.rhai",
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x\");\n",
    );
    let take = dir.path().join("take.mid");
    std::fs::write(&take, b"an earlier take").unwrap();
    // A dead journal of take-2.mid: the auto-recover turns it into take-2.mid first.
    let dead = dir.path().join("take-2.mid.weftjournal");
    let mut j = String::new();
    for text in ["H weft-journal 1 4 4", "T 0 9 - k.k", "N 0 0 9 36 100"] {
        j.push_str(&format!(
            "{text} ~{:016x}\n",
            weft::patch::fnv1a(&[text.as_bytes()])
        ));
    }
    std::fs::write(&dead, j).unwrap();
    let play = |target: &Path| {
        weft()
            .args(["play", "--headless", "--null-audio", "--tempo", "400"])
            .args(["--bars", "1", "--record"])
            .arg(target)
            .arg("--record-dir")
            .arg(dir.path().join("rec"))
            .arg(&scripts)
            .output()
            .unwrap()
    };
    let o = play(&take);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("take-3.mid"), "{err}");
    assert_eq!(std::fs::read(&take).unwrap(), b"an earlier take");
    assert!(!dead.exists());
    let recovered =
        weft::record::smf::read(&std::fs::read(dir.path().join("take-2.mid")).unwrap(), "2");
    assert_eq!(recovered.unwrap().notes.len(), 1);
    let rb = weft::record::smf::read(&std::fs::read(dir.path().join("take-3.mid")).unwrap(), "3");
    assert!(!rb.unwrap().notes.is_empty(), "{err}");

    // A folder that cannot exist: a clear error before any music, non-zero exit.
    let blocker = patch(dir.path(), "blocker", "x");
    let o = play(&blocker.join("take.mid"));
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("cannot record here"), "{err}");
    assert!(
        !err.contains("audio:"),
        "stopped before the music started: {err}"
    );
}

#[test]
fn a_render_past_two_to_the_28_ticks_keeps_exact_times() {
    let dir = tempfile::tempdir().unwrap();
    let p = patch(
        dir.path(),
        "sparse.rhai",
        "tempo(400);\nvoice(\"k\", #{ synth: \"kick\" }).pattern(\"x ~ ~ ~\");\n",
    );
    let out = dir.path().join("long.mid");
    let o = weft()
        .arg("render")
        .arg(&p)
        .args(["--bars", "70000", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    let smf = midly::Smf::parse(&bytes).unwrap();
    for track in &smf.tracks {
        let end: u64 = track.iter().map(|e| e.delta.as_int() as u64).sum();
        assert_eq!(end, 268_800_000, "End of Track at the end of bar 70,000");
    }
    let rb = weft::record::smf::read(&bytes, "long.mid").unwrap();
    assert_eq!(rb.notes.len(), 70_000);
    assert_eq!(rb.notes.last().unwrap().start, 69_999 * 3840);
}

#[test]
fn cli_sizes_are_bounded_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = patch(
        dir.path(),
        "k.rhai",
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x\");\n",
    );
    let o = weft()
        .arg("render")
        .arg(&p)
        .args(["--bars", "10000000", "-o"])
        .arg(dir.path().join("x.mid"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--bars 10000000 is more than 100000"),
        "{}",
        stderr(&o)
    );
    let o = weft()
        .arg("check")
        .arg(&p)
        .args(["--bars", "0"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--bars"), "{}", stderr(&o));
    let o = weft()
        .arg("check")
        .arg(&p)
        .args(["--bars", "100001"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", stderr(&o));
    let help = weft().args(["render", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("1 to 100000"));
}

#[test]
fn a_render_whose_model_is_missing_fails_with_the_model_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = patch(
        dir.path(),
        "nomodel.rhai",
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x x x x\");\nvoice(\"l\", #{}).lstm(#{ model: \"nope\" });\n",
    );
    let out = dir.path().join("n.mid");
    let o = weft()
        .arg("render")
        .arg(&p)
        .args(["--bars", "4", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("weft: ") && err.contains("nomodel.rhai:"),
        "{err}"
    );
    assert!(err.contains("nope"), "{err}");
    // At the `.lstm(...)` call that names the model, not at 1:1.
    assert!(err.contains("nomodel.rhai:2:17:"), "{err}");
    assert!(!out.exists(), "no file from a failed render");
}
