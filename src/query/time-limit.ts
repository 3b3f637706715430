/**
 * A query's time limit on one DuckDB connection: when it runs out the connection is interrupted,
 * and whatever was running fails with QueryTimeoutError instead of DuckDB's "Interrupted!".
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { QueryTimeoutError } from './errors.js';

export class TimeLimit {
  readonly #limitMs: number;
  #expired = false;
  #timer: NodeJS.Timeout | undefined;

  /** `limitMs` 0 (or less): no limit. */
  constructor(conn: DuckDBConnection, limitMs: number) {
    this.#limitMs = limitMs;
    if (limitMs > 0) {
      this.#timer = setTimeout(() => {
        this.#expired = true;
        conn.interrupt();
      }, limitMs);
      this.#timer.unref();
    }
  }

  get expired(): boolean {
    return this.#expired;
  }

  /** Runs one step; a step started after the limit, or failing because of it, throws QueryTimeoutError. */
  async run<T>(step: () => Promise<T>): Promise<T> {
    // An interrupt between two statements reaches neither, so check before each one.
    if (this.#expired) throw new QueryTimeoutError(this.#limitMs);
    let result: T;
    try {
      result = await step();
    } catch (e) {
      if (this.#expired) throw new QueryTimeoutError(this.#limitMs);
      throw e;
    }
    // DuckDB forgets an interrupt that comes before a statement starts executing (a new query clears
    // it), so a statement can finish past the limit: it is over the limit all the same.
    if (this.#expired) throw new QueryTimeoutError(this.#limitMs);
    return result;
  }

  dispose(): void {
    clearTimeout(this.#timer);
  }
}
