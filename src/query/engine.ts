/**
 * The query engine: one implementation of totals, statistics, series, raw flows and --sql over a
 * store's Parquet segments, for `sluice query` and the HTTP API alike. It returns plain data
 * (results.ts); formatting is the caller's.
 *
 * Each call parses its inputs first (FilterError, QueryUsageError before any I/O), lists the
 * segments it needs, and runs on a connection of its own under a time limit (QueryTimeoutError).
 */
import { DuckDBInstance, type DuckDBConnection, type JS } from '@duckdb/node-api';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { QueryTimeoutError, QueryUsageError } from './errors.js';
import { parseFilter, type FilterNode } from './filter-parse.js';
import { keyValue, keyWidth, type KeyName, type NetMasks, type Order } from './keys.js';
import { macroStatements } from './macros.js';
import { flowRecords, type FlowRecord } from './records.js';
import { rates, type AggregateResult, type AggregateRow, type Counters, type FlowPage, type SeriesPoint, type SeriesResult, type SqlResult, type Totals } from './results.js';
import type { TableName } from '../store/schema.js';
import type { SegmentLister, SegmentWindow } from './segments.js';
import { runSqlSession, type SqlOptions } from './sql-session.js';
import { aggregateStatement, aggregateWithTotalsStatement, flowsStatement, seriesStatement, splitSeriesStatement, totalsStatement, TOTAL_COLUMNS, type FlowSource, type Statement } from './statements.js';
import { TimeLimit } from './time-limit.js';
import type { TimeWindow } from './window.js';

export interface EngineOptions {
  /** Lists a table's segment files: the store's listSegments with the store directory bound. */
  readonly segments: SegmentLister;
  /** Time limit of each call in ms, unless the call gives its own; 0: none. Default 300 s. */
  readonly timeLimitMs?: number;
  /**
   * Told of a segment file DuckDB could not read (damaged, not Parquet); the query then runs
   * without it. Default: a line on stderr, at most one per file per minute.
   */
  readonly onSkippedSegment?: (path: string, reason: string) => void;
}

/** What every query selects flows by. */
export interface Scope {
  /** nfdump filter text; empty or absent: every flow. */
  readonly filter?: string;
  readonly window?: TimeWindow;
  /** This call's time limit in ms (0: none). */
  readonly timeLimitMs?: number;
}

export interface AggregateQuery extends Scope {
  /** One key (-s) or several (-A). */
  readonly keys: readonly KeyName[];
  readonly order?: Order;
  /** Rows to return (top N); absent: all groups. */
  readonly limit?: number;
  readonly masks?: NetMasks;
}

export interface SeriesQuery extends Scope {
  readonly intervalMs: number;
  /** Split each interval by the key's top `limit` values (default 10) plus the rest. */
  readonly split?: { readonly key: KeyName; readonly order?: Order; readonly limit?: number; readonly masks?: NetMasks };
}

export interface FlowsQuery extends Scope {
  /** Page size; absent: every matching flow. */
  readonly limit?: number;
  readonly offset?: number;
  /** Newest first (default) or oldest first, by flow time. */
  readonly newestFirst?: boolean;
}

export const DEFAULT_TIME_LIMIT_MS = 300_000;
/** Intervals a series may have; beyond it the interval is too short for the window. */
export const MAX_SERIES_POINTS = 100_000;
const DEFAULT_SPLIT_LIMIT = 10;

/** Far ends of time for a segment listing of a half-open window. */
const EARLIEST_MS = 0;
const LATEST_MS = 8.64e15;

function num(v: JS | undefined): number {
  return v === null || v === undefined ? 0 : Number(v);
}

function numOrNull(v: JS | undefined): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** A missing segment: the store removed it (compaction, retention) between listing and reading. */
function isVanishedFile(e: unknown): boolean {
  return e instanceof Error && /No files found|No such file|does not exist|Cannot open file/i.test(e.message);
}

/** The listed file a DuckDB error is about, if it names one. */
function fileOf(e: unknown, files: readonly string[]): string | undefined {
  return e instanceof Error ? files.find((f) => e.message.includes(f)) : undefined;
}

const skipLog = new RateLimitedLog((msg, suppressed) => {
  process.stderr.write(`${msg}${suppressed > 0 ? ` (and ${suppressed} more times)` : ''}\n`);
}, 60_000);

function logSkipped(path: string, reason: string): void {
  skipLog.log(path, `sluice query: skipped unreadable segment ${path}: ${reason.split('\n')[0]}`);
}

/**
 * Runs `body` over the files `list` gives; when it fails because of one file, goes on without it:
 * a file that vanished makes the list be taken again (once), a damaged one is reported and left out.
 */
async function withReadableFiles<T>(
  list: () => Promise<string[]>,
  onSkipped: (path: string, reason: string) => void,
  body: (files: readonly string[]) => Promise<T>,
): Promise<T> {
  let files = await list();
  let listedAgain = false;
  for (;;) {
    try {
      return await body(files);
    } catch (e) {
      if (e instanceof QueryTimeoutError) throw e;
      if (isVanishedFile(e) && !listedAgain) {
        listedAgain = true;
        files = await list();
        continue;
      }
      const bad = fileOf(e, files);
      if (bad === undefined) throw e;
      onSkipped(bad, (e as Error).message);
      files = files.filter((f) => f !== bad);
    }
  }
}

export class QueryEngine {
  readonly #db: DuckDBInstance;
  readonly #segments: SegmentLister;
  readonly #timeLimitMs: number;
  readonly #onSkipped: (path: string, reason: string) => void;

  private constructor(db: DuckDBInstance, options: EngineOptions) {
    this.#db = db;
    this.#segments = options.segments;
    this.#timeLimitMs = options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
    this.#onSkipped = options.onSkippedSegment ?? logSkipped;
  }

  static async open(options: EngineOptions): Promise<QueryEngine> {
    // Nothing may download at run time: Parquet and JSON are built into the binding.
    const db = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
    const conn = await db.connect();
    try {
      for (const m of macroStatements()) await conn.run(m);
    } finally {
      conn.closeSync();
    }
    return new QueryEngine(db, options);
  }

  close(): void {
    this.#db.closeSync();
  }

  /** Totals of the flows the filter and window match. */
  async totals(q: Scope = {}): Promise<Totals> {
    const filter = parseFilter(q.filter ?? '');
    return this.#withSource(q, filter, (s, src) => this.#totals(s, src));
  }

  /** Top groups by one key (-s) or several (-A), with the totals. */
  async aggregate(q: AggregateQuery): Promise<AggregateResult> {
    const filter = parseFilter(q.filter ?? '');
    if (q.keys.length === 0) throw new QueryUsageError('an aggregation needs at least one key');
    checkCount(q.limit, 'the row limit');
    const order = q.order ?? 'flows';
    return this.#withSource(q, filter, async (s, src) => {
      const all = await this.#read(s, aggregateWithTotalsStatement(src, q.keys, order, q.limit ?? null, q.masks ?? {}));
      const totals = totalsOf(all[0] ?? [], src);
      // With no groups, the one row holds the totals and NULL group columns.
      const groups = all.filter((r) => r[TOTAL_COLUMNS + keysWidth(q.keys)] !== null).map((r) => r.slice(TOTAL_COLUMNS));
      return { keys: q.keys.slice(), order, totals, rows: groups.map((r) => aggregateRow(q.keys, r)) };
    });
  }

  /** Flows, packets, bytes and rates per interval; optionally split by a key's top values. */
  async series(q: SeriesQuery): Promise<SeriesResult> {
    const filter = parseFilter(q.filter ?? '');
    if (!Number.isSafeInteger(q.intervalMs) || q.intervalMs <= 0) throw new QueryUsageError('the series interval must be a positive number of ms');
    const split = q.split;
    if (split !== undefined) checkCount(split.limit, 'the number of split values');
    return this.#withSource(q, filter, async (s, src) => {
      const iv = q.intervalMs;
      const totalRows = await this.#read(s, seriesStatement(src, iv));
      // The totals from the intervals, not from another scan.
      let [flows, packets, bytes] = [0, 0, 0];
      let firstMs: number | null = null;
      let lastMs: number | null = null;
      for (const r of totalRows) {
        flows += num(r[1]);
        packets += num(r[2]);
        bytes += num(r[3]);
        firstMs = Math.min(firstMs ?? Infinity, num(r[4]));
        lastMs = Math.max(lastMs ?? -Infinity, num(r[5]));
      }
      const totals = totalsFrom({ flows, packets, bytes }, firstMs, lastMs, src);
      const byStart = new Map<number, Counters>(totalRows.map((r) => [num(r[0]), { flows: num(r[1]), packets: num(r[2]), bytes: num(r[3]) }]));
      const starts = seriesStarts(q.window ?? {}, iv, byStart);
      if (split === undefined) return { intervalMs: iv, totals, points: starts.map((t) => point(t, iv, byStart.get(t))) };

      const order = split.order ?? 'flows';
      const limit = split.limit ?? DEFAULT_SPLIT_LIMIT;
      const masks = split.masks ?? {};
      const values = await this.#aggregateRows(s, src, [split.key], order, limit, masks);
      const splitRows = await this.#read(s, splitSeriesStatement(src, iv, split.key, order, limit, masks));
      const parts = new Map<number, { split: Counters[]; other: Counters }>();
      const zero: Counters = { flows: 0, packets: 0, bytes: 0 };
      for (const r of splitRows) {
        const t = num(r[0]);
        let p = parts.get(t);
        if (p === undefined) parts.set(t, (p = { split: values.map(() => zero), other: zero }));
        const c = { flows: num(r[2]), packets: num(r[3]), bytes: num(r[4]) };
        const rank = numOrNull(r[1]);
        if (rank === null) p.other = c;
        else p.split[rank - 1] = c;
      }
      const points = starts.map((t) => {
        const p = parts.get(t);
        return { ...point(t, iv, byStart.get(t)), split: p?.split ?? values.map(() => zero), other: p?.other ?? zero };
      });
      return { intervalMs: iv, totals, key: split.key, order, values, points };
    });
  }

  /** One page of raw flows, time-ordered. */
  async flows(q: FlowsQuery = {}): Promise<FlowPage> {
    const filter = parseFilter(q.filter ?? '');
    checkCount(q.limit, 'the flow limit');
    checkCount(q.offset, 'the offset');
    const offset = q.offset ?? 0;
    const limit = q.limit ?? null;
    return this.#withSource(q, filter, async (s, src) => {
      // One more than asked tells whether another page follows.
      const st = flowsStatement(src, q.newestFirst ?? true, limit === null ? null : limit + 1, offset);
      const result = await s.limit.run(() => s.conn.stream(st.sql, st.params.slice()));
      const rows: FlowRecord[] = [];
      for (;;) {
        const chunk = await s.limit.run(() => result.fetchChunk());
        if (chunk === null || chunk.rowCount === 0) break;
        rows.push(...flowRecords(chunk));
      }
      const more = limit !== null && rows.length > limit;
      return { rows: more ? rows.slice(0, limit) : rows, offset, limit, more };
    });
  }

  /**
   * Raw flows, time-ordered, in batches as DuckDB produces them: for output of any size without
   * holding it all. The time limit runs until the last batch is taken.
   */
  async *flowBatches(q: FlowsQuery = {}): AsyncGenerator<FlowRecord[]> {
    const filter = parseFilter(q.filter ?? '');
    checkCount(q.limit, 'the flow limit');
    checkCount(q.offset, 'the offset');
    const conn = await this.#db.connect();
    const limit = new TimeLimit(conn, q.timeLimitMs ?? this.#timeLimitMs);
    try {
      // Unreadable segments are found when the statement starts (DuckDB reads every file's footer then).
      const result = await withReadableFiles(
        () => this.#segments('flows', segmentWindow(q.window)),
        this.#onSkipped,
        (files) => {
          const st = flowsStatement({ files, window: q.window ?? {}, filter }, q.newestFirst ?? true, q.limit ?? null, q.offset ?? 0);
          return limit.run(() => conn.stream(st.sql, st.params.slice()));
        },
      );
      for (;;) {
        const chunk = await limit.run(() => result.fetchChunk());
        if (chunk === null || chunk.rowCount === 0) break;
        yield flowRecords(chunk);
      }
    } finally {
      limit.dispose();
      conn.closeSync();
    }
  }

  /**
   * A read-only SQL statement over views `flows`, `options` and `counters` of the segments (in the
   * window when given). Refuses anything but one SELECT (SqlRefusedError).
   */
  async sql(text: string, options: SqlOptions & { readonly window?: TimeWindow; readonly timeLimitMs?: number } = {}): Promise<SqlResult> {
    const w = segmentWindow(options.window);
    let byTable: Record<TableName, string[]> = { flows: [], options: [], counters: [] };
    const list = async (): Promise<string[]> => {
      const [flows, opts, counters] = await Promise.all([this.#segments('flows', w), this.#segments('options', w), this.#segments('counters', w)]);
      byTable = { flows, options: opts, counters };
      return [...flows, ...opts, ...counters];
    };
    return withReadableFiles(list, this.#onSkipped, (files) => {
      const keep = (f: string): boolean => files.includes(f);
      const tables = { flows: byTable.flows.filter(keep), options: byTable.options.filter(keep), counters: byTable.counters.filter(keep) };
      return runSqlSession(text, tables, options.window ?? {}, options.timeLimitMs ?? this.#timeLimitMs, options);
    });
  }

  async #withSource<T>(q: Scope, filter: FilterNode, body: (s: Session, src: FlowSource) => Promise<T>): Promise<T> {
    const conn = await this.#db.connect();
    const limit = new TimeLimit(conn, q.timeLimitMs ?? this.#timeLimitMs);
    try {
      const session = { conn, limit };
      const window = q.window ?? {};
      return await withReadableFiles(
        () => this.#segments('flows', segmentWindow(q.window)),
        this.#onSkipped,
        (files) => body(session, { files, window, filter }),
      );
    } finally {
      limit.dispose();
      conn.closeSync();
    }
  }

  async #read(s: Session, st: Statement): Promise<JS[][]> {
    const reader = await s.limit.run(() => s.conn.runAndReadAll(st.sql, st.params.slice()));
    return reader.getRowsJS();
  }

  async #totals(s: Session, src: FlowSource): Promise<Totals> {
    const [r = []] = await this.#read(s, totalsStatement(src));
    return totalsOf(r, src);
  }

  async #aggregateRows(s: Session, src: FlowSource, keys: readonly KeyName[], order: Order, limit: number | null, masks: NetMasks): Promise<AggregateRow[]> {
    const rows = await this.#read(s, aggregateStatement(src, keys, order, limit, masks));
    return rows.map((r) => aggregateRow(keys, r));
  }
}

/** Totals from a row of flows, packets, bytes, first_ms, last_ms. */
function totalsOf(r: readonly JS[], src: FlowSource): Totals {
  return totalsFrom({ flows: num(r[0]), packets: num(r[1]), bytes: num(r[2]) }, numOrNull(r[3]), numOrNull(r[4]), src);
}

function totalsFrom(c: Counters, firstMs: number | null, lastMs: number | null, src: FlowSource): Totals {
  const span = firstMs === null || lastMs === null ? 0 : lastMs - firstMs;
  return { ...c, ...rates(c, span), window: src.window, firstMs, lastMs };
}

function keysWidth(keys: readonly KeyName[]): number {
  return keys.reduce((n, k) => n + keyWidth(k), 0);
}

/** A group from a row of key columns (keyWidth per key), flows, packets, bytes, first_ms, last_ms, bps, pps, bpp. */
function aggregateRow(keys: readonly KeyName[], r: readonly JS[]): AggregateRow {
  let at = 0;
  const values = keys.map((k) => {
    const w = keyWidth(k);
    const v = keyValue(k, r.slice(at, at + w));
    at += w;
    return v;
  });
  return {
    values,
    flows: num(r[at]),
    packets: num(r[at + 1]),
    bytes: num(r[at + 2]),
    firstMs: num(r[at + 3]),
    lastMs: num(r[at + 4]),
    bps: num(r[at + 5]),
    pps: num(r[at + 6]),
    bpp: num(r[at + 7]),
  };
}

interface Session {
  readonly conn: DuckDBConnection;
  readonly limit: TimeLimit;
}

function checkCount(n: number | undefined, what: string): void {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw new QueryUsageError(`${what} must be an integer >= 0`);
}

function segmentWindow(w: TimeWindow | undefined): SegmentWindow | undefined {
  if (w === undefined || (w.fromMs === undefined && w.toMs === undefined)) return undefined;
  return { fromMs: w.fromMs ?? EARLIEST_MS, toMs: w.toMs ?? LATEST_MS };
}

function point(startMs: number, intervalMs: number, c: Counters | undefined): SeriesPoint {
  const v = c ?? { flows: 0, packets: 0, bytes: 0 };
  const r = rates(v, intervalMs);
  return { startMs, ...v, bps: r.bps, pps: r.pps };
}

/** Interval starts from the window's start (else the first flow's) to its end (else the last flow's). */
function seriesStarts(w: TimeWindow, iv: number, seen: ReadonlyMap<number, Counters>): number[] {
  let first: number | undefined;
  let last: number | undefined;
  for (const t of seen.keys()) {
    if (first === undefined || t < first) first = t;
    if (last === undefined || t > last) last = t;
  }
  const from = w.fromMs !== undefined ? Math.floor(w.fromMs / iv) * iv : first;
  // The end is exclusive: the last interval is the one holding toMs - 1.
  const to = w.toMs !== undefined ? Math.floor((w.toMs - 1) / iv) * iv : last;
  if (from === undefined || to === undefined || to < from) return [];
  const n = Math.floor((to - from) / iv) + 1;
  if (n > MAX_SERIES_POINTS) throw new QueryUsageError(`the series would have ${n} intervals (at most ${MAX_SERIES_POINTS}): choose a longer interval or a shorter window`);
  return Array.from({ length: n }, (_, i) => from + i * iv);
}
