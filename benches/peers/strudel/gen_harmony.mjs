// Writes tests/fixtures/strudel/harmony.json: random scale-degree patterns put through
// `@strudel/tonal` 1.1.0's `scale` (plain and patterned scales), some then through `arp`
// by index, with the events Strudel gives over 8 cycles (onsets only, notes as MIDI numbers).
// `tests/harmony_strudel.rs` holds weft's `n(..).scale(..)` / `.arp(..)` to them.
// Strudel's `voicing()` is not in the fixture: it voices from a dictionary (its default is
// iReal-style, with a bass note) where weft voices by inversion, anchor and voice leading.
// Run: sh setup.sh && node gen_harmony.mjs
import { mini } from '@strudel/mini';
import { n, noteToMidi } from '@strudel/core';
import '@strudel/tonal';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CYCLES = 8;
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', '..', 'tests', 'fixtures', 'strudel', 'harmony.json');

// mulberry32: the fixture is the same on every run.
let s = 0x4a7e0001;
const rnd = () => {
  s = (s + 0x6d2b79f5) | 0;
  let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (a, b) => a + Math.floor(rnd() * (b - a + 1));
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const chance = (p) => rnd() < p;

const TONICS = ['C', 'C4', 'D3', 'Eb', 'F#3', 'G', 'A2', 'Bb3', 'B'];
const MODES = ['major', 'minor', 'dorian', 'phrygian', 'lydian', 'mixolydian', 'locrian',
  'harmonic:minor', 'melodic:minor', 'major:pentatonic', 'minor:pentatonic', 'blues',
  'chromatic', 'whole:tone'];
const scaleName = () => `${pick(TONICS)}:${pick(MODES)}`;

const degree = () => String(int(-8, 14));
function slice(depth) {
  const r = rnd();
  let body;
  if (depth <= 0 || r < 0.5) body = degree();
  else if (r < 0.7) body = `[${seq(depth - 1)}]`;
  else if (r < 0.85) body = `<${seq(depth - 1)}>`;
  else body = `[${degree()},${degree()},${degree()}]`;
  if (chance(0.2)) body += pick(['*2', '/2', '@2', '!2', '*1.5', ' ~', ' _']);
  return body;
}
const seq = (depth) => Array.from({ length: int(1, 4) }, () => slice(depth)).join(' ');

const events = (pat) =>
  pat
    .queryArc(0, CYCLES)
    .filter((h) => h.hasOnset())
    .map((h) => [h.whole.begin.toFraction(), h.whole.end.toFraction(), noteToMidi(h.value.note)]);

const cases = [];
const seen = new Set();
let tries = 0;
while (cases.length < 400 && tries < 5000) {
  tries++;
  const degrees = seq(int(0, 3));
  const scale = chance(0.3)
    ? `<${Array.from({ length: int(2, 3) }, scaleName).join(' ')}>`
    : scaleName();
  const arp = chance(0.25) ? pick(['0 [2 1]', '0 1 2', '<0 2> 1*2', '3 0 [1 4]']) : null;
  const key = JSON.stringify([degrees, scale, arp]);
  if (seen.has(key)) continue;
  seen.add(key);
  let pat = n(mini(degrees)).scale(mini(scale));
  if (arp) pat = pat.arp(mini(arp));
  const ev = events(pat);
  if (ev.length > 200 || ev.some((e) => !(e[2] >= 0 && e[2] <= 127))) continue;
  cases.push({ degrees, scale, arp, events: ev });
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ strudel: '1.1.0', cycles: CYCLES, generator: 'benches/peers/strudel/gen_harmony.mjs', cases }) + '\n');
console.error(`${cases.length} cases → ${out}`);
