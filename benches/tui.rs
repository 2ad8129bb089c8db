//! Frame render time of the performance screen at 200×60 with every pane busy.
//!
//! Each frame changes the transport position, the beat flash and the piano rolls (as while
//! playing), then draws through ratatui twice over: into a `TestBackend` (layout + widgets +
//! buffer diff) and through a `CrosstermBackend` writing escape sequences into a sink (what a
//! real terminal frame costs the UI thread, minus the write(2)). Prints p50 / p99 / max of
//! wall time and of the thread's CPU time (the latter is immune to preemption on a loaded
//! machine, so it is the figure to hold against the goal there).
//!
//! Run: `cargo bench --bench tui` (goal: p99 ≤ 2 ms).

#[path = "../tests/tui_fixtures/mod.rs"]
mod tui_fixtures;

use std::io;
use std::time::{Duration, Instant};

use ratatui::backend::{Backend, CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use weft::tui::{App, AppEvent, Level, Theme};

const W: u16 = 200;
const H: u16 = 60;
const FRAMES: usize = 2000;
const WARMUP: usize = 100;

fn busy_app() -> App {
    let mut app = App::new(Theme::new(true));
    for i in 0..500 {
        let level = [Level::Info, Level::Warn, Level::Error][i % 3];
        app.handle(AppEvent::Message(
            level,
            format!("message {i}: something happened in the engine"),
        ));
    }
    app
}

fn frame_snapshot(i: usize) -> Box<weft::tui::Snapshot> {
    let mut s = tui_fixtures::busy();
    let t = &mut s.transport;
    t.beat = (i / 8 % 4) as u32 + 1;
    t.bar = 17 + (i / 32) as u64;
    t.beat_phase = (i % 8) as f32 / 8.0;
    for v in &mut s.voices {
        for n in &mut v.notes {
            n.start_tick -= (i % 32) as i64 * 120;
        }
    }
    if let weft::tui::Availability::Ready(sp) = &mut s.spectrum {
        for (k, b) in sp.bands.iter_mut().enumerate() {
            *b -= ((i + k) % 11) as f32;
        }
        sp.onset = i % 8 == 0;
    }
    Box::new(s)
}

/// CPU time consumed by the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn report(name: &str, clock: &str, mut times: Vec<Duration>) {
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "tui frame {W}x{H} all panes busy, {name:<24} {clock:<10} p50 {:>8.1} µs  p99 {:>8.1} µs  max {:>8.1} µs  ({FRAMES} frames)",
        us(pct(0.50)),
        us(pct(0.99)),
        us(*times.last().unwrap()),
    );
}

fn measure<B: Backend>(name: &str, term: &mut Terminal<B>) {
    let mut app = busy_app();
    let snaps: Vec<_> = (0..64).map(frame_snapshot).collect();
    let mut wall = Vec::with_capacity(FRAMES);
    let mut cpu = Vec::with_capacity(FRAMES);
    for i in 0..WARMUP + FRAMES {
        app.handle(AppEvent::Snapshot(snaps[i % snaps.len()].clone()));
        let (t0, c0) = (Instant::now(), thread_cpu());
        term.draw(|f| app.draw(f)).expect("draw");
        let (dt, dc) = (t0.elapsed(), thread_cpu() - c0);
        if i >= WARMUP {
            wall.push(dt);
            cpu.push(dc);
        }
    }
    report(name, "wall", wall);
    report(name, "thread-cpu", cpu);
}

fn main() {
    let mut test = Terminal::new(TestBackend::new(W, H)).expect("test backend");
    measure("TestBackend", &mut test);
    let mut real = Terminal::with_options(
        CrosstermBackend::new(io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, W, H)),
        },
    )
    .expect("crossterm backend");
    measure("CrosstermBackend -> sink", &mut real);
}
