import type { Writable } from 'node:stream';
import { ByteOutput } from '../format/byte-output.js';

/**
 * Batches JSON text into large writes on a stream. When the stream cannot keep up and more than
 * `maxQueuedBytes` wait in its buffer, further text is dropped and counted rather than letting
 * memory grow without bound (a collector must keep receiving); offline decoding instead awaits
 * drain() so nothing is dropped.
 */
export class LineWriter {
  private chunk = '';
  /**
   * Formatters write UTF-8 here directly (formatBatchInto), then call commit(). Written in order
   * with the text: text that comes while bytes are pending is appended to them.
   */
  readonly bytes = new ByteOutput(64 * 1024);
  droppedWrites = 0;
  droppedBytes = 0;

  constructor(
    private readonly stream: Writable,
    private readonly maxQueuedBytes = 256 * 1024 * 1024,
    private readonly chunkBytes = 256 * 1024,
  ) {}

  write(text: string): void {
    if (text.length === 0) return;
    if (this.bytes.len > 0) {
      this.bytes.writeString(text);
      this.commit();
      return;
    }
    this.chunk += text;
    if (this.chunk.length >= this.chunkBytes) this.flush();
  }

  /** Call after writing into `bytes`: writes them out once a chunk's worth has gathered. */
  commit(): void {
    if (this.bytes.len >= this.chunkBytes) this.flush();
  }

  flush(): void {
    if (this.chunk.length > 0) {
      this.put(this.chunk, this.chunk.length);
      this.chunk = '';
    }
    // A copy, so the buffer can be reused while the stream still holds the chunk.
    if (this.bytes.len > 0) {
      const data = this.bytes.take();
      this.put(data, data.length);
    }
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
