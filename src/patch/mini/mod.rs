//! Mini-notation: the rhythm language inside `.pattern("...")`, the same as Strudel's
//! (`@strudel/mini` 1.1.0, checked against it by `tests/mini_strudel.rs`).
//!
//! A pattern string is parsed once (when the patch is evaluated) into a pattern tree
//! (`parse`: grammar, bounds; `pat`: Strudel's combinators); each bar the scheduler queries
//! one cycle of it and gets the onsets with exact rational begin and end (`rat`).
//!
//! | syntax          | meaning                                                     |
//! |-----------------|-------------------------------------------------------------|
//! | `a b c`         | steps share the cycle equally                               |
//! | `~` or `-`      | rest                                                        |
//! | `a b . c d`     | groups without brackets: `[a b] [c d]`                      |
//! | `a _ _`, `a@3`  | the step is 3 steps long                                    |
//! | `[a b]`         | a group sharing one step                                    |
//! | `<a b>`         | one step per cycle, in turn (nests; `<a b, c d e>` stacks)  |
//! | `a*2`, `a/2`    | faster / slower, also fractional and patterned (`a*<2 3>`)  |
//! | `a!3`, `a ! !`  | the step repeated                                           |
//! | `a?`, `a?0.3`   | dropped with chance 0.5 / 0.3 (seeded, repeatable)          |
//! | `a, b c`        | stacked (at the top level and inside `[ ]`)                 |
//! | `a \| b`        | one of them per cycle at random (seeded)                    |
//! | `{a b c}%4`     | polymeter: 4 steps per cycle through a b c                  |
//! | `a(3,8,2)`      | Euclid: 3 of 8 steps, rotated by 2 (arguments may be patterns) |
//! | `0 .. 3`        | the numbers 0 1 2 3 in the step                             |
//! | `bd:3`          | a pair: sample index 3 (sample voices) or accent 3/9        |
//!
//! Values: `x` (the voice's own note), note names (`c4`, `eb3`), MIDI numbers, drum words
//! (`bd sd hh oh cp rim lt mt ht cr rd cb tb sh` → General MIDI keys) and other numbers.

mod cycles;
mod parse;
mod pat;
mod rat;
mod transform;

pub use transform::TransformError;

pub use rat::Rat;

use pat::{Pat, QueryCtx, Span};
use thiserror::Error;

/// A parse error with its 1-based column in the pattern string.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("col {col}: {msg}")]
pub struct MiniError {
    pub col: usize,
    pub msg: String,
}

/// Upper bound on events (rests included) one cycle of a pattern may make, so `[x*64]*64`
/// style input cannot flood the scheduler or make a query loop for hours. Checked while
/// parsing, before anything is queried; queries also stop at a work budget.
pub const MAX_HITS: usize = 4096;
/// Upper bound on how finely a cycle may be subdivided, so exact positions stay in 64 bits.
pub const MAX_DEN: u64 = 1 << 40;
/// Work budget of one query (haps produced at every level), far above any accepted pattern.
const QUERY_BUDGET: usize = 1 << 20;

/// A step's value, as Strudel has it: a word, a number, or a `:` list.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Word(String),
    Num(f64),
    List(Vec<Value>),
}

/// The key a value plays on a voice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// `x`: the voice's own note.
    Own,
    Note(u8),
}

/// General MIDI drum keys for Strudel's drum words.
const DRUMS: &[(&str, u8)] = &[
    ("bd", 36),
    ("rim", 37),
    ("sd", 38),
    ("cp", 39),
    ("hh", 42),
    ("lt", 45),
    ("oh", 46),
    ("mt", 47),
    ("cr", 49),
    ("ht", 50),
    ("rd", 51),
    ("tb", 54),
    ("cb", 56),
    ("sh", 70),
];

impl Value {
    /// The key this value plays: on drum voices drum words first, then `x`, note names, MIDI
    /// numbers 0..127 and drum words; for a `:` pair its first element.
    pub fn key(&self, drums: bool) -> Option<Key> {
        match self {
            Value::List(xs) => xs.first()?.key(drums),
            Value::Num(x) => {
                (x.fract() == 0.0 && (0.0..=127.0).contains(x)).then_some(Key::Note(*x as u8))
            }
            Value::Word(w) => {
                let drum = || {
                    DRUMS
                        .iter()
                        .find(|(d, _)| d == w)
                        .map(|(_, k)| Key::Note(*k))
                };
                if drums {
                    if let Some(k) = drum() {
                        return Some(k);
                    }
                }
                if w == "x" || w == "X" {
                    return Some(Key::Own);
                }
                crate::patch::theory::note_number(w)
                    .ok()
                    .map(Key::Note)
                    .or_else(drum)
            }
        }
    }

    /// The `:n` index of a pair (`bd:3` → 3).
    pub fn index(&self) -> Option<u16> {
        match self {
            Value::List(xs) => match xs.get(1)? {
                Value::Num(x) if x.fract() == 0.0 && (0.0..=999.0).contains(x) => Some(*x as u16),
                _ => None,
            },
            _ => None,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Word(w) => write!(f, "{w}"),
            Value::Num(x) => write!(f, "{x}"),
            Value::List(xs) => {
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ":")?;
                    }
                    write!(f, "{x}")?;
                }
                Ok(())
            }
        }
    }
}

/// One onset of a cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Position in the cycle, `0 <= start < 1`.
    pub start: Rat,
    /// Length in cycles (may reach past the cycle: `a/2` lasts two).
    pub dur: Rat,
    pub value: Value,
    /// Strudel's `gain` (1 unless `echo`/`stut` made this a quieter copy).
    pub gain: f64,
}

/// An event on the absolute time line (cycles from 0), as Strudel's `queryArc` gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub begin: Rat,
    pub end: Rat,
    pub value: Value,
    /// Strudel's `gain` (1 unless `echo`/`stut` made this a quieter copy).
    pub gain: f64,
}

/// A parsed pattern, queried once per cycle (bar).
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pat: Pat,
    atoms: Vec<parse::Atom>,
    source: String,
    /// Upper bound on the events one cycle makes (at most [`MAX_HITS`]).
    bound: u64,
}

impl Pattern {
    /// Parses a mini-notation string (any values, as Strudel does).
    pub fn parse(src: &str) -> Result<Pattern, MiniError> {
        let chars: Vec<char> = src.chars().collect();
        let mut p = parse::Parser::new(&chars);
        let (pat, bound) = p.parse()?;
        Ok(Pattern {
            pat: cycles::cache(pat),
            atoms: p.atoms,
            source: src.to_string(),
            bound,
        })
    }

    /// Parses a pattern for a voice: every step value must be a key (`x`, a note name, a
    /// MIDI number, a drum word) and every `:` value a whole number.
    pub fn parse_notes(src: &str) -> Result<Pattern, MiniError> {
        let p = Pattern::parse(src)?;
        for a in &p.atoms {
            match a.role {
                parse::Role::Value if a.value.key(true).is_none() => {
                    return Err(MiniError {
                        col: a.col,
                        msg: format!(
                            "'{}' is not a step (use x, a rest ~, a note like c4, a MIDI number 0..127 or a drum word like bd)",
                            a.text
                        ),
                    })
                }
                parse::Role::Tail
                    if Value::List(vec![Value::Num(0.0), a.value.clone()])
                        .index()
                        .is_none() =>
                {
                    return Err(MiniError {
                        col: a.col,
                        msg: format!("':' needs a whole number 0..999, not '{}'", a.text),
                    })
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// The same pattern without its stored cycles: every query walks the tree (for
    /// benchmarks and tests of the engine itself).
    pub fn without_cycle_cache(&self) -> Pattern {
        Pattern {
            pat: cycles::uncache(self.pat.clone()),
            ..self.clone()
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The onsets of cycle `cycle` (0-based) with the random stream of seed 0, sorted.
    pub fn query(&self, cycle: u64) -> Vec<Hit> {
        self.query_seeded(cycle, 0)
    }

    /// The onsets of cycle `cycle` (wrapping after 2^22), sorted by start; `?` and `|` draw
    /// from the random stream of `seed` (seed 0 is Strudel's own stream).
    pub fn query_seeded(&self, cycle: u64, seed: u64) -> Vec<Hit> {
        let mut out = Vec::new();
        self.query_seeded_into(cycle, seed, &mut out);
        out
    }

    /// [`Pattern::query_seeded`] into a buffer the caller reuses: `out` is cleared, then
    /// filled with the onsets of cycle `cycle`, sorted by start.
    pub fn query_seeded_into(&self, cycle: u64, seed: u64, out: &mut Vec<Hit>) {
        out.clear();
        // Bar numbers wrap after 2^22 bars (97 days at 120 BPM in 4/4) so exact times stay in
        // 64 bits: a position is at most 2^22 cycles times a denominator of MAX_DEN (2^40).
        let c = Rat::int((cycle % (1 << 22)) as i64);
        SCRATCH.with(|scratch| {
            // A query reached again from inside itself (never today) gets its own buffer.
            let mut own = Vec::new();
            let mut guard = scratch.try_borrow_mut();
            let haps = match guard.as_deref_mut() {
                Ok(v) => v,
                Err(_) => &mut own,
            };
            self.onsets_into(c, c.plus(Rat::ONE), seed, haps);
            out.extend(haps.drain(..).map(|h| Hit {
                start: h.whole.b.minus(c),
                dur: h.whole.e.minus(h.whole.b),
                value: h.value,
                gain: h.gain,
            }));
        });
    }

    /// Every event with its onset in `begin..end` (Strudel's `queryArc` keeping onsets),
    /// sorted by begin.
    pub fn events(&self, begin: Rat, end: Rat) -> Vec<Event> {
        self.events_seeded(begin, end, 0)
    }

    pub fn events_seeded(&self, begin: Rat, end: Rat, seed: u64) -> Vec<Event> {
        let mut haps = Vec::new();
        self.onsets_into(begin, end, seed, &mut haps);
        haps.into_iter()
            .map(|h| Event {
                begin: h.whole.b,
                end: h.whole.e,
                value: h.value,
                gain: h.gain,
            })
            .collect()
    }

    /// The haps with an onset in `begin..end` into `haps` (cleared first), sorted by the
    /// whole's begin (stable).
    fn onsets_into(&self, begin: Rat, end: Rat, seed: u64, haps: &mut Vec<pat::Hap>) {
        haps.clear();
        // The seed shifts the random stream along Strudel's 300-cycle random time line.
        let mut ctx = QueryCtx {
            rand_shift: Rat::new((seed % 299_993) as i64, 1000),
            budget: QUERY_BUDGET,
        };
        self.pat.query_into(Span::new(begin, end), &mut ctx, haps);
        haps.retain(|h| h.has_onset());
        haps.sort_by_key(|h| h.whole.b);
    }
}

thread_local! {
    /// The hap buffer of `query_seeded_into`, kept between queries on the same thread.
    static SCRATCH: std::cell::RefCell<Vec<pat::Hap>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn starts(p: &str, cycle: u64) -> Vec<String> {
        Pattern::parse(p)
            .unwrap()
            .query(cycle)
            .iter()
            .map(|h| h.start.to_string())
            .collect()
    }

    fn show(p: &str, cycles: i64) -> String {
        Pattern::parse(p)
            .unwrap()
            .events(Rat::ZERO, Rat::int(cycles))
            .iter()
            .map(|e| format!("{}-{}:{}", e.begin, e.end, e.value))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn steps_rests_and_dot_groups() {
        assert_eq!(starts("x ~ x -", 0), vec!["0/1", "1/2"]);
        assert_eq!(
            starts("x ~ ~ ~ x ~ ~ ~ x ~ ~ ~ x ~ x ~", 0),
            vec!["0/1", "1/4", "1/2", "3/4", "7/8"]
        );
        // `.` groups as in Tidal/Strudel: "a b . c" = "[a b] [c]".
        assert_eq!(show("a b . c", 1), "0/1-1/4:a 1/4-1/2:b 1/2-1/1:c");
        assert_eq!(show("a . b", 1), show("[a] [b]", 1));
    }

    #[test]
    fn groups_alternation_and_speed() {
        assert_eq!(starts("x*2 x", 0), vec!["0/1", "1/4", "1/2"]);
        assert_eq!(starts("[x x x] x", 0), vec!["0/1", "1/6", "1/3", "1/2"]);
        let p = Pattern::parse("<c4 e4 g4>").unwrap();
        let keys: Vec<_> = (0..4).map(|c| p.query(c)[0].value.key(false)).collect();
        assert_eq!(keys, [60, 64, 67, 60].map(|k| Some(Key::Note(k))).to_vec());
        assert_eq!(starts("<x*2 x>", 0), vec!["0/1", "1/2"]);
        assert_eq!(starts("<x*2 x>", 1), vec!["0/1"]);
        // Values checked against Strudel 1.1.0 by hand (see tests/mini_strudel.rs for all).
        assert_eq!(
            show("a*<2 3>", 2),
            "0/1-1/2:a 1/2-1/1:a 1/1-4/3:a 4/3-5/3:a 5/3-2/1:a"
        );
        assert_eq!(show("a/1.5", 3), "0/1-3/2:a 3/2-3/1:a");
        assert_eq!(show("a@1.5 b", 1), "0/1-3/5:a 3/5-1/1:b");
        assert_eq!(show("a ! b", 1), "0/1-1/3:a 1/3-2/3:a 2/3-1/1:b");
        assert_eq!(
            show("<a b, c d e>", 2),
            "0/1-1/1:a 0/1-1/1:c 1/1-2/1:b 1/1-2/1:d"
        );
    }

    #[test]
    fn polymeter_euclid_range_and_pairs() {
        assert_eq!(
            show("{a b c}%4", 1),
            "0/1-1/4:a 1/4-1/2:b 1/2-3/4:c 3/4-1/1:a"
        );
        assert_eq!(show("a(3,8,2)", 1), "0/1-1/8:a 1/4-3/8:a 5/8-3/4:a");
        assert_eq!(show("a(<3 5>,8)", 1), "0/1-1/8:a 3/8-1/2:a 3/4-7/8:a");
        assert_eq!(show("0 .. 3", 1), "0/1-1/4:0 1/4-1/2:1 1/2-3/4:2 3/4-1/1:3");
        // Greedy steps, as in Strudel: "0..3" is one word.
        assert_eq!(show("0..3", 1), "0/1-1/1:0..3");
        let h = Pattern::parse("bd:3").unwrap().query(0);
        assert_eq!(h[0].value.index(), Some(3));
        assert_eq!(h[0].value.key(true), Some(Key::Note(36)));
    }

    #[test]
    fn holds_stretch_the_step() {
        let h = Pattern::parse("c4 _ _ e4").unwrap().query(0);
        assert_eq!(h[0].dur, Rat::new(3, 4));
        assert_eq!(h[1].start, Rat::new(3, 4));
    }

    #[test]
    fn random_steps_are_seeded_and_repeatable() {
        let p = Pattern::parse("x*16?").unwrap();
        let a: Vec<_> = (0..8).map(|c| p.query_seeded(c, 7).len()).collect();
        let b: Vec<_> = (0..8).map(|c| p.query_seeded(c, 7).len()).collect();
        assert_eq!(a, b);
        let kept: usize = a.iter().sum();
        assert!((32..=96).contains(&kept), "{kept} of 128 kept");
        let other: Vec<_> = (0..8).map(|c| p.query_seeded(c, 8).len()).collect();
        assert_ne!(a, other);
        let p = Pattern::parse("[a | b | c]").unwrap();
        let picks: std::collections::BTreeSet<String> = (0..32)
            .map(|c| p.query_seeded(c, 3)[0].value.to_string())
            .collect();
        assert_eq!(picks.len(), 3);
    }

    #[test]
    fn errors_carry_columns() {
        assert_eq!(Pattern::parse("x [x x").unwrap_err().col, 3);
        assert_eq!(Pattern::parse("x x]").unwrap_err().col, 4);
        assert_eq!(Pattern::parse_notes("x zz").unwrap_err().col, 3);
        assert_eq!(Pattern::parse("x*y").unwrap_err().col, 3);
        assert_eq!(Pattern::parse_notes("x 200").unwrap_err().col, 3);
        assert_eq!(Pattern::parse("a . b, c").unwrap_err().col, 6);
        assert_eq!(Pattern::parse("").unwrap_err().col, 1);
        let e = Pattern::parse("[x*64]*64 [x*64]*64").unwrap_err();
        assert!(e.msg.contains("limit is 4096"), "{e}");
    }

    #[test]
    fn exploding_patterns_are_rejected_before_expanding() {
        let e = Pattern::parse("~*64*64*64*64*64*64*64*64").unwrap_err();
        assert!(e.msg.contains("limit is 4096"), "{e}");
        assert_eq!(e.col, 8, "{e}");
        let e = Pattern::parse("a(3,100000)").unwrap_err();
        assert_eq!(e.col, 2);
        let e = Pattern::parse("0 .. 100000").unwrap_err();
        assert_eq!(e.col, 3);
        // Eight nested groups of 256 steps would need denominators of 2^64.
        let mut src = "x".to_string();
        for _ in 0..8 {
            src = format!("[{} {}]", src, vec!["~"; 255].join(" "));
        }
        let e = Pattern::parse(&src).unwrap_err();
        assert!(e.msg.contains("more finely"), "{e}");
        // Deep but small nesting with big denominators stays exact and in range.
        let mut src = "x".to_string();
        for _ in 0..12 {
            src = format!("[{src} ~ ~ ~ ~ ~]");
        }
        let p = Pattern::parse(&src).unwrap();
        for c in [0, 1, u64::MAX / 2] {
            assert_eq!(p.query(c).len(), 1);
        }
        assert_eq!(Pattern::parse("x*64*64").unwrap().query(0).len(), 4096);
        let p = Pattern::parse("<x <x x*2>>*32*32").unwrap();
        assert!(p.query(u64::MAX).len() <= MAX_HITS);
    }

    #[test]
    fn alternation_bound_is_the_largest_element_not_the_sum() {
        // `<a b c>` plays one element per cycle: each may make up to the limit.
        let p = Pattern::parse("<x*4096 [x*2048 x*2048] x>").unwrap();
        assert_eq!(p.query(0).len(), 4096);
        assert_eq!(p.query(1).len(), 4096);
        assert_eq!(p.query(2).len(), 1);
        // A group plays all its elements in one cycle: there the sum still counts.
        assert!(Pattern::parse("[x*4096 x]").is_err());
        // Elements that share a cycle (fractional weights) both count.
        assert!(Pattern::parse("<x*4096@0.5 x*4096@1.5>").is_err());
        assert!(Pattern::parse("<x*4096, x>").is_err());
    }

    /// A pattern of `depth` nested groups, each of `width` steps, each group repeated `rep`.
    fn nested(depth: usize, width: usize, rep: u32, leaf: &str) -> String {
        let mut s = leaf.to_string();
        for d in 0..depth {
            let mut items = vec![s.clone()];
            items.extend(std::iter::repeat_n(
                (if d % 2 == 0 { "~" } else { "x" }).to_string(),
                width - 1,
            ));
            s = format!("[{}]*{rep}", items.join(" "));
        }
        s
    }

    #[test]
    fn far_cycles_of_finely_divided_patterns_stay_exact() {
        // Found by the proptest below: 33^6 * 64 steps per cycle at bar 111590215 needed
        // positions past 2^63 when bars wrapped after 2^31; the durations came out as 0.
        let p = Pattern::parse(&nested(6, 33, 1, "x*64")).unwrap();
        let near = p.query(111_590_215 % (1 << 22));
        let far = p.query(111_590_215);
        assert_eq!(far, near);
        assert!(!far.is_empty());
        assert!(far.iter().all(|h| h.dur.num > 0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn nesting_and_repeats_are_bounded(
            depth in 0usize..16,
            width in 1usize..300,
            rep in 1u32..=64,
            leaf in prop::sample::select(vec!["~", "x", "x*64", "<x ~>*64", "x(5,8)", "c4?:3"]),
            cycle in any::<u64>(),
        ) {
            let src = nested(depth, width, rep, leaf);
            match Pattern::parse(&src) {
                Ok(p) => {
                    for c in [0, 1, cycle] {
                        let hits = p.query(c);
                        prop_assert!(hits.len() <= MAX_HITS);
                        for h in hits {
                            prop_assert!(h.start.num >= 0 && h.start.num < h.start.den);
                            prop_assert!(h.dur.num > 0 && h.dur.den > 0);
                        }
                    }
                }
                Err(e) => prop_assert!(!e.msg.is_empty()),
            }
        }
    }
}
