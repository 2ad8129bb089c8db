//! CPU and wake-ups of the `weft-stream` thread: starts a live engine over a bank with one
//! streamed file (12 s, 48 kHz mono), lets it sit idle for `SECS` seconds, then plays a
//! streamed note at real-time pace for `SECS` seconds, and prints for each phase the
//! thread's CPU time (utime + stime from /proc/self/task/TID/stat, in clock ticks of
//! 10 ms) and voluntary context switches (its sleeps, from .../status).
//!
//!     cargo run --example stream_idle [-- SECS]

use std::time::{Duration, Instant};

use weft::engine::event::{Event, Sound, SynthKind, TimedEvent};
use weft::sound::synth::{Engine, SynthConfig};

const SR: u32 = 48_000;

/// (CPU ticks, voluntary context switches) of the thread named `weft-stream`.
fn stream_thread() -> Option<(u64, u64)> {
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != "weft-stream" {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
        // Fields after the `(comm)`: state is field 3; utime and stime are 14 and 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        let status = std::fs::read_to_string(t.path().join("status")).ok()?;
        let vol = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
            .trim()
            .parse()
            .ok()?;
        return Some((ticks, vol));
    }
    None
}

fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::args().nth(1).map_or(Ok(10), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("long"))?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SR,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.path().join("long/a.wav"), spec)?;
    let mut x = 1u32;
    for _ in 0..12 * SR {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        w.write_sample((x >> 16) as i16 / 4)?;
    }
    w.finalize()?;
    let (mut engine, warnings) = Engine::new(SynthConfig {
        sample_rate: SR,
        polyphony: 16,
        samples_dir: Some(dir.path().to_path_buf()),
        soundfont: None,
        master_chain: false,
        bank_swap: None,
    })?;
    for w in warnings {
        eprintln!("{w}");
    }
    std::thread::sleep(Duration::from_millis(100));
    let a = stream_thread().ok_or_else(|| anyhow::anyhow!("no weft-stream thread"))?;
    std::thread::sleep(Duration::from_secs(secs));
    let b = stream_thread().ok_or_else(|| anyhow::anyhow!("no weft-stream thread"))?;
    println!(
        "idle   {secs} s: {} ticks CPU ({:.2} %), {} wake-ups ({:.0}/s)",
        b.0 - a.0,
        (b.0 - a.0) as f64 / (secs as f64 * 100.0) * 100.0,
        b.1 - a.1,
        (b.1 - a.1) as f64 / secs as f64
    );
    // A note from past the head, played at real-time pace, 256-frame blocks.
    let mut note = Some(TimedEvent {
        tick: 0,
        frame: 0,
        event: Event::NoteOn {
            track: 0,
            channel: 0,
            key: 60,
            vel: 100,
            sound: Sound {
                synth: SynthKind::Sample,
                folder: 1,
                begin: 0.2,
                sustain: 1.0,
                ..Sound::default()
            },
        },
    });
    let mut out = vec![0.0f32; 512];
    let start = Instant::now();
    let mut at = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        engine.process(at, &mut out, &mut |_| note.take());
        at += 256;
        let due = Duration::from_secs_f64(at as f64 / SR as f64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let c = stream_thread().ok_or_else(|| anyhow::anyhow!("no weft-stream thread"))?;
    println!(
        "active {secs} s: {} ticks CPU ({:.2} %), {} wake-ups ({:.0}/s), {} late frames",
        c.0 - b.0,
        (c.0 - b.0) as f64 / (secs as f64 * 100.0) * 100.0,
        c.1 - b.1,
        (c.1 - b.1) as f64 / secs as f64,
        engine.stream_underruns()
    );
    Ok(())
}
