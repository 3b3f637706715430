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
import { SamplingTracker } from '../pipeline/sampling.js';
import type { FlowBatch, FlowProtocol } from '../wire/batch.js';
import { parseIp } from '../wire/packet/addr.js';
import type { FieldSpec, Template } from '../wire/template.js';
import { fieldSlices } from '../wire/values.js';
import { BlockBuilder, type ColumnBlock } from './columns.js';
import type { Kind, TableName } from './schema.js';

/** Source kind column values. */
const KIND_OF: Record<FlowProtocol, Kind> = { netflow5: 'v5', netflow7: 'v7', netflow9: 'v9', ipfix: 'ipfix', sflow5: 'sflow', aws: 'aws', text: 'text' };

interface StorePlan {
  readonly flow: FlowPlan;
  /** The elements of this layout that have no column, for `extra`; undefined when there are none. */
  readonly extra: FieldSelection | undefined;
}

const storePlans = new WeakMap<FlowPlan, StorePlan>();

function storePlanFor(t: Template): StorePlan {
  const flow = flowPlan(t);
  let p = storePlans.get(flow);
  if (p === undefined) {
    const keep = t.fields.map((_f, k) => !flow.used.has(k));
    const extra: FieldSelection | undefined = keep.some((x) => x) ? { id: 'store:extra', keep: (_f: FieldSpec, k: number) => keep[k] === true } : undefined;
    p = { flow, extra };
    storePlans.set(flow, p);
  }
  return p;
}

function isZero(buf: Buffer, off: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (buf[off + i] !== 0) return false;
  return true;
}

function uint(buf: Buffer, off: number, len: number): number {
  if (len === 1) return buf[off]!;
  if (len === 2) return (buf[off]! << 8) | buf[off + 1]!;
  if (len <= 6) return buf.readUIntBE(off, len);
  return buf.readUIntBE(off, len - 4) * 4294967296 + buf.readUInt32BE(off + len - 4);
}

const EMPTY16 = new Uint8Array(16);

/** The store's batch consumer: fills blocks; take() hands them over. Not shared between threads. */
export class StoreEncoder {
  readonly #flows = new BlockBuilder('flows');
  readonly #options = new BlockBuilder('options');
  readonly #counters = new BlockBuilder('counters');
  readonly #ready: ColumnBlock[] = [];
  readonly #json = new Ipfixcol2JsonFormatter({ ignoreUnknown: false, ignoreOptions: false, nonPrintableChar: false });
  readonly #text = new ByteOutput(4096);
  #slices = new Int32Array(64);
  #sampling: SamplingTracker | undefined;
  /** Exporter address text -> bytes (4 or 16), bounded. */
  readonly #exporters = new Map<string, Uint8Array>();
  readonly #c = columnIndexes();
  /** Records kept in blocks since start, per table. */
  readonly counts = { flows: 0, options: 0, counters: 0 };

  /** Without `rates`, the encoder's own tracker decides them (tests, tools); collect passes the shared one's. */
  push(b: FlowBatch, rates?: BatchRates): void {
    if (b.count === 0) return;
    const t = b.template;
    if (t.isOptions) this.#whole(b, this.#options, 'options');
    else if (t.recordType !== undefined) this.#whole(b, this.#counters, 'counters');
    else this.#flowRows(b, storePlanFor(t), rates ?? (this.#sampling ??= new SamplingTracker()).rates(b));
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

  #flowRows(b: FlowBatch, sp: StorePlan, rates: BatchRates): void {
    const p = sp.flow;
    const bb = this.#flows;
    const c = this.#c.flows;
    const buf = b.buf;
    const ctx = b.ctx;
    const sessionExporter = this.#exporterBytes(ctx.session.address);
    const kind = KIND_OF[ctx.protocol];
    const domain = ctx.domainId >>> 0;
    const perRecord = rates.perRecord;
    const rate = Math.max(1, Math.round(rates.rate));
    let sl: Int32Array | undefined;
    if (!p.fixed && this.#slices.length < p.fieldCount * 2) this.#slices = new Int32Array(p.fieldCount * 2);
    const at = (s: Slot, start: number): number => (sl === undefined ? start + s.offset : sl[2 * s.index]!);
    for (let i = 0; i < b.count; i++) {
      const start = b.starts[i]!;
      if (!p.fixed) {
        sl = this.#slices;
        if (!fieldSlices(b.template, buf, start, b.starts[i + 1]!, sl)) continue; // split by the decoder, so never cut
      }
      const row = this.#next(bb);
      bb.timestamp(c.time_received, row, ctx.receivedMs);
      const ts = b.startMs[i]!;
      const te = b.endMs[i]!;
      if (ts === ts) bb.timestamp(c.time_start, row, ts);
      if (te === te) bb.timestamp(c.time_end, row, te);
      // sFlow: the agent the sample speaks for, which a relay or a router's sub-agents can differ from the sender.
      if (p.agent4 !== undefined) bb.address(c.exporter, row, buf, at(p.agent4, start), 4);
      else if (p.agent6 !== undefined) bb.address(c.exporter, row, buf, at(p.agent6, start), 16);
      else bb.address(c.exporter, row, sessionExporter, 0, sessionExporter.length as 4 | 16);
      bb.u32(c.domain, row, domain);
      bb.kind(c.kind, row, kind);
      // Dual-stack templates carry both families and leave one zero.
      if (p.src4 !== undefined && (p.src6 === undefined || !isZero(buf, at(p.src4, start), 4))) bb.address(c.src_addr, row, buf, at(p.src4, start), 4);
      else if (p.src6 !== undefined) bb.address(c.src_addr, row, buf, at(p.src6, start), 16);
      if (p.dst4 !== undefined && (p.dst6 === undefined || !isZero(buf, at(p.dst4, start), 4))) bb.address(c.dst_addr, row, buf, at(p.dst4, start), 4);
      else if (p.dst6 !== undefined) bb.address(c.dst_addr, row, buf, at(p.dst6, start), 16);
      if (p.srcPort !== undefined) bb.u16(c.src_port, row, uint(buf, at(p.srcPort, start), p.srcPort.length));
      let dstPort = -1;
      if (p.dstPort !== undefined) {
        dstPort = uint(buf, at(p.dstPort, start), p.dstPort.length);
        bb.u16(c.dst_port, row, dstPort);
      }
      let proto = -1;
      if (p.proto !== undefined) {
        proto = buf[at(p.proto, start)]!;
        bb.u8(c.proto, row, proto);
      }
      if (p.flags !== undefined) bb.u16(c.tcp_flags, row, uint(buf, at(p.flags, start), p.flags.length));
      if (p.tos !== undefined) bb.u8(c.tos, row, buf[at(p.tos, start)]!);
      if (proto === 1 || proto === 58) {
        // Type and code from the ICMP elements; failing those, from the destination port, where
        // NetFlow v5 and many v9/IPFIX exporters put type * 256 + code.
        let tc = dstPort;
        if (p.icmpTypeCode !== undefined) tc = uint(buf, at(p.icmpTypeCode, start), 2);
        else if (p.icmpType !== undefined) tc = (buf[at(p.icmpType, start)]! << 8) | (p.icmpCode === undefined ? 0 : buf[at(p.icmpCode, start)]!);
        if (tc >= 0) {
          bb.u8(c.icmp_type, row, tc >>> 8);
          bb.u8(c.icmp_code, row, tc & 0xff);
        }
      }
      if (p.packets !== undefined) bb.u64Bytes(c.packets, row, buf, at(p.packets, start), p.packets.length);
      if (p.bytes !== undefined) bb.u64Bytes(c.bytes, row, buf, at(p.bytes, start), p.bytes.length);
      // The rate in force, as src/pipeline/sampling.ts decided it (1 when unsampled or unknown).
      bb.u32(c.sampling, row, perRecord === undefined ? rate : Math.max(1, Math.round(perRecord[i]!)));
      if (p.inIf !== undefined) bb.u32(c.in_if, row, uint(buf, at(p.inIf, start), p.inIf.length));
      if (p.outIf !== undefined) bb.u32(c.out_if, row, uint(buf, at(p.outIf, start), p.outIf.length));
      if (p.srcAs !== undefined) bb.u32(c.src_as, row, uint(buf, at(p.srcAs, start), p.srcAs.length));
      if (p.dstAs !== undefined) bb.u32(c.dst_as, row, uint(buf, at(p.dstAs, start), p.dstAs.length));
      if (p.nextHop4 !== undefined && (p.nextHop6 === undefined || !isZero(buf, at(p.nextHop4, start), 4))) bb.address(c.next_hop, row, buf, at(p.nextHop4, start), 4);
      else if (p.nextHop6 !== undefined) bb.address(c.next_hop, row, buf, at(p.nextHop6, start), 16);
      if (p.srcMask !== undefined) bb.u8(c.src_mask, row, buf[at(p.srcMask, start)]!);
      if (p.dstMask !== undefined) bb.u8(c.dst_mask, row, buf[at(p.dstMask, start)]!);
      if (p.vlan !== undefined) bb.u16(c.vlan, row, uint(buf, at(p.vlan, start), p.vlan.length));
      if (p.direction !== undefined) bb.u8(c.direction, row, buf[at(p.direction, start)]!);
      if (p.endReason !== undefined) bb.u8(c.end_reason, row, buf[at(p.endReason, start)]!);
      if (p.srcMac !== undefined) bb.u64Bytes(c.src_mac, row, buf, at(p.srcMac, start), 6);
      if (p.dstMac !== undefined) bb.u64Bytes(c.dst_mac, row, buf, at(p.dstMac, start), 6);
      if (sp.extra !== undefined) {
        this.#text.reset();
        if (this.#json.formatFieldsInto(b, i, sp.extra, this.#text)) bb.string(c.extra, row, this.#text.buf.toString('utf8', 0, this.#text.len));
      }
    }
    this.counts.flows += b.count;
  }
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
