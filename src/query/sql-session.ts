/**
 * `--sql`: one read-only statement of the user's over views of the segment files.
 *
 * Each statement gets a database of its own (in memory) holding only the views and macros, with
 * file access then limited to the listed segments and the configuration locked, so a SELECT can
 * read the store and nothing else. The statement must be a single SELECT: DuckDB's parser says so
 * (extracted statement count, json_serialize_sql's SELECT-only check) and so does the prepared
 * statement's type; nothing else runs.
 */
import { DuckDBInstance, StatementType, type DuckDBConnection, type JS } from '@duckdb/node-api';
import { TABLES, type TableName } from '../store/schema.js';
import { SqlRefusedError } from './errors.js';
import { FLOW_TIME, emptyRelation } from './flow-sql.js';
import { macroStatements } from './macros.js';
import type { SqlResult, SqlValue } from './results.js';
import { pathLiteral } from './segments.js';
import { TimeLimit } from './time-limit.js';
import type { TimeWindow } from './window.js';

export interface SqlOptions {
  /** Rows to return at most (default 100000); more sets `truncated`. */
  readonly maxRows?: number;
}

export const DEFAULT_SQL_ROWS = 100_000;

function msLiteral(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`window bound ${ms} is not a whole number of ms`);
  return `epoch_ms(${ms}::BIGINT)`;
}

/** The view of one table: its segments (or no rows), within the window. */
function viewSql(table: TableName, files: readonly string[], w: TimeWindow): string {
  const from = files.length === 0 ? emptyRelation(TABLES[table]) : `read_parquet([${files.map(pathLiteral).join(', ')}], union_by_name = true)`;
  // Flows belong to a window by their end time; options and counters by when they arrived.
  const time = table === 'flows' ? FLOW_TIME : 'time_received';
  const where: string[] = [];
  if (w.fromMs !== undefined) where.push(`${time} >= ${msLiteral(w.fromMs)}`);
  if (w.toMs !== undefined) where.push(`${time} < ${msLiteral(w.toMs)}`);
  return `CREATE VIEW ${table} AS SELECT * FROM ${from}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`;
}

function sqlValue(v: JS): SqlValue {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (Array.isArray(v)) return v.map(sqlValue);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sqlValue(x)]));
}

async function refuseUnlessOneSelect(conn: DuckDBConnection, text: string): Promise<void> {
  let count: number;
  try {
    count = (await conn.extractStatements(text)).count;
  } catch (e) {
    throw new SqlRefusedError(`not valid SQL: ${(e as Error).message}`);
  }
  if (count !== 1) throw new SqlRefusedError(`--sql takes exactly one statement, got ${count}`);
  // The parser's own verdict on the statement type, before anything is bound.
  const r = await conn.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [text]);
  const parsed = JSON.parse(String(r.getRowsJS()[0]?.[0])) as { error?: boolean; error_message?: string };
  if (parsed.error === true) throw new SqlRefusedError(`--sql runs only a read-only SELECT (${parsed.error_message ?? 'not a SELECT'})`);
}

/** Runs `text` over views of `files`; refuses (SqlRefusedError) anything but one SELECT. */
export async function runSqlSession(
  text: string,
  files: Readonly<Record<TableName, readonly string[]>>,
  window: TimeWindow,
  timeLimitMs: number,
  options: SqlOptions = {},
): Promise<SqlResult> {
  const maxRows = options.maxRows ?? DEFAULT_SQL_ROWS;
  if (!Number.isSafeInteger(maxRows) || maxRows < 0) throw new RangeError('maxRows must be an integer >= 0');
  const db = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  try {
    const conn = await db.connect();
    for (const m of macroStatements()) await conn.run(m);
    for (const t of Object.keys(TABLES) as TableName[]) await conn.run(viewSql(t, files[t], window));
    const all = Object.values(files).flat();
    await conn.run(`SET allowed_paths = [${all.map(pathLiteral).join(', ')}]`);
    await conn.run('SET enable_external_access = false');
    await conn.run('SET lock_configuration = true');

    await refuseUnlessOneSelect(conn, text);
    const limit = new TimeLimit(conn, timeLimitMs);
    try {
      const prepared = await limit.run(async () => (await conn.extractStatements(text)).prepare(0));
      if (prepared.statementType !== StatementType.SELECT) {
        throw new SqlRefusedError(`--sql runs only a read-only SELECT, not ${StatementType[prepared.statementType] ?? 'this statement'}`);
      }
      const reader = await limit.run(() => prepared.streamAndReadUntil(maxRows + 1));
      const names = reader.columnNames();
      const types = reader.columnTypes().map(String);
      const rows = reader.getRowsJS();
      return {
        columns: names.map((name, i) => ({ name, type: types[i]! })),
        rows: rows.slice(0, maxRows).map((r) => r.map(sqlValue)),
        truncated: rows.length > maxRows,
      };
    } finally {
      limit.dispose();
      conn.closeSync();
    }
  } finally {
    db.closeSync();
  }
}
