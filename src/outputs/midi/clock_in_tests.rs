use super::*;

/// A small deterministic generator (xorshift) for jitter.
struct Rng(u64);
impl Rng {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn period(bpm: f64) -> f64 {
    60e6 / bpm / 24.0
}

/// Feeds `n` pulses at `bpm` from `t0` (µs), each moved by up to ±`jitter` µs; returns the
/// time of the next pulse.
fn pulses(e: &mut ClockEstimator, t0: f64, bpm: f64, n: usize, jitter: f64, rng: &mut Rng) -> f64 {
    let p = period(bpm);
    for i in 0..n {
        e.feed(t0 + i as f64 * p + jitter * rng.next(), ClockMsg::Tick);
    }
    t0 + n as f64 * p
}

#[test]
fn a_steady_jittered_clock_gives_a_steady_tempo() {
    let mut e = ClockEstimator::new();
    let mut rng = Rng(7);
    // 150 BPM with ±1 ms of jitter on every pulse (a pulse is 16.7 ms).
    let mut t = pulses(&mut e, 1e6, 150.0, 96, 1000.0, &mut rng);
    let first = e.tempo().unwrap();
    assert!((first - 150.0).abs() < 0.5, "{first}");
    // Another 20 beats: the tempo shown does not move (deadband), and stays close.
    let mut seen = vec![];
    for _ in 0..20 {
        t = pulses(&mut e, t, 150.0, 24, 1000.0, &mut rng);
        seen.push(e.tempo().unwrap());
    }
    let changes = seen.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        changes <= 2,
        "a steady clock moved the tempo {changes} times: {seen:?}"
    );
    assert!(seen.iter().all(|b| (b - 150.0).abs() < 0.3), "{seen:?}");
}

#[test]
fn missing_pulses_do_not_slip_the_beat() {
    let mut e = ClockEstimator::new();
    let p = period(120.0);
    e.feed(0.0, ClockMsg::Start);
    // 96 pulses (4 beats) of which every 10th is lost.
    for i in 0..96 {
        if i % 10 != 5 {
            e.feed(1e6 + i as f64 * p, ClockMsg::Tick);
        }
    }
    assert!((e.tempo().unwrap() - 120.0).abs() < 0.01);
    // The pulse after Start is beat 0: at pulse 96 the master is on beat 4.
    let b = e.beat_at(1e6 + 96.0 * p).unwrap();
    assert!((b - 4.0).abs() < 1e-6, "beat {b}");
}

#[test]
fn a_tempo_change_is_followed_within_a_beat_and_the_beat_count_stays_whole() {
    let mut e = ClockEstimator::new();
    let mut rng = Rng(3);
    let t = pulses(&mut e, 0.0, 150.0, 48, 200.0, &mut rng);
    assert!((e.tempo().unwrap() - 150.0).abs() < 0.2);
    // 150 → 100 (a gap 1.5 times as long: not two pulses).
    let t = pulses(&mut e, t, 100.0, 24, 200.0, &mut rng);
    assert!((e.tempo().unwrap() - 100.0).abs() < 0.2, "{:?}", e.tempo());
    // And up again, 100 → 180.
    pulses(&mut e, t, 180.0, 24, 200.0, &mut rng);
    assert!((e.tempo().unwrap() - 180.0).abs() < 0.3, "{:?}", e.tempo());
    // A halving is a tempo change too, not every other pulse lost.
    let mut h = ClockEstimator::new();
    let t = pulses(&mut h, 0.0, 160.0, 48, 0.0, &mut rng);
    pulses(&mut h, t, 80.0, 24, 0.0, &mut rng);
    assert!((h.tempo().unwrap() - 80.0).abs() < 0.01, "{:?}", h.tempo());
}

#[test]
fn garbage_times_floods_and_bytes_are_ignored() {
    let mut e = ClockEstimator::new();
    let mut rng = Rng(11);
    let mut t = pulses(&mut e, 0.0, 120.0, 48, 0.0, &mut rng);
    // Not-a-number and infinite times.
    e.feed(f64::NAN, ClockMsg::Tick);
    e.feed(f64::INFINITY, ClockMsg::Tick);
    // A flood: 1,000 pulses within a millisecond after one real pulse.
    e.feed(t, ClockMsg::Tick);
    for i in 0..1000 {
        e.feed(t + i as f64, ClockMsg::Tick);
    }
    t += period(120.0);
    assert!(e.ignored >= 1002, "{}", e.ignored);
    pulses(&mut e, t, 120.0, 24, 0.0, &mut rng);
    assert!((e.tempo().unwrap() - 120.0).abs() < 0.01, "{:?}", e.tempo());
    // Bytes that are not clock messages, or truncated ones, parse to nothing.
    for b in [
        &[0x90, 60, 100][..],
        &[],
        &[0xF2, 0x80, 0],
        &[0xF2, 1],
        &[0xFF],
        &[0xF0, 1, 2, 0xF7],
    ] {
        assert_eq!(ClockMsg::parse(b), None, "{b:?}");
    }
    assert_eq!(
        ClockMsg::parse(&[0xF2, 0x10, 0x01]),
        Some(ClockMsg::Position(144))
    );
    assert_eq!(ClockMsg::parse(&[0xF8]), Some(ClockMsg::Tick));
}

#[test]
fn a_sustained_flood_is_not_a_tempo() {
    // Pulses every 3 ms (833 BPM) are above 400 BPM: no tempo to follow.
    let mut e = ClockEstimator::new();
    for i in 0..200 {
        e.feed(i as f64 * 3000.0, ClockMsg::Tick);
    }
    assert_eq!(e.tempo(), None);
    assert_eq!(e.beat_at(1e6), None);
}

#[test]
fn start_continue_and_stop_become_cues_and_song_position_is_honoured() {
    let mut e = ClockEstimator::new();
    let p = period(120.0);
    let mut rng = Rng(5);
    let t = pulses(&mut e, 0.0, 120.0, 48, 0.0, &mut rng);
    e.feed(t, ClockMsg::Start);
    let t = pulses(&mut e, t, 120.0, 30, 0.0, &mut rng);
    e.feed(t, ClockMsg::Stop);
    // Song position 8 sixteenths = beat 2, then Continue: the next pulse is beat 2.
    e.feed(t, ClockMsg::Position(8));
    e.feed(t, ClockMsg::Continue);
    pulses(&mut e, t + p, 120.0, 4, 0.0, &mut rng);
    assert_eq!(e.take_cue(), Some(Cue::Start));
    assert_eq!(e.take_cue(), Some(Cue::Stop));
    assert_eq!(e.take_cue(), Some(Cue::Continue));
    assert_eq!(e.take_cue(), None);
    let b = e.beat_at(t + p).unwrap();
    assert!((b - 2.0).abs() < 1e-6, "beat {b}");
    assert!((e.time_at_beat(3.0).unwrap() - (t + p + 24.0 * p)).abs() < 1.0);
    // The tempo went on through the transport changes.
    assert!((e.tempo().unwrap() - 120.0).abs() < 0.01);
}

#[test]
fn a_paused_clock_restarts_the_estimate() {
    let mut e = ClockEstimator::new();
    let mut rng = Rng(9);
    let t = pulses(&mut e, 0.0, 90.0, 48, 0.0, &mut rng);
    assert!(e.live(t));
    assert!(!e.live(t + 1e6));
    // Two seconds of silence, then 140 BPM: no gap of 2 s is counted as pulses.
    pulses(&mut e, t + 2e6, 140.0, 24, 0.0, &mut rng);
    assert!((e.tempo().unwrap() - 140.0).abs() < 0.01, "{:?}", e.tempo());
}

#[test]
fn the_beat_stays_on_the_masters_after_a_slowdown() {
    // Before, the first two slower gaps (1.5 or 2 periods) were counted as two pulses each
    // and the relabelling kept that: the beat stayed 2 pulses (1/12 beat) ahead for good.
    for (from, to) in [(150.0, 100.0), (160.0, 80.0), (120.0, 60.0), (100.0, 150.0)] {
        let mut e = ClockEstimator::new();
        let mut rng = Rng(5);
        e.feed(0.0, ClockMsg::Start);
        let t = pulses(&mut e, 1e6, from, 48, 0.0, &mut rng);
        let t = pulses(&mut e, t, to, 48, 0.0, &mut rng);
        // 96 pulses sent since Start: the next pulse is beat 4.
        let b = e.beat_at(t).unwrap();
        assert!(
            (b - 4.0).abs() < 1e-3,
            "{from} → {to} BPM: beat {b}, want 4"
        );
    }
}

#[test]
fn start_is_given_out_with_its_first_pulse_on_the_new_timeline() {
    let mut e = ClockEstimator::new();
    let p = period(120.0);
    let mut rng = Rng(8);
    // A master whose clock runs while it is stopped (as hardware does), then Start.
    let t = pulses(&mut e, 0.0, 120.0, 40, 0.0, &mut rng);
    e.feed(t - p / 2.0, ClockMsg::Start);
    assert_eq!(e.take_cue(), None, "not before the pulse it refers to");
    e.feed(t, ClockMsg::Tick);
    assert_eq!(e.take_cue(), Some(Cue::Start));
    // Read when the cue is taken, the timeline is already the master's: that pulse is beat 0.
    assert!(e.beat_at(t).unwrap().abs() < 1e-6, "{:?}", e.beat_at(t));
    // A Start cancelled by a Stop before its first pulse gives only the Stop.
    e.feed(t + p / 2.0, ClockMsg::Start);
    e.feed(t + p * 0.7, ClockMsg::Stop);
    e.feed(t + p, ClockMsg::Tick);
    assert_eq!(e.take_cue(), Some(Cue::Stop));
    assert_eq!(e.take_cue(), None);
}
