//! The audio callback body must not allocate: run it under assert_no_alloc (this test
//! binary installs the allocation-checking global allocator) for many blocks with many
//! events of every kind, including General MIDI through the shipped SoundFont, and every
//! effect: each filter response, distort, crush, coarse, tremolo, the delay (plain and
//! ping-pong) and reverb sends, live changes of every parameter, and sample voices from a
//! bank folder with begin/end, speed (reversed too), loop and cut groups, and sample banks
//! hot-swapped in while it plays (taken from the feed's ring, older ones handed back), and
//! notes of long files (WAV and FLAC) streamed from the streaming thread.

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use weft::engine::event::{Event, FilterMode, Param, Sound, SynthKind, TimedEvent};
use weft::sound::output::Callback;
use weft::sound::synth::{scan, BankSwap, Engine, StreamOptions, SynthConfig};

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

#[test]
fn callback_never_allocates() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.path().join("s.wav"), spec).unwrap();
    for i in 0..2000 {
        w.write_sample(((i * 37) % 2000 - 1000) as i16).unwrap();
    }
    w.finalize().unwrap();
    // A bank folder too (folder 1), so sample notes pick from the flat bank and from it.
    std::fs::create_dir(dir.path().join("bd")).unwrap();
    std::fs::copy(dir.path().join("s.wav"), dir.path().join("bd/a.wav")).unwrap();
    // And a long file (folder 2), streamed: notes of it read from the streaming thread's
    // rings, resampled from 44.1 kHz.
    std::fs::create_dir(dir.path().join("long")).unwrap();
    let mut w = hound::WavWriter::create(dir.path().join("long/a.wav"), spec).unwrap();
    for i in 0..(weft::sound::synth::STREAM_AFTER_SECS as usize + 1) * 44_100 {
        w.write_sample(((i * 37) % 2000) as i16 - 1000).unwrap();
    }
    w.finalize().unwrap();
    // And a 6 s FLAC (22.05 kHz, the committed fixture) in the same folder, streamed too
    // (the engine below streams files longer than 5 s).
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/stream/long/c.flac"
        ),
        dir.path().join("long/c.flac"),
    )
    .unwrap();
    // Banks to hot-swap in: more folders than the synth holds, so older ones are handed back.
    let swaps: Vec<_> = (0..7)
        .map(|k| {
            let d = dir.path().join(format!("kit{k}"));
            std::fs::create_dir_all(d.join("bd")).unwrap();
            std::fs::copy(dir.path().join("s.wav"), d.join("bd/a.wav")).unwrap();
            let listing = scan(&d).unwrap();
            (d, listing)
        })
        .collect();
    let swap = BankSwap::new();
    let cfg = SynthConfig {
        sample_rate: 48_000,
        polyphony: 16, // small, so stealing happens constantly
        samples_dir: Some(dir.path().to_path_buf()),
        soundfont: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/sf_GMbank.sf2").into()),
        master_chain: true,
        bank_swap: Some(swap.clone()),
    };
    let (engine, warnings) =
        Engine::with_streaming(cfg, StreamOptions { after_secs: 5.0 }, false).unwrap();
    assert!(engine.has_soundfont(), "{warnings:?}");
    let (mut prod, cons) = rtrb::RingBuffer::<TimedEvent>::new(4096);
    let (tap_tx, mut tap_rx) = rtrb::RingBuffer::<f32>::new(1 << 16);
    let mut cb = Callback::new(engine, cons, Some(tap_tx));
    let block = 256u64;
    let mut buf = vec![0.0f32; 2 * block as usize];
    let kinds = SynthKind::ALL;
    let mut n = 0u64;
    let mut gens = vec![0u32];
    for b in 0..2_000u64 {
        if b % 150 == 75 {
            // What the compile worker does when a saved patch names another bank.
            let (d, listing) = &swaps[(b / 150) as usize % swaps.len()];
            let mut w = Vec::new();
            gens.push(swap.bind(d, listing, &mut w).unwrap().unwrap());
            assert!(w.is_empty(), "{w:?}");
        }
        // ~12 events per block: notes of every kind, offs and params at odd frames, some late.
        for j in 0..12u64 {
            n += 1;
            let frame =
                (b * block + j * 21 + (n % 7)).saturating_sub(if n % 50 == 0 { 600 } else { 0 });
            let (_, kind) = kinds[(n % kinds.len() as u64) as usize];
            let track = (n % 9) as u16;
            let key = 36 + (n % 48) as u8;
            let event = match n % 4 {
                0 | 1 => Event::NoteOn {
                    track,
                    channel: (n % 16) as u8,
                    key,
                    vel: 1 + (n % 127) as u8,
                    sound: Sound {
                        synth: kind,
                        program: (n % 128) as u8,
                        cutoff: 200.0 + (n % 10) as f32 * 1000.0,
                        filter: [
                            FilterMode::LowPass,
                            FilterMode::HighPass,
                            FilterMode::BandPass,
                        ][(n % 3) as usize],
                        distort: (n % 5) as f32,
                        crush: (n % 17) as f32,
                        coarse: 1.0 + (n % 6) as f32,
                        tremolo: (n % 3) as f32 * 0.4,
                        tremolorate: 1.0 + (n % 9) as f32,
                        delay: (n % 4) as f32 * 0.3,
                        delaytime: 0.125 * (1 + n % 8) as f32,
                        delay_in_secs: n % 5 == 0,
                        delayfeedback: (n % 10) as f32 * 0.1,
                        pingpong: n % 2 == 0,
                        room: (n % 3) as f32 * 0.5,
                        size: (n % 11) as f32 * 0.1,
                        damp: (n % 7) as f32 * 0.15,
                        folder: (n % 3) as u16, // 2 only in the startup bank
                        // The newest bank, an older one (maybe handed back: silence), or one
                        // not pushed yet.
                        bank: match n % 3 {
                            0 => *gens.last().unwrap(),
                            1 => gens[gens.len() / 2],
                            _ => gens.len() as u32 + 3,
                        },
                        sample: (n % 5) as u16,
                        begin: (n % 4) as f32 * 0.2,
                        end: 1.0 - (n % 3) as f32 * 0.2,
                        speed: [1.0, -1.0, 0.5, -2.5, 1.7][(n % 5) as usize],
                        looped: n % 3 == 0,
                        cut: (n % 3) as u8,
                        ..Sound::default()
                    },
                },
                2 => Event::NoteOff {
                    track,
                    channel: (n % 16) as u8,
                    key,
                },
                _ => {
                    let name = Param::NAMES[(n / 4 % Param::NAMES.len() as u64) as usize];
                    let param = Param::from_name(name).unwrap();
                    let (lo, hi) = param.range();
                    Event::Param {
                        track,
                        param,
                        // Anywhere in the range, and sometimes past it (the synth clamps).
                        value: lo + (hi - lo) * ((n % 13) as f32 / 10.0),
                    }
                }
            };
            prod.push(TimedEvent {
                tick: 0,
                frame,
                event,
            })
            .unwrap();
        }
        if b % 10 == 3 {
            // A streamed note from past its head (a request, then frames from the ring) or
            // from its start, forwards at several speeds, reversed (its tail) and looped.
            prod.push(TimedEvent {
                tick: 0,
                frame: b * block + 7,
                event: Event::NoteOn {
                    track: 11,
                    channel: 0,
                    key: 60,
                    vel: 100,
                    sound: Sound {
                        synth: SynthKind::Sample,
                        folder: 2,
                        // The WAV or the FLAC.
                        sample: (b / 30 % 2) as u16,
                        begin: [0.0, 0.3, 0.6, 0.95][(b / 10 % 4) as usize],
                        speed: [1.0, 2.0, 4.0, -1.0, 0.5][(b / 10 % 5) as usize],
                        looped: b % 70 == 63,
                        ..Sound::default()
                    },
                },
            })
            .unwrap();
        }
        assert_no_alloc(|| cb.render(&mut buf, 2));
        assert!(buf.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
        while tap_rx.pop().is_ok() {}
    }
    let meters = cb.meters();
    assert_eq!(meters.now_frame(), 2_000 * block);
    assert!(meters.stats().late_events > 0);
}
