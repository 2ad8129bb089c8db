// Writes tests/fixtures/strudel/transforms.json: random chains of 1-3 pattern transforms
// (Strudel names and arguments) over random mini-notation patterns, with the events Strudel
// 1.1.0 gives for them over 8 cycles (onsets; begin, end, value). Imported by gen.mjs.
//
// A chain is a list of steps `[name, ...args]`; an argument that is itself a list is a
// function, written as a chain applied to the pattern it is given (`["off", 0.25,
// [["add", 7]]]` is `.off(0.25, x => x.add(7))`). A string argument is mini-notation
// (`["fast", "<2 3>"]` is `.fast(mini("<2 3>"))`: Strudel's patterned arguments, joined over
// the argument's events; `struct`/`mask` take one too). Random chains (degradeBy, sometimes…, someCyclesBy) also carry long-run counts
// over LONG cycles for the statistical comparison: events kept, and events marked by the
// `add(100)` their function applies.
import { mini } from '@strudel/mini';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CYCLES = 8;
const LONG = 64;
const MAX_EVENTS = 200;
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', '..', 'tests', 'fixtures', 'strudel', 'transforms.json');

// mulberry32 with its own seed: the fixture is the same on every run.
let s = 0x7a11f0e5;
const rnd = () => {
  s = (s + 0x6d2b79f5) | 0;
  let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (a, b) => a + Math.floor(rnd() * (b - a + 1));
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const chance = (p) => rnd() < p;

// Base patterns: words (notes, drums) or numbers (for add/sub/range and the random markers).
const WORDS = ['c4', 'e4', 'g3', 'bd', 'sd', 'hh', 'x', 'a2'];
const NUMS = ['0', '1', '2', '3', '5', '7', '12', '-2'];
function slice(vals, depth) {
  const r = rnd();
  let body;
  if (depth <= 0 || r < 0.5) body = pick(vals);
  else if (r < 0.7) body = `[${seq(vals, depth - 1)}]`;
  else if (r < 0.85) body = `<${seq(vals, depth - 1)}>`;
  else body = `${pick(vals)}(${pick(['3,8', '5,8', '2,5', '3,8,2'])})`;
  if (chance(0.2)) body += pick(['*2', '/2', '@2', '!2', '*1.5', ' ~', ' _']);
  return body;
}
const seq = (vals, depth) => Array.from({ length: int(1, 4) }, () => slice(vals, depth)).join(' ');
const base = (numeric) => {
  const vals = numeric ? NUMS : WORDS;
  const p = seq(vals, int(0, 2));
  return chance(0.15) ? `${p}, ${seq(vals, 0)}` : p;
};

const time = () => pick([0.25, 0.125, 0.5, 1 / 3, 0.75, 1.5, 2]);
const factor = () => pick([2, 3, 0.5, 1.5, 4, 0.75]);
const MASKS = ['x ~ x x', '1 0 1 1', '<1 [0 1]>', 'x(3,8)', '1 [1 0] 1 ~', 'x*4', '[1 1 0]*2', '<x ~> x'];
// Inner functions (given to off, every, chunk, …): a step or two, no randomness.
const innerSteps = (numeric) => {
  const opts = [['fast', 2], ['rev'], ['ply', 2], ['late', 0.125], ['early', 0.25], ['slow', 2], ['palindrome'], ['iter', 4], ['fast', '<1 2>'], ['late', '<0 0.25>']];
  if (numeric) opts.push(['add', 7], ['sub', 12], ['add', 12]);
  const n = chance(0.8) ? 1 : 2;
  return Array.from({ length: n }, () => pick(opts));
};
const det = {
  fast: () => ['fast', factor()],
  slow: () => ['slow', factor()],
  early: () => ['early', time()],
  late: () => ['late', time()],
  rev: () => ['rev'],
  iter: () => ['iter', int(2, 5)],
  palindrome: () => ['palindrome'],
  ply: () => ['ply', pick([2, 3, 1.5])],
  chunk: (n) => ['chunk', int(2, 4), innerSteps(n)],
  off: (n) => ['off', time(), innerSteps(n)],
  superimpose: (n) => ['superimpose', innerSteps(n)],
  echo: () => ['echo', int(2, 4), time(), 0.5],
  stut: () => ['stut', int(2, 4), 0.5, time()],
  firstOf: (n) => ['firstOf', int(2, 4), innerSteps(n)],
  lastOf: (n) => ['lastOf', int(2, 4), innerSteps(n)],
  every: (n) => ['every', int(2, 4), innerSteps(n)],
  struct: () => ['struct', pick(MASKS)],
  mask: () => ['mask', pick(MASKS)],
  euclid: () => ['euclid', ...pick([[3, 8], [5, 8], [2, 5], [7, 16]])],
  euclidRot: () => ['euclidRot', ...pick([[3, 8, 2], [5, 8, 1], [2, 5, 3]])],
  euclidLegato: () => ['euclidLegato', ...pick([[3, 8], [5, 8], [2, 5]])],
  segment: () => ['segment', pick([1, 2, 4, 8])],
  add: () => ['add', pick([7, 12, -5, 0.5])],
  sub: () => ['sub', pick([7, 12, 2])],
  range: () => ['range', ...pick([[1, 5], [0, 10], [-2, 2]])],
  // Patterned arguments (mini-notation strings).
  fastP: () => ['fast', pick(['<2 3>', '1 2', '<1 [2 4]>', '<0.5 2>', '2 <1 3>', '<1 1.5>*2'])],
  slowP: () => ['slow', pick(['<2 1>', '1 2', '<1.5 0.5>', '[1 2]/2', '<0.5 2 1>'])],
  plyP: () => ['ply', pick(['<1 2>', '1 2', '<2 3 1>', '2 [1 3]', '<1.5 2>'])],
  earlyP: () => ['early', pick(['<0 0.25>', '0.125 0.25', '<0.5 1.5>', '<0 [0.25 0.5]>'])],
  lateP: () => ['late', pick(['<0 0.25>', '0.125 0.25', '<0.5 1.5>', '0 ~ 0.25'])],
  offP: (n) => ['off', pick(['<0.25 0.125>', '0.25 0.5', '<0 0.5>', '<0.125 [0.25 0.75]>']), innerSteps(n)],
};
const NUMERIC_ONLY = new Set(['add', 'sub', 'range']);
const MARK = [['add', 100]];
const rand = {
  degradeBy: () => ['degradeBy', pick([0.25, 0.5, 0.75])],
  sometimesBy: () => ['sometimesBy', pick([0.3, 0.6]), MARK],
  sometimes: () => ['sometimes', MARK],
  often: () => ['often', MARK],
  rarely: () => ['rarely', MARK],
  almostNever: () => ['almostNever', MARK],
  someCyclesBy: () => ['someCyclesBy', pick([0.3, 0.5]), MARK],
  degradeByP: () => ['degradeBy', pick(['<0.25 0.75>', '0.2 0.8', '<0 0.5 1>', '[0.1 0.6]*2'])],
  sometimesByP: () => ['sometimesBy', pick(['<0.3 0.7>', '0.1 0.9', '<0.5 [0.2 0.8]>']), MARK],
  someCyclesByP: () => ['someCyclesBy', pick(['<0.3 0.7>', '<0.2 0.5 0.9>']), MARK],
};

function apply(pat, chain) {
  for (const [name, ...args] of chain) {
    const a = args.map((x) => (Array.isArray(x) ? (p) => apply(p, x) : typeof x === 'string' ? mini(x) : x));
    pat = pat[name](...a);
  }
  return pat;
}
const frac = (f) => `${f.s * f.n}/${f.d}`;
// `echo`/`stut` turn values into {value, gain}: the value, and the gain as a 4th element
// of the event when it is not 1 (weft's `Event::gain`).
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && 'value' in v;
const val = (v) => (isObj(v) ? v.value : v);
const gainOf = (v) => (isObj(v) && typeof v.gain === 'number' ? v.gain : 1);
const event = (h) => {
  const e = [frac(h.whole.begin), frac(h.whole.end), val(h.value)];
  return gainOf(h.value) === 1 ? e : [...e, gainOf(h.value)];
};
function onsets(pattern, chain, cycles) {
  const haps = apply(mini(pattern), chain).queryArc(0, cycles).filter((h) => h.hasOnset());
  haps.sort((a, b) => a.whole.begin.compare(b.whole.begin));
  return haps;
}

const cases = [];
const seen = new Set();
function addCase(pattern, chain, random) {
  const key = JSON.stringify([pattern, chain]);
  if (seen.has(key)) return false;
  let haps;
  try {
    const one = apply(mini(pattern), chain).queryArc(0, 1);
    if (one.length > MAX_EVENTS / 4) return false;
    haps = onsets(pattern, chain, CYCLES);
  } catch (e) {
    return false;
  }
  if (haps.length > MAX_EVENTS || (haps.length === 0 && !random)) return false;
  seen.add(key);
  const c = {
    pattern,
    chain,
    random,
    events: haps.map(event),
  };
  if (random) {
    const long = onsets(pattern, chain, LONG);
    const plain = chain.filter((st) => !(st[0] in rand));
    c.long = {
      cycles: LONG,
      events: long.length,
      marked: long.filter((h) => typeof val(h.value) === 'number' && val(h.value) >= 50).length,
      plain_events: onsets(pattern, plain, LONG).length,
    };
  }
  cases.push(c);
  return true;
}

// Each transform alone, then chains of 2-3 (deterministic), then chains with one random step.
for (const [name, f] of Object.entries(det)) {
  let made = 0;
  for (let tries = 0; made < 8 && tries < 200; tries++) {
    const numeric = NUMERIC_ONLY.has(name) || chance(0.3);
    if (addCase(base(numeric), [f(numeric)], false)) made++;
  }
}
const names = Object.keys(det);
for (let tries = 0, made = 0; made < 260 && tries < 8000; tries++) {
  const numeric = chance(0.4);
  const chain = Array.from({ length: int(2, 3) }, () => pick(names))
    .filter((n) => numeric || !NUMERIC_ONLY.has(n))
    .map((n) => det[n](numeric));
  // echo/stut make {value, gain} values Strudel cannot do arithmetic on: keep them last.
  chain.sort((a, b) => (a[0] === 'echo' || a[0] === 'stut') - (b[0] === 'echo' || b[0] === 'stut'));
  if (chain.length === 0) continue;
  if (addCase(base(numeric), chain, false)) made++;
}
for (let tries = 0, made = 0; made < 120 && tries < 5000; tries++) {
  const r = rand[pick(Object.keys(rand))]();
  const before = Array.from({ length: int(0, 2) }, () => det[pick(['fast', 'rev', 'ply', 'iter', 'euclid', 'segment', 'late', 'fastP', 'plyP'])](true));
  // Dense enough to count: the random step goes last so its marker stays visible.
  if (addCase(`${base(true)}*${pick([2, 4])}`, [...before, r], true)) made++;
}

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ strudel: '1.1.0', cycles: CYCLES, generator: 'benches/peers/strudel/gen_transforms.mjs', cases }) + '\n');
const nd = cases.filter((c) => !c.random).length;
console.error(`wrote ${out}: ${cases.length} chains (${nd} deterministic, ${cases.length - nd} random)`);
