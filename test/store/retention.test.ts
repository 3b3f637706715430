/**
 * Retention as nfexpire: by age counted from when a segment was written into this store (an
 * imported old capture is kept until it has aged here), and by total size, oldest first; each
 * expiry counted and logged; the sequence never goes back, even when everything expired.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { test } from 'node:test';
import { HOUR_MS, parseSegmentFileName, type Segment } from '../../src/store/layout.js';
import { planRetention } from '../../src/store/retention.js';
import { listSegments } from '../../src/store/segments.js';
import { MemoryLog } from '../helpers/flows.js';
import { openWriter, reader, tempDir } from './helpers/store-env.js';
import { syntheticFlowBlocks } from './helpers/synthetic.js';

const H = HOUR_MS;
const DAY = 24 * H;
const NOW0 = Date.UTC(2025, 0, 10, 12);

function seg(first: number, writtenMs: number, bytes: number): Segment {
  return { table: 'flows', hour: 0, first, last: first, writtenMs, bytes, path: `/s/${first}` };
}

test('planRetention: age first, then the oldest until the size fits; oldest is by written time, then sequence', () => {
  const segs = [seg(5, NOW0 - 1 * H, 10), seg(1, NOW0 - 5 * H, 10), seg(2, NOW0 - 3 * H, 10), seg(4, NOW0 - 3 * H, 10), seg(3, NOW0 - 2 * H, 10)];
  const ids = (p: readonly Segment[]): number[] => p.map((s) => s.first);
  assert.deepEqual(planRetention(segs, NOW0, {}), { age: [], size: [] });
  let p = planRetention(segs, NOW0, { maxAgeMs: 3 * H - 1 });
  assert.deepEqual([ids(p.age), ids(p.size)], [[1, 2, 4], []]);
  p = planRetention(segs, NOW0, { maxBytes: 25 });
  assert.deepEqual([ids(p.age), ids(p.size)], [[], [1, 2, 4]]);
  p = planRetention(segs, NOW0, { maxAgeMs: 4 * H, maxBytes: 20 });
  assert.deepEqual([ids(p.age), ids(p.size)], [[1], [2, 4]]);
  p = planRetention(segs, NOW0, { maxBytes: 0 });
  assert.deepEqual(ids(p.size), [1, 2, 4, 3, 5]);
});

test('by age: an imported capture from 2019 stays until it has aged here; expiry is counted and logged', async (t) => {
  const dir = tempDir(t);
  const log = new MemoryLog();
  let now = NOW0;
  const w = await openWriter(t, dir, { now: () => now, log, maxAgeMs: 7 * DAY });
  // An old capture imported today: flows of 2019, two hours of them.
  for (const b of syntheticFlowBlocks(2, { seed: 1, startMs: Date.UTC(2019, 4, 1, 8, 10), stepMs: 3000, firstId: 0 })) w.append(b);
  await w.flush();
  const imported = await listSegments(dir, 'flows');
  assert.ok(imported.length >= 2);
  // Live traffic a day later.
  now = NOW0 + DAY;
  for (const b of syntheticFlowBlocks(1, { seed: 2, startMs: NOW0 + DAY - 60_000, stepMs: 10, firstId: 10_000 })) w.append(b);
  await w.flush();
  assert.equal((await w.maintain()).expired, 0, 'the 2019 flows were written here today: not old');
  now = NOW0 + 7 * DAY - 1;
  assert.equal((await w.maintain()).expired, 0);
  now = NOW0 + 7 * DAY + 1;
  const r = await w.maintain();
  assert.equal(r.expired, imported.length);
  const left = await listSegments(dir, 'flows');
  assert.equal(left.length, 1);
  for (const f of imported) {
    assert.equal(existsSync(f), false);
    assert.equal(existsSync(dirname(f)), false, 'emptied partition directories go too');
  }
  assert.deepEqual(w.stats().expired.age.segments, imported.length);
  assert.ok(w.stats().expired.age.bytes > 0);
  const line = log.lines.find((l) => l.msg === 'store expired segments');
  assert.equal(line?.obj['reason'], 'age');
  assert.equal(line?.obj['segments'], imported.length);
  const db = await reader(t);
  assert.equal(await db.count(left), 2048);
  now = NOW0 + 8 * DAY + 1;
  assert.equal((await w.maintain()).expired, 1);
  assert.deepEqual(await listSegments(dir, 'flows'), []);
});

test('by size: the oldest segments go first until the store fits maxBytes; the sequence survives an empty store', async (t) => {
  const dir = tempDir(t);
  let now = NOW0;
  const log = new MemoryLog();
  const w = await openWriter(t, dir, { now: () => now, log });
  const written: string[] = [];
  for (let i = 0; i < 6; i++) {
    now = NOW0 + i * 60_000;
    for (const b of syntheticFlowBlocks(1, { seed: i, startMs: NOW0 + 10_000 + i * 60_000, stepMs: 10, firstId: i * 2048 })) w.append(b);
    await w.flush();
    written.push(...(await listSegments(dir, 'flows')).filter((f) => !written.includes(f)));
  }
  assert.equal(written.length, 6);
  const sizes = w.stats().tables.flows.bytes;
  await w.close();

  // Reopen with a limit that holds about three of them (sizes differ a little).
  const w2 = await openWriter(t, dir, { now: () => now, log, maxBytes: Math.floor(sizes / 2) });
  const r = await w2.maintain();
  assert.ok(r.expired >= 3 && r.expired <= 4, `${r.expired} expired`);
  assert.deepEqual(await listSegments(dir, 'flows'), written.slice(r.expired), 'the oldest went');
  assert.ok(w2.stats().bytes <= Math.floor(sizes / 2));
  assert.equal(w2.stats().expired.size.segments, r.expired);
  await w2.close();

  // Everything expires; a restart still numbers new segments after the old ones.
  const w3 = await openWriter(t, dir, { now: () => now, maxBytes: 0 });
  await w3.maintain();
  assert.deepEqual(await listSegments(dir, 'flows'), []);
  await w3.close();
  const w4 = await openWriter(t, dir, { now: () => now });
  for (const b of syntheticFlowBlocks(1, { seed: 9, startMs: NOW0 + 10_000, stepMs: 10, firstId: 0 }, 10)) w4.append(b);
  await w4.flush();
  const [f] = await listSegments(dir, 'flows');
  assert.equal(parseSegmentFileName(basename(f!))!.first, 7);
});
