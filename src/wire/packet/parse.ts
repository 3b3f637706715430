/**
 * Packet header decoding, from the link layer down to the transport header, as far as the captured
 * bytes reach.
 *
 * Two levels:
 * - `dissect` fills a reusable `PacketLayers` with numbers and byte offsets only: no strings, no
 *   allocation, so a probe can run it per packet.
 * - `udpFromFrame` and `parsePacket` build friendly objects (address text and so on) on top of it.
 *
 * Nothing here validates checksums: captures taken on the sending host routinely carry checksums
 * the NIC fills in later, and a decoder that dropped them would lose real traffic.
 */
import { ipv4ToString, ipv6ToString, macToString } from './addr.js';
import type { IpReassembler } from './reassemble.js';

export { IpReassembler, Ipv4Reassembler } from './reassemble.js';
export type { ReassemblerOptions, ReassemblerStats } from './reassemble.js';

// Plain byte arithmetic: the callers have checked the bounds already, and Buffer's readUInt16BE
// would check them again on every field.
function u16(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Buffer, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

/** LINKTYPE_ values understood here (tcpdump.org/linktypes.html). */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW_OPENBSD: 12, // DLT_RAW on OpenBSD
  RAW_BSDOS: 14, // DLT_RAW on BSD/OS
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  IPV6: 0x86dd,
  VLAN: 0x8100, // 802.1Q
  QINQ: 0x88a8, // 802.1ad service tag
  QINQ_OLD: 0x9100, // pre-standard QinQ, still seen
  MPLS: 0x8847,
  MPLS_MC: 0x8848,
  PPPOE_SESSION: 0x8864,
} as const;

export const IpProto = {
  HOPOPTS: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
  MOBILITY: 135,
  SCTP: 132,
  UDPLITE: 136,
  HIP: 139,
  SHIM6: 140,
} as const;

/**
 * Every header field the decoders and the probe need, as numbers and offsets into the frame.
 * Fields of layers that were not found keep their reset value (-1, 0 or false). One instance is
 * meant to be reused: `dissect` resets it.
 */
export class PacketLayers {
  /** Offset of the Ethernet header (destination MAC at +0, source at +6); -1 without one. */
  ethOffset = -1;
  /** 802.1Q / 802.1ad VLAN ids, outermost first. */
  readonly vlanIds: number[] = [];
  /** Number of MPLS labels skipped. */
  mplsLabels = 0;
  /** EtherType of the network layer after VLAN tags (0x8847 behind MPLS); -1 on links without one. */
  etherType = -1;

  ipVersion: 0 | 4 | 6 = 0;
  ipOffset = -1;
  /** IPv4 header with options, or the 40-byte IPv6 header. */
  ipHeaderLength = 0;
  /** Length the IP header declares (IPv4 total length, IPv6 40 + payload length). */
  ipTotalLength = 0;
  /** End of the IP datagram in the frame: the declared end, or the end of the capture if that comes first. */
  ipEnd = 0;
  srcAddrOffset = -1;
  dstAddrOffset = -1;
  /** IPv4 protocol or the IPv6 upper-layer next header (after extension headers); -1 if unknown. */
  protocol = -1;
  /** TTL / hop limit. */
  ttl = 0;
  /** IPv4 ToS byte / IPv6 traffic class (DSCP and ECN). */
  tos = 0;
  flowLabel = 0;

  isFragment = false;
  /** IPv4 identification (16 bits) or IPv6 fragment identification (32 bits). */
  fragId = 0;
  /** Offset of this fragment's data within the original datagram, in bytes. */
  fragOffset = 0;
  moreFragments = false;
  dontFragment = false;
  /** IPv6: offset of the Fragment header, and of the next-header byte that names it. */
  fragHeaderOffset = -1;
  fragNextHeaderField = -1;

  /** Offset of the transport header; -1 when it is not in this frame (non-first fragment, ESP, truncation). */
  l4Offset = -1;
  srcPort = -1;
  dstPort = -1;
  /** UDP length field (header included); -1 when not UDP. */
  udpLength = -1;
  /** TCP control bits: the low 12 bits of the offset/flags word (NS 0x100, CWR 0x80 … FIN 0x01). */
  tcpFlags = 0;
  tcpSeq = 0;
  tcpAck = 0;
  tcpWindow = 0;
  icmpType = -1;
  icmpCode = -1;

  /** Transport payload: [payloadOffset, payloadEnd) of the frame; -1 when unknown. */
  payloadOffset = -1;
  payloadEnd = -1;
  /** The capture ended before the IP datagram did (or before the link header did). */
  truncated = false;

  reset(): void {
    this.ethOffset = -1;
    this.vlanIds.length = 0;
    this.mplsLabels = 0;
    this.etherType = -1;
    this.ipVersion = 0;
    this.ipOffset = -1;
    this.ipHeaderLength = 0;
    this.ipTotalLength = 0;
    this.ipEnd = 0;
    this.srcAddrOffset = -1;
    this.dstAddrOffset = -1;
    this.protocol = -1;
    this.ttl = 0;
    this.tos = 0;
    this.flowLabel = 0;
    this.isFragment = false;
    this.fragId = 0;
    this.fragOffset = 0;
    this.moreFragments = false;
    this.dontFragment = false;
    this.fragHeaderOffset = -1;
    this.fragNextHeaderField = -1;
    this.l4Offset = -1;
    this.srcPort = -1;
    this.dstPort = -1;
    this.udpLength = -1;
    this.tcpFlags = 0;
    this.tcpSeq = 0;
    this.tcpAck = 0;
    this.tcpWindow = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.payloadOffset = -1;
    this.payloadEnd = -1;
    this.truncated = false;
  }
}

/**
 * Decodes `data`, a frame of link type `linkType`, into `out`. Returns true when an IP header was
 * found. Never throws on malformed input and never reads past `data`.
 */
export function dissect(linkType: number, data: Buffer, out: PacketLayers): boolean {
  out.reset();
  switch (linkType) {
    case LinkType.ETHERNET:
      if (data.length < 14) return truncated(out);
      out.ethOffset = 0;
      return etherPayload(data, 12, out);
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (data.length < 4) return truncated(out);
      // The family is in the capturing host's byte order (NULL) or network order (LOOP, though
      // some writers got that wrong); the values are small, so whichever reading fits 16 bits wins.
      let family = data.readUInt32LE(0);
      if (family > 0xffff) family = u32(data, 0);
      if (family === 2) return ipv4(data, 4, out);
      // AF_INET6 is 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS (Linux never writes this link type).
      if (family === 24 || family === 28 || family === 30) return ipv6(data, 4, out);
      return false;
    }
    case LinkType.RAW:
    case LinkType.RAW_OPENBSD:
    case LinkType.RAW_BSDOS:
      return rawIp(data, 0, out);
    case LinkType.IPV4:
      return ipv4(data, 0, out);
    case LinkType.IPV6:
      return ipv6(data, 0, out);
    case LinkType.LINUX_SLL:
      // packet type, ARPHRD type, address length, 8 address bytes, protocol.
      if (data.length < 16) return truncated(out);
      return etherPayload(data, 14, out);
    case LinkType.LINUX_SLL2:
      // protocol, reserved, interface index, ARPHRD type, packet type, address length, 8 address bytes.
      if (data.length < 20) return truncated(out);
      return etherPayloadAt(data, u16(data, 0), 20, out);
    default:
      return false;
  }
}

function truncated(out: PacketLayers): false {
  out.truncated = true;
  return false;
}

/** The EtherType field is at `typeOff`, the payload right after it. */
function etherPayload(data: Buffer, typeOff: number, out: PacketLayers): boolean {
  return etherPayloadAt(data, u16(data, typeOff), typeOff + 2, out);
}

function etherPayloadAt(data: Buffer, type: number, off: number, out: PacketLayers): boolean {
  // VLAN tags: TCI (priority, DEI, 12-bit id) then the next EtherType. Each tag advances 4 bytes,
  // so the loop ends at the end of the frame whatever the bytes say.
  while (type === EtherType.VLAN || type === EtherType.QINQ || type === EtherType.QINQ_OLD) {
    if (data.length - off < 4) return truncated(out);
    out.vlanIds.push(u16(data, off) & 0x0fff);
    type = u16(data, off + 2);
    off += 4;
  }
  if (type <= 1500) {
    // An 802.3 length, not a type: only LLC/SNAP (AA AA 03, OUI, EtherType) carries IP.
    if (data.length - off < 8) return truncated(out);
    if (data[off] !== 0xaa || data[off + 1] !== 0xaa || data[off + 2] !== 0x03) return false;
    type = u16(data, off + 6);
    off += 8;
  }
  out.etherType = type;
  switch (type) {
    case EtherType.IPV4:
      return ipv4(data, off, out);
    case EtherType.IPV6:
      return ipv6(data, off, out);
    case EtherType.MPLS:
    case EtherType.MPLS_MC: {
      // Label stack entries until the bottom-of-stack bit; then the payload says what it is by its
      // first nibble (no EtherType in MPLS), which holds for IP, the common case.
      for (;;) {
        if (data.length - off < 4) return truncated(out);
        const bottom = (data[off + 2]! & 0x01) !== 0;
        off += 4;
        out.mplsLabels++;
        if (bottom) break;
      }
      return rawIp(data, off, out);
    }
    case EtherType.PPPOE_SESSION: {
      // PPPoE header (6 bytes), then the 2-byte PPP protocol: 0x0021 IPv4, 0x0057 IPv6.
      if (data.length - off < 8) return truncated(out);
      const ppp = u16(data, off + 6);
      if (ppp === 0x0021) return ipv4(data, off + 8, out);
      if (ppp === 0x0057) return ipv6(data, off + 8, out);
      return false;
    }
    default:
      return false;
  }
}

/** IP with no link header: the version nibble decides. */
function rawIp(data: Buffer, off: number, out: PacketLayers): boolean {
  if (off >= data.length) return truncated(out);
  const version = data[off]! >> 4;
  if (version === 4) return ipv4(data, off, out);
  if (version === 6) return ipv6(data, off, out);
  return false;
}

function ipv4(data: Buffer, off: number, out: PacketLayers): boolean {
  if (data.length - off < 20) return truncated(out);
  const vihl = data[off]!;
  if (vihl >> 4 !== 4) return false;
  const hlen = (vihl & 0x0f) * 4;
  if (hlen < 20) return false;
  out.ipVersion = 4;
  out.ipOffset = off;
  out.ipHeaderLength = hlen;
  out.tos = data[off + 1]!;
  let total = u16(data, off + 2);
  // Total length 0 appears in captures of TCP segmentation offload: the host never filled it in.
  if (total === 0) total = data.length - off;
  out.ipTotalLength = total;
  out.fragId = u16(data, off + 4);
  const frag = u16(data, off + 6);
  out.dontFragment = (frag & 0x4000) !== 0;
  out.moreFragments = (frag & 0x2000) !== 0;
  out.fragOffset = (frag & 0x1fff) * 8;
  out.isFragment = out.moreFragments || out.fragOffset !== 0;
  out.ttl = data[off + 8]!;
  out.protocol = data[off + 9]!;
  out.srcAddrOffset = off + 12;
  out.dstAddrOffset = off + 16;
  const declaredEnd = off + total;
  out.ipEnd = Math.min(declaredEnd, data.length);
  if (declaredEnd > data.length) out.truncated = true;
  if (total < hlen) return true; // malformed length: addresses are good, nothing beyond them is
  if (off + hlen > out.ipEnd) return true; // options cut by the capture
  if (out.fragOffset !== 0) return true; // the transport header is in the first fragment only
  let p = off + hlen;
  let proto = out.protocol;
  // IPsec AH may sit between IPv4 and the transport header; its length counts 4-byte words minus 2.
  while (proto === IpProto.AH) {
    if (out.ipEnd - p < 2) return true;
    proto = data[p]!;
    p += (data[p + 1]! + 2) * 4;
    if (p > out.ipEnd) return true;
  }
  out.protocol = proto;
  transport(data, p, out);
  return true;
}

function ipv6(data: Buffer, off: number, out: PacketLayers): boolean {
  if (data.length - off < 40) return truncated(out);
  const w0 = u32(data, off);
  if (w0 >>> 28 !== 6) return false;
  out.ipVersion = 6;
  out.ipOffset = off;
  out.ipHeaderLength = 40;
  out.tos = (w0 >>> 20) & 0xff;
  out.flowLabel = w0 & 0xfffff;
  let payloadLength = u16(data, off + 4);
  // 0 means a jumbogram (RFC 2675) or, again, an offloaded packet: take what was captured.
  if (payloadLength === 0) payloadLength = data.length - off - 40;
  out.ipTotalLength = 40 + payloadLength;
  out.ttl = data[off + 7]!;
  out.srcAddrOffset = off + 8;
  out.dstAddrOffset = off + 24;
  const declaredEnd = off + 40 + payloadLength;
  const end = Math.min(declaredEnd, data.length);
  out.ipEnd = end;
  if (declaredEnd > data.length) out.truncated = true;

  // Walk the extension headers. Each one advances p by at least 8 bytes and p never passes `end`,
  // so the walk ends however the next-header bytes are chained.
  let nh = data[off + 6]!;
  let nhField = off + 6;
  let p = off + 40;
  for (;;) {
    if (nh === IpProto.HOPOPTS || nh === IpProto.ROUTING || nh === IpProto.DSTOPTS || nh === IpProto.MOBILITY || nh === IpProto.HIP || nh === IpProto.SHIM6 || nh === IpProto.AH) {
      if (end - p < 2) break;
      const len = nh === IpProto.AH ? (data[p + 1]! + 2) * 4 : (data[p + 1]! + 1) * 8;
      if (len > end - p) break;
      nhField = p;
      nh = data[p]!;
      p += len;
    } else if (nh === IpProto.FRAGMENT) {
      if (end - p < 8) break;
      const fo = u16(data, p + 2);
      out.fragOffset = fo & 0xfff8;
      out.moreFragments = (fo & 1) !== 0;
      // An atomic fragment (offset 0, no more) is a whole datagram and is processed as one (RFC 6946).
      out.isFragment = out.fragOffset !== 0 || out.moreFragments;
      out.fragId = u32(data, p + 4);
      out.fragHeaderOffset = p;
      out.fragNextHeaderField = nhField;
      nhField = p;
      nh = data[p]!;
      p += 8;
      if (out.fragOffset !== 0) {
        out.protocol = nh;
        return true; // later fragments do not carry the upper-layer header
      }
    } else {
      out.protocol = nh;
      transport(data, p, out);
      return true;
    }
  }
  // An extension header ran past the end: cut by the capture (flagged above) or malformed.
  out.protocol = nh;
  return true;
}

/** Decodes the transport header at `p` (the IP payload's end is out.ipEnd). */
function transport(data: Buffer, p: number, out: PacketLayers): void {
  const end = out.ipEnd;
  const avail = end - p;
  const proto = out.protocol;
  out.l4Offset = p;
  switch (proto) {
    case IpProto.TCP: {
      if (avail < 20) break;
      out.srcPort = u16(data, p);
      out.dstPort = u16(data, p + 2);
      out.tcpSeq = u32(data, p + 4);
      out.tcpAck = u32(data, p + 8);
      const w = u16(data, p + 12);
      out.tcpFlags = w & 0x0fff;
      out.tcpWindow = u16(data, p + 14);
      const doff = (w >> 12) * 4;
      out.payloadOffset = Math.min(p + Math.max(doff, 20), end);
      out.payloadEnd = end;
      return;
    }
    case IpProto.UDP:
    case IpProto.UDPLITE: {
      if (avail < 8) break;
      out.srcPort = u16(data, p);
      out.dstPort = u16(data, p + 2);
      out.udpLength = u16(data, p + 4);
      out.payloadOffset = p + 8;
      // UDP-Lite's field is a checksum coverage, not a length; its datagram runs to the IP end.
      // A UDP end past the IP end means a capture cut (flagged already), a first fragment, or a lie.
      const udpEnd = proto === IpProto.UDP && out.udpLength >= 8 ? p + out.udpLength : end;
      out.payloadEnd = Math.min(udpEnd, end);
      return;
    }
    case IpProto.SCTP: {
      if (avail < 12) break;
      out.srcPort = u16(data, p);
      out.dstPort = u16(data, p + 2);
      out.payloadOffset = p + 12;
      out.payloadEnd = end;
      return;
    }
    case IpProto.ICMP:
    case IpProto.ICMPV6: {
      if (avail < 4) break;
      out.icmpType = data[p]!;
      out.icmpCode = data[p + 1]!;
      // The payload starts after the 4-byte rest-of-header that every ICMP message has.
      out.payloadOffset = Math.min(p + 8, end);
      out.payloadEnd = end;
      return;
    }
    default:
      out.payloadOffset = p;
      out.payloadEnd = end;
      return;
  }
  // The transport header does not fit: cut by the capture (already flagged) or a tiny fragment.
}

// ---------------------------------------------------------------------------------------------
// UDP datagrams, for decoding flow exports out of captures

export interface UdpDatagram {
  readonly srcAddr: string;
  readonly dstAddr: string;
  readonly srcPort: number;
  readonly dstPort: number;
  /** The UDP payload: a subarray of the frame (or of the reassembled datagram). */
  readonly payload: Buffer;
  readonly ipVersion: 4 | 6;
  /** The capture cut the datagram short: payload holds less than the UDP length says. */
  readonly truncated: boolean;
}

const scratch = new PacketLayers();

/**
 * The UDP datagram in a frame, or undefined when the frame holds none (other protocols, malformed
 * headers, a UDP length beyond the IP datagram). IP fragments are handed to `reasm` when given;
 * the frame that completes a datagram returns it whole, the others return undefined, as do all
 * fragments when no reassembler is given. `tsMs`, the frame's capture time, drives the
 * reassembler's timeout (without it, the reassembler's latest time is used).
 */
export function udpFromFrame(linkType: number, data: Buffer, reasm?: IpReassembler, tsMs?: number): UdpDatagram | undefined {
  const l = scratch;
  if (!dissect(linkType, data, l)) return undefined;
  if (l.isFragment) {
    if (reasm === undefined) return undefined;
    const whole = reasm.push(data, l, tsMs);
    if (whole === undefined) return undefined;
    if (!dissect(LinkType.RAW, whole, l)) return undefined;
    return udpFrom(whole, l);
  }
  return udpFrom(data, l);
}

function udpFrom(data: Buffer, l: PacketLayers): UdpDatagram | undefined {
  if (l.protocol !== IpProto.UDP || l.payloadOffset < 0 || l.isFragment) return undefined;
  // A UDP length below the header size, or beyond what the IP header declares, is malformed.
  if (l.udpLength < 8 || l.l4Offset + l.udpLength > l.ipOffset + l.ipTotalLength) return undefined;
  const v4 = l.ipVersion === 4;
  return {
    srcAddr: v4 ? ipv4ToString(data, l.srcAddrOffset) : ipv6ToString(data, l.srcAddrOffset),
    dstAddr: v4 ? ipv4ToString(data, l.dstAddrOffset) : ipv6ToString(data, l.dstAddrOffset),
    srcPort: l.srcPort,
    dstPort: l.dstPort,
    payload: data.subarray(l.payloadOffset, l.payloadEnd),
    ipVersion: v4 ? 4 : 6,
    truncated: l.truncated,
  };
}

// ---------------------------------------------------------------------------------------------
// A general, friendly view of all layers

export interface ParsedPacket {
  srcMac?: string;
  dstMac?: string;
  /** VLAN ids, outermost first (empty without tags). */
  vlanIds: number[];
  mplsLabels?: number;
  etherType?: number;
  ipVersion?: 4 | 6;
  srcAddr?: string;
  dstAddr?: string;
  /** IP protocol / IPv6 upper-layer next header. */
  protocol?: number;
  ttl?: number;
  /** ToS byte / traffic class. */
  tos?: number;
  flowLabel?: number;
  ipTotalLength?: number;
  fragment?: { id: number; offset: number; more: boolean };
  dontFragment?: boolean;
  srcPort?: number;
  dstPort?: number;
  tcp?: { flags: number; seq: number; ack: number; window: number };
  icmp?: { type: number; code: number };
  /** Transport payload offset within the frame, and its captured length. */
  payloadOffset?: number;
  payloadLength?: number;
  truncated: boolean;
}

/** Decodes every layer found in a frame into a plain object (allocates; use `dissect` in hot loops). */
export function parsePacket(linkType: number, data: Buffer): ParsedPacket {
  const l = new PacketLayers();
  dissect(linkType, data, l);
  const p: ParsedPacket = { vlanIds: [...l.vlanIds], truncated: l.truncated };
  if (l.ethOffset >= 0) {
    p.dstMac = macToString(data, l.ethOffset);
    p.srcMac = macToString(data, l.ethOffset + 6);
  }
  if (l.mplsLabels > 0) p.mplsLabels = l.mplsLabels;
  if (l.etherType >= 0) p.etherType = l.etherType;
  if (l.ipVersion !== 0) {
    const v4 = l.ipVersion === 4;
    p.ipVersion = l.ipVersion;
    p.srcAddr = v4 ? ipv4ToString(data, l.srcAddrOffset) : ipv6ToString(data, l.srcAddrOffset);
    p.dstAddr = v4 ? ipv4ToString(data, l.dstAddrOffset) : ipv6ToString(data, l.dstAddrOffset);
    if (l.protocol >= 0) p.protocol = l.protocol;
    p.ttl = l.ttl;
    p.tos = l.tos;
    if (!v4) p.flowLabel = l.flowLabel;
    p.ipTotalLength = l.ipTotalLength;
    if (v4) p.dontFragment = l.dontFragment;
    if (l.isFragment) p.fragment = { id: l.fragId, offset: l.fragOffset, more: l.moreFragments };
  }
  if (l.srcPort >= 0) {
    p.srcPort = l.srcPort;
    p.dstPort = l.dstPort;
  }
  if (l.protocol === IpProto.TCP && l.payloadOffset >= 0) {
    p.tcp = { flags: l.tcpFlags, seq: l.tcpSeq, ack: l.tcpAck, window: l.tcpWindow };
  }
  if (l.icmpType >= 0) p.icmp = { type: l.icmpType, code: l.icmpCode };
  if (l.payloadOffset >= 0) {
    p.payloadOffset = l.payloadOffset;
    p.payloadLength = l.payloadEnd - l.payloadOffset;
  }
  return p;
}
