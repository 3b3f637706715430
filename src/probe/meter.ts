/**
 * The metering process: frames in, flows in the cache updated, expired flows handed to a sink.
 *
 * Per packet it runs the allocation-free dissector (src/wire/packet/parse.ts), builds the flow key
 * (VLAN, addresses, protocol, ports or ICMP type/code, ingress interface) as a short string, and
 * updates the flow's counters in place. A packet allocates only when it creates a flow.
 */
import { dissect, IpProto, PacketLayers } from '../wire/packet/parse.js';
import { FlowCache, type CacheOptions, DEFAULT_CACHE_OPTIONS } from './cache.js';
import { Flow, type DirectionCounters } from './flow.js';
import { dnsQueryName, httpHost, tlsServerName } from './payload.js';

export interface MeterOptions extends CacheOptions {
  /** One record per conversation with RFC 5103 reverse counters, instead of one per direction. */
  readonly biflow: boolean;
  /** Meter 1 in N packets (systematic count-based selection); 1 meters every packet. */
  readonly sampling: number;
  /** Read DNS query names, HTTP Host and TLS SNI from payloads. */
  readonly inspect: boolean;
}

export const DEFAULT_METER_OPTIONS: MeterOptions = { ...DEFAULT_CACHE_OPTIONS, biflow: false, sampling: 1, inspect: true };

export class MeterCounters {
  /** Every frame offered (the selector's population). */
  packetsObserved = 0;
  /** Frames the sampler selected. */
  packetsSelected = 0;
  /** Selected frames that were metered into a flow. */
  packetsMetered = 0;
  octetsMetered = 0;
  /** Selected frames without an IP header (ARP, LLDP, truncated…): not metered. */
  notIp = 0;
  /** Non-first IP fragments whose first fragment was not seen: metered with ports 0. */
  fragmentsWithoutPorts = 0;
}

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;

/** Payload packets per flow looked at for a name before giving up. */
const INSPECT_PACKETS = 4;
/** Remembered first-fragment ports. */
const MAX_FRAGMENTS = 4096;

function hasPorts(proto: number): boolean {
  return proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.SCTP || proto === IpProto.UDPLITE;
}

/** (a - b) mod 2^32 as a signed 32-bit number: > 0 when sequence number a is after b. */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export class Meter {
  readonly counters = new MeterCounters();
  readonly cache: FlowCache;
  private readonly l = new PacketLayers();
  private readonly fragPorts = new Map<string, number>();
  private nowMs = -Infinity;
  private sampleCountdown = 0;
  // Per-packet key parts, set by key().
  private sp = 0;
  private dp = 0;
  private icmp = 0;
  private swapped = false;
  private hash = 0;
  /** The current packet's flow key (see key()). */
  private readonly kb = Buffer.alloc(48);

  constructor(
    readonly options: MeterOptions,
    sink: (flow: Flow) => void,
  ) {
    if (!(options.sampling >= 1) || !Number.isInteger(options.sampling)) throw new RangeError(`sampling must be an integer >= 1, got ${options.sampling}`);
    this.cache = new FlowCache(options, sink);
  }

  /** The meter's clock: the latest packet time (or advance() time) seen, ms since the epoch. */
  get clockMs(): number {
    return this.nowMs;
  }

  /** Moves the clock (idle capture, live input without packets) and expires what is due. */
  advance(nowMs: number): void {
    if (nowMs > this.nowMs) this.nowMs = nowMs;
    this.cache.advance(this.nowMs);
  }

  /** Exports every flow left in the cache (flowEndReason forcedEnd). */
  flush(): void {
    this.cache.flushAll();
  }

  /** Meters one frame. `ingress` is the interface index it arrived on (0 = unknown). */
  packet(linkType: number, data: Buffer, tsMs: number, ingress = 0): void {
    const c = this.counters;
    c.packetsObserved++;
    if (tsMs > this.nowMs) this.nowMs = tsMs;
    this.cache.advance(this.nowMs);
    if (this.options.sampling > 1) {
      if (this.sampleCountdown > 0) {
        this.sampleCountdown--;
        return;
      }
      this.sampleCountdown = this.options.sampling - 1;
    }
    c.packetsSelected++;
    const l = this.l;
    if (!dissect(linkType, data, l) || l.srcAddrOffset < 0) {
      c.notIp++;
      return;
    }
    c.packetsMetered++;
    c.octetsMetered += l.ipTotalLength;

    const klen = this.key(data, l, ingress, false);
    let flow = this.cache.get(this.hash, this.kb, klen);
    if (flow === undefined) {
      const alen = l.ipVersion === 4 ? 4 : 16;
      const eth = l.ethOffset;
      const bytes = Buffer.allocUnsafe(klen + 2 * alen + (eth >= 0 ? 12 : 0));
      // Byte loops: for a few dozen bytes they beat Buffer#copy's native call.
      const kb = this.kb;
      for (let i = 0; i < klen; i++) bytes[i] = kb[i]!;
      const s = l.srcAddrOffset;
      const t = l.dstAddrOffset;
      for (let i = 0; i < alen; i++) {
        bytes[klen + i] = data[s + i]!;
        bytes[klen + alen + i] = data[t + i]!;
      }
      if (eth >= 0) {
        const m = klen + 2 * alen;
        for (let i = 0; i < 6; i++) {
          bytes[m + i] = data[eth + 6 + i]!;
          bytes[m + 6 + i] = data[eth + i]!;
        }
      }
      const ports = hasPorts(l.protocol);
      flow = new Flow(
        bytes,
        klen,
        this.hash,
        l.ipVersion as 4 | 6,
        l.protocol,
        ports ? this.sp : 0,
        ports ? this.dp : 0,
        this.icmp,
        l.vlanIds.length > 0 ? l.vlanIds[0]! : 0,
        ingress,
        eth >= 0,
        this.swapped,
      );
      this.cache.insert(flow);
    } else {
      this.cache.touch(flow);
    }
    const forward = !this.options.biflow || this.swapped === flow.initiatorSwapped;
    const d = forward ? flow.fwd : flow.rev;
    if (d.packets === 0) {
      d.firstMs = tsMs;
      d.lastMs = tsMs;
      d.tos = l.tos;
    } else if (tsMs > d.lastMs) d.lastMs = tsMs;
    d.packets++;
    d.octets += l.ipTotalLength;
    if (l.ttl < d.minTtl) d.minTtl = l.ttl;
    if (l.ttl > d.maxTtl) d.maxTtl = l.ttl;

    if (l.protocol === IpProto.TCP && l.payloadOffset >= 0) {
      d.tcpFlags |= l.tcpFlags;
      this.tcp(flow, d, forward, data, l, tsMs, ingress);
      if ((l.tcpFlags & TCP_RST) !== 0) {
        this.cache.endNow(flow);
        return;
      }
      if ((l.tcpFlags & TCP_FIN) !== 0) {
        d.finSeen = true;
        if (!this.options.biflow || (flow.fwd.finSeen && flow.rev.finSeen)) this.cache.closeSoon(flow);
      }
    }
    if (this.options.inspect && !flow.inspected && l.payloadOffset >= 0 && l.payloadEnd > l.payloadOffset) this.inspect(flow, data, l);
  }

  /**
   * Writes the flow key of the packet in `l` into `kb` (returns its length; the hash goes to
   * `this.hash`) and sets sp/dp/icmp/swapped. With `reverse`, the key of the opposite direction
   * (uniflow mode's reverse flow). In biflow mode both directions give one key: the lower
   * (address, port) end goes first.
   *
   * Layout: address A, address B (4 or 16 bytes each), protocol, port A, port B, ICMP type-code,
   * VLAN id, ingress ifIndex (4 bytes), IP version.
   */
  private key(data: Buffer, l: PacketLayers, ingress: number, reverse: boolean): number {
    const proto = l.protocol;
    let sp = 0;
    let dp = 0;
    let icmp = 0;
    if (hasPorts(proto)) {
      if (l.srcPort >= 0) {
        sp = l.srcPort;
        dp = l.dstPort;
        if (l.isFragment) this.rememberFragment(data, l, sp, dp);
      } else if (l.isFragment) {
        const p = this.fragPorts.get(this.fragKey(data, l));
        if (p !== undefined) {
          sp = p >>> 16;
          dp = p & 0xffff;
        } else if (!reverse) this.counters.fragmentsWithoutPorts++;
      }
    } else if ((proto === IpProto.ICMP || proto === IpProto.ICMPV6) && l.icmpType >= 0) {
      icmp = (l.icmpType << 8) | l.icmpCode;
    }
    this.sp = sp;
    this.dp = dp;
    this.icmp = icmp;
    const alen = l.ipVersion === 4 ? 4 : 16;
    const s = l.srcAddrOffset;
    const t = l.dstAddrOffset;
    let swap = reverse;
    let icmpKey = icmp;
    if (this.options.biflow) {
      let cmp = 0;
      for (let i = 0; i < alen && cmp === 0; i++) cmp = data[s + i]! - data[t + i]!;
      swap = cmp > 0 || (cmp === 0 && sp > dp);
      if (reverse) swap = !swap;
      // Echo request and reply form one conversation: key both by the request's type.
      if (icmpKey === 0x0000) icmpKey = 0x0800;
      else if (icmpKey === 0x8100) icmpKey = 0x8000;
    }
    this.swapped = swap;
    const kb = this.kb;
    const a = swap ? t : s;
    const b = swap ? s : t;
    for (let i = 0; i < alen; i++) {
      kb[i] = data[a + i]!;
      kb[alen + i] = data[b + i]!;
    }
    let o = 2 * alen;
    const pa = swap ? dp : sp;
    const pb = swap ? sp : dp;
    const vlan = l.vlanIds.length > 0 ? l.vlanIds[0]! : 0;
    kb[o] = proto;
    kb[o + 1] = pa >>> 8;
    kb[o + 2] = pa & 0xff;
    kb[o + 3] = pb >>> 8;
    kb[o + 4] = pb & 0xff;
    kb[o + 5] = icmpKey >>> 8;
    kb[o + 6] = icmpKey & 0xff;
    kb[o + 7] = vlan >>> 8;
    kb[o + 8] = vlan & 0xff;
    kb[o + 9] = ingress >>> 24;
    kb[o + 10] = (ingress >>> 16) & 0xff;
    kb[o + 11] = (ingress >>> 8) & 0xff;
    kb[o + 12] = ingress & 0xff;
    kb[o + 13] = l.ipVersion;
    o += 14;
    // FNV-1a, 32 bits: cheap and spreads addresses and ports well enough for a chained table.
    let h = 0x811c9dc5;
    for (let i = 0; i < o; i++) h = Math.imul(h ^ kb[i]!, 0x01000193);
    // 30 bits: the Map keys stay small integers (Smis), which V8 hashes and compares fastest.
    this.hash = h & 0x3fffffff;
    return o;
  }

  private fragKey(data: Buffer, l: PacketLayers): string {
    const alen = l.ipVersion === 4 ? 4 : 16;
    return data.toString('latin1', l.srcAddrOffset, l.srcAddrOffset + alen) + data.toString('latin1', l.dstAddrOffset, l.dstAddrOffset + alen) + String.fromCharCode(l.protocol, l.fragId >>> 16, l.fragId & 0xffff);
  }

  private rememberFragment(data: Buffer, l: PacketLayers, sp: number, dp: number): void {
    const m = this.fragPorts;
    if (m.size >= MAX_FRAGMENTS) m.delete(m.keys().next().value as string);
    m.set(this.fragKey(data, l), ((sp << 16) | dp) >>> 0);
  }

  /** Handshake RTT and retransmissions. */
  private tcp(flow: Flow, d: DirectionCounters, forward: boolean, data: Buffer, l: PacketLayers, tsMs: number, ingress: number): void {
    const flags = l.tcpFlags;
    const syn = (flags & TCP_SYN) !== 0;
    const ack = (flags & TCP_ACK) !== 0;
    if (syn && !ack) {
      if (forward && flow.synMs < 0) flow.synMs = tsMs;
    } else if (syn && ack) {
      // The SYN-ACK answers the initiator: in uniflow mode the initiator's flow is the reverse key.
      let init: Flow | undefined = flow;
      if (!this.options.biflow) {
        const klen = this.key(data, l, ingress, true);
        init = this.cache.get(this.hash, this.kb, klen);
      }
      if (init !== undefined && init.synMs >= 0 && init.synAckMs < 0 && (!this.options.biflow || !forward)) init.synAckMs = tsMs;
    } else if (ack && forward && flow.synAckMs >= 0 && flow.rttUs < 0) {
      flow.rttUs = Math.max(0, Math.round((tsMs - flow.synMs) * 1000));
    }

    // Sequence space this segment occupies: payload (as the IP header declares it, so snaplen
    // cuts do not matter) plus one for SYN and for FIN.
    const payload = Math.max(0, l.ipOffset + l.ipTotalLength - l.payloadOffset);
    const len = payload + (syn ? 1 : 0) + ((flags & TCP_FIN) !== 0 ? 1 : 0);
    if (len === 0) return;
    const seq = l.tcpSeq;
    const end = (seq + len) >>> 0;
    if (!d.seqKnown) {
      d.seqKnown = true;
      d.seqHigh = end;
      return;
    }
    if (seqDiff(d.seqHigh, seq) > 0) d.retransmissions++;
    if (seqDiff(end, d.seqHigh) > 0) d.seqHigh = end;
  }

  private inspect(flow: Flow, data: Buffer, l: PacketLayers): void {
    const p = l.payloadOffset;
    const e = l.payloadEnd;
    const proto = l.protocol;
    if ((l.srcPort === 53 || l.dstPort === 53) && (proto === IpProto.UDP || proto === IpProto.TCP)) {
      // DNS over TCP has a 2-byte length before the message.
      const name = proto === IpProto.UDP ? dnsQueryName(data, p, e) : dnsQueryName(data, p + 2, e);
      if (name !== undefined) {
        flow.dnsName = name;
        flow.inspected = true;
        return;
      }
    } else if (proto === IpProto.TCP) {
      const first = data[p]!;
      if (first === 22) {
        const sni = tlsServerName(data, p, e);
        if (sni !== undefined) {
          flow.tlsSni = sni;
          flow.inspected = true;
          return;
        }
      } else {
        const host = httpHost(data, p, e);
        if (host !== undefined) {
          flow.httpHost = host;
          flow.inspected = true;
          return;
        }
      }
    }
    if (++flow.inspectedPackets >= INSPECT_PACKETS) flow.inspected = true;
  }
}
