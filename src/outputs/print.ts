import type { DropReasonOf } from '../util/drop-reasons.js';
import type { Writable } from 'node:stream';
import { BLOCKING_BOUND_BYTES, NONBLOCKING_BOUND_BYTES, countDrop, countLines, newCounters, type Output } from './output.js';

/**
 * `print`: JSON lines to a stream (stdout). When the reader falls behind by more than the bound,
 * further lines are dropped and counted (`overflow`) instead of growing memory without limit.
 */
export class PrintOutput implements Output {
  readonly counters = newCounters();
  private readonly bound: number;

  constructor(
    readonly name: string,
    private readonly stream: Writable = process.stdout,
    opts: { blocking?: boolean; boundBytes?: number } = {},
  ) {
    this.bound = opts.boundBytes ?? (opts.blocking ? BLOCKING_BOUND_BYTES : NONBLOCKING_BOUND_BYTES);
    this.blockingReason = opts.blocking ? 'blocking-bound' : 'overflow';
    stream.on('error', () => {
      this.broken = true;
    });
  }

  private readonly blockingReason: DropReasonOf<'output'>;
  private broken = false;

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.broken) return countDrop(this.counters, bytes, 'stream-error');
    if (this.stream.writableLength > this.bound) return countDrop(this.counters, bytes, this.blockingReason);
    this.stream.write(bytes);
    this.counters.written += countLines(bytes);
  }

  /** Waits (at most 10 s) until the stream has taken what is queued; stdout is not ended. */
  async close(): Promise<void> {
    if (this.broken || !this.stream.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 10_000);
      this.stream.once('drain', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
