//! Analysis bench (harness = false): prints
//! 1. offline analysis speed of a 60 s, 44.1 kHz file (read + all features) in × real time,
//! 2. the ratio against librosa computing the same features on the same file in the same
//!    run, weft's and librosa's runs alternating, when the peer venv exists
//!    (`bash benches/peers/analysis/make_venv.sh`),
//! 3. the live analyzer thread's CPU use at default settings, fed in real time.
//!
//! Run: `cargo bench --bench analysis`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};
use weft::analysis::{analyze_file, live, AnalyzerConfig};

const SR: u32 = 44_100;
const SECS: usize = 60;
/// Both weft and librosa are timed as the best of this many runs (the host is shared:
/// the minimum of several runs is the figure least disturbed by other load).
const REPEAT: usize = 7;

/// A music-like test signal: a chord that changes every 2 s, clicks at 120 bpm, noise.
fn render() -> Vec<f32> {
    let roots = [220.0f32, 174.61, 261.63, 196.0];
    let mut seed = 0x2545F4914F6CDD1Du64;
    (0..SR as usize * SECS)
        .map(|i| {
            let t = i as f32 / SR as f32;
            let root = roots[(i / (2 * SR as usize)) % roots.len()];
            let chord: f32 = [1.0, 1.26, 1.5, 2.0]
                .iter()
                .map(|r| (2.0 * std::f32::consts::PI * root * r * t).sin())
                .sum::<f32>()
                * 0.12;
            let beat = i % (SR as usize / 2);
            let click = if beat < 256 {
                0.6 * (-(beat as f32) / 20.0).exp()
            } else {
                0.0
            };
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.02;
            chord + click + noise
        })
        .collect()
}

fn write_wav(path: &Path, x: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SR,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create bench wav");
    for s in x {
        w.write_sample(*s).expect("write bench wav");
    }
    w.finalize().expect("finish bench wav");
}

/// The librosa peer (`speed.py --serve`) as a child process, warmed up, timing one run of
/// the same work per request, so weft's and librosa's runs can alternate.
struct Librosa {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    version: String,
}

impl Librosa {
    fn start(file: &Path) -> Option<Librosa> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("benches/peers/.venv-analysis/bin/python");
        if !python.exists() {
            println!(
                "librosa peer: skipped (no venv; run bash benches/peers/analysis/make_venv.sh)"
            );
            return None;
        }
        let mut child = Command::new(python)
            .arg(root.join("benches/peers/analysis/speed.py"))
            .arg(file)
            .args(["--fft", "2048", "--hop", "512", "--serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| println!("librosa peer failed to start: {e}"))
            .ok()?;
        let input = child.stdin.take()?;
        let mut output = BufReader::new(child.stdout.take()?).lines();
        let ready = Self::json(&mut output)?;
        Some(Librosa {
            version: ready["librosa"].as_str().unwrap_or("?").to_string(),
            child,
            input,
            output,
        })
    }

    fn json(
        lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>,
    ) -> Option<serde_json::Value> {
        match lines.next() {
            Some(Ok(line)) => serde_json::from_str(&line).ok(),
            _ => {
                println!("librosa peer: no answer (see its error output above)");
                None
            }
        }
    }

    /// One timed librosa run (read + every feature), in seconds.
    fn run(&mut self) -> Option<f64> {
        writeln!(self.input, "run").ok()?;
        self.input.flush().ok()?;
        Self::json(&mut self.output)?["seconds"].as_f64()
    }
}

impl Drop for Librosa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/analysis-bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let file = dir.join("bench60.wav");
    let x = render();
    write_wav(&file, &x);

    // 1. Offline: read + analyse, and 2. librosa on the same file, in one run: the two
    // alternate, so both see the same load of this shared host; each side is the best of
    // REPEAT runs, and the ratio of each adjacent pair is kept for its median.
    let mut librosa = Librosa::start(&file);
    let mut best = f64::MAX;
    let mut peer_best = f64::MAX;
    let mut pair_ratios = Vec::new();
    let mut frames = 0;
    let mut bpm = 0.0;
    for _ in 0..REPEAT {
        let t0 = Instant::now();
        let (_, a) = analyze_file(&file, 2048, 512).expect("analyse bench file");
        let secs = t0.elapsed().as_secs_f64();
        best = best.min(secs);
        frames = a.frames.len();
        bpm = a.summary.bpm;
        if let Some(peer) = librosa.as_mut() {
            match peer.run() {
                Some(p) => {
                    peer_best = peer_best.min(p);
                    pair_ratios.push(p / secs);
                }
                None => librosa = None,
            }
        }
    }
    println!(
        "offline: {SECS} s of 44.1 kHz audio, fft 2048 hop 512, {frames} frames: {:.1} ms = {:.0}x real time ({:.2} us/frame), tempo {bpm:.1} bpm, {} threads",
        best * 1e3,
        SECS as f64 / best,
        best * 1e6 / frames as f64,
        rayon::current_num_threads()
    );
    if let Some(peer) = &librosa {
        pair_ratios.sort_by(f64::total_cmp);
        println!(
            "librosa {}: {:.1} ms = {:.0}x real time; weft is {:.1}x faster (best against best; goal >= 20x); per alternating pair: median {:.1}x, range {:.1}-{:.1}x over {} pairs",
            peer.version,
            peer_best * 1e3,
            SECS as f64 / peer_best,
            peer_best / best,
            pair_ratios[pair_ratios.len() / 2],
            pair_ratios[0],
            pair_ratios[pair_ratios.len() - 1],
            pair_ratios.len()
        );
    }
    drop(librosa);

    // Where the time goes: reading the file, and analysis on one thread.
    let (mut read, mut one) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let t0 = Instant::now();
        let w = weft::analysis::wav::read_mono(&file).expect("read bench wav");
        read = read.min(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let cfg = AnalyzerConfig::new(w.sample_rate);
        weft::analysis::analyze_samples_with(&w.samples, cfg, 1).expect("analyse");
        one = one.min(t0.elapsed().as_secs_f64());
    }
    println!(
        "offline parts: read WAV {:.1} ms, analysis on one thread {:.1} ms ({:.2} us/frame)",
        read * 1e3,
        one * 1e3,
        one * 1e6 / frames as f64
    );

    // 3. Live: feed 10 s in real time, 512-sample blocks, measure the thread's CPU time.
    let cfg = AnalyzerConfig::new(SR);
    let (mut prod, cons) = rtrb::RingBuffer::<f32>::new(1 << 15);
    let (tx, rx) = sync_channel(1024);
    let handle = live::spawn(cons, cfg, tx).expect("spawn analyzer");
    let consumer = std::thread::spawn(move || rx.iter().count());
    let live_secs = 10usize;
    let block = 512usize;
    let t0 = Instant::now();
    for (k, chunk) in x[..SR as usize * live_secs].chunks(block).enumerate() {
        let due = Duration::from_secs_f64(((k + 1) * block) as f64 / SR as f64);
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        while prod.push_entire_slice(chunk).is_err() {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    let wall = t0.elapsed().as_secs_f64();
    let stats = handle.stop();
    let received = consumer.join().expect("consumer thread");
    println!(
        "live: default settings (44.1 kHz, fft 2048, hop 512), {live_secs} s in real time: {} frames ({:.1}/s), {received} received, {} dropped, analyzer thread CPU {:.2}% of one core",
        stats.frames,
        stats.frames as f64 / wall,
        stats.dropped,
        100.0 * stats.cpu_seconds / wall
    );
}
