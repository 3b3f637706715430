/**
 * Positional SQL parameters: every value that came from a user (or from our own listing) reaches
 * DuckDB through one of these, never through the SQL text.
 */
import type { DuckDBValue } from '@duckdb/node-api';

export class SqlParams {
  readonly values: DuckDBValue[] = [];

  /** Adds a value and returns its placeholder ("$3"), with a cast when `type` is given. */
  add(value: DuckDBValue, type?: string): string {
    this.values.push(value);
    const p = `$${this.values.length}`;
    return type === undefined ? p : `${p}::${type}`;
  }
}
