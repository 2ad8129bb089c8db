//! The operators that follow a step or group in the mini-notation — `*n` `/n` `!n` `@w`
//! `?p` `:v` `..b` `(k,n,r)` — and their numeric arguments, each applied to the pattern with
//! its bound on haps per cycle and on subdivision.

use super::*;

pub(super) enum Op {
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

impl Parser<'_> {
    /// `number = "-"? int frac? exp?` (PEG: nothing is consumed when it does not match).
    pub(super) fn number(&mut self) -> Option<f64> {
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
    pub(super) fn arg(&mut self, what: &str) -> Result<(Node, (usize, usize)), MiniError> {
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

    pub(super) fn nums(&self, r: (usize, usize)) -> impl Iterator<Item = f64> + '_ {
        self.atoms[r.0..r.1].iter().filter_map(|a| match a.value {
            Value::Num(x) => Some(x),
            _ => None,
        })
    }

    /// `slice slice_op*`; None (nothing consumed) when no slice starts here.
    pub(super) fn slice_with_ops(&mut self) -> Result<Option<Element>, MiniError> {
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
    pub(super) fn arg_with_ops(&mut self, what: &str) -> Result<(Node, (usize, usize)), MiniError> {
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

    pub(super) fn apply_ops(
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
}
