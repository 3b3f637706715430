/**
 * Where a query's rows come from: the Parquet segment files of a store table. The engine takes a
 * listing function, so the store's own `listSegments` (which can skip segments by time) plugs in.
 */
import { readdir } from 'node:fs/promises';
import { listValue } from '@duckdb/node-api';
import { isAbsolute, join } from 'node:path';
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

/**
 * Every `*.parquet` under `<storeDir>/<table>/`, at any depth, skipping hidden names (files being
 * written). A stand-in with the signature of the store's `listSegments(storeDir, table, window)`,
 * without its pruning by time (the query's own time condition still applies).
 */
export async function globSegments(storeDir: string, table: TableName, _window?: SegmentWindow): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // no segments of this table yet
      throw e;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && e.name.endsWith('.parquet')) out.push(p);
    }
  };
  await walk(join(storeDir, table));
  return out.sort();
}

/** A listing function over one store directory. */
export function storeSegments(storeDir: string, list = globSegments): SegmentLister {
  return (table, window) => list(storeDir, table, window);
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
