//! `weft play --headless` on a machine without a sound card: it says once what it tried and
//! what it does instead, keeps time on the null sink, and records what it played — the same
//! notes `weft render` writes for the same patch, seed and tempo.

use std::process::Command;

#[test]
fn headless_without_a_device_falls_back_and_records_what_render_writes() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    let src = "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x ~ x x?\");\nvoice(\"b\", #{ synth: \"saw\" }).notes(scale(\"A1\", \"minor\"), euclid(5, 8));\n";
    std::fs::write(scripts.join("a.rhai"), src).unwrap();
    let rec = dir.path().join("live.mid");
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "play",
            "--headless",
            "--tempo",
            "240",
            "--bars",
            "3",
            "--seed",
            "5",
            "--record",
        ])
        .arg(&rec)
        .args(["--record-dir"])
        .arg(dir.path().join("rec"))
        .arg(&scripts)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // Either a real device played, or the fallback was announced exactly once.
    let fallback = err.lines().filter(|l| l.contains("null sink")).count();
    assert!(fallback >= 1, "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("could not open"))
            .count()
            .min(1),
        err.lines().filter(|l| l.contains("could not open")).count(),
        "{err}"
    );

    let rendered = dir.path().join("render.mid");
    let o = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "render", "--tempo", "240", "--bars", "3", "--seed", "5", "-o",
        ])
        .arg(&rendered)
        .arg(scripts.join("a.rhai"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = weft::record::smf::read(&std::fs::read(&rec).unwrap(), "live.mid").unwrap();
    let b = weft::record::smf::read(&std::fs::read(&rendered).unwrap(), "render.mid").unwrap();
    let notes = |r: &weft::record::smf::ReadBack| -> Vec<(String, u8, u8, u64, u64)> {
        r.notes
            .iter()
            .map(|n| (n.track.clone(), n.channel, n.key, n.start, n.end))
            .collect()
    };
    assert!(a.problems.is_empty() && b.problems.is_empty());
    assert!(!b.notes.is_empty());
    assert_eq!(notes(&a), notes(&b), "what was heard is what render writes");
    let sessions = std::fs::read_to_string(dir.path().join("rec").join("sessions.jsonl")).unwrap();
    assert_eq!(sessions.lines().count(), 1);
}
