/**
 * The spool: restart replay, pruning oldest-first by size and by age with counts, leftovers, and
 * a full disk (a real tmpfs that runs out of space, when the test may mount one).
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Decoded, distinctFlows, feedFlows, MemoryLog, pceLineOf } from './helpers/flows.js';
import { makeDelivery, metric, pceTarget, startPce, tempDir } from './helpers/delivery-env.js';
import { entryName, parseEntryName } from '../src/outputs/upload/spool.js';
import { smallDisk } from './helpers/small-disk.js';

const HOUR = 3_600_000;

test('file names sort oldest first and carry the flow count', () => {
  const a = entryName(1_700_000_000_000, 9, 1000, 'csv');
  const b = entryName(1_700_000_000_000, 10, 5, 'csv');
  const c = entryName(1_700_000_000_001, 0, 7, 'ndjson');
  assert.deepEqual([c, b, a].sort(), [a, b, c]);
  assert.deepEqual(parseEntryName(b), { createdMs: 1_700_000_000_000, seq: 10, flows: 5, format: 'csv' });
  assert.equal(parseEntryName('1700000000000-0000000001-5.csv.gz.reply.txt'), undefined);
});

test('a restart resends what the spool holds, exactly once, and leftovers do not disturb it', async (t) => {
  const pce = await startPce(t);
  const dir = tempDir(t);
  await pce.setMode({ kind: 'refuse' });
  const first = makeDelivery(t, { dir, pce: pceTarget(pce, { maxLinesPerPost: 100, retryMinutes: 10 }) });
  await first.delivery.start();
  const flows = distinctFlows(250);
  feedFlows(new Decoded(), first.delivery, flows, Date.now());
  await first.delivery.stop();
  assert.equal(readdirSync(join(dir, 'spool', 'pce')).length, 3);
  // Leftovers: a temp file from a crash, a foreign file.
  writeFileSync(join(dir, 'tmp', 'x.csv.gz.1234.tmp'), 'half');
  writeFileSync(join(dir, 'spool', 'pce', 'README'), 'not a batch');

  await pce.setMode({ kind: 'ok' });
  const log = new MemoryLog();
  const second = makeDelivery(t, { dir, pce: pceTarget(pce, { maxLinesPerPost: 100 }), log });
  await second.delivery.start();
  assert.equal(await metric(second.metrics, 'sluice_spool_flows', { target: 'pce' }), 250);
  await pce.waitFor(() => pce.accepted.length === 3);
  await second.delivery.stop();
  assert.deepEqual(pce.acceptedLines().sort(), flows.map(pceLineOf).sort());
  assert.deepEqual(readdirSync(join(dir, 'spool', 'pce')), ['README']);
  assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
  const l = log.lines.find((x) => x.msg.includes('resending batches spooled by an earlier run'));
  assert.deepEqual([l?.obj['batches'], l?.obj['flows']], [3, 250]);
});

test('a full spool is pruned oldest first to data_directory_size_mb, every pruned flow counted and logged', async (t) => {
  const pce = await startPce(t);
  const dir = tempDir(t);
  await pce.setMode({ kind: 'refuse' });
  const limit = 1000; // bytes: about 3 batches of 100 flows (~260 bytes gzip each)
  const { delivery, metrics, log } = makeDelivery(t, { dir, pce: pceTarget(pce, { maxLinesPerPost: 100, retryMinutes: 0.004 }), over: { dataDirectorySizeMb: limit / (1024 * 1024) } });
  await delivery.start();
  const dec = new Decoded();
  for (let w = 0; w < 10; w++) {
    feedFlows(dec, delivery, distinctFlows(100, w * 100), Date.now());
    await delivery.flushNow('window_end');
  }
  await delivery.whenIdle();
  const files = readdirSync(join(dir, 'spool', 'pce')).sort();
  const bytes = files.reduce((a, f) => a + statSync(join(dir, 'spool', 'pce', f)).size, 0);
  assert.ok(bytes <= limit, `${bytes} bytes kept, limit ${limit}`);
  assert.ok(files.length >= 2 && files.length < 10, `${files.length} files kept`);
  const kept = 10 - files.length;
  // the survivors are the newest windows
  assert.deepEqual(files.map((f) => parseEntryName(f)!.seq), Array.from({ length: files.length }, (_, i) => kept + i));
  assert.equal(await metric(metrics, 'sluice_spool_pruned_flows_total', { reason: 'size' }), kept * 100);
  assert.equal(await metric(metrics, 'sluice_spool_pruned_batches_total', { reason: 'size' }), kept);
  const logged = log.lines.filter((l) => l.msg.startsWith('spool pruned')).reduce((a, l) => a + Number(l.obj['flows']), 0);
  assert.equal(logged, kept * 100);
  assert.equal(await metric(metrics, 'sluice_spool_flows', { target: 'pce' }), files.length * 100);
  // After recovery exactly the survivors arrive.
  await pce.setMode({ kind: 'ok' });
  await pce.waitFor(() => pce.accepted.length === files.length, 10_000, 'the surviving batches');
  await delivery.stop();
  assert.deepEqual(pce.acceptedLines().sort(), distinctFlows(files.length * 100, kept * 100).map(pceLineOf).sort());
});

test('spooled batches older than file_retention_hours are pruned and counted', async (t) => {
  const pce = await startPce(t);
  const dir = tempDir(t);
  await pce.setMode({ kind: 'refuse' });
  let clock = Date.UTC(2026, 0, 5, 0, 0, 0);
  const { delivery, metrics } = makeDelivery(t, { dir, pce: pceTarget(pce, { maxLinesPerPost: 100, retryMinutes: 600 }), over: { fileRetentionHours: 4, now: () => clock } });
  await delivery.start();
  const dec = new Decoded();
  feedFlows(dec, delivery, distinctFlows(150), clock);
  await delivery.flushNow('window_end');
  clock += 3 * HOUR;
  feedFlows(dec, delivery, distinctFlows(40, 500), clock);
  await delivery.flushNow('window_end');
  assert.equal(readdirSync(join(dir, 'spool', 'pce')).length, 3);
  clock += 1.5 * HOUR; // the first window's batches are 4.5 h old, the second's 1.5 h
  feedFlows(dec, delivery, distinctFlows(1, 900), clock);
  await delivery.flushNow('window_end');
  assert.equal(await metric(metrics, 'sluice_spool_pruned_flows_total', { reason: 'age' }), 150);
  assert.equal(await metric(metrics, 'sluice_spool_pruned_batches_total', { reason: 'age' }), 2);
  assert.equal(readdirSync(join(dir, 'spool', 'pce')).length, 2);
});

test('rejected batches count towards the size limit and are pruned too', async (t) => {
  const pce = await startPce(t);
  const dir = tempDir(t);
  await pce.setMode({ kind: 'status', status: 422 });
  const { delivery, metrics } = makeDelivery(t, { dir, pce: pceTarget(pce, { maxLinesPerPost: 100 }), over: { dataDirectorySizeMb: 1000 / (1024 * 1024) } });
  await delivery.start();
  const dec = new Decoded();
  for (let w = 0; w < 6; w++) {
    feedFlows(dec, delivery, distinctFlows(100, w * 100), Date.now());
    await delivery.flushNow('window_end');
    await delivery.whenIdle();
  }
  const files = readdirSync(join(dir, 'rejected', 'pce'));
  assert.ok(files.length < 12, `${files.length} rejected files kept`);
  assert.ok((await metric(metrics, 'sluice_spool_pruned_flows_total', { reason: 'size' })) >= 100);
  assert.ok(delivery.spool.diskBytes <= 1000 && delivery.spool.diskBytes >= 0);
});


/** Fills a file system up, leaving almost nothing free; returns the filler's path. */
function fill(mnt: string): string {
  const p = join(mnt, 'filler');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeFileSync(p, chunk, { flag: 'a' });
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  return p;
}

test('a full disk (ENOSPC) never stops delivery: batches are held in memory within a bound, counted, written to disk once space is back, then delivered', async (t) => {
  const mnt = smallDisk(t, 256);
  if (mnt === undefined) {
    t.skip('cannot mount a tmpfs here (needs root); the full-disk path is not exercised');
    return;
  }
  const dir = join(mnt, 'data');
  const pce = await startPce(t);
  const { delivery, metrics, log } = makeDelivery(t, {
    dir,
    pce: pceTarget(pce, { maxLinesPerPost: 100, retryMinutes: 0.004 }),
    internals: { maxMemoryBytes: 1024 }, // about 4 batches
  });
  await delivery.start();
  const filler = fill(mnt);

  // PCE up: the batch cannot be spooled but is still delivered from memory.
  const dec = new Decoded();
  feedFlows(dec, delivery, distinctFlows(100), Date.now());
  await delivery.flushNow('window_end');
  await pce.waitFor(() => pce.accepted.length === 1);
  assert.ok((await metric(metrics, 'sluice_spool_write_errors_total', { reason: 'ENOSPC' })) >= 1);
  assert.ok(log.has('cannot write the spool; batch held in memory', 'error'));

  // PCE down as well: batches wait in memory up to the bound; beyond it the oldest are given up, counted.
  await pce.setMode({ kind: 'refuse' });
  for (let w = 1; w <= 8; w++) {
    feedFlows(dec, delivery, distinctFlows(100, w * 1000), Date.now());
    await delivery.flushNow('window_end');
  }
  await delivery.whenIdle();
  const lost = await metric(metrics, 'sluice_delivery_lost_flows_total', { reason: 'memory_full' });
  assert.ok(lost >= 100 && lost % 100 === 0, `lost ${lost}`);
  assert.ok(delivery.spool.memoryBytes <= 1024);
  const held = delivery.spool.memoryHeld();
  assert.equal(held.flows + lost, 800);

  // Space comes back: the next retry round writes the held batches to disk, then the PCE gets them.
  rmSync(filler);
  for (let i = 0; i < 100 && delivery.spool.memoryHeld().batches > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(delivery.spool.memoryHeld().batches, 0, 'held batches were written once there was space');
  assert.equal(readdirSync(join(dir, 'spool', 'pce')).length, held.batches);
  assert.ok(log.has('batch held in memory written to the spool', 'info'));
  await pce.setMode({ kind: 'ok' });
  await pce.waitFor(() => pce.accepted.length === 1 + held.batches, 15_000, 'held batches after recovery');
  await delivery.stop();
  assert.equal(pce.acceptedLines().length, 100 + held.flows);
  assert.equal(new Set(pce.acceptedLines()).size, 100 + held.flows, 'no duplicates');
});
