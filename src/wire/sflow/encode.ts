/**
 * sFlow v5 datagram encoder: the agent side of the wire, for tests, fuzzing, benchmarks and the
 * probe. It writes what it is given (lengths and counts are computed, never checked against
 * meaning), so tests can build both correct datagrams and, by editing the bytes after, broken ones.
 *
 * Addresses are text ("192.0.2.1", "2001:db8::1"), or undefined for the sFlow UNKNOWN address type.
 */
import { parseIp, parseMac } from '../packet/addr.js';

/** An interface value of a flow sample: a plain ifIndex, or the format/value pair of the spec. */
export type SflowInterface = number | { readonly format: 0 | 1 | 2; readonly value: number };

export type FlowRecord =
  | { readonly type: 'header'; readonly protocol: number; readonly frameLength: number; readonly stripped?: number; readonly header: Buffer }
  | { readonly type: 'ethernet'; readonly length: number; readonly srcMac: string; readonly dstMac: string; readonly etherType: number }
  | {
      readonly type: 'ipv4' | 'ipv6';
      readonly length: number;
      readonly protocol: number;
      readonly src: string;
      readonly dst: string;
      readonly srcPort: number;
      readonly dstPort: number;
      readonly tcpFlags: number;
      /** ToS (IPv4) or priority (IPv6). */
      readonly tos: number;
    }
  | { readonly type: 'switch'; readonly srcVlan: number; readonly srcPriority: number; readonly dstVlan: number; readonly dstPriority: number }
  | { readonly type: 'router'; readonly nextHop: string | undefined; readonly srcMask: number; readonly dstMask: number }
  | {
      readonly type: 'gateway';
      readonly nextHop: string | undefined;
      readonly as: number;
      readonly srcAs: number;
      readonly srcPeerAs: number;
      /** Segments: 1 = AS_SET, 2 = AS_SEQUENCE. */
      readonly asPath: readonly { readonly type: 1 | 2; readonly asns: readonly number[] }[];
      readonly communities: readonly number[];
      readonly localPref: number;
    }
  | { readonly type: 'user'; readonly srcCharset: number; readonly srcUser: string; readonly dstCharset: number; readonly dstUser: string }
  | { readonly type: 'url'; readonly direction: number; readonly url: string; readonly host: string }
  | { readonly type: 'mpls'; readonly nextHop: string | undefined; readonly inStack: readonly number[]; readonly outStack: readonly number[] }
  | { readonly type: 'nat'; readonly src: string | undefined; readonly dst: string | undefined }
  | { readonly type: 'queue'; readonly queue: number }
  /** Any record as raw bytes (unknown formats, other enterprises, deliberately broken data). */
  | { readonly type: 'raw'; readonly enterprise?: number; readonly format: number; readonly data: Buffer };

export interface GenericCounters {
  readonly ifIndex: number;
  readonly ifType: number;
  readonly ifSpeed: number | bigint;
  readonly ifDirection: number;
  readonly ifStatus: number;
  readonly ifInOctets: number | bigint;
  readonly ifInUcastPkts: number;
  readonly ifInMulticastPkts: number;
  readonly ifInBroadcastPkts: number;
  readonly ifInDiscards: number;
  readonly ifInErrors: number;
  readonly ifInUnknownProtos: number;
  readonly ifOutOctets: number | bigint;
  readonly ifOutUcastPkts: number;
  readonly ifOutMulticastPkts: number;
  readonly ifOutBroadcastPkts: number;
  readonly ifOutDiscards: number;
  readonly ifOutErrors: number;
  readonly ifPromiscuousMode: number;
}

export type CounterRecord =
  | ({ readonly type: 'generic' } & GenericCounters)
  /** The 13 dot3Stats counters in wire order (alignment, FCS, single, multiple, SQE, deferred, late, excessive, MAC tx, carrier, too long, MAC rx, symbol). */
  | { readonly type: 'ethernet'; readonly dot3: readonly number[] }
  | { readonly type: 'vlan'; readonly vlanId: number; readonly octets: number | bigint; readonly ucastPkts: number; readonly multicastPkts: number; readonly broadcastPkts: number; readonly discards: number }
  | { readonly type: 'processor'; readonly cpu5s: number; readonly cpu1m: number; readonly cpu5m: number; readonly totalMemory: number | bigint; readonly freeMemory: number | bigint }
  | { readonly type: 'portName'; readonly name: string }
  | { readonly type: 'raw'; readonly enterprise?: number; readonly format: number; readonly data: Buffer };

export type SflowSample =
  | {
      readonly kind: 'flow';
      /** Expanded flow sample (format 3): 32-bit source id type and index, separate interface formats. */
      readonly expanded?: boolean;
      readonly sequence: number;
      readonly sourceType?: number;
      readonly sourceIndex: number;
      readonly samplingRate: number;
      readonly samplePool: number;
      readonly drops: number;
      readonly input: SflowInterface;
      readonly output: SflowInterface;
      readonly records: readonly FlowRecord[];
    }
  | {
      readonly kind: 'counters';
      readonly expanded?: boolean;
      readonly sequence: number;
      readonly sourceType?: number;
      readonly sourceIndex: number;
      readonly records: readonly CounterRecord[];
    }
  | {
      /** Discarded packet (format 5, sflow_drops.txt). */
      readonly kind: 'discard';
      readonly sequence: number;
      readonly sourceType?: number;
      readonly sourceIndex: number;
      readonly drops: number;
      readonly input: number;
      readonly output: number;
      readonly reason: number;
      readonly records: readonly FlowRecord[];
    }
  | { readonly kind: 'raw'; readonly enterprise?: number; readonly format: number; readonly data: Buffer };

export interface SflowDatagram {
  readonly agent: string | undefined;
  readonly subAgentId: number;
  readonly sequence: number;
  readonly uptimeMs: number;
  readonly samples: readonly SflowSample[];
}

/** XDR writer: big-endian 32-bit words, opaque data padded to 4 bytes. */
class Xdr {
  private readonly parts: Buffer[] = [];
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0, 0);
    this.parts.push(b);
    return this;
  }
  u64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)), 0);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    const pad = (4 - (b.length % 4)) % 4;
    if (pad > 0) this.parts.push(Buffer.alloc(pad));
    return this;
  }
  /** opaque<> / string<>: length, then the bytes padded. */
  opaque(b: Buffer): this {
    return this.u32(b.length).bytes(b);
  }
  address(text: string | undefined): this {
    if (text === undefined) return this.u32(0);
    const ip = parseIp(text);
    if (ip === undefined) throw new TypeError(`not an IP address: ${text}`);
    return this.u32(ip.length === 4 ? 1 : 2).bytes(ip);
  }
  mac(text: string): this {
    const m = parseMac(text);
    if (m === undefined) throw new TypeError(`not a MAC address: ${text}`);
    return this.bytes(m);
  }
  /** A (data_format, length, data) record. */
  record(enterprise: number, format: number, body: Buffer): this {
    return this.u32(((enterprise << 12) | format) >>> 0)
      .u32(body.length)
      .bytes(body);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function ipBytes(text: string, len: 4 | 16): Buffer {
  const ip = parseIp(text);
  if (ip === undefined || ip.length !== len) throw new TypeError(`not an IPv${len === 4 ? 4 : 6} address: ${text}`);
  return ip;
}

export function encodeFlowRecord(r: FlowRecord): { enterprise: number; format: number; body: Buffer } {
  const x = new Xdr();
  switch (r.type) {
    case 'header':
      x.u32(r.protocol).u32(r.frameLength).u32(r.stripped ?? 4).opaque(r.header);
      return { enterprise: 0, format: 1, body: x.done() };
    case 'ethernet':
      x.u32(r.length).mac(r.srcMac).mac(r.dstMac).u32(r.etherType);
      return { enterprise: 0, format: 2, body: x.done() };
    case 'ipv4':
    case 'ipv6': {
      const n = r.type === 'ipv4' ? 4 : 16;
      x.u32(r.length).u32(r.protocol).bytes(ipBytes(r.src, n)).bytes(ipBytes(r.dst, n));
      x.u32(r.srcPort).u32(r.dstPort).u32(r.tcpFlags).u32(r.tos);
      return { enterprise: 0, format: r.type === 'ipv4' ? 3 : 4, body: x.done() };
    }
    case 'switch':
      x.u32(r.srcVlan).u32(r.srcPriority).u32(r.dstVlan).u32(r.dstPriority);
      return { enterprise: 0, format: 1001, body: x.done() };
    case 'router':
      x.address(r.nextHop).u32(r.srcMask).u32(r.dstMask);
      return { enterprise: 0, format: 1002, body: x.done() };
    case 'gateway':
      x.address(r.nextHop).u32(r.as).u32(r.srcAs).u32(r.srcPeerAs).u32(r.asPath.length);
      for (const seg of r.asPath) {
        x.u32(seg.type).u32(seg.asns.length);
        for (const a of seg.asns) x.u32(a);
      }
      x.u32(r.communities.length);
      for (const c of r.communities) x.u32(c);
      x.u32(r.localPref);
      return { enterprise: 0, format: 1003, body: x.done() };
    case 'user':
      x.u32(r.srcCharset).opaque(Buffer.from(r.srcUser, 'utf8')).u32(r.dstCharset).opaque(Buffer.from(r.dstUser, 'utf8'));
      return { enterprise: 0, format: 1004, body: x.done() };
    case 'url':
      x.u32(r.direction).opaque(Buffer.from(r.url, 'utf8')).opaque(Buffer.from(r.host, 'utf8'));
      return { enterprise: 0, format: 1005, body: x.done() };
    case 'mpls':
      x.address(r.nextHop).u32(r.inStack.length);
      for (const l of r.inStack) x.u32(l);
      x.u32(r.outStack.length);
      for (const l of r.outStack) x.u32(l);
      return { enterprise: 0, format: 1006, body: x.done() };
    case 'nat':
      x.address(r.src).address(r.dst);
      return { enterprise: 0, format: 1007, body: x.done() };
    case 'queue':
      x.u32(r.queue);
      return { enterprise: 0, format: 1036, body: x.done() };
    case 'raw':
      return { enterprise: r.enterprise ?? 0, format: r.format, body: r.data };
  }
}

export function encodeCounterRecord(r: CounterRecord): { enterprise: number; format: number; body: Buffer } {
  const x = new Xdr();
  switch (r.type) {
    case 'generic':
      x.u32(r.ifIndex).u32(r.ifType).u64(r.ifSpeed).u32(r.ifDirection).u32(r.ifStatus);
      x.u64(r.ifInOctets).u32(r.ifInUcastPkts).u32(r.ifInMulticastPkts).u32(r.ifInBroadcastPkts).u32(r.ifInDiscards).u32(r.ifInErrors).u32(r.ifInUnknownProtos);
      x.u64(r.ifOutOctets).u32(r.ifOutUcastPkts).u32(r.ifOutMulticastPkts).u32(r.ifOutBroadcastPkts).u32(r.ifOutDiscards).u32(r.ifOutErrors);
      x.u32(r.ifPromiscuousMode);
      return { enterprise: 0, format: 1, body: x.done() };
    case 'ethernet':
      if (r.dot3.length !== 13) throw new RangeError(`Ethernet counters need 13 values, got ${r.dot3.length}`);
      for (const v of r.dot3) x.u32(v);
      return { enterprise: 0, format: 2, body: x.done() };
    case 'vlan':
      x.u32(r.vlanId).u64(r.octets).u32(r.ucastPkts).u32(r.multicastPkts).u32(r.broadcastPkts).u32(r.discards);
      return { enterprise: 0, format: 5, body: x.done() };
    case 'processor':
      x.u32(r.cpu5s).u32(r.cpu1m).u32(r.cpu5m).u64(r.totalMemory).u64(r.freeMemory);
      return { enterprise: 0, format: 1001, body: x.done() };
    case 'portName':
      x.opaque(Buffer.from(r.name, 'utf8'));
      return { enterprise: 0, format: 1005, body: x.done() };
    case 'raw':
      return { enterprise: r.enterprise ?? 0, format: r.format, body: r.data };
  }
}

/** Compact interface encoding: format in the top 2 bits, value in the low 30. */
function compactInterface(i: SflowInterface): number {
  if (typeof i === 'number') return i >>> 0;
  return ((i.format << 30) | (i.value & 0x3fffffff)) >>> 0;
}

function expandedInterface(x: Xdr, i: SflowInterface): void {
  if (typeof i === 'number') x.u32(0).u32(i);
  else x.u32(i.format).u32(i.value);
}

export function encodeSample(s: SflowSample): { enterprise: number; format: number; body: Buffer } {
  const x = new Xdr();
  const records = (rs: readonly { enterprise: number; format: number; body: Buffer }[]) => {
    x.u32(rs.length);
    for (const r of rs) x.record(r.enterprise, r.format, r.body);
  };
  switch (s.kind) {
    case 'flow':
      x.u32(s.sequence);
      if (s.expanded) {
        x.u32(s.sourceType ?? 0).u32(s.sourceIndex).u32(s.samplingRate).u32(s.samplePool).u32(s.drops);
        expandedInterface(x, s.input);
        expandedInterface(x, s.output);
      } else {
        x.u32((((s.sourceType ?? 0) << 24) | (s.sourceIndex & 0xffffff)) >>> 0).u32(s.samplingRate).u32(s.samplePool).u32(s.drops);
        x.u32(compactInterface(s.input)).u32(compactInterface(s.output));
      }
      records(s.records.map(encodeFlowRecord));
      return { enterprise: 0, format: s.expanded ? 3 : 1, body: x.done() };
    case 'counters':
      x.u32(s.sequence);
      if (s.expanded) x.u32(s.sourceType ?? 0).u32(s.sourceIndex);
      else x.u32((((s.sourceType ?? 0) << 24) | (s.sourceIndex & 0xffffff)) >>> 0);
      records(s.records.map(encodeCounterRecord));
      return { enterprise: 0, format: s.expanded ? 4 : 2, body: x.done() };
    case 'discard':
      x.u32(s.sequence).u32(s.sourceType ?? 0).u32(s.sourceIndex).u32(s.drops).u32(s.input).u32(s.output).u32(s.reason);
      records(s.records.map(encodeFlowRecord));
      return { enterprise: 0, format: 5, body: x.done() };
    case 'raw':
      return { enterprise: s.enterprise ?? 0, format: s.format, body: s.data };
  }
}

/** Encodes a whole sFlow v5 datagram. */
export function encodeSflowDatagram(d: SflowDatagram): Buffer {
  const x = new Xdr();
  x.u32(5).address(d.agent).u32(d.subAgentId).u32(d.sequence).u32(d.uptimeMs).u32(d.samples.length);
  for (const s of d.samples) {
    const e = encodeSample(s);
    x.record(e.enterprise, e.format, e.body);
  }
  return x.done();
}
