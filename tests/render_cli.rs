//! End-to-end tests of `weft render` and `weft check` through the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use weft::record::smf;

fn weft() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weft"))
}

fn scripts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
            .collect();
    v.sort();
    v
}

fn render(patches: &[&Path], bars: u64, extra: &[&str], out: &Path) -> std::process::Output {
    let mut c = weft();
    c.arg("render");
    for p in patches {
        c.arg(p);
    }
    c.args(["--bars", &bars.to_string(), "-o"])
        .arg(out)
        .args(extra);
    c.output().unwrap()
}

#[test]
fn every_example_patch_checks_and_renders_to_valid_midi() {
    let dir = tempfile::tempdir().unwrap();
    let all = scripts();
    assert!(all.len() >= 3);
    for p in &all {
        let out = weft().arg("check").arg(p).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stdout)
        );
        let mid = dir.path().join("x.mid");
        let _ = std::fs::remove_file(&mid);
        let o = render(&[p], 8, &[], &mid);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let rb = smf::read(&std::fs::read(&mid).unwrap(), "x.mid").unwrap();
        assert_eq!(rb.tpq, 960);
        assert_eq!(rb.format, "Parallel");
        let listens_only = std::fs::read_to_string(p)
            .unwrap()
            .contains("fn on_features");
        assert!(
            listens_only || !rb.notes.is_empty(),
            "{} rendered no notes",
            p.display()
        );
        assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    }
}

#[test]
fn known_patch_renders_exact_notes_at_exact_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("known.rhai");
    std::fs::write(
        &p,
        r#"tempo(100);
voice("kick", #{ synth: "kick" }).pattern("x ~ x ~");
voice("bass", #{ synth: "saw", channel: 2 }).notes(scale("C2", "major"), euclid(3, 8)).gate(0.5);
"#,
    )
    .unwrap();
    let mid = dir.path().join("k.mid");
    let o = render(&[&p], 2, &[], &mid);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rb = smf::read(&std::fs::read(&mid).unwrap(), "k.mid").unwrap();
    let got: Vec<(String, u8, u8, u64, u64)> = rb
        .notes
        .iter()
        .map(|n| (n.track.clone(), n.channel, n.key, n.start, n.end))
        .collect();
    let k = |t: u64| ("known.kick".to_string(), 9u8, 36u8, t, t + 864);
    // Euclid E(3,8): steps 0, 3, 6 of 480 ticks; gate 0.5 of one step = 240 ticks.
    let b = |key: u8, t: u64| ("known.bass".to_string(), 1u8, key, t, t + 240);
    let mut want = vec![
        k(0),
        b(36, 0),
        b(38, 1440),
        k(1920),
        b(40, 2880),
        k(3840),
        b(41, 3840),
        b(43, 3840 + 1440),
        k(5760),
        b(45, 3840 + 2880),
    ];
    want.sort_by(|a, b| (a.3, &a.0, a.2).cmp(&(b.3, &b.0, b.2)));
    assert_eq!(got, want);
    assert_eq!(rb.tempo, vec![(0, 600_000)]);
    assert!(rb.track_names.contains(&"known.kick".to_string()));
    assert!(rb.texts.iter().any(|t| t.starts_with("weft ")));
}

#[test]
fn rendering_twice_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let all = scripts();
    let refs: Vec<&Path> = all.iter().map(|p| p.as_path()).collect();
    let a = dir.path().join("a.mid");
    let b = dir.path().join("b.mid");
    assert!(render(&refs, 16, &["--seed", "7"], &a).status.success());
    assert!(render(&refs, 16, &["--seed", "7"], &b).status.success());
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let c = dir.path().join("c.mid");
    assert!(render(&refs, 16, &["--seed", "8"], &c).status.success());
    assert_ne!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&c).unwrap(),
        "the seed matters"
    );
}

/// The same file renders the same notes wherever it lives and however its path is spelled:
/// its randomness is seeded by the seed and the file's name, not by the folder it sits in
/// (a copy in another folder, a relative and an absolute path all gave different takes).
#[test]
fn the_same_patch_renders_the_same_bytes_from_any_folder_or_path_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let src = "voice(\"hat\", #{ synth: \"hat\" }).pattern(\"x*16\").prob(0.5);\n\
               voice(\"b\", #{ synth: \"saw\" }).pattern(\"a2 [c3|e3|g3] b2? d3\");\n";
    let mut outs = Vec::new();
    for (i, sub) in ["one", "two/deeper"].iter().enumerate() {
        let folder = dir.path().join(sub);
        std::fs::create_dir_all(&folder).unwrap();
        let patch = folder.join("rand.rhai");
        std::fs::write(&patch, src).unwrap();
        let abs = dir.path().join(format!("abs{i}.mid"));
        assert!(render(&[&patch], 16, &["--seed", "3"], &abs)
            .status
            .success());
        outs.push(std::fs::read(&abs).unwrap());
        // The same file named relative to the current folder.
        let rel = dir.path().join(format!("rel{i}.mid"));
        let st = weft()
            .current_dir(&folder)
            .args(["render", "rand.rhai", "--bars", "16", "--seed", "3", "-o"])
            .arg(&rel)
            .status()
            .unwrap();
        assert!(st.success());
        outs.push(std::fs::read(&rel).unwrap());
    }
    for o in &outs[1..] {
        assert_eq!(o, &outs[0]);
    }
}

#[test]
fn broken_patches_fail_check_quickly_with_a_location() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "syntax.rhai",
            "tempo(120);\nvoice(\"a\", #{}).pattern(\"x\"\n",
            3,
        ),
        (
            "throws.rhai",
            "tempo(120);\nfn on_bar(b) {\n  throw \"no\";\n}\n",
            3,
        ),
        ("loop.rhai", "tempo(120);\nloop {}\n", 2),
        (
            "alloc.rhai",
            "let a = [];\nfor i in 0..1000000000 { a.push(i); }\n",
            2,
        ),
        ("recurse.rhai", "fn f(n) { f(n + 1) }\nf(0);\n", 2),
    ];
    for (name, src, line) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, src).unwrap();
        let t = Instant::now();
        let out = weft().arg("check").arg(&p).output().unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{name} took {:?}",
            t.elapsed()
        );
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let prefix = format!("{}:{line}:", p.display());
        assert!(stdout.starts_with(&prefix), "{name}: {stdout}");
        assert_eq!(stdout.lines().count(), 1, "{name}: {stdout}");
    }
}

#[test]
fn render_input_errors_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = &scripts()[0];
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "render".into(),
                "missing.rhai".into(),
                "-o".into(),
                dir.path().join("m.mid").display().to_string(),
            ],
            "missing.rhai",
        ),
        (
            vec![
                "render".into(),
                good.display().to_string(),
                "-o".into(),
                "/nonexistent-dir/x.mid".into(),
            ],
            "/nonexistent-dir/x.mid",
        ),
        (
            vec![
                "render".into(),
                good.display().to_string(),
                "--bars".into(),
                "0".into(),
                "-o".into(),
                dir.path().join("z.mid").display().to_string(),
            ],
            "--bars",
        ),
    ];
    for (args, needle) in cases {
        let out = weft().args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(
            lines[0].starts_with("weft: ") && lines[0].contains(needle),
            "{err}"
        );
    }
}

#[test]
fn lstm_voices_render_deterministically_and_in_scale() {
    let dir = tempfile::tempdir().unwrap();
    let lead = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lead.rhai");
    let (a, b) = (dir.path().join("a.mid"), dir.path().join("b.mid"));
    for out in [&a, &b] {
        let o = render(&[&lead], 8, &[], out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap(), "same seed, same notes");
    let rb = smf::read(&bytes, "a.mid").unwrap();
    assert!(
        rb.notes.len() > 8,
        "the LSTM voices play ({} notes)",
        rb.notes.len()
    );
    // A natural minor: A B C D E F G.
    let in_a_minor = [9, 11, 0, 2, 4, 5, 7];
    for n in &rb.notes {
        assert!(
            in_a_minor.contains(&(n.key % 12)),
            "{} is outside A minor",
            n.key
        );
    }
    // A missing model is one clear error naming it.
    let p = dir.path().join("nomodel.rhai");
    std::fs::write(&p, "voice(\"l\", #{}).lstm(#{ model: \"nope\" });\n").unwrap();
    let out = weft().arg("check").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nope"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
