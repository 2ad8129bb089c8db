//! MIDI out onset jitter **at a JACK receiver**: weft's JACK MIDI sink (`outputs::midi`,
//! messages written at their frame inside the period) against a JACK client in this process
//! that timestamps each message by its frame (cycle start + offset, on JACK's µs clock).
//! The schedule is the bench's: 64 notes per beat at 120 BPM (128 notes, 256 note messages
//! a second) on a `SystemClock` at 48 kHz, handed over the way the scheduler thread does it
//! (every 2 ms, everything within a 50 ms lookahead). Prints p50/p99/max of |received − due|.
//!
//! Needs a running JACK server (no sound card needed):
//! `JACK_NO_AUDIO_RESERVATION=1 jackd -n bench -d dummy -r 48000 -p 256 &` then
//! `JACK_DEFAULT_SERVER=bench cargo bench --profile dev --bench midi_jack_jitter -- [SECONDS]`
//! (default 60; the figure is 600).
//!
//! Besides the timing it prints where messages went: scheduled, handed to the sink (the
//! sender's count), received, lost (scheduled and never received), the receiver's xruns
//! (cycles JACK could not complete in time), and the due times of the lost messages and of
//! the xruns, so a loss can be put next to its cause.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft::engine::event::{Event, Sound, TimedEvent};
use weft::engine::live::{Clock, SystemClock};
use weft::outputs::midi::{MidiOptions, MidiOut};
use weft::outputs::EventOut;

struct Rx {
    port: jack::Port<jack::MidiIn>,
    tx: rtrb::Producer<(u64, u8, u8)>,
}

/// Xruns seen by the receiving client (JACK µs time of each).
struct Xruns(Arc<Mutex<Vec<u64>>>);

impl jack::NotificationHandler for Xruns {
    fn xrun(&mut self, c: &jack::Client) -> jack::Control {
        if let Ok(mut v) = self.0.lock() {
            v.push(c.time());
        }
        jack::Control::Continue
    }
}

impl jack::ProcessHandler for Rx {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let n = ps.n_frames() as u64;
        let Ok(ct) = ps.cycle_times() else {
            return jack::Control::Continue;
        };
        // JACK's DLL can report next < current around an xrun: then the nominal period.
        let span = match ct.next_usecs.saturating_sub(ct.current_usecs) {
            0 => ct.period_usecs as u64,
            s => s,
        };
        for m in self.port.iter(ps) {
            if m.bytes[0] & 0xE0 == 0x80 {
                let t = ct.current_usecs + m.time as u64 * span / n;
                let _ = self.tx.push((t, m.bytes[0], m.bytes[1]));
            }
        }
        jack::Control::Continue
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
    let per_note = SR * 60 / 120 / 64; // 375 frames
    let total = secs * SR / per_note;
    let (client, _) = jack::Client::new("bench_rx", jack::ClientOptions::NO_START_SERVER)
        .expect("a running JACK server (see the doc comment)");
    let period = client.buffer_size();
    let port = client.register_port("in", jack::MidiIn::default()).unwrap();
    let (tx, mut rx) = rtrb::RingBuffer::new(2 * total as usize + 1024);
    let xruns = Arc::new(Mutex::new(Vec::new()));
    let rx_client = client
        .activate_async(Xruns(xruns.clone()), Rx { port, tx })
        .unwrap();
    let (sink, said) = weft::outputs::midi::open("bench_rx").unwrap();
    eprintln!("{said}");
    let clock = SystemClock::new(SR as u32);
    let (j0, i0) = (rx_client.as_client().time(), Instant::now());
    let start = i0 - Duration::from_nanos(clock.now() * 1_000_000_000 / SR);
    let board = weft::outputs::OutputBoard::default();
    let slot = board.register(weft::outputs::OutputStatus::new("midi out", "bench_rx"));
    let mut out = MidiOut::start_reporting(
        sink,
        Box::new(SystemClock::new(SR as u32)),
        MidiOptions {
            notes: true,
            clock: false,
        },
        Some(slot),
    )
    .unwrap();
    let lead = SR / 4;
    let mut due: Vec<(u64, u8, u8)> = Vec::new();
    let mut next = 0u64;
    let mut batch = Vec::new();
    while next < total {
        let horizon = clock.now() + SR / 20;
        batch.clear();
        while next < total && lead + next * per_note <= horizon {
            let f = lead + next * per_note;
            let key = (next % 100) as u8;
            let sound = Sound {
                program: weft::patch::UNSET_PROGRAM,
                ..Sound::default()
            };
            batch.push(TimedEvent {
                tick: next,
                frame: f,
                event: Event::NoteOn {
                    track: 0,
                    channel: 0,
                    key,
                    vel: 100,
                    sound,
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
            due.push((f, 0x90, key));
            due.push((f + per_note / 2, 0x80, key));
            next += 1;
        }
        out.send(&batch);
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(200));
    drop(out);
    std::thread::sleep(Duration::from_millis(100));
    let mut got = Vec::new();
    while let Ok(x) = rx.pop() {
        got.push(x);
    }
    drop(rx_client);
    // Pair each received message with the next scheduled one of the same status and key
    // (in order); scheduled messages skipped over were lost.
    let mut j = 0;
    let mut dev: Vec<f64> = Vec::new();
    let mut lost_at: Vec<f64> = Vec::new();
    for (t, st, key) in &got {
        while j < due.len() && (due[j].1, due[j].2) != (*st, *key) {
            lost_at.push(due[j].0 as f64 / SR as f64);
            j += 1;
        }
        let Some((f, _, _)) = due.get(j) else { break };
        let d = start + Duration::from_nanos(f * 1_000_000_000 / SR);
        let due_us = j0 as f64 + (d.duration_since(i0)).as_secs_f64() * 1e6;
        dev.push((*t as f64 - due_us) / 1e3);
        j += 1;
    }
    for d in &due[j.min(due.len())..] {
        lost_at.push(d.0 as f64 / SR as f64);
    }
    let lost = due.len() - dev.len();
    let (handed, unwritten) = board
        .snapshot()
        .first()
        .map_or((0, 0), |s| (s.sent, s.dropped));
    // Xruns as seconds on the schedule's clock (frame 0 = `start`).
    let xrun_at: Vec<f64> = xruns
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default()
        .iter()
        .map(|&x| (x as f64 - j0 as f64) / 1e6 + i0.duration_since(start).as_secs_f64())
        .collect();
    let secs_list = |v: &[f64]| {
        v.iter()
            .take(20)
            .map(|s| format!("{s:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "midi_jack_jitter: scheduled {}, handed to the sink {handed} (sender count, includes the closing panic), refused by weft's port buffer {unwritten}, received {}, lost {lost}; receiver xruns {}; lost within 25 ms of a receiver xrun: {}",
        due.len(),
        got.len(),
        xrun_at.len(),
        lost_at
            .iter()
            .filter(|l| xrun_at.iter().any(|x| (*x - **l).abs() < 0.025))
            .count()
    );
    if lost > 0 || !xrun_at.is_empty() {
        println!("  lost messages due at (s): {}", secs_list(&lost_at));
        println!("  xruns at (s): {}", secs_list(&xrun_at));
    }
    let n = dev.len();
    let mut abs: Vec<f64> = dev.iter().map(|d| d.abs()).collect();
    println!(
        "midi_jack_jitter: {n} note messages over {secs} s at 64 notes/beat, 120 BPM, JACK period {period}, {lost} lost: |received-due| p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; signed p50 {:.3} ms",
        pct(&mut abs, 0.5),
        pct(&mut abs, 0.99),
        pct(&mut abs, 1.0),
        pct(&mut dev, 0.5),
    );
}
