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

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Rat {
    pub const ZERO: Rat = Rat { num: 0, den: 1 };
    pub const ONE: Rat = Rat { num: 1, den: 1 };
    pub fn new(num: u64, den: u64) -> Rat {
        let g = gcd(num, den);
        Rat {
            num: num / g,
            den: den / g,
        }
    }
    pub fn plus(self, o: Rat) -> Rat {
        Rat::new(self.num * o.den + o.num * self.den, self.den * o.den)
    }
    pub fn times(self, o: Rat) -> Rat {
        Rat::new(self.num * o.num, self.den * o.den)
    }
    pub fn div_int(self, n: u64) -> Rat {
        Rat::new(self.num, self.den * n)
    }
    /// `self` of `total` ticks, rounded down.
    pub fn of(self, total: u64) -> u64 {
        ((self.num as u128 * total as u128) / self.den as u128) as u64
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
/// Upper bound on hits per cycle, so `[x*64]*64` style input cannot flood the scheduler.
pub const MAX_HITS: usize = 4096;

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
        // Reject patterns that explode, at parse time rather than every bar.
        let mut probe = Vec::new();
        pat.root
            .query(0, Rat::ZERO, Rat::ONE, &mut probe, 1.0, None);
        if probe.len() > MAX_HITS {
            return Err(MiniError {
                col: 1,
                msg: format!(
                    "pattern makes {} hits per bar (limit {MAX_HITS})",
                    probe.len()
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
        out.sort_by(|a, b| (a.start.num * b.start.den).cmp(&(b.start.num * a.start.den)));
        out
    }
}

impl Node {
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
                    node.query(cycle * t + k, s, sub, out, chance, index);
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

    proptest! {
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
