//! An analysis patch in the headless engine: feature frames reach `on_features`, and its
//! `param(...)` changes reach the synth's event stream (and the notes started after them).

use std::fs;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft::analysis::Features;
use weft::event::{Event, Param, TimedEvent};
use weft::live::{self, EventOut, LiveConfig, SystemClock};
use weft::patch::NoModels;

struct Capture(Arc<Mutex<Vec<TimedEvent>>>);
impl EventOut for Capture {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        self.0.lock().unwrap().extend_from_slice(events);
        0
    }
}

#[test]
fn on_features_params_change_what_the_synth_plays() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("bass.rhai"),
        "voice(\"bass\", #{ synth: \"saw\", cutoff: 500.0 }).pattern(\"a2*8\");\n",
    )
    .unwrap();
    fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/listen.rhai"),
        dir.path().join("listen.rhai"),
    )
    .unwrap();
    let mut cfg = LiveConfig::new(dir.path());
    cfg.tempo = Some(240.0);
    let captured = Arc::new(Mutex::new(Vec::new()));
    let (ftx, frx) = mpsc::sync_channel(64);
    let steps: live::StepFactory = Arc::new(|| Box::new(NoModels));
    let h = live::start_with_features(
        cfg,
        Box::new(SystemClock::new(48_000)),
        Some(Box::new(Capture(captured.clone()))),
        steps,
        Some(frx),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // A bright frame: centroid 3000 Hz → cutoff 300 + 1500 = 1800 Hz.
    let f = Features {
        centroid: 3000.0,
        onset: true,
        ..Default::default()
    };
    let t = Instant::now();
    let mut seen_param = false;
    while t.elapsed() < Duration::from_secs(5) && !seen_param {
        let _ = ftx.try_send(f);
        std::thread::sleep(Duration::from_millis(50));
        seen_param = captured.lock().unwrap().iter().any(|e| {
            matches!(e.event, Event::Param { param: Param::Cutoff, value, .. } if (value - 1800.0).abs() < 1e-3)
        });
    }
    assert!(seen_param, "the param change reached the synth's stream");
    std::thread::sleep(Duration::from_millis(600));
    drop(h);
    let evs = captured.lock().unwrap();
    let param_at = evs
        .iter()
        .position(|e| {
            matches!(
                e.event,
                Event::Param {
                    param: Param::Cutoff,
                    ..
                }
            )
        })
        .unwrap();
    let later: Vec<f32> = evs[param_at..]
        .iter()
        .filter_map(|e| match e.event {
            Event::NoteOn { sound, .. } => Some(sound.cutoff),
            _ => None,
        })
        .collect();
    let earlier: Vec<f32> = evs[..param_at]
        .iter()
        .filter_map(|e| match e.event {
            Event::NoteOn { sound, .. } => Some(sound.cutoff),
            _ => None,
        })
        .collect();
    assert!(
        earlier.iter().all(|c| (*c - 500.0).abs() < 1e-3),
        "{earlier:?}"
    );
    assert!(
        !later.is_empty() && later.iter().all(|c| (*c - 1800.0).abs() < 1e-3),
        "{later:?}"
    );
}
