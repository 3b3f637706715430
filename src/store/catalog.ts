/**
 * The writer's account of the live segments, per table and partition: built by one scan at open,
 * then kept by the writer itself as it writes, merges and expires, so compaction, retention and the
 * stats never walk the tree again.
 */
import { HOUR_MS, type Segment } from './layout.js';
import { TABLES, type TableName } from './schema.js';

export interface CatalogTotals {
  readonly segments: number;
  readonly bytes: number;
  /** Written time of the oldest and newest segment here (null when none). */
  readonly oldestWrittenMs: number | null;
  readonly newestWrittenMs: number | null;
  /** Start of the first and end of the last partition hour held (ms), i.e. the time span of the data. */
  readonly firstHourMs: number | null;
  readonly lastHourEndMs: number | null;
}

export class Catalog {
  readonly #tables = new Map<TableName, Map<number, Segment[]>>();
  #maxSequence = 0;

  constructor() {
    for (const t of Object.keys(TABLES) as TableName[]) this.#tables.set(t, new Map());
  }

  /** Highest sequence number seen (including segments since removed). */
  get maxSequence(): number {
    return this.#maxSequence;
  }

  add(s: Segment): void {
    const parts = this.#tables.get(s.table)!;
    let list = parts.get(s.hour);
    if (list === undefined) parts.set(s.hour, (list = []));
    list.push(s);
    list.sort((a, b) => a.first - b.first);
    if (s.last > this.#maxSequence) this.#maxSequence = s.last;
  }

  remove(s: Segment): void {
    const parts = this.#tables.get(s.table)!;
    const list = parts.get(s.hour);
    if (list === undefined) return;
    const i = list.findIndex((x) => x.path === s.path);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) parts.delete(s.hour);
  }

  /** Partitions of a table with their segments in sequence order (do not mutate). */
  partitions(table: TableName): ReadonlyMap<number, readonly Segment[]> {
    return this.#tables.get(table)!;
  }

  /** Every live segment of every table. */
  all(): Segment[] {
    const out: Segment[] = [];
    for (const parts of this.#tables.values()) for (const list of parts.values()) out.push(...list);
    return out;
  }

  totals(table: TableName): CatalogTotals {
    let segments = 0;
    let bytes = 0;
    let oldest = Infinity;
    let newest = -Infinity;
    let firstHour = Infinity;
    let lastHour = -Infinity;
    for (const [hour, list] of this.#tables.get(table)!) {
      if (hour < firstHour) firstHour = hour;
      if (hour > lastHour) lastHour = hour;
      for (const s of list) {
        segments++;
        bytes += s.bytes;
        if (s.writtenMs < oldest) oldest = s.writtenMs;
        if (s.writtenMs > newest) newest = s.writtenMs;
      }
    }
    return segments === 0
      ? { segments, bytes, oldestWrittenMs: null, newestWrittenMs: null, firstHourMs: null, lastHourEndMs: null }
      : { segments, bytes, oldestWrittenMs: oldest, newestWrittenMs: newest, firstHourMs: firstHour * HOUR_MS, lastHourEndMs: (lastHour + 1) * HOUR_MS };
  }
}
