//! Mini-notation: the small rhythm language inside `.pattern("...")`.
//!
//! A pattern string is parsed once (when the patch is evaluated) into a tree; each bar the
//! scheduler queries it for one cycle and gets exact rational positions. The subset is
//! documented in `docs/patches.md`:
//!
//! | syntax      | meaning                                                   |
//! |-------------|-----------------------------------------------------------|
//! | `a b c`     | steps share the cycle equally                             |
//! | `.` or `~`  | rest                                                      |
//! | `_`         | holds the previous step one step longer                   |
//! | `x`         | a hit on the voice's own note                             |
//! | `c4`, `60`  | a note by name or MIDI number                             |
//! | `a*3`       | the step played 3 times in its own span                   |
//! | `[a b]`     | a group sharing one step                                  |
//! | `<a b>`     | one element per cycle, in turn                           |
//! | `a?`, `a?0.3` | plays with chance 0.5 / 0.3 (seeded, repeatable)        |
//! | `a:3`       | sample index 3 (sample voices) or accent 3/9 velocity     |

use std::fmt;
use thiserror::Error;

/// A parse error with its 1-based column in the pattern string.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("col {col}: {msg}")]
pub struct MiniError {
    pub col: usize,
    pub msg: String,
}

/// Exact position inside a cycle (numerator / denominator, reduced).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rat {
    pub num: u64,
    pub den: u64,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Rat {
    pub const ZERO: Rat = Rat { num: 0, den: 1 };
    pub const ONE: Rat = Rat { num: 1, den: 1 };
    /// `num / den` reduced; a zero denominator is treated as 1.
    pub fn new(num: u64, den: u64) -> Rat {
        Rat::reduce(num as u128, den as u128)
    }
    /// Reduces a 128-bit fraction; saturates in the (unreachable for parsed patterns, whose
    /// denominators are bounded by [`MAX_DEN`]) case that it does not fit in 64 bits.
    fn reduce(num: u128, den: u128) -> Rat {
        let den = den.max(1);
        let g = gcd(num, den);
        let (mut n, mut d) = (num / g, den / g);
        while n > u64::MAX as u128 || d > u64::MAX as u128 {
            n >>= 1;
            d = (d >> 1).max(1);
        }
        Rat {
            num: n as u64,
            den: d as u64,
        }
    }
    pub fn plus(self, o: Rat) -> Rat {
        let (a, b, c, d) = (
            self.num as u128,
            self.den as u128,
            o.num as u128,
            o.den as u128,
        );
        // a/b + c/d over lcm(b, d): stays in 128 bits for 64-bit inputs.
        let g = gcd(b, d);
        let l = b / g * d;
        Rat::reduce(a * (l / b) + c * (l / d), l)
    }
    pub fn times(self, o: Rat) -> Rat {
        Rat::reduce(
            self.num as u128 * o.num as u128,
            self.den as u128 * o.den as u128,
        )
    }
    pub fn div_int(self, n: u64) -> Rat {
        Rat::reduce(self.num as u128, self.den as u128 * n.max(1) as u128)
    }
    /// Compares two positions exactly.
    pub fn cmp_pos(self, o: Rat) -> std::cmp::Ordering {
        (self.num as u128 * o.den as u128).cmp(&(o.num as u128 * self.den as u128))
    }
    /// `self` of `total` ticks, rounded down.
    pub fn of(self, total: u64) -> u64 {
        let x = (self.num as u128 * total as u128) / self.den.max(1) as u128;
        x.min(u64::MAX as u128) as u64
    }
}

impl fmt::Display for Rat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// What a step plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// `x`: the voice's own note.
    Hit,
    /// A MIDI note (from a name or a number).
    Note(u8),
}

/// One sounding step of a cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub start: Rat,
    pub dur: Rat,
    pub value: Value,
    /// Chance to play (1.0 unless `?`).
    pub chance: f32,
    /// `:n` suffix.
    pub index: Option<u16>,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Rest,
    Hold,
    Atom {
        value: Value,
        chance: f32,
        index: Option<u16>,
    },
    Seq(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32),
    Chance(Box<Node>, f32),
    Index(Box<Node>, u16),
}

/// A parsed pattern, queried once per cycle (bar).
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    root: Node,
    source: String,
}

const MAX_DEPTH: usize = 16;
const MAX_REPEAT: u32 = 64;
/// Upper bound on events (steps, rests included) per cycle, so `[x*64]*64` or `.*64*64*64`
/// style input cannot flood the scheduler or make a query loop for hours. Checked on the
/// parsed tree before anything is expanded.
pub const MAX_HITS: usize = 4096;
/// Upper bound on how finely a cycle may be subdivided (the product of group sizes and
/// repeat counts along any path): far below a tick, and small enough that exact positions
/// never overflow 64 bits.
pub const MAX_DEN: u64 = 1 << 32;

impl Pattern {
    /// Parses a mini-notation string.
    pub fn parse(src: &str) -> Result<Pattern, MiniError> {
        let chars: Vec<char> = src.chars().collect();
        let mut p = Parser {
            chars: &chars,
            pos: 0,
            depth: 0,
        };
        let root = p.sequence(None)?;
        if p.pos < chars.len() {
            return Err(p.err(&format!("unexpected '{}'", chars[p.pos])));
        }
        let pat = Pattern {
            root,
            source: src.to_string(),
        };
        // Reject patterns that explode, from the tree alone (before expanding anything).
        match pat.root.events() {
            Some(n) if n <= MAX_HITS as u64 => {}
            n => {
                let n = n.map_or("too many".to_string(), |n| n.to_string());
                return Err(MiniError {
                    col: 1,
                    msg: format!(
                        "pattern makes {n} events per bar (the limit is {MAX_HITS}): use fewer or smaller repeats"
                    ),
                });
            }
        }
        if pat.root.finest().is_none_or(|d| d > MAX_DEN) {
            return Err(MiniError {
                col: 1,
                msg: format!(
                    "pattern subdivides a bar more finely than 1/{MAX_DEN}: nest fewer groups"
                ),
            });
        }
        Ok(pat)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The hits of cycle `cycle` (0-based), sorted by start.
    pub fn query(&self, cycle: u64) -> Vec<Hit> {
        let mut out = Vec::new();
        self.root
            .query(cycle, Rat::ZERO, Rat::ONE, &mut out, 1.0, None);
        out.truncate(MAX_HITS);
        out.sort_by(|a, b| a.start.cmp_pos(b.start));
        out
    }
}

impl Node {
    /// An upper bound on the events one cycle of this node produces (rests and empty groups
    /// count as one, so the bound also bounds the work of a query); None on overflow.
    fn events(&self) -> Option<u64> {
        match self {
            Node::Rest | Node::Hold | Node::Atom { .. } => Some(1),
            Node::Seq(items) => items
                .iter()
                .try_fold(0u64, |acc, n| acc.checked_add(n.events()?))
                .map(|n| n.max(1)),
            Node::Alt(items) => items
                .iter()
                .try_fold(1u64, |acc, n| Some(acc.max(n.events()?))),
            Node::Repeat(node, t) => node.events()?.checked_mul(*t as u64),
            Node::Chance(node, _) | Node::Index(node, _) => node.events(),
        }
    }

    /// The largest denominator a position inside this node can have (product of the group
    /// sizes and repeat counts along the deepest path); None on overflow.
    fn finest(&self) -> Option<u64> {
        match self {
            Node::Rest | Node::Hold | Node::Atom { .. } => Some(1),
            Node::Seq(items) => {
                let inner = items
                    .iter()
                    .try_fold(1u64, |acc, n| Some(acc.max(n.finest()?)))?;
                inner.checked_mul(items.len().max(1) as u64)
            }
            Node::Alt(items) => items
                .iter()
                .try_fold(1u64, |acc, n| Some(acc.max(n.finest()?))),
            Node::Repeat(node, t) => node.finest()?.checked_mul(*t as u64),
            Node::Chance(node, _) | Node::Index(node, _) => node.finest(),
        }
    }

    fn query(
        &self,
        cycle: u64,
        start: Rat,
        span: Rat,
        out: &mut Vec<Hit>,
        chance: f32,
        index: Option<u16>,
    ) {
        if out.len() > MAX_HITS {
            return;
        }
        match self {
            Node::Rest | Node::Hold => {}
            Node::Atom {
                value,
                chance: c,
                index: i,
            } => out.push(Hit {
                start,
                dur: span,
                value: *value,
                chance: chance * c,
                index: i.or(index),
            }),
            Node::Seq(items) => {
                // Count steps; `_` lengthens the previous step.
                let n = items.len() as u64;
                if n == 0 {
                    return;
                }
                let step = span.div_int(n);
                let mut i = 0;
                while i < items.len() {
                    let mut len = 1;
                    while i + len < items.len() && items[i + len] == Node::Hold {
                        len += 1;
                    }
                    let s = start.plus(step.times(Rat::new(i as u64, 1)));
                    items[i].query(
                        cycle,
                        s,
                        step.times(Rat::new(len as u64, 1)),
                        out,
                        chance,
                        index,
                    );
                    i += len;
                }
            }
            Node::Alt(items) => {
                if items.is_empty() {
                    return;
                }
                let n = items.len() as u64;
                items[(cycle % n) as usize].query(cycle / n, start, span, out, chance, index);
            }
            Node::Repeat(node, times) => {
                let t = *times as u64;
                let sub = span.div_int(t);
                for k in 0..t {
                    let s = start.plus(sub.times(Rat::new(k, 1)));
                    // Wrapping: only `% n` / `/ n` of this counter reach alternations.
                    node.query(
                        cycle.wrapping_mul(t).wrapping_add(k),
                        s,
                        sub,
                        out,
                        chance,
                        index,
                    );
                }
            }
            Node::Chance(node, c) => node.query(cycle, start, span, out, chance * c, index),
            Node::Index(node, i) => node.query(cycle, start, span, out, chance, Some(*i)),
        }
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> MiniError {
        MiniError {
            col: self.pos + 1,
            msg: msg.to_string(),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.chars.len()
            && (self.chars[self.pos].is_whitespace() || self.chars[self.pos] == '|')
        {
            self.pos += 1;
        }
    }

    fn sequence(&mut self, close: Option<char>) -> Result<Node, MiniError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("groups nested too deeply"));
        }
        let open_at = self.pos;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.chars.get(self.pos) {
                None => {
                    if let Some(c) = close {
                        return Err(MiniError {
                            col: open_at,
                            msg: format!("unclosed group: expected '{c}'"),
                        });
                    }
                    break;
                }
                Some(&c) if Some(c) == close => {
                    self.pos += 1;
                    break;
                }
                Some(']') | Some('>') => {
                    return Err(self.err(&format!("unexpected '{}'", self.chars[self.pos])))
                }
                Some(_) => items.push(self.step()?),
            }
        }
        self.depth -= 1;
        if close == Some('>') {
            Ok(Node::Alt(items))
        } else {
            Ok(Node::Seq(items))
        }
    }

    fn step(&mut self) -> Result<Node, MiniError> {
        let c = self.chars[self.pos];
        let mut node = match c {
            '.' | '~' => {
                self.pos += 1;
                Node::Rest
            }
            '_' => {
                self.pos += 1;
                Node::Hold
            }
            '[' => {
                self.pos += 1;
                self.sequence(Some(']'))?
            }
            '<' => {
                self.pos += 1;
                self.sequence(Some('>'))?
            }
            c if c.is_ascii_alphanumeric() || c == '#' || c == '-' => self.word()?,
            other => return Err(self.err(&format!("unexpected '{other}'"))),
        };
        // Modifiers.
        loop {
            match self.chars.get(self.pos) {
                Some('*') => {
                    self.pos += 1;
                    let n = self.number()?;
                    if n < 1.0 || n.fract() != 0.0 || n > MAX_REPEAT as f64 {
                        return Err(self.err(&format!("'*' needs a whole number 1..{MAX_REPEAT}")));
                    }
                    node = Node::Repeat(Box::new(node), n as u32);
                }
                Some('?') => {
                    self.pos += 1;
                    let p = if self
                        .chars
                        .get(self.pos)
                        .is_some_and(|c| c.is_ascii_digit() || *c == '.')
                    {
                        self.number()?
                    } else {
                        0.5
                    };
                    if !(0.0..=1.0).contains(&p) {
                        return Err(self.err("'?' chance must be between 0 and 1"));
                    }
                    node = Node::Chance(Box::new(node), p as f32);
                }
                Some(':') => {
                    self.pos += 1;
                    let n = self.number()?;
                    if n < 0.0 || n.fract() != 0.0 || n > 999.0 {
                        return Err(self.err("':' needs a whole number 0..999"));
                    }
                    node = Node::Index(Box::new(node), n as u16);
                }
                _ => break,
            }
        }
        Ok(node)
    }

    fn number(&mut self) -> Result<f64, MiniError> {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || *c == '.')
        {
            self.pos += 1;
        }
        let s: String = self.chars[start..self.pos].iter().collect();
        s.parse::<f64>().map_err(|_| MiniError {
            col: start + 1,
            msg: "expected a number".into(),
        })
    }

    fn word(&mut self) -> Result<Node, MiniError> {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '#' || *c == '-')
        {
            self.pos += 1;
        }
        let w: String = self.chars[start..self.pos].iter().collect();
        let err = |msg: String| MiniError {
            col: start + 1,
            msg,
        };
        let value = if w == "x" || w == "X" {
            Value::Hit
        } else if let Ok(n) = w.parse::<i64>() {
            if !(0..=127).contains(&n) {
                return Err(err(format!("note {n} is outside 0..127")));
            }
            Value::Note(n as u8)
        } else {
            match crate::theory::note_number(&w) {
                Ok(n) => Value::Note(n),
                Err(_) => {
                    return Err(err(format!(
                        "'{w}' is not a step (use x, a rest '.', a note like c4 or a number 0..127)"
                    )))
                }
            }
        };
        Ok(Node::Atom {
            value,
            chance: 1.0,
            index: None,
        })
    }
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

    #[test]
    fn steps_and_rests() {
        assert_eq!(starts("x . x .", 0), vec!["0/1", "1/2"]);
        assert_eq!(
            starts("x . . . x . . . x . . . x . x .", 0),
            vec!["0/1", "1/4", "1/2", "3/4", "7/8"]
        );
    }

    #[test]
    fn subdivision_groups_and_alternation() {
        assert_eq!(starts("x*2 x", 0), vec!["0/1", "1/4", "1/2"]);
        assert_eq!(starts("[x x x] x", 0), vec!["0/1", "1/6", "1/3", "1/2"]);
        let p = Pattern::parse("<c4 e4 g4>").unwrap();
        let notes: Vec<_> = (0..4).map(|c| p.query(c)[0].value).collect();
        assert_eq!(
            notes,
            vec![
                Value::Note(60),
                Value::Note(64),
                Value::Note(67),
                Value::Note(60)
            ]
        );
        assert_eq!(starts("<x*2 x>", 0), vec!["0/1", "1/2"]);
        assert_eq!(starts("<x*2 x>", 1), vec!["0/1"]);
    }

    #[test]
    fn holds_chance_and_index() {
        let h = Pattern::parse("c4 _ _ e4").unwrap().query(0);
        assert_eq!(h[0].dur, Rat::new(3, 4));
        assert_eq!(h[1].start, Rat::new(3, 4));
        let h = Pattern::parse("x? x?0.25 x:3").unwrap().query(0);
        assert_eq!(h[0].chance, 0.5);
        assert_eq!(h[1].chance, 0.25);
        assert_eq!(h[2].index, Some(3));
        assert_eq!(
            Pattern::parse("[x x]:2").unwrap().query(0)[1].index,
            Some(2)
        );
    }

    #[test]
    fn errors_carry_columns() {
        assert_eq!(Pattern::parse("x [x x").unwrap_err().col, 3);
        assert_eq!(Pattern::parse("x x]").unwrap_err().col, 4);
        assert_eq!(Pattern::parse("x zz").unwrap_err().col, 3);
        assert_eq!(Pattern::parse("x*0").unwrap_err().col, 4);
        assert_eq!(Pattern::parse("x 200").unwrap_err().col, 3);
        assert!(Pattern::parse("[x*64]*64 [x*64]*64").is_err());
    }

    #[test]
    fn exploding_patterns_are_rejected_before_expanding() {
        // Rests repeated 64^8 times used to loop for hours (no hits ever reached the cap).
        let e = Pattern::parse(".*64*64*64*64*64*64*64*64").unwrap_err();
        assert!(e.msg.contains("limit is 4096"), "{e}");
        let e = Pattern::parse("[]*64*64*64*64").unwrap_err();
        assert!(e.msg.contains("limit is 4096"), "{e}");
        // Eight nested groups of 256 steps used to divide by zero (denominator 256^8 = 2^64).
        let mut src = "x".to_string();
        for _ in 0..8 {
            src = format!("[{} {}]", src, vec!["."; 255].join(" "));
        }
        let e = Pattern::parse(&src).unwrap_err();
        assert!(e.msg.contains("more finely"), "{e}");
        // Deep but small nesting with big denominators stays exact and in range.
        let mut src = "x".to_string();
        for _ in 0..12 {
            src = format!("[{src} . . . . .]");
        }
        let p = Pattern::parse(&src).unwrap();
        for c in [0, 1, u64::MAX / 2] {
            assert_eq!(p.query(c).len(), 1);
        }
        assert_eq!(Pattern::parse("x*64*64").unwrap().query(0).len(), 4096);
        let p = Pattern::parse("<x <x x*2>>*32*64").unwrap();
        assert!(p.query(u64::MAX).len() <= MAX_HITS);
    }

    #[test]
    fn exact_arithmetic_with_large_denominators() {
        let a = Rat::new(1, 1 << 40);
        let b = Rat::new(3, (1 << 40) + 1);
        let s = a.plus(b);
        assert_eq!(s.cmp_pos(a), std::cmp::Ordering::Greater);
        assert_eq!(Rat::new(u64::MAX - 1, u64::MAX).of(3840), 3839);
        assert_eq!(Rat::new(5, 0), Rat::new(5, 1));
    }

    /// A pattern of `depth` nested groups, each of `width` steps, each group repeated `rep`.
    fn nested(depth: usize, width: usize, rep: u32, leaf: &str) -> String {
        let mut s = leaf.to_string();
        for d in 0..depth {
            let mut items = vec![s.clone()];
            items.extend(std::iter::repeat_n(
                (if d % 2 == 0 { "." } else { "x" }).to_string(),
                width - 1,
            ));
            s = format!("[{}]*{rep}", items.join(" "));
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn nesting_and_repeats_are_bounded(
            depth in 0usize..16,
            width in 1usize..300,
            rep in 1u32..=64,
            leaf in prop::sample::select(vec![".", "x", "x*64", "<x .>*64", "[]", "c4?:3"]),
            cycle in any::<u64>(),
        ) {
            let src = nested(depth, width, rep, leaf);
            match Pattern::parse(&src) {
                Ok(p) => {
                    for c in [0, 1, cycle] {
                        let hits = p.query(c);
                        prop_assert!(hits.len() <= MAX_HITS);
                        for h in hits {
                            prop_assert!(h.start.num < h.start.den || h.start.num == 0);
                            prop_assert!(h.dur.num > 0 && h.dur.den > 0);
                        }
                    }
                }
                Err(e) => prop_assert!(!e.msg.is_empty()),
            }
        }

        #[test]
        fn arbitrary_input_never_panics(s in ".{0,64}") {
            match Pattern::parse(&s) {
                Ok(p) => { let _ = p.query(3); }
                Err(e) => prop_assert!(e.col >= 1 && e.col <= s.chars().count() + 1),
            }
        }

        #[test]
        fn pattern_like_input_never_panics(s in "[x.~_<>\\[\\]*?:0-9 c#a-g]{0,48}") {
            match Pattern::parse(&s) {
                Ok(p) => {
                    for c in 0..4 {
                        for h in p.query(c) {
                            prop_assert!(h.start.num < h.start.den || h.start.num == 0);
                        }
                    }
                }
                Err(e) => prop_assert!(e.col >= 1 && e.col <= s.chars().count() + 1),
            }
        }
    }
}
