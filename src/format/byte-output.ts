/**
 * A growable byte buffer that formatters write into directly: `buf` holds `len` valid bytes.
 * Writers call ensure(n) before writing up to n bytes at `len` and then advance `len` themselves;
 * ensure() may replace `buf` (and `dv`), so a writer re-reads them after every ensure().
 */
export class ByteOutput {
  private b: Buffer;
  /**
   * A DataView over `buf`: the compiled formatters store literal text four bytes at a time with
   * setUint32, a quarter of the stores that byte-wise writing takes.
   */
  private v: DataView;
  len = 0;

  constructor(initialBytes = 64 * 1024) {
    this.b = Buffer.allocUnsafeSlow(Math.max(64, initialBytes));
    this.v = new DataView(this.b.buffer, this.b.byteOffset, this.b.byteLength);
  }

  get buf(): Buffer {
    return this.b;
  }

  get dv(): DataView {
    return this.v;
  }

  /** Makes room for n more bytes after `len` (capacity grows by doubling). */
  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.b.length) return;
    let cap = this.b.length * 2;
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafeSlow(cap);
    this.b.copy(next, 0, 0, this.len);
    this.b = next;
    this.v = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** Appends text as UTF-8. */
  writeString(text: string): void {
    if (text.length === 0) return;
    this.ensure(text.length * 3);
    this.len += this.b.write(text, this.len, 'utf8');
  }

  /** The bytes written so far, sharing memory with the buffer (valid until the next write or reset). */
  view(): Buffer {
    return this.b.subarray(0, this.len);
  }

  /**
   * The bytes written so far in a buffer of its own (not from the shared pool, so its ArrayBuffer
   * can be transferred to another thread), then reset(). Safe to hand to stream.write(). A buffer
   * at least half full is handed over whole and replaced by a fresh one of the same size, which
   * saves copying it (at a megabyte per hand-over, the copy was a tenth of the JSON path's time).
   */
  take(): Buffer {
    const n = this.len;
    this.len = 0;
    if (n >= this.b.length >>> 1) {
      const out = this.b.subarray(0, n);
      this.b = Buffer.allocUnsafeSlow(this.b.length);
      this.v = new DataView(this.b.buffer, this.b.byteOffset, this.b.byteLength);
      return out;
    }
    const out = Buffer.allocUnsafeSlow(n);
    this.b.copy(out, 0, 0, n);
    return out;
  }

  reset(): void {
    this.len = 0;
  }
}
