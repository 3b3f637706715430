import type { Writable } from 'node:stream';

/**
 * Batches JSON text into large writes on a stream. When the stream cannot keep up and more than
 * `maxQueuedBytes` wait in its buffer, further text is dropped and counted rather than letting
 * memory grow without bound (a collector must keep receiving); offline decoding instead awaits
 * drain() so nothing is dropped.
 */
export class LineWriter {
  private chunk = '';
  droppedWrites = 0;
  droppedBytes = 0;

  constructor(
    private readonly stream: Writable,
    private readonly maxQueuedBytes = 256 * 1024 * 1024,
    private readonly chunkBytes = 256 * 1024,
  ) {}

  write(text: string): void {
    if (text.length === 0) return;
    this.chunk += text;
    if (this.chunk.length >= this.chunkBytes) this.flush();
  }

  flush(): void {
    if (this.chunk.length === 0) return;
    this.put(this.chunk, this.chunk.length);
    this.chunk = '';
  }

  /** Writes ready-encoded bytes (from a decode worker), after any pending text. */
  writeBytes(bytes: Buffer): void {
    this.flush();
    if (bytes.length > 0) this.put(bytes, bytes.length);
  }

  private put(data: string | Buffer, size: number): void {
    if (this.stream.writableLength > this.maxQueuedBytes) {
      this.droppedWrites++;
      this.droppedBytes += size;
    } else {
      this.stream.write(data);
    }
  }

  /** Resolves when the stream's buffer is below its high-water mark. */
  async drain(): Promise<void> {
    this.flush();
    if (!this.stream.writableNeedDrain) return;
    await new Promise<void>((resolve) => this.stream.once('drain', resolve));
  }
}
