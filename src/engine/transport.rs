//! Musical time: ticks (960 per quarter note), bars and beats, the tempo map, and exact
//! conversion between ticks and audio frames.
//!
//! Every conversion is integer arithmetic on exact rationals (tempo is kept in milli-BPM), so
//! there is no drift: the frame of tick `t` is a pure function of the tempo map and the
//! sample rate, whatever was converted before. Each tempo segment starts at the frame of its
//! first tick (rounded up to a whole frame), and within a segment
//!
//! ```text
//! frame(t) = seg.frame + ceil((t - seg.tick) · sr · 60 000 / (960 · mbpm))
//! tick(f)  = seg.tick  + floor((f - seg.frame) · 960 · mbpm / (sr · 60 000))
//! ```
//!
//! Rounding the frame up and the tick down makes `tick(frame(t)) == t` for every tick as long as
//! a tick is at least one frame long (true below ~2 700 BPM at 44.1 kHz).

use crate::engine::event::{Frame, Tick};

/// Ticks per quarter note, the SMF resolution weft writes.
pub const TPQ: u64 = 960;

/// Lowest and highest tempo a patch may ask for.
pub const MIN_BPM: f64 = 20.0;
pub const MAX_BPM: f64 = 400.0;

/// A time signature (numerator / denominator, e.g. 7/8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeSig {
    pub num: u8,
    pub den: u8,
}

impl Default for TimeSig {
    fn default() -> Self {
        TimeSig { num: 4, den: 4 }
    }
}

impl TimeSig {
    /// Ticks in one beat (one denominator note).
    pub fn ticks_per_beat(self) -> Tick {
        TPQ * 4 / self.den as u64
    }
    /// Ticks in one bar.
    pub fn ticks_per_bar(self) -> Tick {
        self.ticks_per_beat() * self.num as u64
    }
    /// Bar index (0-based) containing `tick`.
    pub fn bar_of(self, tick: Tick) -> u64 {
        tick / self.ticks_per_bar()
    }
    /// First tick of bar `bar`.
    pub fn bar_start(self, bar: u64) -> Tick {
        bar * self.ticks_per_bar()
    }
    /// (bar, beat) both 0-based, as shown 1-based in the transport pane.
    pub fn bar_beat(self, tick: Tick) -> (u64, u64) {
        let bar = self.bar_of(tick);
        let beat = (tick - self.bar_start(bar)) / self.ticks_per_beat();
        (bar, beat)
    }
    /// Validates a signature a patch asked for.
    pub fn new(num: u8, den: u8) -> Option<TimeSig> {
        ((1..=32).contains(&num) && matches!(den, 1 | 2 | 4 | 8 | 16 | 32))
            .then_some(TimeSig { num, den })
    }
}

/// Tempo in milli-beats-per-minute (quarter notes): exact for any tempo typed with up to three decimals.
pub type MilliBpm = u64;

/// Converts BPM to milli-BPM, clamped to the supported range. A tempo that is not a number
/// (NaN) becomes the slowest supported one: a divide by a zero tempo must never be reachable,
/// whatever a command line or a caller passes (callers validate and report first).
pub fn bpm_to_milli(bpm: f64) -> MilliBpm {
    let bpm = if bpm.is_nan() { MIN_BPM } else { bpm };
    (bpm.clamp(MIN_BPM, MAX_BPM) * 1000.0).round() as MilliBpm
}

/// Parses a tempo typed by a person (`--tempo`): a finite number of BPM in the supported range.
pub fn parse_bpm(s: &str) -> Result<f64, String> {
    let b: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of BPM"))?;
    if !b.is_finite() || !(MIN_BPM..=MAX_BPM).contains(&b) {
        return Err(format!("{s} is outside {MIN_BPM}..{MAX_BPM} BPM"));
    }
    Ok(b)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    tick: Tick,
    frame: Frame,
    mbpm: MilliBpm,
}

/// A tempo map: tempo changes at ticks, with exact tick ⇄ frame conversion at one sample rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TempoMap {
    sample_rate: u32,
    segments: Vec<Segment>,
}

impl TempoMap {
    /// A map with one tempo from tick 0.
    pub fn new(sample_rate: u32, bpm: f64) -> TempoMap {
        TempoMap {
            sample_rate,
            segments: vec![Segment {
                tick: 0,
                frame: 0,
                mbpm: bpm_to_milli(bpm),
            }],
        }
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Frames per tick numerator/denominator for a segment: sr·60000 / (960·mbpm).
    fn ratio(&self, mbpm: MilliBpm) -> (u128, u128) {
        (
            self.sample_rate as u128 * 60_000,
            TPQ as u128 * mbpm as u128,
        )
    }

    fn segment_for_tick(&self, tick: Tick) -> &Segment {
        let i = self.segments.partition_point(|s| s.tick <= tick);
        &self.segments[i.saturating_sub(1)]
    }

    fn segment_for_frame(&self, frame: Frame) -> &Segment {
        let i = self.segments.partition_point(|s| s.frame <= frame);
        &self.segments[i.saturating_sub(1)]
    }

    /// The audio frame at which `tick` sounds.
    pub fn tick_to_frame(&self, tick: Tick) -> Frame {
        let s = self.segment_for_tick(tick);
        let (num, den) = self.ratio(s.mbpm);
        let d = (tick - s.tick) as u128 * num;
        s.frame + d.div_ceil(den) as Frame
    }

    /// The tick sounding at audio frame `frame` (the last tick whose frame is ≤ `frame`).
    pub fn frame_to_tick(&self, frame: Frame) -> Tick {
        let s = self.segment_for_frame(frame);
        let (num, den) = self.ratio(s.mbpm);
        s.tick + ((frame - s.frame) as u128 * den / num) as Tick
    }

    /// Tempo in BPM at `tick`.
    pub fn bpm_at(&self, tick: Tick) -> f64 {
        self.segment_for_tick(tick).mbpm as f64 / 1000.0
    }

    /// Sets the tempo from `tick` on. Changes after `tick` are dropped (the map is rewritten
    /// from there), a change at the same tick replaces it, and a change to the tempo already
    /// in force adds nothing. Returns true when the map changed.
    pub fn set_tempo(&mut self, tick: Tick, bpm: f64) -> bool {
        let mbpm = bpm_to_milli(bpm);
        self.segments.retain(|s| s.tick < tick || s.tick == 0);
        if tick == 0 {
            self.segments[0].mbpm = mbpm;
            self.segments.truncate(1);
            return true;
        }
        if self.segments.last().map(|s| s.mbpm) == Some(mbpm) {
            return false;
        }
        let frame = self.tick_to_frame(tick);
        self.segments.push(Segment { tick, frame, mbpm });
        true
    }

    /// All tempo changes as (tick, BPM), first at tick 0.
    pub fn changes(&self) -> Vec<(Tick, f64)> {
        self.segments
            .iter()
            .map(|s| (s.tick, s.mbpm as f64 / 1000.0))
            .collect()
    }

    /// Microseconds per quarter note at a change, as written in an SMF tempo meta event.
    pub fn micros_per_quarter(bpm: f64) -> u32 {
        (60_000_000.0 / bpm).round().clamp(1.0, 16_777_215.0) as u32
    }

    /// Frames from `from` to `to` ticks (to ≥ from).
    pub fn frames_between(&self, from: Tick, to: Tick) -> Frame {
        self.tick_to_frame(to) - self.tick_to_frame(from)
    }
}

/// When a saved edit takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Quantize {
    /// At the next tick the scheduler has not yet emitted.
    Now,
    /// At the next beat.
    Beat,
    /// At the next bar (the default).
    #[default]
    Bar,
    /// At the next multiple of N beats (counted from the start of the transport).
    Beats(u32),
}

impl Quantize {
    /// Parses `"now"`, `"beat"`, `"bar"`, or a number of beats.
    pub fn parse(s: &str) -> Option<Quantize> {
        match s.trim() {
            "now" => Some(Quantize::Now),
            "beat" => Some(Quantize::Beat),
            "bar" => Some(Quantize::Bar),
            other => other
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .map(Quantize::Beats),
        }
    }

    /// The first quantize point at or after `tick`.
    pub fn next_point(self, tick: Tick, sig: TimeSig) -> Tick {
        let grid = match self {
            Quantize::Now => return tick,
            Quantize::Beat => sig.ticks_per_beat(),
            Quantize::Bar => sig.ticks_per_bar(),
            Quantize::Beats(n) => sig.ticks_per_beat() * n as u64,
        };
        tick.div_ceil(grid) * grid
    }
}

impl std::fmt::Display for Quantize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quantize::Now => write!(f, "now"),
            Quantize::Beat => write!(f, "beat"),
            Quantize::Bar => write!(f, "bar"),
            Quantize::Beats(n) => write!(f, "{n} beats"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn typed_tempos_are_checked_and_nan_never_divides_by_zero() {
        assert_eq!(parse_bpm("120"), Ok(120.0));
        for bad in [
            "NaN", "nan", "inf", "-inf", "0", "19.9", "400.1", "1e308", "fast", "",
        ] {
            assert!(parse_bpm(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(bpm_to_milli(f64::NAN), 20_000);
        assert_eq!(bpm_to_milli(f64::INFINITY), 400_000);
        let mut m = TempoMap::new(48_000, f64::NAN);
        m.set_tempo(960, f64::NAN);
        assert!(m.tick_to_frame(1920) > 0);
        assert!(m.frame_to_tick(48_000) > 0);
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_hour_at_137_bpm_has_no_drift() {
        let map = TempoMap::new(44_100, 137.0);
        // One hour at 137 BPM is 8 220 quarter notes.
        let ticks = 137 * 60 * TPQ;
        assert_eq!(map.tick_to_frame(ticks), 3600 * 44_100);
        assert_eq!(map.frame_to_tick(3600 * 44_100), ticks);
        // Accumulating per-quarter frame counts (the naive way) must agree exactly too.
        let mut acc = 0;
        for q in 0..(137 * 60) {
            acc += map.frames_between(q * TPQ, (q + 1) * TPQ);
        }
        assert_eq!(acc, 3600 * 44_100);
    }

    #[test]
    fn tempo_changes_take_effect_at_their_tick() {
        let mut map = TempoMap::new(48_000, 120.0);
        assert_eq!(map.tick_to_frame(TPQ), 24_000);
        map.set_tempo(4 * TPQ, 60.0);
        assert_eq!(map.tick_to_frame(4 * TPQ), 96_000);
        assert_eq!(map.tick_to_frame(5 * TPQ), 96_000 + 48_000);
        assert_eq!(map.frame_to_tick(96_000 + 48_000), 5 * TPQ);
        assert_eq!(map.bpm_at(4 * TPQ - 1), 120.0);
        assert_eq!(map.bpm_at(4 * TPQ), 60.0);
        assert_eq!(map.changes(), vec![(0, 120.0), (4 * TPQ, 60.0)]);
        // Same tempo again adds nothing.
        assert!(!map.set_tempo(8 * TPQ, 60.0));
    }

    #[test]
    fn bars_and_beats_in_seven_eight() {
        let sig = TimeSig::new(7, 8).unwrap();
        assert_eq!(sig.ticks_per_beat(), 480);
        assert_eq!(sig.ticks_per_bar(), 3360);
        assert_eq!(sig.bar_beat(3360 + 480 * 3 + 5), (1, 3));
        assert!(TimeSig::new(4, 3).is_none());
    }

    #[test]
    fn quantize_points() {
        let sig = TimeSig::default();
        assert_eq!(Quantize::Now.next_point(1234, sig), 1234);
        assert_eq!(Quantize::Beat.next_point(1, sig), 960);
        assert_eq!(Quantize::Beat.next_point(960, sig), 960);
        assert_eq!(Quantize::Bar.next_point(961, sig), 3840);
        assert_eq!(Quantize::Beats(8).next_point(3841, sig), 7680);
        assert_eq!(Quantize::parse("2"), Some(Quantize::Beats(2)));
        assert_eq!(Quantize::parse("0"), None);
        assert_eq!(Quantize::parse("bar"), Some(Quantize::Bar));
    }

    proptest! {
        #[test]
        fn ticks_frames_ticks_round_trips(
            sr in prop::sample::select(vec![22_050u32, 44_100, 48_000, 96_000]),
            changes in prop::collection::vec((1u64..200_000, 20.0f64..400.0), 0..8),
            first in 20.0f64..400.0,
            probe in prop::collection::vec(0u64..400_000, 1..50),
        ) {
            let mut map = TempoMap::new(sr, first);
            let mut sorted = changes.clone();
            sorted.sort_by_key(|c| c.0);
            for (t, bpm) in sorted {
                map.set_tempo(t, bpm);
            }
            for t in probe {
                let f = map.tick_to_frame(t);
                prop_assert_eq!(map.frame_to_tick(f), t);
                // Monotonic.
                prop_assert!(map.tick_to_frame(t + 1) > f);
            }
        }
    }
}
