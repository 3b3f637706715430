/** docs/metrics.md names every drop reason and every metric collect registers: the names are an interface. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { ExporterTable } from '../../src/collect/exporters.js';
import { registerStoreMetrics } from '../../src/store/metrics.js';
import { DROP_REASONS } from '../../src/util/drop-reasons.js';
import { HEALTH_CHECKS } from '../../src/pipeline/exporters.js';

const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');

test('every drop reason, content check and metric is documented', async () => {
  for (const r of Object.keys(DROP_REASONS)) assert.ok(doc.includes(`| \`${r}\` |`), `drop reason ${r}`);
  for (const c of HEALTH_CHECKS) assert.ok(doc.includes(`| \`${c}\` |`), `check ${c}`);
  const table = new ExporterTable();
  registerStoreMetrics(table.registry, () => ({ rowsAppended: 0, rowsWritten: 0, writeErrors: 0, rowsBuffered: 0, segments: 0, bytes: 0, ingestRowsPerSec: 0, rowsDropped: {} }) as never);
  const names = (await table.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('sluice_'));
  assert.ok(names.length >= 20, names.join(' '));
  for (const n of names) assert.ok(doc.includes(`\`${n}\``), `metric ${n}`);
});
