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
import type { TransportSession } from '../batch.js';
import type { DecodeSink, VersionDecoder } from '../decoder.js';
import type { IeResolver } from '../fixed-formats.js';
import { ipv4ToString, ipv6ToString } from '../packet/addr.js';
import { PacketLayers } from '../packet/parse.js';
import type { DropEvent, DropReason } from '../stats.js';
import { dissectHeader, setIpData, setIpVersion } from './dissect.js';
import { emitBatches } from './emit.js';
import {
  CB_AGENT4, CB_AGENT6, CB_BASE, CB_CPU, CB_ETH, CB_IF, CB_PORTNAME, CB_VLAN, COUNTER_SAMPLE, COUNTER_SAMPLE_EXPANDED, CR_ETHERNET, CR_GENERIC, CR_PORT_NAME, CR_PROCESSOR, CR_VLAN, DISCARDED_PACKET, FLOW_SAMPLE, FLOW_SAMPLE_EXPANDED, H_GW, H_GW_COMM, H_GW_NH4, H_GW_NH6, H_GW_PATH, H_MASK4, H_MASK6, H_MPLS_LABELS, H_MPLS_NH4, H_MPLS_NH6, H_MPLS_OUT, H_NAT_DST4, H_NAT_DST6, H_NAT_SRC4, H_NAT_SRC6, H_QUEUE, H_RT_NH4, H_RT_NH6, H_URL, H_USER, L_AGENT4, L_AGENT6, L_BASE, L_DIRECTION, L_DISCARD, L_DOT1Q, L_DROPPED, L_DROPPED_OCT, L_ETHTYPE, L_HDR_PROTO, L_IN_IF, L_IN_MULTI, L_IP6, L_L2OCTETS, L_MAC, L_OCTETS, L_OUT_IF, L_OUT_MULTI, L_SAMPLING, L_SCALED_L2, L_SCALED_OCT, L_SW_IN_PRI, L_SW_IN_VLAN, L_SW_OUT_PRI, L_SW_OUT_VLAN, R_EGRESS_QUEUE, R_ETHERNET, R_GATEWAY, R_HEADER, R_IPV4, R_IPV6, R_MPLS, R_NAT, R_ROUTER, R_SWITCH, R_URL, R_USER,
} from './groups.js';
import { MAX_LABELS, SflowLayouts } from './layout.js';
import { DatagramRecords } from './record-writer.js';
import { lost, MAX_COUNT, MAX_PLAUSIBLE, next, pad4, SampleError, SampleState, u32 } from './sample.js';

const EMPTY = Buffer.alloc(0);

/**
 * Decodes sFlow v5 datagrams; FlowDecoder hands it those that open with the 32-bit version 5.
 */
export class SflowDecoder implements VersionDecoder {
  private readonly layouts: SflowLayouts;
  private readonly s = new SampleState();
  private readonly recs = new DatagramRecords();
  private readonly pkt = new PacketLayers();
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
    this.recs.begin();
    this.nowMs = Math.floor(nowMs);
    this.nowHi = Math.floor(this.nowMs / 4294967296) >>> 0;
    this.nowLo = (this.nowMs - this.nowHi * 4294967296) >>> 0;
    try {
      this.datagram(nowMs);
    } catch (err) {
      this.recs.out.rollback();
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
    this.sink.message?.({ protocol: 'sflow5', session: this.session, domainId: this.subAgent, agent: this.agent(), sequence: seq, units: 1, exportTimeMs: nowMs, receivedMs: nowMs });

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
    if (this.recs.n > 0) emitBatches(this.recs, this.session, this.subAgent, seq, uptime, nowMs, this.registry, this.sink);
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
      this.sampleSeen('counter');
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
      this.sampleSeen('discard');
      this.flowRecords(p, end, nrec, false);
      return;
    }
    s.lo |= L_SAMPLING;
    this.sampleSeen('flow');
    this.interfaces(inFmt, inVal, outFmt, outVal);
    this.flowRecords(p, end, nrec, true);
  }

  /** A sample's sequence number: each data source numbers its flow, counter and discard samples apart. */
  private sampleSeen(kind: 'flow' | 'counter' | 'discard'): void {
    const sink = this.sink;
    if (sink.message === undefined) return;
    const s = this.s;
    sink.message({
      protocol: 'sflow5-sample',
      session: this.session,
      domainId: this.subAgent,
      agent: this.agent(),
      source: { type: s.srcType, index: s.srcIndex, kind },
      sequence: s.seq,
      units: 1,
      exportTimeMs: this.nowMs,
      receivedMs: this.nowMs,
    });
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
    this.recs.writeFlow(this.s, this.buf, this.layouts.flowTemplate(s.lo, s.hi, (s.hi & H_MPLS_LABELS) !== 0 ? s.labels : 0), this.agentOff, this.agentV6, this.nowHi, this.nowLo);
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
        dissectHeader(this.s, this.buf, this.pkt, proto, p + 16, hlen);
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
        setIpVersion(this.s, 4);
        s.ipLen = u32(buf, p);
        s.proto = buf[p + 7]!;
        s.ipSrcOff = p + 8;
        s.ipDstOff = p + 12;
        s.tos = buf[p + 31]!;
        setIpData(this.s, u32(buf, p + 16), u32(buf, p + 20), buf[p + 27]!);
        return undefined;
      }
      case R_IPV6: {
        // length, protocol, src_ip, dst_ip, src_port, dst_port, tcp_flags, priority
        if (len < 56) return `IPv6 data record of ${len} bytes is shorter than 56`;
        setIpVersion(this.s, 6);
        s.ipLen = u32(buf, p);
        s.proto = buf[p + 7]!;
        s.ipSrcOff = p + 8;
        s.ipDstOff = p + 24;
        s.tos = buf[p + 55]!;
        setIpData(this.s, u32(buf, p + 40), u32(buf, p + 44), buf[p + 51]!);
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
    this.recs.writeCounters(this.s, this.buf, this.layouts.counterTemplate(bits), bits, this.agentOff, this.agentV6, this.nowHi, this.nowLo);
  }

}
