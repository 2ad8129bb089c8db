//! Harmony as pattern transforms: `n(..).scale(..)`, `chord(..)` with `voicing(..)`, and
//! `arp(..)`. The mini engine gives values; each event's value is mapped to notes after
//! querying (exact time, as the other transforms), with `crate::patch::harmony` doing the
//! theory. Patterned arguments join as Strudel's `register` does (`innerJoin`): the
//! argument pattern is queried and the voice's events are queried within each of its
//! events, so a change of scale mid-event cuts the event there.

use super::super::parse::Role;
use super::super::pat::{Hap, Pat, QueryCtx, Span};
use super::super::rat::Rat;
use super::super::{MiniError, Pattern, Value, MAX_HITS};
use super::{Tf, TransformError};
use crate::patch::harmony::{self, Chord, Scale, Voicing};

/// Most notes one chord symbol makes (a 13th chord and a slash bass).
const MAX_CHORD: u64 = 7;

/// A harmony transform's data.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Harm {
    /// Degrees of `pat` in the scales of `scales` (its values are `root:mode` lists).
    Scale { scales: Pat, pat: Pat },
    /// The chord symbols of `pat` as stacked notes.
    Voiced { v: Voicing, pat: Pat },
    /// Strudel's `arp`: the events of `idx` pick notes (by index, wrapping) of the chord
    /// sounding then.
    ArpIndex { idx: Pat, pat: Pat },
    /// Tidal's `arp`: each chord's span is cut into its notes in the order of the mode.
    ArpMode { modes: Pat, pat: Pat },
}

/// A value's words (`C4:minor` → `["C4", "minor"]`).
fn words(v: &Value) -> Vec<String> {
    match v {
        Value::List(xs) => xs.iter().map(|x| x.to_string()).collect(),
        other => vec![other.to_string()],
    }
}

/// A degree: a whole number (or the first of a `:` pair); fractions round down.
fn degree(v: &Value) -> Option<i64> {
    match v {
        Value::Num(x) if x.is_finite() && x.abs() < 1e6 => Some(x.floor() as i64),
        Value::List(xs) => degree(xs.first()?),
        _ => None,
    }
}

fn num(v: &Value) -> Option<u8> {
    match v {
        Value::Num(x) if x.fract() == 0.0 && (0.0..=127.0).contains(x) => Some(*x as u8),
        _ => None,
    }
}

/// The chord a value names (parsed when the patch was evaluated, so it is valid here).
fn chord_of(v: &Value) -> Option<Chord> {
    match v {
        Value::Word(w) => harmony::parse_chord(w).ok(),
        _ => None,
    }
}

/// Strudel's `innerJoin` of a patterned argument: for each event of `arg`, the haps of
/// `f(arg value)` queried within that event's part.
fn inner_join(
    arg: &Pat,
    span: Span,
    ctx: &mut QueryCtx,
    mut f: impl FnMut(&Value, Span, &mut QueryCtx) -> Vec<Hap>,
) -> Vec<Hap> {
    let mut out = Vec::new();
    for a in arg.query(span, ctx) {
        out.extend(f(&a.value, a.part, ctx));
    }
    out
}

/// Haps that share a span (a chord's notes), in query order: a stack's order, lowest first
/// for `chord(..)` (Strudel's `collect`, Tidal's `groupBy` on `whole`).
fn groups(haps: Vec<Hap>) -> Vec<(Span, Span, Vec<u8>)> {
    let mut out: Vec<(Span, Span, Vec<u8>)> = Vec::new();
    for h in haps {
        let Some(n) = num(&h.value) else { continue };
        match out.iter_mut().find(|g| g.0 == h.whole && g.1 == h.part) {
            Some(g) => g.2.push(n),
            None => out.push((h.whole, h.part, vec![n])),
        }
    }
    out
}

impl Harm {
    pub(crate) fn query(&self, span: Span, ctx: &mut QueryCtx) -> Vec<Hap> {
        match self {
            Harm::Scale { scales, pat } => inner_join(scales, span, ctx, |sv, part, ctx| {
                let Ok(scale) = harmony::parse_scale(&words(sv)) else {
                    return Vec::new();
                };
                pat.query(part, ctx)
                    .into_iter()
                    .filter_map(|h| to_scale(&scale, h))
                    .collect()
            }),
            Harm::Voiced { v, pat } => voiced(v, pat, span, ctx),
            Harm::ArpIndex { idx, pat } => {
                let mut out = Vec::new();
                for (_, part, notes) in groups(pat.query(span, ctx)) {
                    for i in idx.query(part, ctx) {
                        let Some(k) = degree(&i.value) else { continue };
                        let n = notes[k.rem_euclid(notes.len() as i64) as usize];
                        out.push(Hap {
                            whole: i.whole,
                            part: i.part,
                            value: Value::Num(n as f64),
                            gain: i.gain,
                        });
                    }
                }
                out
            }
            Harm::ArpMode { modes, pat } => inner_join(modes, span, ctx, |mv, part, ctx| {
                let mode = mv.to_string();
                let mut out = Vec::new();
                for (whole, gpart, notes) in groups(pat.query(part, ctx)) {
                    let order = harmony::arp_order(&mode, &notes);
                    let d = whole
                        .e
                        .minus(whole.b)
                        .over(Rat::int(order.len().max(1) as i64));
                    for (k, n) in order.iter().enumerate() {
                        let b = whole.b.plus(d.times(Rat::int(k as i64)));
                        let w = Span::new(b, b.plus(d));
                        if let Some(p) = w.intersect(gpart) {
                            out.push(Hap {
                                whole: w,
                                part: p,
                                value: Value::Num(*n as f64),
                                gain: 1.0,
                            });
                        }
                    }
                }
                out
            }),
        }
    }
}

fn to_scale(scale: &Scale, h: Hap) -> Option<Hap> {
    let value = match &h.value {
        // Words (rests are not events; `x`, drums, note names) pass unchanged, as Strudel.
        Value::Word(_) => h.value.clone(),
        v => Value::Num(scale.degree(degree(v)?)? as f64),
    };
    Some(Hap { value, ..h })
}

/// The notes of each chord event, voiced; with voice leading, each chord is voiced against
/// the one before it, counted from the last multiple of `reset` cycles.
fn voiced(v: &Voicing, pat: &Pat, span: Span, ctx: &mut QueryCtx) -> Vec<Hap> {
    let haps = pat.query(span, ctx);
    let mut led: Vec<(Span, String, Vec<u8>)> = Vec::new();
    if v.lead {
        let reset = Rat::int(v.reset.max(1) as i64);
        let window = |t: Rat| t.over(reset).sam().times(reset);
        if let Some(first) = haps.iter().map(|h| window(h.whole.b)).min() {
            let last = haps.iter().map(|h| h.whole.b).max().unwrap_or(first);
            // Every chord onset from the window's start up to the last chord asked for.
            let mut past: Vec<Hap> = pat
                .query(Span::new(first, last.plus(Rat::new(1, 1 << 20))), ctx)
                .into_iter()
                .filter(|h| h.has_onset() && h.whole.b <= last)
                .collect();
            past.sort_by(|a, b| {
                (a.whole.b, a.whole.e, a.value.to_string()).cmp(&(
                    b.whole.b,
                    b.whole.e,
                    b.value.to_string(),
                ))
            });
            let mut prev: Option<(Rat, Vec<u8>)> = None;
            for h in past {
                let Some(c) = chord_of(&h.value) else {
                    continue;
                };
                let w = window(h.whole.b);
                let notes = match &prev {
                    Some((pw, p)) if *pw == w => harmony::lead(p, &c, v),
                    _ => harmony::voice(&c, v),
                };
                let Some(notes) = notes else { continue };
                prev = Some((w, notes.clone()));
                led.push((h.whole, h.value.to_string(), notes));
            }
        }
    }
    let mut out = Vec::new();
    for h in haps {
        let notes = if v.lead {
            let key = h.value.to_string();
            led.iter()
                .find(|(w, k, _)| *w == h.whole && *k == key)
                .map(|x| x.2.clone())
        } else {
            chord_of(&h.value).and_then(|c| harmony::voice(&c, v))
        };
        for n in notes.unwrap_or_default() {
            out.push(Hap {
                whole: h.whole,
                part: h.part,
                value: Value::Num(n as f64),
                gain: h.gain,
            });
        }
    }
    out
}

fn col_err(col: usize, msg: impl Into<String>) -> MiniError {
    MiniError {
        col,
        msg: msg.into(),
    }
}

impl Pattern {
    /// Parses a pattern of scale degrees (`n("0 2 <4 6> [1 3]")`): every value a number.
    pub fn parse_degrees(src: &str) -> Result<Pattern, MiniError> {
        let p = Pattern::parse(src)?;
        for a in &p.atoms {
            if a.role == Role::Value && degree(&a.value).is_none() {
                return Err(col_err(
                    a.col,
                    format!(
                        "'{}' is not a scale degree (write numbers: 0 2 -1 7)",
                        a.text
                    ),
                ));
            }
        }
        Ok(p)
    }

    /// Parses a pattern of chord symbols (`"<Cm7 F7/A Bbmaj7>"`); a slash bass is read as
    /// such (in other patterns `/` slows a step).
    pub fn parse_chords(src: &str) -> Result<Pattern, MiniError> {
        // `F7/A` → `F7.A` (same columns): a `/` between a word and a note letter.
        let chars: Vec<char> = src.chars().collect();
        let text: String = chars
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let before = i > 0 && chars[i - 1].is_alphanumeric();
                let after = chars.get(i + 1).is_some_and(|n| "ABCDEFG".contains(*n));
                if *c == '/' && before && after {
                    '.'
                } else {
                    *c
                }
            })
            .collect();
        let mut p = Pattern::parse(&text)?;
        p.source = src.to_string();
        for a in &p.atoms {
            if a.role == Role::Value {
                harmony::parse_chord(&a.text).map_err(|e| col_err(a.col, e.to_string()))?;
            }
        }
        Ok(p)
    }

    /// Parses a pattern of scales (`"<C:major A:minor>"`).
    pub fn parse_scales(src: &str) -> Result<Pattern, MiniError> {
        let p = Pattern::parse(src)?;
        let mut parts: Vec<(usize, Vec<String>)> = Vec::new();
        for a in &p.atoms {
            match a.role {
                Role::Value => parts.push((a.col, vec![a.text.clone()])),
                Role::Tail => match parts.last_mut() {
                    Some(last) => last.1.push(a.text.clone()),
                    None => return Err(col_err(a.col, "':' needs a root before it")),
                },
                Role::Arg => {}
            }
        }
        for (col, words) in parts {
            harmony::parse_scale(&words).map_err(|e| col_err(col, e.to_string()))?;
        }
        Ok(p)
    }

    fn harm(&self, what: &'static str, h: Harm, bound: u64) -> Result<Pattern, TransformError> {
        if bound > MAX_HITS as u64 {
            return Err(TransformError::TooMany(what));
        }
        Ok(Pattern {
            pat: Pat::Transform(Box::new(Tf::Harmony(Box::new(h)))),
            atoms: self.atoms.clone(),
            source: format!("{}.{what}(…)", self.source),
            bound,
        })
    }

    /// This pattern's degrees in the scales of `scales`.
    pub fn scale(&self, scales: &Pattern) -> Result<Pattern, TransformError> {
        let bound = self.bound.saturating_mul(scales.bound.max(1));
        let h = Harm::Scale {
            scales: scales.pat.clone(),
            pat: self.pat.clone(),
        };
        self.harm("scale", h, bound)
    }

    /// This pattern's chord symbols as notes, voiced by `v`.
    pub fn voiced(&self, v: &Voicing) -> Result<Pattern, TransformError> {
        let bound = self.bound.saturating_mul(MAX_CHORD);
        let h = Harm::Voiced {
            v: v.clone(),
            pat: self.pat.clone(),
        };
        self.harm("voicing", h, bound)
    }

    /// The same chords with another voicing, if this pattern is a `chord(..)` pattern.
    pub fn revoiced(&self, v: &Voicing) -> Option<Pattern> {
        let Pat::Transform(tf) = &self.pat else {
            return None;
        };
        let Tf::Harmony(h) = tf.as_ref() else {
            return None;
        };
        let Harm::Voiced { pat, .. } = h.as_ref() else {
            return None;
        };
        let mut p = self.clone();
        p.pat = Pat::Transform(Box::new(Tf::Harmony(Box::new(Harm::Voiced {
            v: v.clone(),
            pat: pat.clone(),
        }))));
        Some(p)
    }

    /// Strudel's `arp`: the events of `idx` pick notes of the sounding chord by index.
    pub fn arp_index(&self, idx: &Pattern) -> Result<Pattern, TransformError> {
        let bound = self.bound.saturating_mul(idx.bound.max(1));
        let h = Harm::ArpIndex {
            idx: idx.pat.clone(),
            pat: self.pat.clone(),
        };
        self.harm("arp", h, bound)
    }

    /// Tidal's `arp`: each chord's notes one after another in the order of the mode.
    pub fn arp_mode(&self, modes: &Pattern) -> Result<Pattern, TransformError> {
        // A mode plays each note at most twice (`pinkyup`, `updown`).
        let bound = self
            .bound
            .saturating_mul(2)
            .saturating_mul(modes.bound.max(1));
        let h = Harm::ArpMode {
            modes: modes.pat.clone(),
            pat: self.pat.clone(),
        };
        self.harm("arp", h, bound)
    }

    /// Checks an `arp` argument: all indices (`"0 [2 1]"`) or all mode names
    /// (`"<up updown>"`); `Ok(true)` for modes.
    pub fn arp_kind(&self) -> Result<bool, MiniError> {
        let values: Vec<_> = self
            .atoms
            .iter()
            .filter(|a| a.role == Role::Value)
            .collect();
        let modes = values.iter().any(|a| degree(&a.value).is_none());
        for a in values {
            if modes {
                harmony::check_arp_mode(&a.text).map_err(|e| col_err(a.col, e.to_string()))?;
            }
        }
        Ok(modes)
    }
}
