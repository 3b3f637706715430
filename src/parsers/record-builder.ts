/**
 * Builds FlowBatch records for sources without templates (AWS VPC flow logs, text lines), the way
 * sFlow does (src/wire/sflow/layout.ts): each source has a fixed list of slots (IPFIX elements in
 * record order); a record holds the slots it had values for, and that set names one synthetic
 * template, cached. So the JSON formatter, the outputs and the aggregation see the same record
 * model as for NetFlow and IPFIX, and JSON shows only what the line carried.
 */
import type { IeResolver } from '../wire/fixed-formats.js';
import type { FlowBatch, FlowProtocol, MessageContext, TransportSession } from '../wire/batch.js';
import { SyntheticFieldFactory } from '../wire/ie/synthetic-fields.js';
import { makeTemplate, VARLEN, type FieldSpec, type Template } from '../wire/template.js';
import { deriveTimes } from '../model/time.js';

/** A slot: an IANA element by id, or a sluice element by name; its length on the wire (VARLEN: string). */
export type SlotDef = { readonly iana: number; readonly length: number } | { readonly sluice: string; readonly length: number };

/** Bound on cached layouts (at most 2^slots exist; real sources use a handful). */
const MAX_CACHED = 1024;

export class RecordBuilder {
  private readonly specs: FieldSpec[];
  private readonly templates = new Map<number, Template>();
  private nextId = 256;
  private buf = Buffer.alloc(4096);
  private pos = 0;
  /** Values of the open record, by slot (undefined: absent). */
  private readonly values: Array<number | bigint | Buffer | string | undefined>;
  private readonly recs: { t: Template; start: number; end: number }[] = [];
  private sequence = 0;

  constructor(
    reg: IeResolver,
    private readonly origin: FlowProtocol & ('aws' | 'text'),
    slots: readonly SlotDef[],
  ) {
    const f = new SyntheticFieldFactory(reg);
    this.specs = slots.map((s) => ('iana' in s ? f.iana(s.iana, s.length) : f.sluice(s.sluice, s.length)));
    if (this.specs.length > 52) throw new Error('too many slots for a numeric layout key');
    this.values = new Array(slots.length);
  }

  set(slot: number, v: number | bigint | Buffer | string): void {
    this.values[slot] = v;
  }

  /** Ends the open record: encodes the values that were set, then clears them. */
  commit(): void {
    let key = 0;
    let need = 0;
    for (let i = 0; i < this.values.length; i++) {
      const v = this.values[i];
      if (v === undefined) continue;
      key += 2 ** i;
      const len = this.specs[i]!.length;
      need += len === VARLEN ? 3 + Buffer.byteLength(String(v)) : len;
    }
    if (key === 0) return;
    this.room(need);
    const start = this.pos;
    for (let i = 0; i < this.values.length; i++) {
      const v = this.values[i];
      if (v === undefined) continue;
      this.write(this.specs[i]!.length, v);
      this.values[i] = undefined;
    }
    this.recs.push({ t: this.template(key), start, end: this.pos });
  }

  /** Drops the open record's values (a line that turned out not to parse). */
  discard(): void {
    this.values.fill(undefined);
  }

  get pending(): number {
    return this.recs.length;
  }

  /** Hands every committed record over as batches, one per layout, with their times derived. */
  flush(session: TransportSession, nowMs: number, out: (b: FlowBatch) => void): void {
    if (this.recs.length === 0) return;
    const data = this.buf.subarray(0, this.pos);
    const recs = this.recs.splice(0);
    // The buffer now belongs to the batches (a consumer may keep one); the next records get a new one.
    this.buf = Buffer.alloc(Math.max(4096, this.buf.length));
    this.pos = 0;
    const ctx: MessageContext = {
      protocol: this.origin,
      session,
      domainId: 0,
      exportTimeMs: nowMs,
      sequence: this.sequence,
      sysUpTimeMs: -1,
      receivedMs: nowMs,
    };
    this.sequence = (this.sequence + recs.length) >>> 0;
    const groups = new Map<Template, number[]>();
    for (let k = 0; k < recs.length; k++) {
      const g = groups.get(recs[k]!.t);
      if (g === undefined) groups.set(recs[k]!.t, [k]);
      else g.push(k);
    }
    for (const [t, idx] of groups) {
      let bytes: Buffer;
      const starts = new Int32Array(idx.length + 1);
      if (groups.size === 1) {
        bytes = data;
        for (let j = 0; j < idx.length; j++) starts[j] = recs[idx[j]!]!.start;
        starts[idx.length] = recs[idx[idx.length - 1]!]!.end;
      } else {
        let size = 0;
        for (const k of idx) size += recs[k]!.end - recs[k]!.start;
        bytes = Buffer.allocUnsafe(size);
        let p = 0;
        for (let j = 0; j < idx.length; j++) {
          const r = recs[idx[j]!]!;
          starts[j] = p;
          p += data.copy(bytes, p, r.start, r.end);
        }
        starts[idx.length] = p;
      }
      const b: FlowBatch = { ctx, template: t, buf: bytes, starts, count: idx.length, startMs: new Float64Array(idx.length), endMs: new Float64Array(idx.length) };
      deriveTimes(b);
      out(b);
    }
  }

  private template(key: number): Template {
    let t = this.templates.get(key);
    if (t !== undefined) return t;
    if (this.templates.size >= MAX_CACHED) this.templates.clear();
    const fields: FieldSpec[] = [];
    for (let i = 0; i < this.specs.length; i++) if (Math.floor(key / 2 ** i) % 2 === 1) fields.push(this.specs[i]!);
    t = makeTemplate(this.nextId, this.origin, fields, 0);
    this.nextId = this.nextId >= 0xffff ? 256 : this.nextId + 1;
    this.templates.set(key, t);
    return t;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private write(len: number, v: number | bigint | Buffer | string): void {
    const b = this.buf;
    if (len === VARLEN) {
      const s = Buffer.from(String(v), 'utf8');
      if (s.length < 255) b[this.pos++] = s.length;
      else {
        b[this.pos++] = 255;
        b.writeUInt16BE(Math.min(s.length, 0xffff), this.pos);
        this.pos += 2;
      }
      this.pos += s.copy(b, this.pos, 0, Math.min(s.length, 0xffff));
      return;
    }
    if (Buffer.isBuffer(v)) {
      this.pos += v.copy(b, this.pos, 0, len);
      return;
    }
    switch (len) {
      case 1:
        b[this.pos] = Number(v) & 0xff;
        break;
      case 2:
        b.writeUInt16BE(Number(v) & 0xffff, this.pos);
        break;
      case 4:
        b.writeUInt32BE(Number(v) >>> 0, this.pos);
        break;
      case 8:
        b.writeBigUInt64BE(BigInt.asUintN(64, typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)))), this.pos);
        break;
      default:
        throw new Error(`slot length ${len} is not supported`);
    }
    this.pos += len;
  }
}

/** IANA protocol keywords (lowercase) and common aliases to numbers, for text lines. */
export function protocolNumbers(keyword: (n: number) => string | undefined): Map<string, number> {
  const m = new Map<string, number>();
  for (let n = 0; n < 256; n++) {
    const k = keyword(n);
    if (k !== undefined) m.set(k.toLowerCase(), n);
  }
  m.set('icmpv6', 58).set('icmp6', 58).set('ipv6-icmp', 58).set('ip', 0);
  return m;
}
