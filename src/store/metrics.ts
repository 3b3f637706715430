import { Counter, Gauge, type Registry } from 'prom-client';
import type { StoreStats } from './writer.js';

/** The store's writer as Prometheus metrics, read from its stats at scrape time. */
export function registerStoreMetrics(registry: Registry, stats: () => StoreStats): void {
  const registers = [registry];
  const counter = (name: string, help: string, read: (s: StoreStats) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  const gauge = (name: string, help: string, read: (s: StoreStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(stats()));
      },
    });
  counter('sluice_store_rows_appended_total', 'rows taken into the store (flows, options records, counter samples)', (s) => s.rowsAppended);
  counter('sluice_store_rows_written_total', 'rows written to segments', (s) => s.rowsWritten);
  counter('sluice_store_write_errors_total', 'failed segment writes (flushes and merges); ENOSPC: disk full', (s) => s.writeErrors);
  gauge('sluice_store_rows_buffered', 'rows in memory waiting for the next segment write', (s) => s.rowsBuffered);
  gauge('sluice_store_segments', 'live segment files', (s) => s.segments);
  gauge('sluice_store_bytes', 'bytes of live segment files', (s) => s.bytes);
  gauge('sluice_store_ingest_rows_per_second', 'rows appended per second between the last two flushes', (s) => s.ingestRowsPerSec);
  new Counter({
    name: 'sluice_store_rows_dropped_total',
    help: 'rows not kept, per reason (store-full, invalid-block, closed, unwritten-at-close)',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats().rowsDropped)) if (n > 0) this.inc({ reason }, n);
    },
  });
}
