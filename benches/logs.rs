//! Bench (harness = false): prints import throughput on a generated Last.fm-1K scale TSV
//! (19 M rows by default, `WEFT_BENCH_ROWS` to change), ALS fit time on 1 M events, the
//! `changepoint` fit on 1 M plays, forecast time for 1,000 daily series, and peak RSS (VmHWM).

use std::io::{BufWriter, Write};
use std::time::Instant;
use weft::logs::{self, PlayRule};
use weft::recommend::als::{Als, AlsConfig, Csr};
use weft::rng::Rng;

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.to_string())
        })
        .unwrap_or_else(|| "VmHWM: n/a".into())
}

fn main() {
    let rows: usize = std::env::var("WEFT_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(19_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir
        .path()
        .join("userid-timestamp-artid-artname-traid-traname.tsv");
    // Last.fm-1K shape: ~1,000 users, ~170k artists, ~1M tracks, Zipf-ish popularity.
    let t0 = Instant::now();
    {
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        let mut rng = Rng::new(1);
        let mut ts = 1_100_000_000i64;
        for r in 0..rows {
            let u = r * 1000 / rows.max(1);
            let a = ((rng.next_f64().powi(3)) * 170_000.0) as u64;
            let t = a * 6 + (rng.next_f64().powi(2) * 6.0) as u64;
            ts += 1 + rng.below(300) as i64;
            let day = ts.div_euclid(86400);
            let (y, m, d) = logs::time::civil_from_days(day);
            let s = ts.rem_euclid(86400);
            writeln!(
                w,
                "user_{u:06}\t{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z\t{a:08x}-0000-4000-8000-{a:012x}\tArtist {a}\t{t:08x}-1111-4000-8000-{t:012x}\tTrack number {t} (Live)",
                s / 3600,
                (s / 60) % 60,
                s % 60
            )
            .unwrap();
        }
        w.flush().unwrap();
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "generated {rows} rows, {:.1} MB in {:.1} s",
        bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    let l = logs::load(&path, PlayRule::default()).expect("load");
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "import: {} plays, {} users, {} items in {secs:.2} s = {:.0} rows/s, {:.1} MB/s ({} bad)",
        l.plays.len(),
        l.users.len(),
        l.items.len(),
        rows as f64 / secs,
        bytes as f64 / 1e6 / secs,
        l.report.bad
    );
    println!("after import: {}", vm_hwm());
    drop(l);
    drop(dir);

    // ALS on 1 M events: 5,000 users × 20,000 items, Zipf items.
    let mut rng = Rng::new(2);
    let (nu, ni) = (5_000usize, 20_000usize);
    let mut rows_m: Csr = vec![Vec::new(); nu];
    for _ in 0..1_000_000 {
        let u = rng.below(nu);
        let i = ((rng.next_f64().powi(2)) * ni as f64) as u32;
        rows_m[u].push((i, 1.0));
    }
    for r in &mut rows_m {
        r.sort_by_key(|x| x.0);
        let mut out: Vec<(u32, f32)> = Vec::new();
        for &(i, c) in r.iter() {
            match out.last_mut() {
                Some(l) if l.0 == i => l.1 += c,
                _ => out.push((i, c)),
            }
        }
        *r = out;
    }
    let cfg = AlsConfig {
        factors: 64,
        iterations: 15,
        ..Default::default()
    };
    let t0 = Instant::now();
    let m = Als::fit_matrix(&rows_m, ni, &cfg);
    println!(
        "ALS fit: 1,000,000 events, {nu} users × {ni} items, {} factors, {} iterations in {:.2} s (threads: {}); objective {:.0} → {:.0}",
        cfg.factors,
        cfg.iterations,
        t0.elapsed().as_secs_f64(),
        rayon::current_num_threads(),
        m.loss[0],
        m.loss[m.loss.len() - 1]
    );

    // The `period` model `--eval` chooses: changepoint on 1,000,000 plays over a year (same
    // users and items as ALS above, times spread uniformly), one fit of every user.
    let mut ev: Vec<(u32, u32, i64)> = (0..1_000_000)
        .map(|_| {
            let u = rng.below(nu) as u32;
            let i = ((rng.next_f64().powi(2)) * ni as f64) as u32;
            (u, i, rng.below(365 * 86_400) as i64)
        })
        .collect();
    ev.sort_unstable_by_key(|e| (e.0, e.2));
    let train = weft::recommend::Train::new(nu, ni, &ev, vec![0; ni]);
    let t0 = Instant::now();
    let cp = weft::recommend::changepoint::ChangePoint::fit(&train);
    println!(
        "changepoint fit: 1,000,000 plays over 365 days, {nu} users × {ni} items, {} priors in {:.2} s ({} estimates)",
        weft::recommend::changepoint::PRIORS.len(),
        t0.elapsed().as_secs_f64(),
        (0..nu as u32).map(|u| cp.row(u).len()).sum::<usize>()
    );

    // Forecast 1,000 series of 2 years, ETS chosen by AICc, 28-day horizon with intervals.
    let series: Vec<Vec<f64>> = (0..1000)
        .map(|k| {
            let mut r = Rng::new(100 + k);
            (0..730)
                .map(|t| {
                    let w = [0.8, 0.9, 1.0, 1.0, 1.2, 1.4, 1.1][t % 7];
                    (50.0 + 0.02 * t as f64) * w + 5.0 * r.normal()
                })
                .collect()
        })
        .collect();
    let t0 = Instant::now();
    use rayon::prelude::*;
    let total: f64 = series
        .par_iter()
        .map(|y| {
            let (m, _) = weft::forecast::models::fit("ets-auto", y);
            weft::forecast::models::forecast_with_intervals(m.as_ref(), y, 28, 365)[27].0
        })
        .sum();
    println!(
        "forecast: 1,000 series × 730 days, ets-auto + conformal 28 days in {:.2} s (checksum {total:.0})",
        t0.elapsed().as_secs_f64()
    );
    println!("peak: {}", vm_hwm());
}
