//! `--sync link` end to end: a real Ableton Link peer in this process (another app on the
//! network, as far as Link knows) leads the session; weft's engine, on the real-time clock,
//! must start its bars on the session's bar lines, follow the peer's tempo change and stay in
//! phase, and its `+` must reach the peer. Built only with `--features link`
//! (`make test` runs it so).
#![cfg(feature = "link")]

use rusty_link::{AblLink, SessionState};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::engine::event::{Event, TimedEvent};
use weft::engine::live::link::LinkSync;
use weft::engine::live::sync::{SyncHandoff, TempoSync};
use weft::engine::live::{self, Command, LiveConfig, SystemClock};

struct Collect(Sender<TimedEvent>);
impl weft::outputs::EventOut for Collect {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        for e in events {
            let _ = self.0.send(*e);
        }
        0
    }
}

fn session(peer: &AblLink) -> SessionState {
    let mut s = SessionState::new();
    peer.capture_app_session_state(&mut s);
    s
}

/// How far (in ms) the session's bar phase at `micros` is from a bar line.
fn bar_error_ms(peer: &AblLink, micros: i64) -> f64 {
    let s = session(peer);
    let phase = s.phase_at_time(micros, 4.0);
    let beats = phase.min(4.0 - phase);
    beats * 60_000.0 / s.tempo()
}

#[test]
fn weft_follows_a_link_sessions_bars_and_tempo_and_proposes_its_own() {
    // The peer that leads: 100 BPM.
    let peer = AblLink::new(100.0);
    peer.enable(true);
    std::thread::sleep(Duration::from_millis(200));
    let mut sync = LinkSync::join(120.0);
    let t = Instant::now();
    // The peers meet and share one session (which of the two timelines wins is Link's
    // choice); then the peer sets the session's tempo to 100 and weft's instance sees it.
    let mut proposed = false;
    loop {
        sync.refresh();
        if sync.peers() > 0 && (session(&peer).tempo() - sync.tempo()).abs() < 1e-3 {
            if (sync.tempo() - 100.0).abs() < 1e-3 {
                break;
            }
            if !proposed {
                let mut s = session(&peer);
                s.set_tempo(100.0, peer.clock_micros());
                peer.commit_app_session_state(&s);
                proposed = true;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "Link peers never shared a session at 100 BPM: {} peers, weft {} BPM, peer {} BPM",
            sync.peers(),
            sync.tempo(),
            session(&peer).tempo()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bars.rhai"),
        // One kick on every bar line.
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x ~ ~ ~\");\n",
    )
    .unwrap();
    let mut cfg = LiveConfig::new(dir.path());
    cfg.sync = Some(SyncHandoff::new(Box::new(sync), None));
    let clock = SystemClock::new(48_000);
    // The engine's frame 0 on Link's clock (both count from "now").
    let link0 = peer.clock_micros();
    let micros = |frame: u64| link0 + (frame as f64 * 1e6 / 48_000.0).round() as i64;
    let (tx, rx) = channel();
    let steps: live::StepFactory = Arc::new(|| Box::new(weft::patch::NoModels));
    let h = live::start(cfg, Box::new(clock), Some(Box::new(Collect(tx))), steps).unwrap();

    let kicks = |until: Instant| {
        let mut v = Vec::new();
        while Instant::now() < until {
            if let Ok(e) = rx.recv_timeout(Duration::from_millis(10)) {
                if matches!(e.event, Event::NoteOn { .. }) {
                    v.push(e.frame);
                }
            }
        }
        v
    };
    // Four bars at 100 BPM (2.4 s each) would be 9.6 s; three are enough.
    let first = kicks(Instant::now() + Duration::from_millis(7_500));
    assert!(first.len() >= 2, "kicks: {first:?}");
    for f in &first {
        let err = bar_error_ms(&peer, micros(*f));
        assert!(err < 2.0, "a kick {err:.2} ms off the session's bar line");
    }

    // The peer changes the tempo: weft follows and stays on the bar lines.
    let mut s = session(&peer);
    s.set_tempo(150.0, peer.clock_micros());
    peer.commit_app_session_state(&s);
    let _settle = kicks(Instant::now() + Duration::from_millis(2_000));
    let after = kicks(Instant::now() + Duration::from_millis(5_000));
    assert!(after.len() >= 2, "kicks after the change: {after:?}");
    for f in &after {
        let err = bar_error_ms(&peer, micros(*f));
        assert!(err < 2.0, "after the change a kick is {err:.2} ms off");
    }
    for w in after.windows(2) {
        let secs = (w[1] - w[0]) as f64 / 48_000.0;
        assert!(
            (secs - 1.6).abs() < 0.003,
            "a bar at 150 BPM is 1.6 s, not {secs:.4}"
        );
    }

    // weft's `+` proposes 151 to the session.
    h.command(Command::TempoDelta(1.0));
    let t = Instant::now();
    // (Link carries tempi as microseconds per beat: 151 comes back as 150.999997.)
    while (session(&peer).tempo() - 151.0).abs() > 1e-3 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the peer never saw weft's tempo: {}",
            session(&peer).tempo()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.command(Command::Quit);
    h.join();
}
