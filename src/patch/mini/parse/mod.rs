//! The mini-notation grammar of Strudel 1.1.0 (`krill.pegjs`), by recursive descent, building
//! the pattern the way `@strudel/mini`'s `patternifyAST` does.
//!
//! While parsing, each element carries an upper bound on the haps one cycle of it can produce
//! and on how finely it divides a cycle, so a pattern that would explode is rejected with the
//! column of the operator or group that made it, before anything is queried.
//!
//! This file holds the parser's state and the grammar of stacks, sequences and groups;
//! `ops.rs` the operators that follow a step (`*` `/` `!` `@` `?` `:` `..` `(k,n,r)`).

use super::pat::{array_range, fastcat, Pat};
use super::rat::Rat;
use super::{MiniError, Value, MAX_DEN, MAX_HITS};

mod ops;

pub(crate) const MAX_DEPTH: usize = 16;

/// What an atom is used as (checked by the patch layer for the first two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A step's value (`c4`, `bd`, `60`).
    Value,
    /// The value after `:` (`bd:3`).
    Tail,
    /// A number for an operator (`*2`, `(3,8)`, `%4`, `..5`).
    Arg,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Atom {
    /// 1-based column.
    pub col: usize,
    pub text: String,
    pub value: Value,
    pub role: Role,
}

/// A parsed piece: its pattern, a bound on haps per cycle and on subdivision.
struct Node {
    pat: Pat,
    bound: u64,
    fine: u64,
}

struct Element {
    node: Node,
    weight: f64,
    col: usize,
}

pub(crate) struct Parser<'a> {
    s: &'a [char],
    pos: usize,
    depth: usize,
    seed: u32,
    role: Role,
    pub atoms: Vec<Atom>,
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\n' | '\r' | '\t' | '\u{a0}')
}

fn is_step_char(c: char) -> bool {
    c.is_alphabetic() || c.is_ascii_digit() || matches!(c, '~' | '-' | '#' | '.' | '^' | '_')
}

/// How many cycles of the inner pattern a one-cycle query touches after `fast(f)`.
fn mult(f: Rat) -> u64 {
    if f.num <= 0 {
        return 0;
    }
    if f.is_int() {
        return f.num as u64;
    }
    if f.num == 1 {
        return 1;
    }
    (f.num / f.den) as u64 + 2
}

fn fine_of(f: Rat) -> u64 {
    (f.num.unsigned_abs()).saturating_mul(f.den as u64)
}

/// A bound on the haps one cycle of `< >` plays from a sequence of elements with these
/// weights and bounds: the sequence is slowed by its total weight, so a cycle is a window one
/// weight unit long, and it touches only the elements that overlap that window (one element
/// of `<a b c>`, not three). With a whole total the windows are counted one by one; otherwise
/// a window whose first touched element is `i` ends before `i`'s end + 1, so summing, for
/// each `i`, the elements that start before that (cyclically) bounds every window.
fn alternation_bound(weights: &[Rat], bounds: &[u64], total: Rat) -> u64 {
    let sum = || bounds.iter().fold(0u64, |a, b| a.saturating_add(*b));
    if total < Rat::ONE {
        // A window wraps the whole sequence at least once: keep the looser bound.
        return sum().saturating_mul(mult(Rat::ONE.over(total)).max(1));
    }
    let n = weights.len();
    let mut starts = Vec::with_capacity(n);
    let mut at = Rat::ZERO;
    for w in weights {
        starts.push(at);
        at = at.plus(*w);
    }
    if total.is_int() && total.num <= 1024 {
        // Cycle `c` is the window [c mod total, c mod total + 1): count each exactly.
        return (0..total.num)
            .map(|x| {
                let (lo, hi) = (Rat::int(x), Rat::int(x + 1));
                (0..n)
                    .filter(|&j| starts[j] < hi && starts[j].plus(weights[j]) > lo)
                    .fold(0u64, |a, j| a.saturating_add(bounds[j]))
            })
            .max()
            .unwrap_or(0);
    }
    let mut best = 0u64;
    for i in 0..n {
        let limit = starts[i].plus(weights[i]).plus(Rat::ONE);
        let mut b = 0u64;
        // With total >= 1 a window of 1 + weight <= 1 + total reaches at most two more laps.
        for m in i..i + 3 * n + 1 {
            let lap = Rat::int((m / n) as i64).times(total);
            if starts[m % n].plus(lap) >= limit {
                break;
            }
            b = b.saturating_add(bounds[m % n]);
        }
        best = best.max(b);
    }
    best
}

/// Strudel's value of an atom: `Number(s)` when it is a decimal number, else the word.
fn atom_value(text: &str) -> Value {
    if Rat::from_decimal(text).is_some() && !text.starts_with('+') {
        if let Ok(x) = text.parse::<f64>() {
            return Value::Num(x);
        }
    }
    Value::Word(text.to_string())
}

impl<'a> Parser<'a> {
    pub fn new(s: &'a [char]) -> Parser<'a> {
        Parser {
            s,
            pos: 0,
            depth: 0,
            seed: 0,
            role: Role::Value,
            atoms: Vec::new(),
        }
    }

    fn err(&self, col0: usize, msg: impl Into<String>) -> MiniError {
        MiniError {
            col: col0 + 1,
            msg: msg.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            Some(c) => format!("unexpected '{c}'"),
            None => "unexpected end".to_string(),
        }
    }

    fn check(&self, node: &Node, col0: usize) -> Result<(), MiniError> {
        if node.bound > MAX_HITS as u64 {
            return Err(self.err(
                col0,
                format!(
                    "pattern makes more than {MAX_HITS} events per cycle here (the limit is {MAX_HITS}): use fewer or smaller repeats"
                ),
            ));
        }
        if node.fine > MAX_DEN {
            return Err(self.err(
                col0,
                format!("pattern subdivides a cycle more finely than 1/{MAX_DEN} here: nest fewer groups"),
            ));
        }
        Ok(())
    }

    /// The whole string: `ws stack_or_choose ws`.
    /// The whole pattern and its bound on events per cycle.
    pub fn parse(&mut self) -> Result<(Pat, u64), MiniError> {
        self.ws();
        if self.peek().is_none() {
            return Err(self.err(self.pos, "empty pattern (use ~ for a rest)"));
        }
        let start = self.pos;
        let node = self.stack_or_choose()?;
        self.ws();
        if self.pos < self.s.len() {
            return Err(self.err(self.pos, self.describe()));
        }
        self.check(&node, start)?;
        Ok((node.pat, node.bound))
    }

    /// `sequence (("," sequence)+ | ("|" sequence)+ | ("." sequence)+)?`
    fn stack_or_choose(&mut self) -> Result<Node, MiniError> {
        let start = self.pos;
        let (head, _, _) = self.sequence()?;
        let save = self.pos;
        self.ws();
        let sep = match self.peek() {
            Some(c @ (',' | '|')) => c,
            // A lone '.' (not '..', which belongs to an operator and would have been taken).
            Some('.') => '.',
            _ => {
                self.pos = save;
                return Ok(head);
            }
        };
        let mut items = vec![head];
        loop {
            let save = self.pos;
            self.ws();
            if self.peek() != Some(sep) {
                self.pos = save;
                break;
            }
            self.pos += 1;
            self.ws();
            items.push(self.sequence()?.0);
        }
        let node = match sep {
            ',' => Node {
                bound: items.iter().fold(0u64, |a, n| a.saturating_add(n.bound)),
                fine: items.iter().map(|n| n.fine).max().unwrap_or(1),
                pat: Pat::Stack(items.into_iter().map(|n| n.pat).collect()),
            },
            '|' => {
                let seed = self.seed;
                self.seed += 1;
                Node {
                    bound: items.iter().map(|n| n.bound).max().unwrap_or(0),
                    fine: items.iter().map(|n| n.fine).max().unwrap_or(1),
                    pat: Pat::Choose {
                        seed,
                        pats: items.into_iter().map(|n| n.pat).collect(),
                    },
                }
            }
            _ => {
                self.seed += 1;
                let n = items.len() as u64;
                Node {
                    bound: items.iter().fold(0u64, |a, n| a.saturating_add(n.bound)),
                    fine: items
                        .iter()
                        .map(|n| n.fine)
                        .max()
                        .unwrap_or(1)
                        .saturating_mul(n),
                    pat: fastcat(items.into_iter().map(|n| n.pat)),
                }
            }
        };
        self.check(&node, start)?;
        Ok(node)
    }

    /// `sequence ("," sequence)*` inside `{ }` and `< >`: each with its total weight.
    fn polymeter_stack(&mut self) -> Result<Vec<(Node, Rat, u64)>, MiniError> {
        let mut items = vec![self.sequence()?];
        loop {
            let save = self.pos;
            self.ws();
            if self.peek() != Some(',') {
                self.pos = save;
                break;
            }
            self.pos += 1;
            self.ws();
            items.push(self.sequence()?);
        }
        Ok(items)
    }

    /// `"^"? slice_with_ops+`: a weighted sequence (Strudel's `timeCat`), with its weight.
    fn sequence(&mut self) -> Result<(Node, Rat, u64), MiniError> {
        let start = self.pos;
        if self.peek() == Some('^') {
            self.pos += 1;
        }
        let mut elems = Vec::new();
        while let Some(e) = self.slice_with_ops()? {
            elems.push(e);
        }
        if elems.is_empty() && self.peek().is_none() && self.depth > 0 {
            return Err(self.err(self.pos, "unclosed group: the pattern ends inside it"));
        }
        if elems.is_empty() {
            return Err(self.err(
                self.pos,
                format!("{}: expected a step, [ ], < > or {{ }}", self.describe()),
            ));
        }
        let mut weights = Vec::with_capacity(elems.len());
        for e in &elems {
            // Strudel: `weight || 1`.
            let w = if e.weight == 0.0 { 1.0 } else { e.weight };
            let w = Rat::from_f64(w)
                .filter(|w| w.num > 0 && w.den <= 1_000_000 && w.num <= 1_000_000)
                .ok_or_else(|| self.err(e.col - 1, "a weight must be a number above 0"))?;
            weights.push(w);
        }
        let total = weights.iter().fold(Rat::ZERO, |a, w| a.plus(*w));
        if elems.len() == 1 {
            let e = elems.pop().map(|e| e.node).unwrap_or(Node {
                pat: Pat::Silence,
                bound: 0,
                fine: 1,
            });
            let alt = e.bound.saturating_mul(mult(Rat::ONE.over(total)).max(1));
            return Ok((e, total, alt));
        }
        let alt = alternation_bound(
            &weights,
            &elems.iter().map(|e| e.node.bound).collect::<Vec<_>>(),
            total,
        );
        let mut bound = 0u64;
        let mut fine = 1u64;
        let mut begin = Rat::ZERO;
        let mut pats = Vec::with_capacity(elems.len());
        for (e, w) in elems.into_iter().zip(&weights) {
            let end = begin.plus(*w);
            bound = bound.saturating_add(e.node.bound);
            fine = fine.max(e.node.fine.saturating_mul(fine_of(*w)));
            pats.push(Pat::Compress(
                begin.over(total),
                end.over(total),
                Box::new(e.node.pat),
            ));
            begin = end;
        }
        let node = Node {
            pat: Pat::Stack(pats),
            bound,
            fine: fine.saturating_mul(fine_of(total)),
        };
        // Inside `< >` only one window of the sequence plays per cycle (`alt`); every other
        // caller checks the whole sequence's bound itself.
        self.check(
            &Node {
                pat: Pat::Silence,
                bound: alt.min(node.bound),
                fine: node.fine,
            },
            start,
        )?;
        Ok((node, total, alt))
    }

    /// `step / "[" stack_or_choose "]" / "{" polymeter_stack "}" ("%" slice)? / "<" polymeter_stack ">"`,
    /// each with the whitespace around it.
    fn slice(&mut self) -> Result<Option<Node>, MiniError> {
        let start = self.pos;
        self.ws();
        let open = self.pos;
        let Some(c) = self.peek() else {
            self.pos = start;
            return Ok(None);
        };
        if matches!(c, '[' | '{' | '<') {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.err(open, format!("groups nested more than {MAX_DEPTH} deep")));
            }
            self.pos += 1;
            self.ws();
            let node = match c {
                '[' => {
                    let n = self.stack_or_choose()?;
                    self.close(']', open)?;
                    n
                }
                '<' => {
                    let items = self.polymeter_stack()?;
                    self.close('>', open)?;
                    // One cycle plays one window of each sequence (one step of `<a b c>`),
                    // so the bound is the window's, not the whole sequence's.
                    let bound = items
                        .iter()
                        .fold(0u64, |a, (_, _, alt)| a.saturating_add(*alt));
                    let fine = items.iter().fold(1u64, |a, (n, w, _)| {
                        a.max(n.fine.saturating_mul(fine_of(*w)))
                    });
                    let pats = items
                        .into_iter()
                        .map(|(n, w, _)| {
                            if w == Rat::ONE {
                                n.pat
                            } else {
                                Pat::Fast(Rat::ONE.over(w), Box::new(n.pat))
                            }
                        })
                        .collect();
                    Node {
                        pat: Pat::Stack(pats),
                        bound,
                        fine,
                    }
                }
                _ => {
                    let items = self.polymeter_stack()?;
                    self.close('}', open)?;
                    let w0 = items.first().map_or(Rat::ONE, |(_, w, _)| *w);
                    let steps = if self.peek() == Some('%') {
                        self.pos += 1;
                        Some(self.arg("'%'")?)
                    } else {
                        None
                    };
                    let mut bound = 0u64;
                    let mut fine = 1u64;
                    let mut pats = Vec::new();
                    for (n, w, _) in items {
                        match &steps {
                            None => {
                                let f = w0.over(w);
                                bound = bound.saturating_add(n.bound.saturating_mul(mult(f)));
                                fine = fine.max(n.fine.saturating_mul(fine_of(f)));
                                pats.push(if f == Rat::ONE {
                                    n.pat
                                } else {
                                    Pat::Fast(f, Box::new(n.pat))
                                });
                            }
                            Some((s, atoms)) => {
                                let mut worst = 0u64;
                                let mut finest = 1u64;
                                for v in self.nums(*atoms) {
                                    let r = Rat::from_f64(v).filter(|r| r.num >= 0).ok_or_else(
                                        || self.err(open, "'%' needs a number of steps ≥ 0"),
                                    )?;
                                    let f = r.over(w);
                                    worst = worst.max(mult(f));
                                    finest = finest.max(f.num as u64);
                                }
                                bound = bound.saturating_add(
                                    n.bound.saturating_mul(worst).saturating_add(s.bound),
                                );
                                fine =
                                    fine.max(n.fine.saturating_mul(finest).saturating_mul(s.fine));
                                pats.push(Pat::FastBy {
                                    factor: Box::new(s.pat.clone()),
                                    slow: false,
                                    div: w,
                                    pat: Box::new(n.pat),
                                });
                            }
                        }
                    }
                    Node {
                        pat: Pat::Stack(pats),
                        bound,
                        fine,
                    }
                }
            };
            self.depth -= 1;
            self.ws();
            self.check(&node, open)?;
            return Ok(Some(node));
        }
        // A step: a run of step characters that is not just "." or "_".
        let mut end = self.pos;
        while self.s.get(end).copied().is_some_and(is_step_char) {
            end += 1;
        }
        let text: String = self.s[self.pos..end].iter().collect();
        if text.is_empty() || text == "." || text == "_" {
            self.pos = start;
            return Ok(None);
        }
        self.pos = end;
        self.ws();
        if text == "~" || text == "-" {
            return Ok(Some(Node {
                pat: Pat::Silence,
                bound: 1,
                fine: 1,
            }));
        }
        let value = atom_value(&text);
        self.atoms.push(Atom {
            col: open + 1,
            text,
            value: value.clone(),
            role: self.role,
        });
        Ok(Some(Node {
            pat: Pat::Pure(value),
            bound: 1,
            fine: 1,
        }))
    }

    fn close(&mut self, c: char, open: usize) -> Result<(), MiniError> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else if self.peek().is_none() {
            Err(self.err(open, format!("unclosed '{}': expected '{c}'", self.s[open])))
        } else {
            Err(self.err(self.pos, format!("{}: expected '{c}'", self.describe())))
        }
    }
}
