//! The live analyzer thread: frames arrive at the hop rate from samples pushed into the
//! ring, a full channel drops (and counts) frames instead of blocking, and the thread stops
//! on request, when the producer is gone, or when the receiver is gone.

use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};
use weft::analysis::{live, AnalyzerConfig};

fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn frames_flow_at_the_hop_rate_and_stop_cleanly() {
    let cfg = AnalyzerConfig::new(44_100);
    let (mut prod, cons) = rtrb::RingBuffer::<f32>::new(1 << 15);
    let (tx, rx) = sync_channel(4096);
    let handle = live::spawn(cons, cfg, tx).unwrap();
    let n = 44_100usize;
    let tone: Vec<f32> = (0..n)
        .map(|i| 0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 44_100.0).sin())
        .collect();
    for block in tone.chunks(512) {
        while prod.push_entire_slice(block).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Frame t is complete once sample t·hop + fft/2 has arrived.
    let expected = ((n - cfg.fft / 2) / cfg.hop + 1) as u64;
    assert!(
        wait_until(|| handle.stats().frames == expected),
        "frames {:?}",
        handle.stats()
    );
    let got: Vec<_> = rx.try_iter().collect();
    assert_eq!(got.len() as u64, expected);
    assert!(got.windows(2).all(|w| w[1].frame == w[0].frame + 1));
    let mid = &got[got.len() / 2];
    assert!(
        (mid.centroid - 440.0).abs() < 0.03 * 440.0,
        "centroid {}",
        mid.centroid
    );
    let stats = handle.stop();
    assert!(stats.finished);
    assert_eq!(stats.dropped, 0);
    assert!(stats.cpu_seconds > 0.0);
}

#[test]
fn a_full_channel_drops_and_counts_frames_without_blocking() {
    let cfg = AnalyzerConfig::new(48_000);
    let (mut prod, cons) = rtrb::RingBuffer::<f32>::new(1 << 16);
    let (tx, rx) = sync_channel(2);
    let handle = live::spawn(cons, cfg, tx).unwrap();
    let noise: Vec<f32> = (0..48_000)
        .map(|i| ((i as u64 * 7919 % 1000) as f32 / 1000.0) - 0.5)
        .collect();
    prod.push_entire_slice(&noise).unwrap();
    let expected = ((48_000 - cfg.fft / 2) / cfg.hop + 1) as u64;
    assert!(wait_until(|| handle.stats().frames == expected));
    let stats = handle.stats();
    assert_eq!(stats.dropped, expected - 2);
    assert_eq!(rx.try_iter().count(), 2);
    drop(handle); // stops and joins
}

#[test]
fn thread_ends_when_the_producer_is_dropped_or_the_receiver_is_gone() {
    let cfg = AnalyzerConfig::new(44_100);
    let (prod, cons) = rtrb::RingBuffer::<f32>::new(4096);
    let (tx, _rx) = sync_channel(16);
    let handle = live::spawn(cons, cfg, tx).unwrap();
    drop(prod);
    assert!(wait_until(|| handle.stats().finished));

    let (mut prod, cons) = rtrb::RingBuffer::<f32>::new(1 << 14);
    let (tx, rx) = sync_channel(16);
    let handle = live::spawn(cons, cfg, tx).unwrap();
    drop(rx);
    prod.push_entire_slice(&[0.1; 8192]).unwrap();
    assert!(wait_until(|| handle.stats().finished));
}

#[test]
fn invalid_settings_are_refused_before_a_thread_starts() {
    let (_prod, cons) = rtrb::RingBuffer::<f32>::new(16);
    let (tx, _rx) = sync_channel(1);
    let cfg = AnalyzerConfig {
        sample_rate: 44_100,
        fft: 100,
        hop: 50,
    };
    assert!(live::spawn(cons, cfg, tx).is_err());
}

#[test]
fn control_changes_frame_settings_and_keeps_the_stream_clock() {
    let cfg = AnalyzerConfig::new(44_100);
    let (mut prod, cons) = rtrb::RingBuffer::<f32>::new(1 << 16);
    let (tx, rx) = sync_channel(8192);
    let handle = live::spawn(cons, cfg, tx).unwrap();
    let tone: Vec<f32> = (0..44_100)
        .map(|i| (0.5 * (i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 44_100.0).sin()) as f32)
        .collect();
    let push = |prod: &mut rtrb::Producer<f32>, x: &[f32]| {
        for block in x.chunks(512) {
            while prod.push_entire_slice(block).is_err() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    };
    push(&mut prod, &tone);
    let first = ((tone.len() - cfg.fft / 2) / cfg.hop + 1) as u64;
    assert!(wait_until(|| handle.stats().frames == first));
    // Out of range: refused, counted, the old settings stay.
    assert!(handle.control().set(100, 50));
    // In range: the next frames use fft 4096 / hop 1024.
    assert!(handle.control().set(4096, 1024));
    assert!(wait_until(|| handle.stats().fft == 4096));
    push(&mut prod, &tone);
    let second = ((tone.len() - 4096 / 2) / 1024 + 1) as u64;
    assert!(
        wait_until(|| handle.stats().frames == first + second),
        "{:?}",
        handle.stats()
    );
    let stats = handle.stop();
    assert_eq!((stats.fft, stats.hop, stats.rejected), (4096, 1024, 1));
    let got: Vec<_> = rx.try_iter().collect();
    assert_eq!(got.len() as u64, first + second);
    // Frame numbers keep counting; times continue from where the first second ended.
    assert!(got.windows(2).all(|w| w[1].frame == w[0].frame + 1));
    let boundary = &got[first as usize];
    assert!((boundary.time - 1.0).abs() < 1e-9, "{}", boundary.time);
    let step = got[first as usize + 1].time - boundary.time;
    assert!((step - 1024.0 / 44_100.0).abs() < 1e-9, "{step}");
    let late = &got[got.len() - 10];
    assert!(
        (late.centroid - 440.0).abs() < 0.03 * 440.0,
        "{}",
        late.centroid
    );
}
