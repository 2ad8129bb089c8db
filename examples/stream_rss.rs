//! Peak memory of playing a long sample file: writes a WAV of `MINUTES` minutes (48 kHz mono
//! 16-bit noise) into a temporary bank, renders one note of it to its end through an offline
//! engine (output discarded block by block), and prints the process's peak RSS (VmHWM) after
//! loading and after rendering, with the render's speed.
//!
//!     cargo run --example stream_rss [-- MINUTES [whole]]
//!
//! `whole` decodes the file into memory instead of streaming it (the pre-streaming path,
//! capped at `MAX_SAMPLE_SECS`), for comparison. Run each mode in its own process: VmHWM is
//! the peak of the whole process.

use std::io::Write;
use std::time::Instant;

use weft::engine::event::{Event, Sound, SynthKind, TimedEvent};
use weft::sound::synth::{Engine, StreamOptions, SynthConfig};

const SR: u32 = 48_000;

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let minutes: u64 = args.get(1).map_or(Ok(30), |a| a.parse())?;
    let whole = args.get(2).is_some_and(|a| a == "whole");
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("long"))?;
    let frames = minutes * 60 * SR as u64;
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SR,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(dir.path().join("long/a.wav"), spec)?;
        // A second at a time (a writer sized for the whole file would hold it in memory).
        let mut x = 1u32;
        let mut left = frames;
        while left > 0 {
            let n = left.min(SR as u64);
            let mut i16w = w.get_i16_writer(n as u32);
            for _ in 0..n {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                i16w.write_sample((x >> 16) as i16 / 4);
            }
            i16w.flush()?;
            left -= n;
        }
        w.finalize()?;
    }
    println!(
        "{minutes} min WAV written ({} MB); peak RSS so far {:.1} MB",
        (frames * 2) >> 20,
        peak_rss_mb()
    );
    let cfg = SynthConfig {
        sample_rate: SR,
        polyphony: 64,
        samples_dir: Some(dir.path().to_path_buf()),
        soundfont: None,
        master_chain: true,
        bank_swap: None,
    };
    let stream = if whole {
        StreamOptions {
            after_secs: f32::INFINITY,
        }
    } else {
        StreamOptions::default()
    };
    let t = Instant::now();
    let (mut engine, warnings) = Engine::with_streaming(cfg, stream, true)?;
    for w in &warnings {
        println!("warning: {w}");
    }
    println!(
        "{} bank loaded in {:.2} s; peak RSS {:.1} MB",
        if whole { "whole-decoded" } else { "streamed" },
        t.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
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
                ..Sound::default()
            },
        },
    });
    let mut out = vec![0.0f32; 2 * 512];
    let t = Instant::now();
    let mut at = 0u64;
    let mut energy = 0.0f64;
    while at < frames + 512 {
        engine.process(at, &mut out, &mut |_| note.take());
        energy += out.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>();
        at += 512;
        if at % (SR as u64 * 300) < 512 {
            print!(".");
            std::io::stdout().flush()?;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "\nrendered {:.0} s of audio in {secs:.1} s ({:.0}x real time); still sounding: {}; rms {:.4}; underruns {}",
        at as f64 / SR as f64,
        at as f64 / SR as f64 / secs,
        engine.active_voices(),
        (energy / (2.0 * at as f64)).sqrt(),
        engine.stream_underruns()
    );
    println!("peak RSS after the render: {:.1} MB", peak_rss_mb());
    Ok(())
}
