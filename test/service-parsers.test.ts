import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTimestampFormat } from '../src/parsers/timestamp-format.js';
import { AwsVpcParser } from '../src/parsers/aws-vpc.js';
import { TextParser } from '../src/parsers/text.js';
import { parseServiceConfig } from '../src/service/config.js';
import type { TextParserProps } from '../src/parsers/text.js';
import { Ipfixcol2JsonFormatter } from '../src/format/ipfixcol2-json.js';
import { IeRegistry } from '../src/wire/ie/registry.js';
import { makeSession, type FlowBatch } from '../src/wire/batch.js';

const NOW = Date.UTC(2026, 11, 1, 20, 0, 0); // Tue 1 Dec 2026 20:00 UTC
const session = makeSession('udp', '192.0.2.7', 514, 5514);
const fmt = new Ipfixcol2JsonFormatter({});

function records(batches: FlowBatch[]): Record<string, unknown>[] {
  return batches.flatMap((b) => fmt.formatBatch(b).trim().split('\n')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('timestamp_format: every token of the grammar', () => {
  const p = (f: string, s: string) => compileTimestampFormat(f).parse(s, NOW);
  const iso = (ms: number) => new Date(ms).toISOString();
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS', '2026-03-04 05:06:07')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('yy-mm-dd HH:MM:SS', '26-03-04 05:06:07')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('dd mmm yyyy HH:MM:SS', '04 Mar 2026 05:06:07')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('dd mmmm yyyy HH:MM:SS', '04 March 2026 05:06:07')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('mmm _d yyyy HH:MM:SS', 'Mar  4 2026 05:06:07')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('mmm _d yyyy HH:MM:SS', 'Mar 14 2026 05:06:07')), '2026-03-14T05:06:07.000Z');
  assert.equal(iso(p('ddd mmm dd HH:MM:SS yyyy', 'Wed Mar 04 05:06:07 2026')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('dddd, dd mmmm yyyy HH:MM:SS', 'Wednesday, 04 March 2026 05:06:07')), '2026-03-04T05:06:07.000Z');
  assert.ok(Number.isNaN(p('ddd mmm dd HH:MM:SS yyyy', 'Xyz Mar 04 05:06:07 2026')), 'weekday names are checked');
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS.000', '2026-03-04 05:06:07.250')), '2026-03-04T05:06:07.250Z');
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS.000000', '2026-03-04 05:06:07,123456')), '2026-03-04T05:06:07.123Z');
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS.0', '2026-03-04 05:06:07.5')), '2026-03-04T05:06:07.500Z');
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS ZZZ', '2026-03-04 05:06:07 PST')), '2026-03-04T13:06:07.000Z');
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS ZZZ', '2026-03-04 05:06:07 UTC')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS -HH:MM', '2026-03-04 05:06:07 +05:30')), '2026-03-03T23:36:07.000Z');
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS -HH', '2026-03-04 05:06:07 -02')), '2026-03-04T07:06:07.000Z');
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS -HH', '2026-03-04 05:06:07 -02:30')), '2026-03-04T07:36:07.000Z', '-HH[:MM]: minutes optional');
  assert.equal(iso(p('yyyy-mm-dd HH:MM:SS -HHMM', '2026-03-04 05:06:07 -0230')), '2026-03-04T07:36:07.000Z');
  assert.equal(iso(p('yyyy-mm-ddTHH:MM:SSZHH:MM', '2026-03-04T05:06:07Z')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('yyyy-mm-ddTHH:MM:SSZHH:MM', '2026-03-04T05:06:07+01:00')), '2026-03-04T04:06:07.000Z');
  assert.equal(iso(p('yyyy-mm-ddTHH:MM:SSZHH', '2026-03-04T05:06:07+01')), '2026-03-04T04:06:07.000Z');
  assert.equal(iso(p('yyyy-mm-ddTHH:MM:SSZHHMM', '2026-03-04T05:06:07-0100')), '2026-03-04T06:06:07.000Z');
  assert.equal(iso(p('yyyy-mm-ddTHH:MM:SSZHHMM', '2026-03-04T05:06:07Z')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('unix', '1772600767')), '2026-03-04T05:06:07.000Z');
  assert.equal(iso(p('unix', '1772600767.25')), '2026-03-04T05:06:07.250Z');
  assert.equal(iso(p('unix', '1772600767250')), '2026-03-04T05:06:07.250Z');
  // No year (RFC 3164 syslog): this year, unless that is more than a day ahead -> last year.
  assert.equal(iso(p('mmm _d HH:MM:SS', 'Dec  1 19:59:00')), '2026-12-01T19:59:00.000Z');
  assert.equal(iso(p('mmm _d HH:MM:SS', 'Dec 31 23:00:00')), '2025-12-31T23:00:00.000Z');
  // Things that must not match
  for (const [f, s] of [['yyyy-mm-dd HH:MM:SS', '2026-13-04 05:06:07'], ['yyyy-mm-dd HH:MM:SS', '2026-02-31 05:06:07'], ['yyyy-mm-dd HH:MM:SS', '2026-03-04'], ['HH:MM:SS dd', '25:00:00 01'], ['yyyy-mm-dd HH:MM:SS ZZZ', '2026-03-04 05:06:07 XYZ']] as const) {
    assert.ok(Number.isNaN(p(f, s)), `${f} / ${s}`);
  }
  assert.throws(() => compileTimestampFormat('yyyy-mm-dd QQ'), /"QQ" at position 12 is not a format token/);
  assert.throws(() => compileTimestampFormat('yyyy'), /needs at least a day/);
});

function textProps(props: string): TextParserProps {
  const c = parseServiceConfig(
    ['data_directory: /tmp', 'outputs: [{ type: print }]', 'consumers:', '  - name: t', `    parser: { type: text, properties: ${props} }`, '    connectors: [{ type: udp, properties: { ports: "0" } }]', ''].join('\n'),
    'c.yaml',
  );
  const p = c.consumers[0]!.parser;
  assert.ok(p.type === 'text');
  return p.props;
}

test('text parser: attribute tags, names or numbers for the protocol, ICMP, timestamps; bad lines counted, never fatal', () => {
  const out: FlowBatch[] = [];
  const bad: string[] = [];
  const tp = new TextParser(
    IeRegistry.builtin(),
    textProps('{ src_ip: sip, dst_ip: dip, dst_port: dport, protocol: proto, icmp_type: itype, icmp_code: icode, timestamp: "date, time", timestamp_format: "yyyy-mm-dd HH:MM:SS", packets: pkts, bytes: bytes }'),
    { onBatch: (b) => out.push(b), onBad: (r, l) => bad.push(`${r}: ${l}`) },
  );
  tp.parseLines(
    [
      '<134>fw01: date=2026-03-04 time=05:06:07 sip=10.0.0.1 dip=10.0.1.1 dport=443 proto=tcp pkts=3 bytes=180',
      '<134>fw01: date=2026-03-04 time=05:06:08 sip=10.0.0.2 dip=10.0.1.2 dport=53 proto=17',
      '<134>fw01: date=2026-03-04 time=05:06:09 sip=10.0.0.3 dip=10.0.1.3 proto=icmp itype=8 icode=0',
      '<134>fw01: date=2026-03-04 time=05:06:10 sip=2001:db8::1 dip=2001:db8::2 dport=22 proto=TCP',
      '<134>fw01: date=2026-03-04 time=05:06:11 sip=10.0.0.9 dport=22 proto=tcp',
      '<134>fw01: date=2026-03-04 time=05:06:11 sip=10.0.0.9 dip=10.0.0.300 dport=22 proto=tcp',
      '<134>fw01: date=2026-03-04 time=xx sip=10.0.0.9 dip=10.0.0.8 dport=22 proto=tcp',
      '<134>fw01: date=2026-03-04 time=05:06:11 sip=10.0.0.9 dip=10.0.0.8 dport=22 proto=nosuch',
      'garbage',
    ],
    session,
    NOW,
  );
  const r = records(out);
  assert.equal(r.length, 4);
  const byDst = new Map(r.map((x) => [String(x['iana:destinationIPv4Address'] ?? x['iana:destinationIPv6Address']), x]));
  assert.deepEqual(byDst.get('10.0.1.1'), {
    '@type': 'ipfix.entry',
    'iana:sourceIPv4Address': '10.0.0.1',
    'iana:destinationIPv4Address': '10.0.1.1',
    'iana:destinationTransportPort': 443,
    'iana:protocolIdentifier': 'TCP',
    'iana:packetDeltaCount': 3,
    'iana:octetDeltaCount': 180,
    'iana:flowStartMilliseconds': '2026-03-04T05:06:07.000Z',
    'iana:flowEndMilliseconds': '2026-03-04T05:06:07.000Z',
  });
  assert.equal(byDst.get('10.0.1.2')!['iana:protocolIdentifier'], 'UDP');
  assert.equal(byDst.get('10.0.1.3')!['iana:icmpTypeCodeIPv4'], 2048);
  assert.equal(byDst.get('10.0.1.3')!['iana:destinationTransportPort'], undefined);
  assert.equal(byDst.get('2001:db8::2')!['iana:sourceIPv6Address'], '2001:db8::1');
  assert.equal(out[0]!.ctx.protocol, 'text');
  assert.equal(out[0]!.template.origin, 'text');
  assert.equal(out.reduce((n, b) => n + b.count, 0), 4);
  assert.ok(Number.isFinite(out[0]!.startMs[0]!), 'times derived for the aggregation');
  assert.equal(tp.counters.lines, 9);
  assert.equal(tp.counters.records, 4);
  assert.deepEqual(Object.fromEntries(tp.counters.unparsed), { 'missing-address': 2, 'bad-address': 1, 'bad-timestamp': 1, 'bad-protocol': 1 });
  assert.equal(bad.length, 5);
});

test('text parser: field numbers from 1, syslog timestamps over several fields, no timestamp -> receive time', () => {
  const out: FlowBatch[] = [];
  const tp = new TextParser(IeRegistry.builtin(), textProps('{ src_ip: 4, dst_ip: 5, dst_port: 6, protocol: 7, timestamp: "1, 2, 3", timestamp_format: "mmm _d HH:MM:SS" }'), { onBatch: (b) => out.push(b) });
  // The second line as it arrives over the network: a syslog PRI in front, not counted as a field.
  tp.parseLines(['Dec  1 19:07:59 10.0.0.1 10.0.0.2 443 6', '<134>Nov 30 23:59:59 10.0.0.3 10.0.0.4 80 tcp'], session, NOW);
  const r = records(out);
  assert.deepEqual(r.map((x) => [x['iana:sourceIPv4Address'], x['iana:destinationTransportPort'], x['iana:protocolIdentifier'], x['iana:flowStartMilliseconds']]), [
    ['10.0.0.1', 443, 'TCP', '2026-12-01T19:07:59.000Z'],
    ['10.0.0.3', 80, 'TCP', '2026-11-30T23:59:59.000Z'],
  ]);
  const out2: FlowBatch[] = [];
  const csv = new TextParser(IeRegistry.builtin(), textProps('{ src_ip: 1, dst_ip: 2, dst_port: 3, protocol: 4, delimiter: "," }'), { onBatch: (b) => out2.push(b) });
  csv.parseLines(['10.0.0.1,10.0.0.2,8080,udp'], session, NOW);
  assert.equal(records(out2)[0]!['iana:flowStartMilliseconds'], new Date(NOW).toISOString());
});

test('aws parser: default format (v2), "-" fields, NODATA/SKIPDATA, custom v3-v5 format, header line', () => {
  const out: FlowBatch[] = [];
  const bad: string[] = [];
  const p = new AwsVpcParser(IeRegistry.builtin(), undefined, { onBatch: (b) => out.push(b), onBad: (r) => bad.push(r) });
  p.parseLines(
    [
      '2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK',
      '2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK',
      '2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100::1 2001:db8:1234:a102::2 0 0 58 1 76 1418530010 1418530070 ACCEPT OK',
      '2 123456789010 eni-1a2b3c4d - - - - - - - 1431280876 1431280934 - NODATA',
      '2 123456789010 eni-4b118871 - - - - - - - 1431280876 1431280934 - SKIPDATA',
      '2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761',
      '2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 x 3389 6 20 4249 1418530010 1418530070 REJECT OK',
    ],
    session,
    NOW,
  );
  const r = records(out);
  assert.equal(r.length, 3);
  assert.deepEqual(r[0], {
    '@type': 'ipfix.entry',
    'sluice:awsLogVersion': 2,
    'sluice:awsAccountId': '123456789010',
    'sluice:awsInterfaceId': 'eni-1235b8ca123456789',
    'iana:sourceIPv4Address': '172.31.16.139',
    'iana:destinationIPv4Address': '172.31.16.21',
    'iana:sourceTransportPort': 20641,
    'iana:destinationTransportPort': 22,
    'iana:protocolIdentifier': 'TCP',
    'iana:packetDeltaCount': 20,
    'iana:octetDeltaCount': 4249,
    'iana:flowStartSeconds': '2014-12-14T04:06:50.000Z',
    'iana:flowEndSeconds': '2014-12-14T04:07:50.000Z',
    'sluice:awsAction': 'ACCEPT',
    'sluice:awsLogStatus': 'OK',
  });
  assert.equal(r[1]!['sluice:awsAction'], 'REJECT');
  assert.equal(r[2]!['iana:sourceIPv6Address'], '2001:db8:1234:a100::1');
  assert.equal(out[0]!.startMs[0], 1418530010_000);
  assert.equal(out[0]!.endMs[0], 1418530070_000);
  assert.deepEqual(Object.fromEntries(p.counters.skipped), { NODATA: 1, SKIPDATA: 1 });
  assert.deepEqual(Object.fromEntries(p.counters.unparsed), { 'field-count': 1, 'bad-srcport': 1 });
  assert.deepEqual(bad, ['field-count', 'bad-srcport']);

  // Custom format with v3-v5 fields, in AWS's ${...} notation, and "-" for fields that do not apply.
  const fields = '${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} ${action} ${tcp-flags} ${log-status} ${region} ${az-id} ${sublocation-type} ${sublocation-id} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${flow-direction} ${traffic-path}';
  const c = parseServiceConfig(
    ['data_directory: /tmp', 'outputs: [{ type: print }]', 'consumers:', '  - name: a', `    parser: { type: aws, properties: { format: "${fields}" } }`, '    connectors: [{ type: tcp, properties: { ports: "0" } }]', ''].join('\n'),
    'c.yaml',
  );
  const parser = c.consumers[0]!.parser;
  assert.ok(parser.type === 'aws');
  const out2: FlowBatch[] = [];
  const p2 = new AwsVpcParser(IeRegistry.builtin(), parser.fields, { onBatch: (b) => out2.push(b) });
  p2.parseLines(['5 vpc-40f18d25 subnet-2a6b1e4f i-01234567890123456 eni-7c5e1a2d 123456789012 IPv4 10.0.1.5 52.95.128.179 48850 443 10.0.1.5 52.95.128.179 6 5292 32 1620140661 1620140718 ACCEPT 19 OK us-east-1 use1-az6 - - - S3 egress 8'], session, NOW);
  const x = records(out2)[0]!;
  assert.equal(x['sluice:awsVpcId'], 'vpc-40f18d25');
  assert.equal(x['sluice:awsTrafficType'], 'IPv4');
  assert.equal(x['sluice:awsPktDstAddr'], '52.95.128.179');
  assert.equal(x['iana:tcpControlBits'], '.A..SF'); // 19 = ACK|SYN|FIN
  assert.equal(x['sluice:awsRegion'], 'us-east-1');
  assert.equal(x['sluice:awsAzId'], 'use1-az6');
  assert.equal(x['sluice:awsSublocationType'], undefined, '"-" leaves the element out');
  assert.equal(x['sluice:awsPktSrcAwsService'], undefined);
  assert.equal(x['sluice:awsPktDstAwsService'], 'S3');
  assert.equal(x['iana:flowDirection'], 1);
  assert.equal(x['sluice:awsTrafficPath'], 8);
  assert.equal(x['iana:octetDeltaCount'], 5292);

  // A header line names the fields for the lines after it.
  const out3: FlowBatch[] = [];
  const p3 = new AwsVpcParser(IeRegistry.builtin(), undefined, { onBatch: (b) => out3.push(b) });
  p3.parseLines(['version srcaddr dstaddr dstport protocol packets bytes', '3 10.0.0.1 10.0.0.2 443 6 1 60'], session, NOW);
  const h = records(out3)[0]!;
  assert.deepEqual([h['iana:sourceIPv4Address'], h['iana:destinationTransportPort'], h['iana:octetDeltaCount'], h['iana:sourceTransportPort']], ['10.0.0.1', 443, 60, undefined]);
  assert.deepEqual(Object.fromEntries(p3.counters.skipped), { header: 1 });
  assert.deepEqual(p3.format, ['version', 'srcaddr', 'dstaddr', 'dstport', 'protocol', 'packets', 'bytes']);
});
