/**
 * The telegraf sFlow test cases (test/fixtures/sflow, from github.com/influxdata/telegraf), compared
 * field by field: every field of every expected line is mapped onto what sluice decoded, and a field
 * without a mapping fails the test, so nothing is skipped silently. Where telegraf and sluice differ
 * on purpose, the difference is listed in DIVERGENCES with the reason, and the test checks sluice's value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Harness, type JsonRecord } from './helpers/harness.js';
import type { FlowBatch } from '../src/wire/batch.js';

const DIR = new URL('./fixtures/sflow/', import.meta.url);

/** One line of InfluxDB line protocol: measurement, tags, fields. */
interface Line {
  readonly measurement: string;
  readonly tags: Record<string, string>;
  readonly fields: Record<string, string | number>;
}

/** Parses `measurement,tag=v field=1u,f="a b",g=2 timestamp` (quoted strings may hold spaces and commas). */
function parseLine(text: string): Line {
  let i = 0;
  const until = (stops: string): string => {
    let s = '';
    while (i < text.length && !stops.includes(text[i]!)) {
      if (text[i] === '\\') i++;
      s += text[i++];
    }
    return s;
  };
  const measurement = until(', ');
  const tags: Record<string, string> = {};
  while (text[i] === ',') {
    i++;
    const k = until('=');
    i++;
    tags[k] = until(', ');
  }
  i++; // space
  const fields: Record<string, string | number> = {};
  for (;;) {
    const k = until('=');
    i++;
    if (text[i] === '"') {
      i++;
      let s = '';
      while (text[i] !== '"') {
        if (text[i] === '\\') i++;
        s += text[i++];
      }
      i++;
      fields[k] = s;
    } else {
      const raw = until(', ');
      fields[k] = raw.endsWith('u') || raw.endsWith('i') ? Number(raw.slice(0, -1)) : raw === 'true' || raw === 'false' ? raw : Number(raw);
    }
    if (text[i] !== ',') break;
    i++;
  }
  return { measurement, tags, fields };
}

type Getter = (r: JsonRecord, b: FlowBatch) => unknown;
const f = (key: string): Getter => (r) => r[key];

const FLAGS_TEXT = (v: unknown): unknown => {
  // telegraf prints the first IPv4 flag it finds (evil bit, DF, MF) into "........".
  if (typeof v !== 'number') return v;
  const s = [...'........'];
  if (v & 0x80) s[7] = 'E';
  else if (v & 0x40) s[6] = 'D';
  else if (v & 0x20) s[5] = 'M';
  return s.join('');
};

/** telegraf field -> the sluice value it corresponds to. */
const MAP: Record<string, Getter> = {
  // datagram header: the message context
  agent_ip: (r) => r['iana:exporterIPv4Address'] ?? r['iana:exporterIPv6Address'],
  agent_subid: (_r, b) => b.ctx.domainId,
  sys_uptime: (_r, b) => b.ctx.sysUpTimeMs,
  // telegraf's ip_version is the agent address version, replaced by the sampled packet's when it has one.
  ip_version: (r) =>
    r['iana:sourceIPv6Address'] !== undefined
      ? 'IPv6'
      : r['iana:sourceIPv4Address'] !== undefined
        ? 'IPv4'
        : r['iana:exporterIPv4Address'] !== undefined
          ? 'IPv4'
          : r['iana:exporterIPv6Address'] !== undefined
            ? 'IPv6'
            : undefined,
  // sample header
  seq_number: f('sluice:sflowSampleSequenceNumber'),
  // telegraf overwrites in_snmp (the input ifIndex) with the data source index; sluice keeps both.
  in_snmp: f('sluice:sflowDataSourceIndex'),
  out_snmp: f('iana:egressInterface'),
  direction: (r) => (r['iana:flowDirection'] === 0 ? 'ingress' : r['iana:flowDirection'] === 1 ? 'egress' : undefined),
  sampling_interval: f('iana:samplingInterval'),
  in_total_packets: f('iana:selectorIdTotalPktsObserved'),
  sampling_drops: f('iana:ignoredPacketTotalCount'),
  reason: f('sluice:sflowDropReason'),
  out_queue: f('sluice:egressQueue'),
  // sampled header
  l2_protocol: (r) => (r['sluice:sflowHeaderProtocol'] === 1 ? 'ETHERNET-ISO8023' : r['sluice:sflowHeaderProtocol']),
  l2_bytes: f('iana:layer2OctetDeltaCount'),
  datalink_frame_type: (r) => ({ 2048: 'IPv4', 34525: 'IPv6' })[r['iana:ethernetType'] as number] ?? r['iana:ethernetType'],
  // IPFIXcol2 (libfds fds_mac2str) prints MAC addresses in uppercase, telegraf in lowercase
  in_src_mac: (r) => String(r['iana:sourceMacAddress']).toLowerCase(),
  out_dst_mac: (r) => String(r['iana:destinationMacAddress']).toLowerCase(),
  src: (r) => r['iana:sourceIPv4Address'] ?? r['iana:sourceIPv6Address'],
  dst: (r) => r['iana:destinationIPv4Address'] ?? r['iana:destinationIPv6Address'],
  src_port: f('iana:sourceTransportPort'),
  dst_port: f('iana:destinationTransportPort'),
  protocol: (r) => String(r['iana:protocolIdentifier']).toLowerCase(),
  src_tos: f('iana:ipClassOfService'),
  ttl: f('iana:ipTTL'),
  fragment_flags: (r) => FLAGS_TEXT(r['iana:fragmentFlags']),
  fragment_offset: f('iana:fragmentOffset'),
  ipv4_id: f('iana:fragmentIdentification'),
  ipv4_inet_header_len: (r) => (r['iana:ipHeaderLength'] as number) / 4, // IHL in 32-bit words; IANA counts octets
  ipv4_total_len: f('iana:totalLengthIPv4'),
  ipv6_total_len: f('iana:payloadLengthIPv6'), // gopacket's IPv6 Length is the payload length
  // telegraf's ip_total_len is the IP length, overwritten by the UDP length when there is a UDP header.
  ip_total_len: (r) => r['iana:udpMessageLength'] ?? r['iana:totalLengthIPv4'] ?? r['iana:payloadLengthIPv6'],
  // extended switch
  vlan_src: f('iana:vlanId'),
  vlan_dst: f('iana:postVlanId'),
  vlan_src_priority: f('iana:dot1qPriority'),
  vlan_dst_priority: f('sluice:postDot1qPriority'),
  // counters
  interface: f('sluice:ifIndex'),
  interface_type: f('sluice:ifType'),
  speed: f('sluice:ifSpeed'),
  status: (r) => (r['sluice:ifStatus'] === undefined ? undefined : r['sluice:ifStatus'] === 0 ? 'down' : 'up'),
  promiscuous: f('sluice:ifPromiscuousMode'),
  in_bytes: f('sluice:ifInOctets'),
  in_unicast_packets_total: f('sluice:ifInUcastPkts'),
  in_mcast_packets_total: f('sluice:ifInMulticastPkts'),
  in_broadcast_packets_total: f('sluice:ifInBroadcastPkts'),
  in_dropped_packets: f('sluice:ifInDiscards'),
  in_errors: f('sluice:ifInErrors'),
  in_unknown_protocol: f('sluice:ifInUnknownProtos'),
  out_bytes: f('sluice:ifOutOctets'),
  out_unicast_packets_total: f('sluice:ifOutUcastPkts'),
  out_mcast_packets_total: f('sluice:ifOutMulticastPkts'),
  out_broadcast_packets_total: f('sluice:ifOutBroadcastPkts'),
  out_dropped_packets: f('sluice:ifOutDiscards'),
  out_errors: f('sluice:ifOutErrors'),
  type: (r) => (r['sluice:dot3StatsFCSErrors'] !== undefined ? 'IEEE 802.3' : undefined),
  errors_alignment: f('sluice:dot3StatsAlignmentErrors'),
  errors_fcs: f('sluice:dot3StatsFCSErrors'),
  collision_frames_single: f('sluice:dot3StatsSingleCollisionFrames'),
  collision_frames_multi: f('sluice:dot3StatsMultipleCollisionFrames'),
  errors_sqetest: f('sluice:dot3StatsSQETestErrors'),
  deferred: f('sluice:dot3StatsDeferredTransmissions'),
  collisions_late: f('sluice:dot3StatsLateCollisions'),
  collisions_excessive: f('sluice:dot3StatsExcessiveCollisions'),
  errors_internal_mac_tx: f('sluice:dot3StatsInternalMacTransmitErrors'),
  errors_carrier_sense: f('sluice:dot3StatsCarrierSenseErrors'),
  errors_frame_too_long: f('sluice:dot3StatsFrameTooLongs'),
  errors_internal_mac_rx: f('sluice:dot3StatsInternalMacReceiveErrors'),
  errors_symbols: f('sluice:dot3StatsSymbolErrors'),
  port_name: f('iana:interfaceName'),
};

/**
 * Documented differences: [case, sample sequence number, telegraf field, sluice's value, why].
 * The test checks that sluice gives the value listed here instead of telegraf's.
 */
const DIVERGENCES: ReadonlyArray<readonly [string, number, string, unknown, string]> = [
  [
    'sflow_issue_15918',
    899357,
    'protocol',
    'ipv6-icmp',
    'telegraf reports the first IPv6 next header (0, hop-by-hop options, "hopopt"); sluice walks the extension ' +
      'headers to the upper-layer protocol, ICMPv6 (58), as protocolIdentifier means for flow keys. tshark agrees: ' +
      'ipv6.nxt 0, then icmpv6.type 143 (MLDv2 report).',
  ],
  ...[899357, 20451226, 20640786, 704213].map(
    (seq) =>
      [
        'sflow_issue_15918',
        seq,
        'vlan_src_priority',
        undefined,
        'the agent sent src_priority 0xffffffff, its "unknown"; an 802.1p priority has 3 bits, so sluice leaves dot1qPriority out instead of printing 4294967295',
      ] as const,
  ),
];

const cases = readdirSync(DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

const summary: string[] = [];

for (const name of cases) {
  test(`telegraf ${name}: every sample, every field`, () => {
    const dir = new URL(`${name}/`, DIR);
    const files = readdirSync(dir).filter((n) => n.endsWith('.bin')).sort();
    const expected = readFileSync(new URL('expected.out', dir), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(parseLine);
    const h = new Harness({ timestamp: 'unix', protocol: 'formatted' });
    for (const file of files) h.feed(readFileSync(new URL(file, dir)), 1_700_000_000_000, h.session);
    assert.deepEqual(h.drops.map((d) => `${d.reason}: ${d.detail}`), [], 'the agents sent nothing malformed');
    assert.equal(h.records.length, expected.length, 'one record per sample');

    // Records carry their batch; pair each with the expected line of the same kind and sample sequence.
    const decoded: { r: JsonRecord; b: FlowBatch }[] = [];
    let k = 0;
    for (const b of h.batches) for (let i = 0; i < b.count; i++) decoded.push({ r: h.records[k++]!, b });
    let compared = 0;
    let diverged = 0;
    for (const line of expected) {
      assert.equal(line.measurement, 'netflow');
      assert.equal(line.tags['version'], 'sFlowV5');
      const seq = line.fields['seq_number'];
      const counters = 'interface' in line.fields || 'port_name' in line.fields;
      const match = decoded.filter(({ r }) => r['sluice:sflowSampleSequenceNumber'] === seq && (r['@type'] === 'sflow.counters') === counters);
      assert.equal(match.length, 1, `one ${counters ? 'counter' : 'flow'} record with sequence ${seq}`);
      const { r, b } = match[0]!;
      for (const [field, want] of Object.entries(line.fields)) {
        const get = MAP[field];
        assert.ok(get !== undefined, `${name}: telegraf field ${field} has no sluice mapping`);
        const got = get(r, b);
        const d = DIVERGENCES.find(([c, s, fl]) => c === name && s === seq && fl === field);
        if (d !== undefined) {
          assert.deepEqual(got, d[3], `${name} seq ${seq} ${field}: documented sluice value (${d[4]})`);
          diverged++;
          continue;
        }
        assert.deepEqual(got, want, `${name} seq ${seq} ${field}`);
        compared++;
      }
    }
    summary.push(`${name}: ${expected.length} samples, ${compared} fields equal, ${diverged} documented differences`);
  });
}

test('sFlow corpus summary', () => {
  assert.equal(summary.length, cases.length);
  for (const s of summary) console.log(`  ${s}`);
});
