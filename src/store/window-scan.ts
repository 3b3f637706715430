/**
 * `sluice_window(id)`: a DuckDB table function that reads one sealed generation of the open window
 * (window-buffer.ts) block by block, so `COPY (SELECT … FROM sluice_window(7)) TO … (FORMAT parquet)`
 * writes segments straight from the blocks the decode workers made. Appending the blocks to a
 * DuckDB table first cost about as much CPU as writing the Parquet itself; this reads each block
 * once. DuckDB runs the scan on several threads (each compresses its own part of the file), and
 * calls back into this JS thread for every chunk, one call at a time.
 */
import os from 'node:os';
import { DuckDBTableFunction, INTEGER, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { fillChunk } from './block-chunk.js';
import { TABLES, sqlType, type TableName } from './schema.js';
import type { Generation } from './window-buffer.js';

const NAME = 'sluice_window';

interface ScanState {
  next: number;
}

export class WindowScan {
  /** Generations a statement may name now. */
  readonly #open = new Map<number, Generation>();

  private constructor() {}

  /**
   * Registers the function on `con`'s database. `threads`: how many DuckDB threads may scan at
   * once (default: the cores).
   */
  static async register(con: DuckDBConnection, threads = os.availableParallelism()): Promise<WindowScan> {
    const scan = new WindowScan();
    const types = new Map<TableName, DuckDBType[]>();
    for (const table of Object.keys(TABLES) as TableName[]) types.set(table, await columnTypes(con, table));
    con.registerTableFunction(
      DuckDBTableFunction.create({
        name: NAME,
        parameterTypes: [INTEGER],
        bindFunction: (info) => {
          const gen = scan.#open.get(Number(info.getParameter(0)));
          if (gen === undefined) return info.setError(`${NAME}: no such generation`);
          const columns = TABLES[gen.table];
          const t = types.get(gen.table)!;
          for (let i = 0; i < columns.length; i++) info.addResultColumn(columns[i]!.name, t[i]!);
          info.setBindData({ gen });
        },
        initFunction: (info) => {
          info.setInitData({ next: 0 } satisfies ScanState);
          info.setMaxThreads(Math.max(1, threads));
        },
        mainFunction: (info, out) => {
          const { gen } = info.bindData as { gen: Generation };
          const state = info.initData as ScanState;
          const item = gen.blocks[state.next++];
          if (item === undefined) {
            out.rowCount = 0;
            return;
          }
          try {
            out.rowCount = item.block.count; // before the vectors are written: it sizes them
            fillChunk(out.chunk, item.block, item.layout);
          } catch (e) {
            info.setError(`${NAME}: block ${state.next - 1}: ${e instanceof Error ? e.message : String(e)}`);
          }
        },
      }),
    );
    return scan;
  }

  /** The FROM item that reads `gen`; valid until close(gen). */
  open(gen: Generation): string {
    this.#open.set(gen.id, gen);
    return `${NAME}(${gen.id})`; // our own integer, never user text
  }

  close(gen: Generation): void {
    this.#open.delete(gen.id);
  }
}

/** The DuckDB types of a table's columns, as DuckDB resolves the schema's SQL types. */
async function columnTypes(con: DuckDBConnection, table: TableName): Promise<DuckDBType[]> {
  const columns = TABLES[table];
  const reader = await con.runAndReadAll(`SELECT * FROM (VALUES (${columns.map((c) => `NULL::${sqlType(c)}`).join(', ')})) LIMIT 0`);
  return columns.map((_, i) => reader.columnType(i));
}
