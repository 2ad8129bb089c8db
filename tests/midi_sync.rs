//! `--sync midi` end to end on a real JACK server (the dummy driver: no sound card): a JACK
//! client in this test is the clock master (24 pulses per quarter note written at their
//! frames, Start / Stop); weft's clock input (`weft:midi_in`, connected from the master's
//! port) feeds the engine's follower, on the real-time clock, playing a kick on every beat.
//! weft must take the master's tempo (150, then 100 BPM) within ±0.5 BPM, stop its notes on
//! Stop and play again on Start. The master places its pulses by the system's µs clock, not
//! by counting dummy-driver frames: those cycles run late and uneven (a frame-counted 150 BPM
//! was measured at 144.9–150.0 BPM in wall time), which made this test flaky. Skipped, saying so, only when `jackd` is not installed
//! (`make setup` installs it).

#[path = "support/jack.rs"]
mod jack_server;

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::engine::event::{Event, TimedEvent};
use weft::engine::live::sync::SyncHandoff;
use weft::engine::live::{self, Command, LiveConfig, SystemClock};
use weft::outputs::midi::clock_in::MidiClockSync;

struct Collect(Sender<TimedEvent>);
impl weft::outputs::EventOut for Collect {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        for e in events {
            let _ = self.0.send(*e);
        }
        0
    }
}

const START: u8 = 1;
const STOP: u8 = 2;

/// The clock master: pulses at `bpm` (f64 bits) from its first cycle on, and Start / Stop
/// when `cue` is set (just before the next pulse).
struct Master {
    port: jack::Port<jack::MidiOut>,
    bpm: Arc<AtomicU64>,
    cue: Arc<AtomicU8>,
    /// Pulses written so far, the JACK µs time (the system's monotonic clock) of the last,
    /// and the time skipped: the tempo the master really sent, which is what weft can
    /// follow — the dummy driver's cycles run late on a loaded machine, so its frames are
    /// not wall time, and a cycle over a period late makes the master skip the pulses it
    /// missed and go on from "now" (a phase step; the spacing, the tempo, stays).
    sent: Arc<[AtomicU64; 3]>,
    next: Option<f64>,
}

impl jack::ProcessHandler for Master {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        // Pulses are placed on the system's µs clock, each written at the frame of the cycle
        // that covers its time: the master keeps wall-clock tempo even when the dummy
        // driver's cycles run late (its frames then stand for more than 1/48,000 s).
        let n = ps.n_frames();
        let Ok(c) = ps.cycle_times() else {
            return jack::Control::Continue;
        };
        let (t0, t1) = (c.current_usecs as f64, c.next_usecs as f64);
        let period = 60e6 / f64::from_bits(self.bpm.load(Ordering::Relaxed)) / 24.0;
        let mut next = self.next.unwrap_or(t0);
        if next < t0 - period {
            self.sent[2].fetch_add((t0 - period - next) as u64, Ordering::Relaxed);
            next = t0 - period;
        }
        let mut w = self.port.writer(ps);
        while next < t1 {
            let off = (((next - t0) / (t1 - t0)).max(0.0) * n as f64).min(n as f64 - 1.0) as u32;
            self.sent[0].fetch_add(1, Ordering::Relaxed);
            self.sent[1].store(next.max(t0) as u64, Ordering::Relaxed);
            match self.cue.swap(0, Ordering::Relaxed) {
                START => {
                    let _ = w.write(&jack::RawMidi {
                        time: off,
                        bytes: &[0xFA],
                    });
                }
                STOP => {
                    let _ = w.write(&jack::RawMidi {
                        time: off,
                        bytes: &[0xFC],
                    });
                }
                _ => {}
            }
            let _ = w.write(&jack::RawMidi {
                time: off,
                bytes: &[0xF8],
            });
            next += period;
        }
        self.next = Some(next);
        jack::Control::Continue
    }
}

/// Note-on frames received until `until`.
fn kicks(rx: &Receiver<TimedEvent>, until: Instant) -> Vec<u64> {
    let mut v = Vec::new();
    while Instant::now() < until {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(10)) {
            if matches!(e.event, Event::NoteOn { .. }) {
                v.push(e.frame);
            }
        }
    }
    v
}

/// The master's pulses, the time of the last and the time skipped (see [`Master::sent`]).
fn master_mark(sent: &[AtomicU64; 3]) -> [u64; 3] {
    [0, 1, 2].map(|i| sent[i].load(Ordering::Relaxed))
}

/// The tempo the master sent between two marks: its pulses over the time it spent sending
/// them (without the time it skipped).
fn master_bpm(a: [u64; 3], b: [u64; 3]) -> f64 {
    let skipped = (b[2] - a[2]) as f64;
    if skipped > 0.0 {
        eprintln!("(the master skipped {:.1} ms)", skipped / 1e3);
    }
    (b[0] - a[0]) as f64 / 24.0 / (((b[1] - a[1]) as f64 - skipped) / 60e6)
}

/// The tempo weft played at: from the median gap between beat kicks.
fn tempo(frames: &[u64]) -> f64 {
    let mut gaps: Vec<u64> = frames.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    60.0 * 48_000.0 / gaps[gaps.len() / 2] as f64
}

#[test]
fn weft_follows_a_midi_clock_masters_tempo_start_and_stop() {
    if jack_server::jackd().is_none() {
        eprintln!("SKIPPED: jackd is not installed (run `make setup`)");
        return;
    }
    let server = jack_server::DummyJack::start("midisync", 256);
    std::env::set_var("JACK_DEFAULT_SERVER", &server.name);
    std::env::set_var("JACK_NO_START_SERVER", "1");

    let (client, _) =
        jack::Client::new("master", jack::ClientOptions::NO_START_SERVER).expect("JACK client");
    let port = client
        .register_port("clock", jack::MidiOut::default())
        .unwrap();
    let bpm = Arc::new(AtomicU64::new(150f64.to_bits()));
    let cue = Arc::new(AtomicU8::new(0));
    let sent = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let master = client
        .activate_async(
            (),
            Master {
                port,
                bpm: bpm.clone(),
                cue: cue.clone(),
                sent: sent.clone(),
                next: None,
            },
        )
        .unwrap();

    let (sync, said) = MidiClockSync::open(Some("master")).expect("clock input");
    assert!(said.contains("master:clock"), "{said}");
    let lsp = server.command("jack_lsp").arg("-c").output().unwrap();
    let lsp = String::from_utf8_lossy(&lsp.stdout);
    assert!(lsp.contains("midi_in"), "{lsp}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("beats.rhai"),
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x x x x\");\n",
    )
    .unwrap();
    let mut cfg = LiveConfig::new(dir.path());
    cfg.sync = Some(SyncHandoff::new(Box::new(sync), None));
    let (tx, rx) = channel();
    let steps: live::StepFactory = Arc::new(|| Box::new(weft::patch::NoModels));
    let h = live::start(
        cfg,
        Box::new(SystemClock::new(48_000)),
        Some(Box::new(Collect(tx))),
        steps,
    )
    .unwrap();
    let secs = |s: u64| Instant::now() + Duration::from_millis(s);

    // The master starts (weft already plays; the clock ran before): 150 BPM.
    cue.store(START, Ordering::Relaxed);
    let _settle = kicks(&rx, secs(2_500));
    let m0 = master_mark(&sent);
    let at150 = kicks(&rx, secs(3_000));
    let m = master_bpm(m0, master_mark(&sent));
    assert!(at150.len() >= 5, "kicks at 150: {at150:?}");
    let t = tempo(&at150);
    eprintln!(
        "at 150 BPM: weft plays {t:.3} BPM ({} kicks); the master sent {m:.3}",
        at150.len()
    );
    assert!(
        (m - 150.0).abs() <= 2.0,
        "the dummy server ran far off: {m:.3} BPM"
    );
    assert!(
        (t - m).abs() <= 0.5,
        "weft at {t:.3} BPM, the master at {m:.3}"
    );

    // The master slows to 100 BPM.
    bpm.store(100f64.to_bits(), Ordering::Relaxed);
    let _settle = kicks(&rx, secs(2_500));
    let m0 = master_mark(&sent);
    let at100 = kicks(&rx, secs(3_600));
    let m = master_bpm(m0, master_mark(&sent));
    assert!(at100.len() >= 5, "kicks at 100: {at100:?}");
    let t = tempo(&at100);
    eprintln!(
        "at 100 BPM: weft plays {t:.3} BPM ({} kicks); the master sent {m:.3}",
        at100.len()
    );
    assert!(
        (m - 100.0).abs() <= 2.0,
        "the dummy server ran far off: {m:.3} BPM"
    );
    assert!(
        (t - m).abs() <= 0.5,
        "weft at {t:.3} BPM, the master at {m:.3}"
    );

    // Stop: after what was already planned (the lookahead) no more notes.
    cue.store(STOP, Ordering::Relaxed);
    let _drain = kicks(&rx, secs(600));
    let stopped = kicks(&rx, secs(2_500));
    assert!(
        stopped.is_empty(),
        "notes after the master stopped: {stopped:?}"
    );

    // Start: weft plays again, at the master's tempo, from the master's next bar line at
    // weft's bar position (the master's first one comes too soon for the lookahead).
    cue.store(START, Ordering::Relaxed);
    // weft's patterns resume at its next bar line: up to two bars (4.8 s) to the first kick.
    let m0 = master_mark(&sent);
    let again = kicks(&rx, secs(7_500));
    let m = master_bpm(m0, master_mark(&sent));
    assert!(again.len() >= 3, "kicks after Start: {again:?}");
    let t = tempo(&again);
    eprintln!(
        "after Start: weft plays {t:.3} BPM ({} kicks); the master sent {m:.3}",
        again.len()
    );
    assert!(
        (t - m).abs() <= 0.5,
        "weft at {t:.3} BPM after Start, the master at {m:.3}"
    );

    h.command(Command::Quit);
    h.join();
    drop(master);
}

#[test]
fn without_a_clock_source_weft_says_so_once_and_plays_at_the_patch_tempo() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(
        scripts.join("p.rhai"),
        "voice(\"p\", #{ synth: \"saw\" }).pattern(\"x x\");\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["play", "--headless", "--null-audio", "--tempo", "240"])
        .args(["--bars", "2", "--sync", "midi", "--record"])
        .arg(dir.path().join("take.mid"))
        .arg("--record-dir")
        .arg(dir.path().join("rec"))
        .arg(&scripts)
        .env("JACK_DEFAULT_SERVER", "weft-no-such-server")
        .env("JACK_NO_START_SERVER", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // No JACK server: the ALSA sequencer, if the machine has one (then weft:midi_in waits
    // for a clock), else no source at all.
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("--sync midi: no MIDI input") || l.contains("weft:midi_in"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    let take = weft::record::smf::read(
        &std::fs::read(dir.path().join("take.mid")).unwrap(),
        "take.mid",
    )
    .unwrap();
    assert_eq!(take.notes.len(), 4, "the music went on");
}
