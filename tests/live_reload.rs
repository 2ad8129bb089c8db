//! The live engine end to end: real files, the real watcher, the scheduler on the real-time
//! clock, recording to a real MIDI file that is parsed back.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::engine::live::{self, Command, LiveConfig, LiveHandle, Report, SystemClock};
use weft::engine::scheduler::Notice;
use weft::patch::NoModels;
use weft::record::smf;

fn patch(key: u8) -> String {
    format!("quantize(\"bar\");\nvoice(\"k\", #{{ synth: \"kick\", note: {key} }}).pattern(\"x x x x\");\n")
}

fn start(dir: &Path, record: Option<&Path>) -> LiveHandle {
    let mut cfg = LiveConfig::new(dir);
    cfg.tempo = Some(240.0); // one bar per second keeps the tests short
    cfg.record = record.map(|p| p.to_path_buf());
    let steps: live::StepFactory = Arc::new(|| Box::new(NoModels));
    live::start(cfg, Box::new(SystemClock::new(48_000)), None, steps).unwrap()
}

/// Waits for a report matching `f`, collecting everything seen.
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

fn swapped(version: u32) -> impl Fn(&Report) -> bool {
    move |r| matches!(r, Report::Notice(Notice::Swapped { version: v, .. }) if *v == version)
}

fn finish(h: LiveHandle, seen: &mut Vec<Report>) -> std::path::PathBuf {
    h.command(Command::Quit);
    let mut path = None;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        match h.reports.recv_timeout(Duration::from_millis(50)) {
            Ok(Report::RecordingFinished { path: p, .. }) => path = Some(p),
            Ok(Report::Stopped) => break,
            Ok(r) => seen.push(r),
            Err(_) => {}
        }
    }
    h.join();
    path.expect("recording finished")
}

#[test]
fn saves_swap_at_the_bar_without_gaps_in_place_and_by_rename() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    let file = scripts.join("a.rhai");
    fs::write(&file, patch(36)).unwrap();
    let out = dir.path().join("take.mid");
    let h = start(&scripts, Some(&out));
    let mut seen = Vec::new();
    assert!(wait_for(&h, &mut seen, Duration::from_secs(5), swapped(1)));
    std::thread::sleep(Duration::from_millis(600));
    // In-place save.
    fs::write(&file, patch(40)).unwrap();
    assert!(
        wait_for(&h, &mut seen, Duration::from_secs(5), swapped(2)),
        "{seen:?}"
    );
    std::thread::sleep(Duration::from_millis(700));
    // Atomic save: write a temp file, rename over.
    let tmp = scripts.join(".a.rhai.tmp");
    fs::write(&tmp, patch(42)).unwrap();
    fs::rename(&tmp, &file).unwrap();
    assert!(
        wait_for(&h, &mut seen, Duration::from_secs(5), swapped(3)),
        "{seen:?}"
    );
    std::thread::sleep(Duration::from_millis(1300));
    let path = finish(h, &mut seen);

    let rb = smf::read(&fs::read(&path).unwrap(), "take.mid").unwrap();
    assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    let marker = |m: &str| rb.markers.iter().find(|x| x.1 == m).map(|x| x.0).unwrap();
    let (t2, t3) = (marker("a.rhai v2"), marker("a.rhai v3"));
    assert_eq!(t2 % 3840, 0, "swap on a bar line");
    assert_eq!(t3 % 3840, 0, "swap on a bar line");
    assert!(t3 > t2);
    // A steady quarter-note pulse from the first note to the last: no gap, no doubling.
    let onsets: Vec<u64> = rb.notes.iter().map(|n| n.start).collect();
    assert!(onsets.len() >= 12, "{onsets:?}");
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
}

#[test]
fn broken_saves_are_rejected_once_and_the_music_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    let file = scripts.join("a.rhai");
    fs::write(&file, patch(36)).unwrap();
    let out = dir.path().join("take.mid");
    let h = start(&scripts, Some(&out));
    let mut seen = Vec::new();
    assert!(wait_for(&h, &mut seen, Duration::from_secs(5), swapped(1)));
    let broken = [
        ("loop", "quantize(\"bar\");\nloop {}\n", 2),
        ("recursion", "fn f(n) { f(n + 1) }\nf(1);\n", 2),
        ("allocation", "let a = [];\nloop { a.push(\"xxxxxxxxxxxxxxxx\"); }\n", 2),
        ("throw in on_bar", "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x\");\nfn on_bar(b) {\n  throw \"bad bar \" + b;\n}\n", 3),
        ("syntax", "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x\"\n", 2),
    ];
    for (what, src, line) in broken {
        fs::write(&file, src).unwrap();
        let t = Instant::now();
        assert!(
            wait_for(&h, &mut seen, Duration::from_secs(5), |r| matches!(
                r,
                Report::Rejected { .. }
            )),
            "{what}: no rejection"
        );
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{what}: took {:?}",
            t.elapsed()
        );
        let Some(Report::Rejected { error }) = seen.last() else {
            unreachable!()
        };
        assert!(error.path.ends_with("a.rhai"), "{what}: {error}");
        assert_eq!(error.line, line, "{what}: {error}");
        assert!(
            error.to_string().contains(&format!("a.rhai:{line}:")),
            "{what}: {error}"
        );
    }
    // Fixing the file resumes the new version.
    fs::write(&file, patch(40)).unwrap();
    assert!(
        wait_for(&h, &mut seen, Duration::from_secs(5), swapped(2)),
        "{seen:?}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let path = finish(h, &mut seen);
    let rejected = seen
        .iter()
        .filter(|r| matches!(r, Report::Rejected { .. }))
        .count();
    assert_eq!(rejected, 5, "each broken save reported once");
    let rb = smf::read(&fs::read(&path).unwrap(), "take.mid").unwrap();
    assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    let onsets: Vec<u64> = rb.notes.iter().map(|n| n.start).collect();
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
    let h = start(&scripts, Some(&out));
    let mut seen = Vec::new();
    assert!(wait_for(&h, &mut seen, Duration::from_secs(5), swapped(1)));
    fs::write(
        scripts.join("b.rhai"),
        "voice(\"h\", #{ synth: \"hat\" }).pattern(\"x*8\");",
    )
    .unwrap();
    assert!(wait_for(
        &h,
        &mut seen,
        Duration::from_secs(5),
        |r| matches!(r, Report::Notice(Notice::Swapped { file, .. }) if file == "b.rhai")
    ));
    std::thread::sleep(Duration::from_millis(600));
    fs::remove_file(scripts.join("b.rhai")).unwrap();
    assert!(wait_for(
        &h,
        &mut seen,
        Duration::from_secs(5),
        |r| matches!(r, Report::Notice(Notice::Removed { .. }))
    ));
    std::thread::sleep(Duration::from_millis(1200));
    let path = finish(h, &mut seen);
    let rb = smf::read(&fs::read(&path).unwrap(), "take.mid").unwrap();
    assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    let hats: Vec<_> = rb.notes.iter().filter(|n| n.track == "b.h").collect();
    assert!(!hats.is_empty());
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
