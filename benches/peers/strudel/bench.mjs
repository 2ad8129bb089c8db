// Strudel 1.1.0's query time on weft's pattern corpus (tests/fixtures/strudel/mini.json), for
// `cargo bench --bench patterns`, which spawns it and prints both figures side by side.
// Each pattern is parsed once, then queried cycle by cycle (`queryArc(c, c + 1)`, onsets
// kept), as a scheduler asks for one bar at a time; one untimed warm-up pass first (JIT).
// Prints one JSON line last: {"queries", "p50_us", "p99_us", "total_ms"}.
// Run: sh setup.sh && node bench.mjs [cycles]
import { mini } from '@strudel/mini';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const corpus = join(here, '..', '..', '..', 'tests', 'fixtures', 'strudel', 'mini.json');
const cycles = Number(process.argv[2] ?? 8);
const cases = JSON.parse(readFileSync(corpus, 'utf8')).cases;
const pats = cases.map((c) => mini(c.pattern));

let sink = 0;
const pass = (times) => {
  for (const p of pats) {
    for (let c = 0; c < cycles; c++) {
      const t0 = process.hrtime.bigint();
      const haps = p.queryArc(c, c + 1).filter((h) => h.hasOnset());
      const t1 = process.hrtime.bigint();
      sink += haps.length;
      if (times) times.push(Number(t1 - t0) / 1000);
    }
  }
};
pass(null);
const times = [];
const start = process.hrtime.bigint();
pass(times);
const total = Number(process.hrtime.bigint() - start) / 1e6;
times.sort((a, b) => a - b);
const q = (f) => times[Math.min(times.length - 1, Math.floor(f * times.length))];
console.log(
  JSON.stringify({ queries: times.length, events: sink / 2, p50_us: q(0.5), p99_us: q(0.99), total_ms: total }),
);
