/**
 * Listing a store's segments for readers: straight from the directory tree (no manifest, no lock,
 * no writer needed), skipping partitions outside a time window and segments a merge has replaced.
 */
import { join, resolve } from 'node:path';
import { errnoOf, readdirOrEmpty } from '../util/durable.js';
import { HOUR_MS, MAX_HOUR, parseDay, parseHourOfDay, parseSegmentFileName, splitCovered, type SegmentFile } from './layout.js';
import type { TableName } from './schema.js';

/** A time window in ms since the epoch, both ends included. */
export interface TimeWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface ListOptions {
  /**
   * How long a flow may last (default one hour). A flow is partitioned by the hour it ended in, so
   * a flow that started inside the window may sit in a partition up to this much after its end.
   */
  readonly maxFlowMs?: number;
}

export const DEFAULT_MAX_FLOW_MS = HOUR_MS;

/** Partition hours to look at (inclusive), for a window. */
export function windowHours(window: TimeWindow | undefined, maxFlowMs = DEFAULT_MAX_FLOW_MS): { from: number; to: number } {
  if (window === undefined) return { from: 0, to: MAX_HOUR };
  const from = Number.isFinite(window.fromMs) ? Math.floor(window.fromMs / HOUR_MS) : -Infinity;
  const to = Number.isFinite(window.toMs) ? Math.floor((window.toMs + Math.max(0, maxFlowMs)) / HOUR_MS) : Infinity;
  return { from: Math.max(from, 0), to: Math.min(to, MAX_HOUR) };
}

/**
 * Every segment file of a table whose partition lies in `hours` (all when omitted), covered ones
 * included, sorted by partition then sequence. Directories that vanish while it walks are skipped.
 */
export async function scanTable(storeDir: string, table: TableName, hours?: { from: number; to: number }): Promise<SegmentFile[]> {
  const root = resolve(storeDir);
  const from = hours?.from ?? 0;
  const to = hours?.to ?? MAX_HOUR;
  const out: SegmentFile[] = [];
  const tableDir = join(root, table);
  for (const day of (await readdirOrEmpty(tableDir)).sort()) {
    const midnight = parseDay(day);
    if (midnight === undefined || midnight + 23 < from || midnight > to) continue;
    for (const hh of (await readdirOrEmpty(join(tableDir, day))).sort()) {
      const h = parseHourOfDay(hh);
      if (h === undefined) continue;
      const hour = midnight + h;
      if (hour < from || hour > to) continue;
      const dir = join(tableDir, day, hh);
      const files: SegmentFile[] = [];
      for (const name of await readdirOrEmpty(dir)) {
        const parsed = parseSegmentFileName(name);
        if (parsed !== undefined) files.push({ ...parsed, table, hour, path: join(dir, name) });
      }
      files.sort((a, b) => a.first - b.first || b.last - a.last);
      out.push(...files);
    }
  }
  return out;
}

/** Splits scanned files (any partitions) into live and covered, per partition. */
export function liveAndCovered<T extends SegmentFile>(files: readonly T[]): { live: T[]; covered: T[] } {
  const byHour = new Map<number, T[]>();
  for (const f of files) {
    let list = byHour.get(f.hour);
    if (list === undefined) byHour.set(f.hour, (list = []));
    list.push(f);
  }
  const live: T[] = [];
  const covered: T[] = [];
  for (const hour of [...byHour.keys()].sort((a, b) => a - b)) {
    const split = splitCovered(byHour.get(hour)!);
    live.push(...split.live);
    covered.push(...split.covered);
  }
  return { live, covered };
}

/**
 * The live segments of a table (absolute paths of Parquet files), in partition then sequence
 * order, that can hold rows of `window`: a partition is skipped when its hour cannot intersect the
 * window (flows: allowing `maxFlowMs` after the window's end), and a segment is skipped when a
 * merged segment replaced it, so a listing taken during a compaction never counts a row twice.
 *
 * A segment can vanish between this listing and the read (a merge moved it out, retention deleted
 * it): readers then list again and retry; `withSegments` does that, `isMissingSegmentError` tells
 * such an error apart.
 */
export async function listSegments(storeDir: string, table: TableName, window?: TimeWindow, options: ListOptions = {}): Promise<string[]> {
  if (window !== undefined && window.fromMs > window.toMs) return [];
  const hours = windowHours(window, options.maxFlowMs);
  if (hours.from > hours.to) return [];
  return liveAndCovered(await scanTable(storeDir, table, hours)).live.map((s) => s.path);
}

/** True for the error a read gets when a listed segment was removed before it was opened. */
export function isMissingSegmentError(e: unknown): boolean {
  if (errnoOf(e) === 'ENOENT') return true;
  const msg = e instanceof Error ? e.message : String(e);
  return /No files found that match the pattern|No such file or directory|Cannot open file/i.test(msg);
}

export interface WithSegmentsOptions extends ListOptions {
  /** Listings tried before the error is passed on (default 5). */
  readonly attempts?: number;
}

/**
 * Lists the segments and runs `read` on them; when a segment vanished under the read (a compaction
 * or retention ran in between), lists again and reruns `read`, up to `attempts` times. `read` must
 * be safe to rerun (a query, not a side effect).
 */
export async function withSegments<T>(
  storeDir: string,
  table: TableName,
  window: TimeWindow | undefined,
  read: (paths: string[]) => Promise<T>,
  options: WithSegmentsOptions = {},
): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 5);
  for (let i = 1; ; i++) {
    const paths = await listSegments(storeDir, table, window, options);
    try {
      return await read(paths);
    } catch (e) {
      if (i >= attempts || !isMissingSegmentError(e)) throw e;
    }
  }
}
