//! Headless audio: with `--null-audio`, or when no device opens (these CI containers have
//! no sound card), the null sink keeps the audio clock and the analyzer tap advancing in
//! real time, and events still become sound on the tap.

use std::time::{Duration, Instant};

use weft::engine::event::{Event, Sound, SynthKind, TimedEvent};
use weft::sound::output::{start, AudioConfig, NULL_SINK};
use weft::sound::synth::SynthConfig;

fn synth_cfg() -> SynthConfig {
    SynthConfig {
        samples_dir: None,
        soundfont: None,
        ..SynthConfig::default()
    }
}

#[test]
fn null_sink_is_paced_by_the_clock_and_feeds_the_tap() {
    let (mut prod, cons) = rtrb::RingBuffer::<TimedEvent>::new(256);
    let (tap_tx, mut tap_rx) = rtrb::RingBuffer::<f32>::new(1 << 17);
    let cfg = AudioConfig {
        null_audio: true,
        ..AudioConfig::default()
    };
    let handle = start(cfg, cons, Some(tap_tx), synth_cfg()).unwrap();
    assert!(handle.is_null());
    assert_eq!(handle.device_name(), NULL_SINK);
    let sr = handle.sample_rate() as f64;
    prod.push(TimedEvent {
        tick: 0,
        frame: handle.now_frame() + 2_400,
        event: Event::NoteOn {
            track: 0,
            channel: 0,
            key: 60,
            vel: 120,
            sound: Sound {
                synth: SynthKind::Saw,
                ..Sound::default()
            },
        },
    })
    .unwrap();
    let t0 = Instant::now();
    let f0 = handle.now_frame();
    std::thread::sleep(Duration::from_millis(500));
    let elapsed = t0.elapsed().as_secs_f64();
    let advanced = (handle.now_frame() - f0) as f64 / sr;
    // Paced: close to real time (an unpaced sink runs thousands of times faster).
    assert!(
        (advanced - elapsed).abs() < 0.15,
        "clock advanced {advanced:.3}s in {elapsed:.3}s"
    );
    let mut peak = 0.0f32;
    while let Ok(x) = tap_rx.pop() {
        peak = peak.max(x.abs());
    }
    assert!(peak > 0.05, "tap heard nothing: {peak}");
    assert!(handle.stats().load_pct >= 0.0);
    drop(handle); // joins the thread
}

#[test]
fn without_a_device_start_falls_back_once_with_a_clear_message() {
    let (_prod, cons) = rtrb::RingBuffer::<TimedEvent>::new(16);
    let handle = start(AudioConfig::default(), cons, None, synth_cfg()).unwrap();
    if handle.is_null() {
        let notes: Vec<_> = handle
            .warnings
            .iter()
            .filter(|w| w.starts_with("audio:"))
            .collect();
        assert_eq!(notes.len(), 1, "{:?}", handle.warnings);
        assert!(notes[0].contains("null sink"), "{}", notes[0]);
        assert!(
            notes[0].contains('\''),
            "names the device tried: {}",
            notes[0]
        );
    } else {
        // A machine with a sound card: the device clock must run.
        std::thread::sleep(Duration::from_millis(300));
        assert!(handle.now_frame() > 0);
    }
    let f = handle.now_frame();
    std::thread::sleep(Duration::from_millis(100));
    assert!(handle.now_frame() > f, "audio clock does not advance");
}

#[test]
fn unknown_device_name_is_an_error() {
    let (_prod, cons) = rtrb::RingBuffer::<TimedEvent>::new(16);
    let cfg = AudioConfig {
        device: Some("no-such-device-xyz".into()),
        ..AudioConfig::default()
    };
    let err = start(cfg, cons, None, synth_cfg())
        .err()
        .expect("should fail");
    assert!(err.to_string().contains("no-such-device-xyz"), "{err}");
}
