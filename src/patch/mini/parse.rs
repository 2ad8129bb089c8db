//! The mini-notation grammar of Strudel 1.1.0 (`krill.pegjs`), by recursive descent, building
//! the pattern the way `@strudel/mini`'s `patternifyAST` does.
//!
//! While parsing, each element carries an upper bound on the haps one cycle of it can produce
//! and on how finely it divides a cycle, so a pattern that would explode is rejected with the
//! column of the operator or group that made it, before anything is queried.

use super::pat::{array_range, fastcat, Pat};
use super::rat::Rat;
use super::{MiniError, Value, MAX_DEN, MAX_HITS};

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

enum Op {
    Fast {
        arg: Node,
        atoms: (usize, usize),
        slow: bool,
        col: usize,
    },
    Euclid {
        args: Vec<Node>,
        steps: (usize, usize),
        col: usize,
    },
    Degrade {
        amount: f64,
    },
    Tail {
        friend: Node,
    },
    Range {
        friend: Node,
        atoms: (usize, usize),
        col: usize,
    },
    Replicate {
        reps: f64,
        col: usize,
    },
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
    pub fn parse(&mut self) -> Result<Pat, MiniError> {
        self.ws();
        if self.peek().is_none() {
            return Err(self.err(self.pos, "empty pattern (use ~ for a rest)"));
        }
        let node = self.stack_or_choose()?;
        self.ws();
        if self.pos < self.s.len() {
            return Err(self.err(self.pos, self.describe()));
        }
        Ok(node.pat)
    }

    /// `sequence (("," sequence)+ | ("|" sequence)+ | ("." sequence)+)?`
    fn stack_or_choose(&mut self) -> Result<Node, MiniError> {
        let start = self.pos;
        let (head, _) = self.sequence()?;
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
    fn polymeter_stack(&mut self) -> Result<Vec<(Node, Rat)>, MiniError> {
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
    fn sequence(&mut self) -> Result<(Node, Rat), MiniError> {
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
            let e = elems.pop().map(|e| e.node);
            return Ok((
                e.unwrap_or(Node {
                    pat: Pat::Silence,
                    bound: 0,
                    fine: 1,
                }),
                total,
            ));
        }
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
        self.check(&node, start)?;
        Ok((node, total))
    }

    /// `number = "-"? int frac? exp?` (PEG: nothing is consumed when it does not match).
    fn number(&mut self) -> Option<f64> {
        let start = self.pos;
        let mut p = self.pos;
        let at = |p: usize| self.s.get(p).copied();
        if at(p) == Some('-') {
            p += 1;
        }
        match at(p) {
            Some('0') => p += 1,
            Some('1'..='9') => {
                while at(p).is_some_and(|c| c.is_ascii_digit()) {
                    p += 1;
                }
            }
            _ => return None,
        }
        if at(p) == Some('.') && at(p + 1).is_some_and(|c| c.is_ascii_digit()) {
            p += 1;
            while at(p).is_some_and(|c| c.is_ascii_digit()) {
                p += 1;
            }
        }
        if matches!(at(p), Some('e' | 'E')) {
            let mut q = p + 1;
            if matches!(at(q), Some('+' | '-')) {
                q += 1;
            }
            if at(q).is_some_and(|c| c.is_ascii_digit()) {
                while at(q).is_some_and(|c| c.is_ascii_digit()) {
                    q += 1;
                }
                p = q;
            }
        }
        let text: String = self.s[start..p].iter().collect();
        self.pos = p;
        text.parse().ok()
    }

    /// A slice used as an operator's argument: its atoms must be numbers.
    fn arg(&mut self, what: &str) -> Result<(Node, (usize, usize)), MiniError> {
        let col = self.pos + self.s[self.pos..].iter().take_while(|c| is_ws(**c)).count();
        let role = std::mem::replace(&mut self.role, Role::Arg);
        let first = self.atoms.len();
        let node = self.slice()?;
        self.role = role;
        let node = node.ok_or_else(|| {
            self.err(
                col,
                format!("{what} needs a number or a pattern of numbers"),
            )
        })?;
        for a in &self.atoms[first..] {
            if !matches!(a.value, Value::Num(_)) {
                return Err(self.err(
                    a.col - 1,
                    format!("{what} needs a number, not '{}'", a.text),
                ));
            }
        }
        Ok((node, (first, self.atoms.len())))
    }

    fn nums(&self, r: (usize, usize)) -> impl Iterator<Item = f64> + '_ {
        self.atoms[r.0..r.1].iter().filter_map(|a| match a.value {
            Value::Num(x) => Some(x),
            _ => None,
        })
    }

    /// `slice slice_op*`; None (nothing consumed) when no slice starts here.
    fn slice_with_ops(&mut self) -> Result<Option<Element>, MiniError> {
        let start = self.pos;
        let first_atom = self.atoms.len();
        let Some(node) = self.slice()? else {
            self.pos = start;
            return Ok(None);
        };
        let col = start + 1 + self.s[start..].iter().take_while(|c| is_ws(**c)).count();
        let own_atoms = (first_atom, self.atoms.len());
        let mut weight = 1.0f64;
        let mut reps = 1.0f64;
        let mut ops: Vec<Op> = Vec::new();
        loop {
            let save = self.pos;
            self.ws();
            let op_col = self.pos;
            match self.peek() {
                Some('@' | '_') => {
                    self.pos += 1;
                    weight += self.number().unwrap_or(2.0) - 1.0;
                    continue;
                }
                Some('!') => {
                    self.pos += 1;
                    reps += self.number().unwrap_or(2.0) - 1.0;
                    ops.retain(|o| !matches!(o, Op::Replicate { .. }));
                    ops.push(Op::Replicate { reps, col: op_col });
                    weight = reps;
                    continue;
                }
                _ => self.pos = save,
            }
            let op_col = self.pos;
            match self.peek() {
                Some('(') => {
                    self.pos += 1;
                    let mut args = Vec::new();
                    let mut steps = (0, 0);
                    for i in 0..3 {
                        self.ws();
                        if i == 2 {
                            if self.peek() == Some(',') {
                                self.pos += 1;
                                self.ws();
                            }
                            if self.peek() == Some(')') {
                                break;
                            }
                        }
                        let (n, r) = self.arg_with_ops("euclid")?;
                        if i == 1 {
                            steps = r;
                        }
                        args.push(n);
                        self.ws();
                        if i == 0 {
                            if self.peek() != Some(',') {
                                return Err(self.err(
                                    self.pos,
                                    format!("{}: expected ',' in (pulses,steps)", self.describe()),
                                ));
                            }
                            self.pos += 1;
                        }
                    }
                    self.ws();
                    if self.peek() != Some(')') {
                        return Err(
                            self.err(self.pos, format!("{}: expected ')'", self.describe()))
                        );
                    }
                    self.pos += 1;
                    ops.push(Op::Euclid {
                        args,
                        steps,
                        col: op_col,
                    });
                }
                Some(c @ ('*' | '/')) => {
                    self.pos += 1;
                    let what = if c == '*' { "'*'" } else { "'/'" };
                    let (arg, atoms) = self.arg(what)?;
                    ops.push(Op::Fast {
                        arg,
                        atoms,
                        slow: c == '/',
                        col: op_col,
                    });
                }
                Some('?') => {
                    self.pos += 1;
                    let amount = self.number().unwrap_or(0.5);
                    ops.push(Op::Degrade { amount });
                }
                Some(':') => {
                    self.pos += 1;
                    let role = std::mem::replace(&mut self.role, Role::Tail);
                    let friend = self.slice()?;
                    self.role = role;
                    let friend = friend.ok_or_else(|| {
                        self.err(
                            self.pos,
                            format!("{}: expected a value after ':'", self.describe()),
                        )
                    })?;
                    ops.push(Op::Tail { friend });
                }
                Some('.') if self.s.get(self.pos + 1) == Some(&'.') => {
                    self.pos += 2;
                    let (friend, atoms) = self.arg("'..'")?;
                    ops.push(Op::Range {
                        friend,
                        atoms,
                        col: op_col,
                    });
                }
                _ => break,
            }
        }
        let node = self.apply_ops(node, ops, own_atoms)?;
        Ok(Some(Element { node, weight, col }))
    }

    /// `slice_with_ops` as an argument (inside `( , , )`), numbers only.
    fn arg_with_ops(&mut self, what: &str) -> Result<(Node, (usize, usize)), MiniError> {
        let col = self.pos + self.s[self.pos..].iter().take_while(|c| is_ws(**c)).count();
        let role = std::mem::replace(&mut self.role, Role::Arg);
        let first = self.atoms.len();
        let e = self.slice_with_ops()?;
        self.role = role;
        let e =
            e.ok_or_else(|| self.err(col, format!("{}: {what} needs numbers", self.describe())))?;
        for a in &self.atoms[first..] {
            if !matches!(a.value, Value::Num(_)) {
                return Err(self.err(a.col - 1, format!("{what} needs numbers, not '{}'", a.text)));
            }
        }
        Ok((e.node, (first, self.atoms.len())))
    }

    fn apply_ops(
        &mut self,
        mut node: Node,
        ops: Vec<Op>,
        own: (usize, usize),
    ) -> Result<Node, MiniError> {
        for op in ops {
            let col = match &op {
                Op::Fast { col, .. }
                | Op::Euclid { col, .. }
                | Op::Range { col, .. }
                | Op::Replicate { col, .. } => *col,
                _ => self.pos,
            };
            node = match op {
                Op::Fast {
                    arg,
                    atoms,
                    slow,
                    col,
                } => {
                    let vals: Vec<f64> = self.nums(atoms).collect();
                    let mut worst = 0u64;
                    let mut finest = 1u64;
                    for v in &vals {
                        let r = Rat::from_f64(*v)
                            .ok_or_else(|| self.err(col, "number out of range"))?;
                        if r.num < 0 {
                            return Err(self.err(col, "speed factors must not be negative"));
                        }
                        if r.num == 0 {
                            continue;
                        }
                        let f = if slow { Rat::ONE.over(r) } else { r };
                        worst = worst.max(mult(f));
                        finest = finest.max(f.num as u64);
                    }
                    // Each factor's hap queries its own slice of the cycle.
                    let constant = matches!(arg.pat, Pat::Pure(_));
                    let bound = node
                        .bound
                        .saturating_mul(worst)
                        .saturating_add(if constant { 0 } else { arg.bound });
                    let fine = node.fine.saturating_mul(finest).saturating_mul(arg.fine);
                    let pat = match (&arg.pat, vals.as_slice()) {
                        (Pat::Pure(Value::Num(_)), [v]) => {
                            let r = Rat::from_f64(*v).unwrap_or(Rat::ZERO);
                            if r.num == 0 {
                                Pat::Silence
                            } else {
                                Pat::Fast(
                                    if slow { Rat::ONE.over(r) } else { r },
                                    Box::new(node.pat),
                                )
                            }
                        }
                        _ => Pat::FastBy {
                            factor: Box::new(arg.pat),
                            slow,
                            div: Rat::ONE,
                            pat: Box::new(node.pat),
                        },
                    };
                    Node { pat, bound, fine }
                }
                Op::Replicate { reps, col } => {
                    let n = Rat::from_f64(reps)
                        .filter(|n| n.num > 0 && n.num <= MAX_HITS as i64 && n.den <= 1000)
                        .ok_or_else(|| self.err(col, "'!' needs a count above 0"))?;
                    Node {
                        bound: node.bound.saturating_mul(mult(n).max(1)),
                        fine: node.fine.saturating_mul(fine_of(n)),
                        pat: Pat::Fast(n, Box::new(Pat::RepeatCycles(n, Box::new(node.pat)))),
                    }
                }
                Op::Euclid { args, steps, col } => {
                    let most = self.nums(steps).fold(1f64, |a, x| a.max(x.abs()));
                    if most > MAX_HITS as f64 {
                        return Err(self.err(col, format!("euclid: at most {MAX_HITS} steps")));
                    }
                    let arg_bound = args
                        .iter()
                        .fold(1u64, |a, n| a.saturating_mul(n.bound.max(1)));
                    let arg_fine = args.iter().fold(1u64, |a, n| a.max(n.fine));
                    let mut it = args.into_iter();
                    let (Some(p), Some(s)) = (it.next(), it.next()) else {
                        return Err(self.err(col, "euclid needs (pulses,steps)"));
                    };
                    let rot = it.next().map(|r| Box::new(r.pat));
                    Node {
                        // Each step queries the child over its own slice: the slices' haps add up to
                        // one cycle's plus one fragment per step.
                        bound: node
                            .bound
                            .saturating_add((most as u64 + 1).saturating_mul(arg_bound)),
                        fine: node
                            .fine
                            .saturating_mul(most as u64)
                            .saturating_mul(arg_fine),
                        pat: Pat::Euclid {
                            pulses: Box::new(p.pat),
                            steps: Box::new(s.pat),
                            rot,
                            pat: Box::new(node.pat),
                        },
                    }
                }
                Op::Degrade { amount } => {
                    let seed = self.seed;
                    self.seed += 1;
                    Node {
                        pat: Pat::Degrade {
                            amount,
                            seed,
                            pat: Box::new(node.pat),
                        },
                        ..node
                    }
                }
                Op::Tail { friend } => Node {
                    bound: node.bound.saturating_mul(friend.bound.max(1)),
                    fine: node.fine.max(friend.fine),
                    pat: Pat::Tail(Box::new(node.pat), Box::new(friend.pat)),
                },
                Op::Range { friend, atoms, col } => {
                    for a in &self.atoms[own.0..own.1] {
                        if !matches!(a.value, Value::Num(_)) {
                            return Err(self
                                .err(a.col - 1, format!("'..' needs numbers, not '{}'", a.text)));
                        }
                    }
                    let all: Vec<f64> = self.nums(own).chain(self.nums(atoms)).collect();
                    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let len = array_range(lo, hi).len().max(1) as u64;
                    if len > MAX_HITS as u64 {
                        return Err(self.err(col, format!("'..' range longer than {MAX_HITS}")));
                    }
                    Node {
                        bound: node
                            .bound
                            .saturating_mul(friend.bound.max(1))
                            .saturating_mul(len),
                        fine: node.fine.saturating_mul(friend.fine).saturating_mul(len),
                        pat: Pat::Range(Box::new(node.pat), Box::new(friend.pat)),
                    }
                }
            };
            self.check(&node, col)?;
        }
        Ok(node)
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
                    let bound = items.iter().fold(0u64, |a, (n, w)| {
                        a.saturating_add(n.bound.saturating_mul(mult(Rat::ONE.over(*w)).max(1)))
                    });
                    let fine = items
                        .iter()
                        .fold(1u64, |a, (n, w)| a.max(n.fine.saturating_mul(fine_of(*w))));
                    let pats = items
                        .into_iter()
                        .map(|(n, w)| {
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
                    let w0 = items.first().map_or(Rat::ONE, |(_, w)| *w);
                    let steps = if self.peek() == Some('%') {
                        self.pos += 1;
                        Some(self.arg("'%'")?)
                    } else {
                        None
                    };
                    let mut bound = 0u64;
                    let mut fine = 1u64;
                    let mut pats = Vec::new();
                    for (n, w) in items {
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
