/**
 * The store's health for the API: segments, bytes, the span of data, retention and the ingest
 * rate. In `collect --http` the writer itself answers (its stats and the retention it enforces);
 * in `sluice serve` the directory is read (another process writes it): the segments are listed and
 * sized, and the ingest rate is counted from the flows on disk.
 */
import { stat } from 'node:fs/promises';
import type { QueryEngine } from '../query/engine.js';
import { Catalog, type CatalogTotals } from '../store/catalog.js';
import { TABLES, type TableName } from '../store/schema.js';
import { liveAndCovered, scanTable } from '../store/segments.js';
import type { StoreStats } from '../store/writer.js';

export interface Retention {
  /** Segments written longer ago than this are deleted; null: no limit. */
  readonly maxAgeMs: number | null;
  /** The oldest segments past this total are deleted; null: no limit. */
  readonly maxBytes: number | null;
}

export interface StoreHealth {
  /** `writer`: this process writes the store; `directory`: read from the files (another process writes). */
  readonly source: 'writer' | 'directory';
  readonly dir: string;
  /** Live segments and their bytes, all tables. */
  readonly segments: number;
  readonly bytes: number;
  /** Per table: segments, bytes, oldest/newest segment written, first/last partition hour held. */
  readonly tables: Readonly<Record<TableName, CatalogTotals>>;
  /** What retention keeps; null when unknown here (the writing process decides). */
  readonly retention: Retention | null;
  /**
   * Rows per second going in. writer: rows appended between its last two flushes (all tables);
   * directory: flows received from 70 to 10 s ago, as found on disk (a flush may still hold the
   * last seconds).
   */
  readonly ingestRowsPerSec: number | null;
  /** The writer's own account; null for `directory`. */
  readonly writer: {
    readonly rowsBuffered: number;
    readonly rowsDropped: Readonly<Record<string, number>>;
    readonly writeErrors: number;
    readonly lastWriteError: string | null;
    readonly lastFlushMs: number | null;
  } | null;
}

export type HealthProvider = () => Promise<StoreHealth>;

function sum(tables: Readonly<Record<TableName, CatalogTotals>>): { segments: number; bytes: number } {
  let segments = 0;
  let bytes = 0;
  for (const t of Object.values(tables)) {
    segments += t.segments;
    bytes += t.bytes;
  }
  return { segments, bytes };
}

/** The writer of this process (`engine.store.stats()`), with the retention it was opened with. */
export function writerHealth(stats: () => StoreStats, retention: Retention): HealthProvider {
  return async () => {
    const s = stats();
    return {
      source: 'writer',
      dir: s.dir,
      segments: s.segments,
      bytes: s.bytes,
      tables: s.tables,
      retention,
      ingestRowsPerSec: s.ingestRowsPerSec,
      writer: { rowsBuffered: s.rowsBuffered, rowsDropped: s.rowsDropped, writeErrors: s.writeErrors, lastWriteError: s.lastWriteError, lastFlushMs: s.lastFlushMs },
    };
  };
}

/** How far back the ingest count starts, and how much of the most recent time it leaves to the writer's next flush. */
const INGEST_FROM_MS = 70_000;
const INGEST_TO_MS = 10_000;
/** Flows end at most this long before they are received, for the segment listing of the ingest count. */
const INGEST_LOOKBACK_MS = 2 * 3_600_000;

/** The store directory as it is on disk, for `sluice serve`. */
export function directoryHealth(dir: string, engine: QueryEngine, now: () => number = Date.now): HealthProvider {
  return async () => {
    const catalog = new Catalog();
    for (const table of Object.keys(TABLES) as TableName[]) {
      for (const f of liveAndCovered(await scanTable(dir, table)).live) {
        // A segment a merge or retention removes while we look is simply not counted.
        const bytes = await stat(f.path).then((s) => s.size, () => undefined);
        if (bytes !== undefined) catalog.add({ ...f, bytes });
      }
    }
    const tables = Object.fromEntries((Object.keys(TABLES) as TableName[]).map((t) => [t, catalog.totals(t)])) as Record<TableName, CatalogTotals>;
    const t = Math.floor(now());
    // Our own statement (no request text in it): flows by reception time, which no query option selects.
    const from = t - INGEST_FROM_MS;
    const to = t - INGEST_TO_MS;
    const r = await engine.sql(`SELECT count(*) AS n FROM flows WHERE time_received >= epoch_ms(${from}::BIGINT) AND time_received < epoch_ms(${to}::BIGINT)`, {
      window: { fromMs: from - INGEST_LOOKBACK_MS },
      maxRows: 1,
    });
    const n = Number(r.rows[0]?.[0] ?? 0);
    return { source: 'directory', dir, ...sum(tables), tables, retention: null, ingestRowsPerSec: (n * 1000) / (to - from), writer: null };
  };
}
