import { parseIp, parseMac } from '../packet/addr.js';
import { VARLEN } from '../template.js';

/**
 * Encoders for IPFIX and NetFlow v9 messages: the exporter side of the wire, used by tests, fuzzing,
 * benchmarks and (later) the probe. Values are given loosely and encoded by field length:
 * number/bigint -> big-endian integer of the field length (negative: two's complement),
 * string -> IPv4/IPv6/MAC when the length is 4/16/6 and the text parses as one, else UTF-8,
 * Buffer -> raw bytes, boolean -> 1 (true) / 2 (false) as RFC 7011 6.1.5 says.
 */
export interface EncField {
  readonly id: number;
  readonly pen?: number;
  /** Wire length; VARLEN (65535) for variable-length encoding. */
  readonly length: number;
}

export interface EncTemplate {
  readonly id: number;
  readonly fields: readonly EncField[];
  /** > 0 makes it an options template with that many leading scope fields. */
  readonly scopeCount?: number;
}

export type EncValue = number | bigint | string | Buffer | boolean;

export function encodeValue(value: EncValue, length: number): Buffer {
  if (Buffer.isBuffer(value)) return fit(value, length);
  if (typeof value === 'boolean') return fit(Buffer.from([value ? 1 : 2]), length);
  if (typeof value === 'string') {
    if (length === 4 || length === 16) {
      const ip = parseIp(value);
      if (ip !== undefined && ip.length === length) return ip;
    }
    if (length === 6) {
      const m = parseMac(value);
      if (m !== undefined) return m;
    }
    return fit(Buffer.from(value, 'utf8'), length);
  }
  if (length === VARLEN) throw new Error('a number needs a fixed field length');
  const b = Buffer.alloc(length);
  let v = BigInt.asUintN(length * 8, BigInt(value));
  for (let i = length - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
}

/** Pads with zeros / cuts to a fixed length, or adds the RFC 7011 7 length prefix for VARLEN. */
function fit(raw: Buffer, length: number): Buffer {
  if (length === VARLEN) {
    if (raw.length < 255) return Buffer.concat([Buffer.from([raw.length]), raw]);
    const h = Buffer.from([255, 0, 0]);
    h.writeUInt16BE(raw.length, 1);
    return Buffer.concat([h, raw]);
  }
  if (raw.length === length) return raw;
  const b = Buffer.alloc(length);
  raw.copy(b, 0, 0, Math.min(length, raw.length));
  return b;
}

function setHeader(id: number, body: Buffer[], padTo4: boolean): Buffer {
  let len = 4 + body.reduce((a, b) => a + b.length, 0);
  const pad = padTo4 ? (4 - (len % 4)) % 4 : 0;
  const h = Buffer.alloc(4);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(len + pad, 2);
  len += pad;
  return Buffer.concat([h, ...body, Buffer.alloc(pad)]);
}

export function encodeRecord(t: EncTemplate, values: readonly EncValue[]): Buffer {
  if (values.length !== t.fields.length) throw new Error(`template ${t.id} has ${t.fields.length} fields, got ${values.length} values`);
  return Buffer.concat(t.fields.map((f, k) => encodeValue(values[k]!, f.length)));
}

/** Builds IPFIX messages set by set. */
export class IpfixMessageBuilder {
  private readonly sets: Buffer[] = [];
  constructor(
    private readonly header: { domainId: number; exportTimeSec: number; sequence: number },
  ) {}

  templates(ts: readonly EncTemplate[]): this {
    const data = ts.filter((t) => !t.scopeCount);
    const opts = ts.filter((t) => t.scopeCount);
    const rec = (t: EncTemplate) => {
      const parts: Buffer[] = [];
      const h = Buffer.alloc(t.scopeCount ? 6 : 4);
      h.writeUInt16BE(t.id, 0);
      h.writeUInt16BE(t.fields.length, 2);
      if (t.scopeCount) h.writeUInt16BE(t.scopeCount, 4);
      parts.push(h);
      for (const f of t.fields) {
        const pen = f.pen ?? 0;
        const b = Buffer.alloc(pen ? 8 : 4);
        b.writeUInt16BE(pen ? f.id | 0x8000 : f.id, 0);
        b.writeUInt16BE(f.length, 2);
        if (pen) b.writeUInt32BE(pen, 4);
        parts.push(b);
      }
      return Buffer.concat(parts);
    };
    if (data.length) this.sets.push(setHeader(2, data.map(rec), false));
    if (opts.length) this.sets.push(setHeader(3, opts.map(rec), false));
    return this;
  }

  /** A template withdrawal (field count 0); id 2 / 3 withdraw all (options) templates. */
  withdraw(id: number, options = false): this {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(id, 0);
    this.sets.push(setHeader(options ? 3 : 2, [b], false));
    return this;
  }

  data(t: EncTemplate, records: readonly (readonly EncValue[])[], padTo4 = false): this {
    this.sets.push(setHeader(t.id, records.map((r) => encodeRecord(t, r)), padTo4));
    return this;
  }

  /** A set with arbitrary id and body (for malformed-input tests). */
  raw(setId: number, body: Buffer): this {
    this.sets.push(setHeader(setId, [body], false));
    return this;
  }

  build(): Buffer {
    const h = Buffer.alloc(16);
    const body = Buffer.concat(this.sets);
    h.writeUInt16BE(10, 0);
    h.writeUInt16BE(16 + body.length, 2);
    h.writeUInt32BE(this.header.exportTimeSec >>> 0, 4);
    h.writeUInt32BE(this.header.sequence >>> 0, 8);
    h.writeUInt32BE(this.header.domainId >>> 0, 12);
    return Buffer.concat([h, body]);
  }
}

/** Builds NetFlow v9 packets (RFC 3954). */
export class Netflow9PacketBuilder {
  private readonly sets: Buffer[] = [];
  private records = 0;
  constructor(private readonly header: { sourceId: number; unixSecs: number; sysUpTimeMs: number; sequence: number }) {}

  templates(ts: readonly EncTemplate[]): this {
    const data = ts.filter((t) => !t.scopeCount);
    const opts = ts.filter((t) => t.scopeCount);
    if (data.length) {
      const body = data.map((t) => {
        const b = Buffer.alloc(4 + 4 * t.fields.length);
        b.writeUInt16BE(t.id, 0);
        b.writeUInt16BE(t.fields.length, 2);
        t.fields.forEach((f, k) => {
          b.writeUInt16BE(f.id, 4 + 4 * k);
          b.writeUInt16BE(f.length, 6 + 4 * k);
        });
        return b;
      });
      this.sets.push(setHeader(0, body, true));
      this.records += data.length;
    }
    for (const t of opts) {
      const sc = t.scopeCount ?? 0;
      const b = Buffer.alloc(6 + 4 * t.fields.length);
      b.writeUInt16BE(t.id, 0);
      b.writeUInt16BE(sc * 4, 2);
      b.writeUInt16BE((t.fields.length - sc) * 4, 4);
      t.fields.forEach((f, k) => {
        b.writeUInt16BE(f.id, 6 + 4 * k);
        b.writeUInt16BE(f.length, 8 + 4 * k);
      });
      this.sets.push(setHeader(1, [b], true));
      this.records++;
    }
    return this;
  }

  data(t: EncTemplate, records: readonly (readonly EncValue[])[]): this {
    this.sets.push(setHeader(t.id, records.map((r) => encodeRecord(t, r)), true));
    this.records += records.length;
    return this;
  }

  build(): Buffer {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(9, 0);
    h.writeUInt16BE(this.records, 2);
    h.writeUInt32BE(this.header.sysUpTimeMs >>> 0, 4);
    h.writeUInt32BE(this.header.unixSecs >>> 0, 8);
    h.writeUInt32BE(this.header.sequence >>> 0, 12);
    h.writeUInt32BE(this.header.sourceId >>> 0, 16);
    return Buffer.concat([h, ...this.sets]);
  }
}

/** One NetFlow v5 record, by field. */
export interface V5Record {
  src: string;
  dst: string;
  nextHop?: string;
  input?: number;
  output?: number;
  packets: number;
  octets: number;
  firstMs: number;
  lastMs: number;
  srcPort: number;
  dstPort: number;
  tcpFlags?: number;
  protocol: number;
  tos?: number;
  srcAs?: number;
  dstAs?: number;
  srcMask?: number;
  dstMask?: number;
}

export function encodeNetflow5(
  h: { sysUpTimeMs: number; unixSecs: number; unixNsecs?: number; sequence: number; engineType?: number; engineId?: number; sampling?: number },
  recs: readonly V5Record[],
): Buffer {
  const b = Buffer.alloc(24 + 48 * recs.length);
  b.writeUInt16BE(5, 0);
  b.writeUInt16BE(recs.length, 2);
  b.writeUInt32BE(h.sysUpTimeMs >>> 0, 4);
  b.writeUInt32BE(h.unixSecs >>> 0, 8);
  b.writeUInt32BE((h.unixNsecs ?? 0) >>> 0, 12);
  b.writeUInt32BE(h.sequence >>> 0, 16);
  b[20] = h.engineType ?? 0;
  b[21] = h.engineId ?? 0;
  b.writeUInt16BE(h.sampling ?? 0, 22);
  recs.forEach((r, i) => {
    const o = 24 + 48 * i;
    encodeValue(r.src, 4).copy(b, o);
    encodeValue(r.dst, 4).copy(b, o + 4);
    encodeValue(r.nextHop ?? '0.0.0.0', 4).copy(b, o + 8);
    b.writeUInt16BE(r.input ?? 0, o + 12);
    b.writeUInt16BE(r.output ?? 0, o + 14);
    b.writeUInt32BE(r.packets >>> 0, o + 16);
    b.writeUInt32BE(r.octets >>> 0, o + 20);
    b.writeUInt32BE(r.firstMs >>> 0, o + 24);
    b.writeUInt32BE(r.lastMs >>> 0, o + 28);
    b.writeUInt16BE(r.srcPort, o + 32);
    b.writeUInt16BE(r.dstPort, o + 34);
    b[o + 37] = r.tcpFlags ?? 0;
    b[o + 38] = r.protocol;
    b[o + 39] = r.tos ?? 0;
    b.writeUInt16BE(r.srcAs ?? 0, o + 40);
    b.writeUInt16BE(r.dstAs ?? 0, o + 42);
    b[o + 44] = r.srcMask ?? 0;
    b[o + 45] = r.dstMask ?? 0;
  });
  return b;
}
