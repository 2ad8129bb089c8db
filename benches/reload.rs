//! Reload latency: 200 saves of a playing patch (alternating valid / invalid, in-place and
//! rename saves), timed from the save to "ready" (compiled, dry-run, queued — or rejected),
//! and with `quantize("now")` from the save to the first event of the new version.
//! `cargo bench --bench reload`.

use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::engine::live::{self, LiveConfig, Report, SystemClock};
use weft::patch::NoModels;

#[path = "support/stats.rs"]
mod stats;
use stats::pct;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.rhai");
    let valid = |i: usize| {
        format!(
            "quantize(\"now\");\nvoice(\"k\", #{{ synth: \"kick\", note: {} }}).pattern(\"x*16\");\nvoice(\"b\", #{{ synth: \"saw\" }}).notes(scale(\"A1\", \"minor\"), euclid(5, 8));\n",
            30 + (i % 40)
        )
    };
    let invalid = |i: usize| {
        format!("quantize(\"now\");\nvoice(\"k\", #{{ synth: \"kick\" }}).pattern(\"x [{i}\");\n")
    };
    fs::write(&file, valid(0)).unwrap();
    let mut cfg = LiveConfig::new(dir.path());
    cfg.tempo = Some(120.0);
    let steps: live::StepFactory = Arc::new(|| Box::new(NoModels));
    let h = live::start(cfg, Box::new(SystemClock::new(48_000)), None, steps).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    while h.reports.try_recv().is_ok() {}

    let (mut ready, mut first) = (Vec::new(), Vec::new());
    let mut missed = 0;
    for i in 1..=200 {
        let ok = i % 2 == 0;
        let src = if ok { valid(i) } else { invalid(i) };
        let t0 = Instant::now();
        if i % 4 < 2 {
            fs::write(&file, src).unwrap();
        } else {
            let tmp = dir.path().join(".a.rhai.tmp");
            fs::write(&tmp, src).unwrap();
            fs::rename(&tmp, &file).unwrap();
        }
        let mut got_ready = false;
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match h.reports.recv_timeout(Duration::from_millis(200)) {
                Ok(Report::Ready { .. }) | Ok(Report::Rejected { .. }) if !got_ready => {
                    ready.push(t0.elapsed().as_secs_f64() * 1000.0);
                    got_ready = true;
                    if !ok {
                        break;
                    }
                }
                Ok(Report::FirstEvent { .. }) if ok => {
                    first.push(t0.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
                _ => {}
            }
        }
        if !got_ready {
            missed += 1;
        }
        std::thread::sleep(Duration::from_millis(30));
        while h.reports.try_recv().is_ok() {}
    }
    println!(
        "reload: {} saves ({} valid, {} invalid; half in-place, half rename), {missed} missed",
        200, 100, 100
    );
    println!(
        "reload: save -> ready   p50 {:.1} ms  p99 {:.1} ms  (goal p50 <= 15, p99 <= 40)",
        pct(&mut ready, 0.5),
        pct(&mut ready, 0.99)
    );
    println!(
        "reload: save -> first new event (quantize now, lookahead 50 ms)  p50 {:.1} ms  p99 {:.1} ms  (goal <= 65)",
        pct(&mut first, 0.5),
        pct(&mut first, 0.99)
    );
}
