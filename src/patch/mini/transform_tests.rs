//! Unit tests of the pattern transforms (`transform.rs`): Strudel examples checked by hand,
//! event bounds and argument checks.

use super::*;

fn show(p: &Pattern, cycles: i64) -> String {
    p.events(Rat::ZERO, Rat::int(cycles))
        .iter()
        .map(|e| format!("{}-{}:{}", e.begin, e.end, e.value))
        .collect::<Vec<_>>()
        .join(" ")
}

fn p(s: &str) -> Pattern {
    Pattern::parse(s).unwrap()
}

#[test]
fn strudel_examples_checked_by_hand() {
    // Printed by Strudel 1.1.0 (`mini(..).<transform>.queryArc(0, n)`, onsets).
    assert_eq!(show(&p("0 1").add(7.0).unwrap(), 1), "0/1-1/2:7 1/2-1/1:8");
    let c = p("a b c");
    let src = c.chunk_source(3).unwrap();
    let ch = src.chunk_with(3, &src.fast(2.0).unwrap()).unwrap();
    assert_eq!(show(&ch, 1), "0/1-1/6:a 1/6-1/3:b 1/3-2/3:b 2/3-1/1:c");
    let s = p("a b").struct_by(&p("x ~ x x")).unwrap();
    assert_eq!(show(&s, 1), "0/1-1/4:a 1/2-3/4:b 3/4-1/1:b");
    assert_eq!(
        show(&p("a b").euclid_legato(3, 8).unwrap(), 1),
        "0/1-3/8:a 3/8-3/4:a 3/4-1/1:b"
    );
}

#[test]
fn rev_ply_and_whenmod() {
    assert_eq!(
        show(&p("a b c").rev().unwrap(), 1),
        "0/1-1/3:c 1/3-2/3:b 2/3-1/1:a"
    );
    assert_eq!(
        show(&p("a b").ply(2.0).unwrap(), 1),
        "0/1-1/4:a 1/4-1/2:a 1/2-3/4:b 3/4-1/1:b"
    );
    let w = p("a").when_mod(4, 2, &p("a").fast(2.0).unwrap()).unwrap();
    let per_cycle: Vec<usize> = (0..8).map(|c| w.query(c).len()).collect();
    assert_eq!(per_cycle, [1, 1, 2, 2, 1, 1, 2, 2]);
}

fn sorted(p: &Pattern, cycles: i64) -> Vec<String> {
    let mut v: Vec<String> = show(p, cycles).split(' ').map(String::from).collect();
    v.sort();
    v
}

fn strudel(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split(' ').map(String::from).collect();
    v.sort();
    v
}

#[test]
fn first_and_last_of_are_silent_where_javascripts_remainder_is_negative() {
    // Strudel's slowcatPrime picks `pats[Math.floor(begin) % n]`: cycle -1 of `lastOf(2, f)`
    // is `pats[-1]` (nothing) and cycle -2 is `pats[-0]` (the first). Printed by Strudel
    // 1.1.0: `mini("a b").lastOf(2, x => x.fast(2)).late(1.5).queryArc(0, 3)` (onsets).
    let ab = p("a b");
    let last = ab.last_of(2, &ab.fast(2.0).unwrap()).unwrap();
    assert_eq!(
        sorted(&last.late(1.5).unwrap(), 3),
        strudel("0/1-1/2:b 3/2-2/1:a 2/1-5/2:b 5/2-11/4:a 11/4-3/1:b")
    );
    let first = ab.first_of(3, &ab.rev().unwrap()).unwrap();
    assert_eq!(
        sorted(&first.early(-2.5).unwrap(), 3),
        strudel("0/1-1/2:a 5/2-3/1:b")
    );
    // palindrome is lastOf(2, rev).
    assert_eq!(
        sorted(&p("a b c").palindrome().unwrap().late(0.25).unwrap(), 2),
        strudel("1/4-7/12:a 7/12-11/12:b 11/12-5/4:c 5/4-19/12:c 19/12-23/12:b 23/12-9/4:a")
    );
}

#[test]
fn ply_focuses_each_event_as_strudels_squeeze_join() {
    // `focus` aligns the inner cycle with `cyclePos(begin)`, not with the event's begin:
    // with a fractional factor the first copy of `c` (whole 0..1/3) is cut at 2/9.
    // Strudel 1.1.0: `mini("a@2 b, c d e").ply(1.5).queryArc(0, 1)`.
    assert_eq!(
        sorted(&p("a@2 b, c d e").ply(1.5).unwrap(), 1),
        strudel(
            "0/1-4/9:a 0/1-2/9:c 2/9-1/3:c 1/3-5/9:d 4/9-2/3:a 5/9-2/3:d 2/3-8/9:b \
             2/3-8/9:e 8/9-1/1:b 8/9-1/1:e"
        )
    );
}

#[test]
fn bounds_are_each_transforms_own_worst_case() {
    let b = |p: Result<Pattern, TransformError>| p.unwrap().bound;
    let ab = p("a b");
    assert_eq!(ab.bound, 2);
    // fast(1.5): one cycle is 1.5 inner cycles starting at 0 or 1/2: at most two cycles.
    assert_eq!(b(ab.fast(1.5)), 4);
    assert_eq!(b(ab.fast(3.0)), 6);
    assert_eq!(b(ab.slow(2.0)), 2);
    // A whole-cycle shift stays in one cycle; any other spreads over two.
    assert_eq!(b(ab.late(1.0)), 2);
    assert_eq!(b(ab.late(0.25)), 4);
    assert_eq!(b(ab.echo(3, 1.0, 0.5)), 6);
    assert_eq!(b(ab.echo(3, 0.5, 0.5)), 2 + 4 + 2);
    // Only euclid's onset steps query the pattern; segment's steps each query it once.
    assert_eq!(b(ab.euclid(3, 8, 0)), 6);
    assert_eq!(b(ab.segment(4)), 8);
    assert_eq!(b(ab.struct_by(&p("x ~ x x"))), 8);
    // A chain that multiplied past the cap before (Strudel plays 48 events in 8 cycles).
    let long = p("<3> 2 5 3(2,5)")
        .struct_by(&p("1 [1 0] 1 ~"))
        .and_then(|x| x.euclid(5, 8, 0))
        .and_then(|x| {
            let on = x.late(0.125)?;
            x.stack_with(&[&on], "superimpose")
        });
    assert!(long.is_ok(), "{long:?}");
}

/// The chains the bound must hold for: a transform and its arguments.
fn step(p: &Pattern, op: u8, k: u8) -> Result<Pattern, TransformError> {
    let small = [1.5, 2.0, 0.5, 3.0, 0.75, 4.0][k as usize % 6];
    let t = [0.25, 1.0 / 3.0, 1.5, 2.0, 0.125, 0.5][k as usize % 6];
    let n = 2 + (k as i64 % 3);
    match op % 20 {
        0 => p.fast(small),
        1 => p.slow(small),
        2 => p.early(t),
        3 => p.late(t),
        4 => p.rev(),
        5 => p.iter(n),
        6 => p.palindrome(),
        7 => p.ply(small),
        8 => p.echo(n, t, 0.5),
        9 => p.struct_by(
            &Pattern::parse(["x ~ x x", "<1 [0 1]>", "x(3,8)"][k as usize % 3]).unwrap(),
        ),
        10 => p.mask(&Pattern::parse(["1 [1 0] 1 ~", "<x ~> x"][k as usize % 2]).unwrap()),
        11 => p.euclid(n + 1, 8, k as i64 % 3),
        12 => p.euclid_legato(n, 8),
        13 => p.segment([1, 2, 4, 8][k as usize % 4]),
        14 => {
            let src = p.chunk_source(n)?;
            src.chunk_with(n, &src.fast(2.0)?)
        }
        15 => p.last_of(n, &p.late(t)?),
        17 => {
            p.fast_by(&Pattern::parse(["<1 2>", "1 1.5", "<0.5 [2 3]>"][k as usize % 3]).unwrap())
        }
        18 => p.ply_by(&Pattern::parse(["<1 2>", "2 [1 3]"][k as usize % 2]).unwrap()),
        19 => p.late_by(&Pattern::parse(["0 0.25", "<0.5 1.5>"][k as usize % 2]).unwrap()),
        _ => {
            let (kept, chosen) = p.sometimes_split(0.5)?;
            kept.stack_with(&[&chosen.add(100.0)?], "sometimesBy")
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Soundness: no query of (part of) one cycle returns more haps than the bound says.
    #[test]
    fn bounds_hold_for_random_chains(
        base in proptest::sample::select(vec![
            "a b c", "a*3 [b c]/2", "<a b*2> c(3,8)", "a@3 b?", "[a, b c d]",
            "a/1.5 b", "{a b c}%4", "0 .. 3", "a b . c*1.5", "<a [b c]>/3",
        ]),
        ops in proptest::collection::vec((0u8..20, 0u8..12), 1..5),
        far in 0i64..1_000_000,
        cut in (0i64..8, 1i64..=8),
    ) {
        let mut pat = p(base);
        for (op, k) in ops {
            match step(&pat, op, k) {
                Ok(next) => pat = next,
                Err(TransformError::TooMany(_)) => return Ok(()),
                Err(e) => panic!("{e}"),
            }
        }
        for c in [0, 1, 2, 3, 5, far] {
            let c = Rat::int(c);
            let (a, b) = (cut.0.min(cut.1 - 1), cut.1);
            for span in [
                Span::new(c, c.plus(Rat::ONE)),
                Span::new(c.plus(Rat::new(a, 8)), c.plus(Rat::new(b, 8))),
            ] {
                let mut ctx = QueryCtx { rand_shift: Rat::ZERO, budget: super::super::QUERY_BUDGET };
                let n = pat.pat.query(span, &mut ctx).len() as u64;
                proptest::prop_assert!(n <= pat.bound, "{} haps > bound {} in {:?} of {}", n, pat.bound, span, pat.source);
            }
        }
    }
}

#[test]
fn transforms_refuse_explosions_and_bad_arguments() {
    let big = p("x*64*64");
    assert!(matches!(
        big.fast(2.0),
        Err(TransformError::TooMany("fast"))
    ));
    assert!(matches!(big.ply(3.0), Err(TransformError::TooMany("ply"))));
    assert!(p("x").fast(-1.0).is_err());
    assert!(p("x").degrade_by(1.5).is_err());
    assert!(p("x").iter(0).is_err());
}

#[test]
fn patterned_arguments_join_over_the_argument_as_strudel() {
    // Printed by Strudel 1.1.0: `mini("a b").fast(mini("<2 3>")).queryArc(0, 2)` (onsets), …
    assert_eq!(
        sorted(&p("a b").fast_by(&p("<2 3>")).unwrap(), 2),
        strudel(
            "0/1-1/4:a 1/2-3/4:a 1/4-1/2:b 3/4-1/1:b 1/1-7/6:a 4/3-3/2:a 5/3-11/6:a \
             7/6-4/3:b 3/2-5/3:b 11/6-2/1:b"
        )
    );
    assert_eq!(
        sorted(&p("a b").ply_by(&p("<1 2>")).unwrap(), 2),
        strudel("0/1-1/2:a 1/2-1/1:b 1/1-5/4:a 5/4-3/2:a 3/2-7/4:b 7/4-2/1:b")
    );
    // The event shifted across the cycle line has no onset in cycle 1's slice.
    assert_eq!(
        sorted(&p("a b").late_by(&p("<0 0.25>")).unwrap(), 2),
        strudel("0/1-1/2:a 1/2-1/1:b 5/4-7/4:a 7/4-9/4:b")
    );
    // `fast("2 0")`: the 0 half is silent.
    assert_eq!(
        show(&p("0 1").fast_by(&p("2 0")).unwrap(), 2),
        "0/1-1/4:0 1/4-1/2:1 1/1-5/4:0 5/4-3/2:1"
    );
    // off("<0.25 0.125>", x => x.add(7)): the function runs once per time.
    let off = p("0 1")
        .by_pattern("off", &p("<0.25 0.125>"), |p, t| {
            let on = p.late(t)?.add(7.0)?;
            p.stack_with(&[&on], "off")
        })
        .unwrap();
    assert_eq!(
        sorted(&off, 2),
        strudel(
            "0/1-1/2:0 1/2-1/1:1 1/4-3/4:7 3/4-5/4:8 1/1-3/2:0 3/2-2/1:1 9/8-13/8:7 13/8-17/8:8"
        )
    );
}

#[test]
fn patterned_arguments_refuse_words_ranges_and_bad_values() {
    let e = p("a").fast_by(&p("<2 x>")).unwrap_err();
    assert!(e.to_string().contains("'x' (col 4) is not a number"), "{e}");
    assert!(p("a").ply_by(&p("1 .. 3")).is_err());
    // Each value goes through the constant argument's checks.
    assert!(p("a").degrade_by_pattern(&p("<0.5 2>")).is_err());
    assert!(p("a").fast_by(&p("<1 -2>")).is_err());
    // The bound is the argument's events times the largest table entry's bound.
    let f = p("a b").fast_by(&p("1 4")).unwrap();
    assert_eq!(f.bound, 2 * 8);
    assert!(matches!(
        p("x*64*64").fast_by(&p("<1 2>")),
        Err(TransformError::TooMany("fast"))
    ));
}

#[test]
fn signal_probabilities_are_read_per_event() {
    use crate::patch::signal::{Shape, Signal};
    let saw = Signal::new(Shape::Saw, 0);
    let pat = p("x*16");
    let kept = pat.degrade_by_signal(&saw).unwrap();
    let (k, chosen) = pat.sometimes_split_signal(&saw).unwrap();
    let (mut early, mut late, mut all) = (0usize, 0usize, 0usize);
    for c in 0..64u64 {
        let hits = kept.query_seeded(c, 5);
        // The two halves of sometimesBy(saw, f) split every event between them.
        assert_eq!(k.query_seeded(c, 5), hits);
        assert_eq!(hits.len() + chosen.query_seeded(c, 5).len(), 16);
        all += hits.len();
        early += hits.iter().filter(|h| h.start < Rat::new(1, 4)).count();
        late += hits.iter().filter(|h| h.start >= Rat::new(3, 4)).count();
    }
    // saw rises through each cycle: events early in it are dropped rarely, late ones often.
    // Expected keep shares: 1 - mean(saw) = 0.875 over the first quarter, 0.125 the last.
    let (e, l) = (early as f64 / 256.0, late as f64 / 256.0);
    assert!((0.78..=0.96).contains(&e), "first quarter kept {e}");
    assert!((0.04..=0.22).contains(&l), "last quarter kept {l}");
    assert!((400..=620).contains(&all), "{all} of 1024 kept");
}
