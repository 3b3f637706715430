/**
 * Deterministic test traffic for exporter interop tests (softflowd, later the probe): a pcap of
 * complete TCP connections, UDP exchanges and ICMP over IPv4 and IPv6, built with the frame
 * builders, plus an independent reader that computes the per-flow totals a flow meter should report.
 *
 * The reader deliberately does not use sluice's packet dissector: the expected values of an
 * interop test must not come from the code under test.
 */
import {
  ethernetIpv4Icmp,
  ethernetIpv4Tcp,
  ethernetIpv4Udp,
  ethernetIpv6Icmp,
  ethernetIpv6Tcp,
  ethernetIpv6Udp,
  TcpFlag,
} from '../../src/wire/packet/build.js';
import { writePcap, type FrameToWrite } from '../../src/wire/pcap/write.js';
import { Prng } from './prng.js';
import { ipv6ToString } from '../../src/wire/packet/addr.js';

/** 2024-01-01T00:00:00Z: a fixed capture epoch keeps the pcap byte-identical run to run. */
export const TRAFFIC_EPOCH_MS = 1_704_067_200_000;

/** Documentation prefixes (RFC 5737 / RFC 3849): the pcap describes traffic that never leaves the file. */
const V4_CLIENTS = ['192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14'];
const V4_SERVERS = ['198.51.100.1', '198.51.100.2', '198.51.100.53', '203.0.113.7'];
const V6_CLIENTS = ['2001:db8:1::10', '2001:db8:1::11', '2001:db8:1::12'];
const V6_SERVERS = ['2001:db8:2::1', '2001:db8:2::53', '2001:db8:ffff::7'];

interface Endpoints {
  readonly v6: boolean;
  readonly client: string;
  readonly server: string;
}

interface Pending {
  readonly tsMs: number;
  readonly order: number;
  readonly data: Buffer;
}

/** Ethernet frames shorter than 60 bytes are padded on the wire; captures show the padding. */
function padFrame(frame: Buffer): Buffer {
  return frame.length >= 60 ? frame : Buffer.concat([frame, Buffer.alloc(60 - frame.length)]);
}

class Timeline {
  private readonly frames: Pending[] = [];
  private order = 0;

  add(tsMs: number, frame: Buffer): void {
    this.frames.push({ tsMs, order: this.order++, data: padFrame(frame) });
  }

  /** Frames in time order; equal times keep the order they were added in. */
  sorted(): FrameToWrite[] {
    return [...this.frames]
      .sort((a, b) => a.tsMs - b.tsMs || a.order - b.order)
      .map((f) => ({ tsMs: TRAFFIC_EPOCH_MS + f.tsMs, data: f.data }));
  }

  get size(): number {
    return this.frames.length;
  }
}

function tcpFrame(e: Endpoints, fromClient: boolean, cport: number, sport: number, flags: number, seq: number, ack: number, payload: Buffer): Buffer {
  const [src, dst] = fromClient ? [e.client, e.server] : [e.server, e.client];
  const [srcPort, dstPort] = fromClient ? [cport, sport] : [sport, cport];
  const f = { src, dst, srcPort, dstPort, flags, seq, ack, payload };
  return e.v6 ? ethernetIpv6Tcp(f) : ethernetIpv4Tcp(f);
}

/** A TCP connection from SYN to FIN (or RST), with request/response exchanges of varied sizes. */
function tcpConnection(tl: Timeline, rng: Prng, e: Endpoints, startMs: number): void {
  const cport = rng.int(32768, 60999);
  const sport = rng.pick([22, 25, 80, 443, 993, 8080]);
  let t = startMs;
  let cseq = rng.u32();
  let sseq = rng.u32();
  const step = () => (t += rng.int(1, 40) + rng.float());
  const c = (flags: number, payload: Buffer = Buffer.alloc(0)) => {
    tl.add(step(), tcpFrame(e, true, cport, sport, flags, cseq, flags & TcpFlag.ACK ? sseq : 0, payload));
    cseq = (cseq + payload.length + (flags & (TcpFlag.SYN | TcpFlag.FIN) ? 1 : 0)) >>> 0;
  };
  const s = (flags: number, payload: Buffer = Buffer.alloc(0)) => {
    tl.add(step(), tcpFrame(e, false, cport, sport, flags, sseq, cseq, payload));
    sseq = (sseq + payload.length + (flags & (TcpFlag.SYN | TcpFlag.FIN) ? 1 : 0)) >>> 0;
  };
  c(TcpFlag.SYN);
  s(TcpFlag.SYN | TcpFlag.ACK);
  c(TcpFlag.ACK);
  const exchanges = rng.int(1, 8);
  for (let i = 0; i < exchanges; i++) {
    c(TcpFlag.PSH | TcpFlag.ACK, rng.bytes(rng.int(1, 600)));
    const segments = rng.int(1, 4);
    for (let k = 0; k < segments; k++) s((k === segments - 1 ? TcpFlag.PSH : 0) | TcpFlag.ACK, rng.bytes(rng.pick([1, 100, 536, 1200, 1460, rng.int(1, 1460)])));
    c(TcpFlag.ACK);
  }
  if (rng.chance(0.2)) {
    c(TcpFlag.RST | TcpFlag.ACK);
    return;
  }
  c(TcpFlag.FIN | TcpFlag.ACK);
  s(TcpFlag.ACK);
  s(TcpFlag.FIN | TcpFlag.ACK);
  c(TcpFlag.ACK);
}

/** A UDP exchange: requests from the client, answered or not (syslog-like one-way traffic). */
function udpExchange(tl: Timeline, rng: Prng, e: Endpoints, startMs: number): void {
  const kind = rng.pick(['dns', 'ntp', 'syslog', 'bulk'] as const);
  const sport = kind === 'dns' ? 53 : kind === 'ntp' ? 123 : kind === 'syslog' ? 514 : rng.int(1024, 65000);
  const cport = kind === 'ntp' ? 123 : rng.int(32768, 60999);
  const answered = kind !== 'syslog';
  const n = rng.int(1, 10);
  let t = startMs;
  for (let i = 0; i < n; i++) {
    t += rng.int(1, 60) + rng.float();
    const q = { srcPort: cport, dstPort: sport, payload: rng.bytes(kind === 'bulk' ? rng.int(200, 1400) : rng.int(0, 120)) };
    tl.add(t, e.v6 ? ethernetIpv6Udp({ src: e.client, dst: e.server, ...q }) : ethernetIpv4Udp({ src: e.client, dst: e.server, ...q }));
    if (!answered) continue;
    t += rng.int(1, 20);
    const r = { srcPort: sport, dstPort: cport, payload: rng.bytes(rng.int(0, 1200)) };
    tl.add(t, e.v6 ? ethernetIpv6Udp({ src: e.server, dst: e.client, ...r }) : ethernetIpv4Udp({ src: e.server, dst: e.client, ...r }));
  }
}

/** ICMP echo requests with replies, or a lone error message (destination unreachable). */
function icmpExchange(tl: Timeline, rng: Prng, e: Endpoints, startMs: number): void {
  let t = startMs;
  if (rng.chance(0.25)) {
    // An error quoting (part of) an offending packet: type 3 code 3 / ICMPv6 type 1 code 4.
    const payload = rng.bytes(rng.int(28, 64));
    const f = e.v6
      ? ethernetIpv6Icmp({ src: e.server, dst: e.client, type: 1, code: 4, payload })
      : ethernetIpv4Icmp({ src: e.server, dst: e.client, type: 3, code: 3, payload });
    tl.add(t, f);
    return;
  }
  const id = rng.int(1, 65535);
  const n = rng.int(1, 6);
  const size = rng.pick([0, 56, 56, 100, 1000]);
  for (let seq = 1; seq <= n; seq++) {
    const rest = Buffer.alloc(4);
    rest.writeUInt16BE(id, 0);
    rest.writeUInt16BE(seq, 2);
    const payload = rng.bytes(size);
    t += rng.int(5, 200) + rng.float();
    tl.add(t, e.v6
      ? ethernetIpv6Icmp({ src: e.client, dst: e.server, type: 128, code: 0, rest, payload })
      : ethernetIpv4Icmp({ src: e.client, dst: e.server, type: 8, code: 0, rest, payload }));
    if (rng.chance(0.85)) {
      t += rng.int(1, 30);
      tl.add(t, e.v6
        ? ethernetIpv6Icmp({ src: e.server, dst: e.client, type: 129, code: 0, rest, payload })
        : ethernetIpv4Icmp({ src: e.server, dst: e.client, type: 0, code: 0, rest, payload }));
    }
  }
}

export interface TrafficOptions {
  readonly seed?: number;
  readonly tcp4?: number;
  readonly tcp6?: number;
  readonly udp4?: number;
  readonly udp6?: number;
  readonly icmp4?: number;
  readonly icmp6?: number;
  /** Conversations start within this window; keep it far below every meter's idle timeout. */
  readonly spreadMs?: number;
}

/** Builds the capture: an Ethernet pcap (microsecond timestamps), deterministic for a seed. */
export function buildTrafficPcap(o: TrafficOptions = {}): Buffer {
  const rng = new Prng(o.seed ?? 0x51ce);
  const tl = new Timeline();
  const spread = o.spreadMs ?? 4000;
  const ends = (v6: boolean): Endpoints =>
    v6 ? { v6, client: rng.pick(V6_CLIENTS), server: rng.pick(V6_SERVERS) } : { v6, client: rng.pick(V4_CLIENTS), server: rng.pick(V4_SERVERS) };
  const run = (n: number, v6: boolean, f: (tl: Timeline, rng: Prng, e: Endpoints, startMs: number) => void) => {
    for (let i = 0; i < n; i++) f(tl, rng, ends(v6), rng.int(0, spread));
  };
  run(o.tcp4 ?? 12, false, tcpConnection);
  run(o.tcp6 ?? 5, true, tcpConnection);
  run(o.udp4 ?? 10, false, udpExchange);
  run(o.udp6 ?? 4, true, udpExchange);
  run(o.icmp4 ?? 4, false, icmpExchange);
  run(o.icmp6 ?? 3, true, icmpExchange);
  return writePcap(tl.sorted());
}

// ---------------------------------------------------------------------------------------------
// The expected totals, computed from the capture bytes

/** One direction of a conversation, keyed as a flow meter keys it. */
export interface FlowTotals {
  readonly ipVersion: 4 | 6;
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  /** TCP/UDP ports; for ICMP 0 and type << 8 | code, as NetFlow v5 carries it. */
  readonly srcPort: number;
  readonly dstPort: number;
  packets: number;
  /** Sum of IP total lengths (IPv6: 40 + payload length): octetDeltaCount as RFC 7012 defines it. */
  octets: number;
  /**
   * Sum of frame lengths after the Ethernet header, Ethernet padding of short frames included.
   * softflowd 1.1.0 counts this (the pcap wire length minus the link header), not the IP length;
   * the two differ only for frames padded to the 60-byte Ethernet minimum.
   */
  linkOctets: number;
  tcpFlags: number;
  firstMs: number;
  lastMs: number;
}

export function flowKey(src: string, dst: string, protocol: number, srcPort: number, dstPort: number): string {
  return `${src}|${dst}|${protocol}|${srcPort}|${dstPort}`;
}

function v4Text(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** RFC 5952 text for the 16 bytes at `o`. */
export const v6Text = (b: Buffer, o: number): string => ipv6ToString(b, o);

/**
 * Per-direction flow totals of an Ethernet pcap (little-endian, microseconds) as written by
 * writePcap: IPv4 and IPv6 without extension headers or fragments, no VLAN tags. Anything else
 * throws, since this reader only has to understand captures this module builds.
 */
export function flowsFromPcap(pcap: Buffer): Map<string, FlowTotals> {
  if (pcap.readUInt32LE(0) !== 0xa1b2c3d4 || pcap.readUInt32LE(20) !== 1) throw new Error('expected a little-endian microsecond Ethernet pcap');
  const flows = new Map<string, FlowTotals>();
  for (let off = 24; off < pcap.length; ) {
    const tsMs = pcap.readUInt32LE(off) * 1000 + pcap.readUInt32LE(off + 4) / 1000;
    const caplen = pcap.readUInt32LE(off + 8);
    const linkOctets = pcap.readUInt32LE(off + 12) - 14;
    const frame = pcap.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    const etherType = frame.readUInt16BE(12);
    const ip = frame.subarray(14);
    let ipVersion: 4 | 6;
    let src: string;
    let dst: string;
    let protocol: number;
    let octets: number;
    let l4: Buffer;
    if (etherType === 0x0800) {
      ipVersion = 4;
      const hlen = (ip[0]! & 0x0f) * 4;
      octets = ip.readUInt16BE(2);
      protocol = ip[9]!;
      src = v4Text(ip, 12);
      dst = v4Text(ip, 16);
      l4 = ip.subarray(hlen, octets);
    } else if (etherType === 0x86dd) {
      ipVersion = 6;
      octets = 40 + ip.readUInt16BE(4);
      protocol = ip[6]!;
      src = v6Text(ip, 8);
      dst = v6Text(ip, 24);
      l4 = ip.subarray(40, octets);
    } else throw new Error(`unexpected EtherType 0x${etherType.toString(16)}`);
    let srcPort = 0;
    let dstPort = 0;
    let tcpFlags = 0;
    if (protocol === 6 || protocol === 17) {
      srcPort = l4.readUInt16BE(0);
      dstPort = l4.readUInt16BE(2);
      if (protocol === 6) tcpFlags = l4[13]!;
    } else if (protocol === 1 || protocol === 58) {
      dstPort = (l4[0]! << 8) | l4[1]!;
    } else throw new Error(`unexpected IP protocol ${protocol}`);
    const key = flowKey(src, dst, protocol, srcPort, dstPort);
    const f = flows.get(key);
    if (f === undefined) {
      flows.set(key, { ipVersion, src, dst, protocol, srcPort, dstPort, packets: 1, octets, linkOctets, tcpFlags, firstMs: tsMs, lastMs: tsMs });
    } else {
      f.packets++;
      f.octets += octets;
      f.linkOctets += linkOctets;
      f.tcpFlags |= tcpFlags;
      f.lastMs = tsMs;
    }
  }
  return flows;
}

export interface Totals {
  flows: number;
  packets: number;
  octets: number;
  linkOctets: number;
}

export function totals(flows: Iterable<FlowTotals>): Totals {
  const t: Totals = { flows: 0, packets: 0, octets: 0, linkOctets: 0 };
  for (const f of flows) {
    t.flows++;
    t.packets += f.packets;
    t.octets += f.octets;
    t.linkOctets += f.linkOctets;
  }
  return t;
}
