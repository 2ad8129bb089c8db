//! Redirects file descriptor 2 into the messages pane while the screen is up.
//!
//! Data flow: anything written to fd 2 — alsa-lib's error printing, `eprintln!` from any
//! thread, the panic message of a non-UI thread — goes into a pipe; a reader thread splits it
//! into lines and sends each as `AppEvent::Message`. Without this, such writes would land in
//! the middle of the raw-mode screen. On drop (or [`restore_now`], which the panic hook calls)
//! the original fd 2 is put back; the reader then sees end-of-file and ends.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::Sender;

use super::messages::Level;
use super::AppEvent;

/// The duplicate of the original fd 2 while a capture is active, −1 otherwise.
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);

/// An active capture; restores fd 2 when dropped.
pub struct StderrCapture {
    _private: (),
}

impl StderrCapture {
    /// Starts capturing. Fails if a capture is already active or a system call fails.
    pub fn start(tx: Sender<AppEvent>) -> io::Result<StderrCapture> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let (read_fd, write_fd) = (fds[0], fds[1]);
        // SAFETY: plain fd duplication; the result is checked.
        let saved = unsafe { libc::fcntl(libc::STDERR_FILENO, libc::F_DUPFD_CLOEXEC, 0) };
        if saved < 0 {
            let e = io::Error::last_os_error();
            // SAFETY: both fds were just created by pipe2 and are owned here.
            unsafe {
                libc::close(read_fd);
                libc::close(write_fd);
            }
            return Err(e);
        }
        if SAVED_STDERR
            .compare_exchange(-1, saved, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // SAFETY: all three fds were created above and are owned here.
            unsafe {
                libc::close(saved);
                libc::close(read_fd);
                libc::close(write_fd);
            }
            return Err(io::Error::other("stderr is already captured"));
        }
        // SAFETY: write_fd is a valid open fd; dup2 atomically replaces fd 2.
        let r = unsafe { libc::dup2(write_fd, libc::STDERR_FILENO) };
        let e = io::Error::last_os_error();
        // SAFETY: fd 2 now refers to the pipe (or dup2 failed); write_fd is ours to close.
        unsafe { libc::close(write_fd) };
        if r < 0 {
            restore_now();
            // SAFETY: read_fd was created above and is owned here.
            unsafe { libc::close(read_fd) };
            return Err(e);
        }
        // SAFETY: read_fd is an open fd that nothing else owns; File takes ownership.
        let reader = unsafe { File::from_raw_fd(read_fd) };
        std::thread::Builder::new()
            .name("weft-tui-stderr".into())
            .spawn(move || forward_lines(BufReader::new(reader), &tx))?;
        Ok(StderrCapture { _private: () })
    }
}

impl Drop for StderrCapture {
    fn drop(&mut self) {
        restore_now();
    }
}

/// Puts the original fd 2 back if a capture is active. Idempotent; safe in a panic hook.
pub fn restore_now() {
    let saved = SAVED_STDERR.swap(-1, Ordering::SeqCst);
    if saved >= 0 {
        // SAFETY: `saved` is the duplicate of the original fd 2 made in `start`, owned by
        // this module until now; the swap above makes sure it is restored and closed once.
        unsafe {
            libc::dup2(saved, libc::STDERR_FILENO);
            libc::close(saved);
        }
    }
}

/// Sends every line read from `r` as a message; ends at end-of-file or when nobody listens.
fn forward_lines(r: impl BufRead, tx: &Sender<AppEvent>) {
    for line in r.split(b'\n') {
        let Ok(bytes) = line else { break };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim_end();
        if text.is_empty() {
            continue;
        }
        if tx
            .send(AppEvent::Message(level_of(text), text.to_string()))
            .is_err()
        {
            // Keep draining so writers to fd 2 never block on a full pipe.
            continue;
        }
    }
}

/// A guess at the severity of a line written to stderr.
fn level_of(line: &str) -> Level {
    let l = line.to_ascii_lowercase();
    if l.contains("panicked") || l.contains("error") {
        Level::Error
    } else {
        Level::Warn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_messages_with_a_level() {
        let (tx, rx) = std::sync::mpsc::channel();
        let input = b"ALSA lib confmisc.c:855:(parse_card) cannot find card '0'\n\n\
thread 'x' panicked at src/a.rs:1:2:\nno newline at end";
        forward_lines(&input[..], &tx);
        drop(tx);
        let got: Vec<(Level, String)> = rx
            .iter()
            .map(|e| match e {
                AppEvent::Message(l, s) => (l, s),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Level::Warn,
                    "ALSA lib confmisc.c:855:(parse_card) cannot find card '0'".to_string()
                ),
                (
                    Level::Error,
                    "thread 'x' panicked at src/a.rs:1:2:".to_string()
                ),
                (Level::Warn, "no newline at end".to_string()),
            ]
        );
    }
}
