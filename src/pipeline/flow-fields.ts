/**
 * Reads the few facts aggregation needs (addresses, ports, protocol, ICMP type/code, packet and
 * octet counts) out of any FlowBatch, whatever protocol it came from, through the template's
 * FlowPlan (src/model/flow-plan.ts: which element holds which fact). Field offsets are constants
 * for fixed-length templates, and variable-length records are sliced once. Nothing is allocated
 * per record except the address strings the key needs.
 */
import type { FlowBatch } from '../wire/batch.js';
import { ipv4ToString, ipv6ToString } from '../wire/packet/addr.js';
import { flowPlan, type FlowPlan, type Slot } from '../model/flow-plan.js';
import type { Template } from '../wire/template.js';
import { fieldSlices } from '../wire/values.js';

export const PROTO_ICMP = 1;
export const PROTO_ICMPV6 = 58;

/**
 * One record's facts, written into a reused object by FlowReader.read(). Addresses are left in the
 * record's bytes (offset and length 4 or 16; IPv4-mapped IPv6 points at its IPv4 part), so a flow
 * that joins an existing aggregate costs no string formatting: see addressKey() / addressText().
 */
export interface FlowFields {
  buf: Buffer;
  srcOff: number;
  srcLen: 4 | 16;
  dstOff: number;
  dstLen: 4 | 16;
  /** 0 when the record has none, and for ICMP. */
  srcPort: number;
  dstPort: number;
  proto: number;
  /** -1 when the flow is not ICMP / ICMPv6. */
  icmpType: number;
  icmpCode: number;
  packets: number;
  bytes: number;
  /** True when the source or destination is multicast (IPv4 224.0.0.0/4, IPv6 ff00::/8). */
  multicast: boolean;
}

export function newFlowFields(): FlowFields {
  return { buf: Buffer.alloc(0), srcOff: 0, srcLen: 4, dstOff: 0, dstLen: 4, srcPort: 0, dstPort: 0, proto: 0, icmpType: -1, icmpCode: -1, packets: 0, bytes: 0, multicast: false };
}

/** The address as text (dotted quad, or RFC 5952). */
export function addressText(buf: Buffer, off: number, len: 4 | 16): string {
  return len === 4 ? ipv4ToString(buf, off) : ipv6ToString(buf, off);
}

/**
 * The aggregation key of a record: family marks, the raw address bytes as latin1, port, protocol
 * and ICMP type/code. Equal keys mean equal (src, dst, dst_port, proto[, type, code]).
 */
export function flowKey(f: FlowFields): string {
  const fam = f.srcLen === 4 ? (f.dstLen === 4 ? '44' : '46') : f.dstLen === 4 ? '64' : '66';
  const addr = f.buf.toString('latin1', f.srcOff, f.srcOff + f.srcLen) + f.buf.toString('latin1', f.dstOff, f.dstOff + f.dstLen);
  // Port (16 bits), protocol and ICMP type/code (8 bits each) as one UTF-16 unit each: no number formatting.
  return f.icmpType < 0
    ? fam + addr + String.fromCharCode(f.dstPort, f.proto)
    : fam + addr + String.fromCharCode(f.dstPort, f.proto, 0x100 | f.icmpType, f.icmpCode);
}

/** What aggregation knows of a template: its FlowPlan, and whether its records are flows it can key. */
export interface RecordPlan {
  /** False for options templates, non-flow records (sFlow counters) and templates with no address. */
  readonly usable: boolean;
  /** Why the template is not usable (a metrics reason label). */
  readonly reason: 'options' | 'not_flow' | 'no_address' | '';
  readonly flow: FlowPlan;
}

const recordPlans = new WeakMap<FlowPlan, RecordPlan>();

/** The plan of a template (compiled on first sight, then cached). */
export function planFor(t: Template): RecordPlan {
  const flow = flowPlan(t);
  let p = recordPlans.get(flow);
  if (p !== undefined) return p;
  let reason: RecordPlan['reason'] = '';
  if (t.isOptions) reason = 'options';
  else if (t.recordType !== undefined) reason = 'not_flow';
  else if ((flow.src4 === undefined && flow.src6 === undefined) || (flow.dst4 === undefined && flow.dst6 === undefined)) reason = 'no_address';
  p = { usable: reason === '', reason, flow };
  recordPlans.set(flow, p);
  return p;
}

function uint(buf: Buffer, off: number, len: number): number {
  if (len <= 6) return buf.readUIntBE(off, len);
  // 7-8 bytes: exact below 2^53, rounded above (aggregate counts never get there in practice).
  const hiLen = len - 4;
  return buf.readUIntBE(off, hiLen) * 4294967296 + buf.readUInt32BE(off + hiLen);
}

/** Where a slot's value starts in the record at `start` (slices for variable-length templates). */
function at(s: Slot, sl: Int32Array | undefined, start: number): number {
  return sl === undefined ? start + s.offset : sl[2 * s.index]!;
}

function isZero(buf: Buffer, off: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (buf[off + i] !== 0) return false;
  return true;
}

/** IPv4-mapped IPv6 (::ffff:0:0/96), which aggregation writes as the IPv4 address it carries. */
function isMapped(buf: Buffer, off: number): boolean {
  for (let i = 0; i < 10; i++) if (buf[off + i] !== 0) return false;
  return buf[off + 10] === 0xff && buf[off + 11] === 0xff;
}

/**
 * Reads records of batches into a FlowFields. Keeps one slice buffer for variable-length
 * templates, so a reader is per pipeline, not shared across threads.
 */
export class FlowReader {
  #slices = new Int32Array(64);

  /**
   * Fills `out` from record `i` of `b` under `plan`; returns false when the record is too short
   * for its template or carries no address of either family.
   */
  read(b: FlowBatch, rp: RecordPlan, i: number, out: FlowFields): boolean {
    const plan = rp.flow;
    const buf = b.buf;
    const start = b.starts[i]!;
    // Offsets: constants for fixed-length templates, else from one slicing pass. No closures here:
    // this runs per record.
    let sl: Int32Array | undefined;
    if (!plan.fixed) {
      if (this.#slices.length < plan.fieldCount * 2) this.#slices = new Int32Array(plan.fieldCount * 2);
      sl = this.#slices;
      if (!fieldSlices(b.template, buf, start, b.starts[i + 1]!, sl)) return false;
    }
    let multicast = false;
    // Source: IPv4 when the template has it and it is set, else IPv6 (dual-stack templates leave one zero).
    const s4 = plan.src4;
    const s6 = plan.src6;
    if (s4 !== undefined && (s6 === undefined || !isZero(buf, at(s4, sl, start), 4))) {
      const o = at(s4, sl, start);
      out.srcOff = o;
      out.srcLen = 4;
      if ((buf[o]! & 0xf0) === 0xe0) multicast = true;
    } else if (s6 !== undefined) {
      const o = at(s6, sl, start);
      if (isMapped(buf, o)) {
        out.srcOff = o + 12;
        out.srcLen = 4;
        if ((buf[o + 12]! & 0xf0) === 0xe0) multicast = true;
      } else {
        out.srcOff = o;
        out.srcLen = 16;
        if (buf[o] === 0xff) multicast = true;
      }
    } else return false;
    const d4 = plan.dst4;
    const d6 = plan.dst6;
    if (d4 !== undefined && (d6 === undefined || !isZero(buf, at(d4, sl, start), 4))) {
      const o = at(d4, sl, start);
      out.dstOff = o;
      out.dstLen = 4;
      if ((buf[o]! & 0xf0) === 0xe0) multicast = true;
    } else if (d6 !== undefined) {
      const o = at(d6, sl, start);
      if (isMapped(buf, o)) {
        out.dstOff = o + 12;
        out.dstLen = 4;
        if ((buf[o + 12]! & 0xf0) === 0xe0) multicast = true;
      } else {
        out.dstOff = o;
        out.dstLen = 16;
        if (buf[o] === 0xff) multicast = true;
      }
    } else return false;
    out.buf = buf;
    out.multicast = multicast;

    const proto = plan.proto === undefined ? 0 : buf[at(plan.proto, sl, start)]!;
    out.proto = proto;
    const dp = plan.dstPort;
    let port = dp === undefined ? 0 : dp.length === 2 ? buf.readUInt16BE(at(dp, sl, start)) : buf[at(dp, sl, start)]!;
    if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
      // Type and code from the ICMP elements; failing those, from the destination port, where
      // NetFlow v5 and many v9/IPFIX exporters put type * 256 + code.
      let tc = port;
      if (plan.icmpTypeCode !== undefined) tc = buf.readUInt16BE(at(plan.icmpTypeCode, sl, start));
      else if (plan.icmpType !== undefined) tc = (buf[at(plan.icmpType, sl, start)]! << 8) | (plan.icmpCode === undefined ? 0 : buf[at(plan.icmpCode, sl, start)]!);
      out.icmpType = tc >>> 8;
      out.icmpCode = tc & 0xff;
      port = 0; // ICMP has no ports
    } else {
      out.icmpType = -1;
      out.icmpCode = -1;
    }
    out.dstPort = port;
    out.srcPort = plan.srcPort === undefined || proto === PROTO_ICMP || proto === PROTO_ICMPV6 ? 0 : plan.srcPort.length === 2 ? buf.readUInt16BE(at(plan.srcPort, sl, start)) : buf[at(plan.srcPort, sl, start)]!;
    // As exported: the sampling rate in force (src/pipeline/sampling.ts) scales them where totals are made.
    const pk = plan.packets;
    const by = plan.bytes;
    out.packets = pk === undefined ? 0 : uint(buf, at(pk, sl, start), pk.length);
    out.bytes = by === undefined ? 0 : uint(buf, at(by, sl, start), by.length);
    return true;
  }
}

/** A record's key facts as text, for --debug lines and tests (not a hot path). */
export interface FlowKey {
  readonly src?: string;
  readonly dst?: string;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly protocol?: number;
}

/** The key facts of every record of a batch (empty objects for records that carry no flow). */
export function flowKeys(b: FlowBatch): FlowKey[] {
  const rp = planFor(b.template);
  const reader = new FlowReader();
  const f = newFlowFields();
  const out: FlowKey[] = [];
  for (let i = 0; i < b.count; i++) {
    if (!reader.read(b, rp, i, f)) {
      out.push({});
      continue;
    }
    const p = rp.flow;
    out.push({
      src: addressText(f.buf, f.srcOff, f.srcLen),
      dst: addressText(f.buf, f.dstOff, f.dstLen),
      srcPort: p.srcPort === undefined ? undefined : f.srcPort,
      dstPort: p.dstPort === undefined && f.icmpType < 0 ? undefined : f.dstPort,
      protocol: p.proto === undefined ? undefined : f.proto,
    });
  }
  return out;
}
