/**
 * Templates that survive a restart: writes the template store's snapshot to DIR/templates.json and
 * reads it back at start. The store decides what a snapshot holds (wire/template-store.ts); this
 * class only owns the file.
 *
 * Writes are atomic (a temporary file, fsync, rename, fsync of the directory), so a crash leaves
 * the old file or the new one, never half of one. A write follows `debounceMs` after the first
 * change it was told about (later changes in that time ride along), every `refreshMs` (template
 * refreshes change nothing but last-seen times and are not reported as changes), and at stop.
 * Nothing here throws into the caller: a failed write or an unusable file is counted and logged.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lifecycle, Log } from '../model/contracts.js';
import { parseTemplateSnapshot, type TemplateSnapshot } from '../wire/template-store.js';

export interface TemplateStateOptions {
  /** Directory of templates.json; created when missing. */
  readonly dir: string;
  /** The snapshot to write: one store's, or the decode workers' joined with mergeSnapshots. */
  readonly take: () => TemplateSnapshot | Promise<TemplateSnapshot>;
  readonly log: Log;
  /** From the first change to its write. Default 2000 ms. */
  readonly debounceMs?: number;
  /** A write this often whatever happened, so refreshed last-seen times are kept. Default 60 s; 0: never. */
  readonly refreshMs?: number;
}

export interface TemplateStateCounters {
  writes: number;
  writeErrors: number;
  /** Files found but not used (unreadable, not JSON, not a snapshot). */
  loadErrors: number;
}

export const TEMPLATE_STATE_FILE = 'templates.json';

export class TemplateState implements Lifecycle {
  readonly path: string;
  readonly counters: TemplateStateCounters = { writes: 0, writeErrors: 0, loadErrors: 0 };
  private readonly tmpPath: string;
  private readonly debounceMs: number;
  private readonly refreshMs: number;
  private pending: NodeJS.Timeout | undefined;
  private refresh: NodeJS.Timeout | undefined;
  /** The write in progress (or the last one): writes never overlap. */
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: TemplateStateOptions) {
    this.path = join(opts.dir, TEMPLATE_STATE_FILE);
    this.tmpPath = join(opts.dir, `.${TEMPLATE_STATE_FILE}.tmp`);
    this.debounceMs = opts.debounceMs ?? 2000;
    this.refreshMs = opts.refreshMs ?? 60_000;
  }

  /**
   * The saved snapshot, checked; undefined when there is none, or when the file cannot be used
   * (logged with the reason and the position in the file, never fatal).
   */
  async load(): Promise<TemplateSnapshot | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.counters.loadErrors++;
      this.opts.log.warn({ path: this.path, err: (err as Error).message }, 'template state not readable; starting without it');
      return undefined;
    }
    try {
      return parseTemplateSnapshot(JSON.parse(text));
    } catch (err) {
      // JSON.parse names the position of a syntax error; parseTemplateSnapshot names the path.
      this.counters.loadErrors++;
      this.opts.log.warn({ path: this.path, err: (err as Error).message }, 'template state ignored: not a usable snapshot');
      return undefined;
    }
  }

  /** Starts the periodic write. */
  async start(): Promise<void> {
    if (this.refreshMs > 0 && this.refresh === undefined && !this.stopped) {
      this.refresh = setInterval(() => void this.write(), this.refreshMs);
      this.refresh.unref();
    }
  }

  /** Something worth keeping changed (a template defined or withdrawn, options learned). */
  changed(): void {
    if (this.stopped || this.pending !== undefined) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.write();
    }, this.debounceMs);
    this.pending.unref();
  }

  /** Writes the current snapshot now (after any write in progress). Resolves when done; never rejects. */
  write(): Promise<void> {
    this.writing = this.writing.then(() => this.writeOnce());
    return this.writing;
  }

  /** Stops the timers and writes a last time. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pending);
    clearInterval(this.refresh);
    this.pending = this.refresh = undefined;
    await this.write();
  }

  private async writeOnce(): Promise<void> {
    try {
      const text = JSON.stringify(await this.opts.take());
      await mkdir(this.opts.dir, { recursive: true });
      const fh = await open(this.tmpPath, 'w', 0o644);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(this.tmpPath, this.path);
      await syncDir(this.opts.dir);
      this.counters.writes++;
    } catch (err) {
      this.counters.writeErrors++;
      this.opts.log.warn({ path: this.path, err: (err as Error).message }, 'template state not written; the previous file stays');
      await unlink(this.tmpPath).catch(() => undefined);
    }
  }
}

/** Makes a rename durable; some filesystems cannot open a directory for it, which costs durability only. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close();
  }
}
