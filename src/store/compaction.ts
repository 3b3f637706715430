/**
 * Compaction: the small segments of one partition merged into one by DuckDB (read_parquet of the
 * inputs, COPY to a temp file, fsync, rename into the partition). The merged segment's name takes
 * the inputs' sequence range, so from the moment it is in place a listing ignores the inputs; they
 * are then moved out of the live tree. Only a contiguous run of a partition's segments (in sequence
 * order) is merged, so a merged range never covers a segment that was not an input.
 */
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import type { Catalog } from './catalog.js';
import { renameDurable, syncPath, unlinkIfPresent } from '../util/durable.js';
import { HOUR_MS, segmentFileName, type Segment } from './layout.js';
import { TABLES, type TableName } from './schema.js';

export interface CompactionOptions {
  /** Segments smaller than this are merged (default 64 MiB). */
  readonly smallBytes: number;
  /** An open partition is merged once it has this many flush segments in a row (default 16). */
  readonly minSegments: number;
  /** A partition is closed this long after its hour ended (default 15 min); then any two small segments in a row are merged. */
  readonly closeAfterMs: number;
  /** Input bytes one maintenance run merges at most (default 256 MiB; a first merge of two segments always runs). */
  readonly maxBytesPerRun: number;
  /** Input files of one merge at most (default 256). */
  readonly maxInputs: number;
  /**
   * Segments written further apart than this are not merged together (default 1 h): the merged
   * segment counts as written when its newest input was, so retention by age stays exact to within this.
   */
  readonly maxWrittenSpreadMs: number;
}

export const DEFAULT_COMPACTION: CompactionOptions = {
  smallBytes: 64 * 1024 * 1024,
  minSegments: 16,
  closeAfterMs: 15 * 60_000,
  maxBytesPerRun: 256 * 1024 * 1024,
  maxInputs: 256,
  maxWrittenSpreadMs: HOUR_MS,
};

export interface MergePlan {
  readonly table: TableName;
  readonly hour: number;
  /** Contiguous in the partition's sequence order. */
  readonly inputs: readonly Segment[];
}

/**
 * The merges one run should do, oldest partitions first, within the run's byte budget. In an open
 * partition only segments written by a flush are merged (so a growing merged segment is not
 * rewritten again and again while its hour is still filling); a closed partition's small segments
 * are merged whatever made them.
 */
export function planCompaction(catalog: Catalog, nowMs: number, o: CompactionOptions): MergePlan[] {
  const plans: MergePlan[] = [];
  let budget = o.maxBytesPerRun;
  const candidates: { table: TableName; hour: number; run: Segment[] }[] = [];
  for (const table of Object.keys(TABLES) as TableName[]) {
    for (const [hour, segments] of catalog.partitions(table)) {
      const closed = nowMs >= (hour + 1) * HOUR_MS + o.closeAfterMs;
      let run: Segment[] = [];
      let lo = Infinity;
      let hi = -Infinity;
      const close = (): void => {
        if (run.length >= 2 && (closed || run.length >= o.minSegments)) candidates.push({ table, hour, run });
        run = [];
        lo = Infinity;
        hi = -Infinity;
      };
      for (const s of segments) {
        if (s.bytes >= o.smallBytes || (!closed && s.first !== s.last)) {
          close();
          continue;
        }
        if (Math.max(hi, s.writtenMs) - Math.min(lo, s.writtenMs) > o.maxWrittenSpreadMs || run.length >= o.maxInputs) close();
        run.push(s);
        lo = Math.min(lo, s.writtenMs);
        hi = Math.max(hi, s.writtenMs);
      }
      close();
    }
  }
  candidates.sort((a, b) => a.hour - b.hour);
  for (const c of candidates) {
    const inputs: Segment[] = [];
    let bytes = 0;
    for (const s of c.run) {
      if (inputs.length >= 2 && bytes + s.bytes > budget) break;
      inputs.push(s);
      bytes += s.bytes;
    }
    if (plans.length > 0 && bytes > budget) break;
    plans.push({ table: c.table, hour: c.hour, inputs });
    budget -= bytes;
    if (budget <= 0) break;
  }
  return plans;
}

let mergeCount = 0;

/**
 * Writes the merged segment and puts it in place; returns it. The inputs stay where they are (the
 * caller moves them out). On failure the temp file is removed and the error passed on.
 */
export async function mergeSegments(con: DuckDBConnection, root: string, tmpDir: string, plan: MergePlan): Promise<Segment> {
  const tmp = join(tmpDir, `merge-${process.pid}-${++mergeCount}.parquet`);
  try {
    const paths = plan.inputs.map((s) => s.path);
    // union_by_name: segments of an older format version (fewer columns) merge with newer ones.
    await con.run(`COPY (SELECT * FROM read_parquet($1, union_by_name = true)) TO $2 (FORMAT parquet, COMPRESSION zstd)`, [listValue(paths), tmp]);
    await syncPath(tmp);
    const bytes = (await fsp.stat(tmp)).size;
    const first = Math.min(...plan.inputs.map((s) => s.first));
    const last = Math.max(...plan.inputs.map((s) => s.last));
    const writtenMs = Math.max(...plan.inputs.map((s) => s.writtenMs));
    const path = join(dirname(plan.inputs[0]!.path), segmentFileName({ first, last, writtenMs }));
    await renameDurable(root, tmp, path);
    return { table: plan.table, hour: plan.hour, first, last, writtenMs, path, bytes };
  } catch (e) {
    await unlinkIfPresent(tmp).catch(() => undefined);
    throw e;
  }
}
