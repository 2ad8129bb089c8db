//! An analysis patch in the headless engine: feature frames reach `on_features`, and its
//! `param(...)` changes reach the synth's event stream (and the notes started after them).
//! The engine runs on a [`ManualClock`] the tests step a bar at a time, so which notes come
//! before and after a param change does not depend on how loaded the machine is; the waits
//! are bounded polls (hang guards), never assertions on elapsed time.

use std::fs;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft::analysis::Features;
use weft::engine::event::{Event, Param, TimedEvent};
use weft::engine::live::{self, LiveConfig, ManualClock, SystemClock};
use weft::outputs::EventOut;
use weft::patch::NoModels;

struct Capture(Arc<Mutex<Vec<TimedEvent>>>);
impl EventOut for Capture {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        self.0.lock().unwrap().extend_from_slice(events);
        0
    }
}

type Captured = Arc<Mutex<Vec<TimedEvent>>>;

/// At 240 BPM and 48 kHz a bar is one second.
const BAR: u64 = 48_000;

/// A headless engine on `dir` holding a saw bass (cutoff 500 Hz) and `listen`, on a manual
/// clock, with a capture of its events and the sender that plays the analyzer's part.
fn start_bass_and_listener(
    dir: &std::path::Path,
    listen: &str,
) -> (
    live::LiveHandle,
    ManualClock,
    Captured,
    mpsc::SyncSender<Features>,
) {
    fs::write(
        dir.join("bass.rhai"),
        "voice(\"bass\", #{ synth: \"saw\", cutoff: 500.0 }).pattern(\"a2*8\");\n",
    )
    .unwrap();
    fs::write(dir.join("listen.rhai"), listen).unwrap();
    let mut cfg = LiveConfig::new(dir);
    cfg.tempo = Some(240.0);
    let captured = Arc::new(Mutex::new(Vec::new()));
    let (ftx, frx) = mpsc::sync_channel(64);
    let steps: live::StepFactory = Arc::new(|| Box::new(NoModels));
    let clock = ManualClock::new(48_000);
    let h = live::start_with_features(
        cfg,
        Box::new(clock.clone()),
        Some(Box::new(Capture(captured.clone()))),
        steps,
        Some(frx.into()),
    )
    .unwrap();
    (h, clock, captured, ftx)
}

/// The bass's note-ons captured so far.
fn note_ons(captured: &Captured) -> usize {
    captured
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e.event, Event::NoteOn { .. }))
        .count()
}

/// Moves the clock a bar and waits until the engine has handed over more note-ons than
/// before (a hang guard of 30 s, not a timing assertion).
fn play_a_bar(clock: &ManualClock, captured: &Captured) {
    let before = note_ons(captured);
    clock.advance(BAR);
    let t = Instant::now();
    while note_ons(captured) <= before {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the engine handed over no note for a bar"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `f` and moves the clock a sixteenth of a bar (a param change reaches the stream
/// with the next planned stretch) every 50 ms, until a cutoff `param` of `value` reaches the
/// event stream (true), or `limit` passes (a hang guard).
fn feed_until_cutoff(
    clock: &ManualClock,
    ftx: &mpsc::SyncSender<Features>,
    f: Features,
    captured: &Captured,
    value: f32,
    limit: Duration,
) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        let _ = ftx.try_send(f);
        std::thread::sleep(Duration::from_millis(50));
        clock.advance(BAR / 16);
        let seen = captured.lock().unwrap().iter().any(|e| {
            matches!(e.event, Event::Param { param: Param::Cutoff, value: v, .. } if (v - value).abs() < 1e-3)
        });
        if seen {
            return true;
        }
    }
    false
}

#[test]
fn on_features_params_change_what_the_synth_plays() {
    let dir = tempfile::tempdir().unwrap();
    let listen =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/listen.rhai")).unwrap();
    let (h, clock, captured, ftx) = start_bass_and_listener(dir.path(), &listen);
    // A bar of the bass before any frame: these notes keep the patch's 500 Hz.
    play_a_bar(&clock, &captured);
    // A bright frame: centroid 3000 Hz → cutoff 300 + 1500 = 1800 Hz.
    let f = Features {
        centroid: 3000.0,
        onset: true,
        ..Default::default()
    };
    let seen_param = feed_until_cutoff(&clock, &ftx, f, &captured, 1800.0, Duration::from_secs(5));
    assert!(seen_param, "the param change reached the synth's stream");
    // A bar after it: every note started after the change carries the new cutoff.
    play_a_bar(&clock, &captured);
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

#[test]
fn analyze_settings_of_the_latest_patch_drive_the_live_analyzer() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("beat.rhai"),
        "voice(\"k\").pattern(\"c2*4\");\n",
    )
    .unwrap();
    let cfg = LiveConfig::new(dir.path());
    // A real analyzer thread; nothing is fed to it, only its settings are watched.
    let (_prod, cons) = rtrb::RingBuffer::<f32>::new(1 << 12);
    let (atx, arx) = mpsc::sync_channel(64);
    let analyzer =
        weft::analysis::live::spawn(cons, weft::analysis::AnalyzerConfig::new(48_000), atx)
            .unwrap();
    let steps: live::StepFactory = Arc::new(|| Box::new(NoModels));
    let h = live::start_with_features(
        cfg,
        Box::new(SystemClock::new(48_000)),
        None,
        steps,
        Some(live::FeatureLink {
            frames: arx,
            control: Some(analyzer.control()),
        }),
    )
    .unwrap();
    let wait_for = |want: (usize, usize)| {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            let s = analyzer.stats();
            if (s.fft, s.hop) == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    };
    let listen = dir.path().join("listen.rhai");
    fs::write(
        &listen,
        "analyze(#{ fft: 4096, hop: 1024 });\nfn on_features(f) { }\n",
    )
    .unwrap();
    assert!(wait_for((4096, 1024)), "{:?}", analyzer.stats());
    fs::write(
        &listen,
        "analyze(#{ fft: 1024, hop: 256 });\nfn on_features(f) { }\n",
    )
    .unwrap();
    assert!(wait_for((1024, 256)), "{:?}", analyzer.stats());
    fs::remove_file(&listen).unwrap();
    assert!(wait_for(live::DEFAULT_ANALYSIS), "{:?}", analyzer.stats());
    let lines: Vec<String> = h
        .reports
        .try_iter()
        .filter_map(|r| live::describe_report(&r))
        .filter(|l| l.starts_with("analysis:"))
        .collect();
    assert_eq!(
        lines,
        [
            "analysis: fft 4096, hop 1024 (asked by listen.rhai)",
            "analysis: fft 1024, hop 256 (asked by listen.rhai)",
            "analysis: fft 2048, hop 512 (default)",
        ]
    );
    drop(h);
}

#[test]
fn on_features_gets_only_the_features_the_patch_names() {
    let dir = tempfile::tempdir().unwrap();
    // The param is only sent if the map holds exactly the one feature asked for.
    let (h, clock, captured, ftx) = start_bass_and_listener(
        dir.path(),
        "analyze(#{ features: [\"centroid\"] });\n\
         fn on_features(f) {\n\
           if f.len() == 1 && f.rms == () { param(\"bass.cutoff\", f.centroid); }\n\
         }\n",
    );
    play_a_bar(&clock, &captured);
    let f = Features {
        centroid: 2345.0,
        rms: 0.3,
        ..Default::default()
    };
    let seen = feed_until_cutoff(&clock, &ftx, f, &captured, 2345.0, Duration::from_secs(10));
    drop(h);
    assert!(seen, "on_features saw exactly the named feature");
}

#[test]
fn a_runaway_on_features_is_turned_off_for_that_version() {
    let dir = tempfile::tempdir().unwrap();
    // Loud frames make it run away; quiet ones would set the cutoff — if it were still called.
    let listen =
        "fn on_features(f) { if f.rms > 0.5 { loop {} } param(\"bass.cutoff\", 900.0); }\n";
    let (h, clock, captured, ftx) = start_bass_and_listener(dir.path(), listen);
    play_a_bar(&clock, &captured);
    let loud = Features {
        rms: 0.9,
        ..Default::default()
    };
    let quiet = Features {
        rms: 0.1,
        ..Default::default()
    };
    // Wait for the runaway's report (it says the callback is off now).
    let t = Instant::now();
    let mut reported = None;
    while reported.is_none() && t.elapsed() < Duration::from_secs(20) {
        let _ = ftx.try_send(loud);
        if let Ok(live::Report::Notice(n)) = h.reports.recv_timeout(Duration::from_millis(50)) {
            // A deadline overrun is forgiven once (a busy machine); the second in a row, or
            // the operation budget, turns the callback off.
            let line = live::describe(&n);
            if matches!(n, weft::engine::scheduler::Notice::RuntimeError { .. })
                && line.contains("off for this version")
            {
                reported = Some(line);
            }
        }
    }
    let reported = reported.expect("the runaway was reported");
    assert!(reported.contains("off for this version"), "{reported}");
    assert!(
        !feed_until_cutoff(
            &clock,
            &ftx,
            quiet,
            &captured,
            900.0,
            Duration::from_secs(2)
        ),
        "on_features ran again after running away"
    );
    drop(h);
}
