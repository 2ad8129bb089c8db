//! Streaming long sample files: a bank's WAV, FLAC and Ogg Vorbis files longer than the
//! threshold keep only their head and tail in memory and the rest is read as notes play.
//! Offline renders pump the streamer in line, so a render with streamed files is
//! byte-identical to the same render with every file decoded whole (mono and stereo, at the
//! engine rate and resampled from 44.1 and 22.05 kHz, from the start, from a `begin` past
//! the head, at several speeds, slices).
//! Live, the streaming thread fills the voices' rings; whatever it did not deliver in time
//! is silence that the underrun counter accounts for.

use std::path::Path;

use weft::engine::event::{Event, Sound, SynthKind, TimedEvent};
use weft::sound::synth::{
    render_with, Bank, Engine, StreamOptions, SynthConfig, HEAD_SECS, STREAM_AFTER_SECS,
};

const SR: u32 = 48_000;

fn noise(seed: u32, n: usize) -> Vec<i16> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as i16 / 2
        })
        .collect()
}

fn write(path: &Path, rate: u32, channels: u16, data: &[i16]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in data {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// `long/a.wav`: 12 s mono at 48 kHz; `long/b.wav`: 12 s stereo at 44.1 kHz.
fn kit(root: &Path) -> Vec<f32> {
    std::fs::create_dir_all(root.join("long")).unwrap();
    let a = noise(3, 12 * SR as usize);
    write(&root.join("long/a.wav"), SR, 1, &a);
    write(
        &root.join("long/b.wav"),
        44_100,
        2,
        &noise(4, 2 * 12 * 44_100),
    );
    a.iter().map(|&x| x as f32 / 32768.0).collect()
}

fn cfg(dir: &Path) -> SynthConfig {
    SynthConfig {
        sample_rate: SR,
        polyphony: 8,
        samples_dir: Some(dir.to_path_buf()),
        soundfont: None,
        master_chain: false,
        bank_swap: None,
    }
}

fn on(frame: u64, sample: u16, begin: f32, end: f32, speed: f32) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::NoteOn {
            track: 0,
            channel: 0,
            key: 60,
            vel: 127,
            sound: Sound {
                synth: SynthKind::Sample,
                attack: 0.0,
                sustain: 1.0,
                gain: 0.5,
                folder: 1,
                sample,
                begin,
                end,
                speed,
                ..Sound::default()
            },
        },
    }
}

const WHOLE: StreamOptions = StreamOptions {
    after_secs: f32::INFINITY,
};

#[test]
fn long_files_are_streamed_and_a_render_equals_the_one_with_files_decoded_whole() {
    let d = tempfile::tempdir().unwrap();
    kit(d.path());
    let mut w = Vec::new();
    let bank = Bank::load(d.path(), SR, &mut w).unwrap();
    assert!(w.is_empty(), "{w:?}");
    for i in 0..2 {
        let s = bank.get(1, i).unwrap();
        let st = s.stream.as_ref().expect("a 12 s file is streamed");
        assert_eq!(st.head, (HEAD_SECS * SR as f32) as usize);
        assert_eq!(s.frames(), st.head, "only the head is in `data`");
        assert!(s.length() > (STREAM_AFTER_SECS * SR as f32) as usize);
    }
    let whole = Bank::load_with(d.path(), SR, WHOLE, &mut w).unwrap();
    assert!(whole.get(1, 1).unwrap().stream.is_none());
    assert_eq!(
        whole.get(1, 1).unwrap().frames(),
        bank.get(1, 1).unwrap().length()
    );
    drop((bank, whole));

    let events = [
        on(0, 0, 0.0, 1.0, 1.0),     // head → ring → tail, to the end
        on(1_000, 1, 0.4, 1.0, 1.5), // resampled stereo from a begin past the head
        on(5_000, 0, 0.5, 1.0, 4.0), // speed 4 from the middle
        on(20_000, 1, 0.3, 0.35, 0.7),
        on(40_000, 0, 0.25, 0.3125, 1.0), // a slice (chop(16)'s fifth)
    ];
    let frames = 12 * SR as u64 + 4_000;
    let opts = StreamOptions::default();
    let (streamed, _) = render_with(&events, frames, cfg(d.path()), opts).unwrap();
    let (decoded, _) = render_with(&events, frames, cfg(d.path()), WHOLE).unwrap();
    assert!(streamed.iter().any(|&x| x != 0.0));
    let first_diff = streamed.iter().zip(&decoded).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "streamed and whole renders differ");
}

#[test]
fn live_the_streaming_thread_fills_the_rings_and_late_frames_are_counted_underruns() {
    let d = tempfile::tempdir().unwrap();
    let n = kit(d.path()).len();
    let (mut engine, w) = Engine::new(cfg(d.path())).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let mut note = Some(on(0, 0, 0.0, 1.0, 1.0));
    let mut left = Vec::with_capacity(n + 512);
    let mut out = vec![0.0f32; 512];
    let mut at = 0u64;
    while left.len() < n + 256 {
        engine.process(at, &mut out, &mut |_| note.take());
        left.extend(out.chunks_exact(2).map(|f| f[0]));
        at += 256;
        // About four times real time: 256 frames are 5.3 ms.
        std::thread::sleep(std::time::Duration::from_micros(1_300));
    }
    let head = (HEAD_SECS * SR as f32) as usize;
    // The head is in memory: always exact.
    let (first, _) = render_with(
        &[on(0, 0, 0.0, 1.0, 1.0)],
        n as u64 + 256,
        cfg(d.path()),
        WHOLE,
    )
    .unwrap();
    let exact: Vec<f32> = first.chunks_exact(2).map(|f| f[0]).collect();
    assert_eq!(&left[..head], &exact[..head]);
    // Every other frame is exact or, where the ring ran dry, silent and counted.
    let mut silent = 0u64;
    for (i, (&got, &x)) in left.iter().zip(&exact).enumerate() {
        if got != x {
            assert_eq!(got, 0.0, "frame {i}: neither the file nor silence");
            silent += 1;
        }
    }
    assert!(
        silent <= engine.stream_underruns(),
        "{silent} silent frames, {} underruns",
        engine.stream_underruns()
    );
    eprintln!(
        "live streaming at ~4x real time: {} underruns",
        engine.stream_underruns()
    );
}

#[test]
fn a_voice_slot_reused_after_a_streamed_note_streams_the_next_one_exactly() {
    let d = tempfile::tempdir().unwrap();
    kit(d.path());
    // A short slice past the head ends with its ring still full; the next note in the same
    // slot starts past the head too and must not hear (or wait behind) the old frames.
    let events = [
        on(0, 0, 0.3, 0.31, 1.0),
        on(20_000, 0, 0.6, 0.7, 1.0),
        on(80_000, 1, 0.5, 0.55, 2.0),
    ];
    let frames = 140_000;
    let (streamed, _) =
        render_with(&events, frames, cfg(d.path()), StreamOptions::default()).unwrap();
    let (decoded, _) = render_with(&events, frames, cfg(d.path()), WHOLE).unwrap();
    assert!(streamed[40_000..].iter().any(|&x| x != 0.0));
    let first_diff = streamed.iter().zip(&decoded).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "streamed and whole renders differ");
}

/// `long/c.flac` (6 s mono, 22.05 kHz) and `long/d.ogg` (6 s stereo Ogg Vorbis, 44.1 kHz),
/// committed fixtures (tests/fixtures/stream/make.sh makes them).
fn coded_kit(root: &Path) {
    std::fs::create_dir_all(root.join("long")).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stream/long");
    for f in ["c.flac", "d.ogg"] {
        std::fs::copy(fixtures.join(f), root.join("long").join(f)).unwrap();
    }
}

#[test]
fn flac_and_ogg_files_stream_and_render_byte_identical_to_whole_decodes() {
    let d = tempfile::tempdir().unwrap();
    coded_kit(d.path());
    // The fixtures are 6 s: stream everything longer than 1 s.
    let opts = StreamOptions { after_secs: 1.0 };
    let mut w = Vec::new();
    let bank = Bank::load_with(d.path(), SR, opts, &mut w).unwrap();
    let whole = Bank::load_with(d.path(), SR, WHOLE, &mut w).unwrap();
    assert!(w.is_empty(), "{w:?}");
    for i in 0..2 {
        let s = bank.get(1, i).unwrap();
        let st = s.stream.as_ref().expect("a 6 s file is streamed");
        assert_eq!(s.frames(), st.head);
        let full = whole.get(1, i).unwrap();
        assert!(full.stream.is_none());
        assert_eq!(
            full.frames(),
            s.length(),
            "file {i}: streamed and whole lengths"
        );
        assert_eq!(&full.data[..s.data.len()], &s.data[..], "file {i}: head");
        assert_eq!(s.channels, [1, 2][i as usize]);
    }
    drop((bank, whole));

    let events = [
        on(0, 0, 0.0, 1.0, 1.0),       // FLAC: head → ring → tail, to the end
        on(1_000, 1, 0.0, 1.0, 1.0),   // Ogg: the same
        on(3_000, 1, 0.45, 1.0, 1.5),  // Ogg from a begin past the head (a seek)
        on(9_000, 0, 0.5, 1.0, 4.0),   // FLAC at speed 4 from the middle
        on(30_000, 0, 0.35, 0.4, 0.7), // FLAC: a slice, seeking back
        on(60_000, 1, 0.4, 0.45, 1.0), // Ogg: seeking back
    ];
    let frames = 6 * SR as u64 + 4_000;
    let (streamed, _) = render_with(&events, frames, cfg(d.path()), opts).unwrap();
    let (decoded, _) = render_with(&events, frames, cfg(d.path()), WHOLE).unwrap();
    // The part between head and tail was heard.
    let head = 2 * (HEAD_SECS * SR as f32) as usize;
    assert!(streamed[head..head + 2 * SR as usize]
        .iter()
        .any(|&x| x != 0.0));
    let first_diff = streamed.iter().zip(&decoded).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "streamed and whole renders differ");
}

/// The audio meters report late streamed frames: a streamed file removed after its bank
/// loaded can never be read, so a note past its head plays silence, every frame of which
/// the meters count (what the status line shows as `stream late N`).
#[test]
fn frames_the_streamer_cannot_deliver_show_in_the_audio_meters() {
    use weft::sound::output::Callback;
    let d = tempfile::tempdir().unwrap();
    kit(d.path());
    let (engine, w) = Engine::new(cfg(d.path())).unwrap();
    assert!(w.is_empty(), "{w:?}");
    std::fs::remove_file(d.path().join("long/a.wav")).unwrap();
    let (mut tx, rx) = rtrb::RingBuffer::new(16);
    tx.push(on(0, 0, 0.5, 1.0, 1.0)).unwrap();
    let mut cb = Callback::new(engine, rx, None);
    let meters = cb.meters();
    let mut out = vec![0.0f32; 512];
    assert_eq!(meters.stats().stream_late, 0);
    for _ in 0..8 {
        cb.render(&mut out, 2);
        assert!(out.iter().all(|&x| x == 0.0));
    }
    // Every frame played, plus the few the voice has read ahead for its interpolation.
    let late = meters.stats().stream_late;
    assert!((8 * 256..8 * 256 + 4).contains(&late), "{late}");
}
