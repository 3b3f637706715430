/**
 * `store.json` (what the directory is, which format version, since when, and the sequence floor)
 * and `.lock` (one writer per store directory).
 */
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf, writeFileDurable } from '../util/durable.js';
import { SluiceError } from '../util/errors.js';
import { LOCK_FILE, STORE_FILE, STORE_FORMAT, STORE_VERSION } from './layout.js';

export interface StoreFile {
  readonly format: typeof STORE_FORMAT;
  readonly version: number;
  /** When the store was created (ISO-8601 UTC). */
  readonly created: string;
  /**
   * Segment sequence numbers at or below this were used once. Written before retention deletes,
   * so the sequence never goes back even when every segment has expired.
   */
  readonly sequenceFloor: number;
}

export class StoreFormatError extends SluiceError {
  constructor(message: string) {
    super('store', message);
  }
}

/** Reads store.json, or creates it in an empty (or new) store directory. */
export async function openStoreFile(root: string, tmpDir: string, nowMs: number): Promise<StoreFile> {
  const path = join(root, STORE_FILE);
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw e;
    const f: StoreFile = { format: STORE_FORMAT, version: STORE_VERSION, created: new Date(nowMs).toISOString(), sequenceFloor: 0 };
    await writeStoreFile(root, tmpDir, f);
    return f;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new StoreFormatError(`${path}: not JSON (${(e as Error).message})`);
  }
  const o = parsed as Partial<StoreFile>;
  if (typeof o !== 'object' || o === null || o.format !== STORE_FORMAT) throw new StoreFormatError(`${path}: not a sluice store (format is not "${STORE_FORMAT}")`);
  if (typeof o.version !== 'number' || o.version > STORE_VERSION) throw new StoreFormatError(`${path}: format version ${String(o.version)}, this sluice reads up to ${STORE_VERSION}`);
  return { format: STORE_FORMAT, version: o.version, created: String(o.created ?? ''), sequenceFloor: Number.isSafeInteger(o.sequenceFloor) ? o.sequenceFloor! : 0 };
}

export async function writeStoreFile(root: string, tmpDir: string, f: StoreFile): Promise<void> {
  await writeFileDurable(join(root, STORE_FILE), tmpDir, JSON.stringify(f, null, 2) + '\n');
}

export class StoreLockedError extends SluiceError {
  constructor(message: string) {
    super('store', message);
  }
}

const lockedHere = new Set<string>();

/**
 * Takes the store's writer lock: `.lock` holds the writer's pid. A lock whose process is gone
 * (kill -9) is taken over. Returns the release function.
 */
export async function acquireLock(root: string): Promise<() => Promise<void>> {
  const path = join(root, LOCK_FILE);
  if (lockedHere.has(root)) throw new StoreLockedError(`${root}: already open for writing in this process`);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await fsp.open(path, 'wx', 0o644);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST' || attempt >= 2) throw e;
      const pid = Number.parseInt(await fsp.readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new StoreLockedError(`${root}: locked by process ${pid}`);
      await fsp.rm(path, { force: true });
    }
  }
  lockedHere.add(root);
  return async () => {
    lockedHere.delete(root);
    await fsp.rm(path, { force: true });
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoOf(e) === 'EPERM';
  }
}
