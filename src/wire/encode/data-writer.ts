/**
 * Packs data records into IPFIX (RFC 7011) or NetFlow v9 (RFC 3954) messages no larger than a
 * byte limit (the path MTU minus IP and UDP headers), one set per run of records with the same
 * template. Records are written in place by the caller, so a record costs no allocation; a
 * finished message is copied out once.
 *
 * Pure: the caller supplies header values (export time, sequence, domain) when a message is done.
 */

export type TemplateVersion = 9 | 10;

export interface MessageHeader {
  /** Export time, seconds since the epoch. */
  readonly exportTimeSec: number;
  /** IPFIX: data records sent before this message; v9: packets sent before this one. */
  readonly sequence: number;
  /** IPFIX observation domain id / v9 source id. */
  readonly domainId: number;
  /** v9 only: the exporter's uptime in ms. */
  readonly sysUpTimeMs?: number;
}

/** Writes one record at `off`; returns the offset after it, or -1 when it does not fit before `limit`. */
export type RecordWriter<T> = (buf: Buffer, off: number, limit: number, value: T) => number;

export class DataMessageWriter {
  readonly headerLength: number;
  private readonly buf: Buffer;
  private pos: number;
  private setStart = -1;
  private setId = -1;
  private setRecords = 0;
  /** Data records in the message (IPFIX sequence accounting; v9 header count). */
  private msgRecords = 0;

  constructor(
    readonly version: TemplateVersion,
    /** Largest message in bytes. */
    readonly maxBytes: number,
  ) {
    this.headerLength = version === 10 ? 16 : 20;
    if (maxBytes < this.headerLength + 4 + 4 || maxBytes > 65535) throw new RangeError(`message size limit ${maxBytes} is out of range`);
    this.buf = Buffer.alloc(maxBytes);
    this.pos = this.headerLength;
  }

  /** Data records written since the last finish(). */
  get records(): number {
    return this.msgRecords;
  }

  get empty(): boolean {
    return this.msgRecords === 0;
  }

  /**
   * Appends a record of template `setId`. Returns false when it does not fit in this message (the
   * caller finishes the message and retries on the next); throws when it could never fit.
   */
  add<T>(setId: number, write: RecordWriter<T>, value: T): boolean {
    // v9 may pad the set by up to 3 bytes when it closes: keep room for that.
    const limit = this.version === 9 ? this.maxBytes - 3 : this.maxBytes;
    let at = this.pos;
    const newSet = this.setId !== setId;
    // A new set costs its 4-byte header, and v9 pads the set it closes.
    if (newSet) at = this.alignedEnd() + 4;
    const end = at <= limit ? write(this.buf, at, limit, value) : -1;
    if (end < 0) {
      if (this.msgRecords === 0) throw new RangeError(`a record of template ${setId} does not fit in a ${limit}-byte message`);
      return false;
    }
    if (newSet) {
      this.closeSet();
      this.setStart = at - 4;
      this.setId = setId;
      this.buf.writeUInt16BE(setId, this.setStart);
    }
    this.pos = end;
    this.setRecords++;
    this.msgRecords++;
    return true;
  }

  /** Closes the message and returns a copy of it; undefined when it holds no record. */
  finish(h: MessageHeader): Buffer | undefined {
    if (this.msgRecords === 0) return undefined;
    this.closeSet();
    const b = this.buf;
    const len = this.pos;
    if (this.version === 10) {
      b.writeUInt16BE(10, 0);
      b.writeUInt16BE(len, 2);
      b.writeUInt32BE(h.exportTimeSec >>> 0, 4);
      b.writeUInt32BE(h.sequence >>> 0, 8);
      b.writeUInt32BE(h.domainId >>> 0, 12);
    } else {
      b.writeUInt16BE(9, 0);
      b.writeUInt16BE(this.msgRecords, 2);
      b.writeUInt32BE((h.sysUpTimeMs ?? 0) >>> 0, 4);
      b.writeUInt32BE(h.exportTimeSec >>> 0, 8);
      b.writeUInt32BE(h.sequence >>> 0, 12);
      b.writeUInt32BE(h.domainId >>> 0, 16);
    }
    const out = Buffer.from(b.subarray(0, len));
    this.pos = this.headerLength;
    this.msgRecords = 0;
    return out;
  }

  /** Where the next set would start: v9 pads each set to 4 bytes (RFC 3954 5.3). */
  private alignedEnd(): number {
    if (this.setStart < 0 || this.version === 10) return this.pos;
    return this.pos + ((4 - ((this.pos - this.setStart) % 4)) % 4);
  }

  private closeSet(): void {
    if (this.setStart < 0) return;
    const end = this.alignedEnd();
    this.buf.fill(0, this.pos, end);
    this.pos = end;
    this.buf.writeUInt16BE(end - this.setStart, this.setStart + 2);
    this.setStart = -1;
    this.setId = -1;
    this.setRecords = 0;
  }
}
