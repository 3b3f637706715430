/**
 * sFlow version 5 (sflow.org, "sFlow Version 5", July 2004, plus the drop-notification extension
 * sflow_drops.txt) onto the IPFIX record model.
 *
 * Pure: no I/O, no timers, time comes in as `nowMs`. decode() never throws: every problem is
 * reported to sink.drop with its byte offset, and every length and count read from the wire is
 * checked against the bytes that are really there before anything is read or allocated for it.
 *
 * Each flow sample (and discarded-packet sample) becomes one record, each counter sample one
 * "sflow.counters" record. The decoder first reads a sample's records into a reusable SampleState
 * (numbers, and offsets into the datagram for addresses and strings), then writes the fields the
 * sample had into a record buffer laid out by the synthetic template of its field groups (see
 * layout.ts). Records of one datagram with the same template become one FlowBatch.
 */
import type { FlowBatch, MessageContext, TransportSession } from '../batch.js';
import type { DecodeSink, VersionDecoder } from '../decoder.js';
import type { IeResolver } from '../fixed-formats.js';
import { ipv4ToString, ipv6ToString } from '../packet/addr.js';
import * as parse from '../packet/parse.js';
import { PacketLayers } from '../packet/parse.js';
import type { DropEvent, DropReason } from '../stats.js';
import type { Template } from '../template.js';
import { decodeRecord, type FieldValue } from '../values.js';
import { float64s, int32s } from '../typed-slab.js';
import { C, G, MAX_LABELS, SflowLayouts } from './layout.js';
import { SluiceError } from '../../util/errors.js';

// ---- wire constants ---------------------------------------------------------------------------

/** Sample formats (enterprise 0). */
const FLOW_SAMPLE = 1;
const COUNTER_SAMPLE = 2;
const FLOW_SAMPLE_EXPANDED = 3;
const COUNTER_SAMPLE_EXPANDED = 4;
const DISCARDED_PACKET = 5; // sflow_drops.txt

/** Flow record formats (enterprise 0). */
const R_HEADER = 1;
const R_ETHERNET = 2;
const R_IPV4 = 3;
const R_IPV6 = 4;
const R_SWITCH = 1001;
const R_ROUTER = 1002;
const R_GATEWAY = 1003;
const R_USER = 1004;
const R_URL = 1005;
const R_MPLS = 1006;
const R_NAT = 1007;
const R_EGRESS_QUEUE = 1036; // sflow_drops.txt

/** Counter record formats (enterprise 0). */
const CR_GENERIC = 1;
const CR_ETHERNET = 2;
const CR_VLAN = 5;
const CR_PROCESSOR = 1001;
const CR_PORT_NAME = 1005; // sflow_openflow.txt

/** sampled_header header_protocol values that sluice dissects. */
const HP_ETHERNET = 1;
const HP_IPV4 = 11;
const HP_IPV6 = 12;
const HP_MPLS = 13;

// Imported bindings copied into module constants once: transpilers that turn modules into
// namespace objects (tsx in development) would otherwise put a getter call on every use.
const dissect = parse.dissect;
const LT_ETHERNET = parse.LinkType.ETHERNET;
const LT_IPV4 = parse.LinkType.IPV4;
const LT_IPV6 = parse.LinkType.IPV6;
const LT_RAW = parse.LinkType.RAW;
const ET_MPLS = parse.EtherType.MPLS;
const ET_MPLS_MC = parse.EtherType.MPLS_MC;
const P_TCP = parse.IpProto.TCP;
const P_UDP = parse.IpProto.UDP;
const P_SCTP = parse.IpProto.SCTP;
const P_UDPLITE = parse.IpProto.UDPLITE;

// Group bits: flow groups 0-31 live in `lo`, 32+ in `hi`.
const bit = (g: number): number => (g < 32 ? (1 << g) >>> 0 : 0);
const hbit = (g: number): number => (g >= 32 ? 1 << (g - 32) : 0);

const L_AGENT4 = bit(G.AGENT4);
const L_AGENT6 = bit(G.AGENT6);
const L_BASE = bit(G.BASE);
const L_SAMPLING = bit(G.SAMPLING);
const L_DROPPED = bit(G.DROPPED);
const L_DISCARD = bit(G.DISCARD);
const L_IN_IF = bit(G.IN_IF);
const L_OUT_IF = bit(G.OUT_IF);
const L_IN_MULTI = bit(G.IN_MULTI);
const L_OUT_MULTI = bit(G.OUT_MULTI);
const L_DIRECTION = bit(G.DIRECTION);
const L_HDR_PROTO = bit(G.HDR_PROTO);
const L_L2OCTETS = bit(G.L2OCTETS);
const L_SCALED_L2 = bit(G.SCALED_L2);
const L_OCTETS = bit(G.OCTETS);
const L_SCALED_OCT = bit(G.SCALED_OCT);
const L_DROPPED_OCT = bit(G.DROPPED_OCT);
const L_MAC = bit(G.MAC);
const L_ETHTYPE = bit(G.ETHTYPE);
const L_DOT1Q = bit(G.DOT1Q);
const L_DOT1Q_INNER = bit(G.DOT1Q_INNER);
const L_SW_IN_VLAN = bit(G.SW_IN_VLAN);
const L_SW_OUT_VLAN = bit(G.SW_OUT_VLAN);
const L_SW_IN_PRI = bit(G.SW_IN_PRI);
const L_SW_OUT_PRI = bit(G.SW_OUT_PRI);
const L_IP4 = bit(G.IP4);
const L_IP6 = bit(G.IP6);
const L_PROTO = bit(G.PROTO);
const L_IPV4HDR = bit(G.IPV4HDR);
const L_IPV6HDR = bit(G.IPV6HDR);
const L_FRAG = bit(G.FRAG);
const L_PORTS = bit(G.PORTS);
const H_TCP = hbit(G.TCP);
const H_UDP = hbit(G.UDP);
const H_ICMP4 = hbit(G.ICMP4);
const H_ICMP6 = hbit(G.ICMP6);
const H_MPLS_LABELS = hbit(G.MPLS_LABELS);
const H_RT_NH4 = hbit(G.RT_NH4);
const H_RT_NH6 = hbit(G.RT_NH6);
const H_MASK4 = hbit(G.MASK4);
const H_MASK6 = hbit(G.MASK6);
const H_GW = hbit(G.GW);
const H_GW_NH4 = hbit(G.GW_NH4);
const H_GW_NH6 = hbit(G.GW_NH6);
const H_GW_PATH = hbit(G.GW_PATH);
const H_GW_COMM = hbit(G.GW_COMM);
const H_USER = hbit(G.USER);
const H_URL = hbit(G.URL);
const H_MPLS_NH4 = hbit(G.MPLS_NH4);
const H_MPLS_NH6 = hbit(G.MPLS_NH6);
const H_MPLS_OUT = hbit(G.MPLS_OUT);
const H_NAT_SRC4 = hbit(G.NAT_SRC4);
const H_NAT_SRC6 = hbit(G.NAT_SRC6);
const H_NAT_DST4 = hbit(G.NAT_DST4);
const H_NAT_DST6 = hbit(G.NAT_DST6);
const H_QUEUE = hbit(G.QUEUE);

/** Everything that depends on the sampled packet's IP version; cleared when a later record says otherwise. */
const L_V4_ONLY = L_IP4 | L_IPV4HDR;
const L_V6_ONLY = L_IP6 | L_IPV6HDR;
/** Fields that come from a dissected packet header; cleared before a header is dissected. */
const L_FROM_PACKET = L_IP4 | L_IP6 | L_PROTO | L_IPV4HDR | L_IPV6HDR | L_FRAG | L_PORTS;
const H_FROM_PACKET = H_TCP | H_UDP | H_ICMP4 | H_ICMP6;

const CB_AGENT4 = 1 << C.AGENT4;
const CB_AGENT6 = 1 << C.AGENT6;
const CB_BASE = 1 << C.BASE;
const CB_IF = 1 << C.IF;
const CB_ETH = 1 << C.ETH;
const CB_VLAN = 1 << C.VLAN;
const CB_CPU = 1 << C.CPU;
const CB_PORTNAME = 1 << C.PORTNAME;

/**
 * sFlow drop reasons (the ICMP unreachable codes 0-15 of the v5 spec, 256+ from sflow_drops.txt)
 * onto IPFIX forwardingStatus (RFC 7270: 0b10xxxxxx = dropped, with a reason). Reasons without a
 * counterpart become 128 "Dropped: unknown"; the sFlow reason itself is kept beside it.
 */
function forwardingStatusOf(reason: number): number {
  if (reason <= 15) {
    if (reason === 4) return 133; // fragmentation needed and DF set
    if (reason === 9 || reason === 10 || reason === 13 || reason === 14 || reason === 15 || reason === 8) return 129; // administratively prohibited: ACL deny
    return 131; // net/host/protocol/port unreachable: unroutable
  }
  switch (reason) {
    case 257: // ttl_exceeded
      return 137;
    case 258: // acl
      return 129;
    case 260: // red
      return 139;
    case 261: // traffic_shaping
      return 138;
    case 262: // pkt_too_big
      return 133;
    case 269: // blackhole_route
    case 281: // non_routable_packet
      return 131;
    case 275: // ip_header_corrupted
      return 136;
    case 279: // unresolved_neigh
      return 132;
    case 280: // mc_reverse_path_forwarding
    case 302: // uc_reverse_path_forwarding
      return 140;
    default:
      return 128;
  }
}

function u16(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Buffer, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}
/** XDR pads opaque and string data to a multiple of 4 bytes. */
function pad4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Where the next sample or record starts: samples and records are XDR opaque<> data, whose length
 * counts the bytes without the padding to 4 that follows them (agents write lengths that are
 * multiples of 4 anyway, so this matters for odd vendor records only). Never past `end`.
 */
function next(body: number, len: number, end: number): number {
  return Math.min(body + pad4(len), end);
}

/** A problem found while reading a sample, carried to the datagram loop, which reports it. */
class SampleError extends SluiceError {
  constructor(
    readonly reason: DropReason,
    readonly offset: number,
    message: string,
  ) {
    super('sflow-sample', message, { offset });
  }
}

/** What the records of one sample said. Reused for every sample: numbers and offsets only. */
class SampleState {
  lo = 0;
  hi = 0;
  labels = 0;
  labelOff = 0;
  srcType = 0;
  srcIndex = 0;
  seq = 0;
  rate = 0;
  pool = 0;
  drops = 0;
  inVal = 0;
  outVal = 0;
  dropReason = 0;
  direction = 0;
  hdrProto = 0;
  frameLen = 0;
  ipLen = 0;
  srcMacOff = 0;
  dstMacOff = 0;
  ethType = 0;
  vlan = 0;
  vlanPri = 0;
  vlanInner = 0;
  vlanInnerPri = 0;
  swInVlan = 0;
  swOutVlan = 0;
  swInPri = 0;
  swOutPri = 0;
  ipSrcOff = 0;
  ipDstOff = 0;
  proto = 0;
  tos = 0;
  ttl = 0;
  ihl = 0;
  ipTotal4 = 0;
  payload6 = 0;
  flowLabel = 0;
  fragId = 0;
  fragOff = 0;
  fragFlags = 0;
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  udpLen = 0;
  icmp = 0;
  rtNhOff = 0;
  maskSrc = 0;
  maskDst = 0;
  gwNhOff = 0;
  gwAs = 0;
  gwSrcAs = 0;
  gwPeerAs = 0;
  gwDstAs = 0;
  gwLocalPref = 0;
  gwNextAs = 0;
  gwPathOff = 0;
  gwPathSegments = 0;
  gwPathAsns = 0;
  gwCommOff = 0;
  gwCommCount = 0;
  userSrcOff = 0;
  userSrcLen = 0;
  userDstOff = 0;
  userDstLen = 0;
  urlDir = 0;
  urlOff = 0;
  urlLen = 0;
  hostOff = 0;
  hostLen = 0;
  mplsNhOff = 0;
  mplsOutOff = 0;
  natSrcOff = 0;
  natDstOff = 0;
  queue = 0;
  /** Counter samples: record offsets. */
  ifOff = 0;
  ethOff = 0;
  vlanCtrOff = 0;
  cpuOff = 0;
  portNameOff = 0;
  portNameLen = 0;
}

const SLAB = 256 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Where records are written: a slab that batches point into. Each datagram's records go after the
 * previous datagram's, which stay untouched (a consumer may keep a batch), so a batch needs no copy
 * and no allocation of its own; a full slab is replaced by a fresh one, and the old one lives as
 * long as some batch refers to it.
 */
class RecordWriter {
  buf = Buffer.allocUnsafe(SLAB);
  pos = 0;
  /** Start of the current datagram's records. */
  mark = 0;

  begin(): void {
    this.mark = this.pos;
  }

  /** Discards what the current datagram wrote (after an internal error), unless it was handed out. */
  rollback(): void {
    this.pos = this.mark;
  }

  /** The current datagram's records are final: batches are about to point at them. */
  commit(): void {
    this.mark = this.pos;
  }

  /**
   * Makes room for `n` more bytes. Returns how far the current datagram's records moved (0, or a
   * negative shift when they moved to the start of a new slab) so their offsets can follow.
   */
  ensure(n: number): number {
    if (this.pos + n <= this.buf.length) return 0;
    const used = this.pos - this.mark;
    const next = Buffer.allocUnsafe(Math.max(SLAB, 2 * (used + n)));
    this.buf.copy(next, 0, this.mark, this.pos);
    const shift = -this.mark;
    this.buf = next;
    this.pos = used;
    this.mark = 0;
    return shift;
  }
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }
  u32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }
  /** An unsigned integer below 2^53 as 8 bytes. */
  u64(v: number): void {
    const hi = Math.floor(v / 4294967296);
    this.u32(hi >>> 0);
    this.u32((v - hi * 4294967296) >>> 0);
  }
  /** The exact 64-bit product of two unsigned 32-bit numbers (a double would round above 2^53). */
  mul32(a: number, b: number): void {
    const p = a * b;
    if (p <= Number.MAX_SAFE_INTEGER) return this.u64(p); // every realistic frame length times rate
    const bl = b & 0xffff;
    const bh = (b >>> 16) & 0xffff;
    const p1 = a * bl; // < 2^48, exact
    const p2 = a * bh; // < 2^48, exact; weight 2^16
    const p2lo = (p2 % 65536) * 65536; // low 16 bits of p2, shifted into the low word
    const p2hi = Math.floor(p2 / 65536); // the rest, in units of 2^32
    let lo = (p1 % 4294967296) + p2lo;
    let hi = Math.floor(p1 / 4294967296) + p2hi;
    if (lo >= 4294967296) {
      lo -= 4294967296;
      hi += 1;
    }
    this.u32(hi >>> 0);
    this.u32(lo >>> 0);
  }
  copy(src: Buffer, off: number, len: number): void {
    const b = this.buf;
    let p = this.pos;
    if (len <= 32) {
      // Addresses and MACs: a byte loop beats Buffer.copy's call overhead several times over.
      for (let i = 0; i < len; i++) b[p++] = src[off + i]!;
    } else {
      src.copy(b, p, off, off + len);
      p += len;
    }
    this.pos = p;
  }
  /** RFC 7011 section 7 variable-length prefix. */
  varlen(len: number): void {
    if (len < 255) this.u8(len);
    else {
      this.u8(255);
      this.u16(len);
    }
  }
}

/** Loop bound on announced sample and record counts (each also consumes at least 8 bytes). */
const MAX_COUNT = 0xffff;
/** A UDP datagram holds at most 65535 bytes, so at most 8191 samples of 8 bytes or more. */
const MAX_PLAUSIBLE = 8191;

/**
 * Samples lost when `count` were announced and `done` were read. A count no datagram could hold is
 * one lying field, reported once, not billions of lost samples in the metrics.
 */
function lost(count: number, done: number): number {
  return count <= MAX_PLAUSIBLE ? count - done : 1;
}

/**
 * Decodes sFlow v5 datagrams. Register with FlowDecoder.registerVersion32(5, ...): the datagram
 * opens with the 32-bit version 5.
 */
export class SflowDecoder implements VersionDecoder {
  private readonly layouts: SflowLayouts;
  private readonly s = new SampleState();
  private readonly out = new RecordWriter();
  private readonly pkt = new PacketLayers();
  // Records of the current datagram: template and span in the writer, reused between datagrams.
  private recTpl: Template[] = [];
  private recStart: number[] = [];
  private recEnd: number[] = [];
  private nrec = 0;
  // Current datagram: set by decode(), read by the helpers (no closures per datagram).
  private buf: Buffer = EMPTY;
  private session!: TransportSession;
  private sink!: DecodeSink;
  private agentOff = 0;
  private agentV6 = false;
  private agentKnown = false;
  private agentText: string | undefined;
  private subAgent = 0;
  private nowMs = 0;
  /** nowMs as the two words of a dateTimeMilliseconds, computed once per datagram. */
  private nowHi = 0;
  private nowLo = 0;

  constructor(private readonly registry: IeResolver) {
    this.layouts = new SflowLayouts(registry);
  }

  decode(buf: Buffer, session: TransportSession, nowMs: number, sink: DecodeSink): void {
    this.buf = buf;
    this.session = session;
    this.sink = sink;
    this.agentText = undefined;
    this.agentKnown = false;
    this.nrec = 0;
    this.out.begin();
    this.nowMs = Math.floor(nowMs);
    this.nowHi = Math.floor(this.nowMs / 4294967296) >>> 0;
    this.nowLo = (this.nowMs - this.nowHi * 4294967296) >>> 0;
    try {
      this.datagram(nowMs);
    } catch (err) {
      this.out.rollback();
      // A bug here must cost one datagram, not the collector; the message says where it happened.
      this.drop('bad-record', 1, 'datagram', 0, `internal sFlow decoder error: ${(err as Error).message}`);
    }
    this.buf = EMPTY; // do not keep the datagram alive
  }

  private drop(reason: DropReason, count: number, unit: DropEvent['unit'], offset: number, detail: string): void {
    const agent = this.agent();
    const who = agent === undefined ? '' : `agent ${agent} sub-agent ${this.subAgent}: `;
    this.sink.drop({ reason, session: this.session, count, unit, offset, detail: who + detail, agent });
  }

  /** The agent address as text, formatted only when a drop needs it. */
  private agent(): string | undefined {
    if (!this.agentKnown) return undefined;
    if (this.agentText === undefined) {
      if (this.agentOff < 0) this.agentText = 'unknown';
      else this.agentText = this.agentV6 ? ipv6ToString(this.buf, this.agentOff) : ipv4ToString(this.buf, this.agentOff);
    }
    return this.agentText;
  }

  private datagram(nowMs: number): void {
    const buf = this.buf;
    const len = buf.length;
    if (len < 8) {
      this.drop('truncated', 1, 'datagram', 0, `sFlow header needs at least 28 bytes, datagram has ${len}`);
      return;
    }
    // Version 5 was checked by the dispatcher; the agent address type decides the header size.
    const addrType = u32(buf, 4);
    let p = 8;
    if (addrType === 1) {
      this.agentOff = 8;
      this.agentV6 = false;
      p += 4;
    } else if (addrType === 2) {
      this.agentOff = 8;
      this.agentV6 = true;
      p += 16;
    } else if (addrType === 0) {
      this.agentOff = -1; // UNKNOWN: no address bytes follow
    } else {
      this.drop('bad-record', 1, 'datagram', 4, `unknown agent address type ${addrType}`);
      return;
    }
    if (len < p + 16) {
      this.drop('truncated', 1, 'datagram', len, `sFlow header needs ${p + 16} bytes, datagram has ${len}`);
      return;
    }
    this.agentKnown = true;
    this.subAgent = u32(buf, p);
    const seq = u32(buf, p + 4);
    const uptime = u32(buf, p + 8);
    const count = u32(buf, p + 12);
    p += 16;

    let i = 0;
    for (; i < count && i < MAX_COUNT; i++) {
      if (len - p < 8) break;
      const format = u32(buf, p);
      const slen = u32(buf, p + 4);
      const body = p + 8;
      if (slen > len - body) {
        this.drop('truncated', lost(count, i), 'record', p, `sample ${i} of ${count} declares ${slen} bytes, ${len - body} left in the datagram; the samples from there on are lost`);
        i = count;
        p = len;
        break;
      }
      const end = body + slen;
      try {
        this.sample(format, body, end, i);
      } catch (err) {
        if (!(err instanceof SampleError)) throw err;
        this.drop(err.reason, 1, 'record', err.offset, `sample ${i}: ${err.message}`);
      }
      p = next(body, slen, len);
    }
    if (i < count) {
      if (count > MAX_PLAUSIBLE) this.drop('bad-length', 1, 'record', p, `datagram announces ${count} samples, more than any datagram can hold; ${i} read`);
      else this.drop('truncated', count - i, 'record', p, `datagram announces ${count} samples, ended after ${i}`);
    } else if (p < len) {
      this.drop('bad-length', len - p, 'bytes', p, `${len - p} bytes after the last of ${count} samples`);
    }
    if (this.nrec > 0) this.emit(seq, uptime, nowMs);
  }

  /** Decodes one sample at [p, end) into a record, or throws SampleError. */
  private sample(format: number, p: number, end: number, index: number): void {
    const enterprise = format >>> 12;
    const fmt = format & 0xfff;
    if (enterprise !== 0 || fmt < FLOW_SAMPLE || fmt > DISCARDED_PACKET) {
      this.drop('unsupported', 1, 'record', p - 8, `sample ${index}: format ${enterprise}:${fmt} is not decoded; skipped ${end - p} bytes`);
      return;
    }
    const s = this.s;
    const buf = this.buf;
    const avail = end - p;
    s.lo = L_BASE | (this.agentOff < 0 ? 0 : this.agentV6 ? L_AGENT6 : L_AGENT4);
    s.hi = 0;
    s.labels = 0;
    let nrec: number;
    if (fmt === COUNTER_SAMPLE || fmt === COUNTER_SAMPLE_EXPANDED) {
      const need = fmt === COUNTER_SAMPLE ? 12 : 16;
      if (avail < need) throw new SampleError('bad-length', p, `counter sample of ${avail} bytes is shorter than its ${need}-byte header`);
      s.seq = u32(buf, p);
      if (fmt === COUNTER_SAMPLE) {
        s.srcType = buf[p + 4]!;
        s.srcIndex = u32(buf, p + 4) & 0xffffff;
        nrec = u32(buf, p + 8);
      } else {
        s.srcType = u32(buf, p + 4);
        s.srcIndex = u32(buf, p + 8);
        nrec = u32(buf, p + 12);
      }
      this.counterRecords(p + need, end, nrec);
      return;
    }
    let inFmt: number;
    let outFmt: number;
    let inVal: number;
    let outVal: number;
    if (fmt === FLOW_SAMPLE) {
      if (avail < 32) throw new SampleError('bad-length', p, `flow sample of ${avail} bytes is shorter than its 32-byte header`);
      s.seq = u32(buf, p);
      s.srcType = buf[p + 4]!;
      s.srcIndex = u32(buf, p + 4) & 0xffffff;
      s.rate = u32(buf, p + 8);
      s.pool = u32(buf, p + 12);
      s.drops = u32(buf, p + 16);
      // Compact interfaces: the top two bits are the format, the low 30 the value.
      const input = u32(buf, p + 20);
      const output = u32(buf, p + 24);
      inFmt = input >>> 30;
      inVal = input & 0x3fffffff;
      outFmt = output >>> 30;
      outVal = output & 0x3fffffff;
      nrec = u32(buf, p + 28);
      p += 32;
    } else if (fmt === FLOW_SAMPLE_EXPANDED) {
      if (avail < 44) throw new SampleError('bad-length', p, `expanded flow sample of ${avail} bytes is shorter than its 44-byte header`);
      s.seq = u32(buf, p);
      s.srcType = u32(buf, p + 4);
      s.srcIndex = u32(buf, p + 8);
      s.rate = u32(buf, p + 12);
      s.pool = u32(buf, p + 16);
      s.drops = u32(buf, p + 20);
      inFmt = u32(buf, p + 24);
      inVal = u32(buf, p + 28);
      outFmt = u32(buf, p + 32);
      outVal = u32(buf, p + 36);
      nrec = u32(buf, p + 40);
      p += 44;
    } else {
      // Discarded packet: plain ifIndex values (0 = unknown) and an explicit reason.
      if (avail < 32) throw new SampleError('bad-length', p, `discarded-packet sample of ${avail} bytes is shorter than its 32-byte header`);
      s.seq = u32(buf, p);
      s.srcType = u32(buf, p + 4);
      s.srcIndex = u32(buf, p + 8);
      s.drops = u32(buf, p + 12);
      s.inVal = u32(buf, p + 16);
      s.outVal = u32(buf, p + 20);
      s.dropReason = u32(buf, p + 24);
      nrec = u32(buf, p + 28);
      p += 32;
      s.lo |= L_DROPPED | L_DISCARD | L_IN_IF | L_OUT_IF;
      if (s.srcType === 0 && s.inVal === s.srcIndex) (s.direction = 0), (s.lo |= L_DIRECTION);
      else if (s.srcType === 0 && s.outVal === s.srcIndex) (s.direction = 1), (s.lo |= L_DIRECTION);
      this.flowRecords(p, end, nrec, false);
      return;
    }
    s.lo |= L_SAMPLING;
    this.interfaces(inFmt, inVal, outFmt, outVal);
    this.flowRecords(p, end, nrec, true);
  }

  /** The input/output interface formats: 0 ifIndex, 1 discarded (value = reason), 2 multiple (value = count). */
  private interfaces(inFmt: number, inVal: number, outFmt: number, outVal: number): void {
    const s = this.s;
    if (inFmt === 0) (s.inVal = inVal), (s.lo |= L_IN_IF);
    else if (inFmt === 2) (s.inVal = inVal), (s.lo |= L_IN_MULTI);
    if (outFmt === 0) (s.outVal = outVal), (s.lo |= L_OUT_IF);
    else if (outFmt === 1) (s.dropReason = outVal), (s.lo |= L_DISCARD);
    else if (outFmt === 2) (s.outVal = outVal), (s.lo |= L_OUT_MULTI);
    // Direction: the data source is where the packet was sampled. It is the input interface for
    // ingress sampling; for egress sampling it is the output, or one of several outputs.
    if (s.srcType === 0) {
      if (inFmt === 0 && inVal === s.srcIndex) (s.direction = 0), (s.lo |= L_DIRECTION);
      else if ((outFmt === 0 && outVal === s.srcIndex) || outFmt === 2) (s.direction = 1), (s.lo |= L_DIRECTION);
    }
  }

  // ---- flow records -----------------------------------------------------------------------

  private flowRecords(p: number, end: number, nrec: number, sampled: boolean): void {
    const buf = this.buf;
    const s = this.s;
    let i = 0;
    for (; i < nrec && i < MAX_COUNT; i++) {
      if (end - p < 8) break;
      const format = u32(buf, p);
      const rlen = u32(buf, p + 4);
      const body = p + 8;
      if (rlen > end - body) {
        this.drop('bad-length', 1, 'record', p, `flow record ${i} of ${nrec}, format ${format >>> 12}:${format & 0xfff} declares ${rlen} bytes, ${end - body} left in the sample; the sample keeps the records before it`);
        i = nrec;
        p = end;
        break;
      }
      if (format >>> 12 === 0) {
        const why = this.flowRecord(format & 0xfff, body, body + rlen);
        if (why !== undefined) this.drop('bad-record', 1, 'record', p, `flow record ${format & 0xfff}: ${why}`);
      } // other enterprises' records are skipped by their length: the sample keeps the rest
      p = next(body, rlen, end);
    }
    if (i < nrec) this.drop('truncated', 1, 'record', p, `flow sample announces ${nrec} records, ended after ${i}; the sample keeps those`);

    // Fields that depend on more than one record.
    if ((s.lo & L_DOT1Q) !== 0) s.lo &= ~L_SW_IN_PRI; // the captured tag's priority is the frame's own
    if ((s.lo & L_IP6) !== 0) {
      if (s.hi & H_MASK4) (s.hi &= ~H_MASK4), (s.hi |= H_MASK6); // prefix lengths are those of the packet's addresses
    }
    if (sampled) {
      if (s.lo & L_L2OCTETS) s.lo |= L_SCALED_L2;
      if (s.lo & L_OCTETS) s.lo |= L_SCALED_OCT;
    } else if (s.lo & L_OCTETS) {
      // A discarded packet is an event, not a sample: its bytes are dropped bytes.
      s.lo = (s.lo & ~(L_OCTETS | L_L2OCTETS)) | L_DROPPED_OCT;
    } else s.lo &= ~L_L2OCTETS;
    this.writeFlow();
  }

  /** Reads one flow record into the sample state; returns why it is unusable, or undefined. */
  private flowRecord(fmt: number, p: number, end: number): string | undefined {
    const buf = this.buf;
    const s = this.s;
    const len = end - p;
    switch (fmt) {
      case R_HEADER: {
        if (len < 16) return `sampled header record of ${len} bytes is shorter than 16`;
        const proto = u32(buf, p);
        const hlen = u32(buf, p + 12);
        if (hlen > len - 16) return `header length ${hlen} exceeds the ${len - 16} bytes of the record`;
        s.hdrProto = proto;
        s.frameLen = u32(buf, p + 4);
        s.lo |= L_HDR_PROTO | L_L2OCTETS;
        this.header(proto, p + 16, hlen);
        return undefined;
      }
      case R_ETHERNET: {
        // length, src_mac (6 bytes padded to 8), dst_mac (8), type
        if (len < 24) return `Ethernet frame data record of ${len} bytes is shorter than 24`;
        s.frameLen = u32(buf, p);
        s.srcMacOff = p + 4;
        s.dstMacOff = p + 12;
        s.ethType = u32(buf, p + 20) & 0xffff;
        s.lo |= L_L2OCTETS | L_MAC | L_ETHTYPE;
        return undefined;
      }
      case R_IPV4: {
        // length, protocol, src_ip, dst_ip, src_port, dst_port, tcp_flags, tos
        if (len < 32) return `IPv4 data record of ${len} bytes is shorter than 32`;
        this.ipVersion(4);
        s.ipLen = u32(buf, p);
        s.proto = buf[p + 7]!;
        s.ipSrcOff = p + 8;
        s.ipDstOff = p + 12;
        s.tos = buf[p + 31]!;
        this.ipData(u32(buf, p + 16), u32(buf, p + 20), buf[p + 27]!);
        return undefined;
      }
      case R_IPV6: {
        // length, protocol, src_ip, dst_ip, src_port, dst_port, tcp_flags, priority
        if (len < 56) return `IPv6 data record of ${len} bytes is shorter than 56`;
        this.ipVersion(6);
        s.ipLen = u32(buf, p);
        s.proto = buf[p + 7]!;
        s.ipSrcOff = p + 8;
        s.ipDstOff = p + 24;
        s.tos = buf[p + 55]!;
        this.ipData(u32(buf, p + 40), u32(buf, p + 44), buf[p + 51]!);
        return undefined;
      }
      case R_SWITCH: {
        if (len < 16) return `extended switch record of ${len} bytes is shorter than 16`;
        const inVlan = u32(buf, p);
        const inPri = u32(buf, p + 4);
        const outVlan = u32(buf, p + 8);
        const outPri = u32(buf, p + 12);
        // VLAN ids are 12 bits and priorities 3; anything else is an agent's "unknown" (often 0xffffffff).
        if (inVlan <= 4095) (s.swInVlan = inVlan), (s.lo |= L_SW_IN_VLAN);
        if (outVlan <= 4095) (s.swOutVlan = outVlan), (s.lo |= L_SW_OUT_VLAN);
        if (inPri <= 7) (s.swInPri = inPri), (s.lo |= L_SW_IN_PRI);
        if (outPri <= 7) (s.swOutPri = outPri), (s.lo |= L_SW_OUT_PRI);
        return undefined;
      }
      case R_ROUTER: {
        const a = this.address(p, end);
        if (a < 0) return `next hop address runs past the record`;
        const m = a + this.addrLen(p);
        if (end - m < 8) return `extended router record ends before the mask lengths`;
        this.setNextHop(a, H_RT_NH4, H_RT_NH6, 'rt');
        s.maskSrc = Math.min(u32(buf, m), 255);
        s.maskDst = Math.min(u32(buf, m + 4), 255);
        s.hi = (s.hi & ~H_MASK6) | H_MASK4; // MASK6 is chosen once the packet's IP version is known
        return undefined;
      }
      case R_GATEWAY:
        return this.gateway(p, end);
      case R_USER: {
        // src_charset, src_user<>, dst_charset, dst_user<>
        if (len < 8) return `extended user record of ${len} bytes is too short`;
        const n1 = u32(buf, p + 4);
        if (n1 > len - 8) return `source user of ${n1} bytes runs past the record`;
        const q = p + 8 + pad4(n1);
        if (end - q < 8) return `extended user record ends before the destination user`;
        const n2 = u32(buf, q + 4);
        if (n2 > end - q - 8) return `destination user of ${n2} bytes runs past the record`;
        s.userSrcOff = p + 8;
        s.userSrcLen = Math.min(n1, 0xffff);
        s.userDstOff = q + 8;
        s.userDstLen = Math.min(n2, 0xffff);
        s.hi |= H_USER;
        return undefined;
      }
      case R_URL: {
        // direction, url<>, host<>
        if (len < 8) return `extended URL record of ${len} bytes is too short`;
        const n1 = u32(buf, p + 4);
        if (n1 > len - 8) return `URL of ${n1} bytes runs past the record`;
        const q = p + 8 + pad4(n1);
        if (end - q < 4) return `extended URL record ends before the host`;
        const n2 = u32(buf, q);
        if (n2 > end - q - 4) return `host of ${n2} bytes runs past the record`;
        s.urlDir = Math.min(u32(buf, p), 255);
        s.urlOff = p + 8;
        s.urlLen = Math.min(n1, 0xffff);
        s.hostOff = q + 4;
        s.hostLen = Math.min(n2, 0xffff);
        s.hi |= H_URL;
        return undefined;
      }
      case R_MPLS: {
        // nexthop, in_stack<>, out_stack<>; each label a 32-bit label stack entry (RFC 3032)
        const a = this.address(p, end);
        if (a < 0) return `next hop address runs past the record`;
        const q = a + (this.addrLen(p));
        if (end - q < 4) return `extended MPLS record ends before the input label stack`;
        const nin = u32(buf, q);
        if (nin > (end - q - 4) / 4) return `input label stack of ${nin} entries runs past the record`;
        const r = q + 4 + nin * 4;
        if (end - r < 4) return `extended MPLS record ends before the output label stack`;
        const nout = u32(buf, r);
        if (nout > (end - r - 4) / 4) return `output label stack of ${nout} entries runs past the record`;
        this.setNextHop(a, H_MPLS_NH4, H_MPLS_NH6, 'mpls');
        if (nin > 0) {
          s.labels = Math.min(nin, MAX_LABELS);
          s.labelOff = q + 4;
          s.hi |= H_MPLS_LABELS;
        }
        if (nout > 0) (s.mplsOutOff = r + 4), (s.hi |= H_MPLS_OUT);
        return undefined;
      }
      case R_NAT: {
        const a = this.address(p, end);
        if (a < 0) return `source address runs past the record`;
        const q = a + this.addrLen(p);
        const b = this.address(q, end);
        if (b < 0) return `destination address runs past the record`;
        const t1 = u32(buf, p);
        const t2 = u32(buf, q);
        s.hi &= ~(H_NAT_SRC4 | H_NAT_SRC6 | H_NAT_DST4 | H_NAT_DST6);
        if (t1 === 1) s.hi |= H_NAT_SRC4;
        else if (t1 === 2) s.hi |= H_NAT_SRC6;
        if (t2 === 1) s.hi |= H_NAT_DST4;
        else if (t2 === 2) s.hi |= H_NAT_DST6;
        s.natSrcOff = a;
        s.natDstOff = b;
        return undefined;
      }
      case R_EGRESS_QUEUE:
        if (len < 4) return `egress queue record of ${len} bytes is shorter than 4`;
        s.queue = u32(buf, p);
        s.hi |= H_QUEUE;
        return undefined;
      default:
        return undefined; // records sluice does not map are skipped by their length
    }
  }

  /**
   * An sFlow address (type, then 0/4/16 bytes) at p. Returns the offset of the address bytes, or
   * -1 when it does not fit before `end` or has an unknown type.
   */
  private address(p: number, end: number): number {
    if (end - p < 4) return -1;
    const t = u32(this.buf, p);
    const n = t === 1 ? 4 : t === 2 ? 16 : t === 0 ? 0 : -1;
    if (n < 0 || end - p - 4 < n) return -1;
    return p + 4;
  }

  /** Length of the address bytes of the (already validated) address at p. */
  private addrLen(p: number): number {
    const t = u32(this.buf, p);
    return t === 1 ? 4 : t === 2 ? 16 : 0;
  }

  private setNextHop(a: number, b4: number, b6: number, which: 'rt' | 'gw' | 'mpls'): void {
    const s = this.s;
    const t = u32(this.buf, a - 4);
    s.hi &= ~(b4 | b6);
    if (t === 1) s.hi |= b4;
    else if (t === 2) s.hi |= b6;
    else return;
    if (which === 'rt') s.rtNhOff = a;
    else if (which === 'gw') s.gwNhOff = a;
    else s.mplsNhOff = a;
  }

  private gateway(p: number, end: number): string | undefined {
    const buf = this.buf;
    const s = this.s;
    const a = this.address(p, end);
    if (a < 0) return `next hop address runs past the record`;
    let q = a + this.addrLen(p);
    // as, src_as, src_peer_as, then the destination AS path segments
    if (end - q < 16) return `extended gateway record ends before the AS numbers`;
    const as = u32(buf, q);
    const srcAs = u32(buf, q + 4);
    const peerAs = u32(buf, q + 8);
    const nseg = u32(buf, q + 12);
    q += 16;
    const pathOff = q;
    let asns = 0;
    let first = -1;
    let last = -1;
    for (let k = 0; k < nseg; k++) {
      // each segment: type (1 AS_SET, 2 AS_SEQUENCE), count, AS numbers; bounded by the record
      if (end - q < 8) return `AS path segment ${k} of ${nseg} runs past the record`;
      const n = u32(buf, q + 4);
      if (n > (end - q - 8) / 4) return `AS path segment ${k} of ${n} AS numbers runs past the record`;
      if (n > 0) {
        if (first < 0) first = u32(buf, q + 8);
        last = u32(buf, q + 8 + (n - 1) * 4);
      }
      asns += n;
      q += 8 + n * 4;
    }
    if (end - q < 4) return `extended gateway record ends before the communities`;
    const ncomm = u32(buf, q);
    if (ncomm > (end - q - 4) / 4) return `${ncomm} communities run past the record`;
    const commOff = q + 4;
    q = commOff + ncomm * 4;
    if (end - q < 4) return `extended gateway record ends before the local preference`;
    this.setNextHop(a, H_GW_NH4, H_GW_NH6, 'gw');
    s.gwAs = as;
    s.gwSrcAs = srcAs;
    s.gwPeerAs = peerAs;
    s.gwLocalPref = u32(buf, q);
    // An empty path means the destination is in the router's own AS.
    s.gwDstAs = last >= 0 ? last : as;
    s.hi |= H_GW;
    s.hi &= ~(H_GW_PATH | H_GW_COMM);
    if (asns > 0) {
      s.gwNextAs = first;
      s.gwPathOff = pathOff;
      s.gwPathSegments = nseg;
      s.gwPathAsns = Math.min(asns, 16000); // a basicList value must fit a 16-bit length
      s.hi |= H_GW_PATH;
    }
    if (ncomm > 0) {
      s.gwCommOff = commOff;
      s.gwCommCount = Math.min(ncomm, 16000);
      s.hi |= H_GW_COMM;
    }
    return undefined;
  }

  /** Marks the sample's packet as IP version `v`, dropping fields a record of the other version set. */
  private ipVersion(v: 4 | 6): void {
    const s = this.s;
    if (v === 4) {
      s.lo = (s.lo & ~L_V6_ONLY) | L_IP4 | L_PROTO;
      s.hi &= ~H_ICMP6;
    } else {
      s.lo = (s.lo & ~L_V4_ONLY) | L_IP6 | L_PROTO;
      s.hi &= ~H_ICMP4;
    }
  }

  /** Ports and TCP flags of the IPv4/IPv6 data records; meaningful for port-carrying protocols only. */
  private ipData(srcPort: number, dstPort: number, tcpFlags: number): void {
    const s = this.s;
    s.lo |= L_OCTETS;
    const pr = s.proto;
    if (pr === P_TCP || pr === P_UDP || pr === P_SCTP || pr === P_UDPLITE) {
      s.srcPort = srcPort & 0xffff;
      s.dstPort = dstPort & 0xffff;
      s.lo |= L_PORTS;
    } else s.lo &= ~L_PORTS;
    if (pr === P_TCP) (s.tcpFlags = tcpFlags), (s.hi |= H_TCP);
    else s.hi &= ~H_TCP;
  }

  /** Dissects a sampled packet header at [off, off + len) of the datagram. */
  private header(proto: number, off: number, len: number): void {
    const s = this.s;
    const buf = this.buf;
    const L = this.pkt;
    let base = off;
    let ok: boolean;
    // The header is the one place the record's bytes are handed to another parser; a subarray
    // bounds it, so the dissector cannot read the rest of the datagram as packet bytes.
    switch (proto) {
      case HP_ETHERNET:
        ok = dissect(LT_ETHERNET, buf.subarray(off, off + len), L);
        break;
      case HP_IPV4:
        ok = dissect(LT_IPV4, buf.subarray(off, off + len), L);
        break;
      case HP_IPV6:
        ok = dissect(LT_IPV6, buf.subarray(off, off + len), L);
        break;
      case HP_MPLS: {
        // A label stack without a link header: walk to the bottom of stack, then raw IP.
        let n = 0;
        let q = off;
        const end = off + len;
        while (end - q >= 4) {
          const bottom = (buf[q + 2]! & 1) !== 0;
          q += 4;
          n++;
          if (bottom) break;
        }
        if (n > 0) (s.labels = Math.min(n, MAX_LABELS)), (s.labelOff = off), (s.hi |= H_MPLS_LABELS);
        base = q;
        ok = dissect(LT_RAW, buf.subarray(q, end), L);
        break;
      }
      default:
        return; // other media (token ring, FDDI, 802.11, ...): the frame length is all sluice keeps
    }
    if (L.ethOffset >= 0) {
      s.dstMacOff = base + L.ethOffset;
      s.srcMacOff = base + L.ethOffset + 6;
      s.lo |= L_MAC;
      const tags = L.vlanIds.length;
      if (tags > 0) {
        // TCI of tag k at 14 + 4k: priority in the top 3 bits, VLAN id in the low 12.
        s.vlan = L.vlanIds[0]!;
        s.vlanPri = buf[base + 14]! >> 5;
        s.lo |= L_DOT1Q;
        if (tags > 1) {
          s.vlanInner = L.vlanIds[1]!;
          s.vlanInnerPri = buf[base + 18]! >> 5;
          s.lo |= L_DOT1Q_INNER;
        }
      }
      if (L.etherType >= 0) (s.ethType = L.etherType), (s.lo |= L_ETHTYPE);
      if ((L.etherType === ET_MPLS || L.etherType === ET_MPLS_MC) && L.mplsLabels > 0) {
        s.labels = Math.min(L.mplsLabels, MAX_LABELS);
        // The stack ends where IP starts (LLC/SNAP can sit before it); without IP, right after the tags.
        s.labelOff = L.ipOffset >= 0 ? base + L.ipOffset - 4 * L.mplsLabels : base + 14 + 4 * tags;
        s.hi |= H_MPLS_LABELS;
      }
    }
    if (!ok || L.ipVersion === 0) return;
    // The header replaces what an earlier record said about the packet.
    s.lo &= ~L_FROM_PACKET;
    s.hi &= ~H_FROM_PACKET;
    const ip = base + L.ipOffset;
    s.ipSrcOff = base + L.srcAddrOffset;
    s.ipDstOff = base + L.dstAddrOffset;
    s.tos = L.tos;
    s.ttl = L.ttl;
    if (L.ipVersion === 4) {
      this.ipVersion(4);
      s.ihl = L.ipHeaderLength;
      s.ipTotal4 = u16(buf, ip + 2);
      s.ipLen = L.ipTotalLength;
      s.fragId = L.fragId;
      s.fragOff = L.fragOffset / 8;
      s.fragFlags = buf[ip + 6]! & 0xe0; // RS, DF, MF: the same bit positions as IANA fragmentFlags
      s.lo |= L_IPV4HDR | L_FRAG;
    } else {
      this.ipVersion(6);
      s.payload6 = u16(buf, ip + 4);
      s.ipLen = L.ipTotalLength;
      s.flowLabel = L.flowLabel;
      s.lo |= L_IPV6HDR;
      if (L.fragHeaderOffset >= 0) {
        s.fragId = L.fragId;
        s.fragOff = L.fragOffset / 8;
        s.fragFlags = L.moreFragments ? 0x20 : 0;
        s.lo |= L_FRAG;
      }
    }
    s.lo |= L_OCTETS;
    if (L.protocol >= 0) s.proto = L.protocol;
    else s.lo &= ~L_PROTO;
    if (L.srcPort >= 0) (s.srcPort = L.srcPort), (s.dstPort = L.dstPort), (s.lo |= L_PORTS);
    if (L.protocol === P_TCP && L.payloadOffset >= 0) (s.tcpFlags = L.tcpFlags), (s.hi |= H_TCP);
    if (L.udpLength >= 0) (s.udpLen = L.udpLength), (s.hi |= H_UDP);
    if (L.icmpType >= 0) {
      s.icmp = (L.icmpType << 8) | L.icmpCode;
      s.hi |= L.ipVersion === 4 ? H_ICMP4 : H_ICMP6;
    }
  }

  // ---- counter records --------------------------------------------------------------------

  private counterRecords(p: number, end: number, nrec: number): void {
    const buf = this.buf;
    const s = this.s;
    let bits = CB_BASE | (this.agentOff < 0 ? 0 : this.agentV6 ? CB_AGENT6 : CB_AGENT4);
    let i = 0;
    for (; i < nrec && i < MAX_COUNT; i++) {
      if (end - p < 8) break;
      const format = u32(buf, p);
      const rlen = u32(buf, p + 4);
      const body = p + 8;
      if (rlen > end - body) {
        this.drop('bad-length', 1, 'record', p, `counter record ${i} of ${nrec}, format ${format >>> 12}:${format & 0xfff} declares ${rlen} bytes, ${end - body} left in the sample`);
        i = nrec;
        break;
      }
      if (format >>> 12 === 0) {
        const fmt = format & 0xfff;
        const need = fmt === CR_GENERIC ? 88 : fmt === CR_ETHERNET ? 52 : fmt === CR_VLAN ? 28 : fmt === CR_PROCESSOR ? 28 : fmt === CR_PORT_NAME ? 4 : -1;
        if (need >= 0 && rlen < need) {
          this.drop('bad-record', 1, 'record', p, `counter record ${fmt} of ${rlen} bytes is shorter than ${need}`);
        } else if (fmt === CR_GENERIC) (s.ifOff = body), (bits |= CB_IF);
        else if (fmt === CR_ETHERNET) (s.ethOff = body), (bits |= CB_ETH);
        else if (fmt === CR_VLAN) (s.vlanCtrOff = body), (bits |= CB_VLAN);
        else if (fmt === CR_PROCESSOR) (s.cpuOff = body), (bits |= CB_CPU);
        else if (fmt === CR_PORT_NAME) {
          const n = u32(buf, body);
          if (n > rlen - 4) this.drop('bad-record', 1, 'record', p, `port name of ${n} bytes runs past the record`);
          else (s.portNameOff = body + 4), (s.portNameLen = Math.min(n, 0xffff)), (bits |= CB_PORTNAME);
        }
      }
      p = next(body, rlen, end);
    }
    if (i < nrec) this.drop('truncated', 1, 'record', p, `counter sample announces ${nrec} records, ended after ${i}; the sample keeps those`);
    // A sample with none of the records sluice maps (host, application, vendor structures) has
    // nothing to say beyond its header; it is skipped, like the records themselves.
    if ((bits & (CB_IF | CB_ETH | CB_VLAN | CB_CPU | CB_PORTNAME)) === 0) return;
    this.writeCounters(bits);
  }

  // ---- record writing ---------------------------------------------------------------------

  /** RecordWriter.ensure, keeping the offsets of the datagram's records right if they moved. */
  private room(n: number): void {
    const shift = this.out.ensure(n);
    if (shift === 0) return;
    for (let k = 0; k < this.nrec; k++) {
      this.recStart[k]! += shift;
      this.recEnd[k]! += shift;
    }
  }

  private pushRecord(t: Template, start: number): void {
    const k = this.nrec++;
    if (k < this.recTpl.length) {
      this.recTpl[k] = t;
      this.recStart[k] = start;
      this.recEnd[k] = this.out.pos;
    } else {
      this.recTpl.push(t);
      this.recStart.push(start);
      this.recEnd.push(this.out.pos);
    }
  }

  private writeAgent(w: RecordWriter): void {
    if (this.agentOff >= 0) w.copy(this.buf, this.agentOff, this.agentV6 ? 16 : 4);
  }

  private writeCounters(bits: number): void {
    const s = this.s;
    const w = this.out;
    const buf = this.buf;
    const t = this.layouts.counterTemplate(bits);
    this.room(512 + s.portNameLen);
    const start = w.pos;
    this.writeAgent(w);
    w.u32(s.srcType);
    w.u32(s.srcIndex);
    w.u32(s.seq);
    w.u32(this.nowHi);
    w.u32(this.nowLo);
    // The counter records' fields are written in wire order, so they are plain copies.
    if (bits & CB_IF) w.copy(buf, s.ifOff, 88);
    if (bits & CB_ETH) w.copy(buf, s.ethOff, 52);
    if (bits & CB_VLAN) {
      w.u16(u32(buf, s.vlanCtrOff) & 0xffff);
      w.copy(buf, s.vlanCtrOff + 4, 24);
    }
    if (bits & CB_CPU) w.copy(buf, s.cpuOff, 28);
    if (bits & CB_PORTNAME) {
      w.varlen(s.portNameLen);
      w.copy(buf, s.portNameOff, s.portNameLen);
    }
    this.pushRecord(t, start);
  }

  private writeFlow(): void {
    const s = this.s;
    const w = this.out;
    const buf = this.buf;
    const lo = s.lo;
    const hi = s.hi;
    const t = this.layouts.flowTemplate(lo, hi, (hi & H_MPLS_LABELS) !== 0 ? s.labels : 0);
    // Fixed fields need well under 1 KiB; strings and lists are bounded by what the sample holds.
    this.room(1024 + (hi & (H_USER | H_URL) ? s.userSrcLen + s.userDstLen + s.urlLen + s.hostLen + 12 : 0) + (hi & (H_GW_PATH | H_GW_COMM) ? 4 * (s.gwPathAsns + s.gwCommCount) + 24 : 0));
    const start = w.pos;
    if (lo & (L_AGENT4 | L_AGENT6)) this.writeAgent(w);
    // BASE
    w.u32(s.srcType);
    w.u32(s.srcIndex);
    w.u32(s.seq);
    w.u32(this.nowHi);
    w.u32(this.nowLo);
    w.u32(this.nowHi);
    w.u32(this.nowLo);
    if (lo & L_SAMPLING) {
      w.u32(s.rate);
      w.u32(s.pool);
      w.u32(s.drops);
      w.u32(1);
      w.u64(s.rate);
    }
    if (lo & L_DROPPED) {
      w.u32(s.drops);
      w.u32(1);
    }
    if (lo & L_DISCARD) {
      w.u8(forwardingStatusOf(s.dropReason));
      w.u32(s.dropReason);
    }
    if (lo & L_IN_IF) w.u32(s.inVal);
    if (lo & L_OUT_IF) w.u32(s.outVal);
    if (lo & L_IN_MULTI) w.u32(s.inVal);
    if (lo & L_OUT_MULTI) w.u32(s.outVal);
    if (lo & L_DIRECTION) w.u8(s.direction);
    if (lo & L_HDR_PROTO) w.u32(s.hdrProto);
    if (lo & L_L2OCTETS) w.u32(s.frameLen);
    if (lo & L_SCALED_L2) w.mul32(s.frameLen, s.rate);
    if (lo & L_OCTETS) w.u32(s.ipLen);
    if (lo & L_SCALED_OCT) w.mul32(s.ipLen, s.rate);
    if (lo & L_DROPPED_OCT) w.u32(s.ipLen);
    if (lo & L_MAC) {
      w.copy(buf, s.srcMacOff, 6);
      w.copy(buf, s.dstMacOff, 6);
    }
    if (lo & L_ETHTYPE) w.u16(s.ethType);
    if (lo & L_DOT1Q) {
      w.u16(s.vlan);
      w.u8(s.vlanPri);
    }
    if (lo & L_DOT1Q_INNER) {
      w.u16(s.vlanInner);
      w.u8(s.vlanInnerPri);
    }
    if (lo & L_SW_IN_VLAN) w.u16(s.swInVlan);
    if (lo & L_SW_OUT_VLAN) w.u16(s.swOutVlan);
    if (lo & L_SW_IN_PRI) w.u8(s.swInPri);
    if (lo & L_SW_OUT_PRI) w.u8(s.swOutPri);
    if (lo & L_IP4) {
      w.copy(buf, s.ipSrcOff, 4);
      w.copy(buf, s.ipDstOff, 4);
    }
    if (lo & L_IP6) {
      w.copy(buf, s.ipSrcOff, 16);
      w.copy(buf, s.ipDstOff, 16);
    }
    if (lo & L_PROTO) {
      w.u8(s.proto);
      w.u8(s.tos);
    }
    if (lo & L_IPV4HDR) {
      w.u8(s.ttl);
      w.u8(s.ihl);
      w.u16(s.ipTotal4);
    }
    if (lo & L_IPV6HDR) {
      w.u8(s.ttl);
      w.u16(s.payload6);
      w.u32(s.flowLabel);
    }
    if (lo & L_FRAG) {
      w.u32(s.fragId);
      w.u16(s.fragOff);
      w.u8(s.fragFlags);
    }
    if (lo & L_PORTS) {
      w.u16(s.srcPort);
      w.u16(s.dstPort);
    }
    if (hi !== 0) this.writeFlowHi(w, s, buf, hi);
    this.pushRecord(t, start);
  }

  /** The groups of the `hi` word: transport details and the extended records. */
  private writeFlowHi(w: RecordWriter, s: SampleState, buf: Buffer, hi: number): void {
    if (hi & H_TCP) w.u16(s.tcpFlags);
    if (hi & H_UDP) w.u16(s.udpLen);
    if (hi & H_ICMP4) w.u16(s.icmp);
    if (hi & H_ICMP6) w.u16(s.icmp);
    if (hi & H_MPLS_LABELS) {
      // mplsLabelStackSection: label, EXP and bottom-of-stack bit, the top 3 bytes of each entry.
      for (let k = 0; k < s.labels; k++) w.copy(buf, s.labelOff + 4 * k, 3);
    }
    if (hi & H_RT_NH4) w.copy(buf, s.rtNhOff, 4);
    if (hi & H_RT_NH6) w.copy(buf, s.rtNhOff, 16);
    if (hi & H_MASK4 || hi & H_MASK6) {
      w.u8(s.maskSrc);
      w.u8(s.maskDst);
    }
    if (hi & H_GW) {
      w.u32(s.gwAs);
      w.u32(s.gwSrcAs);
      w.u32(s.gwPeerAs);
      w.u32(s.gwDstAs);
      w.u32(s.gwLocalPref);
    }
    if (hi & H_GW_NH4) w.copy(buf, s.gwNhOff, 4);
    if (hi & H_GW_NH6) w.copy(buf, s.gwNhOff, 16);
    if (hi & H_GW_PATH) {
      w.u32(s.gwNextAs);
      // RFC 6313 basicList: semantic "ordered" (4), element bgpDestinationAsNumber (17), 4 bytes each.
      // AS_SET members are listed in their wire order; the set boundaries are not carried.
      const n = s.gwPathAsns;
      w.varlen(5 + 4 * n);
      w.u8(4);
      w.u16(17);
      w.u16(4);
      let q = s.gwPathOff;
      let left = n;
      for (let k = 0; k < s.gwPathSegments && left > 0; k++) {
        const cnt = u32(buf, q + 4);
        const take = Math.min(cnt, left);
        w.copy(buf, q + 8, 4 * take);
        left -= take;
        q += 8 + 4 * cnt;
      }
    }
    if (hi & H_GW_COMM) {
      // basicList "allOf" (3) bgpCommunity (483): every community applies to the route.
      w.varlen(5 + 4 * s.gwCommCount);
      w.u8(3);
      w.u16(483);
      w.u16(4);
      w.copy(buf, s.gwCommOff, 4 * s.gwCommCount);
    }
    if (hi & H_USER) {
      w.varlen(s.userSrcLen);
      w.copy(buf, s.userSrcOff, s.userSrcLen);
      w.varlen(s.userDstLen);
      w.copy(buf, s.userDstOff, s.userDstLen);
    }
    if (hi & H_URL) {
      w.u8(s.urlDir);
      w.varlen(s.urlLen);
      w.copy(buf, s.urlOff, s.urlLen);
      w.varlen(s.hostLen);
      w.copy(buf, s.hostOff, s.hostLen);
    }
    if (hi & H_MPLS_NH4) w.copy(buf, s.mplsNhOff, 4);
    if (hi & H_MPLS_NH6) w.copy(buf, s.mplsNhOff, 16);
    if (hi & H_MPLS_OUT) w.copy(buf, s.mplsOutOff, 3);
    if (hi & H_NAT_SRC4) w.copy(buf, s.natSrcOff, 4);
    if (hi & H_NAT_SRC6) w.copy(buf, s.natSrcOff, 16);
    if (hi & H_NAT_DST4) w.copy(buf, s.natDstOff, 4);
    if (hi & H_NAT_DST6) w.copy(buf, s.natDstOff, 16);
    if (hi & H_QUEUE) w.u32(s.queue);
  }

  /**
   * Hands the datagram's records to the sink, one batch per template. The records move into a
   * buffer of their own (one allocation per datagram), since the writer is reused and a consumer
   * may keep a batch.
   */
  private emit(seq: number, uptime: number, nowMs: number): void {
    const ctx: MessageContext = {
      protocol: 'sflow5',
      session: this.session,
      domainId: this.subAgent,
      // sFlow has no wall clock in its header: the receive time stands in for the export time.
      exportTimeMs: nowMs,
      sequence: seq,
      sysUpTimeMs: uptime,
      receivedMs: nowMs,
    };
    const n = this.nrec;
    const src = this.out.buf;
    const tpl = this.recTpl;
    const first = tpl[0]!;
    let same = true;
    for (let k = 1; k < n; k++) {
      if (tpl[k] !== first) {
        same = false;
        break;
      }
    }
    if (same) {
      // The common case: every sample of the datagram had the same fields, and the records are
      // already contiguous in the slab.
      const starts = int32s(n + 1);
      for (let k = 0; k < n; k++) starts[k] = this.recStart[k]!;
      starts[n] = this.out.pos;
      this.out.commit();
      this.batch(ctx, first, src, starts);
      return;
    }
    // Mixed layouts: each template's records are copied together behind the datagram's records.
    this.room(this.out.pos - this.out.mark);
    const data = this.out.buf;
    let pos = this.out.pos;
    const groups: { t: Template; starts: Int32Array }[] = [];
    for (let k = 0; k < n; k++) {
      const t = tpl[k]!;
      let seen = false;
      for (let j = 0; j < k && !seen; j++) seen = tpl[j] === t; // a handful of samples: no Set needed
      if (seen) continue;
      let count = 0;
      for (let j = k; j < n; j++) if (tpl[j] === t) count++;
      const starts = int32s(count + 1);
      let c = 0;
      for (let j = k; j < n; j++) {
        if (tpl[j] !== t) continue;
        starts[c++] = pos;
        // copyWithin: a native move inside one buffer, without Buffer.copy's per-call checks.
        data.copyWithin(pos, this.recStart[j]!, this.recEnd[j]!);
        pos += this.recEnd[j]! - this.recStart[j]!;
      }
      starts[count] = pos;
      groups.push({ t, starts });
    }
    // Everything is in place before any consumer sees a batch, so an exception in a consumer cannot
    // leave a handed-out region open for reuse.
    this.out.pos = pos;
    this.out.commit();
    for (const g of groups) this.batch(ctx, g.t, data, g.starts);
  }

  private batch(ctx: MessageContext, t: Template, data: Buffer, starts: Int32Array): void {
    const count = starts.length - 1;
    let lists: FieldValue[][] | undefined;
    if (t.structured) {
      // AS path and community lists: decoded once here, as FlowDecoder does for RFC 6313 data.
      lists = [];
      const resolve = (pen: number, id: number) => this.registry.get(pen, id);
      for (let i = 0; i < count; i++) lists.push(decodeRecord(t, data, starts[i]!, starts[i + 1]!, undefined, resolve) ?? []);
    }
    const b: FlowBatch = { ctx, template: t, buf: data, starts, count, startMs: float64s(count), endMs: float64s(count), lists };
    this.sink.batch(b);
  }
}
