//! Pattern query speed, weft vs Strudel, same corpus, one run: every pattern of
//! tests/fixtures/strudel/mini.json (and, separately, the patterns of scripts/) parsed once,
//! then queried bar by bar as the scheduler does (`Pattern::query_seeded(bar, seed)`, one
//! call per voice-bar); prints p50/p99 µs per voice-bar and the total; then spawns
//! `node benches/peers/strudel/bench.mjs` (Strudel 1.1.0's `queryArc(c, c + 1)` on the same
//! corpus and bars) and prints its figures and the ratio. Both sides do one untimed warm-up
//! pass. `cargo bench --bench patterns` (Strudel needs `sh benches/peers/strudel/setup.sh`).
//!
//! Rows: `weft corpus` is what the scheduler does (`query_seeded`, a new `Vec` per call, the
//! stored cycles of periodic patterns used); `tree walk` queries the same patterns without
//! their stored cycles (the engine alone); `reused buffer` uses `query_seeded_into`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;
use weft::patch::mini::Pattern;

const BARS: u64 = 8;

struct Figures {
    queries: usize,
    events: usize,
    p50_us: f64,
    p99_us: f64,
    total_ms: f64,
}

/// Queries every pattern bar by bar (one warm-up pass, then a timed one).
fn bench(pats: &[Pattern], bars: u64) -> Figures {
    bench_with(pats, bars, |p, bar| p.query_seeded(bar, 1).len())
}

/// `bench` with `query_seeded_into` and one buffer for all queries.
fn bench_into(pats: &[Pattern], bars: u64) -> Figures {
    let mut buf = Vec::new();
    bench_with(pats, bars, move |p, bar| {
        p.query_seeded_into(bar, 1, &mut buf);
        buf.len()
    })
}

fn bench_with(
    pats: &[Pattern],
    bars: u64,
    mut query: impl FnMut(&Pattern, u64) -> usize,
) -> Figures {
    // Warm-up (caches, allocator), untimed.
    for p in pats {
        for bar in 0..bars {
            std::hint::black_box(query(p, bar));
        }
    }
    let mut times = Vec::with_capacity(pats.len() * bars as usize);
    let mut events = 0;
    let start = Instant::now();
    for p in pats {
        for bar in 0..bars {
            let t0 = Instant::now();
            let n = std::hint::black_box(query(p, bar));
            times.push(t0.elapsed().as_secs_f64() * 1e6);
            events += n;
        }
    }
    let total_ms = start.elapsed().as_secs_f64() * 1e3;
    times.sort_by(f64::total_cmp);
    let q = |f: f64| times[((f * times.len() as f64) as usize).min(times.len() - 1)];
    Figures {
        queries: times.len(),
        events,
        p50_us: q(0.5),
        p99_us: q(0.99),
        total_ms,
    }
}

fn show(name: &str, f: &Figures) {
    println!(
        "{name:<28} {:>6} voice-bars {:>7} events  p50 {:>7.2} µs  p99 {:>7.2} µs  total {:>8.2} ms",
        f.queries, f.events, f.p50_us, f.p99_us, f.total_ms
    );
}

/// The mini-notation strings of `.pattern("...")` calls in the shipped scripts.
fn script_patterns(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root.join("scripts"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        for part in src.split(".pattern(\"").skip(1) {
            if let Some(end) = part.find('"') {
                out.push(part[..end].to_string());
            }
        }
    }
    out
}

fn num(line: &str, key: &str) -> Option<f64> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn strudel(root: &Path, bars: u64) -> Result<Figures, String> {
    let dir = root.join("benches/peers/strudel");
    if !dir.join("node_modules/@strudel/mini").exists() {
        return Err(format!(
            "not installed: run `sh {}/setup.sh`",
            dir.display()
        ));
    }
    let out = Command::new("node")
        .arg(dir.join("bench.mjs"))
        .arg(bars.to_string())
        .output()
        .map_err(|e| format!("node: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    let get = |k: &str| num(line, k).ok_or(format!("no {k} in {line:?}"));
    Ok(Figures {
        queries: get("queries")? as usize,
        events: get("events")? as usize,
        p50_us: get("p50_us")?,
        p99_us: get("p99_us")?,
        total_ms: get("total_ms")?,
    })
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = std::fs::read_to_string(root.join("tests/fixtures/strudel/mini.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&fixture).unwrap();
    let sources: Vec<String> = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pattern"].as_str().unwrap().to_string())
        .collect();
    let corpus: Vec<Pattern> = sources
        .iter()
        .map(|s| Pattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect();
    let scripts: Vec<Pattern> = script_patterns(root)
        .iter()
        .map(|s| Pattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect();
    println!(
        "pattern queries, {BARS} bars each ({} corpus patterns, {} from scripts/)",
        corpus.len(),
        scripts.len()
    );
    let walk: Vec<Pattern> = corpus.iter().map(|p| p.without_cycle_cache()).collect();
    let stored = corpus.iter().zip(&walk).filter(|(a, b)| a != b).count();
    println!(
        "{stored} of {} corpus patterns have stored cycles",
        corpus.len()
    );
    let weft = bench(&corpus, BARS);
    show("weft  corpus", &weft);
    let tree = bench(&walk, BARS);
    show("weft  corpus, tree walk", &tree);
    let into = bench_into(&corpus, BARS);
    show("weft  corpus, reused buffer", &into);
    // The scripts' handful of patterns, repeated so the percentiles have samples.
    let many: Vec<Pattern> = (0..200).flat_map(|_| scripts.iter().cloned()).collect();
    show("weft  scripts/ patterns", &bench(&many, BARS));
    match strudel(root, BARS) {
        Ok(s) => {
            show("strudel 1.1.0 corpus (node)", &s);
            for (name, w) in [
                ("", &weft),
                (" (tree walk)", &tree),
                (" (reused buffer)", &into),
            ] {
                println!(
                    "weft{name} is {:.1}x faster in total, {:.1}x at p50, {:.1}x at p99",
                    s.total_ms / w.total_ms,
                    s.p50_us / w.p50_us,
                    s.p99_us / w.p99_us
                );
            }
        }
        Err(e) => println!("strudel: {e}"),
    }
}
