/**
 * How a flow becomes a data record: the template layouts the probe exports (IPFIX and NetFlow v9,
 * IPv4 and IPv6, with or without RFC 5103 reverse counters and application names) and one writer
 * that fills a record in place from a Flow.
 */
import type { EncTemplate } from '../wire/encode/ipfix.js';
import type { RecordWriter } from '../wire/encode/data-writer.js';
import { VARLEN } from '../wire/template.js';
import { REVERSE_PEN } from '../wire/ie/types.js';
import { ProbeIe, SLUICE_PEN } from '../wire/ie/sluice-elements.js';
import type { DirectionCounters, Flow } from './flow.js';

/** What a field holds; a number so the writer's switch stays a jump table. */
const F = {
  SRC: 1,
  DST: 2,
  PROTO: 3,
  SPORT: 4,
  DPORT: 5,
  ICMP: 6,
  INGRESS: 7,
  VLAN: 8,
  SMAC: 9,
  DMAC: 10,
  TOS: 11,
  MINTTL: 12,
  MAXTTL: 13,
  FLAGS: 14,
  OCTETS: 15,
  PACKETS: 16,
  START_MS: 17,
  END_MS: 18,
  START_UPTIME: 19,
  END_UPTIME: 20,
  END_REASON: 21,
  RTT: 22,
  RETRANS: 23,
  DNS: 24,
  HTTP: 25,
  SNI: 26,
  // Reverse direction (biflow).
  R_OCTETS: 40,
  R_PACKETS: 41,
  R_FLAGS: 42,
  R_START_MS: 43,
  R_END_MS: 44,
  R_MINTTL: 45,
  R_MAXTTL: 46,
  R_TOS: 47,
  R_RETRANS: 48,
} as const;

interface LayoutField {
  readonly id: number;
  readonly pen: number;
  readonly length: number;
  readonly kind: number;
}

export interface RecordLayout {
  readonly templateId: number;
  readonly ipVersion: 4 | 6;
  readonly fields: readonly LayoutField[];
  /** The template as the encoders take it. */
  readonly template: EncTemplate;
}

/** The write context: which flow, in which layout, against which uptime origin (v9). */
export interface FlowRecordInput {
  flow: Flow;
  layout: RecordLayout;
  /** v9: the exporter's boot time in ms since the epoch (FIRST/LAST_SWITCHED are relative to it). */
  bootMs: number;
}

const fld = (kind: number, id: number, length: number, pen = 0): LayoutField => ({ id, pen, length, kind });

function layout(templateId: number, ipVersion: 4 | 6, fields: LayoutField[]): RecordLayout {
  return { templateId, ipVersion, fields, template: { id: templateId, fields: fields.map((f) => (f.pen ? { id: f.id, pen: f.pen, length: f.length } : { id: f.id, length: f.length })) } };
}

export interface LayoutSet {
  readonly v4: RecordLayout;
  readonly v6: RecordLayout;
  /** IPFIX only: the same plus DNS / HTTP / TLS names, for flows that carry one. */
  readonly v4Names?: RecordLayout;
  readonly v6Names?: RecordLayout;
  readonly all: readonly RecordLayout[];
}

export const OPTIONS_TEMPLATE_ID = 260;

/** The data templates for an export version. Template ids 256–259; 260 is the options template. */
export function flowLayouts(version: 9 | 10, biflow: boolean): LayoutSet {
  const ipfix = version === 10;
  const build = (id: number, v: 4 | 6, names: boolean): RecordLayout => {
    const f: LayoutField[] = [
      fld(F.SRC, v === 4 ? 8 : 27, v === 4 ? 4 : 16),
      fld(F.DST, v === 4 ? 12 : 28, v === 4 ? 4 : 16),
      fld(F.PROTO, 4, 1),
      fld(F.SPORT, 7, 2),
      fld(F.DPORT, 11, 2),
      fld(F.ICMP, v === 4 ? 32 : 139, 2),
      fld(F.INGRESS, 10, 4),
      fld(F.VLAN, 58, 2),
      fld(F.SMAC, 56, 6),
      fld(F.DMAC, 80, 6),
      fld(F.TOS, 5, 1),
      fld(F.MINTTL, 52, 1),
      fld(F.MAXTTL, 53, 1),
      // RFC 3954 gives TCP_FLAGS one byte; IPFIX has room for all 12 bits (NS, CWR, ECE too).
      fld(F.FLAGS, 6, ipfix ? 2 : 1),
      fld(F.OCTETS, 1, 8),
      fld(F.PACKETS, 2, 8),
    ];
    if (ipfix) {
      f.push(fld(F.START_MS, 152, 8), fld(F.END_MS, 153, 8), fld(F.END_REASON, 136, 1));
      f.push(fld(F.RTT, ProbeIe.tcpHandshakeRttMicroseconds, 4, SLUICE_PEN), fld(F.RETRANS, ProbeIe.tcpRetransmissionCount, 8, SLUICE_PEN));
      if (biflow) {
        f.push(
          fld(F.R_OCTETS, 1, 8, REVERSE_PEN),
          fld(F.R_PACKETS, 2, 8, REVERSE_PEN),
          fld(F.R_FLAGS, 6, 2, REVERSE_PEN),
          fld(F.R_START_MS, 152, 8, REVERSE_PEN),
          fld(F.R_END_MS, 153, 8, REVERSE_PEN),
          fld(F.R_MINTTL, 52, 1, REVERSE_PEN),
          fld(F.R_MAXTTL, 53, 1, REVERSE_PEN),
          fld(F.R_TOS, 5, 1, REVERSE_PEN),
          fld(F.R_RETRANS, ProbeIe.reverseTcpRetransmissionCount, 8, SLUICE_PEN),
        );
      }
      if (names) f.push(fld(F.DNS, ProbeIe.dnsQueryName, VARLEN, SLUICE_PEN), fld(F.HTTP, 460, VARLEN), fld(F.SNI, ProbeIe.tlsServerName, VARLEN, SLUICE_PEN));
    } else {
      // v9 has FIRST/LAST_SWITCHED against the header's sysUpTime; flowEndReason and enterprise
      // elements have no v9 field type.
      f.push(fld(F.START_UPTIME, 22, 4), fld(F.END_UPTIME, 21, 4));
    }
    return layout(id, v, f);
  };
  const v4 = build(256, 4, false);
  const v6 = build(257, 6, false);
  if (!ipfix) return { v4, v6, all: [v4, v6] };
  const v4Names = build(258, 4, true);
  const v6Names = build(259, 6, true);
  return { v4, v6, v4Names, v6Names, all: [v4, v6, v4Names, v6Names] };
}

/** The layout a flow is exported with. */
export function layoutFor(set: LayoutSet, flow: Flow): RecordLayout {
  const named = flow.dnsName !== undefined || flow.httpHost !== undefined || flow.tlsSni !== undefined;
  if (flow.ipVersion === 4) return named && set.v4Names !== undefined ? set.v4Names : set.v4;
  return named && set.v6Names !== undefined ? set.v6Names : set.v6;
}

function u64(b: Buffer, o: number, v: number): void {
  // Counters stay below 2^53 (they are JS numbers), so two 32-bit halves are exact.
  const hi = Math.floor(v / 0x100000000);
  b.writeUInt32BE(hi >>> 0, o);
  b.writeUInt32BE((v - hi * 0x100000000) >>> 0, o + 4);
}

/** Writes a short string as a variable-length field (RFC 7011 7: one length byte below 255). */
function varString(b: Buffer, o: number, limit: number, s: string | undefined): number {
  const text = s ?? '';
  // Names are ASCII (the payload readers reject anything else) and at most 255 bytes.
  const n = text.length;
  const head = n < 255 ? 1 : 3;
  if (o + head + n > limit) return -1;
  if (n < 255) b[o] = n;
  else {
    b[o] = 255;
    b.writeUInt16BE(n, o + 1);
  }
  b.write(text, o + head, 'latin1');
  return o + head + n;
}

function ttlMin(d: DirectionCounters): number {
  return d.packets > 0 ? d.minTtl : 0;
}

/** Fills one record of `input.layout` for `input.flow`. */
export const writeFlowRecord: RecordWriter<FlowRecordInput> = (b, off, limit, input) => {
  const { flow, layout: lay, bootMs } = input;
  const fwd = flow.fwd;
  const rev = flow.rev;
  let o = off;
  for (const f of lay.fields) {
    if (f.length !== VARLEN && o + f.length > limit) return -1;
    switch (f.kind) {
      case F.SRC:
        flow.bytes.copy(b, o, flow.srcAddrOffset, flow.srcAddrOffset + f.length);
        break;
      case F.DST:
        flow.bytes.copy(b, o, flow.dstAddrOffset, flow.dstAddrOffset + f.length);
        break;
      case F.PROTO:
        b[o] = flow.protocol;
        break;
      case F.SPORT:
        b.writeUInt16BE(flow.srcPort, o);
        break;
      case F.DPORT:
        b.writeUInt16BE(flow.dstPort, o);
        break;
      case F.ICMP:
        b.writeUInt16BE(flow.icmpTypeCode, o);
        break;
      case F.INGRESS:
        b.writeUInt32BE(flow.ingressInterface >>> 0, o);
        break;
      case F.VLAN:
        b.writeUInt16BE(flow.vlanId, o);
        break;
      case F.SMAC:
      case F.DMAC: {
        const m = flow.macOffset;
        if (m >= 0) flow.bytes.copy(b, o, f.kind === F.SMAC ? m : m + 6, f.kind === F.SMAC ? m + 6 : m + 12);
        else b.fill(0, o, o + 6);
        break;
      }
      case F.TOS:
        b[o] = fwd.tos;
        break;
      case F.MINTTL:
        b[o] = ttlMin(fwd);
        break;
      case F.MAXTTL:
        b[o] = fwd.maxTtl;
        break;
      case F.FLAGS:
        if (f.length === 1) b[o] = fwd.tcpFlags & 0xff;
        else b.writeUInt16BE(fwd.tcpFlags & 0x0fff, o);
        break;
      case F.OCTETS:
        u64(b, o, fwd.octets);
        break;
      case F.PACKETS:
        u64(b, o, fwd.packets);
        break;
      case F.START_MS:
        u64(b, o, Math.floor(fwd.firstMs));
        break;
      case F.END_MS:
        u64(b, o, Math.floor(fwd.lastMs));
        break;
      case F.START_UPTIME:
        b.writeUInt32BE((Math.floor(fwd.firstMs) - bootMs) >>> 0, o);
        break;
      case F.END_UPTIME:
        b.writeUInt32BE((Math.floor(fwd.lastMs) - bootMs) >>> 0, o);
        break;
      case F.END_REASON:
        b[o] = flow.endReason;
        break;
      case F.RTT:
        // 0 = not measured (no complete handshake seen); a measured 0 µs is reported as 1.
        b.writeUInt32BE(flow.rttUs < 0 ? 0 : Math.min(0xffffffff, Math.max(1, flow.rttUs)), o);
        break;
      case F.RETRANS:
        u64(b, o, fwd.retransmissions);
        break;
      case F.R_OCTETS:
        u64(b, o, rev.octets);
        break;
      case F.R_PACKETS:
        u64(b, o, rev.packets);
        break;
      case F.R_FLAGS:
        b.writeUInt16BE(rev.tcpFlags & 0x0fff, o);
        break;
      case F.R_START_MS:
        u64(b, o, rev.packets > 0 ? Math.floor(rev.firstMs) : 0);
        break;
      case F.R_END_MS:
        u64(b, o, rev.packets > 0 ? Math.floor(rev.lastMs) : 0);
        break;
      case F.R_MINTTL:
        b[o] = ttlMin(rev);
        break;
      case F.R_MAXTTL:
        b[o] = rev.maxTtl;
        break;
      case F.R_TOS:
        b[o] = rev.tos;
        break;
      case F.R_RETRANS:
        u64(b, o, rev.retransmissions);
        break;
      case F.DNS:
      case F.HTTP:
      case F.SNI: {
        const end = varString(b, o, limit, f.kind === F.DNS ? flow.dnsName : f.kind === F.HTTP ? flow.httpHost : flow.tlsSni);
        if (end < 0) return -1;
        o = end;
        continue;
      }
      default:
        throw new Error(`unknown field kind ${f.kind}`); // a layout bug, caught by the tests
    }
    o += f.length;
  }
  return o;
};
