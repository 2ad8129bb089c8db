// Writes tests/fixtures/strudel/signals.json: Strudel 1.1.0's continuous signals (sine cosine
// saw isaw square tri rand irand perlin) with chains of fast/slow/range/rangex, each sampled
// by `.segment(n)` over 4 cycles (`queryArc(0, 4)`): the value of every segment.
// tests/signals.rs rebuilds each chain with weft's `Signal` and requires the same values.
// Run: sh setup.sh && node gen_signals.mjs
import * as S from '@strudel/core';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', '..', 'tests', 'fixtures', 'strudel', 'signals.json');
const CYCLES = 4;

const shapes = ['sine', 'cosine', 'saw', 'isaw', 'square', 'tri', 'rand', 'perlin', 'irand8'];
const chains = [
  [],
  [['slow', 4]],
  [['fast', 3]],
  [['range', 300, 3000]],
  [['rangex', 20, 2000]],
  [['slow', 2], ['range', -1, 1]],
  [['fast', 1.5], ['rangex', 100, 800], ['slow', 3]],
  // Arithmetic: with numbers, and with another signal ({shape, ops}) read at the same time.
  [['add', 0.5], ['mul', 3]],
  [['sub', 0.25], ['div', 2]],
  [['range', 0, 7], ['add', { shape: 'saw', ops: [['mul', 2]] }]],
  [['mul', { shape: 'cosine', ops: [] }]],
  [['slow', 2], ['sub', { shape: 'isaw', ops: [['fast', 2]] }], ['div', 2]],
  [['div', { shape: 'square', ops: [['add', 1]] }], ['fast', 2]],
];
const build = (shape, chain) => {
  let p = shape === 'irand8' ? S.irand(8) : S[shape];
  for (const [op, ...args] of chain) p = p[op](...args.map((a) => (typeof a === 'object' ? build(a.shape, a.ops) : a)));
  return p;
};
const segments = [1, 4, 7, 16];

const cases = [];
for (const shape of shapes) {
  for (const chain of chains) {
    for (const n of segments) {
      const p = build(shape, chain).segment(n);
      const values = p
        .queryArc(0, CYCLES)
        .map((h) => [h.whole.begin.toFraction(), h.value]);
      cases.push({ shape, ops: [...chain, ['segment', n]], values });
    }
  }
}
writeFileSync(out, JSON.stringify({ strudel: '1.1.0', cycles: CYCLES, cases }, null, 0) + '\n');
console.error(`wrote ${cases.length} signal cases to ${out}`);
