/**
 * Where a query's rows come from: the Parquet segment files of a store table. The engine takes a
 * listing function, so the store's own `listSegments` (which can skip segments by time) plugs in.
 */
import { listValue } from '@duckdb/node-api';
import { isAbsolute } from 'node:path';
import { listSegments } from '../store/segments.js';
import type { TableName } from '../store/schema.js';
import { TABLES } from '../store/schema.js';
import { emptyRelation } from './flow-sql.js';
import type { SqlParams } from './sql-params.js';

/** A closed time range, ms since the epoch, for skipping segments. */
export interface SegmentWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

/** Absolute paths of a table's segment files that may hold rows of the window (all when no window). */
export type SegmentLister = (table: TableName, window?: SegmentWindow) => Promise<string[]>;

/** The store's live segments of a table (src/store/segments.ts: by time partition, without those a merge replaced). */
export function storeSegments(storeDir: string): SegmentLister {
  return (table, window) => listSegments(storeDir, table, window);
}

/** The relation that reads a table's segment files, the list passed as a parameter. */
export function segmentsRelation(table: TableName, files: readonly string[], params: SqlParams): string {
  if (files.length === 0) return emptyRelation(TABLES[table]);
  // union_by_name: segments written before a column was added read it as NULL.
  return `read_parquet(${params.add(listValue(files.slice()))}, union_by_name = true)`;
}

/**
 * A segment path as a SQL string literal, for the one place that cannot take parameters (view
 * definitions of --sql sessions). Paths come from our own listing; anything unusual is refused
 * rather than escaped.
 */
export function pathLiteral(path: string): string {
  // eslint-disable-next-line no-control-regex
  if (!isAbsolute(path) || /[\u0000-\u001f'\\]/.test(path)) throw new Error(`unusable segment path ${JSON.stringify(path)}`);
  return `'${path}'`;
}
