//! The performance screen: a ratatui terminal UI over one event loop.
//!
//! Stage: last consumer of the session. Data flow:
//!
//! ```text
//! engine ── AppEvent::Snapshot ──┐
//! worker ── Recommend/Forecast ──┤
//! stderr capture ── Message ─────┼─▶ app_rx ─▶ run(): App::handle ─▶ draw (≤ fps, only on change)
//! input thread ── Key/Mouse/… ───┤                   │
//! signals ── Quit ───────────────┘                   └─▶ on_command(UiCommand) (play, record, tempo, mute, …)
//! ```
//!
//! The UI owns no engine state: everything it shows comes from the latest [`Snapshot`] and
//! the [`messages::MessageLog`]; everything it asks for goes out as a [`UiCommand`], handed
//! to the caller's `on_command` on the UI thread itself (the play session sends it straight to
//! the engine's inbox, which never blocks). It never blocks the sender side (channels are
//! unbounded and only the UI thread receives).
//! The terminal is restored on every exit path (see [`terminal`]).

pub mod app;
pub mod bridge;
pub mod input;
pub mod keys;
pub mod messages;
pub mod model;
mod panes;
pub mod stderr_capture;
pub mod terminal;
pub mod theme;
mod ui;

use std::io;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub use app::{App, Pane};
pub use messages::{Level, MessageLog};
pub use model::*;
pub use theme::Theme;

/// Everything the UI thread reacts to, from every source, in one enum.
#[derive(Clone, Debug)]
pub enum AppEvent {
    Key(crossterm::event::KeyEvent),
    Mouse(crossterm::event::MouseEvent),
    Resize(u16, u16),
    /// A frame tick; the loop makes its own, other senders may add more.
    Tick,
    /// The engine's latest state.
    Snapshot(Box<Snapshot>),
    /// A line for the messages pane.
    Message(Level, String),
    /// Recommendations from the background worker (overrides `Snapshot::recommend`).
    Recommend(Availability<RecommendView>),
    /// Forecast from the background worker (overrides `Snapshot::forecast`).
    Forecast(Availability<ForecastView>),
    /// Leave the screen (sent by signal handling or by the engine).
    Quit,
}

/// What the UI asks the engine to do (the play session turns each into an
/// [`crate::engine::live::Command`]).
#[derive(Clone, Debug, PartialEq)]
pub enum UiCommand {
    TogglePlay,
    ToggleRecord,
    TempoDelta(f64),
    /// Toggle mute of the voice with this name (`VoiceView::name`).
    Mute(String),
    /// Toggle solo of the voice with this name.
    Solo(String),
    /// Silence every output now: all notes off and all sound off on every MIDI channel.
    Panic,
    /// The user confirmed leaving; the UI loop has ended or is ending.
    Quit,
}

/// How [`run`] behaves.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Draw without colours (modifiers like bold and reverse stay).
    pub no_color: bool,
    /// Frame rate cap, and the steady rate while playing.
    pub fps: u32,
    /// Redirect fd 2 into the messages pane while the screen is up.
    pub capture_stderr: bool,
    /// Enable mouse capture (click to focus).
    pub mouse: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            no_color: false,
            fps: 30,
            capture_stderr: true,
            mouse: true,
        }
    }
}

impl RunOptions {
    /// Defaults, with `no_color` set when `NO_COLOR` is present and not empty
    /// (<https://no-color.org>).
    pub fn from_env() -> Self {
        RunOptions {
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            ..RunOptions::default()
        }
    }
}

/// Runs the performance screen until the user quits or `AppEvent::Quit` arrives.
///
/// `app_tx` is a sender of the same channel as `app_rx`: the input thread, the signal watcher
/// and the stderr capture feed it. Each command the UI gives is passed to `on_command` on this
/// thread, as it happens (it must not block); `UiCommand::Quit` when the user quits.
/// The terminal is restored before this returns (also on error and on panic).
pub fn run(
    app_rx: Receiver<AppEvent>,
    app_tx: Sender<AppEvent>,
    mut on_command: impl FnMut(UiCommand),
    opts: RunOptions,
) -> io::Result<()> {
    let guard = terminal::TerminalGuard::enter(opts.mouse)?;
    let capture = if opts.capture_stderr {
        match stderr_capture::StderrCapture::start(app_tx.clone()) {
            Ok(c) => Some(c),
            Err(e) => {
                let _ = app_tx.send(AppEvent::Message(
                    Level::Warn,
                    format!("stderr not captured: {e}"),
                ));
                None
            }
        }
    } else {
        None
    };
    let signals = terminal::SignalWatch::start(app_tx.clone())?;
    let input = input::InputThread::spawn(app_tx.clone());

    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let mut app = App::new(Theme::new(!opts.no_color));
    let result = event_loop(&mut term, &mut app, &app_rx, &mut on_command, opts.fps);

    input.stop();
    drop(capture);
    drop(term);
    let restored = guard.restore();
    // After the restore: a signal watcher that is waiting for the screen to go down (it sent
    // the Quit that ended the loop) sees it and ends, so this join cannot stall.
    signals.stop();
    restored?;
    result
}

fn event_loop<B: ratatui::backend::Backend>(
    term: &mut Terminal<B>,
    app: &mut App,
    rx: &Receiver<AppEvent>,
    on_command: &mut dyn FnMut(UiCommand),
    fps: u32,
) -> io::Result<()>
where
    B::Error: Into<io::Error>,
{
    let frame = Duration::from_secs(1) / fps.max(1);
    let mut next_frame = Instant::now();
    app.mark_dirty();
    loop {
        // Draw when something changed and the frame budget allows it.
        let now = Instant::now();
        if app.is_dirty() && now >= next_frame {
            term.draw(|f| app.draw(f)).map_err(Into::into)?;
            next_frame = now + frame;
        }
        // Wait: until the next frame while playing or while a change waits to be drawn,
        // otherwise until something happens.
        let wait = if app.is_playing() || app.is_dirty() {
            Some(next_frame.saturating_duration_since(Instant::now()))
        } else {
            None
        };
        let first = match wait {
            Some(d) => match rx.recv_timeout(d) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => Some(AppEvent::Tick),
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            },
            None => match rx.recv() {
                Ok(ev) => Some(ev),
                Err(_) => return Ok(()),
            },
        };
        // Handle everything already queued before drawing once.
        for ev in first
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()))
        {
            if let Some(cmd) = app.handle(ev) {
                // The engine may be gone already; the UI keeps working regardless.
                on_command(cmd);
            }
            if app.should_quit() {
                return Ok(());
            }
        }
    }
}

/// Renders one frame of the screen for `snapshot` as plain text, `height` lines of at most
/// `width` columns with trailing spaces removed (for the README and for tests).
pub fn render_text(snapshot: &Snapshot, width: u16, height: u16) -> String {
    let mut app = App::new(Theme::new(false));
    app.handle(AppEvent::Snapshot(Box::new(snapshot.clone())));
    app.render_to_string(width, height)
}
