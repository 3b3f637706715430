/**
 * Write failures: a real full disk (a small tmpfs, when the test may mount one) and a partition that
 * cannot be created. Nothing throws or crashes, failures are counted and logged, rows wait in memory
 * up to maxBufferedRows (past it they are dropped and counted), and once writing works again every
 * row taken below the bound is on disk exactly once.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import type { ColumnBlock } from '../../src/store/columns.js';
import { HOUR_MS, partitionPath } from '../../src/store/layout.js';
import { listSegments } from '../../src/store/segments.js';
import { MemoryLog } from '../helpers/flows.js';
import { openWriter, reader, smallDisk, tempDir } from './helpers/store-env.js';
import { syntheticFlowBlocks } from './helpers/synthetic.js';

const START = Date.UTC(2024, 4, 1);

/** Fills a file system up, leaving almost nothing free; returns the filler's path. */
function fill(mnt: string): string {
  const p = join(mnt, 'filler');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let i = 0; i < 10_000; i++) writeFileSync(p, chunk, { flag: 'a' });
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  try {
    for (let i = 0; i < 10_000; i++) writeFileSync(p, Buffer.alloc(512, 1), { flag: 'a' });
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  return p;
}

test('a full disk: counted and logged, rows held up to the bound and dropped past it, written once space is back', async (t) => {
  const mnt = smallDisk(t, 8 * 1024);
  if (mnt === undefined) {
    t.skip('cannot mount a tmpfs here (needs root); the full-disk path is not exercised');
    return;
  }
  const dir = join(mnt, 'store');
  const log = new MemoryLog();
  const blockRows = 2048;
  const w = await openWriter(t, dir, { log, flushIntervalMs: 50, maxBufferedRows: 12 * blockRows });
  // One row per 2 s: each block spans about an hour, so a flush writes a few partitions.
  const blocks: ColumnBlock[] = syntheticFlowBlocks(16, { seed: 5, startMs: START, stepMs: 2000, firstId: 0 });

  // Some rows reach the disk before it fills.
  for (const b of blocks.slice(0, 2)) assert.equal(w.append(b), true);
  assert.equal((await w.flush()).error, undefined);
  const filler = fill(mnt);

  const accepted: number[] = [0, 1];
  for (let i = 2; i < blocks.length; i++) {
    if (w.append(blocks[i]!)) accepted.push(i);
    await delay(20); // the flush timer keeps failing meanwhile
  }
  const failed = await w.flush();
  assert.ok(failed.error !== undefined, 'the write failed');
  assert.match(w.stats().lastWriteError ?? '', /space|ENOSPC|write/i);
  assert.ok(w.stats().writeErrors >= 2, `${w.stats().writeErrors} write errors`);
  assert.equal(w.stats().writeErrorsByCode['ENOSPC'], w.stats().writeErrors);
  assert.deepEqual(accepted, [0, 1, ...Array.from({ length: 12 }, (_, i) => 2 + i)], 'twelve blocks fit under the bound');
  assert.equal(w.stats().rowsBuffered, 12 * blockRows);
  assert.equal(w.stats().rowsDropped['store-full'], 2 * blockRows);
  assert.ok(log.lines.some((l) => l.level === 'error' && l.msg.includes('store write failed')), 'logged');
  assert.ok(log.lines.filter((l) => l.msg.includes('store write failed')).length < w.stats().writeErrors, 'rate-limited');

  // Space returns: the timer's next flush writes everything that was held.
  rmSync(filler);
  for (let i = 0; i < 400 && w.stats().rowsBuffered > 0; i++) await delay(25);
  assert.equal(w.stats().rowsBuffered, 0, 'written after space came back');
  const db = await reader(t);
  const files = await listSegments(dir, 'flows');
  const [[rows, distinct]] = (await db.rows('SELECT count(*)::DOUBLE, count(DISTINCT domain)::DOUBLE FROM read_parquet($files)', files)) as [[number, number]];
  assert.equal(Number(rows), accepted.length * blockRows, 'every accepted row is on disk');
  assert.equal(Number(distinct), Number(rows), 'and only once');
  // Blocks that made it hold their own ids: ids of the dropped blocks are absent.
  const [[fromDropped]] = (await db.rows('SELECT count(*)::DOUBLE FROM read_parquet($files) WHERE domain >= $2', files, [14 * blockRows])) as [[number]];
  assert.equal(Number(fromDropped), 0);
});

test('a write that fails part-way keeps the partitions that made it, once, and retries only the rest', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir);
  // Three hours of rows; the middle hour's partition path is blocked by a file, so its rename fails.
  const blocks = syntheticFlowBlocks(3, { seed: 9, startMs: START, stepMs: Math.ceil(HOUR_MS / 2048), firstId: 0 });
  const blocked = join(dir, partitionPath('flows', Math.floor(START / HOUR_MS) + 1));
  mkdirSync(join(blocked, '..'), { recursive: true });
  writeFileSync(blocked, 'not a directory');
  for (const b of blocks) w.append(b);
  const first = await w.flush();
  assert.ok(first.error !== undefined);
  // The hours either side (about 2048 rows each) are written although the one between them failed.
  assert.ok(first.rowsWritten > 3000 && first.rowsWritten < 3 * 2048, `${first.rowsWritten} rows of the other hours written`);
  assert.equal(w.stats().rowsBuffered, 3 * 2048 - first.rowsWritten);
  const again = await w.flush();
  assert.equal(again.rowsWritten, 0, 'the finished partitions are not written twice');
  rmSync(blocked);
  const last = await w.flush();
  assert.equal(last.error, undefined);
  assert.equal(first.rowsWritten + last.rowsWritten, 3 * 2048);
  const db = await reader(t);
  const files = await listSegments(dir, 'flows');
  const [[rows, distinct]] = (await db.rows('SELECT count(*)::DOUBLE, count(DISTINCT domain)::DOUBLE FROM read_parquet($files)', files)) as [[number, number]];
  assert.deepEqual([Number(rows), Number(distinct)], [3 * 2048, 3 * 2048]);
});
