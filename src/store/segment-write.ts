/**
 * Writes one sealed generation out as segments: one DuckDB COPY from the window scan, partitioned
 * by hour, into the store's temp directory, then each file fsynced, named with the next sequence
 * number and renamed into its partition (directory fsynced). A partition is all or nothing: when
 * anything fails, the hours already in place are reported, so the next attempt skips them, and the
 * rest stay in memory for it.
 */
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { readdirOrEmpty, renameDurable, syncPath, unlinkIfPresent } from '../util/durable.js';
import { partitionHourSql, partitionPath, segmentFileName, SEGMENT_SUFFIX, type Segment } from './layout.js';
import type { TableName } from './schema.js';

export interface WriteTarget {
  readonly root: string;
  readonly tmpDir: string;
  /** The connection the COPY runs on (not the appenders'). */
  readonly con: DuckDBConnection;
  /** The next segment sequence number; taken just before the rename, so sequence follows arrival in the tree. */
  nextSequence(): number;
  now(): number;
  /** A segment became live. */
  added(s: Segment): void;
  /** A segment was taken back (its partition could not be finished). */
  removed(s: Segment): void;
}

/** A write that stopped part-way: the partitions of `hours` (`rowsWritten` rows) reached the disk. */
export class WriteFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly rowsWritten: number,
    readonly hours: readonly number[],
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

const HOUR_COLUMN = '__sluice_hour';
let writeCount = 0;

/**
 * Writes every row of `from` (the window scan of a generation) as segments of `table`, except the
 * rows of the hours in `skipHours` (already on disk); returns the segments made. Throws WriteFailure.
 */
export async function writeGeneration(t: WriteTarget, table: TableName, from: string, skipHours: readonly number[]): Promise<Segment[]> {
  const dir = join(t.tmpDir, `write-${process.pid}-${++writeCount}`);
  const hourSql = partitionHourSql(table);
  const done: number[] = [];
  const made: Segment[] = [];
  let failure: unknown;
  try {
    const skip = skipHours.length > 0 ? ` WHERE NOT list_contains(${hourList(skipHours)}, ${HOUR_COLUMN})` : '';
    await t.con.run(`COPY (SELECT * FROM (SELECT *, ${hourSql} AS ${HOUR_COLUMN} FROM ${from})${skip}) TO $1 (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${HOUR_COLUMN}))`, [dir]);
    const partitions: { hour: number; dir: string }[] = [];
    for (const name of await readdirOrEmpty(dir)) {
      const m = /^__sluice_hour=(\d+)$/.exec(name);
      if (m !== null) partitions.push({ hour: Number(m[1]), dir: join(dir, name) });
    }
    partitions.sort((a, b) => a.hour - b.hour);
    // A partition that fails does not stop the others (a full disk fails them all anyway).
    for (const p of partitions) {
      try {
        made.push(...(await placePartition(t, table, p.hour, p.dir)));
        done.push(p.hour);
      } catch (e) {
        failure ??= e;
      }
    }
  } catch (e) {
    failure = e;
  }
  await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  if (failure === undefined) return made;
  let rowsWritten = 0;
  if (done.length > 0) {
    const counted = await t.con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${from} WHERE list_contains(${hourList(done)}, ${hourSql})`);
    rowsWritten = Number(counted.getRows()[0]![0]);
  }
  throw new WriteFailure(failure, rowsWritten, done);
}

/** A SQL list of hours: numbers parsed from our own directory names, never user text. */
function hourList(hours: readonly number[]): string {
  return `[${hours.map((h) => String(Math.trunc(h))).join(', ')}]`;
}

/** Puts one partition's files in place, all or none of them. */
async function placePartition(t: WriteTarget, table: TableName, hour: number, dir: string): Promise<Segment[]> {
  const placed: Segment[] = [];
  try {
    for (const file of (await readdirOrEmpty(dir)).filter((f) => f.endsWith(SEGMENT_SUFFIX)).sort()) {
      const from = join(dir, file);
      await syncPath(from);
      const bytes = (await fsp.stat(from)).size;
      const seq = t.nextSequence();
      const writtenMs = Math.floor(t.now());
      const path = join(t.root, partitionPath(table, hour), segmentFileName({ first: seq, last: seq, writtenMs }));
      await renameDurable(t.root, from, path);
      const seg: Segment = { table, hour, first: seq, last: seq, writtenMs, path, bytes };
      placed.push(seg);
      t.added(seg);
    }
    return placed;
  } catch (e) {
    // Take back what made it, so the partition stays whole in memory for the next attempt.
    for (const s of placed) {
      await unlinkIfPresent(s.path).catch(() => undefined);
      t.removed(s);
    }
    throw e;
  }
}
