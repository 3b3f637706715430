/**
 * The few file operations that make a segment durable: a file is fsynced before it is renamed into
 * place and the directory after, so after a crash a name is either absent or names a whole file.
 */
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';

export function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string' ? (e as { code: string }).code : undefined;
}

const DUCKDB_IO_CODES: readonly [RegExp, string][] = [
  [/No space left on device/i, 'ENOSPC'],
  [/Disk quota exceeded/i, 'EDQUOT'],
  [/Read-only file system/i, 'EROFS'],
  [/Input\/output error/i, 'EIO'],
  [/Permission denied/i, 'EACCES'],
];

/** The errno name of a failed write: node's code, or read off a DuckDB IO error's message; else "error". */
export function writeErrorCode(e: unknown): string {
  const code = errnoOf(e);
  if (code !== undefined) return code;
  const msg = e instanceof Error ? e.message : String(e);
  for (const [re, name] of DUCKDB_IO_CODES) if (re.test(msg)) return name;
  return 'error';
}

/** Flushes a file's (or directory's) data and metadata to the device. */
export async function syncPath(path: string): Promise<void> {
  const fh = await fsp.open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Creates `dir` and any missing parents below `root`, fsyncing the parent of each directory it
 * created so the new names survive a crash.
 */
export async function ensureDir(root: string, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; d !== root && d.startsWith(root); d = dirname(d)) {
    try {
      await fsp.stat(d);
      break;
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
      missing.push(d);
    }
  }
  for (const d of missing.reverse()) {
    try {
      await fsp.mkdir(d);
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw e;
    }
    await syncPath(dirname(d));
  }
}

/**
 * Renames `from` (already fsynced) to `to` and fsyncs the target directory. A directory removed
 * under us between its creation and the rename (retention removing an emptied partition) is made again.
 */
export async function renameDurable(root: string, from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await ensureDir(root, dirname(to));
    try {
      await fsp.rename(from, to);
      break;
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT' || attempt >= 2) throw e;
    }
  }
  await syncPath(dirname(to));
}

/** Writes a small file whole: temp file, fsync, rename, directory fsync. */
export async function writeFileDurable(path: string, tmpDir: string, data: string): Promise<void> {
  const tmp = join(tmpDir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`);
  const fh = await fsp.open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, path);
  await syncPath(dirname(path));
}

/** Entries of a directory; a directory that does not exist (or vanished) has none. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}

/** Removes a file; one already gone is fine. */
export async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await fsp.unlink(path);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw e;
  }
}

/** Removes a directory if it is empty; one that is not (or is gone) is left as it is. */
export async function rmdirIfEmpty(dir: string): Promise<boolean> {
  try {
    await fsp.rmdir(dir);
    return true;
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return false;
    throw e;
  }
}
