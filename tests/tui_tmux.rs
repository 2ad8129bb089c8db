//! The real terminal: `weft play` inside tmux. See the saved sample ranked under "sounds
//! like", save a broken patch, see its line:col in the patches pane, fix it, see "playing",
//! record, quit while recording (`q`, `y`), find the recording and its session profile, and
//! find the shell back in cooked mode.
//! Needs tmux (`make test` installs it).

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let o = Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux is installed (make setup installs it)");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Polls `cond` until it holds. `limit` is a hang guard, not a speed check: it is far above
/// the expected time, so the test fails with `what` instead of hanging.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        if t.elapsed() > limit {
            panic!("gave up waiting: {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_screen(session: &str, what: &str, timeout: Duration) -> String {
    let mut last = String::new();
    wait_until(&format!("'{what}' on screen"), timeout, || {
        last = tmux(&["capture-pane", "-p", "-t", session]);
        last.contains(what)
    });
    last
}

struct Session(String);
impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

#[test]
fn screen_shows_errors_and_recovery_then_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    let good = "quantize(\"beat\");\nvoice(\"k\", #{ synth: \"kick\" }).pattern(\"x x x x\");\n";
    std::fs::write(scripts.join("a.rhai"), good).unwrap();
    // A saved sound next to the patches, for the spectrum pane's "sounds like" list.
    std::fs::create_dir(dir.path().join("samples")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/samples/thump.wav"),
        dir.path().join("samples/thump.wav"),
    )
    .unwrap();
    let session = Session(format!("weft-test-{}", std::process::id()));
    let s = session.0.as_str();
    let o = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            s,
            "-x",
            "120",
            "-y",
            "40",
            "env PS1='READY$ ' bash --norc --noprofile",
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tmux: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    wait_screen(s, "READY$", Duration::from_secs(10));
    let cmd = format!(
        "cd {} && {} play scripts --null-audio --record-dir rec",
        dir.path().display(),
        env!("CARGO_BIN_EXE_weft")
    );
    tmux(&["send-keys", "-t", s, &cmd, "Enter"]);
    wait_screen(s, "a.rhai", Duration::from_secs(20));
    wait_screen(s, "playing", Duration::from_secs(10));
    // The analyzer hears the kick; after a few seconds the saved sound is ranked.
    wait_screen(s, "thump.wav", Duration::from_secs(20));

    std::fs::write(
        scripts.join("a.rhai"),
        "quantize(\"beat\");\nvoice(\"k\", #{ synth: \"kick\" }).pattern(\"x [\");\n",
    )
    .unwrap();
    // The `.pattern(` call is at line 2, column 32.
    let screen = wait_screen(s, "2:32", Duration::from_secs(10));
    let line = screen.lines().find(|l| l.contains("a.rhai")).unwrap_or("");
    assert!(
        line.contains("2:32"),
        "the patches pane shows line:col: {screen}"
    );
    println!("{screen}");

    std::fs::write(scripts.join("a.rhai"), good.replace("x x x x", "x*8")).unwrap();
    wait_until("a.rhai back to playing", Duration::from_secs(10), || {
        let screen = tmux(&["capture-pane", "-p", "-t", s]);
        let line = screen.lines().find(|l| l.contains("a.rhai")).unwrap_or("");
        line.contains("playing") && !line.contains("2:32")
    });

    // Record a few seconds, then quit while recording: `q` asks, `y` confirms. The
    // recording is finished and its session profile written before the shell is back.
    tmux(&["send-keys", "-t", s, "r"]);
    wait_screen(s, "recording to", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    tmux(&["send-keys", "-t", s, "q"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux(&["send-keys", "-t", s, "y"]);
    wait_screen(s, "READY$", Duration::from_secs(10));
    let rec: Vec<String> = std::fs::read_dir(dir.path().join("rec"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(rec.iter().any(|n| n.ends_with(".mid")), "{rec:?}");
    assert!(rec.iter().any(|n| n.ends_with(".profile.json")), "{rec:?}");
    let stty = dir.path().join("stty.txt");
    tmux(&[
        "send-keys",
        "-t",
        s,
        &format!("stty -a > {}", stty.display()),
        "Enter",
    ]);
    wait_until("stty output", Duration::from_secs(10), || {
        std::fs::read_to_string(&stty).is_ok_and(|t| !t.is_empty())
    });
    std::thread::sleep(Duration::from_millis(100));
    let modes = std::fs::read_to_string(&stty).unwrap();
    for flag in ["icanon", "echo", "isig"] {
        assert!(
            modes.split_whitespace().any(|w| w == flag),
            "terminal left without {flag}:\n{modes}"
        );
    }
}

#[test]
fn closing_the_terminal_finishes_the_recording_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(
        scripts.join("a.rhai"),
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x x x x\");\n",
    )
    .unwrap();
    let take = dir.path().join("take.mid");
    let session = Session(format!("weft-hup-{}", std::process::id()));
    let s = session.0.as_str();
    // weft is the session's only process: killing the session hangs up its terminal.
    let cmd = format!(
        "{} play {} --null-audio --record {} --record-dir {}",
        env!("CARGO_BIN_EXE_weft"),
        scripts.display(),
        take.display(),
        dir.path().join("rec").display()
    );
    let o = Command::new("tmux")
        .args(["new-session", "-d", "-s", s, "-x", "120", "-y", "40", &cmd])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_screen(s, "recording to", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    tmux(&["kill-session", "-t", s]);
    // The process finishes the recording and exits (it used to wait forever for its
    // terminal-input thread, stuck reading the closed terminal).
    let running = || {
        Command::new("pgrep")
            .args(["-f", &take.display().to_string()])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    wait_until(
        "weft to exit after its terminal closed",
        Duration::from_secs(15),
        || !running(),
    );
    assert!(take.is_file(), "the recording was finished");
    assert!(!dir.path().join("take.mid.weftjournal").exists());
    let midi = std::fs::read(&take).unwrap();
    assert!(midly::Smf::parse(&midi).is_ok());
}

/// `+`/`-` pressed quickly all count (each new tempo is computed from the latest requested
/// one, even while it waits for its beat); at 80×24 the quit dialog shows its y/n line with
/// the default recording name, and after quitting weft prints where the recording went.
#[test]
fn quick_tempo_keys_add_up_and_quit_says_where_the_take_went() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(
        scripts.join("a.rhai"),
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x x x x\");\n",
    )
    .unwrap();
    let session = Session(format!("weft-keys-{}", std::process::id()));
    let s = session.0.as_str();
    let o = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            s,
            "-x",
            "80",
            "-y",
            "24",
            "env PS1='READY$ ' bash --norc --noprofile",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_screen(s, "READY$", Duration::from_secs(10));
    let cmd = format!(
        "cd {} && {} play scripts --null-audio --record-dir recordings 2> err.txt",
        dir.path().display(),
        env!("CARGO_BIN_EXE_weft")
    );
    tmux(&["send-keys", "-t", s, &cmd, "Enter"]);
    wait_screen(s, "playing", Duration::from_secs(20));
    wait_screen(s, "120.0", Duration::from_secs(10));
    // Three `+` at once: +3.
    tmux(&["send-keys", "-t", s, "+++"]);
    wait_screen(s, "123.0", Duration::from_secs(10));
    // Five `-` 0.15 s apart: −5.
    for _ in 0..5 {
        tmux(&["send-keys", "-t", s, "-"]);
        std::thread::sleep(Duration::from_millis(150));
    }
    wait_screen(s, "118.0", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    let screen = tmux(&["capture-pane", "-p", "-t", s]);
    assert!(screen.contains("118.0"), "the tempo stays: {screen}");

    tmux(&["send-keys", "-t", s, "r"]);
    wait_screen(s, "recording to", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    tmux(&["send-keys", "-t", s, "q"]);
    let screen = wait_screen(s, "y quit   n keep playing", Duration::from_secs(10));
    assert!(screen.contains(".mid."), "the file name shows: {screen}");
    tmux(&["send-keys", "-t", s, "y"]);
    wait_screen(s, "READY$", Duration::from_secs(10));
    let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap();
    let line = err
        .lines()
        .find(|l| l.starts_with("weft: recorded "))
        .unwrap_or_else(|| panic!("where the take went is printed: {err}"));
    let rec: Vec<String> = std::fs::read_dir(dir.path().join("recordings"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mid"))
        .collect();
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert!(line.contains(&rec[0]), "{line} names {rec:?}");
}
