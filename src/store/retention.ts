/**
 * Retention, as nfexpire does it: segments older than `maxAgeMs` go, then the oldest go until the
 * store holds at most `maxBytes`. Age is counted from when a segment was written into this store
 * (its name says when), not from the flows' times, so an imported old capture is kept until it has
 * aged here. Oldest first means by written time, then sequence.
 */
import { dirname } from 'node:path';
import { rmdirIfEmpty, unlinkIfPresent } from '../util/durable.js';
import type { Segment } from './layout.js';

export interface RetentionOptions {
  /** Segments written here longer ago than this are deleted (no limit when undefined). */
  readonly maxAgeMs?: number;
  /** The live segments of all tables together keep at most this many bytes (no limit when undefined). */
  readonly maxBytes?: number;
}

export interface ExpiryPlan {
  readonly age: readonly Segment[];
  readonly size: readonly Segment[];
}

export function planRetention(segments: readonly Segment[], nowMs: number, o: RetentionOptions): ExpiryPlan {
  const sorted = [...segments].sort((a, b) => a.writtenMs - b.writtenMs || a.first - b.first);
  const age: Segment[] = [];
  const size: Segment[] = [];
  let i = 0;
  if (o.maxAgeMs !== undefined) {
    const limit = nowMs - o.maxAgeMs;
    while (i < sorted.length && sorted[i]!.writtenMs < limit) age.push(sorted[i++]!);
  }
  if (o.maxBytes !== undefined) {
    let total = 0;
    for (let j = i; j < sorted.length; j++) total += sorted[j]!.bytes;
    while (i < sorted.length && total > o.maxBytes) {
      const s = sorted[i++]!;
      size.push(s);
      total -= s.bytes;
    }
  }
  return { age, size };
}

/** Deletes segments and the partition and day directories they leave empty. */
export async function deleteSegments(segments: readonly Segment[]): Promise<void> {
  const dirs = new Set<string>();
  for (const s of segments) {
    await unlinkIfPresent(s.path);
    dirs.add(dirname(s.path));
  }
  for (const d of dirs) if (await rmdirIfEmpty(d)) await rmdirIfEmpty(dirname(d));
}
