/**
 * Decoded batches -> store rows (ColumnBlocks). Every protocol's records are IPFIX elements, so one
 * mapping from elements to the store's core columns serves NetFlow v5/v7/v9, IPFIX, sFlow and the
 * text parsers; every element without a column goes, with its IPFIXcol2 key, into `extra`, so
 * nothing decoded is lost. Options records and sFlow counter samples go whole to their own tables.
 *
 * The mapping is compiled once per template layout (slots with constant offsets for fixed-length
 * records); per record the encoder only copies bytes into the block's columns.
 */
import { ByteOutput } from '../format/byte-output.js';
import { Ipfixcol2JsonFormatter, type FieldSelection } from '../format/ipfixcol2-json.js';
import { flowPlan, type FlowPlan, type Slot } from '../model/flow-plan.js';
import type { BatchRates } from '../model/rates.js';
import type { FlowBatch, FlowProtocol } from '../wire/batch.js';
import { parseIp } from '../wire/packet/addr.js';
import type { FieldSpec, Template } from '../wire/template.js';
import { fieldSlices } from '../wire/values.js';
import { BLOCK_ROWS, BlockBuilder, kindIndex, storeAddress16, storeAddress4, type ColumnBlock } from './columns.js';
import type { Kind, TableName } from './schema.js';

/** Source kind column values. */
const KIND_OF: Record<FlowProtocol, Kind> = { netflow5: 'v5', netflow7: 'v7', netflow9: 'v9', ipfix: 'ipfix', sflow5: 'sflow', aws: 'aws', text: 'text' };

/** A column and the element that fills it. */
interface ColumnFill {
  readonly col: number;
  readonly slot: Slot;
}

/** An address column and its IPv4 and IPv6 elements (dual-stack templates carry both and leave one zero). */
interface AddressFill {
  readonly col: number;
  readonly v4: Slot | undefined;
  readonly v6: Slot | undefined;
}

interface StorePlan {
  readonly flow: FlowPlan;
  /** The elements of this layout that have no column, for `extra`; undefined when there are none. */
  readonly extra: FieldSelection | undefined;
  /** The columns this layout fills, by how they are written. */
  readonly addresses: readonly AddressFill[];
  readonly u8: readonly ColumnFill[];
  readonly u16: readonly ColumnFill[];
  readonly u32: readonly ColumnFill[];
  readonly u64: readonly ColumnFill[];
}

const storePlans = new WeakMap<FlowPlan, StorePlan>();

function storePlanFor(t: Template): StorePlan {
  const flow = flowPlan(t);
  let p = storePlans.get(flow);
  if (p === undefined) {
    const keep = t.fields.map((_f, k) => flow.used[k] !== true);
    const extra: FieldSelection | undefined = keep.some((x) => x) ? { id: 'store:extra', keep: (_f: FieldSpec, k: number) => keep[k] === true } : undefined;
    const c = FLOW_COLUMNS_AT;
    const fills = (list: readonly (readonly [number, Slot | undefined])[]): ColumnFill[] => list.flatMap(([col, slot]) => (slot === undefined ? [] : [{ col, slot }]));
    p = {
      flow,
      extra,
      addresses: [
        { col: c.src_addr, v4: flow.src4, v6: flow.src6 },
        { col: c.dst_addr, v4: flow.dst4, v6: flow.dst6 },
        { col: c.next_hop, v4: flow.nextHop4, v6: flow.nextHop6 },
      ].filter((a) => a.v4 !== undefined || a.v6 !== undefined),
      u8: fills([[c.proto, flow.proto], [c.tos, flow.tos], [c.src_mask, flow.srcMask], [c.dst_mask, flow.dstMask], [c.direction, flow.direction], [c.end_reason, flow.endReason]]),
      u16: fills([[c.src_port, flow.srcPort], [c.dst_port, flow.dstPort], [c.tcp_flags, flow.flags], [c.vlan, flow.vlan]]),
      u32: fills([[c.in_if, flow.inIf], [c.out_if, flow.outIf], [c.src_as, flow.srcAs], [c.dst_as, flow.dstAs]]),
      u64: fills([[c.packets, flow.packets], [c.bytes, flow.bytes], [c.src_mac, flow.srcMac], [c.dst_mac, flow.dstMac]]),
    };
    storePlans.set(flow, p);
  }
  return p;
}

function uint(buf: Buffer, off: number, len: number): number {
  if (len === 1) return buf[off]!;
  if (len === 2) return (buf[off]! << 8) | buf[off + 1]!;
  if (len <= 6) return buf.readUIntBE(off, len);
  return buf.readUIntBE(off, len - 4) * 4294967296 + buf.readUInt32BE(off + len - 4);
}

const EMPTY16 = new Uint8Array(16);
/** Offset 0 for every row: one address (the exporter's) repeated down a column. */
const ZEROS = new Int32Array(BLOCK_ROWS);

/** The store's batch consumer: fills blocks; take() hands them over. Not shared between threads. */
export class StoreEncoder {
  readonly #flows = new BlockBuilder('flows');
  readonly #options = new BlockBuilder('options');
  readonly #counters = new BlockBuilder('counters');
  readonly #ready: ColumnBlock[] = [];
  readonly #json = new Ipfixcol2JsonFormatter({ ignoreUnknown: false, ignoreOptions: false, nonPrintableChar: false });
  readonly #text = new ByteOutput(4096);
  /** Field slices of a batch's variable-length records, fieldCount * 2 per record. */
  #slices = new Int32Array(64);
  #one = new Int32Array(64);
  /** Indexes of the batch's records that are stored (all, unless one cannot be walked). */
  #recs = new Int32Array(64);
  /** Scratch: where one slot starts in each record of a run. */
  #pos = new Int32Array(BLOCK_ROWS);
  #pos2 = new Int32Array(BLOCK_ROWS);
  /** Exporter address text -> bytes (4 or 16), bounded. */
  readonly #exporters = new Map<string, Uint8Array>();
  readonly #c = COLUMNS_AT;
  /** Records kept in blocks since start, per table. */
  readonly counts = { flows: 0, options: 0, counters: 0 };

  /** `rates`: what the one SamplingTracker of this thread decided for the batch (pipeline/sampling.ts). */
  push(b: FlowBatch, rates: BatchRates): void {
    if (b.count === 0) return;
    const t = b.template;
    if (t.isOptions) this.#whole(b, this.#options, 'options');
    else if (t.recordType !== undefined) this.#whole(b, this.#counters, 'counters');
    else this.#flowRows(b, storePlanFor(t), rates);
  }

  /** Full blocks, and with `all` the partly filled ones too. */
  take(all: boolean): ColumnBlock[] {
    if (all) {
      for (const bb of [this.#flows, this.#options, this.#counters]) if (bb.count > 0) this.#ready.push(bb.take());
    }
    return this.#ready.splice(0, this.#ready.length);
  }

  #exporterBytes(address: string): Uint8Array {
    let a = this.#exporters.get(address);
    if (a === undefined) {
      a = parseIp(address) ?? EMPTY16;
      if (this.#exporters.size > 100_000) this.#exporters.clear();
      this.#exporters.set(address, a);
    }
    return a;
  }

  #next(bb: BlockBuilder): number {
    if (bb.full) this.#ready.push(bb.take());
    return bb.addRow();
  }

  /** Options records and counter samples: a row each, the record whole as JSON. */
  #whole(b: FlowBatch, bb: BlockBuilder, table: TableName): void {
    const c = this.#c.record;
    const exporter = this.#exporterBytes(b.ctx.session.address);
    const kind = KIND_OF[b.ctx.protocol];
    for (let i = 0; i < b.count; i++) {
      const row = this.#next(bb);
      bb.timestamp(c.time_received, row, b.ctx.receivedMs);
      bb.address(c.exporter, row, exporter, 0, exporter.length as 4 | 16);
      bb.u32(c.domain, row, b.ctx.domainId >>> 0);
      bb.kind(c.kind, row, kind);
      bb.u32(c.template_id, row, b.template.id);
      this.#text.reset();
      bb.string(c.record, row, this.#json.formatFieldsInto(b, i, ALL_FIELDS, this.#text) ? this.#text.buf.toString('utf8', 0, this.#text.len) : '{}');
    }
    this.counts[table] += b.count;
  }

  /**
   * Flow records into the flows block, column by column over runs of records (a run ends where the
   * block fills): each column is one tight loop over the run, not one call per value.
   */
  #flowRows(b: FlowBatch, sp: StorePlan, rates: BatchRates): void {
    const p = sp.flow;
    let recs = this.#recs;
    if (recs.length < b.count) recs = this.#recs = new Int32Array(b.count * 2);
    // Where each record's fields start; variable-length records are walked once here.
    let n = 0;
    if (p.fixed) {
      for (let i = 0; i < b.count; i++) recs[n++] = i;
    } else {
      const F2 = p.fieldCount * 2;
      if (this.#slices.length < b.count * F2) this.#slices = new Int32Array(b.count * F2);
      const one = this.#one.length >= F2 ? this.#one : (this.#one = new Int32Array(F2));
      for (let i = 0; i < b.count; i++) {
        if (!fieldSlices(b.template, b.buf, b.starts[i]!, b.starts[i + 1]!, one)) continue; // split by the decoder, so never cut
        this.#slices.set(one.subarray(0, F2), n * F2);
        recs[n++] = i;
      }
    }
    let from = 0;
    while (from < n) {
      if (this.#flows.room === 0) this.#ready.push(this.#flows.take());
      const m = Math.min(n - from, this.#flows.room);
      this.#flowRun(b, sp, rates, from, m);
      from += m;
    }
    this.counts.flows += n;
  }

  /** Records recs[from .. from + m) of the batch as the next m rows of the flows block. */
  #flowRun(b: FlowBatch, sp: StorePlan, rates: BatchRates, from: number, m: number): void {
    const p = sp.flow;
    const bb = this.#flows;
    const c = this.#c.flows;
    const slots = bb.layout.slots;
    const row0 = bb.addRows(m);
    const { u8, u16, u32 } = bb.views;
    const buf = b.buf;
    const ctx = b.ctx;
    const recs = this.#recs;
    const starts = b.starts;
    const F2 = p.fieldCount * 2;
    const sl = this.#slices;
    const P = this.#pos.length >= m ? this.#pos : (this.#pos = new Int32Array(BLOCK_ROWS));
    /** P[r] = where slot s of the run's record r starts. */
    const pos = (s: Slot): Int32Array => {
      if (p.fixed) for (let r = 0; r < m; r++) P[r] = starts[recs[from + r]!]! + s.offset;
      else for (let r = 0; r < m; r++) P[r] = sl[(from + r) * F2 + 2 * s.index]!;
      return P;
    };
    const at8 = (col: number) => slots[col]!.offset;
    const at16 = (col: number) => slots[col]!.offset >> 1;
    const at32 = (col: number) => slots[col]!.offset >> 2;
    const all = (col: number) => bb.validRange(col, row0, m);

    // Batch-wide values.
    writeTimes(u32, at32(c.time_received), row0, m, ctx.receivedMs);
    u32.fill(ctx.domainId >>> 0, at32(c.domain) + row0, at32(c.domain) + row0 + m);
    u8.fill(kindIndex(KIND_OF[ctx.protocol]), at8(c.kind) + row0, at8(c.kind) + row0 + m);
    {
      const o = at32(c.sampling) + row0;
      const per = rates.perRecord;
      // The rate in force, as src/pipeline/sampling.ts decided it (1 when unsampled or unknown).
      if (per === undefined) u32.fill(Math.max(1, Math.round(rates.rate)), o, o + m);
      else for (let r = 0; r < m; r++) u32[o + r] = Math.max(1, Math.round(per[recs[from + r]!]!));
    }
    // Times from the time module; NULL where it could not say.
    this.#times(c.time_start, b.startMs, from, m, row0);
    this.#times(c.time_end, b.endMs, from, m, row0);
    // sFlow: the agent the sample speaks for, which a relay or a router's sub-agents can differ from the sender.
    if (p.agent4 !== undefined) addresses(u8, u32, at8(c.exporter), row0, m, buf, pos(p.agent4), 4);
    else if (p.agent6 !== undefined) addresses(u8, u32, at8(c.exporter), row0, m, buf, pos(p.agent6), 16);
    else {
      const e = this.#exporterBytes(ctx.session.address);
      addresses(u8, u32, at8(c.exporter), row0, m, e, ZEROS, e.length as 4 | 16);
    }
    // Dual-stack templates carry both families and leave one zero.
    for (const { col, v4, v6 } of sp.addresses) {
      if (v6 === undefined) addresses(u8, u32, at8(col), row0, m, buf, pos(v4!), 4);
      else if (v4 === undefined) addresses(u8, u32, at8(col), row0, m, buf, pos(v6), 16);
      else {
        const P4 = this.#pos2;
        P4.set(pos(v4).subarray(0, m));
        const P6 = pos(v6);
        for (let r = 0; r < m; r++) {
          const q = P4[r]!;
          if (buf[q] !== 0 || buf[q + 1] !== 0 || buf[q + 2] !== 0 || buf[q + 3] !== 0) P6[r] = -1 - q;
        }
        const o = at8(col);
        for (let r = 0; r < m; r++) {
          const q = P6[r]!;
          if (q < 0) storeAddress4(u32, (o >> 2) + 4 * (row0 + r), buf, -1 - q);
          else storeAddress16(u8, o + 16 * (row0 + r), buf, q);
        }
      }
      all(col);
    }
    for (const { col, slot: s } of sp.u16) {
      const o = at16(col) + row0;
      const P = pos(s);
      if (s.length === 2) for (let r = 0; r < m; r++) u16[o + r] = (buf[P[r]!]! << 8) | buf[P[r]! + 1]!;
      else for (let r = 0; r < m; r++) u16[o + r] = buf[P[r]!]!;
      all(col);
    }
    for (const { col, slot: s } of sp.u8) {
      const o = at8(col) + row0;
      const P = pos(s);
      for (let r = 0; r < m; r++) u8[o + r] = buf[P[r]!]!;
      all(col);
    }
    for (const { col, slot: s } of sp.u32) {
      const o = at32(col) + row0;
      const P = pos(s);
      if (s.length === 4) for (let r = 0; r < m; r++) u32[o + r] = buf.readUInt32BE(P[r]!);
      else for (let r = 0; r < m; r++) u32[o + r] = uint(buf, P[r]!, s.length);
      all(col);
    }
    for (const { col, slot: s } of sp.u64) {
      const o = at32(col) + 2 * row0;
      const P = pos(s);
      const len = s.length;
      if (len === 8) {
        for (let r = 0; r < m; r++) {
          u32[o + 2 * r] = buf.readUInt32BE(P[r]! + 4);
          u32[o + 2 * r + 1] = buf.readUInt32BE(P[r]!);
        }
      } else if (len === 4) {
        for (let r = 0; r < m; r++) {
          u32[o + 2 * r] = buf.readUInt32BE(P[r]!);
          u32[o + 2 * r + 1] = 0;
        }
      } else {
        // Big-endian wire bytes of len <= 8 to little-endian 8 bytes.
        const o8 = 4 * o;
        for (let r = 0; r < m; r++) {
          const q = P[r]!;
          const d = o8 + 8 * r;
          for (let i = 0; i < len; i++) u8[d + i] = buf[q + len - 1 - i]!;
          for (let i = len; i < 8; i++) u8[d + i] = 0;
        }
      }
      all(col);
    }
    if (p.proto !== undefined) this.#icmp(b, p, from, m, row0, pos);
    if (sp.extra !== undefined) {
      for (let r = 0; r < m; r++) {
        this.#text.reset();
        if (this.#json.formatFieldsInto(b, recs[from + r]!, sp.extra, this.#text)) bb.string(c.extra, row0 + r, this.#text.buf.toString('utf8', 0, this.#text.len));
      }
    }
  }

  /**
   * ICMP and ICMPv6 records: type and code from the ICMP elements; failing those, from the
   * destination port, where NetFlow v5 and many v9/IPFIX exporters put type * 256 + code.
   */
  #icmp(b: FlowBatch, p: FlowPlan, from: number, m: number, row0: number, pos: (s: Slot) => Int32Array): void {
    const bb = this.#flows;
    const c = this.#c.flows;
    const buf = b.buf;
    const P = pos(p.proto!);
    let any = false;
    for (let r = 0; r < m; r++) {
      const v = buf[P[r]!];
      if (v === 1 || v === 58) any = true;
    }
    if (!any) return;
    const protos = Int32Array.from(P.subarray(0, m));
    const tcAt = p.icmpTypeCode !== undefined ? Int32Array.from(pos(p.icmpTypeCode).subarray(0, m)) : undefined;
    const typeAt = tcAt === undefined && p.icmpType !== undefined ? Int32Array.from(pos(p.icmpType).subarray(0, m)) : undefined;
    const codeAt = typeAt !== undefined && p.icmpCode !== undefined ? Int32Array.from(pos(p.icmpCode).subarray(0, m)) : undefined;
    const portAt = tcAt === undefined && typeAt === undefined && p.dstPort !== undefined ? Int32Array.from(pos(p.dstPort).subarray(0, m)) : undefined;
    const { u8 } = bb.views;
    const ot = bb.layout.slots[c.icmp_type]!.offset;
    const oc = bb.layout.slots[c.icmp_code]!.offset;
    for (let r = 0; r < m; r++) {
      const v = buf[protos[r]!];
      if (v !== 1 && v !== 58) continue;
      let tc = -1;
      if (tcAt !== undefined) tc = (buf[tcAt[r]!]! << 8) | buf[tcAt[r]! + 1]!;
      else if (typeAt !== undefined) tc = (buf[typeAt[r]!]! << 8) | (codeAt === undefined ? 0 : buf[codeAt[r]!]!);
      else if (portAt !== undefined) tc = uint(buf, portAt[r]!, p.dstPort!.length);
      if (tc < 0) continue;
      u8[ot + row0 + r] = tc >>> 8;
      u8[oc + row0 + r] = tc & 0xff;
      bb.valid(c.icmp_type, row0 + r);
      bb.valid(c.icmp_code, row0 + r);
    }
  }

  /** A time column: NULL where the time module could not say (NaN). */
  #times(col: number, ms: Float64Array, from: number, m: number, row0: number): void {
    const bb = this.#flows;
    const u32 = bb.views.u32;
    const o = bb.layout.slots[col]!.offset >> 2;
    const recs = this.#recs;
    for (let r = 0; r < m; r++) {
      const v = ms[recs[from + r]!]!;
      if (v !== v) continue;
      writeTime(u32, o, row0 + r, v);
      bb.valid(col, row0 + r);
    }
  }
}

/** Milliseconds as TIMESTAMP_MS (int64) at row `row` of the column whose u32 index is `o`. */
function writeTime(u32: Uint32Array, o: number, row: number, ms: number): void {
  const v = Math.trunc(ms);
  const hi = Math.floor(v / 4294967296);
  u32[o + 2 * row] = v - hi * 4294967296;
  u32[o + 2 * row + 1] = hi >>> 0;
}

function writeTimes(u32: Uint32Array, o: number, row0: number, m: number, ms: number): void {
  writeTime(u32, o, row0, ms);
  const lo = u32[o + 2 * row0]!;
  const hi = u32[o + 2 * row0 + 1]!;
  for (let r = 1; r < m; r++) {
    u32[o + 2 * (row0 + r)] = lo;
    u32[o + 2 * (row0 + r) + 1] = hi;
  }
}

/** Addresses at P[0 .. m) of `buf` into rows row0.. of the address column at byte o8. */
function addresses(u8: Uint8Array, u32: Uint32Array, o8: number, row0: number, m: number, buf: Uint8Array, P: ArrayLike<number>, len: 4 | 16): void {
  if (len === 4) for (let r = 0; r < m; r++) storeAddress4(u32, (o8 >> 2) + 4 * (row0 + r), buf, P[r]!);
  else for (let r = 0; r < m; r++) storeAddress16(u8, o8 + 16 * (row0 + r), buf, P[r]!);
}

const ALL_FIELDS: FieldSelection = { id: 'store:all', keep: () => true };

/** Slot indexes of every column, looked up once. */
function columnIndexes() {
  const flows = new BlockBuilder('flows', 1).layout.index;
  const record = new BlockBuilder('options', 1).layout.index;
  const pick = <K extends string>(m: ReadonlyMap<string, number>, names: readonly K[]): Record<K, number> =>
    Object.fromEntries(names.map((n) => [n, m.get(n)!])) as Record<K, number>;
  return {
    flows: pick(flows, [
      'time_received', 'time_start', 'time_end', 'exporter', 'domain', 'kind', 'src_addr', 'dst_addr', 'src_port', 'dst_port', 'proto',
      'tcp_flags', 'tos', 'icmp_type', 'icmp_code', 'packets', 'bytes', 'sampling', 'in_if', 'out_if', 'src_as', 'dst_as', 'next_hop',
      'src_mask', 'dst_mask', 'vlan', 'direction', 'end_reason', 'src_mac', 'dst_mac', 'extra',
    ] as const),
    record: pick(record, ['time_received', 'exporter', 'domain', 'kind', 'template_id', 'record'] as const),
  };
}

const COLUMNS_AT = columnIndexes();
const FLOW_COLUMNS_AT = COLUMNS_AT.flows;
