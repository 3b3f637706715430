/**
 * The store writer (main thread): takes ColumnBlocks from the decode workers, keeps the open
 * window in memory (the blocks themselves, per store table) and every flush interval writes it
 * out as immutable Parquet segments; in the background it merges small segments and expires old
 * ones. Nothing it does throws into the caller of append(): a block it cannot take is dropped and
 * counted by reason, a write that fails (disk full) is counted and logged and its rows wait in
 * memory, up to `maxBufferedRows`, for the next flush.
 */
import * as fsp from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Log } from '../model/contracts.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { checkBlock } from './block-chunk.js';
import { Catalog, type CatalogTotals } from './catalog.js';
import type { ColumnBlock } from './columns.js';
import { DEFAULT_COMPACTION, mergeSegments, planCompaction, type CompactionOptions } from './compaction.js';
import { errnoOf, writeErrorCode } from '../util/durable.js';
import { GLOB_CHARS, TMP_DIR, type Segment } from './layout.js';
import { moveReplaced, sweepReplaced } from './replaced.js';
import { deleteSegments, planRetention } from './retention.js';
import { TABLES, type TableName } from './schema.js';
import { WriteFailure, writeGeneration, type WriteTarget } from './segment-write.js';
import { liveAndCovered, scanTable } from './segments.js';
import { acquireLock, openStoreFile, writeStoreFile, type StoreFile } from './store-file.js';
import { WindowBuffer } from './window-buffer.js';
import { WindowScan } from './window-scan.js';
import { dropReasonsOf, type DropReasonOf } from '../util/drop-reasons.js';

/** Why rows were not stored. */
/** Why rows were not kept: the store stage of the one vocabulary (util/drop-reasons.ts). */
export type DropReason = DropReasonOf<'store'>;

export const STORE_DROP_REASONS: readonly DropReason[] = dropReasonsOf('store');

export interface StoreOptions {
  /** How often the open window is written out (default 5000 ms): what kill -9 can lose at most. */
  readonly flushIntervalMs?: number;
  /** Rows held before a write starts without waiting for the interval (default 500,000): bounds memory at high rates. */
  readonly flushRows?: number;
  /** Rows held in memory at most, waiting for a write (default 4,000,000); beyond, blocks are dropped. */
  readonly maxBufferedRows?: number;
  /** Retention by age, from when a segment was written here (no limit by default). */
  readonly maxAgeMs?: number;
  /** Retention by size of all live segments (no limit by default). */
  readonly maxBytes?: number;
  /** How often compaction, retention and the sweep of replaced segments run (default 10,000 ms). */
  readonly maintenanceIntervalMs?: number;
  /** Replaced segments are deleted this long after a merge moved them out (default 60,000 ms). */
  readonly replacedGraceMs?: number;
  readonly compaction?: Partial<CompactionOptions>;
  readonly log?: Log;
  /** The clock for segment times, retention and partition closing (default Date.now). */
  readonly now?: () => number;
  /** DuckDB worker threads (default: DuckDB's choice, the number of cores). */
  readonly threads?: number;
  /** DuckDB memory_limit, e.g. "2GB" (default: DuckDB's, 80% of RAM). */
  readonly memoryLimit?: string;
}

export interface TableStats extends CatalogTotals {
  readonly rowsBuffered: number;
  readonly rowsWritten: number;
}

export interface StoreStats {
  readonly dir: string;
  readonly tables: Readonly<Record<TableName, TableStats>>;
  /** Live segments and their bytes, all tables. */
  readonly segments: number;
  readonly bytes: number;
  readonly rowsAppended: number;
  readonly rowsBuffered: number;
  readonly rowsWritten: number;
  readonly rowsDropped: Readonly<Record<DropReason, number>>;
  /** Timestamps outside 1970..9999 stored as NULL (or clamped, in time_received). */
  readonly timestampsRepaired: number;
  readonly segmentsWritten: number;
  readonly bytesWritten: number;
  /** Failed writes (flushes and merges), and by errno name (ENOSPC: disk full); the last one's message. */
  readonly writeErrors: number;
  readonly writeErrorsByCode: Readonly<Record<string, number>>;
  readonly lastWriteError: string | null;
  /** When the last flush finished (the store's clock) and how long it took. */
  readonly lastFlushMs: number | null;
  readonly lastFlushDurationMs: number | null;
  /** Rows appended per second between the last two flushes. */
  readonly ingestRowsPerSec: number;
  readonly compaction: { readonly merges: number; readonly segmentsMerged: number; readonly bytesIn: number; readonly bytesOut: number; readonly errors: number };
  readonly expired: { readonly age: { segments: number; bytes: number }; readonly size: { segments: number; bytes: number } };
  /** Leftovers of an earlier crash handled at open. */
  readonly recovered: { readonly replacedSegments: number };
}

export interface FlushResult {
  readonly rowsWritten: number;
  readonly segments: number;
  /** Rows still in memory after this flush (non-zero when a write failed). */
  readonly rowsBuffered: number;
  /** The first write error of this flush, if any. */
  readonly error?: string;
}

export interface MaintenanceResult {
  readonly merges: number;
  readonly expired: number;
  readonly sweptBatches: number;
}

const quietLog: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const TABLE_NAMES = Object.keys(TABLES) as TableName[];

interface Parts {
  readonly root: string;
  readonly release: () => Promise<void>;
  readonly storeFile: StoreFile;
  readonly catalog: Catalog;
  readonly nextSequence: number;
  readonly recovered: number;
  readonly instance: DuckDBInstance;
  readonly flushCon: DuckDBConnection;
  readonly scan: WindowScan;
  readonly maintCon: DuckDBConnection;
  readonly buffers: Map<TableName, WindowBuffer>;
}

export class StoreWriter {
  readonly dir: string;
  readonly #o: Required<Omit<StoreOptions, 'maxAgeMs' | 'maxBytes' | 'threads' | 'memoryLimit' | 'compaction'>> & Pick<StoreOptions, 'maxAgeMs' | 'maxBytes'>;
  readonly #compaction: CompactionOptions;
  readonly #p: Parts;
  readonly #tmpDir: string;
  #storeFile: StoreFile;
  #nextSequence: number;
  readonly #rl: RateLimitedLog;
  #rlEntry: { level: 'warn' | 'error'; obj: object } = { level: 'warn', obj: {} };

  #closed = false;
  #closing: Promise<void> | undefined;
  #flushChain: Promise<unknown> = Promise.resolve();
  #timerFlushQueued = false;
  #maintChain: Promise<unknown> = Promise.resolve();
  #maintaining = false;
  readonly #timers: NodeJS.Timeout[] = [];

  #rowsAppended = 0;
  readonly #rowsWritten = new Map<TableName, number>(TABLE_NAMES.map((t) => [t, 0]));
  readonly #dropped = new Map<DropReason, number>(STORE_DROP_REASONS.map((r) => [r, 0]));
  #timestampsRepaired = 0;
  #segmentsWritten = 0;
  #bytesWritten = 0;
  #writeErrors = 0;
  readonly #writeErrorsByCode = new Map<string, number>();
  #lastWriteError: string | null = null;
  #lastFlushMs: number | null = null;
  #lastFlushDurationMs: number | null = null;
  #rateSample = { at: performance.now(), appended: 0 };
  #ingestRate = 0;
  readonly #comp = { merges: 0, segmentsMerged: 0, bytesIn: 0, bytesOut: 0, errors: 0 };
  readonly #expired = { age: { segments: 0, bytes: 0 }, size: { segments: 0, bytes: 0 } };

  private constructor(p: Parts, options: StoreOptions) {
    this.#p = p;
    this.dir = p.root;
    this.#tmpDir = join(p.root, TMP_DIR);
    this.#storeFile = p.storeFile;
    this.#nextSequence = p.nextSequence;
    this.#o = {
      flushIntervalMs: Math.max(10, options.flushIntervalMs ?? 5000),
      maxBufferedRows: options.maxBufferedRows ?? 4_000_000,
      flushRows: Math.max(2048, options.flushRows ?? 500_000),
      maintenanceIntervalMs: Math.max(10, options.maintenanceIntervalMs ?? 10_000),
      replacedGraceMs: options.replacedGraceMs ?? 60_000,
      log: options.log ?? quietLog,
      now: options.now ?? Date.now,
      maxAgeMs: options.maxAgeMs,
      maxBytes: options.maxBytes,
    };
    this.#compaction = { ...DEFAULT_COMPACTION, ...options.compaction };
    this.#rl = new RateLimitedLog((msg, suppressed) => {
      const { level, obj } = this.#rlEntry;
      this.#o.log[level](suppressed > 0 ? { ...obj, suppressed } : obj, msg);
    });
    const flushTimer = setInterval(() => this.#flushSoon(), this.#o.flushIntervalMs);
    const maintTimer = setInterval(() => void this.maintain(), this.#o.maintenanceIntervalMs);
    flushTimer.unref();
    maintTimer.unref();
    this.#timers.push(flushTimer, maintTimer);
  }

  /**
   * Opens (or creates) a store directory for writing: takes the lock, cleans up what a crash left
   * (temp files, segments a finished merge replaced), and resumes the segment sequence after the
   * highest one seen. Throws when the directory cannot be a store (locked, other format, unusable path).
   */
  static async open(dir: string, options: StoreOptions = {}): Promise<StoreWriter> {
    const root = resolve(dir);
    if (GLOB_CHARS.test(root)) throw new Error(`${root}: a store path may not contain * ? [ ] { } (DuckDB reads them as patterns)`);
    const now = options.now ?? Date.now;
    const log = options.log ?? quietLog;
    await fsp.mkdir(root, { recursive: true });
    const release = await acquireLock(root);
    let instance: DuckDBInstance | undefined;
    try {
      const tmpDir = join(root, TMP_DIR);
      await fsp.rm(tmpDir, { recursive: true, force: true });
      await fsp.mkdir(tmpDir, { recursive: true });
      const storeFile = await openStoreFile(root, tmpDir, now());
      const catalog = new Catalog();
      let recovered = 0;
      let maxSeq = storeFile.sequenceFloor;
      for (const table of TABLE_NAMES) {
        const { live, covered } = liveAndCovered(await scanTable(root, table));
        for (const f of live) {
          const bytes = await fsp.stat(f.path).then((st) => st.size).catch(() => -1);
          if (bytes >= 0) catalog.add({ ...f, bytes });
        }
        for (const f of covered) maxSeq = Math.max(maxSeq, f.last);
        recovered += await moveReplaced(root, covered, now());
      }
      await sweepReplaced(root, now(), options.replacedGraceMs ?? 60_000);
      const config: Record<string, string> = { temp_directory: join(tmpDir, 'spill') };
      if (options.threads !== undefined) config.threads = String(options.threads);
      if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
      instance = await DuckDBInstance.create(':memory:', config);
      const flushCon = await instance.connect();
      const maintCon = await instance.connect();
      const scan = await WindowScan.register(flushCon, options.threads);
      const buffers = new Map<TableName, WindowBuffer>(TABLE_NAMES.map((t) => [t, new WindowBuffer(t)]));
      const nextSequence = Math.max(maxSeq, catalog.maxSequence) + 1;
      const all = catalog.all();
      log.info({ dir: root, segments: all.length, bytes: all.reduce((n, s) => n + s.bytes, 0), nextSequence, replacedAtOpen: recovered }, 'store opened');
      return new StoreWriter({ root, release, storeFile, catalog, nextSequence, recovered, instance, flushCon, scan, maintCon, buffers }, options);
    } catch (e) {
      instance?.closeSync();
      await release();
      throw e;
    }
  }

  /**
   * Takes a block (its buffer becomes the store's: out-of-range timestamps are repaired in place).
   * Returns false when its rows were dropped (counted by reason). Never throws.
   */
  append(block: ColumnBlock): boolean {
    const rows = typeof block?.count === 'number' && Number.isInteger(block.count) && block.count > 0 ? block.count : 0;
    if (this.#closed) return this.#drop('closed', rows, undefined);
    let checked: ReturnType<typeof checkBlock>;
    try {
      checked = checkBlock(block);
    } catch (e) {
      return this.#drop('invalid-block', rows, e);
    }
    if (rows === 0) return true;
    const buffer = this.#p.buffers.get(block.table)!;
    if (this.#bufferedRows() + rows > this.#o.maxBufferedRows) return this.#drop('store-full', rows, undefined);
    buffer.append(block, checked.layout);
    this.#timestampsRepaired += checked.repaired;
    this.#rowsAppended += rows;
    if (this.#bufferedRows() >= this.#o.flushRows) this.#flushSoon();
    return true;
  }

  /** Starts a flush unless one is already waiting: a flush slower than the interval is not piled up behind. */
  #flushSoon(): void {
    if (this.#timerFlushQueued) return;
    this.#timerFlushQueued = true;
    void this.flush().finally(() => (this.#timerFlushQueued = false));
  }

  /**
   * Writes what is held now (and what an earlier failed write left) as segments. Resolves when it
   * is durable on disk; never rejects (a failed write is in the result, the counters and the log).
   */
  flush(): Promise<FlushResult> {
    if (this.#closed && this.#closing !== undefined) return this.#closing.then(() => ({ rowsWritten: 0, segments: 0, rowsBuffered: 0 }));
    const run = this.#flushChain.then(() => this.#flushOnce()).catch((e: unknown) => this.#unexpected('flush', e));
    this.#flushChain = run;
    return run;
  }

  /** Runs one round of compaction, retention and the sweep of replaced segments now (also done on a timer). */
  maintain(): Promise<MaintenanceResult> {
    if (this.#maintaining || this.#closing !== undefined) return Promise.resolve({ merges: 0, expired: 0, sweptBatches: 0 });
    this.#maintaining = true;
    const run = this.#maintainOnce()
      .catch((e: unknown) => {
        this.#unexpected('maintenance', e);
        return { merges: 0, expired: 0, sweptBatches: 0 };
      })
      .finally(() => (this.#maintaining = false));
    this.#maintChain = run;
    return run;
  }

  stats(): StoreStats {
    const tables = {} as Record<TableName, TableStats>;
    let segments = 0;
    let bytes = 0;
    let written = 0;
    for (const t of TABLE_NAMES) {
      const totals = this.#p.catalog.totals(t);
      segments += totals.segments;
      bytes += totals.bytes;
      written += this.#rowsWritten.get(t)!;
      tables[t] = { ...totals, rowsBuffered: this.#p.buffers.get(t)!.rows, rowsWritten: this.#rowsWritten.get(t)! };
    }
    return {
      dir: this.dir,
      tables,
      segments,
      bytes,
      rowsAppended: this.#rowsAppended,
      rowsBuffered: this.#bufferedRows(),
      rowsWritten: written,
      rowsDropped: Object.fromEntries(this.#dropped) as Record<DropReason, number>,
      timestampsRepaired: this.#timestampsRepaired,
      segmentsWritten: this.#segmentsWritten,
      bytesWritten: this.#bytesWritten,
      writeErrors: this.#writeErrors,
      writeErrorsByCode: Object.fromEntries(this.#writeErrorsByCode),
      lastWriteError: this.#lastWriteError,
      lastFlushMs: this.#lastFlushMs,
      lastFlushDurationMs: this.#lastFlushDurationMs,
      ingestRowsPerSec: this.#ingestRate,
      compaction: { ...this.#comp },
      expired: { age: { ...this.#expired.age }, size: { ...this.#expired.size } },
      recovered: { replacedSegments: this.#p.recovered },
    };
  }

  /**
   * Stops the timers, lets a running maintenance step finish, writes what is held, and releases
   * the database and the lock. Rows a failed last write leaves in memory are counted as
   * `unwritten-at-close` (call flush() first and look at its result to avoid that).
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeOnce();
    return this.#closing;
  }

  async #closeOnce(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await this.#maintChain;
    const last = this.flush();
    this.#closed = true;
    await last;
    const unwritten = this.#bufferedRows();
    if (unwritten > 0) {
      this.#dropped.set('unwritten-at-close', this.#dropped.get('unwritten-at-close')! + unwritten);
      this.#o.log.error({ dir: this.dir, rows: unwritten, lastWriteError: this.#lastWriteError }, 'store closed with rows it could not write');
    }
    for (const c of [this.#p.flushCon, this.#p.maintCon]) c.disconnectSync();
    this.#p.instance.closeSync();
    await this.#p.release();
  }

  #bufferedRows(): number {
    let n = 0;
    for (const b of this.#p.buffers.values()) n += b.rows;
    return n;
  }

  #drop(reason: DropReason, rows: number, error: unknown): false {
    this.#dropped.set(reason, this.#dropped.get(reason)! + rows);
    const detail = error === undefined ? {} : { error: error instanceof Error ? error.message : String(error) };
    this.#limited(`drop|${reason}`, 'warn', { reason, rows, ...detail, buffered: this.#bufferedRows(), maxBufferedRows: this.#o.maxBufferedRows }, `store dropped rows: ${reason}`);
    return false;
  }

  /** What no step should let through; logged, so a timer's promise never rejects into the process. */
  #unexpected(step: string, e: unknown): FlushResult {
    const error = e instanceof Error ? e.message : String(e);
    this.#limited(`unexpected|${step}`, 'error', { step, error }, 'store step failed unexpectedly');
    return { rowsWritten: 0, segments: 0, rowsBuffered: this.#bufferedRows(), error };
  }

  #countWriteError(e: unknown): string {
    const code = writeErrorCode(e);
    this.#writeErrors++;
    this.#writeErrorsByCode.set(code, (this.#writeErrorsByCode.get(code) ?? 0) + 1);
    this.#lastWriteError = e instanceof Error ? e.message : String(e);
    return code;
  }

  #limited(key: string, level: 'warn' | 'error', obj: object, msg: string): void {
    this.#rlEntry = { level, obj };
    this.#rl.log(key, msg);
  }

  #writeTarget(): WriteTarget {
    const catalog = this.#p.catalog;
    return {
      root: this.#p.root,
      tmpDir: this.#tmpDir,
      con: this.#p.flushCon,
      nextSequence: () => this.#nextSequence++,
      now: this.#o.now,
      added: (s) => catalog.add(s),
      removed: (s) => catalog.remove(s),
    };
  }

  async #flushOnce(): Promise<FlushResult> {
    const started = performance.now();
    let rowsWritten = 0;
    let segments = 0;
    let error: string | undefined;
    const target = this.#writeTarget();
    for (const table of TABLE_NAMES) {
      const buffer = this.#p.buffers.get(table)!;
      try {
        const hadSealed = buffer.sealed !== undefined;
        // A generation left by a failed write goes first; when it makes it, the current one follows.
        for (let round = 0; round < (hadSealed ? 2 : 1); round++) {
          const sealed = buffer.seal();
          if (sealed === undefined) break;
          const from = this.#p.scan.open(sealed);
          try {
            const made = await writeGeneration(target, table, from, sealed.writtenHours);
            rowsWritten += sealed.rows;
            this.#rowsWritten.set(table, this.#rowsWritten.get(table)! + sealed.rows);
            segments += made.length;
            this.#segmentsWritten += made.length;
            for (const s of made) this.#bytesWritten += s.bytes;
            buffer.release();
          } finally {
            this.#p.scan.close(sealed);
          }
        }
      } catch (e) {
        const cause = e instanceof WriteFailure ? e.cause : e;
        if (e instanceof WriteFailure && e.hours.length > 0 && buffer.sealed !== undefined) {
          buffer.sealed.writtenHours.push(...e.hours);
          buffer.sealed.rows -= e.rowsWritten;
          rowsWritten += e.rowsWritten;
          this.#rowsWritten.set(table, this.#rowsWritten.get(table)! + e.rowsWritten);
        }
        const message = cause instanceof Error ? cause.message : String(cause);
        const code = this.#countWriteError(cause);
        error ??= message;
        this.#limited(`write|${code}`, 'error', { table, code, error: message, buffered: this.#bufferedRows() }, 'store write failed; rows kept in memory');
      }
    }
    const end = performance.now();
    this.#lastFlushMs = this.#o.now();
    this.#lastFlushDurationMs = end - started;
    const dt = (end - this.#rateSample.at) / 1000;
    if (dt > 0) this.#ingestRate = (this.#rowsAppended - this.#rateSample.appended) / dt;
    this.#rateSample = { at: end, appended: this.#rowsAppended };
    return { rowsWritten, segments, rowsBuffered: this.#bufferedRows(), ...(error !== undefined ? { error } : {}) };
  }

  async #maintainOnce(): Promise<MaintenanceResult> {
    const now = this.#o.now();
    const { root } = this.#p;
    const catalog = this.#p.catalog;
    let merges = 0;
    for (const plan of planCompaction(catalog, now, this.#compaction)) {
      try {
        const merged = await mergeSegments(this.#p.maintCon, root, this.#tmpDir, plan);
        catalog.add(merged);
        for (const s of plan.inputs) catalog.remove(s);
        merges++;
        this.#comp.merges++;
        this.#comp.segmentsMerged += plan.inputs.length;
        this.#comp.bytesIn += plan.inputs.reduce((n, s) => n + s.bytes, 0);
        this.#comp.bytesOut += merged.bytes;
        await moveReplaced(root, plan.inputs, this.#o.now());
      } catch (e) {
        this.#comp.errors++;
        const code = this.#countWriteError(e);
        this.#limited(`merge|${code}`, 'warn', { table: plan.table, hour: plan.hour, inputs: plan.inputs.length, code, error: this.#lastWriteError }, 'store merge failed; segments left as they are');
      }
    }
    let expired = 0;
    const plan = planRetention(catalog.all(), now, { maxAgeMs: this.#o.maxAgeMs, maxBytes: this.#o.maxBytes });
    if (plan.age.length + plan.size.length > 0) {
      try {
        const floor = this.#nextSequence - 1;
        if (this.#storeFile.sequenceFloor < floor) {
          this.#storeFile = { ...this.#storeFile, sequenceFloor: floor };
          await writeStoreFile(root, this.#tmpDir, this.#storeFile);
        }
        for (const [reason, list] of [['age', plan.age], ['size', plan.size]] as const) {
          if (list.length === 0) continue;
          await deleteSegments(list);
          for (const s of list) catalog.remove(s);
          const bytes = list.reduce((n, s) => n + s.bytes, 0);
          this.#expired[reason].segments += list.length;
          this.#expired[reason].bytes += bytes;
          expired += list.length;
          this.#o.log.info({ reason, segments: list.length, bytes, oldestWritten: new Date(list[0]!.writtenMs).toISOString(), ...tableCounts(list) }, 'store expired segments');
        }
      } catch (e) {
        this.#limited(`expire|${errnoOf(e) ?? 'error'}`, 'warn', { error: e instanceof Error ? e.message : String(e) }, 'store retention failed');
      }
    }
    let sweptBatches = 0;
    try {
      sweptBatches = await sweepReplaced(root, this.#o.now(), this.#o.replacedGraceMs);
    } catch (e) {
      this.#limited(`sweep|${errnoOf(e) ?? 'error'}`, 'warn', { error: e instanceof Error ? e.message : String(e) }, 'store could not delete replaced segments');
    }
    return { merges, expired, sweptBatches };
  }
}

function tableCounts(list: readonly Segment[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) out[s.table] = (out[s.table] ?? 0) + 1;
  return out;
}
