/**
 * Segment names and listing: names round-trip and sort, foreign files are ignored, a merged
 * segment hides the ones it covers, a window skips partitions that cannot hold its flows (and keeps
 * the ones that can, flows that end up to maxFlowMs after it included), and a reader whose
 * segment vanished under it lists again.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { BlockBuilder } from '../../src/store/columns.js';
import { HOUR_MS, parseSegmentFileName, partitionPath, segmentFileName, splitCovered } from '../../src/store/layout.js';
import { isMissingSegmentError, listSegments, withSegments } from '../../src/store/segments.js';
import { openWriter, reader, tempDir } from './helpers/store-env.js';
import { syntheticFlowBlocks } from './helpers/synthetic.js';

const H = HOUR_MS;
const START = Date.UTC(2024, 5, 1, 0); // 2024-06-01T00Z

test('segment names carry the sequence range and the written time, and sort by sequence', () => {
  const a = { first: 7, last: 7, writtenMs: Date.UTC(2024, 2, 1, 10, 15, 0, 123) };
  const name = segmentFileName(a);
  assert.equal(name, '000000000007-000000000007_20240301T101500.123Z.parquet');
  assert.deepEqual(parseSegmentFileName(name), a);
  const m = segmentFileName({ first: 3, last: 12, writtenMs: a.writtenMs });
  assert.deepEqual([name, m, segmentFileName({ first: 10, last: 10, writtenMs: 0 })].sort(), [m, name, '000000000010-000000000010_19700101T000000.000Z.parquet']);
  for (const junk of ['data_0.parquet', '000000000007-000000000007_20240301T101500.123Z.parquet.tmp', '000000000009-000000000007_20240301T101500.123Z.parquet', '7-7_20240301T101500.123Z.parquet', 'README'])
    assert.equal(parseSegmentFileName(junk), undefined, junk);
  assert.equal(partitionPath('flows', START / H + 25), 'flows/2024-06-02/01');
});

test('a merged segment covers the segments of its range; an identical range counts once', () => {
  const s = (first: number, last: number): { first: number; last: number; writtenMs: number } => ({ first, last, writtenMs: 0 });
  const { live, covered } = splitCovered([s(1, 1), s(2, 2), s(1, 4), s(3, 3), s(4, 4), s(6, 6), s(5, 5), s(5, 5)]);
  assert.deepEqual(live.map((x) => [x.first, x.last]), [[1, 4], [5, 5], [6, 6]]);
  assert.deepEqual(covered.map((x) => [x.first, x.last]).sort(), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
});

test('listSegments skips foreign files and covered segments, and prunes partitions by window', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir);
  // Six hours of flows, one flush per hour, so each partition has one segment.
  for (let h = 0; h < 6; h++) {
    for (const b of syntheticFlowBlocks(1, { seed: h, startMs: START + h * H + 60_000, stepMs: 1000, firstId: h * 2048 })) w.append(b);
    await w.flush();
  }
  const all = await listSegments(dir, 'flows');
  assert.equal(all.length, 6);
  writeFileSync(join(dirname(all[0]!), 'notes.txt'), 'x');
  mkdirSync(join(dir, 'flows', 'not-a-day'));
  assert.deepEqual(await listSegments(dir, 'flows'), all);
  assert.deepEqual(await listSegments(dir, 'options'), []);

  const hourOf = (p: string): number => Number(basename(dirname(p)));
  const win = { fromMs: START + 2 * H + 10, toMs: START + 2 * H + 20 };
  assert.deepEqual((await listSegments(dir, 'flows', win)).map(hourOf), [2, 3], 'the window hour and the next (flows up to an hour long)');
  assert.deepEqual((await listSegments(dir, 'flows', win, { maxFlowMs: 0 })).map(hourOf), [2]);
  assert.deepEqual((await listSegments(dir, 'flows', { fromMs: START + 4 * H, toMs: START + 100 * H })).map(hourOf), [4, 5]);
  assert.deepEqual(await listSegments(dir, 'flows', { fromMs: START + 9 * H, toMs: START + 10 * H }), []);
  assert.deepEqual(await listSegments(dir, 'flows', { fromMs: START + 3 * H, toMs: START + 2 * H }), []);

  // Pruning loses nothing: flows that overlap a window are all in the listed partitions.
  const db = await reader(t);
  for (const [from, to] of [[START + 2 * H + 600_000, START + 2 * H + 605_000], [START + H - 30_000, START + H + 30_000], [START, START + 6 * H]] as const) {
    const q = 'SELECT count(*)::DOUBLE FROM read_parquet($files) WHERE epoch_ms(time_start) <= $2 AND epoch_ms(coalesce(time_end, time_received)) >= $3';
    const want = await db.rows(q, all, [to, from]);
    const got = await db.rows(q, await listSegments(dir, 'flows', { fromMs: from, toMs: to }), [to, from]);
    assert.deepEqual(got, want, `window ${from}..${to}`);
    assert.ok(Number(want[0]![0]) > 0, `window ${from}..${to}: ${JSON.stringify(want)}`);
  }

  // A flow that starts inside the window and ends 50 minutes later, in the next hour's partition:
  // found with the default maxFlowMs (an hour), missed without it.
  const long = new BlockBuilder('flows');
  const c = (n: string): number => long.layout.index.get(n)!;
  long.addRow();
  long.timestamp(c('time_received'), 0, START + 3 * H + 1_000_000);
  long.timestamp(c('time_start'), 0, START + 2 * H + 40 * 60_000);
  long.timestamp(c('time_end'), 0, START + 3 * H + 30 * 60_000);
  long.address(c('exporter'), 0, new Uint8Array([127, 0, 0, 1]), 0, 4);
  long.u32(c('domain'), 0, 999_999);
  long.kind(c('kind'), 0, 'ipfix');
  w.append(long.take());
  await w.flush();
  const inWindow = 'SELECT count(*)::DOUBLE FROM read_parquet($files) WHERE domain = 999999 AND epoch_ms(time_start) <= $2 AND epoch_ms(time_end) >= $3';
  const lw = { fromMs: START + 2 * H + 45 * 60_000, toMs: START + 2 * H + 46 * 60_000 };
  assert.deepEqual(await db.rows(inWindow, await listSegments(dir, 'flows', lw), [lw.toMs, lw.fromMs]), [[1]]);
  assert.deepEqual(await db.rows(inWindow, await listSegments(dir, 'flows', lw, { maxFlowMs: 0 }), [lw.toMs, lw.fromMs]), [[0]]);

  // A merged copy of hours 2's segment that claims a wider range hides it.
  const seg2 = (await listSegments(dir, 'flows', win, { maxFlowMs: 0 }))[0]!;
  const s = parseSegmentFileName(basename(seg2))!;
  const merged = join(dirname(seg2), segmentFileName({ first: s.first - 1, last: s.last, writtenMs: s.writtenMs }));
  copyFileSync(seg2, merged);
  assert.deepEqual(await listSegments(dir, 'flows', win, { maxFlowMs: 0 }), [merged]);
  assert.equal(await db.count(await listSegments(dir, 'flows')), 6 * 2048 + 1);
});

test('withSegments lists again when a segment vanished between the listing and the read', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir);
  for (let h = 0; h < 2; h++) {
    for (const b of syntheticFlowBlocks(1, { seed: h, startMs: START + h * H, stepMs: 1000, firstId: h * 2048 })) w.append(b);
    await w.flush();
  }
  const db = await reader(t);
  let calls = 0;
  const n = await withSegments(dir, 'flows', undefined, async (files) => {
    calls++;
    if (calls === 1) {
      // A merge happened meanwhile: the listed file moved and a merged one (same rows) took over.
      const s = parseSegmentFileName(basename(files[0]!))!;
      const merged = join(dirname(files[0]!), segmentFileName({ first: s.first - 1, last: s.last, writtenMs: s.writtenMs }));
      copyFileSync(files[0]!, merged);
      renameSync(files[0]!, join(dir, 'moved.parquet'));
    }
    return db.count(files);
  });
  assert.equal(calls, 2);
  assert.equal(n, 2 * 2048);
  await assert.rejects(db.count([join(dir, 'nope.parquet')]), (e) => isMissingSegmentError(e));
  assert.equal(isMissingSegmentError(new Error('Parser Error: syntax error')), false);
  await assert.rejects(withSegments(dir, 'flows', undefined, () => Promise.reject(new Error('Binder Error: no column x'))), /Binder/);
});
