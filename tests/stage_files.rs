//! Issue #15, folders, logs and files: relative patch folders, a patch folder that goes away
//! and comes back, FIFOs and symlink loops in logs folders, generator sizes, closed stdout,
//! and error messages that name the file once and skip one bad file instead of failing all.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::engine::live::{self, LiveConfig, Report, SystemClock};
use weft::engine::scheduler::Notice;
use weft::engine::watch::{DirWatcher, FileChange};
use weft::patch::NoModels;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
/// Only a guard against a hang (the failure these tests are about); never a timing claim.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn patch(key: u8) -> String {
    format!("quantize(\"bar\");\nvoice(\"k\", #{{ synth: \"kick\", note: {key} }}).pattern(\"x x x x\");\n")
}

/// Waits for `child` to exit; kills it and fails if it is still running after [`HANG_GUARD`].
fn wait_or_kill(mut child: Child, what: &str) -> Output {
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} hung; stderr so far:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(args: &[&str], cwd: Option<&Path>) -> Output {
    let mut c = Command::new(WEFT);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    wait_or_kill(c.spawn().unwrap(), &args.join(" "))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A folder of synthetic logs in every export format (via the binary, as a user makes one).
fn synth_logs(dir: &Path) {
    let o = run(
        &[
            "logs",
            "synth",
            "--users",
            "5",
            "--days",
            "60",
            "-o",
            dir.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
}

// ---------------------------------------------------------------------------------------
// 1. Relative patch folders: delete and rename are seen.

/// Reads stderr lines of a running `weft play` on a thread.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line matching `f`; every line seen goes to `seen`.
fn wait_line(
    rx: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    f: impl Fn(&str) -> bool,
) -> Option<String> {
    let t = Instant::now();
    while t.elapsed() < HANG_GUARD {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(l) => {
                seen.push(l.clone());
                if f(&l) {
                    return Some(l);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
    None
}

#[test]
fn relative_default_folder_sees_delete_and_rename_keeps_the_patch() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    fs::write(scripts.join("a.rhai"), patch(36)).unwrap();
    fs::write(scripts.join("b.rhai"), patch(38)).unwrap();
    // `weft play --headless` with the default folder `scripts`, relative to the cwd.
    let mut child = Command::new(WEFT)
        .args(["play", "--headless", "--tempo", "240", "--record-dir"])
        .arg(dir.path().join("rec"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    let mut seen = Vec::new();
    for f in ["a.rhai", "b.rhai"] {
        let p = format!("{f}: playing from bar");
        assert!(
            wait_line(&rx, &mut seen, |l| l.starts_with(&p)).is_some(),
            "{seen:#?}"
        );
    }
    // Delete: the part stops.
    fs::remove_file(scripts.join("a.rhai")).unwrap();
    let removed = wait_line(&rx, &mut seen, |l| l.starts_with("a.rhai: removed"));
    // Rename, then save under the new name: the same patch goes on (v2), not a new one (v1)
    // next to the old name still playing.
    fs::rename(scripts.join("b.rhai"), scripts.join("c.rhai")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    fs::write(scripts.join("c.rhai"), patch(40)).unwrap();
    let c = wait_line(&rx, &mut seen, |l| {
        l.starts_with("c.rhai: v") || l.starts_with("c.rhai: playing")
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_or_kill(child, "weft play").status;
    assert!(removed.is_some(), "delete ignored: {seen:#?}");
    assert!(
        c.as_deref()
            .is_some_and(|l| l.starts_with("c.rhai: v2 swapped in")),
        "rename not kept as the same patch: {c:?} {seen:#?}"
    );
    assert!(status.success(), "{status:?} {seen:#?}");
}

// ---------------------------------------------------------------------------------------
// 2. A patch folder moved away and recreated is watched again, with a message either way.

fn next_change(w: &DirWatcher, f: impl Fn(&FileChange) -> bool) -> Option<FileChange> {
    let t = Instant::now();
    while t.elapsed() < HANG_GUARD {
        if let Ok(c) = w.changes.recv_timeout(Duration::from_millis(50)) {
            if f(&c) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn watcher_notices_the_folder_go_and_come_back() {
    let root = tempfile::tempdir().unwrap();
    let scripts = root.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    fs::write(scripts.join("a.rhai"), patch(36)).unwrap();
    let w = DirWatcher::start(&scripts).unwrap();
    let canon = scripts.canonicalize().unwrap();
    fs::rename(&scripts, root.path().join("old")).unwrap();
    let gone = next_change(&w, |c| matches!(c, FileChange::FolderGone { .. }));
    assert_eq!(gone, Some(FileChange::FolderGone { dir: canon.clone() }));
    // An edit in the moved-away folder is not an edit of the patch folder.
    fs::write(root.path().join("old").join("a.rhai"), patch(37)).unwrap();
    // Recreated: the same file back unchanged is no reload; a changed one and a new one are.
    fs::create_dir(&scripts).unwrap();
    fs::write(scripts.join("a.rhai"), patch(36)).unwrap();
    fs::write(scripts.join("b.rhai"), patch(38)).unwrap();
    let back = next_change(&w, |c| matches!(c, FileChange::FolderBack { .. }));
    assert_eq!(back, Some(FileChange::FolderBack { dir: canon.clone() }));
    let b = next_change(&w, |c| matches!(c, FileChange::Changed { .. }));
    match b {
        Some(FileChange::Changed { path, source, .. }) => {
            assert_eq!(path, canon.join("b.rhai"));
            assert_eq!(source, patch(38));
        }
        other => panic!("{other:?}"),
    }
    // Watched again: a save in the new folder arrives.
    fs::write(scripts.join("a.rhai"), patch(41)).unwrap();
    let a = next_change(&w, |c| matches!(c, FileChange::Changed { .. }));
    match a {
        Some(FileChange::Changed { path, source, .. }) => {
            assert_eq!(path, canon.join("a.rhai"));
            assert_eq!(source, patch(41));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn engine_says_the_folder_is_gone_and_back_and_loads_from_it_again() {
    let root = tempfile::tempdir().unwrap();
    let scripts = root.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    fs::write(scripts.join("a.rhai"), patch(36)).unwrap();
    let mut cfg = LiveConfig::new(&scripts);
    cfg.tempo = Some(240.0);
    let steps: live::StepFactory = Arc::new(|| Box::new(NoModels));
    let h = live::start(cfg, Box::new(SystemClock::new(48_000)), None, steps).unwrap();
    let wait = |f: &dyn Fn(&Report) -> bool, seen: &mut Vec<String>| {
        let t = Instant::now();
        while t.elapsed() < HANG_GUARD {
            if let Ok(r) = h.reports.recv_timeout(Duration::from_millis(50)) {
                if let Some(l) = live::describe_report(&r) {
                    seen.push(l);
                }
                if f(&r) {
                    return true;
                }
            }
        }
        false
    };
    let print = |what: &'static str| move |r: &Report| matches!(r, Report::Notice(Notice::Print { line, .. }) if line.contains(what));
    let swapped = |v: u32| move |r: &Report| matches!(r, Report::Notice(Notice::Swapped { version, .. }) if *version == v);
    let mut seen = Vec::new();
    assert!(wait(&swapped(1), &mut seen), "{seen:#?}");
    fs::rename(&scripts, root.path().join("old")).unwrap();
    assert!(wait(&print("patch folder gone"), &mut seen), "{seen:#?}");
    fs::create_dir(&scripts).unwrap();
    assert!(wait(&print("watching again"), &mut seen), "{seen:#?}");
    fs::write(scripts.join("a.rhai"), patch(40)).unwrap();
    assert!(wait(&swapped(2), &mut seen), "{seen:#?}");
    h.command(live::Command::Quit);
    h.join();
}

// ---------------------------------------------------------------------------------------
// 3. FIFOs and symlink loops in a logs folder.

#[test]
fn fifo_and_symlink_loop_in_a_logs_folder_are_skipped_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    synth_logs(&logs);
    let clean = run(&["logs", "check", "--logs", logs.to_str().unwrap()], None);
    assert!(clean.status.success(), "{}", text(&clean.stderr));

    let fifo = std::ffi::CString::new(logs.join("stream.json").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink(&logs, logs.join("user00").join("loop")).unwrap();
    std::os::unix::fs::symlink("self", logs.join("self")).unwrap(); // dangling to itself
    for cmd in [
        &["logs", "check"][..],
        &["recommend", "-n", "3"][..],
        &["forecast", "--horizon", "3"][..],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["--logs", logs.to_str().unwrap()]);
        let o = run(&args, None);
        let err = text(&o.stderr);
        assert!(o.status.success(), "{cmd:?}: {err}");
        assert!(
            err.contains("stream.json: not a regular file"),
            "{cmd:?}: {err}"
        );
        assert!(err.contains("symlink loop"), "{cmd:?}: {err}");
        if cmd[0] == "logs" {
            // Exactly the files and rows of the clean folder.
            assert_eq!(text(&o.stdout), text(&clean.stdout));
        }
    }
}

// ---------------------------------------------------------------------------------------
// 4. Generator sizes are bounded with a clear error.

#[test]
fn huge_generator_sizes_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (flag, n) in [
        ("--users", "100000000"),
        ("--days", "100000000"),
        ("--days", "-5"),
    ] {
        let arg = format!("{flag}={n}");
        let o = run(
            &["logs", "synth", &arg, "--out", out.to_str().unwrap()],
            None,
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{flag} {n}: {err}");
        assert!(err.contains(flag) && err.contains(n), "{flag} {n}: {err}");
        assert!(!err.contains("memory allocation"), "{err}");
        assert!(!out.exists(), "nothing written for {flag} {n}");
    }
    let o = run(
        &[
            "logs",
            "synth",
            "--users",
            "10000",
            "--days",
            "3650",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("user-days"), "{err}");
}

// ---------------------------------------------------------------------------------------
// 5. A closed stdout ends a command quietly.

fn write_wav(path: &Path, freq: f32, seconds: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22_050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (22_050.0 * seconds) as usize;
    for i in 0..n {
        let t = i as f32 / 22_050.0;
        let s = (t * freq * std::f32::consts::TAU).sin() * 0.5 * (1.0 + (t * 3.0).sin());
        w.write_sample((s * 20_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Runs weft with stdout a pipe whose reader is already closed: the first write fails with
/// EPIPE, every time (no race with a reader that closes late).
fn run_closed_stdout(args: &[&str]) -> Output {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created by pipe() and are owned by nobody else.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let child = Command::new(WEFT)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_or_kill(child, &args.join(" "))
}

#[test]
fn closed_stdout_ends_every_printing_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    synth_logs(&logs);
    let wav = dir.path().join("tone.wav");
    write_wav(&wav, 440.0, 1.0);
    let l = logs.to_str().unwrap();
    let w = wav.to_str().unwrap();
    let out = dir.path().join("synth2");
    let cmds: Vec<Vec<&str>> = vec![
        vec!["forecast", "--logs", l, "--json"],
        vec!["forecast", "--logs", l],
        vec!["recommend", "--logs", l, "--json"],
        vec!["recommend", "--logs", l],
        vec!["logs", "check", "--logs", l],
        vec![
            "logs",
            "synth",
            "--users",
            "1",
            "--days",
            "3",
            "-o",
            out.to_str().unwrap(),
        ],
        vec!["analyze", w, "--json"],
        vec!["analyze", w],
        vec!["analyze", w, "--similar", dir.path().to_str().unwrap()],
    ];
    for args in cmds {
        let o = run_closed_stdout(&args);
        let err = text(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            !err.to_lowercase().contains("broken pipe"),
            "{args:?}: {err}"
        );
        assert!(o.status.success(), "{args:?}: {:?} {err}", o.status);
    }
}

// ---------------------------------------------------------------------------------------
// 6. Messages name the file once and the cause once; one bad file is skipped, not fatal.

#[test]
fn a_missing_log_file_is_named_once_with_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let o = run(
        &["logs", "check", "--logs", missing.to_str().unwrap()],
        None,
    );
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.matches("nope.json").count(), 1, "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

#[test]
fn a_bad_zip_among_good_logs_is_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    synth_logs(&logs);
    let clean = run(&["logs", "check", "--logs", logs.to_str().unwrap()], None);
    assert!(clean.status.success(), "{}", text(&clean.stderr));
    fs::write(
        logs.join("listenbrainz_x_1.zip"),
        b"PK\x03\x04 this is not a zip",
    )
    .unwrap();
    let o = run(&["logs", "check", "--logs", logs.to_str().unwrap()], None);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(text(&o.stdout), text(&clean.stdout));
    let line = err
        .lines()
        .find(|l| l.contains("listenbrainz_x_1.zip"))
        .unwrap_or_else(|| panic!("bad zip not reported: {err}"));
    assert!(line.contains("skipped"), "{line}");
    let cause = line.rsplit(": ").next().unwrap();
    assert_eq!(line.matches(cause).count(), 1, "cause said once: {line}");

    // Alone, the bad zip is an error that says it once.
    let o = run(
        &[
            "logs",
            "check",
            "--logs",
            logs.join("listenbrainz_x_1.zip").to_str().unwrap(),
        ],
        None,
    );
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("listenbrainz_x_1.zip").count(), 1, "{err}");
    let cause = err.trim().rsplit(": ").next().unwrap();
    assert_eq!(err.matches(cause).count(), 1, "cause said once: {err}");
}

#[test]
fn similar_skips_a_bad_wav_and_ranks_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.wav");
    write_wav(&seed, 440.0, 1.0);
    let lib = dir.path().join("lib");
    fs::create_dir(&lib).unwrap();
    write_wav(&lib.join("near.wav"), 450.0, 1.0);
    write_wav(&lib.join("far.wav"), 3000.0, 1.0);
    fs::write(lib.join("broken.wav"), b"RIFF\x10\x00\x00\x00WAVEjunk").unwrap();
    let o = run(
        &[
            "analyze",
            "--similar",
            lib.to_str().unwrap(),
            seed.to_str().unwrap(),
        ],
        None,
    );
    let err = text(&o.stderr);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{err}");
    let mut ranked: Vec<PathBuf> = out
        .lines()
        .skip(1)
        .map(|l| PathBuf::from(l.split_whitespace().last().unwrap()))
        .collect();
    ranked.sort();
    assert_eq!(ranked, [lib.join("far.wav"), lib.join("near.wav")], "{out}");
    let line = err
        .lines()
        .find(|l| l.contains("broken.wav"))
        .unwrap_or_else(|| panic!("bad wav not reported: {err}"));
    assert!(line.contains("skipped"), "{line}");
    assert_eq!(line.matches("broken.wav").count(), 1, "{line}");
}

#[test]
fn file_errors_say_their_cause_once_through_anyhow() {
    let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
    let cause = io().to_string();
    let errs: Vec<anyhow::Error> = vec![
        weft::sound::synth::SynthError::Io("x.wav".into(), io()).into(),
        weft::sound::output::AudioError::Thread(io()).into(),
        weft::logs::LogError::Io {
            path: "x.json".into(),
            error: io(),
        }
        .into(),
        weft::analysis::AnalysisError::Io {
            path: "x.wav".into(),
            error: io(),
        }
        .into(),
        weft::engine::watch::WatchError::Folder {
            path: "scripts".into(),
            error: io(),
        }
        .into(),
    ];
    for e in errs {
        // What `main` prints: `weft: {e:#}`.
        let s = format!("{e:#}");
        assert_eq!(s.matches(&cause).count(), 1, "{s}");
    }
}
