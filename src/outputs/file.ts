import { createWriteStream, existsSync, mkdirSync, openSync, rename, type WriteStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { checkCodec, createFrameCompressor } from './frame-compress.js';
import { BLOCKING_BOUND_BYTES, NONBLOCKING_BOUND_BYTES, countDrop, countLines, newCounters, type Compression, type Output, type OutputLog } from './output.js';
import { strftimeUtc } from './strftime.js';
import { SluiceError } from '../util/errors.js';

export interface FileOutputOptions {
  /** Directory pattern, strftime escapes in UTC. */
  readonly path: string;
  readonly prefix: string;
  /** Seconds per file; at least 60 unless `allowShortWindow` (tests). */
  readonly timeWindow: number;
  readonly timeAlignment: boolean;
  readonly compression: Compression;
  readonly blocking?: boolean;
  /** Clock in ms (tests inject one). */
  readonly now?: () => number;
  readonly allowShortWindow?: boolean;
}

interface OpenFile {
  readonly tmp: string;
  readonly final: string;
  readonly file: WriteStream;
  /** Where lines go: the file, or the compressor in front of it. */
  readonly sink: Writable;
  readonly end: number;
  failed: boolean;
}

let tmpSeq = 0;

const EXTENSIONS: Record<Compression, string> = { none: '', gzip: '.gz', lz4: '.lz4', zstd: '.zst' };

/**
 * `file`: one file per time window, named `<path with strftime>/<prefix><YYYYmmddHHMM>[.gz|.lz4|.zst]` after
 * the window's start (UTC; `SS` appended when the window is not whole minutes). Lines go to a hidden
 * temporary name in the same directory, renamed when the window closes (or on close()), so readers
 * never see a half-written file. With `timeAlignment` windows start at multiples of `timeWindow`
 * since the epoch; otherwise when the first line of a window arrives.
 */
export class FileOutput implements Output {
  readonly counters = newCounters();
  private cur: OpenFile | undefined;
  private readonly finishing = new Set<Promise<void>>();
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly bound: number;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Names handed out but maybe not yet renamed to, so two windows never pick the same final name. */
  private readonly reserved = new Set<string>();

  constructor(
    readonly name: string,
    private readonly opts: FileOutputOptions,
    private readonly log: OutputLog = () => {},
  ) {
    if (opts.compression === 'lz4' || opts.compression === 'zstd') {
      try {
        checkCodec(opts.compression);
      } catch (err) {
        throw new SluiceError('usage', `${name}: compression=${opts.compression} is not available here: ${(err as Error).message}`);
      }
    }
    if (!(opts.timeWindow > 0) || (opts.timeWindow < 60 && !opts.allowShortWindow)) {
      throw new SluiceError('usage', `${name}: timeWindow must be at least 60 seconds, not ${opts.timeWindow}`);
    }
    this.windowMs = Math.round(opts.timeWindow * 1000);
    this.now = opts.now ?? Date.now;
    this.bound = opts.blocking ? BLOCKING_BOUND_BYTES : NONBLOCKING_BOUND_BYTES;
    this.timer = setInterval(() => this.tick(), Math.min(1000, Math.max(10, this.windowMs / 4)));
    this.timer.unref();
  }

  /** Closes the current file if its window has passed (also runs on a timer). */
  tick(): void {
    if (this.cur !== undefined && this.now() >= this.cur.end) this.finish();
  }

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.closed) return countDrop(this.counters, bytes, 'closed');
    const now = this.now();
    if (this.cur !== undefined && now >= this.cur.end) this.finish();
    if (this.cur === undefined) {
      try {
        this.cur = this.openWindow(now);
      } catch (err) {
        this.log('error', `${this.name}: cannot open a file: ${(err as Error).message}`);
        return countDrop(this.counters, bytes, 'open-error');
      }
    }
    const f = this.cur;
    if (f.failed) return countDrop(this.counters, bytes, 'write-error');
    if (f.sink.writableLength > this.bound) return countDrop(this.counters, bytes, this.opts.blocking ? 'blocking-bound' : 'overflow');
    f.sink.write(bytes);
    this.counters.written += countLines(bytes);
  }

  private openWindow(now: number): OpenFile {
    const start = this.opts.timeAlignment ? Math.floor(now / this.windowMs) * this.windowMs : now;
    const dir = strftimeUtc(this.opts.path, start);
    mkdirSync(dir, { recursive: true });
    const stamp = strftimeUtc(this.windowMs % 60_000 === 0 ? '%Y%m%d%H%M' : '%Y%m%d%H%M%S', start);
    const ext = EXTENSIONS[this.opts.compression];
    const final = join(dir, `${this.opts.prefix}${stamp}${ext}`);
    const tmp = join(dir, `.${basename(final)}.${process.pid}.${++tmpSeq}.tmp`);
    // Opened here, synchronously: the temp file exists at once and a failure is known now.
    const file = createWriteStream(tmp, { fd: openSync(tmp, 'wx') });
    let sink: Writable = file;
    const c = this.opts.compression;
    if (c !== 'none') {
      const z = c === 'gzip' ? createGzip({ level: 6 }) : createFrameCompressor(c);
      z.pipe(file);
      sink = z;
    }
    const f: OpenFile = { tmp, final, file, sink, end: start + this.windowMs, failed: false };
    const onError = (err: Error) => {
      if (!f.failed) this.log('error', `${this.name}: writing ${tmp}: ${err.message}`);
      f.failed = true;
    };
    file.on('error', onError);
    if (sink !== file) sink.on('error', onError);
    return f;
  }

  /** Ends the current file and renames it once everything (compressor trailer included) is on disk. */
  private finish(): void {
    const f = this.cur;
    if (f === undefined) return;
    this.cur = undefined;
    const done = new Promise<void>((resolve) => {
      f.file.once('close', () => {
        if (f.failed) {
          this.log('error', `${this.name}: ${f.tmp} left under its temporary name after a write error`);
          return resolve();
        }
        const target = this.uniqueName(f.final);
        rename(f.tmp, target, (err) => {
          this.reserved.delete(target);
          if (err) this.log('error', `${this.name}: cannot rename ${f.tmp} to ${target}: ${err.message}`);
          resolve();
        });
      });
      f.sink.end();
    });
    this.finishing.add(done);
    void done.then(() => this.finishing.delete(done));
  }

  /** `name`, or `name.1`, `name.2`... when a file of that name exists (a restart within a window). */
  private uniqueName(name: string): string {
    let n = name;
    for (let i = 1; i < 10_000 && (existsSync(n) || this.reserved.has(n)); i++) n = `${name}.${i}`;
    this.reserved.add(n);
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.finish();
    await Promise.all([...this.finishing]);
  }

  /** The directory the current window writes to (for logs). */
  get currentDir(): string | undefined {
    return this.cur && dirname(this.cur.final);
  }
}
