/**
 * telegraf goldens (testcases/<case>/expected.out): InfluxDB line protocol, one line per record, compared
 * ignoring order (as upstream's test does), so lines are matched to the sluice record that agrees best.
 *
 * telegraf's field names (plugins/inputs/netflow/netflow_decoder.go, v5 in netflow_v5.go) are mapped back to
 * IPFIX element numbers below; values telegraf renders as text (protocol names, "...AP..." flags, "ingress")
 * are compared by rendering sluice's number the same way. Enterprise and unknown elements appear as
 * `type_<PEN>_<id>` (`rev_` for RFC 5103 / CERT reverse); a case whose telegraf.conf loads a PEN mapping file
 * shows those under the file's names instead.
 */
import { protocolKeyword } from '../../src/wire/ie/registry.js';
import { readCorpusFile, type Sequence } from './corpus.js';
import type { Expectation, ExpectedField, ExpectedRecord, Target } from './model.js';
import type { GoldenDialect, ValueKind } from './values.js';

export const TELEGRAF_DIALECT: GoldenDialect = { bytes: 'hex', timeNumbers: 'element' };

// ---------------------------------------------------------------------------------------------------------------
// Line protocol.

export interface Metric {
  readonly measurement: string;
  readonly tags: ReadonlyMap<string, string>;
  /** Field values: strings, numbers, bigint for integers beyond 2^53, booleans. */
  readonly fields: ReadonlyMap<string, string | number | bigint | boolean>;
  readonly line: number;
}

/** Splits at `sep` outside double quotes, honouring backslash escapes. */
function splitUnquoted(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const unescape = (s: string) => s.replace(/\\(.)/g, '$1');

function fieldValue(raw: string): string | number | bigint | boolean {
  if (raw.startsWith('"')) return unescape(raw.slice(1, -1));
  if (/^-?\d+[ui]$/.test(raw)) {
    const b = BigInt(raw.slice(0, -1));
    return b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }
  if (/^(t|true|T|TRUE)$/.test(raw)) return true;
  if (/^(f|false|F|FALSE)$/.test(raw)) return false;
  return Number(raw);
}

/** Parses line protocol: `measurement[,tag=v...] field=v[,field=v...] [timestamp]`. */
export function parseLineProtocol(text: string): Metric[] {
  const out: Metric[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const parts = splitUnquoted(line, ' ').filter((p) => p !== '');
    const [head, fieldText] = parts;
    if (head === undefined || fieldText === undefined) throw new Error(`expected.out line ${i + 1}: not line protocol`);
    const [measurement, ...tagParts] = splitUnquoted(head, ',');
    const tags = new Map<string, string>();
    for (const t of tagParts) {
      const eq = t.indexOf('=');
      tags.set(unescape(t.slice(0, eq)), unescape(t.slice(eq + 1)));
    }
    const fields = new Map<string, string | number | bigint | boolean>();
    for (const f of splitUnquoted(fieldText, ',')) {
      const eq = f.indexOf('=');
      fields.set(unescape(f.slice(0, eq)), fieldValue(f.slice(eq + 1)));
    }
    out.push({ measurement: unescape(measurement!), tags, fields, line: i + 1 });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Names.

type Render = (v: unknown, key: string) => string | undefined;

interface Mapping {
  readonly targets: readonly Target[];
  readonly kind?: ValueKind;
  readonly render?: Render;
}

const ie = (...ids: number[]): Target[] => ids.map((id) => ({ ie: id }));
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);

/** telegraf decodeTCPFlags: eight characters CEUAPRSF, '.' for a clear bit. */
const tcpFlags: Render = (v) => {
  const n = num(v);
  if (n === undefined) return undefined;
  return [...'CEUAPRSF'].map((c, i) => (n & (0x80 >> i) ? c : '.')).join('');
};
const protocolName: Render = (v) => {
  const n = num(v);
  return n === undefined ? undefined : (protocolKeyword(n)?.toLowerCase() ?? String(n));
};
const table =
  (names: readonly string[]): Render =>
  (v) => {
    const n = num(v);
    return n === undefined ? undefined : (names[n] ?? String(n));
  };
/** telegraf decodeEngineType: the names of RFC 3954's engine types, otherwise the number. */
const engineType = table(['RP', 'VIP/linecard', 'PFC/DFC']);
const FWD_STATUS = ['unknown', 'forwarded', 'dropped', 'consumed'];

const NAMES: Readonly<Record<string, Mapping>> = {
  in_bytes: { targets: ie(1) },
  in_packets: { targets: ie(2) },
  flows: { targets: ie(3) },
  protocol: { targets: ie(4), render: protocolName },
  src_tos: { targets: ie(5), kind: 'uint' },
  tcp_flags: { targets: ie(6), render: tcpFlags },
  src_port: { targets: ie(7) },
  src: { targets: ie(8, 27) },
  src_mask: { targets: ie(9, 29) },
  in_snmp: { targets: ie(10) },
  dst_port: { targets: ie(11) },
  dst: { targets: ie(12, 28) },
  dst_mask: { targets: ie(13, 30) },
  out_snmp: { targets: ie(14) },
  next_hop: { targets: ie(15, 62) },
  bgp_src_as: { targets: ie(16) },
  bgp_dst_as: { targets: ie(17) },
  last_switched: { targets: ie(21) },
  first_switched: { targets: ie(22) },
  // ICMP_TYPE (32) carries type and code in one 16-bit value; telegraf splits it.
  icmp_type: { targets: ie(32, 176), render: (v, key) => (key.endsWith('icmpTypeCodeIPv4') ? String((num(v) ?? NaN) >> 8) : String(v)) },
  icmp_code: { targets: ie(32, 177), render: (v, key) => (key.endsWith('icmpTypeCodeIPv4') ? String((num(v) ?? NaN) & 255) : String(v)) },
  sampling_interval: { targets: ie(34) },
  engine_type: { targets: ie(38), render: engineType },
  engine_id: { targets: ie(39), kind: 'uint' },
  total_flows_exported: { targets: ie(42) },
  dst_tos: { targets: ie(55), kind: 'uint' },
  in_src_mac: { targets: ie(56) },
  out_dst_mac: { targets: ie(57) },
  vlan_src: { targets: ie(58) },
  ip_version: { targets: ie(60), render: (v) => (num(v) === 4 ? 'IPv4' : num(v) === 6 ? 'IPv6' : String(v)) },
  direction: { targets: ie(61), render: table(['ingress', 'egress']) },
  interface: { targets: ie(82) },
  interface_desc: { targets: ie(83) },
  in_total_bytes: { targets: ie(85) },
  in_total_packets: { targets: ie(86) },
  fwd_status: { targets: ie(89), render: (v) => FWD_STATUS[(num(v) ?? 0) >> 6] },
  // Reason names depend on the status; only the "unknown" reason (code 0 of its status) is mapped.
  fwd_reason: { targets: ie(89), render: (v) => ((num(v) ?? 1) & 63) === 0 ? 'unknown' : `reason ${(num(v) ?? 0) & 63}` },
  app_desc: { targets: ie(94) },
  app_id: { targets: ie(95) },
  app_name: { targets: ie(96) },
  exporter: { targets: ie(130, 131) },
  dropped_packets_total: { targets: ie(135) },
  flow_end_reason: { targets: ie(136), render: table(['', 'idle timeout', 'active timeout', 'end of flow', 'forced end', 'lack of resources']) },
  exporting_pid: { targets: ie(144) },
  observation_domain_id: { targets: ie(149) },
  flow_start: { targets: ie(150) },
  flow_end: { targets: ie(151) },
  flow_start_ms: { targets: ie(152) },
  flow_end_ms: { targets: ie(153) },
  system_init_ms: { targets: ie(160) },
  ignored_packet_total: { targets: ie(164) },
  notsent_packet_total: { targets: ie(167) },
  event_time: { targets: ie(322) },
  seq_number: { targets: [{ key: 'ipfix:seqNumber', kind: 'uint' }] },
};

/**
 * telegraf's sFlow names (sflow_v5.go) where they differ from its NetFlow ones. sluice maps sFlow onto IANA
 * elements where one exists and onto its own "sluice" scope otherwise (src/wire/sflow/elements.ts); those are
 * found by JSON key.
 */
const sk = (name: string, kind: ValueKind = 'uint'): Target => ({ key: `sluice:${name}`, kind });
const SFLOW_NAMES: Readonly<Record<string, Mapping>> = {
  agent_ip: { targets: ie(130, 131) },
  agent_subid: { targets: [{ key: 'ipfix:odid', kind: 'uint' }] },
  seq_number: { targets: [sk('sflowSampleSequenceNumber')] },
  // Counter samples.
  interface: { targets: [sk('ifIndex')] },
  in_snmp: { targets: [...ie(10), sk('ifIndex')] },
  interface_type: { targets: [sk('ifType')] },
  speed: { targets: [sk('ifSpeed')] },
  status: { targets: [sk('ifStatus')], render: (v) => ((num(v) ?? 0) & 2 ? 'up' : 'down') }, // ifOperStatus bit
  promiscuous: { targets: [sk('ifPromiscuousMode')] },
  port_name: { targets: ie(82) },
  in_bytes: { targets: [sk('ifInOctets')] },
  in_unicast_packets_total: { targets: [sk('ifInUcastPkts')] },
  in_mcast_packets_total: { targets: [sk('ifInMulticastPkts')] },
  in_broadcast_packets_total: { targets: [sk('ifInBroadcastPkts')] },
  in_dropped_packets: { targets: [sk('ifInDiscards')] },
  in_errors: { targets: [sk('ifInErrors')] },
  in_unknown_protocol: { targets: [sk('ifInUnknownProtos')] },
  out_bytes: { targets: [sk('ifOutOctets')] },
  out_unicast_packets_total: { targets: [sk('ifOutUcastPkts')] },
  out_mcast_packets_total: { targets: [sk('ifOutMulticastPkts')] },
  out_broadcast_packets_total: { targets: [sk('ifOutBroadcastPkts')] },
  out_dropped_packets: { targets: [sk('ifOutDiscards')] },
  out_errors: { targets: [sk('ifOutErrors')] },
  errors_alignment: { targets: [sk('dot3StatsAlignmentErrors')] },
  errors_fcs: { targets: [sk('dot3StatsFCSErrors')] },
  collision_frames_single: { targets: [sk('dot3StatsSingleCollisionFrames')] },
  collision_frames_multi: { targets: [sk('dot3StatsMultipleCollisionFrames')] },
  errors_sqetest: { targets: [sk('dot3StatsSQETestErrors')] },
  deferred: { targets: [sk('dot3StatsDeferredTransmissions')] },
  collisions_late: { targets: [sk('dot3StatsLateCollisions')] },
  collisions_excessive: { targets: [sk('dot3StatsExcessiveCollisions')] },
  errors_internal_mac_tx: { targets: [sk('dot3StatsInternalMacTransmitErrors')] },
  errors_carrier_sense: { targets: [sk('dot3StatsCarrierSenseErrors')] },
  errors_frame_too_long: { targets: [sk('dot3StatsFrameTooLongs')] },
  errors_internal_mac_rx: { targets: [sk('dot3StatsInternalMacReceiveErrors')] },
  errors_symbols: { targets: [sk('dot3StatsSymbolErrors')] },
  // Flow and drop samples.
  in_total_packets: { targets: ie(318) }, // the sample pool: packets the sampler saw
  sampling_drops: { targets: ie(164) },
  out_queue: { targets: [sk('egressQueue')] },
  reason: { targets: [sk('sflowDropReason')] },
  l2_protocol: { targets: [sk('sflowHeaderProtocol')], render: table(['', 'ETHERNET-ISO8023']) },
  l2_bytes: { targets: ie(352) },
  datalink_frame_type: { targets: ie(256), render: (v) => (num(v) === 0x0800 ? 'IPv4' : num(v) === 0x86dd ? 'IPv6' : String(v)) },
  out_dst_mac: { targets: ie(80) }, // the sampled frame's destination MAC
  src_tos: { targets: ie(5) },
  ttl: { targets: ie(192) },
  ipv4_id: { targets: ie(54) },
  ipv4_total_len: { targets: ie(190) },
  // IP payload length: IPv4 total length minus header; for UDP also the UDP length.
  ip_total_len: { targets: ie(204, 191, 205) },
  ipv6_total_len: { targets: ie(191) },
  ipv4_inet_header_len: { targets: ie(207, 189), render: (v, key) => String(key.endsWith('ipHeaderLength') ? (num(v) ?? NaN) / 4 : v) },
  // telegraf marks only the first of the IPv4 flags it finds: reserved ("evil") bit, DF, MF, in "........".
  fragment_flags: {
    targets: ie(197),
    render: (v) => {
      const n = num(v) ?? 0;
      const s = [...'........'];
      if (n & 0x80) s[7] = 'E';
      else if (n & 0x40) s[6] = 'D';
      else if (n & 0x20) s[5] = 'M';
      return s.join('');
    },
  },
  fragment_offset: { targets: ie(88) },
  vlan_src: { targets: ie(58) },
  vlan_dst: { targets: ie(59) },
  vlan_src_priority: { targets: ie(244) },
  vlan_dst_priority: { targets: [sk('postDot1qPriority')] },
};

const NOT_COMPARED: Readonly<Record<string, string>> = {
  sys_uptime: 'message header uptime (NetFlow v5, sFlow): sluice keeps it in the message context, not in records; v5 times are derived from it',
  padding: "paddingOctets: sluice's JSON formatter leaves padding out by design",
};

const SFLOW_NOT_COMPARED: Readonly<Record<string, string>> = {
  ip_version: "telegraf's address family of the agent, replaced by the sampled packet's when there is one: no single field (sluice reports the addresses themselves)",
  type: "telegraf's name of the counter record format",
};

const VERSIONS: Readonly<Record<string, number>> = { NetFlowV5: 5, NetFlowV9: 9, IPFIX: 10, sFlowV5: 5 };

/** Text of an octet array sluice printed as "0x..." (an element sluice has no type for), as telegraf's decodeString does. */
const hexText: Render = (v) => {
  if (v === null) return '';
  if (typeof v !== 'string') return undefined;
  if (!v.startsWith('0x')) return v;
  return Buffer.from(v.slice(2), 'hex').toString('utf8').replace(/\0+$/, '');
};

/** A PEN mapping file (telegraf.conf private_enterprise_number_files): "PEN.ID,name,type" lines. */
function penMapping(file: string): Map<string, Mapping> {
  const out = new Map<string, Mapping>();
  for (const line of readCorpusFile(file).toString('utf8').split('\n')) {
    const m = /^(\d+)\.(\d+),([^,]+),(\w+)/.exec(line.trim());
    if (m === null) continue;
    const target: Target = { ie: Number(m[2]), pen: Number(m[1]) };
    const type = m[4]!;
    out.set(m[3]!, type === 'string' ? { targets: [target], render: hexText } : type === 'ip' ? { targets: [target], kind: 'ip' } : { targets: [target] });
  }
  return out;
}

function mappingFiles(seq: Sequence): string[] {
  if (seq.golden === null) return [];
  const dir = seq.golden.replace(/expected\.out$/, '');
  const conf = readCorpusFile(dir + 'telegraf.conf').toString('utf8');
  const m = /private_enterprise_number_files\s*=\s*\[([^\]]*)\]/.exec(conf);
  if (m === null) return [];
  // Paths in telegraf.conf are relative to the plugin directory.
  const pluginDir = dir.replace(/testcases\/[^/]+\/$/, '');
  return [...m[1]!.matchAll(/"([^"]+)"/g)].map((x) => pluginDir + x[1]);
}

function recordFor(metric: Metric, pens: Map<string, Mapping>, skipped: Map<string, string>, defects: Map<string, string>): ExpectedRecord {
  const fields: ExpectedField[] = [];
  const version = metric.tags.get('version');
  fields.push({ name: 'measurement', targets: [{ meta: 'options' }], value: metric.measurement === 'netflow_options', kind: 'bool' });
  if (version !== undefined) fields.push({ name: 'version', targets: [{ meta: 'version' }], value: VERSIONS[version] ?? version });
  const sflow = version === 'sFlowV5';
  for (const [name, value] of metric.fields) {
    const why =
      (sflow ? SFLOW_NOT_COMPARED[name] : undefined) ??
      NOT_COMPARED[name] ??
      (name === 'flows' && version === 'NetFlowV5' ? 'v5 header record count (no per-record field in sluice)' : undefined);
    if (why !== undefined) {
      skipped.set(name, why);
      continue;
    }
    const typed = /^type_(\d+)_(rev_)?(\d+)$/.exec(name);
    if (typed !== null) {
      const pen = Number(typed[1]);
      let id = Number(typed[3]);
      // goflow2 leaves the enterprise bit in the ids of options templates' fields (0x8064 for CERT 100).
      if (id >= 0x8000) {
        defects.set(name, `${name} = ${pen}/${id - 0x8000}`);
        id -= 0x8000;
      }
      // Reverse: PEN 29305 for IANA elements (RFC 5103); CERT marks them with bit 0x4000 of the id.
      const target: Target = typed[2] === undefined ? { ie: id, pen } : pen === 6871 ? { ie: id | 0x4000, pen } : { ie: id, pen: 29305 };
      fields.push({ name, targets: [target], value, render: typeof value === 'string' && !value.startsWith('0x') ? hexText : undefined });
      continue;
    }
    const m = (sflow ? SFLOW_NAMES[name] : undefined) ?? NAMES[name] ?? pens.get(name);
    if (m === undefined) {
      skipped.set(name, 'telegraf name without a mapping here');
      continue;
    }
    fields.push({ name, targets: m.targets, value: typeof value === 'bigint' ? value.toString() : value, kind: m.kind, render: m.render });
  }
  return { label: `line ${metric.line}`, fields };
}

export function loadTelegraf(seq: Sequence): Expectation {
  if (seq.golden === null) throw new Error(`${seq.id}: telegraf case without expected.out`);
  const metrics = parseLineProtocol(readCorpusFile(seq.golden).toString('utf8'));
  const pens = new Map<string, Mapping>();
  for (const f of mappingFiles(seq)) for (const [k, v] of penMapping(f)) pens.set(k, v);
  const skipped = new Map<string, string>();
  const defects = new Map<string, string>();
  const records = metrics.map((m) => recordFor(m, pens, skipped, defects));
  return {
    ref: 'telegraf',
    file: seq.golden,
    records,
    matching: 'best',
    select: 'all',
    // telegraf's test sends each .bin file as one datagram.
    datagrams: 'first',
    expectedCount: metrics.length,
    skipped,
    goldenDefects:
      defects.size === 0
        ? []
        : [{ field: '(type_<PEN>_<id> names)', detail: `${defects.size} ids keep the IPFIX enterprise bit 0x8000, compared as: ${[...defects.values()].join(', ')}` }],
  };
}
