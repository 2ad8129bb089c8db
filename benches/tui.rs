//! Frame render time of the performance screen at 200×60 with every pane busy.
//!
//! Each frame changes the transport position, the beat flash and the piano rolls (as while
//! playing), then draws through ratatui twice over: into a `TestBackend` (layout + widgets +
//! buffer diff) and through a `CrosstermBackend` writing escape sequences into a sink (what a
//! real terminal frame costs the UI thread, minus the write(2)). Prints p50 / p99 / max.
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

fn measure<B: Backend>(name: &str, term: &mut Terminal<B>) {
    let mut app = busy_app();
    let snaps: Vec<_> = (0..64).map(frame_snapshot).collect();
    let mut times = Vec::with_capacity(FRAMES);
    for i in 0..WARMUP + FRAMES {
        app.handle(AppEvent::Snapshot(snaps[i % snaps.len()].clone()));
        let t0 = Instant::now();
        term.draw(|f| app.draw(f)).ok().expect("draw");
        let dt = t0.elapsed();
        if i >= WARMUP {
            times.push(dt);
        }
    }
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "tui frame {W}x{H} all panes busy, {name:<26} p50 {:>7.1} µs   p99 {:>7.1} µs   max {:>7.1} µs   ({FRAMES} frames)",
        us(pct(0.50)),
        us(pct(0.99)),
        us(*times.last().unwrap()),
    );
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
