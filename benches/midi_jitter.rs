//! MIDI out onset jitter: how far from its scheduled time each message leaves the sender
//! thread (`outputs::midi`), at 64 notes per beat (120 BPM: 128 notes, 256 messages a second).
//! Events are handed over the way the scheduler thread does it: every 2 ms, everything
//! within a 50 ms lookahead, frames on a `SystemClock` at 48 kHz. The sink timestamps each
//! message as midir would receive it. Prints p50/p99/max of |sent − due|.
//! `cargo bench --bench midi_jitter -- [SECONDS]` (default 60; the figure is 600).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft::engine::event::{Event, Sound, TimedEvent};
use weft::engine::live::SystemClock;
use weft::outputs::midi::{MidiOptions, MidiOut, MidiSink};
use weft::outputs::EventOut;

type Log = Arc<Mutex<Vec<Instant>>>;
struct Stamp(Log);
impl MidiSink for Stamp {
    fn send(&mut self, b: &[u8], _due: Instant) -> Result<(), String> {
        // Only notes: the panic at the end is not scheduled.
        if b[0] & 0xE0 == 0x80 {
            self.0.lock().unwrap().push(Instant::now());
        }
        Ok(())
    }
}

#[path = "support/stats.rs"]
mod stats;
use stats::pct;

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(60);
    const SR: u64 = 48_000;
    let bpm = 120.0;
    let per_note = (SR as f64 * 60.0 / bpm / 64.0) as u64; // 375 frames
    let log: Log = Arc::default();
    let start = Instant::now();
    let clock = SystemClock::new(SR as u32);
    let mut out = MidiOut::start(
        Box::new(Stamp(log.clone())),
        Box::new(SystemClock::new(SR as u32)),
        MidiOptions {
            notes: true,
            clock: false,
        },
    )
    .unwrap();
    use weft::engine::live::Clock;
    let lead = SR / 4;
    let mut due: Vec<u64> = Vec::new();
    let mut next = 0u64; // note index
    let total = secs * SR / per_note;
    let mut batch = Vec::new();
    while next < total {
        let horizon = clock.now() + SR / 20; // 50 ms lookahead
        batch.clear();
        while next < total && lead + next * per_note <= horizon {
            let f = lead + next * per_note;
            let key = (next % 100) as u8;
            batch.push(TimedEvent {
                tick: next,
                frame: f,
                event: Event::NoteOn {
                    track: 0,
                    channel: 0,
                    key,
                    vel: 100,
                    sound: Sound::default(),
                },
            });
            batch.push(TimedEvent {
                tick: next,
                frame: f + per_note / 2,
                event: Event::NoteOff {
                    track: 0,
                    channel: 0,
                    key,
                },
            });
            due.push(f);
            due.push(f + per_note / 2);
            next += 1;
        }
        out.send(&batch);
        std::thread::sleep(Duration::from_millis(2));
    }
    // Let the last ones leave on time, then stop (which flushes).
    std::thread::sleep(Duration::from_millis(100));
    drop(out);
    let sent = log.lock().unwrap().clone();
    assert_eq!(sent.len(), due.len(), "every note message was sent");
    let mut dev: Vec<f64> = sent
        .iter()
        .zip(&due)
        .map(|(s, f)| {
            let d = start + Duration::from_nanos(f * 1_000_000_000 / SR);
            if *s >= d {
                (*s - d).as_secs_f64() * 1e3
            } else {
                -((d - *s).as_secs_f64() * 1e3)
            }
        })
        .collect();
    let n = dev.len();
    let mut abs: Vec<f64> = dev.iter().map(|d| d.abs()).collect();
    println!(
        "midi_jitter: {n} messages over {secs} s at 64 notes/beat, 120 BPM: |sent-due| p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; signed p50 {:.3} ms",
        pct(&mut abs, 0.5),
        pct(&mut abs, 0.99),
        pct(&mut abs, 1.0),
        pct(&mut dev, 0.5),
    );
}
