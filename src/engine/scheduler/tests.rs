//! Unit tests of the scheduler: bar planning, swaps at quantize ticks, note pairing,
//! last-good fallback, and a property test over random operation sequences.
use super::*;
use crate::engine::event::TimedEvent;
use crate::patch::{LoadOptions, NoModels};
use std::path::Path;

fn patch(src: &str) -> Patch {
    Patch::load(Path::new("a.rhai"), src, LoadOptions::default()).unwrap()
}

fn ons(evs: &[TimedEvent]) -> Vec<(Tick, u8)> {
    evs.iter()
        .filter_map(|e| match e.event {
            Event::NoteOn { key, .. } => Some((e.tick, key)),
            _ => None,
        })
        .collect()
}

#[test]
fn plans_bars_and_stamps_frames() {
    let mut s = Scheduler::new(48_000, 120.0, Box::new(NoModels));
    s.install(
        "a.rhai",
        patch(r#"tempo(120); voice("k", #{ synth: "kick" }).pattern("x x x x");"#),
    );
    let evs = s.advance(2 * 3840);
    assert_eq!(ons(&evs).len(), 8);
    let second = evs.iter().find(|e| e.tick == 960).unwrap();
    assert_eq!(second.frame, 24_000);
}

#[test]
fn swap_at_bar_replaces_pattern_exactly_there() {
    let mut s = Scheduler::new(48_000, 120.0, Box::new(NoModels));
    s.install(
        "a.rhai",
        patch(r#"voice("k", #{ synth: "kick" }).pattern("x x x x");"#),
    );
    let mut evs = s.advance(1000);
    let at = s.install(
        "a.rhai",
        patch(r#"voice("k", #{ synth: "kick" }).pattern("x*8");"#),
    );
    assert_eq!(at, 3840);
    evs.extend(s.advance(2 * 3840));
    let o = ons(&evs);
    assert_eq!(o.iter().filter(|(t, _)| *t < 3840).count(), 4);
    assert_eq!(o.iter().filter(|(t, _)| *t >= 3840).count(), 8);
    assert!(s
        .markers()
        .iter()
        .any(|(t, m)| *t == 3840 && m == "a.rhai v2"));
}

#[test]
fn swap_now_mid_bar_keeps_sounding_notes_paired() {
    let mut s = Scheduler::new(48_000, 120.0, Box::new(NoModels));
    s.install(
        "a.rhai",
        patch(r#"voice("p", #{}).pattern("c4 _ _ _").gate(1.0);"#),
    );
    let mut evs = s.advance(1000);
    s.install(
        "a.rhai",
        patch(r#"quantize("now"); voice("p", #{}).pattern("e4 e4 e4 e4");"#),
    );
    evs.extend(s.advance(3840));
    evs.extend(s.stop());
    // c4 started at 0 and ends with its own off at 3840 (its planned end).
    let mut open: HashMap<u8, u32> = HashMap::new();
    for e in &evs {
        match e.event {
            Event::NoteOn { key, .. } => *open.entry(key).or_default() += 1,
            Event::NoteOff { key, .. } => *open.entry(key).or_default() -= 1,
            _ => {}
        }
    }
    assert!(open.values().all(|v| *v == 0), "{open:?}");
    // The new version plays from 1000 on: e4 at 1920 and 2880 (960 < 1000 is gone).
    assert_eq!(ons(&evs), vec![(0, 60), (1920, 64), (2880, 64)]);
}

#[test]
fn failing_on_bar_replays_last_good_and_reports_once() {
    let mut s = Scheduler::new(48_000, 120.0, Box::new(NoModels));
    s.install("a.rhai", patch(r#"voice("k", #{ synth: "kick" }).pattern("x x"); fn on_bar(b) { if b >= 2 { throw "bad bar"; } }"#));
    let evs = s.advance(6 * 3840);
    assert_eq!(ons(&evs).len(), 12);
    let errors: Vec<_> = s
        .take_notices()
        .into_iter()
        .filter(|n| matches!(n, Notice::RuntimeError { .. }))
        .collect();
    assert_eq!(errors.len(), 1);
}

/// A patch whose `on_bar` loops from bar 2, under `limits`; returns the scheduler after 6
/// bars, the number of note-ons, and how often `on_bar` ran.
fn runaway_from_bar_2(limits: crate::patch::Limits) -> (Scheduler, usize, i64) {
    let mut s = Scheduler::new(48_000, 120.0, Box::new(NoModels));
    let src = r#"voice("k", #{ synth: "kick" }).pattern("x x");
           fn on_bar(b) { state.calls = if state.calls == () { 1 } else { state.calls + 1 };
                          if b >= 2 { loop {} } }"#;
    let opts = LoadOptions {
        limits,
        ..LoadOptions::default()
    };
    s.install(
        "a.rhai",
        Patch::load(Path::new("a.rhai"), src, opts).unwrap(),
    );
    let evs = s.advance(6 * 3840);
    let calls = s.patch("a.rhai").unwrap().state().get("calls").unwrap();
    (s, ons(&evs).len(), calls.as_int().unwrap())
}

#[test]
fn a_runaway_on_bar_is_called_once_then_its_last_good_bar_plays() {
    // Stopped by the operation budget: the same every time, so off after once.
    let (mut s, notes, calls) = runaway_from_bar_2(crate::patch::Limits {
        max_operations: 20_000,
        callback_deadline: std::time::Duration::from_secs(60),
        ..Default::default()
    });
    // Every bar still plays (bars 2-6 replay bar 1).
    assert_eq!(notes, 12);
    assert_eq!(calls, 3, "on_bar ran again after running away");
    let errors: Vec<String> = s
        .take_notices()
        .into_iter()
        .filter_map(|n| match n {
            Notice::RuntimeError { error, .. } => Some(error.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("off for this version"), "{errors:?}");
}

#[test]
fn one_deadline_overrun_is_forgiven_two_in_a_row_turn_on_bar_off() {
    // Stopped by the wall clock only: a busy machine can cause one overrun, so the
    // callback stays on after the first and goes off after the second in a row.
    let (_, notes, calls) = runaway_from_bar_2(crate::patch::Limits {
        max_operations: u64::MAX,
        callback_deadline: std::time::Duration::from_millis(2),
        ..Default::default()
    });
    assert_eq!(notes, 12);
    assert_eq!(calls, 4, "bars 2 and 3 overran, then on_bar was off");
}

#[test]
fn retrigger_ends_previous_note_first() {
    let mut s = Scheduler::new(48_000, 120.0, Box::new(NoModels));
    // Both on one channel (voices get distinct channels by default).
    s.install("a.rhai", patch(r#"voice("a", #{ channel: 1 }).pattern("c4 _ _ _").gate(1.0); voice("b", #{ channel: 1 }).pattern("~ c4 ~ ~");"#));
    let evs = s.advance(3840);
    let seq: Vec<_> = evs
        .iter()
        .map(|e| match e.event {
            Event::NoteOn { .. } => ("on", e.tick),
            _ => ("off", e.tick),
        })
        .collect();
    assert_eq!(
        seq,
        vec![("on", 0), ("off", 960), ("on", 960), ("off", 1824)]
    );
}

/// One step of a performer's session against the scheduler.
#[derive(Clone, Debug)]
enum Op {
    Install {
        file: usize,
        rhythm: usize,
        quantize: usize,
        legato: bool,
    },
    Remove {
        file: usize,
    },
    Advance {
        ticks: u64,
    },
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..2usize, 0..5usize, 0..3usize, any::<bool>()).prop_map(
            |(file, rhythm, quantize, legato)| Op::Install {
                file,
                rhythm,
                quantize,
                legato
            }
        ),
        (0..2usize).prop_map(|file| Op::Remove { file }),
        (1..9000u64).prop_map(|ticks| Op::Advance { ticks }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Whatever the order of saves, removals and advances: events come in tick order,
    /// every note-on is ended by exactly one note-off (none left after stop), a key never
    /// overlaps itself on a channel, and a swap cuts exactly at its tick — each version's
    /// notes start at or after its own swap tick and before the next swap of its file.
    #[test]
    fn scheduler_invariants_hold_for_any_session(ops in proptest::collection::vec(op(), 1..30)) {
        const RHYTHMS: [&str; 5] = ["x x x x", "x*8", "x _ x", "[x x] ~ x", "<x [x x]> x"];
        const QUANT: [&str; 3] = ["bar", "beat", "now"];
        let files = ["a.rhai", "b.rhai"];
        let mut s = Scheduler::new(48_000, 120.0, Box::new(NoModels));
        let mut evs = Vec::new();
        // Per install: (file, key, swap tick).
        let mut installs: Vec<(usize, u8, Tick)> = Vec::new();
        let mut to = 0;
        for o in ops {
            match o {
                Op::Install { file, rhythm, quantize, legato } => {
                    let key = 20 + installs.len() as u8;
                    let src = format!(
                        "quantize(\"{}\"); voice(\"v\", #{{ synth: \"saw\", channel: {} }}).notes([{key}], \"{}\"){};",
                        QUANT[quantize], file + 1, RHYTHMS[rhythm],
                        if legato { ".gate(1.0)" } else { "" }
                    );
                    let p = Patch::load(Path::new(files[file]), &src, LoadOptions::default()).unwrap();
                    let at = s.install(files[file], p);
                    installs.push((file, key, at));
                }
                Op::Remove { file } => {
                    s.remove(files[file]);
                }
                Op::Advance { ticks } => {
                    to += ticks;
                    evs.extend(s.advance(to));
                }
            }
        }
        evs.extend(s.stop());
        let mut sounding: HashMap<(u8, u8), u64> = HashMap::new();
        let mut last_tick = 0;
        for e in &evs {
            proptest::prop_assert!(e.tick >= last_tick, "out of order at {}", e.tick);
            last_tick = e.tick;
            match e.event {
                Event::NoteOn { channel, key, .. } => {
                    proptest::prop_assert!(
                        sounding.insert((channel, key), e.tick).is_none(),
                        "key {key} overlaps itself at {}", e.tick
                    );
                    let (file, _, at) = installs.iter().find(|i| i.1 == key).copied().unwrap();
                    // The last swap of this file applied at or before the note's tick.
                    let last_swap = s.markers().iter().rev()
                        .filter(|(t, m)| *t <= e.tick && m.starts_with(files[file]))
                        .map(|(t, _)| *t).next();
                    proptest::prop_assert_eq!(last_swap, Some(at), "key {} at {}", key, e.tick);
                    let latest_there = installs.iter().rev()
                        .find(|i| i.0 == file && i.2 == at).map(|i| i.1);
                    proptest::prop_assert_eq!(latest_there, Some(key));
                }
                Event::NoteOff { channel, key, .. } => {
                    proptest::prop_assert!(
                        sounding.remove(&(channel, key)).is_some(),
                        "note-off without a note-on: key {key} at {}", e.tick
                    );
                }
                Event::Param { .. } => {}
            }
        }
        proptest::prop_assert!(sounding.is_empty(), "hanging after stop: {sounding:?}");
    }
}
