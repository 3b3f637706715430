/**
 * A collector that keeps no store does not load DuckDB: its shared library alone is about 10 MiB
 * of resident memory, which a plain JSON collector (and the issue-14 memory rows) should not pay.
 * With --store the same process does load it, so the check below can tell the two apart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { startCollector } from '../helpers/collector.js';

function mapsDuckdb(pid: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libduckdb');
}

test('collect without --store does not map libduckdb; with --store it does', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const plain = await startCollector({ stdoutToDevNull: true });
  try {
    assert.equal(mapsDuckdb(plain.pid), false, 'a collector without a store has loaded DuckDB');
  } finally {
    await plain.stop();
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-lazy-'));
  const stored = await startCollector({ stdoutToDevNull: true, extraArgs: ['--store', join(dir, 'store')] });
  try {
    assert.equal(mapsDuckdb(stored.pid), true, 'the collector with a store should have DuckDB loaded');
  } finally {
    await stored.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
