/**
 * The disk spool under `<data_directory>`: a write-ahead log of upload batches.
 *
 *   spool/<target>/<createdMs>-<seq>-<flows>.<csv|ndjson>.gz   waiting to be sent (or being sent)
 *   rejected/<target>/<same name> + .reply.txt                  refused with a 4xx, kept for inspection
 *   tmp/                                                        files being written (removed at open)
 *
 * Every batch is written here, durably, before its first POST, and its file is deleted only after
 * a 2xx. A file appears under spool/ only complete: it is written to tmp/, fsynced, renamed into
 * place and the directory fsynced. So a crash at any moment leaves every batch that ever reached
 * spool/ intact and unsent-or-resendable, and no half-written file is ever sent; the only batches a
 * crash can send twice are those that were in flight (the POST went out, the delete did not).
 *
 * File names sort by creation time then sequence, so "oldest first" is name order, and they carry
 * the flow count so pruning can count what it deletes without opening the file.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';

export type BatchFormat = 'csv' | 'ndjson';

export interface SpoolEntry {
  /** Directory name of the target under spool/ ("pce", "http-<name>"). */
  readonly target: string;
  readonly name: string;
  readonly createdMs: number;
  readonly seq: number;
  /** Aggregated flows (lines) in the batch. */
  readonly flows: number;
  /** Bytes on disk (the gzip file). */
  size: number;
  onDisk: boolean;
  /** The gzip bytes, held while the file could not be written, and until the first send after a write. */
  body: Buffer | undefined;
  inFlight: boolean;
  /** Deleted unsent (pruned or given up); whoever queues it skips it. */
  gone: boolean;
  rejected: boolean;
}

/** The file operations the spool needs; the default is node:fs. Tests substitute failures (ENOSPC). */
export interface SpoolIo {
  mkdir(dir: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  /** Writes `data` to a new file and fsyncs it. */
  writeDurable(path: string, data: Buffer | string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  syncDir(dir: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  size(path: string): Promise<number>;
}

export const nodeSpoolIo: SpoolIo = {
  async mkdir(dir) {
    await fsp.mkdir(dir, { recursive: true });
  },
  async readdir(dir) {
    try {
      return await fsp.readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  },
  async writeDurable(path, data) {
    const fh = await fsp.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async rename(from, to) {
    await fsp.rename(from, to);
  },
  async syncDir(dir) {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async unlink(path) {
    try {
      await fsp.unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  },
  readFile: (path) => fsp.readFile(path),
  async size(path) {
    return (await fsp.stat(path)).size;
  },
};

const NAME_RE = /^(\d{13})-(\d{10})-(\d+)\.(csv|ndjson)\.gz$/;

export function entryName(createdMs: number, seq: number, flows: number, format: BatchFormat): string {
  return `${String(createdMs).padStart(13, '0')}-${String(seq).padStart(10, '0')}-${flows}.${format}.gz`;
}

export function parseEntryName(name: string): { createdMs: number; seq: number; flows: number; format: BatchFormat } | undefined {
  const m = NAME_RE.exec(name);
  if (m === null) return undefined;
  return { createdMs: Number(m[1]), seq: Number(m[2]), flows: Number(m[3]), format: m[4] as BatchFormat };
}

export interface SpoolLimits {
  /** Bytes of spool + rejected files kept; the oldest are deleted beyond it. */
  readonly maxBytes: number;
  /** Files older than this are deleted. */
  readonly retentionMs: number;
  /** Bytes of batches held in memory while the disk cannot be written. */
  readonly maxMemoryBytes: number;
}

export type PruneReason = 'size' | 'age';

export interface PruneEvent {
  readonly entry: SpoolEntry;
  readonly reason: PruneReason | 'memory_full';
}

export class Spool {
  readonly spoolDir: string;
  readonly rejectedDir: string;
  readonly tmpDir: string;
  #seq = 0;
  /** Every entry on disk or held in memory (spooled and rejected), by path-ish key. */
  readonly #entries = new Set<SpoolEntry>();
  #diskBytes = 0;
  #memoryBytes = 0;
  /** Kept up to date on every change, so gauges cost nothing per send even with a long spool. */
  readonly #waiting = new Map<string, { batches: number; flows: number }>();
  readonly #held = { batches: 0, flows: 0 };

  constructor(
    readonly dir: string,
    readonly limits: SpoolLimits,
    readonly io: SpoolIo = nodeSpoolIo,
    readonly now: () => number = Date.now,
  ) {
    this.spoolDir = join(dir, 'spool');
    this.rejectedDir = join(dir, 'rejected');
    this.tmpDir = join(dir, 'tmp');
  }

  get diskBytes(): number {
    return this.#diskBytes;
  }
  get memoryBytes(): number {
    return this.#memoryBytes;
  }
  get memoryBatches(): number {
    return this.memoryHeld().batches;
  }

  /** Batches (and their flows) held only in memory because the disk refused them. */
  memoryHeld(): { batches: number; flows: number } {
    return { ...this.#held };
  }

  /** Adds (+1) or takes away (-1) an entry's share of the totals, by its flags at the time. */
  #track(e: SpoolEntry, sign: 1 | -1): void {
    if (e.gone) return;
    if (!e.rejected) {
      let w = this.#waiting.get(e.target);
      if (w === undefined) this.#waiting.set(e.target, (w = { batches: 0, flows: 0 }));
      w.batches += sign;
      w.flows += sign * e.flows;
    }
    if (!e.onDisk) {
      this.#held.batches += sign;
      this.#held.flows += sign * e.flows;
    }
  }

  /**
   * Creates the directories, deletes leftovers in tmp/ (never complete, never sent), and returns
   * what spool/ holds per target, oldest first. Rejected files are counted for the size limit.
   */
  async open(): Promise<Map<string, SpoolEntry[]>> {
    await this.io.mkdir(this.spoolDir);
    await this.io.mkdir(this.rejectedDir);
    await this.io.mkdir(this.tmpDir);
    for (const n of await this.io.readdir(this.tmpDir)) await this.io.unlink(join(this.tmpDir, n));
    const out = new Map<string, SpoolEntry[]>();
    for (const [base, rejected] of [[this.spoolDir, false], [this.rejectedDir, true]] as const) {
      for (const target of (await this.io.readdir(base)).sort()) {
        const list: SpoolEntry[] = [];
        for (const name of (await this.io.readdir(join(base, target))).sort()) {
          const p = parseEntryName(name);
          if (p === undefined) {
            // A reply beside a rejected batch counts towards the size limit; foreign files do not.
            if (rejected && name.endsWith('.reply.txt')) this.#diskBytes += await this.io.size(join(base, target, name));
            continue;
          }
          const size = await this.io.size(join(base, target, name));
          const e: SpoolEntry = { target, name, createdMs: p.createdMs, seq: p.seq, flows: p.flows, size, onDisk: true, body: undefined, inFlight: false, gone: false, rejected };
          this.#entries.add(e);
          this.#track(e, 1);
          this.#diskBytes += size;
          if (p.seq >= this.#seq) this.#seq = p.seq + 1;
          list.push(e);
        }
        if (!rejected && list.length > 0) out.set(target, list);
      }
    }
    return out;
  }

  #path(e: SpoolEntry): string {
    return join(e.rejected ? this.rejectedDir : this.spoolDir, e.target, e.name);
  }

  /**
   * Writes a new batch durably and returns its entry. When the disk refuses (ENOSPC, EIO, …) the
   * entry is returned held in memory (`onDisk` false) together with the error, so the batch is
   * still sent and can be written later by persist().
   */
  async write(target: string, flows: number, format: BatchFormat, gz: Buffer): Promise<{ entry: SpoolEntry; error?: NodeJS.ErrnoException }> {
    const createdMs = this.now();
    const name = entryName(createdMs, this.#seq++, flows, format);
    const e: SpoolEntry = { target, name, createdMs, seq: this.#seq - 1, flows, size: gz.length, onDisk: false, body: gz, inFlight: false, gone: false, rejected: false };
    this.#entries.add(e);
    this.#track(e, 1);
    this.#memoryBytes += gz.length;
    const error = await this.persist(e);
    return error === undefined ? { entry: e } : { entry: e, error };
  }

  /** Writes a memory-held entry to disk; returns the error when the disk still refuses. */
  async persist(e: SpoolEntry): Promise<NodeJS.ErrnoException | undefined> {
    if (e.onDisk || e.gone || e.body === undefined) return undefined;
    const dir = join(this.spoolDir, e.target);
    const tmp = join(this.tmpDir, `${e.name}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await this.io.mkdir(dir);
      await this.io.writeDurable(tmp, e.body);
      await this.io.rename(tmp, join(dir, e.name));
      await this.io.syncDir(dir);
    } catch (err) {
      await this.io.unlink(tmp).catch(() => undefined);
      return err as NodeJS.ErrnoException;
    }
    this.#track(e, -1);
    e.onDisk = true;
    this.#track(e, 1);
    this.#memoryBytes -= e.body.length;
    this.#diskBytes += e.size;
    return undefined;
  }

  /** The batch's gzip bytes (from memory when held there). Keeps nothing in memory afterwards. */
  async read(e: SpoolEntry): Promise<Buffer> {
    if (e.body !== undefined) {
      const b = e.body;
      if (e.onDisk) e.body = undefined; // on disk: memory need not hold it any longer
      return b;
    }
    return this.io.readFile(this.#path(e));
  }

  /** Drops the memory copy of an on-disk entry (after its first send attempt). */
  release(e: SpoolEntry): void {
    if (e.onDisk) e.body = undefined;
  }

  /** Deletes a delivered batch. */
  async remove(e: SpoolEntry): Promise<void> {
    if (!this.#entries.delete(e)) return;
    this.#track(e, -1);
    e.gone = true;
    if (e.onDisk) {
      this.#diskBytes -= e.size;
      await this.io.unlink(this.#path(e));
    } else if (e.body !== undefined) {
      this.#memoryBytes -= e.body.length;
    }
    e.body = undefined;
  }

  /** Moves a refused batch to rejected/<target>/ with the reply beside it. */
  async reject(e: SpoolEntry, status: number, reply: string): Promise<void> {
    const dir = join(this.rejectedDir, e.target);
    await this.io.mkdir(dir);
    const note = `status ${status}\n${reply}\n`;
    if (e.onDisk) {
      await this.io.rename(this.#path(e), join(dir, e.name));
      this.#track(e, -1);
      e.rejected = true;
      this.#track(e, 1);
    } else if (e.body !== undefined) {
      try {
        await this.io.writeDurable(join(dir, e.name), e.body);
      } catch {
        // Cannot keep it on disk either: the rejection is logged and counted; the batch is gone.
        await this.remove(e);
        return;
      }
      this.#track(e, -1);
      this.#memoryBytes -= e.body.length;
      this.#diskBytes += e.size;
      e.onDisk = true;
      e.rejected = true;
      this.#track(e, 1);
    }
    e.body = undefined;
    try {
      await this.io.writeDurable(join(dir, `${e.name}.reply.txt`), note);
      this.#diskBytes += Buffer.byteLength(note);
    } catch {
      // The batch itself is kept; the reply is also in the log.
    }
    await this.io.syncDir(dir).catch(() => undefined);
  }

  /**
   * Deletes, oldest first, files past the retention time and then files beyond the size limit
   * (spool and rejected alike; batches in flight are left alone), and memory-held batches beyond
   * the memory bound. Returns what was deleted.
   */
  async prune(): Promise<PruneEvent[]> {
    const out: PruneEvent[] = [];
    const cutoff = this.now() - this.limits.retentionMs;
    const candidates = [...this.#entries].filter((e) => !e.inFlight && !e.gone).sort((a, b) => a.createdMs - b.createdMs || a.seq - b.seq);
    for (const e of candidates) {
      if (e.createdMs >= cutoff) break;
      out.push({ entry: e, reason: 'age' });
      await this.#delete(e);
    }
    for (const e of candidates) {
      if (this.#diskBytes <= this.limits.maxBytes) break;
      if (e.gone || !e.onDisk) continue;
      out.push({ entry: e, reason: 'size' });
      await this.#delete(e);
    }
    for (const e of candidates) {
      if (this.#memoryBytes <= this.limits.maxMemoryBytes) break;
      if (e.gone || e.onDisk) continue;
      out.push({ entry: e, reason: 'memory_full' });
      await this.#delete(e);
    }
    return out;
  }

  async #delete(e: SpoolEntry): Promise<void> {
    const wasRejected = e.rejected;
    const path = this.#path(e);
    await this.remove(e);
    if (wasRejected) {
      const notePath = `${path}.reply.txt`;
      const size = await this.io.size(notePath).catch(() => 0);
      await this.io.unlink(notePath).catch(() => undefined);
      this.#diskBytes -= size;
    }
  }

  /** Per-target totals of what waits in spool/ (and memory), for the gauges. */
  totals(): Map<string, { batches: number; flows: number }> {
    return new Map([...this.#waiting].map(([k, v]) => [k, { ...v }]));
  }
}
