/**
 * Where an sFlow datagram's records are written: each sample's fields in the order of its
 * synthetic template (layout.ts), into a slab that the batches then point into.
 */
import type { Template } from '../template.js';
import {
  CB_CPU, CB_ETH, CB_IF, CB_PORTNAME, CB_VLAN, H_GW, H_GW_COMM, H_GW_NH4, H_GW_NH6, H_GW_PATH, H_ICMP4, H_ICMP6, H_MASK4, H_MASK6, H_MPLS_LABELS, H_MPLS_NH4, H_MPLS_NH6, H_MPLS_OUT, H_NAT_DST4, H_NAT_DST6, H_NAT_SRC4, H_NAT_SRC6, H_QUEUE, H_RT_NH4, H_RT_NH6, H_TCP, H_UDP, H_URL, H_USER, L_AGENT4, L_AGENT6, L_DIRECTION, L_DISCARD, L_DOT1Q, L_DOT1Q_INNER, L_DROPPED, L_DROPPED_OCT, L_ETHTYPE, L_FRAG, L_HDR_PROTO, L_IN_IF, L_IN_MULTI, L_IP4, L_IP6, L_IPV4HDR, L_IPV6HDR, L_L2OCTETS, L_MAC, L_OCTETS, L_OUT_IF, L_OUT_MULTI, L_PORTS, L_PROTO, L_SAMPLING, L_SCALED_L2, L_SCALED_OCT, L_SW_IN_PRI, L_SW_IN_VLAN, L_SW_OUT_PRI, L_SW_OUT_VLAN,
} from './groups.js';
import { forwardingStatusOf, u32, type SampleState } from './sample.js';

const SLAB = 256 * 1024;

/**
 * Where records are written: a slab that batches point into. Each datagram's records go after the
 * previous datagram's, which stay untouched (a consumer may keep a batch), so a batch needs no copy
 * and no allocation of its own; a full slab is replaced by a fresh one, and the old one lives as
 * long as some batch refers to it.
 */
export class RecordWriter {
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

/** The records of the datagram being decoded: their templates and spans in the writer. */
export class DatagramRecords {
  readonly out = new RecordWriter();
  // Reused between datagrams.
  tpl: Template[] = [];
  start: number[] = [];
  end: number[] = [];
  n = 0;

  begin(): void {
    this.n = 0;
    this.out.begin();
  }

  /** RecordWriter.ensure, keeping the offsets of the datagram's records right if they moved. */
  room(n: number): void {
    const shift = this.out.ensure(n);
    if (shift === 0) return;
    for (let k = 0; k < this.n; k++) {
      this.start[k]! += shift;
      this.end[k]! += shift;
    }
  }

  push(t: Template, start: number): void {
    const k = this.n++;
    if (k < this.tpl.length) {
      this.tpl[k] = t;
      this.start[k] = start;
      this.end[k] = this.out.pos;
    } else {
      this.tpl.push(t);
      this.start.push(start);
      this.end.push(this.out.pos);
    }
  }

  /** A counter sample's record; `bits` are its counter-record groups. */
  writeCounters(s: SampleState, buf: Buffer, t: Template, bits: number, agentOff: number, agentV6: boolean, nowHi: number, nowLo: number): void {
    const w = this.out;
    this.room(512 + s.portNameLen);
    const start = w.pos;
    if (agentOff >= 0) w.copy(buf, agentOff, agentV6 ? 16 : 4);
    w.u32(s.srcType);
    w.u32(s.srcIndex);
    w.u32(s.seq);
    w.u32(nowHi);
    w.u32(nowLo);
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
    this.push(t, start);
  }

  /** A flow (or discarded-packet) sample's record, laid out by template `t` of its groups. */
  writeFlow(s: SampleState, buf: Buffer, t: Template, agentOff: number, agentV6: boolean, nowHi: number, nowLo: number): void {
    const w = this.out;
    const lo = s.lo;
    const hi = s.hi;
    // Fixed fields need well under 1 KiB; strings and lists are bounded by what the sample holds.
    this.room(1024 + (hi & (H_USER | H_URL) ? s.userSrcLen + s.userDstLen + s.urlLen + s.hostLen + 12 : 0) + (hi & (H_GW_PATH | H_GW_COMM) ? 4 * (s.gwPathAsns + s.gwCommCount) + 24 : 0));
    const start = w.pos;
    if (lo & (L_AGENT4 | L_AGENT6)) w.copy(buf, agentOff, agentV6 ? 16 : 4);
    // BASE
    w.u32(s.srcType);
    w.u32(s.srcIndex);
    w.u32(s.seq);
    w.u32(nowHi);
    w.u32(nowLo);
    w.u32(nowHi);
    w.u32(nowLo);
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
    if (hi !== 0) writeFlowHi(w, s, buf, hi);
    this.push(t, start);
  }
}

/** The groups of the `hi` word: transport details and the extended records. */
export function writeFlowHi(w: RecordWriter, s: SampleState, buf: Buffer, hi: number): void {
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
