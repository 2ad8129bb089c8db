//! The live engine end to end: real files, the real watcher, the real compile worker and
//! recorder, and a real MIDI file parsed back. The reload tests run the scheduler on a
//! [`ManualClock`] that they step a beat at a time, waiting each time until the engine has
//! handed over that beat's note: what they check (swaps on bar lines, an unbroken pulse, each
//! broken save rejected once) cannot depend on how loaded the machine is. The last two tests
//! are about real time (a slow disk must not make the scheduler late) and use the system clock.

use std::fs;
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::engine::event::{Event, TimedEvent};
use weft::engine::live::{self, Command, LiveConfig, LiveHandle, ManualClock, Report, SystemClock};
use weft::engine::scheduler::Notice;
use weft::patch::NoModels;
use weft::record::smf;

fn patch(key: u8) -> String {
    format!("quantize(\"bar\");\nvoice(\"k\", #{{ synth: \"kick\", note: {key} }}).pattern(\"x x x x\");\n")
}

/// At 240 BPM and 48 kHz a beat is 12,000 frames and a bar is one second.
const BEAT: u64 = 12_000;

/// Every event the scheduler hands over, as the synth would get it.
struct Collect(Sender<TimedEvent>);
impl weft::outputs::EventOut for Collect {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        for e in events {
            let _ = self.0.send(*e);
        }
        0
    }
}

/// A live engine on a manual clock, with everything it reported and the kick notes
/// (keys 36–42, the patch's only voice in `a.rhai`) it handed over.
struct Rig {
    h: LiveHandle,
    clock: ManualClock,
    events: Receiver<TimedEvent>,
    seen: Vec<Report>,
    kicks: u64,
}

impl Rig {
    fn start(dir: &Path, record: Option<&Path>) -> Rig {
        let mut cfg = LiveConfig::new(dir);
        cfg.tempo = Some(240.0);
        cfg.record = record.map(|p| p.to_path_buf());
        let clock = ManualClock::new(48_000);
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
            h,
            clock,
            events,
            seen: Vec::new(),
            kicks: 0,
        }
    }

    fn drain_reports(&mut self) {
        self.seen.extend(self.h.reports.try_iter());
    }

    /// Moves the clock one beat and waits until the engine has handed over one more kick:
    /// the next step starts only when the engine has caught up.
    fn beat(&mut self) {
        self.clock.advance(BEAT);
        let want = self.kicks + 1;
        let t = Instant::now();
        while self.kicks < want {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the engine handed over no kick for a beat: {:?}",
                self.seen
            );
            if let Ok(e) = self.events.recv_timeout(Duration::from_millis(10)) {
                if let Event::NoteOn { key: 36..=42, .. } = e.event {
                    self.kicks += 1;
                }
            }
        }
        self.drain_reports();
    }

    fn beats(&mut self, n: u32) {
        for _ in 0..n {
            self.beat();
        }
    }

    /// Steps beat by beat until a report matches `f` (the watcher and compile worker run on
    /// their own time; the swap itself waits for a bar line the clock must reach).
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

    /// Waits (without moving the clock) until a report matches `f`; returns it.
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

    /// Quits and returns the recording's path.
    fn finish(mut self) -> (std::path::PathBuf, Vec<Report>) {
        self.h.command(Command::Quit);
        let path = match self.wait("recording finished", |r| {
            matches!(r, Report::RecordingFinished { .. })
        }) {
            Report::RecordingFinished { path, .. } => path,
            _ => unreachable!(),
        };
        self.wait("stopped", |r| matches!(r, Report::Stopped));
        self.h.join();
        (path, self.seen)
    }
}

fn swapped(version: u32) -> impl Fn(&Report) -> bool {
    move |r| matches!(r, Report::Notice(Notice::Swapped { version: v, .. }) if *v == version)
}

/// Waits for a report matching `f`, collecting everything seen (system-clock tests).
fn wait_for(
    h: &LiveHandle,
    seen: &mut Vec<Report>,
    timeout: Duration,
    f: impl Fn(&Report) -> bool,
) -> bool {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if let Ok(r) = h.reports.recv_timeout(Duration::from_millis(20)) {
            let hit = f(&r);
            seen.push(r);
            if hit {
                return true;
            }
        }
    }
    false
}

#[test]
fn saves_swap_at_the_bar_without_gaps_in_place_and_by_rename() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    let file = scripts.join("a.rhai");
    fs::write(&file, patch(36)).unwrap();
    let out = dir.path().join("take.mid");
    let mut rig = Rig::start(&scripts, Some(&out));
    rig.wait("first load", swapped(1));
    rig.beats(6);
    // In-place save.
    fs::write(&file, patch(40)).unwrap();
    rig.beat_until("in-place save", swapped(2));
    rig.beats(6);
    // Atomic save: write a temp file, rename over.
    let tmp = scripts.join(".a.rhai.tmp");
    fs::write(&tmp, patch(42)).unwrap();
    fs::rename(&tmp, &file).unwrap();
    rig.beat_until("save by rename", swapped(3));
    rig.beats(6);
    let (path, _) = rig.finish();

    let rb = smf::read(&fs::read(&path).unwrap(), "take.mid").unwrap();
    assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    let marker = |m: &str| rb.markers.iter().find(|x| x.1 == m).map(|x| x.0).unwrap();
    let (t2, t3) = (marker("a.rhai v2"), marker("a.rhai v3"));
    assert_eq!(t2 % 3840, 0, "swap on a bar line");
    assert_eq!(t3 % 3840, 0, "swap on a bar line");
    assert!(t3 > t2);
    // A steady quarter-note pulse from the first note to the last: no gap, no doubling.
    let onsets: Vec<u64> = rb.notes.iter().map(|n| n.start).collect();
    assert!(onsets.len() >= 18, "{onsets:?}");
    for w in onsets.windows(2) {
        assert_eq!(w[1] - w[0], 960, "pulse broken at {w:?}");
    }
    for n in &rb.notes {
        let want = if n.start < t2 {
            36
        } else if n.start < t3 {
            40
        } else {
            42
        };
        assert_eq!(n.key, want, "note at {} has key {}", n.start, n.key);
    }
    // Each version played for at least the six beats the test gave it.
    assert!(rb.notes.iter().filter(|n| n.key == 40).count() >= 6);
    assert!(rb.notes.iter().filter(|n| n.key == 42).count() >= 6);
}

#[test]
fn broken_saves_are_rejected_once_and_the_music_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    let file = scripts.join("a.rhai");
    fs::write(&file, patch(36)).unwrap();
    let out = dir.path().join("take.mid");
    let mut rig = Rig::start(&scripts, Some(&out));
    rig.wait("first load", swapped(1));
    let broken = [
        ("loop", "quantize(\"bar\");\nloop {}\n", 2),
        ("recursion", "fn f(n) { f(n + 1) }\nf(1);\n", 2),
        ("allocation", "let a = [];\nloop { a.push(\"xxxxxxxxxxxxxxxx\"); }\n", 2),
        ("throw in on_bar", "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x\");\nfn on_bar(b) {\n  throw \"bad bar \" + b;\n}\n", 3),
        ("syntax", "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x\"\n", 2),
    ];
    let mut rejected = 0;
    for (what, src, line) in broken {
        fs::write(&file, src).unwrap();
        let Report::Rejected { error } = rig.wait(what, |r| matches!(r, Report::Rejected { .. }))
        else {
            unreachable!()
        };
        rejected += 1;
        assert!(error.path.ends_with("a.rhai"), "{what}: {error}");
        assert_eq!(error.line, line, "{what}: {error}");
        assert!(
            error.to_string().contains(&format!("a.rhai:{line}:")),
            "{what}: {error}"
        );
        // The music goes on while the file is broken.
        rig.beats(3);
    }
    // Fixing the file resumes the new version.
    fs::write(&file, patch(40)).unwrap();
    rig.beat_until("fixed save", swapped(2));
    rig.beats(4);
    let (path, seen) = rig.finish();
    rejected += seen
        .iter()
        .filter(|r| matches!(r, Report::Rejected { .. }))
        .count();
    assert_eq!(rejected, 5, "each broken save reported once");
    let rb = smf::read(&fs::read(&path).unwrap(), "take.mid").unwrap();
    assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    let onsets: Vec<u64> = rb.notes.iter().map(|n| n.start).collect();
    assert!(onsets.len() >= 19, "{onsets:?}");
    for w in onsets.windows(2) {
        assert_eq!(w[1] - w[0], 960, "the pulse never stopped ({w:?})");
    }
    assert!(rb.notes.last().unwrap().key == 40);
}

#[test]
fn new_file_joins_and_deleted_file_stops_at_the_bar() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    fs::write(scripts.join("a.rhai"), patch(36)).unwrap();
    let out = dir.path().join("take.mid");
    let mut rig = Rig::start(&scripts, Some(&out));
    rig.wait("first load", swapped(1));
    fs::write(
        scripts.join("b.rhai"),
        "voice(\"h\", #{ synth: \"hat\", note: 70 }).pattern(\"x*8\");",
    )
    .unwrap();
    rig.beat_until(
        "b.rhai joins",
        |r| matches!(r, Report::Notice(Notice::Swapped { file, .. }) if file == "b.rhai"),
    );
    rig.beats(4);
    fs::remove_file(scripts.join("b.rhai")).unwrap();
    rig.beat_until("b.rhai removed", |r| {
        matches!(r, Report::Notice(Notice::Removed { .. }))
    });
    rig.beats(6);
    let (path, _) = rig.finish();
    let rb = smf::read(&fs::read(&path).unwrap(), "take.mid").unwrap();
    assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    let hats: Vec<_> = rb.notes.iter().filter(|n| n.track == "b.h").collect();
    assert!(hats.len() >= 8, "{} hats", hats.len());
    let first = hats.first().unwrap().start;
    let last_end = hats.iter().map(|n| n.end).max().unwrap();
    assert_eq!(first % 3840, 0, "joined on a bar line");
    let removed = rb
        .markers
        .iter()
        .find(|m| m.1 == "b.rhai removed")
        .unwrap()
        .0;
    assert_eq!(removed % 3840, 0);
    assert!(last_end <= removed);
}

#[test]
fn each_session_appends_a_line_the_logs_module_reads() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    fs::write(scripts.join("a.rhai"), patch(36)).unwrap();
    let log = dir.path().join("rec").join("sessions.jsonl");
    let mut cfg = LiveConfig::new(&scripts);
    cfg.tempo = Some(240.0);
    cfg.bars = Some(1);
    cfg.session_log = Some(log.clone());
    cfg.record = Some(dir.path().join("rec").join("s.mid"));
    let steps: live::StepFactory = Arc::new(|| Box::new(NoModels));
    let h = live::start(cfg, Box::new(SystemClock::new(48_000)), None, steps).unwrap();
    let mut seen = Vec::new();
    assert!(wait_for(
        &h,
        &mut seen,
        Duration::from_secs(10),
        |r| matches!(r, Report::Stopped)
    ));
    h.join();
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(v["kind"], "weft-session");
    assert_eq!(v["patches"][0], "a.rhai");
    assert_eq!(v["tempo_max"], 240.0);
    assert!(
        v["file"].as_str().is_some_and(|f| f.ends_with("s.mid")),
        "{text} {seen:?}"
    );
    let rule = weft::logs::PlayRule {
        min_ms: 0,
        drop_skipped: true,
    };
    let logs = weft::logs::load(&log, rule).expect("the logs module reads weft's own session log");
    assert_eq!(logs.plays.len(), 1, "one play per patch of the session");
}

#[test]
fn a_slow_disk_never_slows_the_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    fs::write(
        scripts.join("a.rhai"),
        "voice(\"h\", #{ synth: \"hat\" }).pattern(\"x*16\");\n",
    )
    .unwrap();
    let mut cfg = LiveConfig::new(&scripts);
    cfg.tempo = Some(240.0);
    cfg.bars = Some(3);
    cfg.record = Some(dir.path().join("slow.mid"));
    // Every write to the journal takes 300 ms: far slower than the events arrive.
    cfg.slow_disk = Some(Duration::from_millis(300));
    let steps: live::StepFactory = Arc::new(|| Box::new(NoModels));
    let h = live::start(cfg, Box::new(SystemClock::new(48_000)), None, steps).unwrap();
    let mut seen = Vec::new();
    assert!(wait_for(
        &h,
        &mut seen,
        Duration::from_secs(20),
        |r| matches!(r, Report::Stopped)
    ));
    h.join();
    assert!(
        !seen.iter().any(|r| matches!(r, Report::Late { .. })),
        "the scheduler fell behind: {seen:?}"
    );
    let backlog = seen
        .iter()
        .find_map(|r| match r {
            Report::RecordingFinished { max_backlog, .. } => Some(*max_backlog),
            _ => None,
        })
        .expect("recording finished");
    assert!(
        backlog > 0,
        "events were buffered while the disk lagged (and counted)"
    );
    let rb = smf::read(&fs::read(dir.path().join("slow.mid")).unwrap(), "slow.mid").unwrap();
    assert_eq!(rb.notes.len(), 48, "every event was buffered and written");
    assert!(rb.problems.is_empty());
}
