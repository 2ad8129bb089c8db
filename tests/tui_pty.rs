//! A real terminal: runs the screen in a child process on a pseudo-terminal, waits for it to
//! draw a broken patch's `line:col`, presses `q`, and checks that the child ended normally,
//! left the alternate screen and put the terminal back in cooked mode (ICANON, ECHO).
//!
//! The child is this test binary itself, re-run with `WEFT_TUI_PTY_CHILD=1` so that only
//! `pty_child` does work.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft::tui::{run, AppEvent, PatchState, PatchView, RunOptions, Snapshot};

const CHILD_ENV: &str = "WEFT_TUI_PTY_CHILD";

#[test]
fn pty_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let (app_tx, app_rx) = channel();
    let snap = Snapshot {
        patches: vec![PatchView {
            file: "broken.rhai".into(),
            state: PatchState::Error {
                line: 4,
                col: 9,
                message: "Unexpected end of input".into(),
                last_good_playing: false,
            },
            last_reload_ms: None,
        }],
        ..Snapshot::default()
    };
    app_tx.send(AppEvent::Snapshot(Box::new(snap))).unwrap();
    run(app_rx, app_tx, |_| {}, RunOptions::default()).expect("run");
}

fn termios(fd: i32) -> libc::termios {
    // SAFETY: tcgetattr fills a zeroed termios for a valid fd; the result is checked.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(fd, &mut t), 0, "tcgetattr");
        t
    }
}

fn wait_for(out: &Mutex<Vec<u8>>, needle: &[u8], timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if out
            .lock()
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn screen_draws_and_q_restores_the_terminal() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let (mut master, mut slave) = (0, 0);
    let ws = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds into the given ints; the result is checked.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(r, 0, "openpty");
    // SAFETY: both fds were just opened by openpty and are owned from here on.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let before = termios(slave.as_raw_fd());
    assert_ne!(
        before.c_lflag & libc::ICANON,
        0,
        "a fresh pty is in cooked mode"
    );

    let stdio = || Stdio::from(slave.try_clone().unwrap());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "pty_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdin(stdio())
        .stdout(stdio())
        .stderr(stdio())
        .spawn()
        .expect("spawn child");

    let out = Arc::new(Mutex::new(Vec::new()));
    let mut reader = std::fs::File::from(master.try_clone().unwrap());
    let sink = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });

    let drawn = wait_for(&out, b"4:9", Duration::from_secs(20));
    let mut writer = std::fs::File::from(master.try_clone().unwrap());
    writer.write_all(b"q").unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > end {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    assert!(
        drawn,
        "the broken patch's line:col was never drawn:\n{text}"
    );
    let status = status.expect("the child quits on q");
    assert!(status.success(), "child failed: {status:?}\n{text}");
    assert!(text.contains("\x1b[?1049h"), "entered the alternate screen");
    assert!(text.contains("\x1b[?1049l"), "left the alternate screen");
    let after = termios(slave.as_raw_fd());
    for (flag, name) in [
        (libc::ICANON, "ICANON"),
        (libc::ECHO, "ECHO"),
        (libc::ISIG, "ISIG"),
    ] {
        assert_eq!(
            after.c_lflag & flag,
            before.c_lflag & flag,
            "{name} restored after quit"
        );
    }
}
