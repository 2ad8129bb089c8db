//! How fast streamed files are read, per format: renders one note of each committed fixture
//! (tests/fixtures/stream/long: a 6 s 22.05 kHz mono FLAC and a 6 s 44.1 kHz stereo Ogg
//! Vorbis, both resampled to 48 kHz) offline from its start to its end, `REPS` times,
//! streamed (head and tail in memory, the middle read by the streamer in line) and decoded
//! whole, and prints the time per render and the audio seconds rendered per second. Loading
//! the bank is inside each render, as in `weft render`.
//!
//!     cargo run --release --example stream_formats [-- REPS]

use std::path::Path;
use std::time::Instant;

use weft::engine::event::{Event, Sound, SynthKind, TimedEvent};
use weft::sound::synth::{render_with, StreamOptions, SynthConfig};

const SR: u32 = 48_000;

fn main() -> anyhow::Result<()> {
    let reps: u32 = std::env::args().nth(1).map_or(Ok(20), |a| a.parse())?;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stream/long");
    for (file, label) in [("c.flac", "FLAC"), ("d.ogg", "Ogg Vorbis")] {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("long"))?;
        std::fs::copy(fixtures.join(file), dir.path().join("long").join(file))?;
        let cfg = || SynthConfig {
            sample_rate: SR,
            polyphony: 8,
            samples_dir: Some(dir.path().to_path_buf()),
            soundfont: None,
            master_chain: false,
            bank_swap: None,
        };
        let note = TimedEvent {
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
                    sustain: 1.0,
                    ..Sound::default()
                },
            },
        };
        let frames = 6 * SR as u64 + 1_000;
        for (mode, after_secs) in [("streamed", 1.0), ("whole", f32::INFINITY)] {
            let opts = StreamOptions { after_secs };
            let t = Instant::now();
            for _ in 0..reps {
                let (out, w) = render_with(std::slice::from_ref(&note), frames, cfg(), opts)?;
                anyhow::ensure!(w.is_empty(), "{w:?}");
                std::hint::black_box(out);
            }
            let per = t.elapsed().as_secs_f64() / reps as f64;
            println!(
                "{label:10} {mode:8}: {:.1} ms per 6 s render, {:.0}x real time",
                per * 1e3,
                frames as f64 / SR as f64 / per
            );
        }
    }
    Ok(())
}
