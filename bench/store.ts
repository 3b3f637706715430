/**
 * The store writer's rates: appends N synthetic flow blocks (2048 rows each, built beforehand, as
 * decode workers would post them), then writes them out, and prints rows/s appended (time inside
 * append()), rows/s written (the flush: COPY to zstd Parquet, fsync, rename) and bytes on disk per
 * row. A second pass appends the same number of rows with the flush timer running, as in service,
 * and reports the sustained rate from the first append until everything is on disk.
 *
 *   node --import tsx bench/store.ts [--blocks N] [--flush-ms MS]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StoreWriter } from '../src/store/writer.js';
import { syntheticFlowBlocks } from '../test/store/helpers/synthetic.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const blocks = arg('--blocks', 500);
const flushMs = arg('--flush-ms', 1000);
const rate = arg('--rate', 300_000);
const seconds = arg('--seconds', 10);
const startMs = Date.UTC(2026, 0, 1);

async function once(label: string, timerFlush: boolean): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-store-'));
  try {
    const input = syntheticFlowBlocks(blocks, { seed: 7, startMs, stepMs: 2 });
    const rows = input.reduce((n, b) => n + b.count, 0);
    // Without the timer, nothing may start a write before the one timed flush (flushRows past the input).
    const w = await StoreWriter.open(dir, { flushIntervalMs: timerFlush ? flushMs : 3_600_000, maxBufferedRows: rows + 1, ...(timerFlush ? {} : { flushRows: rows + 1 }), maintenanceIntervalMs: 3_600_000 });
    let appendNs = 0n;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < input.length; i++) {
      const a = process.hrtime.bigint();
      w.append(input[i]!);
      appendNs += process.hrtime.bigint() - a;
      // Let timers and finished DuckDB work run now and then, as the event loop would between worker messages.
      if (timerFlush && i % 16 === 15) await new Promise((r) => setImmediate(r));
    }
    const t1 = process.hrtime.bigint();
    // The window keeps the blocks themselves: what a row costs while it waits is its share of them.
    const heldBytes = input.reduce((n, b) => n + b.data.byteLength + b.strings.reduce((k, col) => k + col.reduce((j, v) => j + (v === null ? 0 : 16 + v.length), 0), 0), 0);
    const f = await w.flush();
    const t2 = process.hrtime.bigint();
    const st = w.stats();
    await w.close();
    const sec = (ns: bigint): number => Number(ns) / 1e9;
    const mrs = (n: number, s: number): string => `${(n / s / 1e6).toFixed(2)} M rows/s`;
    console.log(`${label}: ${rows} rows in ${blocks} blocks`);
    console.log(`  appended  ${mrs(rows, sec(appendNs))}  (time inside append())`);
    if (!timerFlush) {
      console.log(`  held      ${(heldBytes / rows).toFixed(0)} bytes/row while waiting in memory (the blocks as the workers made them)`);
      console.log(`  written   ${mrs(f.rowsWritten, sec(t2 - t1))}  (one flush of everything: ${f.segments} segments)`);
    }
    else console.log(`  sustained ${mrs(rows, sec(t2 - t0))}  (first append to last row on disk, flush every ${flushMs} ms; ${st.segmentsWritten} segments)`);
    console.log(`  on disk   ${(st.bytes / st.rowsWritten).toFixed(1)} bytes/row (${(st.bytes / 1e6).toFixed(1)} MB), dropped ${Object.values(st.rowsDropped).reduce((a, b) => a + b, 0)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Offers `rate` rows/s for `seconds` (a block every so often), flushing every flushMs. */
async function steady(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-store-'));
  try {
    const input = syntheticFlowBlocks(64, { seed: 11, startMs, stepMs: 2 });
    const w = await StoreWriter.open(dir, { flushIntervalMs: flushMs, maintenanceIntervalMs: 2000 });
    let peakRss = 0;
    let maxFlushMs = 0;
    let maxBuffered = 0;
    let offered = 0;
    let k = 0;
    const t0 = Date.now();
    for (let tick = 0; Date.now() - t0 < seconds * 1000 && tick < seconds * 1000; tick++) {
      // Catch up with the offered rate, however late the timer was.
      while (offered < ((Date.now() - t0) / 1000) * rate) {
        w.append(input[k++ % input.length]!);
        offered += input[0]!.count;
      }
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      maxFlushMs = Math.max(maxFlushMs, w.stats().lastFlushDurationMs ?? 0);
      maxBuffered = Math.max(maxBuffered, w.stats().rowsBuffered);
      await new Promise((r) => setTimeout(r, 10));
    }
    await w.flush();
    const st = w.stats();
    await w.close();
    const dropped = Object.values(st.rowsDropped).reduce((a, b) => a + b, 0);
    console.log(`steady offer of ${rate} rows/s for ${seconds} s, flush every ${flushMs} ms:`);
    console.log(`  appended ${st.rowsAppended} rows, written ${st.rowsWritten}, dropped ${dropped}; slowest flush ${maxFlushMs.toFixed(0)} ms; at most ${maxBuffered} rows waiting; ${st.compaction.merges} merges`);
    console.log(`  peak RSS ${(peakRss / 1e6).toFixed(0)} MB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await once('append then flush', false);
await once('append with the flush timer', true);
await steady();
