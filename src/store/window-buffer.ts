/**
 * The open window of one store table, in memory: blocks are appended (synchronously, on the main
 * thread) to the current generation, an in-memory DuckDB table; a flush seals it (the next
 * generation, made ready beforehand, takes the appends at once) and writes the sealed one out.
 * A sealed generation that could not be written (disk full) stays until a later flush writes it;
 * meanwhile the current one keeps growing, so there are never more than two per table (and a
 * spare, and briefly one whose appender failed).
 */
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { ChunkAppender } from './block-append.js';
import type { BlockLayout, ColumnBlock } from './columns.js';
import { TABLES, sqlType, type TableName } from './schema.js';

/** One in-memory table of rows waiting to be written. */
export interface Generation {
  /** DuckDB table name: `<table>_<n>`. */
  readonly name: string;
  appender: DuckDBAppender | undefined;
  rows: number;
}

let generationCount = 0;

export class WindowBuffer {
  readonly table: TableName;
  /** Receives appends. */
  current: Generation;
  /** Sealed, not yet written out. */
  sealed: Generation | undefined;
  #spare: Generation | undefined;
  readonly #retired: Generation[] = [];
  readonly #chunks: ChunkAppender;

  private constructor(table: TableName, current: Generation, chunks: ChunkAppender) {
    this.table = table;
    this.current = current;
    this.#chunks = chunks;
  }

  /** `ddl` creates and drops the generation tables; appenders live on `appends` (main-thread only). */
  static async create(table: TableName, ddl: DuckDBConnection, appends: DuckDBConnection): Promise<WindowBuffer> {
    const first = await newGeneration(table, ddl, appends);
    const buffer = new WindowBuffer(table, first, new ChunkAppender(table, first.appender!));
    await buffer.prepare(ddl, appends);
    return buffer;
  }

  get rows(): number {
    let n = this.current.rows + (this.sealed?.rows ?? 0);
    for (const g of this.#retired) n += g.rows;
    return n;
  }

  /** Appends a checked block. Throws what DuckDB throws; the rows are then not in the table. */
  append(block: ColumnBlock, layout: BlockLayout): void {
    this.#chunks.append(this.current.appender!, block, layout);
    this.current.rows += block.count;
  }

  /** Makes the next generation ready, so that seal() needs no await. */
  async prepare(ddl: DuckDBConnection, appends: DuckDBConnection): Promise<void> {
    if (this.#spare === undefined) this.#spare = await newGeneration(this.table, ddl, appends);
  }

  /**
   * Seals the current generation when nothing sealed is waiting and it holds rows; returns the
   * sealed generation (the older one if a write failed before), or undefined when there is nothing.
   * Rows the appender could not hand over are returned as `lost`.
   */
  seal(): { sealed: Generation | undefined; lost: number } {
    if (this.sealed !== undefined || this.current.rows === 0 || this.#spare === undefined) return { sealed: this.sealed, lost: 0 };
    const gen = this.current;
    this.current = this.#spare;
    this.#spare = undefined;
    let lost = 0;
    try {
      gen.appender!.closeSync();
    } catch {
      lost = gen.rows;
      gen.rows = 0;
    }
    gen.appender = undefined;
    if (gen.rows > 0) this.sealed = gen;
    return { sealed: this.sealed, lost };
  }

  /** Forgets the sealed generation (written out) and drops its table. */
  async release(ddl: DuckDBConnection): Promise<void> {
    const gen = this.sealed;
    if (gen === undefined) return;
    this.sealed = undefined;
    await ddl.run(`DROP TABLE IF EXISTS "${gen.name}"`);
  }

  /**
   * After an append failed, the current generation's appender cannot be trusted: it is set aside
   * (at once, so appends go on into the spare) and folded into the sealed one by the next flush.
   * Returns false when no spare was ready (appends keep failing until the next flush makes one).
   */
  retireCurrent(): boolean {
    if (this.#spare === undefined) return false;
    this.#retired.push(this.current);
    this.current = this.#spare;
    this.#spare = undefined;
    return true;
  }

  /**
   * Folds retired generations into the sealed one (run between writes, never during one).
   * Returns the rows lost with them (their appender could not hand its rows over).
   */
  async settle(ddl: DuckDBConnection): Promise<number> {
    let lost = 0;
    for (const gen of this.#retired.splice(0)) {
      try {
        gen.appender?.closeSync();
      } catch {
        lost += gen.rows;
        gen.rows = 0;
      }
      gen.appender = undefined;
      if (gen.rows > 0 && this.sealed === undefined) {
        this.sealed = gen;
        continue;
      }
      try {
        if (gen.rows > 0) {
          await ddl.run(`INSERT INTO "${this.sealed!.name}" SELECT * FROM "${gen.name}"`);
          this.sealed!.rows += gen.rows;
        }
      } catch {
        lost += gen.rows;
      }
      await ddl.run(`DROP TABLE IF EXISTS "${gen.name}"`).catch(() => undefined);
    }
    return lost;
  }

  /** Closes the appenders (at close); the tables go with the database. */
  closeAppenders(): void {
    for (const g of [this.current, this.#spare, ...this.#retired]) {
      try {
        g?.appender?.closeSync();
      } catch {
        // The database is closing; what it still held is accounted by the caller.
      }
      if (g !== undefined) g.appender = undefined;
    }
  }
}

async function newGeneration(table: TableName, ddl: DuckDBConnection, appends: DuckDBConnection): Promise<Generation> {
  const name = `${table}_${++generationCount}`;
  const columns = TABLES[table].map((c) => `"${c.name}" ${sqlType(c)}`).join(', ');
  await ddl.run(`CREATE TABLE "${name}" (${columns})`);
  return { name, appender: await appends.createAppender(name), rows: 0 };
}
