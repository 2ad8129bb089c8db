//! Terminal setup and the guarantees around it: the screen is restored on normal exit (the
//! guard, also on early return), on a panic of the UI thread (panic hook: restore first, then
//! print the panic), and on SIGINT/SIGTERM/SIGHUP (the signal watcher asks the loop to quit
//! and restores by itself if the loop does not end within a second).
//!
//! Restoring is idempotent (an atomic flag), so the guard, the hook and the watcher can all
//! call [`restore`] without double work.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Once;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use super::AppEvent;

/// True while the screen is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

thread_local! {
    /// Set on the thread that owns the screen; a panic there restores the terminal, a panic
    /// elsewhere is only reported (through the stderr capture into the messages pane).
    static UI_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the screen is currently set up.
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Enters raw mode and the alternate screen; [`restore`] on drop or via [`TerminalGuard::restore`].
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Sets the terminal up on the calling thread (the UI thread) and installs the panic hook.
    pub fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        install_panic_hook();
        UI_THREAD.with(|c| c.set(true));
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        MOUSE.store(mouse, Ordering::SeqCst);
        let guard = TerminalGuard { _private: () };
        let mut out = io::stdout();
        execute!(out, EnterAlternateScreen, cursor::Hide)?;
        if mouse {
            execute!(out, EnableMouseCapture)?;
        }
        Ok(guard)
    }

    /// Restores now and reports errors (drop restores too, silently).
    pub fn restore(self) -> io::Result<()> {
        let r = restore();
        UI_THREAD.with(|c| c.set(false));
        std::mem::forget(self);
        r
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = restore();
        UI_THREAD.with(|c| c.set(false));
    }
}

/// Leaves the alternate screen, shows the cursor and returns to cooked mode; does nothing
/// when the screen is not set up. Safe to call from any thread.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let mut out = io::stdout();
    let mut first_err = None;
    if MOUSE.swap(false, Ordering::SeqCst) {
        if let Err(e) = execute!(out, DisableMouseCapture) {
            first_err.get_or_insert(e);
        }
    }
    if let Err(e) = execute!(out, LeaveAlternateScreen, cursor::Show) {
        first_err.get_or_insert(e);
    }
    let _ = out.flush();
    if let Err(e) = disable_raw_mode() {
        first_err.get_or_insert(e);
    }
    first_err.map_or(Ok(()), Err)
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if UI_THREAD.with(|c| c.get()) {
                // Put fd 2 back first so the message below reaches the user's terminal.
                super::stderr_capture::restore_now();
                let _ = restore();
            }
            previous(info);
        }));
    });
}

/// Watches SIGINT, SIGTERM and SIGHUP while the screen is up.
pub struct SignalWatch {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl SignalWatch {
    /// On a signal: sends `AppEvent::Quit`; if the screen is still up a second later,
    /// restores the terminal itself and exits with 128 + signal number.
    pub fn start(tx: Sender<AppEvent>) -> io::Result<SignalWatch> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("weft-tui-signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let _ = tx.send(AppEvent::Quit);
                    let deadline = Instant::now() + Duration::from_secs(1);
                    while is_active() && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    if is_active() {
                        super::stderr_capture::restore_now();
                        let _ = restore();
                        eprintln!("weft: terminated by signal {sig}");
                        std::process::exit(128 + sig);
                    }
                }
            })?;
        Ok(SignalWatch {
            handle,
            thread: Some(thread),
        })
    }

    /// Stops watching (the signals get their previous handling back).
    pub fn stop(mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        self.handle.close();
    }
}
