// Writes tests/fixtures/strudel/mini.json: random mini-notation patterns drawn from every
// feature of Strudel's mini-notation (each alone, mixed, nested >= 3 deep), with the events
// Strudel 1.1.0 gives for them over 8 cycles (`mini(p).queryArc(0, 8)`, onsets only).
// Run: sh setup.sh && node gen.mjs   (the import prints a banner on stdout; the fixture is
// written straight to the file).
import { mini } from '@strudel/mini';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CYCLES = 8;
const MAX_EVENTS = 160;
const LONG = 128; // cycles for the random cases' long-run shares // keeps the fixture small; longer cases are redrawn
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', '..', 'tests', 'fixtures', 'strudel', 'mini.json');

// mulberry32: the fixture is the same on every run.
let s = 0x5eed1234;
const rnd = () => {
  s = (s + 0x6d2b79f5) | 0;
  let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (a, b) => a + Math.floor(rnd() * (b - a + 1));
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const chance = (p) => rnd() < p;

const NOTES = ['c4', 'e4', 'g3', 'a2', 'eb4', 'f#3', 'bb2', 'd5', 'C4'];
const DRUMS = ['bd', 'sd', 'hh', 'oh', 'cp', 'rim', 'x'];
const MIDI = ['36', '48', '60', '67', '72', '0', '127'];
const NUMS = ['0', '1', '2', '3', '5', '0.5', '-1', '1.25', '7'];
const word = () => pick([NOTES, DRUMS, MIDI, NUMS][int(0, 3)]);
const rest = () => pick(['~', '-']);

// Patterned numeric arguments.
const fastArg = () => pick(['2', '3', '4', '1.5', '0.5', '2.5', '<2 3>', '<1 2 4>', '[2 3]', '<1.5 2>', '<2 [3 4]>']);
const slowArg = () => pick(['2', '3', '1.5', '4', '0.75', '<2 4>', '<1 3>', '[2 3]']);
const eucl = () => {
  const n = int(3, 12);
  const k = int(1, n);
  const pat = chance(0.25) ? `<${k} ${int(1, n)}>` : `${k}`;
  const steps = chance(0.15) ? `<${n} ${Math.max(n, k) + int(0, 3)}>` : `${n}`;
  if (chance(0.4)) {
    const r = chance(0.25) ? `<0 ${int(1, n - 1)}>` : `${int(0, n - 1)}`;
    return `(${pat},${steps},${r})`;
  }
  return `(${pat},${steps})`;
};

// Operators that need no randomness; `rand` adds `?` forms.
const detOps = {
  fast: () => `*${fastArg()}`,
  slow: () => `/${slowArg()}`,
  replicate: () => pick(['!2', '!3', '!', ' !', ' ! !']),
  weight: () => pick(['@2', '@3', '@1.5', '@0.5', ' _', ' _ _', '@']),
  euclid: () => eucl(),
  tail: () => `:${pick(['1', '2', '3', '<1 2>', '[0 3]'])}`,
};
const randOps = { degrade: () => pick(['?', '?0.3', '?0.7', '?0.5']) };

function atom(feats) {
  if (chance(0.1)) {
    feats.add('rest');
    return rest();
  }
  return word();
}

function numAtom() {
  return pick(['0', '1', '2', '3', '4', '-2', '<0 2>', '[1 3]']);
}

// A slice with ops, nested to `depth`.
function slice(depth, feats, allowRand, force = false) {
  let body;
  const r = force ? 0.35 + rnd() * 0.65 : rnd() < 0.7 ? 0 : rnd();
  if (depth <= 0 || r < 0.35) {
    if (chance(0.06)) {
      feats.add('range');
      body = `${numAtom()} .. ${pick(['3', '5', '<4 6>', '[2 6]', '-1'])}`;
      return `[${body}]`;
    }
    body = atom(feats);
  } else if (r < 0.6) {
    feats.add('group');
    body = `[${stackOrChoose(depth - 1, feats, allowRand)}]`;
  } else if (r < 0.8) {
    feats.add('alt');
    const n = chance(0.8) ? 1 : 2;
    body = `<${Array.from({ length: n }, () => sequence(depth - 1, feats, allowRand)).join(', ')}>`;
  } else {
    feats.add('polymeter');
    const n = int(1, 2);
    body = `{${Array.from({ length: n }, () => sequence(depth - 1, feats, allowRand)).join(', ')}}`;
    if (chance(0.5)) {
      feats.add('polymeter%');
      body += `%${pick(['2', '3', '4', '5', '<3 5>'])}`;
    }
  }
  const nops = pick([0, 0, 0, 1, 1, 2]);
  for (let i = 0; i < nops; i++) {
    const ops = allowRand && chance(0.3) ? randOps : detOps;
    const name = pick(Object.keys(ops));
    feats.add(name);
    body += ops[name]();
  }
  return body;
}

function sequence(depth, feats, allowRand) {
  const n = int(1, 3);
  return Array.from({ length: n }, (_, i) => slice(depth, feats, allowRand, i === 0 && depth > 0)).join(' ');
}

function stackOrChoose(depth, feats, allowRand) {
  const r = rnd();
  const n = 2;
  if (r < 0.15) {
    feats.add('stack');
    return Array.from({ length: n }, () => sequence(depth, feats, allowRand)).join(', ');
  }
  if (r < 0.27) {
    feats.add('dot');
    return Array.from({ length: n }, () => sequence(depth, feats, allowRand)).join(' . ');
  }
  if (allowRand && r < 0.35) {
    feats.add('choose');
    return Array.from({ length: n }, () => sequence(depth, feats, allowRand)).join(' | ');
  }
  return sequence(depth, feats, allowRand);
}

// Single-feature patterns: one feature on a plain base.
const base = () => Array.from({ length: int(1, 4) }, () => word()).join(' ');
const alone = {
  sequence: () => base(),
  rest: () => `${word()} ${rest()} ${word()}${chance(0.5) ? ' ' + rest() : ''}`,
  dot: () => `${base()} . ${base()}${chance(0.4) ? ' . ' + base() : ''}`,
  elongate: () => `${word()} _ ${chance(0.5) ? '_ ' : ''}${word()}`,
  group: () => `${word()} [${base()}] ${word()}`,
  alt: () => `<${base()}>${chance(0.5) ? ' ' + word() : ''}`,
  nestedAlt: () => `<${word()} <${base()}> [${word()} <${base()}>]>`,
  fast: () => `${word()}*${fastArg()} ${word()}`,
  slow: () => `[${base()}]/${slowArg()}`,
  patternedFast: () => `${word()}*<${int(1, 4)} ${int(1, 4)}> ${word()}`,
  replicate: () => `${word()}${pick(['!2', '!3', '!', ' !', ' ! !'])} ${word()}`,
  weight: () => `${word()}@${pick(['2', '3', '1.5', '0.5'])} ${word()}`,
  stackGroup: () => `[${base()}, ${base()}]`,
  stackTop: () => `${base()}, ${base()}`,
  polymeter: () => `{${base()}, ${base()}}`,
  polymeterSteps: () => `{${base()}}%${pick(['2', '3', '4', '5', '8', '<4 8>'])}`,
  euclid: () => `${word()}${eucl()}`,
  range: () => `${pick(['0', '1', '3', '-2', '<0 2>'])} .. ${pick(['3', '4', '0', '<5 7>'])}`,
  tail: () => `${pick(['bd', 'sd', 'c4', '60'])}:${pick(['1', '2', '3', '<1 2>'])} ${word()}`,
};
const aloneRand = {
  degrade: () => `${pick(['hh', 'x', 'c4', 'bd'])}*${pick(['8', '16'])}${pick(['?', '?0.3', '?0.7'])}`,
  degradeGroup: () => `[${base()}]*4?${pick(['', '0.25', '0.6'])}`,
  choose: () => `[${pick(NOTES)} | ${pick(DRUMS)} | ${pick(MIDI)}]*${pick(['2', '4'])}`,
  chooseTop: () => `${pick(NOTES)} ${pick(DRUMS)} | ${pick(MIDI)}`,
};

function strudelEvents(p) {
  const pat = mini(p);
  // Cheap look at one cycle first: skip patterns far too busy for the fixture.
  if (pat.queryArc(0, 1).length > MAX_EVENTS / 2) return new Array(MAX_EVENTS + 1);
  const haps = pat
    .queryArc(0, CYCLES)
    .filter((h) => h.hasOnset());
  haps.sort((a, b) => a.whole.begin.compare(b.whole.begin));
  return haps.map((h) => [frac(h.whole.begin), frac(h.whole.end), h.value]);
}
const frac = (f) => `${f.s * f.n}/${f.d}`;

const cases = [];
const t0 = Date.now();
const seen = new Set();
function add(pattern, feats, random) {
  if (seen.has(pattern)) return false;
  if (process.env.TRACE) console.error("try", pattern);
  let events;
  try {
    events = strudelEvents(pattern);
  } catch (e) {
    return false;
  }
  if (events.length > MAX_EVENTS) return false;
  // Strudel returns [] when a query throws; keep only patterns that make something.
  if (events.length === 0 && !random) return false;
  seen.add(pattern);
  const c = { pattern, features: [...feats].sort(), random, events };
  if (random) {
    const plain = pattern.replace(/\?(\d+(\.\d+)?)?/g, '');
    c.plain = plain;
    try {
      c.plain_events = strudelEvents(plain).length;
    } catch (e) {
      c.plain_events = 0;
    }
  }
  if (random) {
    // Long-run shares for the statistical comparison (8 cycles reuse too few random draws).
    const long = mini(pattern).queryArc(0, LONG).filter((h) => h.hasOnset());
    c.long = { cycles: LONG, events: long.length };
    if (c.plain) c.long.plain_events = mini(c.plain).queryArc(0, LONG).filter((h) => h.hasOnset()).length;
    if (feats.has('choose')) {
      const first = pattern.slice(1).split(' |')[0];
      c.long.first = long.filter((h) => String(h.value) === first).length;
      c.first = first;
    }
  }
  cases.push(c);
  if (cases.length % 100 === 0) console.error(`${cases.length} patterns, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return true;
}

// Each feature alone.
for (const [name, f] of Object.entries(alone)) {
  let made = 0;
  for (let tries = 0; made < 30 && tries < 500; tries++) if (add(f(), new Set([name]), false)) made++;
}
for (const [name, f] of Object.entries(aloneRand)) {
  let made = 0;
  for (let tries = 0; made < 70 && tries < 2000; tries++) if (add(f(), new Set([name]), true)) made++;
}
// Mixed, nested at least 3 deep (deterministic), then mixed with randomness.
let det = cases.filter((c) => !c.random).length;
for (let tries = 0; det < 1100 && tries < 20000; tries++) {
  const feats = new Set(['mixed']);
  const depth = 3;
  let p = stackOrChoose(depth, feats, false);
  if (chance(0.2)) p = `${p}, ${sequence(1, feats, false)}`;
  if (add(p, feats, false)) det++;
}
let rnds = 0;
for (let tries = 0; rnds < 150 && tries < 20000; tries++) {
  const feats = new Set(['mixed']);
  const p = stackOrChoose(int(2, 3), feats, true);
  if (!/[?|]/.test(p)) continue;
  if (add(p, feats, true)) rnds++;
}

mkdirSync(dirname(out), { recursive: true });
const fixture = { strudel: '1.1.0', cycles: CYCLES, generator: 'benches/peers/strudel/gen.mjs', cases };
writeFileSync(out, JSON.stringify(fixture) + '\n');
const nd = cases.filter((c) => !c.random).length;
console.error(`wrote ${out}: ${cases.length} patterns (${nd} deterministic, ${cases.length - nd} random)`);

// The transform chains (fast, rev, off, sometimes, …): tests/fixtures/strudel/transforms.json.
await import('./gen_transforms.mjs');
