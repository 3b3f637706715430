/**
 * Output formats over hand-made results: human units, the table layout with percentages and the
 * summary, CSV (header, raw numbers, quoting), JSON (arrays, exact 64-bit numbers) and raw flows
 * as IPFIXcol2 JSON lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignColumns, flagsText, human, intervalText, percent } from '../../src/query/format-units.js';
import { formatAggregate, formatSeries, formatSql, formatTotals, flowsText } from '../../src/query/format.js';
import { ipfixEntry, jsonText } from '../../src/query/format-json.js';
import type { AggregateResult, SeriesResult, SqlResult, Totals } from '../../src/query/results.js';
import type { FlowRecord } from '../../src/query/records.js';
import { FLOW_COLUMNS } from '../../src/store/schema.js';

const T0 = Date.UTC(2024, 4, 1, 10, 0, 0);

test('human units: 1000-based, three significant digits at most', () => {
  const cases: [number, string][] = [
    [0, '0'], [12, '12'], [999, '999'], [1000, '1.0 K'], [1234, '1.2 K'], [340_000_000, '340 M'], [1.2e9, '1.2 G'],
    [2.5, '2.5'], [0.0333, '0.033'], [99.96, '100'], [999_499, '999 K'], [999_500, '1.0 M'], [12_345_678, '12.3 M'], [-1500, '-1.5 K'],
  ];
  for (const [n, s] of cases) assert.equal(human(n), s, String(n));
  assert.equal(percent(1, 3), '33.3%');
  assert.equal(percent(0, 0), '-');
  assert.equal(flagsText(0x12), '...A..S.');
  assert.equal(flagsText(0xc1), 'CE.....F');
  assert.equal(intervalText(300_000), '5m');
  assert.equal(intervalText(3_600_000), '1h');
  assert.equal(intervalText(90_000), '90s');
  assert.equal(alignColumns(['a', 'num'], [['xyz', '1'], ['b', '100']], [false, true]), 'a    num\nxyz    1\nb    100');
});

const totals: Totals = { flows: 4, packets: 2000, bytes: 3_000_000, bps: 400, pps: 0.5, bpp: 1500, window: { fromMs: T0, toMs: T0 + 3_600_000 }, firstMs: T0, lastMs: T0 + 60_000 };
const agg: AggregateResult = {
  keys: ['srcip'],
  order: 'bytes',
  totals,
  rows: [
    { values: ['10.0.0.1'], flows: 3, packets: 1500, bytes: 2_400_000, bps: 320_000, pps: 25, bpp: 1600, firstMs: T0, lastMs: T0 + 60_000 },
    { values: ['2001:db8::1'], flows: 1, packets: 500, bytes: 600_000, bps: 0, pps: 0, bpp: 1200, firstMs: T0 + 5000, lastMs: T0 + 5000 },
  ],
};

test('table: aligned columns, human units, percentages of the totals, the summary', () => {
  const t = formatAggregate(agg, 'table', 10);
  const lines = t.split('\n');
  assert.equal(lines[0], 'Top 10 srcip ordered by bytes:');
  assert.match(lines[1]!, /^first seen\s+duration\s+srcip\s+flows\s+%\s+packets\s+%\s+bytes\s+%\s+bps\s+pps\s+bpp$/);
  assert.match(lines[2]!, /^2024-05-01T10:00:00.000Z\s+60.000\s+10.0.0.1\s+3\s+75.0%\s+1.5 K\s+75.0%\s+2.4 M\s+80.0%\s+320 K\s+25\s+1.6 K$/);
  assert.match(lines[3]!, /^2024-05-01T10:00:05.000Z\s+0.000\s+2001:db8::1\s+1\s+25.0%\s+500\s+25.0%\s+600 K\s+20.0%\s+0\s+0\s+1.2 K$/);
  // Every data line has its columns at the same positions as the header.
  assert.equal(lines[1]!.indexOf('flows') + 'flows'.length, lines[2]!.indexOf(' 3  ') + 2);
  assert.match(t, /Summary: flows 4, packets 2.0 K, bytes 3.0 M, bps 400, pps 0.5, bpp 1.5 K\nWindow: 2024-05-01T10:00:00.000Z - 2024-05-01T11:00:00.000Z; first seen 2024-05-01T10:00:00.000Z, last seen 2024-05-01T10:01:00.000Z/);
  assert.match(formatAggregate(agg, 'table'), /^All srcip ordered by bytes:/);
});

test('csv: the element first, then flows,packets,bytes,bps,pps,bpp as raw numbers', () => {
  assert.equal(formatAggregate(agg, 'csv'), 'srcip,flows,packets,bytes,bps,pps,bpp\n10.0.0.1,3,1500,2400000,320000,25,1600\n2001:db8::1,1,500,600000,0,0,1200\n');
  const two: AggregateResult = { ...agg, keys: ['srcip', 'dstport'], rows: [{ ...agg.rows[0]!, values: ['10.0.0.1', null] }] };
  assert.equal(formatAggregate(two, 'csv').split('\n')[1], '10.0.0.1,,3,1500,2400000,320000,25,1600');
  assert.equal(formatTotals(totals, 'csv'), 'flows,packets,bytes,bps,pps,bpp,first,last\n4,2000,3000000,400,0.5,1500,2024-05-01T10:00:00.000Z,2024-05-01T10:01:00.000Z\n');
  const sql: SqlResult = { columns: [{ name: 'a', type: 'VARCHAR' }, { name: 'n', type: 'BIGINT' }], rows: [['x,"y"', 5n], [null, 18446744073709551615n]], truncated: false };
  assert.equal(formatSql(sql, 'csv'), 'a,n\n"x,""y""",5\n,18446744073709551615\n');
});

test('json: arrays of objects for statistics, one object for totals, exact 64-bit numbers', () => {
  const j = JSON.parse(formatAggregate(agg, 'json')) as Record<string, unknown>[];
  assert.deepEqual(j[0], { srcip: '10.0.0.1', flows: 3, packets: 1500, bytes: 2_400_000, bps: 320_000, pps: 25, bpp: 1600, first: '2024-05-01T10:00:00.000Z', last: '2024-05-01T10:01:00.000Z' });
  assert.equal(j.length, 2);
  const t = JSON.parse(formatTotals(totals, 'json')) as Record<string, unknown>;
  assert.deepEqual(t.window, { from: '2024-05-01T10:00:00.000Z', to: '2024-05-01T11:00:00.000Z' });
  assert.equal(jsonText({ a: 18446744073709551615n, b: [1, 'x', null, true], c: Infinity }), '{"a":18446744073709551615,"b":[1,"x",null,true],"c":null}');
  const sql: SqlResult = { columns: [{ name: 'n', type: 'UBIGINT' }], rows: [[18446744073709551615n]], truncated: false };
  assert.equal(formatSql(sql, 'json'), '[{"n":18446744073709551615}]\n');
});

test('series: one row per interval; a split adds each top value and "other"', () => {
  const s: SeriesResult = {
    intervalMs: 60_000,
    totals,
    key: 'dstport',
    order: 'flows',
    values: [{ ...agg.rows[0]!, values: [443] }],
    points: [
      { startMs: T0, flows: 3, packets: 60, bytes: 6000, bps: 800, pps: 1, split: [{ flows: 2, packets: 30, bytes: 3000 }], other: { flows: 1, packets: 30, bytes: 3000 } },
      { startMs: T0 + 60_000, flows: 0, packets: 0, bytes: 0, bps: 0, pps: 0, split: [{ flows: 0, packets: 0, bytes: 0 }], other: { flows: 0, packets: 0, bytes: 0 } },
    ],
  };
  assert.equal(
    formatSeries(s, 'csv'),
    'time,dstport,flows,packets,bytes,bps,pps\n' +
      '2024-05-01T10:00:00.000Z,443,2,30,3000,400,0.5\n2024-05-01T10:00:00.000Z,other,1,30,3000,400,0.5\n' +
      '2024-05-01T10:01:00.000Z,443,0,0,0,0,0\n2024-05-01T10:01:00.000Z,other,0,0,0,0,0\n',
  );
  const j = JSON.parse(formatSeries(s, 'json')) as Record<string, unknown>[];
  assert.deepEqual(j[0], { time: '2024-05-01T10:00:00.000Z', flows: 3, packets: 60, bytes: 6000, bps: 800, pps: 1, split: [{ dstport: 443, flows: 2, packets: 30, bytes: 3000 }], other: { flows: 1, packets: 30, bytes: 3000 } });
  assert.match(formatSeries(s, 'table'), /Top 1 dstport by flows, per 1m:\ntime\s+dstport\s+flows/);
  const plain = formatSeries({ intervalMs: 60_000, totals, points: s.points.map(({ split: _s, other: _o, ...p }) => p) }, 'csv');
  assert.equal(plain.split('\n')[0], 'time,flows,packets,bytes,bps,pps');
});

function record(over: Record<string, FlowRecord[string]>): FlowRecord {
  const r: Record<string, FlowRecord[string]> = Object.fromEntries(FLOW_COLUMNS.map((c) => [c.name, null]));
  return { ...r, time_received: T0 + 2000, exporter: '192.0.2.1', domain: 7, kind: 'ipfix', sampling: 1, ...over };
}

test('raw flows as IPFIXcol2 JSON lines: IANA names, addresses by family, extra merged under the columns', () => {
  const v4 = record({
    src_addr: '10.0.0.1', dst_addr: '10.0.0.2', src_port: 1000, dst_port: 443, proto: 6, tcp_flags: 0x12, tos: 8, packets: 2n, bytes: 18446744073709551615n,
    sampling: 10, time_start: T0, time_end: T0 + 1000, in_if: 3, out_if: 4, src_as: 65001, dst_as: 65002, next_hop: '10.0.0.254', src_mask: 24, dst_mask: 16,
    vlan: 10, direction: 1, end_reason: 3, src_mac: 0x001122334455n, extra: '{"iana:ipVersion":4,"iana:protocolIdentifier":99,"sluice:dnsQueryName":"example.org"}',
  });
  const line = flowsText('json').rows([v4]);
  assert.match(line, /"iana:octetDeltaCount":18446744073709551615,/); // exact, as IPFIXcol2 writes 64-bit counters
  const o = ipfixEntry(v4);
  assert.deepEqual(o, {
    '@type': 'ipfix.entry',
    'iana:sourceIPv4Address': '10.0.0.1',
    'iana:destinationIPv4Address': '10.0.0.2',
    'iana:sourceTransportPort': 1000,
    'iana:destinationTransportPort': 443,
    'iana:protocolIdentifier': 6,
    'iana:tcpControlBits': 0x12,
    'iana:ipClassOfService': 8,
    'iana:octetDeltaCount': 18446744073709551615n,
    'iana:packetDeltaCount': 2n,
    'iana:samplingInterval': 10,
    'sluice:scaledOctetDeltaCount': 184467440737095516150n,
    'sluice:scaledPacketDeltaCount': 20n,
    'iana:flowStartMilliseconds': '2024-05-01T10:00:00.000Z',
    'iana:flowEndMilliseconds': '2024-05-01T10:00:01.000Z',
    'iana:ingressInterface': 3,
    'iana:egressInterface': 4,
    'iana:bgpSourceAsNumber': 65001,
    'iana:bgpDestinationAsNumber': 65002,
    'iana:ipNextHopIPv4Address': '10.0.0.254',
    'iana:sourceIPv4PrefixLength': 24,
    'iana:destinationIPv4PrefixLength': 16,
    'iana:vlanId': 10,
    'iana:flowDirection': 1,
    'iana:flowEndReason': 3,
    'iana:sourceMacAddress': '00:11:22:33:44:55',
    'iana:exporterIPv4Address': '192.0.2.1',
    'iana:collectionTimeMilliseconds': '2024-05-01T10:00:02.000Z',
    'ipfix:odid': 7,
    'iana:ipVersion': 4,
    'sluice:dnsQueryName': 'example.org',
  });
  const v6 = ipfixEntry(record({ src_addr: '2001:db8::1', dst_addr: 'ff02::1', proto: 58, icmp_type: 135, icmp_code: 0, exporter: '2001:db8::ff', extra: 'not json' }));
  assert.equal(v6['iana:sourceIPv6Address'], '2001:db8::1');
  assert.equal(v6['iana:destinationIPv6Address'], 'ff02::1');
  assert.equal(v6['iana:icmpTypeIPv6'], 135);
  assert.equal(v6['iana:icmpCodeIPv6'], 0);
  assert.equal(v6['iana:exporterIPv6Address'], '2001:db8::ff');
  assert.equal('iana:samplingInterval' in v6, false);
  assert.equal('iana:packetDeltaCount' in v6, false); // NULL: not carried, not written
});

test('raw flows as csv and table: every column, counts scaled by sampling', () => {
  const r = record({ src_addr: '10.0.0.1', dst_addr: '2001:db8::2', src_port: 1, dst_port: 2, proto: 17, packets: 3n, bytes: 300n, sampling: 100, time_start: T0, time_end: T0 + 1500 });
  const csv = flowsText('csv');
  const header = csv.header.trimEnd().split(',');
  assert.deepEqual(header, [...FLOW_COLUMNS.map((c) => c.name), 'scaled_packets', 'scaled_bytes']);
  const cells = csv.rows([r]).trimEnd().split(',');
  assert.equal(cells[header.indexOf('time_start')], '2024-05-01T10:00:00.000Z');
  assert.equal(cells[header.indexOf('packets')], '3');
  assert.equal(cells[header.indexOf('scaled_bytes')], '30000');
  const table = flowsText('table');
  assert.match(table.header, /^first seen\s+duration\s+proto\s+src\s+dst\s+flags\s+packets\s+bytes\s+exporter\n$/);
  assert.match(table.rows([r]), /^2024-05-01T10:00:00.000Z\s+1.500\s+UDP\s+10.0.0.1:1\s+\[2001:db8::2\]:2\s+-\s+300\s+30.0 K\s+192.0.2.1\n$/);
});
