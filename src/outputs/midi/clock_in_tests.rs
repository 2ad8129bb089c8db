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

/// Feeds pulses at `times`; returns the tempo shown after each.
fn feed_all(e: &mut ClockEstimator, times: impl IntoIterator<Item = f64>) -> Vec<f64> {
    times
        .into_iter()
        .map(|t| {
            e.feed(t, ClockMsg::Tick);
            e.tempo().unwrap_or(f64::NAN)
        })
        .collect()
}

#[test]
fn a_phase_step_keeps_the_tempo_and_moves_the_beat() {
    // A master that loses time under load (a stall, then it goes on from "now" with pulses
    // skipped): its pulses keep their spacing but jump 0.58 of a pulse late. The tempo did
    // not change; only the beat moved. A straight line through the last four beats tilted
    // across the step and showed up to 100.6 BPM for four beats.
    for (bpm, jump) in [(100.0, 3.58), (150.0, 2.4), (120.0, 1.7)] {
        let p = period(bpm);
        let mut e = ClockEstimator::new();
        let mut rng = Rng(21);
        let before: Vec<f64> = (0..200)
            .map(|i| 1e6 + i as f64 * p + 300.0 * rng.next())
            .collect();
        feed_all(&mut e, before);
        assert!((e.tempo().unwrap() - bpm).abs() < 0.05);
        let t1 = 1e6 + (199.0 + jump) * p;
        let after: Vec<f64> = (0..120)
            .map(|j| t1 + j as f64 * p + 300.0 * rng.next())
            .collect();
        let shown = feed_all(&mut e, after.clone());
        assert!(
            shown.iter().all(|s| (s - bpm).abs() <= 0.1),
            "{bpm} BPM, a jump of {jump}: {shown:?}"
        );
        // The pulse after the step is labelled 199 + round(jump); a few pulses on, the beat
        // is on the new timeline (within a tenth of a pulse).
        let label = 199.0 + jump.round();
        for (j, t) in after.iter().enumerate().skip(3) {
            let want = (label + j as f64) / 24.0;
            let got = e.beat_at(*t).unwrap();
            assert!(
                ((got - want) * 24.0).abs() < 0.1 || j < 3,
                "{bpm} BPM: pulse {j} after the step at beat {got}, want {want}"
            );
            if j > 10 {
                break;
            }
        }
    }
}

#[test]
fn one_late_pulse_moves_neither_the_tempo_nor_the_beat() {
    // A pulse delayed by a share of its period (a transport that stalled once), the rest on
    // time: an outlier, not a new phase. Over half a period late, its gap rounds to two
    // pulses and the next gap to none: that pulse was counted twice, and every later label
    // was one pulse ahead — measured under load on JACK, a 150 BPM master showed as
    // 152.3 BPM for four beats and the beat stayed a pulse early.
    for late in [0.3, 0.45, 0.5, 0.55, 0.7, 0.85] {
        let p = period(150.0);
        let mut e = ClockEstimator::new();
        e.feed(0.0, ClockMsg::Start);
        feed_all(&mut e, (0..150).map(|i| 1e6 + i as f64 * p));
        let before = e.tempo().unwrap();
        let mut times: Vec<f64> = (150..300).map(|i| 1e6 + i as f64 * p).collect();
        times[0] += late * p;
        let shown = feed_all(&mut e, times);
        assert!(
            shown.iter().all(|s| (s - before).abs() <= 0.1),
            "{late} of a period late: {shown:?}"
        );
        let b = e.beat_at(1e6 + 300.0 * p).unwrap();
        assert!(
            (b * 24.0 - 300.0).abs() < 0.01,
            "{late} of a period late: beat {b}, want 12.5"
        );
    }
}

#[test]
fn a_clock_with_random_late_pulses_keeps_its_tempo_and_beat() {
    // 2,000 pulses at 150 BPM, ±0.3 ms of jitter, and one pulse in 40 late by anything up to
    // 0.95 of a period (an overloaded transport), never two in a row.
    let p = period(150.0);
    let mut e = ClockEstimator::new();
    let mut rng = Rng(99);
    e.feed(0.0, ClockMsg::Start);
    let mut last_late = false;
    let times: Vec<f64> = (0..2000)
        .map(|i| {
            let u = (rng.next() + 1.0) / 2.0;
            let late = !last_late && i > 200 && u < 1.0 / 40.0;
            last_late = late;
            let delay = if late {
                0.95 * p * (rng.next() + 1.0) / 2.0
            } else {
                0.0
            };
            1e6 + i as f64 * p + 300.0 * rng.next() + delay
        })
        .collect();
    let shown = feed_all(&mut e, times);
    let worst = shown[200..]
        .iter()
        .map(|s| (s - 150.0).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 0.15, "the tempo went {worst:.2} BPM off");
    let b = e.beat_at(1e6 + 2000.0 * p).unwrap();
    assert!(
        (b * 24.0 - 2000.0).abs() < 0.05,
        "beat {b}, want {}",
        2000.0 / 24.0
    );
}

#[test]
fn a_late_first_pulse_after_start_stays_beat_zero() {
    // The pulse after Start is beat 0 whenever it comes; it came 0.6 of a period late, so the
    // gap into it rounds to two pulses and the next gap to none — but its label was set by
    // Start, not counted, so nothing is taken back from it.
    let p = period(120.0);
    let mut e = ClockEstimator::new();
    feed_all(&mut e, (0..48).map(|i| 1e6 + i as f64 * p));
    e.feed(1e6 + 47.5 * p, ClockMsg::Start);
    let mut times: Vec<f64> = (48..160).map(|i| 1e6 + i as f64 * p).collect();
    times[0] += 0.6 * p;
    feed_all(&mut e, times);
    let b = e.beat_at(1e6 + (48.0 + 96.0) * p).unwrap();
    assert!((b - 4.0).abs() < 0.01, "beat {b}, want 4");
}
