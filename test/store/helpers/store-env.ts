/**
 * What the store tests share: temp directories, a DuckDB reader over segment files (as a query
 * would read them) and a small tmpfs for the full-disk test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { DuckDBInstance, listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { StoreWriter, type StoreOptions } from '../../../src/store/writer.js';
import { smallDisk } from '../../helpers/small-disk.js';
export { smallDisk };

const writers = new Set<StoreWriter>();

/** A directory removed at the end of the test, after every writer opened in it has closed. */
export function tempDir(t: TestContext, prefix = 'sluice-store-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(async () => {
    for (const w of writers) if (w.dir.startsWith(dir)) await w.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Opens a writer that the test closes at its end (if the test did not). Timers are slow unless asked. */
export async function openWriter(t: TestContext, dir: string, options: StoreOptions = {}): Promise<StoreWriter> {
  const w = await StoreWriter.open(dir, { flushIntervalMs: 3_600_000, maintenanceIntervalMs: 3_600_000, ...options });
  writers.add(w);
  t.after(async () => {
    await w.close();
    writers.delete(w);
  });
  return w;
}

/** A DuckDB connection for reading segments back, closed at the end of the test. */
export async function reader(t: TestContext): Promise<Reader> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await instance.connect();
  t.after(() => {
    con.disconnectSync();
    instance.closeSync();
  });
  return new Reader(con);
}

export class Reader {
  constructor(readonly con: DuckDBConnection) {}

  /** Rows (JSON-friendly values) of `sql`, where `$files` is the list of segment paths. */
  async rows(sql: string, files: readonly string[], params: DuckDBValue[] = []): Promise<unknown[][]> {
    const r = await this.con.runAndReadAll(sql.replaceAll('$files', '$1'), [listValue([...files]), ...params]);
    return r.getRowsJson() as unknown[][];
  }

  /** count(*) over the segments (0 for none). */
  async count(files: readonly string[]): Promise<number> {
    if (files.length === 0) return 0;
    return Number((await this.rows('SELECT count(*) FROM read_parquet($files)', files))[0]![0]);
  }
}

