/**
 * Where things live in a store directory, and what segment file names say: the stable on-disk
 * format (docs/store.md), kept free of I/O so the writer, the listing and tests agree on one spelling.
 *
 *   DIR/store.json                                   format, version, creation time, sequence floor
 *   DIR/<table>/YYYY-MM-DD/HH/<first>-<last>_<written>.parquet   live segments, partitioned by hour (UTC)
 *   DIR/.tmp/                                        files being written (removed at open)
 *   DIR/.replaced/<movedMs>-<pid>-<n>/<table>/...    segments a merge replaced, deleted after a grace period
 *   DIR/.lock                                        the writer's process id (one writer per store)
 *
 * A segment name carries its sequence range and when it was written here, e.g.
 * `000000000017-000000000042_20240301T101500.123Z.parquet`: a merged segment takes the range of the
 * segments it replaced, so it "covers" them, and listing needs no manifest.
 */
import type { TableName } from './schema.js';

export const STORE_FILE = 'store.json';
export const STORE_FORMAT = 'sluice-store';
export const STORE_VERSION = 1;
export const TMP_DIR = '.tmp';
export const REPLACED_DIR = '.replaced';
export const LOCK_FILE = '.lock';
export const SEGMENT_SUFFIX = '.parquet';

export const HOUR_MS = 3_600_000;
/** The partition of 9999-12-31T23: the last hour a four-digit year can name. */
export const MAX_HOUR = Math.floor(Date.UTC(9999, 11, 31, 23) / HOUR_MS);
/** Timestamps the store keeps: 1970-01-01T00:00:00.000Z up to 9999-12-31T23:59:59.999Z. */
export const MIN_TIME_MS = 0;
export const MAX_TIME_MS = (MAX_HOUR + 1) * HOUR_MS - 1;

/** What a segment's name says about it. */
export interface SegmentName {
  /** First and last segment sequence number it holds (equal for a segment written by a flush). */
  readonly first: number;
  readonly last: number;
  /** When the segment was written into this store (ms since the epoch): retention counts from here. */
  readonly writtenMs: number;
}

/** A segment file of one table and partition. */
export interface SegmentFile extends SegmentName {
  readonly table: TableName;
  /** Partition: hours since the epoch (UTC), of coalesce(time_end, time_received) for flows, else time_received. */
  readonly hour: number;
  /** Absolute path. */
  readonly path: string;
}

/** A segment file with its size, as the writer keeps account of it. */
export interface Segment extends SegmentFile {
  readonly bytes: number;
}

const SEQ_DIGITS = 12;
const NAME_RE = /^(\d{12,})-(\d{12,})_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z\.parquet$/;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const HOUR_RE = /^\d{2}$/;

export function segmentFileName(s: SegmentName): string {
  const seq = (n: number): string => String(n).padStart(SEQ_DIGITS, '0');
  const iso = new Date(s.writtenMs).toISOString(); // 2024-03-01T10:15:00.123Z
  const written = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}.${iso.slice(20, 23)}Z`;
  return `${seq(s.first)}-${seq(s.last)}_${written}${SEGMENT_SUFFIX}`;
}

/** The parts of a segment file name, or undefined for any other file (which listings ignore). */
export function parseSegmentFileName(name: string): SegmentName | undefined {
  const m = NAME_RE.exec(name);
  if (m === null) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  const writtenMs = Date.UTC(+m[3]!, +m[4]! - 1, +m[5]!, +m[6]!, +m[7]!, +m[8]!, +m[9]!);
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first > last || !Number.isFinite(writtenMs)) return undefined;
  return { first, last, writtenMs };
}

/** `YYYY-MM-DD` and `HH` of a partition hour. */
export function partitionParts(hour: number): { day: string; hh: string } {
  const iso = new Date(hour * HOUR_MS).toISOString();
  return { day: iso.slice(0, 10), hh: iso.slice(11, 13) };
}

/** The partition directory of a table and hour, relative to the store directory. */
export function partitionPath(table: TableName, hour: number): string {
  const { day, hh } = partitionParts(hour);
  return `${table}/${day}/${hh}`;
}

/** The hour of a `YYYY-MM-DD` day directory's midnight, or undefined when the name is not a day. */
export function parseDay(day: string): number | undefined {
  const m = DAY_RE.exec(day);
  if (m === null) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!);
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== day) return undefined;
  return ms / HOUR_MS;
}

/** 0..23 of an `HH` hour directory, or undefined. */
export function parseHourOfDay(hh: string): number | undefined {
  if (!HOUR_RE.test(hh)) return undefined;
  const h = Number(hh);
  return h < 24 ? h : undefined;
}

/**
 * Splits one partition's segments into the live ones and those a merged segment covers, sorted by
 * sequence. Two segments with the same range (a crash between a copy and a delete could leave them)
 * count once: the first by name.
 */
export function splitCovered<T extends SegmentName>(segments: readonly T[]): { live: T[]; covered: T[] } {
  const sorted = [...segments].sort((x, y) => x.first - y.first || y.last - x.last || x.writtenMs - y.writtenMs);
  const live: T[] = [];
  const covered: T[] = [];
  let maxLast = -1;
  for (const s of sorted) {
    if (s.last <= maxLast) covered.push(s);
    else {
      live.push(s);
      maxLast = s.last;
    }
  }
  return { live, covered };
}

/** Characters a store path may not hold: DuckDB's file readers treat them as glob patterns. */
export const GLOB_CHARS = /[*?[\]{}]/;

/**
 * The partition hour of a row, in SQL: the hour of the flow's end (of its arrival when the record
 * said no end); options and counters by arrival. Timestamps are already within the store's range.
 */
export function partitionHourSql(table: TableName): string {
  const time = table === 'flows' ? 'coalesce("time_end", "time_received")' : '"time_received"';
  return `(epoch_ms(${time}) // ${HOUR_MS})`;
}
