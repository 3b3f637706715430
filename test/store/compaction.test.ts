/**
 * Compaction: which runs of segments are merged (open and closed partitions, size, written-time
 * spread, the per-run budget), that a merge keeps every row once, that readers listing while merges
 * run never count a row twice, that replaced segments leave the live tree and are deleted after the
 * grace period, and that a merge a crash interrupted is finished (or undone) at open.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { Catalog } from '../../src/store/catalog.js';
import { DEFAULT_COMPACTION, planCompaction } from '../../src/store/compaction.js';
import { HOUR_MS, parseSegmentFileName, REPLACED_DIR, segmentFileName, TMP_DIR, type Segment } from '../../src/store/layout.js';
import { liveAndCovered, listSegments, scanTable, withSegments } from '../../src/store/segments.js';
import { openWriter, reader, tempDir } from './helpers/store-env.js';
import { syntheticFlowBlocks } from './helpers/synthetic.js';

const H = HOUR_MS;
const START = Date.UTC(2024, 6, 1);
const HOUR0 = START / H;
const MB = 1024 * 1024;

function seg(hour: number, first: number, last = first, bytes = MB, writtenMs = START + H): Segment {
  return { table: 'flows', hour, first, last, writtenMs, bytes, path: `/s/${hour}/${first}-${last}` };
}

function plan(segments: Segment[], nowMs: number, o = {}): number[][][] {
  const c = new Catalog();
  for (const s of segments) c.add(s);
  return planCompaction(c, nowMs, { ...DEFAULT_COMPACTION, ...o }).map((p) => p.inputs.map((s) => [s.first, s.last]));
}

test('an open partition waits for minSegments flush segments in a row; a closed one merges any two small ones', () => {
  const open = START + 10 * 60_000; // inside HOUR0
  const flushes = Array.from({ length: 15 }, (_, i) => seg(HOUR0, i + 1));
  assert.deepEqual(plan(flushes, open), [], '15 < 16');
  assert.deepEqual(plan([...flushes, seg(HOUR0, 16)], open), [Array.from({ length: 16 }, (_, i) => [i + 1, i + 1])]);
  // While the hour fills, a merged segment is not rewritten again: it breaks the run.
  assert.deepEqual(plan([seg(HOUR0, 1, 16), ...Array.from({ length: 5 }, (_, i) => seg(HOUR0, 17 + i))], open), []);
  const closed = START + H + DEFAULT_COMPACTION.closeAfterMs;
  assert.deepEqual(plan([seg(HOUR0, 1, 16), seg(HOUR0, 17)], closed), [[[1, 16], [17, 17]]]);
  assert.deepEqual(plan([seg(HOUR0, 1)], closed), [], 'one segment is nothing to merge');
  assert.deepEqual(plan([seg(HOUR0, 1), seg(HOUR0, 2)], closed - 1), [], 'not closed yet');
});

test('big segments and a wide written-time spread break runs; a run is bounded by bytes and inputs', () => {
  const closed = START + 2 * H;
  const big = DEFAULT_COMPACTION.smallBytes;
  assert.deepEqual(plan([seg(HOUR0, 1), seg(HOUR0, 2, 2, big), seg(HOUR0, 3)], closed), [], 'only contiguous runs: 1 and 3 are not merged around 2');
  assert.deepEqual(plan([seg(HOUR0, 1), seg(HOUR0, 2), seg(HOUR0, 3, 3, big), seg(HOUR0, 4), seg(HOUR0, 5)], closed), [[[1, 1], [2, 2]], [[4, 4], [5, 5]]]);
  const later = START + H + 2 * H;
  assert.deepEqual(plan([seg(HOUR0, 1), seg(HOUR0, 2), seg(HOUR0, 3, 3, MB, later), seg(HOUR0, 4, 4, MB, later)], later), [[[1, 1], [2, 2]], [[3, 3], [4, 4]]], 'written two hours apart: merged apart');
  // Budget: oldest partitions first; the first merge always runs, later ones only within the budget.
  const many = [HOUR0, HOUR0 + 1, HOUR0 + 2].flatMap((h) => [seg(h, 3 * (h - HOUR0) + 1, undefined, 100 * MB), seg(h, 3 * (h - HOUR0) + 2, undefined, 100 * MB), seg(h, 3 * (h - HOUR0) + 3, undefined, 100 * MB)]);
  assert.deepEqual(plan(many, START + 10 * H, { smallBytes: 200 * MB }), [[[1, 1], [2, 2]]]);
  assert.deepEqual(plan(many, START + 10 * H, { smallBytes: 200 * MB, maxBytesPerRun: 1000 * MB }), [[[1, 1], [2, 2], [3, 3]], [[4, 4], [5, 5], [6, 6]], [[7, 7], [8, 8], [9, 9]]]);
  assert.equal(plan(Array.from({ length: 600 }, (_, i) => seg(HOUR0, i + 1, i + 1, 1000)), START + 10 * H)[0]!.length, DEFAULT_COMPACTION.maxInputs);
});

test('a merge keeps every row once; the replaced segments leave the live tree and are deleted after the grace period', async (t) => {
  const dir = tempDir(t);
  let now = START + 30 * 60_000;
  const w = await openWriter(t, dir, { now: () => now, replacedGraceMs: 60_000, compaction: { minSegments: 4 } });
  const db = await reader(t);
  // Five flushes of rows within HOUR0 (an open partition), then two more of HOUR0 + 1.
  let id = 0;
  for (let i = 0; i < 5; i++) {
    for (const b of syntheticFlowBlocks(1, { seed: i, startMs: START + 10_000 + i * 60_000, stepMs: 10, firstId: id }, 500)) w.append(b);
    id += 500;
    await w.flush();
  }
  for (let i = 0; i < 2; i++) {
    for (const b of syntheticFlowBlocks(1, { seed: 10 + i, startMs: START + H + 60_000 + i * 60_000, stepMs: 10, firstId: id }, 500)) w.append(b);
    id += 500;
    await w.flush();
  }
  const before = await listSegments(dir, 'flows');
  assert.equal(before.length, 7);
  const r = await w.maintain();
  assert.equal(r.merges, 1, 'the open partition has five flush segments in a row (minSegments 4)');
  const after = await listSegments(dir, 'flows');
  assert.equal(after.length, 3);
  const merged = parseSegmentFileName(basename(after[0]!))!;
  assert.deepEqual([merged.first, merged.last], [1, 5]);
  assert.equal(await db.count(after), id);
  const [[distinct]] = (await db.rows('SELECT count(DISTINCT domain)::DOUBLE FROM read_parquet($files)', after)) as [[number]];
  assert.equal(Number(distinct), id);
  // Rows keep their order (segments in sequence order, rows in arrival order).
  const ids = (await db.rows('SELECT domain FROM read_parquet($files)', [after[0]!])).map((x) => Number(x[0]));
  assert.deepEqual(ids, Array.from({ length: 2500 }, (_, i) => i));
  assert.equal(w.stats().compaction.merges, 1);
  assert.equal(w.stats().compaction.segmentsMerged, 5);
  assert.equal(w.stats().segments, 3);
  // The replaced segments are out of the tree, kept for readers in flight, then deleted.
  assert.deepEqual(liveAndCovered(await scanTable(dir, 'flows')).covered, []);
  const batches = readdirSync(join(dir, REPLACED_DIR));
  assert.equal(batches.length, 1);
  now += 59_000;
  assert.equal((await w.maintain()).sweptBatches, 0);
  now += 2_000;
  assert.equal((await w.maintain()).sweptBatches, 1, 'after the grace period');
  assert.deepEqual(readdirSync(join(dir, REPLACED_DIR)), []);
  // Once HOUR0 + 1 has closed, its two segments are merged too.
  now = START + 2 * H + DEFAULT_COMPACTION.closeAfterMs;
  assert.equal((await w.maintain()).merges, 1);
  assert.equal((await listSegments(dir, 'flows')).length, 2);
  assert.equal(await db.count(await listSegments(dir, 'flows')), id);
});

test('readers listing while merges run never count a row twice', async (t) => {
  const dir = tempDir(t);
  const now = START + 30 * H;
  const w = await openWriter(t, dir, { now: () => now, replacedGraceMs: 0, compaction: { maxBytesPerRun: 1 } });
  // Eight closed partitions of four small segments each. A budget of one byte lets each
  // maintenance run do one merge of two segments: three per partition.
  let id = 0;
  for (let f = 0; f < 4; f++) {
    for (let h = 0; h < 8; h++) {
      for (const b of syntheticFlowBlocks(1, { seed: f * 100 + h, startMs: START + h * H + f * 60_000 + 120_000, stepMs: 5, firstId: id }, 300)) w.append(b);
      id += 300;
    }
    await w.flush();
  }
  assert.equal((await listSegments(dir, 'flows')).length, 32);
  // Each reader has its own DuckDB, as a query process would.
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await instance.connect();
  t.after(() => {
    con.disconnectSync();
    instance.closeSync();
  });
  const counts: number[] = [];
  let merging = true;
  const readers = (async () => {
    for (let i = 0; i < 2000 && merging; i++) {
      const n = await withSegments(dir, 'flows', undefined, async (files) => {
        const r = await con.runAndReadAll('SELECT count(*)::DOUBLE, count(DISTINCT domain)::DOUBLE FROM read_parquet($1)', [listValue(files)]);
        return r.getRowsJS()[0]!.map(Number);
      }, { attempts: 20 });
      counts.push(n[0]!);
      assert.equal(n[0], n[1]);
    }
  })();
  let merges = 0;
  for (let i = 0; i < 100; i++) {
    const r = await w.maintain();
    merges += r.merges;
    if (r.merges === 0) break;
  }
  merging = false;
  await readers;
  assert.equal(merges, 24);
  t.diagnostic(`${counts.length} listings while ${merges} merges ran`);
  assert.ok(counts.length >= 5, `${counts.length} listings during the merges`);
  assert.deepEqual([...new Set(counts)], [id], 'every listing saw every row exactly once');
  assert.equal((await listSegments(dir, 'flows')).length, 8);
});

test('at open, a merge a crash interrupted is finished: covered segments move out, temp files go, the sequence resumes', async (t) => {
  const dir = tempDir(t);
  const db = await reader(t);
  {
    const w = await openWriter(t, dir);
    for (let i = 0; i < 3; i++) {
      for (const b of syntheticFlowBlocks(1, { seed: i, startMs: START + 10_000 + i * 60_000, stepMs: 10, firstId: i * 100 }, 100)) w.append(b);
      await w.flush();
    }
    await w.close();
  }
  const files = await listSegments(dir, 'flows');
  assert.equal(files.length, 3);
  // The state a crash after the merged segment's rename leaves: merged 1-2 in place, 1 and 2 still there.
  const merged = join(dirname(files[0]!), segmentFileName({ first: 1, last: 2, writtenMs: START + H }));
  await db.con.run('COPY (SELECT * FROM read_parquet($1)) TO $2 (FORMAT parquet, COMPRESSION zstd)', [listValue(files.slice(0, 2)), merged]);
  // And a half-written temp file of a merge that never finished.
  mkdirSync(join(dir, TMP_DIR), { recursive: true });
  writeFileSync(join(dir, TMP_DIR, 'merge-1-1.parquet'), 'PAR1 half');
  assert.equal(await db.count(await listSegments(dir, 'flows')), 300, 'listing already ignores the covered ones');

  const w = await openWriter(t, dir);
  assert.equal(w.stats().recovered.replacedSegments, 2);
  assert.deepEqual(readdirSync(join(dir, TMP_DIR)), []);
  assert.deepEqual(liveAndCovered(await scanTable(dir, 'flows')).covered, []);
  const live = (await listSegments(dir, 'flows')).map((f) => basename(f));
  assert.equal(live.length, 2);
  assert.equal(await db.count(await listSegments(dir, 'flows')), 300);
  for (const b of syntheticFlowBlocks(1, { seed: 9, startMs: START + 5 * 60_000, stepMs: 10, firstId: 1000 }, 10)) w.append(b);
  await w.flush();
  const added = (await listSegments(dir, 'flows')).map((f) => basename(f)).filter((n) => !live.includes(n));
  assert.deepEqual(added.map((n) => parseSegmentFileName(n)!.first), [4], 'the sequence resumes after 3');
});
