//! Soak: an hour of a careless and hostile performer against a steady voice.
//!
//! `cargo run --release --example soak -- --minutes 60`
//!
//! Starts the live engine (the same threads `weft play --headless` runs: watcher, compile
//! worker, scheduler, on the real-time system clock) on a fresh folder holding `steady.rhai`
//! (eighth notes on channel 16, never edited) and keeps saving random versions of three other
//! patches: valid ones, broken ones (syntax errors, unknown functions), runaway ones (endless
//! loops, recursion), blocking ones (`sleep`), ones that used to panic weft (overflowing
//! `rand().int`, explosive mini-notation) and memory-hungry ones (growing `state`, filling
//! maps) — in all four ways editors save (write in place, write a temp file and rename over,
//! rename the old file away and write a new one, truncate and write in pieces), every 150–600
//! ms. The engine's events go to an output that checks them as the synth would receive them.
//!
//! Prints, at the end (and a line per minute): saves by kind, gaps in the steady voice (an
//! eighth note that is missing or moved), late events, dropped events, hanging notes (a note-on
//! never followed by its note-off once the engine stopped) and RSS at start / peak / end. Exit
//! code 1 when a goal is missed: 0 gaps, 0 late, 0 dropped, 0 hanging, RSS growth ≤ 50 MB.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft::engine::event::{Event, TimedEvent};
use weft::engine::live::{self, Clock, LiveConfig, Report, SystemClock};
use weft::outputs::EventOut;

/// As in the binary: patch evaluations that allocate without bound are stopped.
#[global_allocator]
static ALLOC: weft::alloc_meter::CountingAlloc = weft::alloc_meter::CountingAlloc;

/// What the output saw (shared with the main thread only for the final count).
#[derive(Default)]
struct Seen {
    steady_ticks: Vec<u64>,
    sounding: HashMap<(u8, u8), u32>,
    events: u64,
    late_at_output: u64,
    /// The latest an event arrived after its own frame, in frames.
    worst_late: u64,
}

struct Checker {
    seen: Arc<Mutex<Seen>>,
    clock: SystemClock,
}

impl EventOut for Checker {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        let now = self.clock.now();
        let mut s = self.seen.lock().unwrap();
        for e in events {
            s.events += 1;
            if e.frame < now {
                s.late_at_output += 1;
                s.worst_late = s.worst_late.max(now - e.frame);
            }
            match e.event {
                Event::NoteOn { channel, key, .. } => {
                    *s.sounding.entry((channel, key)).or_default() += 1;
                    if channel == 15 {
                        s.steady_ticks.push(e.tick);
                    }
                }
                Event::NoteOff { channel, key, .. } => {
                    if let Some(n) = s.sounding.get_mut(&(channel, key)) {
                        *n = n.saturating_sub(1);
                    }
                }
                Event::Param { .. } => {}
            }
        }
        0
    }
}

fn rss_kb() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// SplitMix64: the soak's own seeded choices (same seed, same sequence of saves).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const KINDS: [&str; 7] = [
    "valid",
    "broken",
    "runaway",
    "sleeping",
    "panicking",
    "hungry",
    "valid",
];

fn version(kind: &str, r: &mut Rng) -> String {
    let synth = r.pick(&["saw", "square", "sine", "pluck", "kick", "snare", "hat"]);
    let pat = r.pick(&[
        "x ~ x x",
        "x*4",
        "[x x] ~ x ~",
        "<x [x x]> x",
        "x ~ ~ x",
        "~ x",
    ]);
    let ch = 1 + r.below(8);
    let valid = format!(
        "voice(\"v\", #{{ synth: \"{synth}\", channel: {ch} }}).notes(scale(\"A2\", \"minor\"), \"{pat}\");\n\
         fn on_bar(bar) {{ state.n = (state.n ?? 0) + 1; }}\n"
    );
    match kind {
        "valid" => valid,
        "broken" => r
            .pick(&[
                "voice(\"v\", #{ synth: \"saw\" ).pattern(\"x\");\n",
                "voice(\"v\", #{ synth: \"saw\" }).patern(\"x\");\n",
                "let x = ;\n",
                "voice(\"v\", #{ synth: \"nope\" }).pattern(\"x\");\n",
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\"[x x\");\n",
            ])
            .to_string(),
        "runaway" => r
            .pick(&[
                "loop {}\n",
                "fn f(n) { f(n + 1) }\nf(0);\n",
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\"x\");\nfn on_bar(bar) { loop {} }\n",
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\"x\");\nfn on_bar(bar) { let i = 0; while true { i += 1; } }\n",
                // Passes its dry run, runs away a few bars later (at run time).
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\"x x\");\nfn on_bar(bar) { state.k = (state.k ?? 0) + 1; if state.k > 6 { loop {} } }\n",
            ])
            .to_string(),
        "sleeping" => r
            .pick(&[
                "sleep(1e6);\n",
                "sleep(1e30);\n",
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\"x\");\nfn on_bar(bar) { sleep(0.3); }\n",
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\"x\");\nfn on_bar(bar) { sleep(1000000.0); }\n",
            ])
            .to_string(),
        "panicking" => r
            .pick(&[
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\"x\");\nfn on_bar(bar) { rand(1).int(-9223372036854775807 - 1, 9223372036854775807); }\n",
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\".*64*64*64*64*64*64*64*64\");\n",
                "voice(\"v\", #{ synth: \"saw\" }).notes(chord(\"G9\", \"maj9\"), \"x\");\n",
                "voice(\"v\", #{ synth: \"saw\", gate: 0.0/0.0 }).pattern(\"x\");\n",
            ])
            .to_string(),
        "hungry" => r
            .pick(&[
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\"x\");\nfn on_bar(bar) { for i in 0..300 { state[\"k\" + i + \"_\" + bar] = \"x\".pad(32000, \"x\"); } }\n",
                "let m = #{}; for i in 0..10000000 { m[\"k\" + i] = \"x\".pad(60000, \"x\"); }\n",
                "let a = []; for i in 0..10000000 { a.push([i, i, i, i, i, i, i, i]); }\n",
                // Distinct 60 KB strings into one map: only the allocation budget stops this.
                "let m = #{}; let s = \"x\"; s.pad(60000, \"x\"); for i in 0..20000 { m[\"k\" + i] = s + i; }\n",
                "voice(\"v\", #{ synth: \"saw\" }).pattern(\"x\");\nfn on_bar(bar) { let m = #{}; let s = \"x\"; s.pad(60000, \"x\"); for i in 0..20000 { m[\"k\" + i] = s + i; } }\n",
            ])
            .to_string(),
        _ => unreachable!(),
    }
}

/// Saves `text` to `path` the way one of four editors does.
fn save(path: &Path, text: &str, style: u64) -> std::io::Result<()> {
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    match style {
        // nano, many others: truncate and write in place.
        0 => std::fs::write(path, text),
        // VS Code, JetBrains: write a temp file, rename it over the target.
        1 => {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, path)
        }
        // vim (backupcopy=no): rename the old file away, write a new one, drop the backup.
        2 => {
            let backup = dir.join(format!("{name}~"));
            if path.exists() {
                std::fs::rename(path, &backup)?;
            }
            std::fs::write(path, text)?;
            let _ = std::fs::remove_file(&backup);
            Ok(())
        }
        // emacs-like slow writer: truncate, then write in two pieces.
        _ => {
            let mut f = std::fs::File::create(path)?;
            let half = text.len() / 2;
            let cut = (0..=half)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            f.write_all(&text.as_bytes()[..cut])?;
            f.flush()?;
            std::thread::sleep(Duration::from_millis(5));
            f.write_all(&text.as_bytes()[cut..])?;
            f.sync_all()
        }
    }
}

fn main() {
    let mut minutes = 1.0f64;
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--minutes" => minutes = args.next().and_then(|v| v.parse().ok()).unwrap_or(1.0),
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            _ => {
                eprintln!("usage: soak [--minutes M] [--seed S]");
                std::process::exit(2);
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let scripts: PathBuf = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(
        scripts.join("steady.rhai"),
        "tempo(120);\nvoice(\"s\", #{ synth: \"hat\", channel: 16 }).pattern(\"x*8\");\n",
    )
    .unwrap();
    let rss_start = rss_kb().0;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let out = Checker {
        seen: seen.clone(),
        clock: SystemClock::new(48_000),
    };
    let mut cfg = LiveConfig::new(&scripts);
    cfg.record_dir = dir.path().join("rec");
    cfg.seed = seed;
    cfg.realtime = true;
    let models = PathBuf::from("models");
    let cache = Arc::new(weft::neural::voices::ModelCache::new(&models));
    let steps: live::StepFactory =
        Arc::new(move || Box::new(weft::neural::voices::LstmVoices::with_cache(cache.clone())));
    // Both clocks start now: the checker's clock and the engine's agree to well under a ms.
    let handle = live::start(
        cfg,
        Box::new(SystemClock::new(48_000)),
        Some(Box::new(out)),
        steps,
    )
    .expect("engine starts");

    let counts: Arc<Mutex<HashMap<&'static str, u64>>> = Default::default();
    let late = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let died = Arc::new(Mutex::new(None::<String>));
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let reports = {
        let (counts, late, dropped, died) =
            (counts.clone(), late.clone(), dropped.clone(), died.clone());
        let (reports, _cmds, guard) = handle.split();
        std::thread::spawn(move || {
            let _guard = guard;
            loop {
                if stop_rx.try_recv().is_ok() {
                    break; // dropping the guard stops and joins the engine
                }
                let r = match reports.recv_timeout(Duration::from_millis(50)) {
                    Ok(r) => r,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(_) => break,
                };
                let key = match &r {
                    Report::Ready { .. } => "loaded",
                    Report::Rejected { .. } => "rejected",
                    Report::Notice(weft::engine::scheduler::Notice::RuntimeError { .. }) => {
                        "runtime errors"
                    }
                    Report::Late { count } => {
                        late.fetch_add(*count, Ordering::Relaxed);
                        continue;
                    }
                    Report::Dropped { count } => {
                        dropped.fetch_add(*count, Ordering::Relaxed);
                        continue;
                    }
                    Report::Info(line) => {
                        eprintln!("soak: engine: {line}");
                        continue;
                    }
                    Report::Died {
                        thread, message, ..
                    } => {
                        *died.lock().unwrap() = Some(format!("{thread}: {message}"));
                        continue;
                    }
                    _ => continue,
                };
                *counts.lock().unwrap().entry(key).or_default() += 1;
            }
        })
    };

    let mut r = Rng(seed);
    let mut saves: HashMap<&'static str, u64> = HashMap::new();
    let mut peak_rss = rss_start;
    let end = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    let mut next_minute = Instant::now() + Duration::from_secs(60);
    let files = ["p1.rhai", "p2.rhai", "p3.rhai"];
    while Instant::now() < end {
        let kind = KINDS[r.below(KINDS.len() as u64) as usize];
        let file = files[r.below(3) as usize];
        let text = version(kind, &mut r);
        if let Err(e) = save(&scripts.join(file), &text, r.below(4)) {
            eprintln!("soak: saving {file}: {e}");
        }
        *saves.entry(kind).or_default() += 1;
        std::thread::sleep(Duration::from_millis(150 + r.below(450)));
        peak_rss = peak_rss.max(rss_kb().0);
        if Instant::now() >= next_minute {
            next_minute += Duration::from_secs(60);
            let s = seen.lock().unwrap();
            eprintln!(
                "soak: {:.0} s, {} saves, {} events, rss {} MB",
                minutes * 60.0 - (end - Instant::now()).as_secs_f64(),
                saves.values().sum::<u64>(),
                s.events,
                rss_kb().0 / 1024
            );
        }
    }
    // Let the last saves settle, then stop the engine (its stop sends every note-off).
    std::thread::sleep(Duration::from_secs(2));
    let rss_end_playing = rss_kb().0;
    let _ = stop_tx.send(());
    reports.join().unwrap();

    let s = seen.lock().unwrap();
    let step = 480u64; // an eighth note at 960 ticks per quarter
    let gaps = s
        .steady_ticks
        .windows(2)
        .filter(|w| w[1].saturating_sub(w[0]) != step)
        .count();
    let hanging: u32 = s.sounding.values().sum();
    let (_, hwm) = rss_kb();
    let peak = peak_rss.max(hwm);
    let late_n = late.load(Ordering::Relaxed).max(s.late_at_output);
    let dropped_n = dropped.load(Ordering::Relaxed);
    let growth_mb = rss_end_playing.saturating_sub(rss_start) as f64 / 1024.0;
    let mut kinds: Vec<_> = saves.iter().collect();
    kinds.sort();
    let counts = counts.lock().unwrap();
    let mut outcome: Vec<_> = counts.iter().collect();
    outcome.sort();
    println!("soak: {minutes} min, seed {seed}");
    println!(
        "saves: {} ({})",
        saves.values().sum::<u64>(),
        kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "engine: {}",
        outcome
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("steady voice: {} notes, {gaps} gaps", s.steady_ticks.len());
    println!(
        "late events: {late_n} (the latest {:.1} ms after its time)",
        s.worst_late as f64 / 48.0
    );
    println!("dropped events: {dropped_n}");
    println!("hanging notes: {hanging}");
    println!(
        "rss: start {:.1} MB, peak {:.1} MB, end {:.1} MB (growth {growth_mb:.1} MB)",
        rss_start as f64 / 1024.0,
        peak as f64 / 1024.0,
        rss_end_playing as f64 / 1024.0
    );
    if let Some(d) = died.lock().unwrap().as_ref() {
        println!("DIED: {d}");
    }
    let answered =
        counts.get("loaded").copied().unwrap_or(0) + counts.get("rejected").copied().unwrap_or(0);
    let total_saves = saves.values().sum::<u64>();
    // A save whose text equals the file's previous one is (rightly) not reloaded; anything
    // much below all saves answered means the compile worker hung.
    println!("answered saves: {answered} of {total_saves}");
    let ok = gaps == 0
        && answered * 10 >= total_saves * 8
        && late_n == 0
        && dropped_n == 0
        && hanging == 0
        && growth_mb <= 50.0
        && died.lock().unwrap().is_none()
        && s.steady_ticks.len() as f64 >= minutes * 60.0 * 4.0 * 0.9;
    println!("{}", if ok { "PASS" } else { "FAIL" });
    std::process::exit(if ok { 0 } else { 1 });
}
