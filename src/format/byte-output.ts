/**
 * A growable byte buffer that formatters write into directly: `buf` holds `len` valid bytes.
 * Writers call ensure(n) before writing up to n bytes at `len` and then advance `len` themselves;
 * ensure() may replace `buf`, so a writer re-reads it after every ensure().
 */
export class ByteOutput {
  buf: Buffer;
  len = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(64, initialBytes));
  }

  /** Makes room for n more bytes after `len` (capacity grows by doubling). */
  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafeSlow(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Appends text as UTF-8. */
  writeString(text: string): void {
    if (text.length === 0) return;
    this.ensure(text.length * 3);
    this.len += this.buf.write(text, this.len, 'utf8');
  }

  /** The bytes written so far, sharing memory with the buffer (valid until the next write or reset). */
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /**
   * A copy of the bytes written so far in a buffer of its own (not from the shared pool, so its
   * ArrayBuffer can be transferred to another thread), then reset(). Safe to hand to stream.write().
   */
  take(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.len);
    this.buf.copy(out, 0, 0, this.len);
    this.len = 0;
    return out;
  }

  reset(): void {
    this.len = 0;
  }
}
