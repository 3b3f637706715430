/**
 * Segments a merge replaced: moved out of the live tree into `.replaced/<movedMs>-<n>/`, keeping
 * their relative path, and deleted once the grace period has passed (counted from the time in the
 * batch directory's name, so it holds across restarts).
 */
import * as fsp from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { errnoOf, readdirOrEmpty, syncPath } from '../util/durable.js';
import { REPLACED_DIR, type SegmentFile } from './layout.js';

let batchCount = 0;

/** Moves segments out of the live tree. A segment already gone is skipped. Returns how many moved. */
export async function moveReplaced(root: string, segments: readonly SegmentFile[], movedMs: number): Promise<number> {
  if (segments.length === 0) return 0;
  const batch = join(root, REPLACED_DIR, `${Math.floor(movedMs)}-${process.pid}-${++batchCount}`);
  const sourceDirs = new Set<string>();
  let moved = 0;
  for (const s of segments) {
    const to = join(batch, relative(root, s.path));
    await fsp.mkdir(dirname(to), { recursive: true });
    try {
      await fsp.rename(s.path, to);
      moved++;
      sourceDirs.add(dirname(s.path));
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
  }
  // Not needed for correctness (a covered segment that reappears after a crash is moved again at
  // open), but it keeps a rebooted tree from showing files a reader globbing the tree would count twice.
  for (const d of sourceDirs) await syncPath(d).catch(() => undefined);
  return moved;
}

/** Deletes replaced batches older than `graceMs`; returns how many batches it removed. */
export async function sweepReplaced(root: string, nowMs: number, graceMs: number): Promise<number> {
  const dir = join(root, REPLACED_DIR);
  let removed = 0;
  for (const name of await readdirOrEmpty(dir)) {
    const m = /^(\d+)-/.exec(name);
    if (m !== null && nowMs - Number(m[1]) < graceMs) continue;
    await fsp.rm(join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
