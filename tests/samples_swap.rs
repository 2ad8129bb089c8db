//! Hot-swapping a sample bank in the live engine, end to end: real files, the real watcher and
//! compile worker, the scheduler on a [`ManualClock`] stepped a beat at a time (as
//! `tests/live_reload.rs` does), and the real synth rendering the events as they are handed
//! over. A saved patch that changes `samples("…")` — to a folder found only through
//! `--samples` — has the new bank loaded off the audio thread and heard from its first note at
//! the bar line; a save naming a missing folder or sample is a `file:line:col` error and the
//! last good patch keeps playing with its bank. Also `weft check --samples`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::engine::event::{Event, SynthKind, TimedEvent};
use weft::engine::live::{self, Command, LiveConfig, LiveHandle, ManualClock, Report};
use weft::engine::scheduler::Notice;
use weft::patch::NoModels;
use weft::sound::synth::{BankSwap, Engine, SynthConfig};

const SR: u32 = 48_000;
/// At 240 BPM a beat is 12,000 frames and a bar (4/4) 48,000.
const BEAT: u64 = 12_000;
const BAR: u64 = 4 * BEAT;
/// Frames of each kit's `bd` sample.
const HIT: usize = 2_000;

struct Collect(Sender<TimedEvent>);
impl weft::outputs::EventOut for Collect {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        for e in events {
            let _ = self.0.send(*e);
        }
        0
    }
}

/// Deterministic 16-bit noise, seeded: each kit's `bd` is recognisably its own.
fn noise(seed: u32, n: usize) -> Vec<i16> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as i16 / 2
        })
        .collect()
}

#[path = "support/wav.rs"]
mod wav;

fn write_wav(path: &Path, data: &[i16]) {
    wav::write_wav(path, SR, data);
}

/// `root/name/bd/a.wav` (noise seeded by `seed`) and `root/name/sd/a.wav`.
fn kit(root: &Path, name: &str, seed: u32) -> (PathBuf, Vec<f32>) {
    let k = root.join(name);
    for d in ["bd", "sd"] {
        fs::create_dir_all(k.join(d)).unwrap();
    }
    let bd = noise(seed, HIT);
    write_wav(&k.join("bd/a.wav"), &bd);
    write_wav(&k.join("sd/a.wav"), &noise(seed + 100, HIT));
    (k, bd.iter().map(|&x| x as f32 / 32768.0).collect())
}

fn patch(bank: &str, word: &str) -> String {
    format!(
        "quantize(\"bar\");\nsamples(\"{bank}\");\nvoice(\"d\", #{{ synth: \"sample\", release: 0.01 }}).pattern(\"{word} {word} {word} {word}\");\n"
    )
}

/// Normalised correlation of `a` with `b` (over the shorter).
fn corr(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        let (x, y) = (a[i] as f64, b[i] as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(1e-12)
}

/// The live engine on a manual clock and the synth rendering what it hands over, block by
/// block up to the clock, as the audio callback would.
struct Rig {
    swap: BankSwap,
    h: LiveHandle,
    clock: ManualClock,
    events: Receiver<TimedEvent>,
    pending: Vec<TimedEvent>,
    synth: Engine,
    /// Left channel of everything rendered so far (frame 0 on).
    audio: Vec<f32>,
    /// Sample note-ons handed over: (frame, bank generation).
    notes: Vec<(u64, u32)>,
    seen: Vec<Report>,
}

impl Rig {
    fn start(scripts: &Path, start_bank: &Path, samples_flag: &Path) -> Rig {
        let swap = BankSwap::new();
        let (synth, warnings) = Engine::new(SynthConfig {
            sample_rate: SR,
            polyphony: 8,
            samples_dir: Some(start_bank.to_path_buf()),
            soundfont: None,
            master_chain: false,
            bank_swap: Some(swap.clone()),
        })
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut cfg = LiveConfig::new(scripts);
        cfg.tempo = Some(240.0);
        cfg.samples = Some(samples_flag.to_path_buf());
        cfg.bank_swap = Some(swap.clone());
        let clock = ManualClock::new(SR);
        let (tx, events) = channel();
        let steps: live::StepFactory = Arc::new(|| Box::new(NoModels));
        let h = live::start(
            cfg,
            Box::new(clock.clone()),
            Some(Box::new(Collect(tx))),
            steps,
        )
        .unwrap();
        Rig {
            swap,
            h,
            clock,
            events,
            pending: Vec::new(),
            synth,
            audio: Vec::new(),
            notes: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn take(&mut self, e: TimedEvent) {
        if let Event::NoteOn { sound, .. } = e.event {
            if sound.synth == SynthKind::Sample {
                self.notes.push((e.frame, sound.bank));
            }
        }
        self.pending.push(e);
    }

    /// Renders up to absolute frame `to` with the events handed over so far.
    fn render_to(&mut self, to: u64) {
        self.pending.sort_by_key(|e| e.frame);
        let mut out = vec![0.0f32; 2 * 256];
        while (self.audio.len() as u64) < to {
            let start = self.audio.len() as u64;
            let n = ((to - start) as usize).min(256);
            let end = start + n as u64;
            let mut queue = std::mem::take(&mut self.pending);
            let mut i = 0;
            self.synth
                .process(start, &mut out[..2 * n], &mut |block_end| {
                    let e = queue.get(i).filter(|e| e.frame < block_end).copied();
                    i += e.is_some() as usize;
                    e
                });
            self.pending = queue.split_off(i);
            self.audio
                .extend(out[..2 * n].chunks_exact(2).map(|f| f[0]));
            let _ = end;
        }
    }

    /// Moves the clock a beat, waits for that beat's note, renders up to the clock.
    fn beat(&mut self) {
        self.clock.advance(BEAT);
        let want = self.notes.len() + 1;
        let t = Instant::now();
        while self.notes.len() < want {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "no note for a beat: {:?}",
                self.seen
            );
            if let Ok(e) = self.events.recv_timeout(Duration::from_millis(10)) {
                self.take(e);
            }
        }
        while let Ok(e) = self.events.try_recv() {
            self.take(e);
        }
        self.seen.extend(self.h.reports.try_iter());
        let now = weft::engine::live::Clock::now(&self.clock);
        self.render_to(now);
    }

    fn beats(&mut self, n: u32) {
        for _ in 0..n {
            self.beat();
        }
    }

    fn beat_until(&mut self, what: &str, f: impl Fn(&Report) -> bool) {
        let t = Instant::now();
        while !self.seen.iter().any(&f) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{what}: not reported: {:?}",
                self.seen
            );
            self.beat();
        }
    }

    fn wait(&mut self, what: &str, f: impl Fn(&Report) -> bool) -> Report {
        let t = Instant::now();
        loop {
            if let Some(i) = self.seen.iter().position(&f) {
                return self.seen.remove(i);
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{what}: not reported: {:?}",
                self.seen
            );
            if let Ok(r) = self.h.reports.recv_timeout(Duration::from_millis(10)) {
                self.seen.push(r);
            }
        }
    }

    fn finish(mut self) -> Self {
        self.h.command(Command::Quit);
        self.wait("stopped", |r| matches!(r, Report::Stopped));
        self
    }

    /// Which kit each note played, judged by the rendered audio at its frame.
    fn heard(&self, kits: &[&[f32]]) -> Vec<usize> {
        self.notes
            .iter()
            .filter(|(f, _)| *f as usize + HIT <= self.audio.len())
            .map(|&(f, _)| {
                let seg = &self.audio[f as usize..f as usize + HIT];
                let c: Vec<f64> = kits.iter().map(|k| corr(seg, k)).collect();
                let best = (0..kits.len())
                    .max_by(|&a, &b| c[a].total_cmp(&c[b]))
                    .unwrap();
                assert!(c[best] > 0.95, "note at {f}: correlations {c:?}");
                best
            })
            .collect()
    }
}

fn swapped(version: u32) -> impl Fn(&Report) -> bool {
    move |r| matches!(r, Report::Notice(Notice::Swapped { version: v, .. }) if *v == version)
}

#[test]
fn a_saved_samples_change_swaps_the_bank_at_the_bar_and_broken_saves_keep_the_last_bank() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    // kitA beside the patches; kitB only under the `--samples` folder.
    let (kit_a, bd_a) = kit(&scripts, "kitA", 1);
    let flag = dir.path().join("more");
    let (_, bd_b) = kit(&flag, "kitB", 2);
    let file = scripts.join("a.rhai");
    fs::write(&file, patch("kitA", "bd")).unwrap();
    let mut rig = Rig::start(&scripts, &kit_a, &flag);
    rig.wait("first load", swapped(1));
    rig.beats(5);

    fs::write(&file, patch("kitB", "bd")).unwrap();
    rig.beat_until("save with kitB", swapped(2));
    rig.beats(5);

    // A missing folder: rejected at its line and column; kitB plays on.
    fs::write(&file, patch("kitC", "bd")).unwrap();
    let Report::Rejected { error } =
        rig.wait("missing folder", |r| matches!(r, Report::Rejected { .. }))
    else {
        unreachable!()
    };
    assert!(error.to_string().contains("a.rhai:2:"), "{error}");
    assert!(error.message.contains("kitC"), "{error}");
    rig.beats(3);
    // A missing sample in the new bank: rejected too (with a did-you-mean).
    fs::write(&file, patch("kitA", "bdd")).unwrap();
    let Report::Rejected { error } =
        rig.wait("missing sample", |r| matches!(r, Report::Rejected { .. }))
    else {
        unreachable!()
    };
    assert!(error.to_string().contains("a.rhai:3:"), "{error}");
    assert!(error.message.contains("did you mean `bd`"), "{error}");
    rig.beats(5);
    let rig = rig.finish();

    // An unbroken pulse, the bank generation changing once, on a bar line.
    let frames: Vec<u64> = rig.notes.iter().map(|n| n.0).collect();
    assert!(frames.len() >= 16, "{frames:?}");
    for w in frames.windows(2) {
        assert_eq!(w[1] - w[0], BEAT, "pulse broken at {w:?}");
    }
    let first_b = rig
        .notes
        .iter()
        .position(|n| n.1 != 0)
        .expect("no note from the new bank");
    assert_eq!((frames[first_b] - frames[0]) % BAR, 0, "swap on a bar line");
    assert!(first_b >= 4, "kitA played first");
    let gen_b = rig.notes[first_b].1;
    assert!(rig.notes[first_b..].iter().all(|n| n.1 == gen_b));
    assert!(rig.notes[..first_b].iter().all(|n| n.1 == 0));
    // What the synth played: kitA's bd up to the swap, kitB's after it, through the broken
    // saves.
    let heard = rig.heard(&[&bd_a, &bd_b]);
    assert!(heard.len() >= first_b + 8, "{heard:?}");
    for (i, k) in heard.iter().enumerate() {
        assert_eq!(*k, usize::from(i >= first_b), "note {i}: {heard:?}");
    }
}

#[test]
fn check_finds_a_bank_only_through_the_samples_flag() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("more");
    kit(&flag, "kitB", 2);
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    let p = scripts.join("a.rhai");
    fs::write(&p, patch("kitB", "sd")).unwrap();
    let bin = env!("CARGO_BIN_EXE_weft");
    let run = |extra: &[&str]| {
        std::process::Command::new(bin)
            .arg("check")
            .arg(&p)
            .args(extra)
            .env_remove("WEFT_SAMPLES")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let without = run(&[]);
    assert!(!without.status.success());
    let out = String::from_utf8_lossy(&without.stdout);
    assert!(out.contains("a.rhai:2:"), "{out}");
    assert!(out.contains("kitB"), "{out}");
    let with = run(&["--samples", flag.to_str().unwrap()]);
    assert!(
        with.status.success(),
        "{}{}",
        String::from_utf8_lossy(&with.stdout),
        String::from_utf8_lossy(&with.stderr)
    );
}

#[test]
fn a_save_whose_bank_finds_every_slot_sounding_is_rejected_at_samples_and_the_old_bank_plays_on() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    let (kit_a, _) = kit(&scripts, "kitA", 1);
    let flag = dir.path().join("more");
    kit(&flag, "kitB", 2);
    let file = scripts.join("a.rhai");
    fs::write(&file, patch("kitA", "bd")).unwrap();
    let mut rig = Rig::start(&scripts, &kit_a, &flag);
    rig.wait("first load", swapped(1));
    rig.beats(2);
    // Every slot gets a bank with a long note sounding (as earlier versions would leave).
    let long = 40 * BEAT as usize;
    for i in 0..weft::sound::synth::BANK_SLOTS {
        let k = dir.path().join(format!("busy{i}"));
        fs::create_dir_all(k.join("bd")).unwrap();
        write_wav(&k.join("bd/a.wav"), &noise(50 + i as u32, long));
        let list = weft::sound::synth::scan(&k).unwrap();
        let gen = rig.swap.bind(&k, &list, &mut Vec::new()).unwrap().unwrap();
        let at = rig.audio.len() as u64;
        rig.pending.push(TimedEvent {
            tick: 0,
            frame: at,
            event: Event::NoteOn {
                track: 9,
                channel: 0,
                key: 60,
                vel: 127,
                sound: weft::engine::event::Sound {
                    synth: SynthKind::Sample,
                    folder: 1,
                    bank: gen,
                    ..Default::default()
                },
            },
        });
        rig.render_to(at + 256);
    }
    fs::write(&file, patch("kitB", "bd")).unwrap();
    let Report::Rejected { error } = rig.wait("bank with no room", |r| {
        matches!(r, Report::Rejected { .. })
    }) else {
        unreachable!()
    };
    assert!(error.to_string().contains("a.rhai:2:1"), "{error}");
    assert!(error.message.contains("kitB"), "{error}");
    assert!(error.message.contains("sounding"), "{error}");
    let before = rig.notes.len();
    rig.beats(4);
    let rig = rig.finish();
    // The old version plays on from the startup bank.
    assert!(rig.notes[before..].iter().all(|n| n.1 == 0));
}
