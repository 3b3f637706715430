/**
 * Frame builders for tests and the probe: Ethernet / IPv4 or IPv6 / UDP, TCP or ICMP, with correct
 * IPv4 header, UDP, TCP and ICMP checksums (tshark, softflowd and real stacks read these frames),
 * and IPv4 / IPv6 fragmentation. Addresses are given as text.
 */
import { parseIpv4, parseIpv6, parseMac } from './addr.js';
import { fold, internetChecksum, sumWords } from './checksum.js';

const DEFAULT_SRC_MAC = '02:00:00:00:00:01'; // locally administered
const DEFAULT_DST_MAC = '02:00:00:00:00:02';

export interface LinkOptions {
  srcMac?: string;
  dstMac?: string;
  /** 802.1Q VLAN ids, outermost first; with two or more the outer tags use 802.1ad (0x88a8). */
  vlanIds?: readonly number[];
}

export interface Ipv4Options extends LinkOptions {
  src: string;
  dst: string;
  /** Default 64. */
  ttl?: number;
  /** IPv4 identification; default 1. */
  id?: number;
  /** ToS byte (DSCP << 2 | ECN); default 0. */
  tos?: number;
  /** Set the Don't Fragment bit; default false. */
  dontFragment?: boolean;
  /** IPv4 options, padded to a multiple of 4 bytes here. */
  options?: Buffer;
}

export interface Ipv6Options extends LinkOptions {
  src: string;
  dst: string;
  /** Default 64. */
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

export interface UdpFields {
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export interface TcpFields {
  srcPort: number;
  dstPort: number;
  /** Control bits: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80. */
  flags: number;
  seq?: number;
  ack?: number;
  /** Default 65535. */
  window?: number;
  payload?: Buffer;
}

export interface IcmpFields {
  type: number;
  code: number;
  /** The 4 bytes after the checksum (identifier and sequence for echo); default zeros. */
  rest?: Buffer;
  payload?: Buffer;
}

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

function addr4(text: string): Buffer {
  const b = parseIpv4(text);
  if (b === undefined) throw new TypeError(`not an IPv4 address: ${text}`);
  return b;
}

function addr6(text: string): Buffer {
  const b = parseIpv6(text);
  if (b === undefined) throw new TypeError(`not an IPv6 address: ${text}`);
  return b;
}

function mac(text: string): Buffer {
  const b = parseMac(text);
  if (b === undefined) throw new TypeError(`not a MAC address: ${text}`);
  return b;
}

/** An Ethernet II frame around `payload`, with VLAN tags when asked. */
export function ethernet(link: LinkOptions, etherType: number, payload: Buffer): Buffer {
  const vlans = link.vlanIds ?? [];
  const head = Buffer.alloc(14 + 4 * vlans.length);
  mac(link.dstMac ?? DEFAULT_DST_MAC).copy(head, 0);
  mac(link.srcMac ?? DEFAULT_SRC_MAC).copy(head, 6);
  let off = 12;
  vlans.forEach((id, i) => {
    // In a stack, every tag but the innermost is a service tag.
    head.writeUInt16BE(i < vlans.length - 1 ? 0x88a8 : 0x8100, off);
    head.writeUInt16BE(id & 0x0fff, off + 2);
    off += 4;
  });
  head.writeUInt16BE(etherType, off);
  return Buffer.concat([head, payload]);
}

/** An IPv4 packet (header checksum filled in) around a transport segment whose checksum is already set. */
export function ipv4Packet(o: Ipv4Options, protocol: number, segment: Buffer): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const hlen = 20 + ((opts.length + 3) & ~3);
  if (hlen > 60) throw new RangeError(`IPv4 options of ${opts.length} bytes do not fit the header`);
  const total = hlen + segment.length;
  if (total > 65535) throw new RangeError(`IPv4 packet of ${total} bytes exceeds 65535`);
  const p = Buffer.alloc(total);
  p[0] = 0x40 | (hlen / 4);
  p[1] = o.tos ?? 0;
  p.writeUInt16BE(total, 2);
  p.writeUInt16BE((o.id ?? 1) & 0xffff, 4);
  p.writeUInt16BE(o.dontFragment === true ? 0x4000 : 0, 6);
  p[8] = o.ttl ?? 64;
  p[9] = protocol;
  addr4(o.src).copy(p, 12);
  addr4(o.dst).copy(p, 16);
  opts.copy(p, 20);
  p.writeUInt16BE(internetChecksum(p, 0, hlen), 10);
  segment.copy(p, hlen);
  return p;
}

/** An IPv6 packet around a transport segment (no extension headers). */
export function ipv6Packet(o: Ipv6Options, nextHeader: number, segment: Buffer): Buffer {
  if (segment.length > 65535) throw new RangeError(`IPv6 payload of ${segment.length} bytes exceeds 65535`);
  const p = Buffer.alloc(40 + segment.length);
  p.writeUInt32BE(((6 << 28) | ((o.trafficClass ?? 0) << 20) | ((o.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  p.writeUInt16BE(segment.length, 4);
  p[6] = nextHeader;
  p[7] = o.hopLimit ?? 64;
  addr6(o.src).copy(p, 8);
  addr6(o.dst).copy(p, 24);
  segment.copy(p, 40);
  return p;
}

/** Sum of the TCP/UDP pseudo-header (RFC 793 / RFC 8200 section 8.1) for `length` bytes of `protocol`. */
function pseudoSum(src: Buffer, dst: Buffer, protocol: number, length: number): number {
  let sum = sumWords(src, 0, src.length);
  sum = sumWords(dst, 0, dst.length, sum);
  return sum + protocol + (length >>> 16) + (length & 0xffff);
}

/** Writes the checksum of `segment` (field at `field`) including the pseudo-header, when given. */
function setChecksum(segment: Buffer, field: number, pseudo: number, zeroMeansNone: boolean): void {
  segment.writeUInt16BE(0, field);
  let c = fold(sumWords(segment, 0, segment.length, pseudo));
  // UDP sends a computed 0 as 0xffff, since 0 on the wire means "no checksum".
  if (c === 0 && zeroMeansNone) c = 0xffff;
  segment.writeUInt16BE(c, field);
}

function udpSegment(u: UdpFields, src: Buffer, dst: Buffer): Buffer {
  const len = 8 + u.payload.length;
  if (len > 65535) throw new RangeError(`UDP datagram of ${len} bytes exceeds 65535`);
  const s = Buffer.alloc(len);
  s.writeUInt16BE(u.srcPort, 0);
  s.writeUInt16BE(u.dstPort, 2);
  s.writeUInt16BE(len, 4);
  u.payload.copy(s, 8);
  setChecksum(s, 6, pseudoSum(src, dst, 17, len), true);
  return s;
}

function tcpSegment(t: TcpFields, src: Buffer, dst: Buffer): Buffer {
  const payload = t.payload ?? Buffer.alloc(0);
  const s = Buffer.alloc(20 + payload.length);
  s.writeUInt16BE(t.srcPort, 0);
  s.writeUInt16BE(t.dstPort, 2);
  s.writeUInt32BE((t.seq ?? 0) >>> 0, 4);
  s.writeUInt32BE((t.ack ?? 0) >>> 0, 8);
  s.writeUInt16BE((5 << 12) | (t.flags & 0x01ff), 12);
  s.writeUInt16BE(t.window ?? 65535, 14);
  payload.copy(s, 20);
  setChecksum(s, 16, pseudoSum(src, dst, 6, s.length), false);
  return s;
}

function icmpSegment(i: IcmpFields, pseudo: number): Buffer {
  const payload = i.payload ?? Buffer.alloc(0);
  const s = Buffer.alloc(8 + payload.length);
  s[0] = i.type;
  s[1] = i.code;
  (i.rest ?? Buffer.alloc(4)).copy(s, 4, 0, 4);
  payload.copy(s, 8);
  setChecksum(s, 2, pseudo, false);
  return s;
}

export function ethernetIpv4Udp(o: Ipv4Options & UdpFields): Buffer {
  const seg = udpSegment(o, addr4(o.src), addr4(o.dst));
  return ethernet(o, 0x0800, ipv4Packet(o, 17, seg));
}

export function ethernetIpv6Udp(o: Ipv6Options & UdpFields): Buffer {
  const seg = udpSegment(o, addr6(o.src), addr6(o.dst));
  return ethernet(o, 0x86dd, ipv6Packet(o, 17, seg));
}

export function ethernetIpv4Tcp(o: Ipv4Options & TcpFields): Buffer {
  const seg = tcpSegment(o, addr4(o.src), addr4(o.dst));
  return ethernet(o, 0x0800, ipv4Packet(o, 6, seg));
}

export function ethernetIpv6Tcp(o: Ipv6Options & TcpFields): Buffer {
  const seg = tcpSegment(o, addr6(o.src), addr6(o.dst));
  return ethernet(o, 0x86dd, ipv6Packet(o, 6, seg));
}

/** ICMP for IPv4: the checksum covers the message alone. */
export function ethernetIpv4Icmp(o: Ipv4Options & IcmpFields): Buffer {
  return ethernet(o, 0x0800, ipv4Packet(o, 1, icmpSegment(o, 0)));
}

/** ICMPv6: the checksum includes the IPv6 pseudo-header. */
export function ethernetIpv6Icmp(o: Ipv6Options & IcmpFields): Buffer {
  const len = 8 + (o.payload?.length ?? 0);
  const seg = icmpSegment(o, pseudoSum(addr6(o.src), addr6(o.dst), 58, len));
  return ethernet(o, 0x86dd, ipv6Packet(o, 58, seg));
}

/** Length of the Ethernet header and VLAN tags in front of the IP packet, and the EtherType found. */
function linkHeader(frame: Buffer): { length: number; etherType: number } {
  let off = 12;
  let type = frame.readUInt16BE(off);
  while (type === 0x8100 || type === 0x88a8 || type === 0x9100) {
    off += 4;
    type = frame.readUInt16BE(off);
  }
  return { length: off + 2, etherType: type };
}

/**
 * Splits an Ethernet/IPv4 frame into fragment frames whose IP packets are at most `mtu` bytes.
 * Non-first fragments carry only the options whose copy bit is set (RFC 791). A frame that fits is
 * returned as the only element; a frame with DF set that does not fit is an error.
 */
export function fragmentIpv4(frame: Buffer, mtu: number): Buffer[] {
  const link = linkHeader(frame);
  if (link.etherType !== 0x0800) throw new TypeError('fragmentIpv4 needs an Ethernet frame carrying IPv4');
  const l2 = frame.subarray(0, link.length);
  const ip = frame.subarray(link.length);
  const hlen = (ip[0]! & 0x0f) * 4;
  const total = ip.readUInt16BE(2);
  if (total <= mtu) return [frame];
  if (ip.readUInt16BE(6) & 0x4000) throw new RangeError(`packet of ${total} bytes has DF set and exceeds MTU ${mtu}`);
  const firstHeader = ip.subarray(0, hlen);
  const laterHeader = copiedOptionsHeader(firstHeader);
  const data = ip.subarray(hlen, total);
  const baseOffset = (ip.readUInt16BE(6) & 0x1fff) * 8; // fragmenting a fragment keeps its place
  const baseMore = (ip.readUInt16BE(6) & 0x2000) !== 0;
  const frames: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const header = at === 0 ? firstHeader : laterHeader;
    const room = (mtu - header.length) & ~7;
    if (room <= 0) throw new RangeError(`MTU ${mtu} leaves no room for fragment data`);
    const chunk = data.subarray(at, Math.min(at + room, data.length));
    const last = at + chunk.length >= data.length;
    const h = Buffer.from(header);
    h.writeUInt16BE(h.length + chunk.length, 2);
    h.writeUInt16BE(((baseOffset + at) / 8) | (last && !baseMore ? 0 : 0x2000), 6);
    h.writeUInt16BE(0, 10);
    h.writeUInt16BE(internetChecksum(h, 0, h.length), 10);
    frames.push(Buffer.concat([l2, h, chunk]));
    at += chunk.length;
  }
  return frames;
}

/** The IPv4 header for non-first fragments: options without the copy bit removed, padded to 4 bytes. */
function copiedOptionsHeader(header: Buffer): Buffer {
  const kept: Buffer[] = [];
  let o = 20;
  while (o < header.length) {
    const type = header[o]!;
    if (type === 0) break; // end of option list
    if (type === 1) {
      o += 1; // no-operation
      continue;
    }
    const len = header[o + 1] ?? 0;
    if (len < 2 || o + len > header.length) break;
    if (type & 0x80) kept.push(header.subarray(o, o + len));
    o += len;
  }
  const optLen = kept.reduce((n, b) => n + b.length, 0);
  const h = Buffer.alloc(20 + ((optLen + 3) & ~3));
  header.copy(h, 0, 0, 20);
  Buffer.concat(kept).copy(h, 20);
  h[0] = 0x40 | (h.length / 4);
  return h;
}

/**
 * Splits an Ethernet/IPv6 frame (no extension headers) into fragment frames whose IPv6 packets are
 * at most `mtu` bytes, inserting a Fragment header with identification `id`.
 */
export function fragmentIpv6(frame: Buffer, mtu: number, id = 1): Buffer[] {
  const link = linkHeader(frame);
  if (link.etherType !== 0x86dd) throw new TypeError('fragmentIpv6 needs an Ethernet frame carrying IPv6');
  const l2 = frame.subarray(0, link.length);
  const ip = frame.subarray(link.length);
  const payloadLength = ip.readUInt16BE(4);
  if (40 + payloadLength <= mtu) return [frame];
  const nextHeader = ip[6]!;
  const data = ip.subarray(40, 40 + payloadLength);
  const room = (mtu - 48) & ~7;
  if (room <= 0) throw new RangeError(`MTU ${mtu} leaves no room for fragment data`);
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; at += room) {
    const chunk = data.subarray(at, Math.min(at + room, data.length));
    const last = at + chunk.length >= data.length;
    const h = Buffer.alloc(48);
    ip.copy(h, 0, 0, 40);
    h.writeUInt16BE(8 + chunk.length, 4);
    h[6] = 44; // Fragment header
    h[40] = nextHeader;
    h.writeUInt16BE(at | (last ? 0 : 1), 42);
    h.writeUInt32BE(id >>> 0, 44);
    frames.push(Buffer.concat([l2, h, chunk]));
  }
  return frames;
}
