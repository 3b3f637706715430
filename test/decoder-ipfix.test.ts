import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './helpers/harness.js';
import { IpfixMessageBuilder, type EncTemplate } from '../src/wire/encode/ipfix.js';
import { makeSession } from '../src/wire/batch.js';
import { VARLEN } from '../src/wire/template.js';

const EXPORT = 1_700_000_000; // 2023-11-14T22:13:20Z
const msg = (seq = 0, domainId = 1) => new IpfixMessageBuilder({ domainId, exportTimeSec: EXPORT, sequence: seq });

const T256: EncTemplate = {
  id: 256,
  fields: [
    { id: 8, length: 4 }, // sourceIPv4Address
    { id: 12, length: 4 }, // destinationIPv4Address
    { id: 7, length: 2 },
    { id: 11, length: 2 },
    { id: 4, length: 1 },
    { id: 6, length: 1 },
    { id: 1, length: 8 }, // octetDeltaCount
    { id: 2, length: 4 }, // packetDeltaCount, reduced size
    { id: 152, length: 8 },
    { id: 153, length: 8 },
  ],
};
const rec256 = (i: number) => ['10.0.0.1', `10.0.1.${i}`, 1000 + i, 443, 6, 0x1b, 1500n * BigInt(i + 1), i + 1, 1_700_000_000_123 - 5000, 1_700_000_000_123];

test('IPFIX template + data: every field decoded and formatted like IPFIXcol2', () => {
  const h = new Harness();
  h.feed(msg().templates([T256]).data(T256, [rec256(1), rec256(2)]).build());
  assert.deepEqual(h.dropReasons(), []);
  assert.equal(h.records.length, 2);
  assert.deepEqual(h.records[0], {
    '@type': 'ipfix.entry',
    'iana:sourceIPv4Address': '10.0.0.1',
    'iana:destinationIPv4Address': '10.0.1.1',
    'iana:sourceTransportPort': 1001,
    'iana:destinationTransportPort': 443,
    'iana:protocolIdentifier': 'TCP',
    'iana:tcpControlBits': '.AP.SF', // 0x1b = ACK PSH SYN FIN
    'iana:octetDeltaCount': 3000,
    'iana:packetDeltaCount': 2,
    'iana:flowStartMilliseconds': '2023-11-14T22:13:15.123Z',
    'iana:flowEndMilliseconds': '2023-11-14T22:13:20.123Z',
  });
  assert.equal(h.batches[0]!.startMs[0], 1_700_000_000_123 - 5000);
  assert.equal(h.batches[0]!.endMs[0], 1_700_000_000_123);
});

test('raw and unix formatting options', () => {
  const h = new Harness({ tcpFlags: 'raw', protocol: 'raw', timestamp: 'unix', detailedInfo: true });
  h.feed(msg(7, 42).templates([T256]).data(T256, [rec256(1)]).build());
  const r = h.records[0]!;
  assert.equal(r['iana:tcpControlBits'], 0x1b);
  assert.equal(r['iana:protocolIdentifier'], 6);
  assert.equal(r['iana:flowEndMilliseconds'], 1_700_000_000_123);
  assert.equal(r['ipfix:odid'], 42);
  assert.equal(r['ipfix:seqNumber'], 7);
  assert.equal(r['ipfix:templateId'], 256);
  assert.equal(r['ipfix:exportTime'], EXPORT); // IPFIXcol2: header seconds, whatever the timestamp option
  assert.equal(r['ipfix:srcAddr'], '192.0.2.1');
});

test('variable-length strings, enterprise elements, unknown elements, repeated elements', () => {
  const t: EncTemplate = {
    id: 300,
    fields: [
      { id: 82, length: VARLEN }, // interfaceName (string)
      { id: 173, pen: 5951, length: 4 }, // netscaler element (known)
      { id: 999, pen: 12345, length: 3 }, // unknown enterprise element
      { id: 8, length: 4 },
      { id: 8, length: 4 }, // repeated sourceIPv4Address
      { id: 83, length: VARLEN }, // interfaceDescription, long form (> 255 bytes)
    ],
  };
  const long = 'x'.repeat(300);
  const h = new Harness();
  h.feed(msg().templates([t]).data(t, [['eth0\n"q"', 77, Buffer.from([1, 2, 3]), '1.2.3.4', '5.6.7.8', long]]).build());
  assert.deepEqual(h.dropReasons(), []);
  const r = h.records[0]!;
  assert.equal(r['iana:interfaceName'], 'eth0"q"', 'control characters dropped, quotes kept (nonPrintableChar default)');
  assert.deepEqual(r['iana:sourceIPv4Address'], ['1.2.3.4', '5.6.7.8']);
  assert.equal(r['en12345:id999'], 0x010203);
  assert.equal(r['iana:interfaceDescription'], long);
  const ns = Object.keys(r).find((k) => k.startsWith('netscaler:'));
  assert.ok(ns, 'netscaler element has a name');
  const h2 = new Harness({ nonPrintableChar: false, octetArrayAsUint: false });
  h2.feed(msg().templates([t]).data(t, [['eth0\n"q"', 77, Buffer.from([1, 2, 3]), '1.2.3.4', '5.6.7.8', 'y']]).build());
  assert.equal(h2.records[0]!['iana:interfaceName'], 'eth0\n"q"');
  assert.equal(h2.records[0]!['en12345:id999'], '0x010203');
  const h3 = new Harness({ ignoreUnknown: true });
  h3.feed(msg().templates([t]).data(t, [['a', 1, Buffer.from([1, 2, 3]), '1.2.3.4', '5.6.7.8', 'y']]).build());
  assert.equal(h3.records[0]!['en12345:id999'], undefined);
});

test('RFC 5103 biflow: reverse elements under PEN 29305', () => {
  const t: EncTemplate = { id: 310, fields: [{ id: 1, length: 8 }, { id: 1, pen: 29305, length: 8 }, { id: 2, pen: 29305, length: 4 }] };
  const h = new Harness();
  h.feed(msg().templates([t]).data(t, [[100, 200, 3]]).build());
  assert.equal(h.records[0]!['iana:octetDeltaCount'], 100);
  assert.equal(h.records[0]!['iana@reverse:octetDeltaCount@reverse'], 200);
  assert.equal(h.records[0]!['iana@reverse:packetDeltaCount@reverse'], 3);
});

test('unsigned64 beyond 2^53 stays exact; IPv6, MAC, boolean, float, NTP timestamps', () => {
  const t: EncTemplate = {
    id: 320,
    fields: [
      { id: 1, length: 8 },
      { id: 27, length: 16 },
      { id: 56, length: 6 },
      { id: 276, length: 1 }, // dataRecordsReliability (boolean)
      { id: 320, length: 8 }, // absoluteError float64
      { id: 154, length: 8 }, // flowStartMicroseconds (NTP)
      { id: 157, length: 8 }, // flowEndNanoseconds (NTP)
    ],
  };
  const ntp = (unixMs: number) => {
    const b = Buffer.alloc(8);
    const sec = Math.floor(unixMs / 1000);
    b.writeUInt32BE(sec + 2208988800, 0);
    b.writeUInt32BE(Math.round(((unixMs - sec * 1000) / 1000) * 2 ** 32), 4);
    return b;
  };
  const h = new Harness();
  h.feed(msg().templates([t]).data(t, [[18446744073709551615n, '2001:db8::1', '00:1b:21:aa:bb:cc', true, Buffer.from([0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]), ntp(1_600_000_000_250), ntp(1_600_000_001_500)]]).build());
  const line = h.formatter.formatBatch(h.batches[0]!);
  assert.match(line, /"iana:octetDeltaCount":18446744073709551615/);
  const r = h.records[0]!;
  assert.equal(r['iana:sourceIPv6Address'], '2001:db8::1');
  assert.equal(r['iana:sourceMacAddress'], '00:1B:21:AA:BB:CC');
  assert.equal(r['iana:dataRecordsReliability'], true);
  assert.equal(r['iana:absoluteError'], 3.14159265358979); // printf %.15g, as libfds prints float64
  assert.equal(r['iana:flowStartMicroseconds'], '2020-09-13T12:26:40.250Z');
  assert.equal(r['iana:flowEndNanoseconds'], '2020-09-13T12:26:41.500Z');
  assert.equal(h.batches[0]!.startMs[0], 1_600_000_000_250);
  assert.ok(Math.abs(h.batches[0]!.endMs[0]! - 1_600_000_001_500) < 0.001);
});

test('flowStart/EndDeltaMicroseconds and flowStart/EndSysUpTime with systemInitTimeMilliseconds', () => {
  const td: EncTemplate = { id: 330, fields: [{ id: 158, length: 4 }, { id: 159, length: 4 }, { id: 1, length: 4 }] };
  const opt: EncTemplate = { id: 331, scopeCount: 1, fields: [{ id: 144, length: 4 }, { id: 160, length: 8 }] };
  const ts: EncTemplate = { id: 332, fields: [{ id: 22, length: 4 }, { id: 21, length: 4 }, { id: 1, length: 4 }] };
  const h = new Harness({ timestamp: 'unix' });
  h.feed(msg().templates([td, opt, ts]).data(td, [[3_000_000, 1_000_000, 5]]).data(opt, [[1, 1_699_999_000_000]]).data(ts, [[100_000, 900_000, 6]]).build());
  assert.deepEqual(h.dropReasons(), []);
  const e = h.entries();
  assert.equal(e[0]!['iana:flowStartMilliseconds'], EXPORT * 1000 - 3000);
  assert.equal(e[0]!['iana:flowEndMilliseconds'], EXPORT * 1000 - 1000);
  assert.equal(e[1]!['iana:flowStartMilliseconds'], 1_699_999_100_000);
  assert.equal(e[1]!['iana:flowEndMilliseconds'], 1_699_999_900_000);
  const o = h.records.find((r) => r['@type'] === 'ipfix.optionsEntry')!;
  assert.equal(o['iana:systemInitTimeMilliseconds'], 1_699_999_000_000);
});

test('options data is skipped by ignoreOptions (default) but still learned', () => {
  const opt: EncTemplate = { id: 400, scopeCount: 1, fields: [{ id: 144, length: 4 }, { id: 305, length: 4 }] };
  const h = new Harness({ ignoreOptions: true });
  h.feed(msg().templates([opt]).data(opt, [[1, 512]]).build());
  assert.equal(h.records.length, 0);
  assert.equal(h.batches[0]!.ctx.domain?.samplingInterval, 512, '305 alone: taken as 1 in N');
});

test('options: samplingPacketInterval 305 with samplingPacketSpace 306 is 1 in (305 + 306) / 305 (RFC 5476)', () => {
  const opt: EncTemplate = { id: 401, scopeCount: 1, fields: [{ id: 144, length: 4 }, { id: 305, length: 4 }, { id: 306, length: 4 }] };
  const h = new Harness({ ignoreOptions: true });
  h.feed(msg().templates([opt]).data(opt, [[1, 1, 99]]).build());
  assert.equal(h.batches[0]!.ctx.domain?.samplingInterval, 100);
  const both: EncTemplate = { id: 402, scopeCount: 1, fields: [{ id: 144, length: 4 }, { id: 305, length: 4 }, { id: 306, length: 4 }, { id: 34, length: 4 }] };
  const h2 = new Harness({ ignoreOptions: true });
  h2.feed(msg().templates([both]).data(both, [[1, 1, 3, 4]]).build());
  assert.equal(h2.batches[0]!.ctx.domain?.samplingInterval, 4, 'samplingInterval (34) stated outright wins');
});

test('data before its template is held, then decoded when the template arrives', () => {
  const h = new Harness();
  h.feed(msg(0).data(T256, [rec256(1)]).build());
  assert.equal(h.records.length, 0);
  h.feed(msg(1).templates([T256]).data(T256, [rec256(2)]).build());
  assert.equal(h.records.length, 2);
  assert.equal(h.records[0]!['iana:destinationIPv4Address'], '10.0.1.1', 'the held set is decoded first');
  assert.deepEqual(h.dropReasons(), []);
});

test('held data that never gets a template is dropped and counted after the timeout', () => {
  const h = new Harness({}, { pendingTimeoutMs: 1000 });
  h.feed(msg().data(T256, [rec256(1)]).build(), 0);
  h.pipeline.decoder.tick(500);
  assert.deepEqual(h.dropReasons(), []);
  h.pipeline.decoder.tick(2000);
  assert.deepEqual(h.dropReasons(), ['missing-template']);
});

test('hold queue is bounded per session', () => {
  const h = new Harness({}, { maxPendingSetsPerSession: 3 });
  for (let i = 0; i < 5; i++) h.feed(msg(i).data(T256, [rec256(i)]).build());
  assert.deepEqual(h.dropReasons(), ['pending-overflow', 'pending-overflow']);
  h.pipeline.decoder.flush();
  assert.equal(h.dropReasons().filter((r) => r === 'missing-template').length, 3);
});

test('templates are scoped by observation domain and by transport session', () => {
  const h = new Harness();
  h.feed(msg(0, 1).templates([T256]).build());
  h.feed(msg(0, 2).data(T256, [rec256(1)]).build()); // other domain: no template
  h.feed(msg(0, 1).data(T256, [rec256(1)]).build(), undefined, makeSession('udp', '192.0.2.99', 4444, 4739));
  assert.equal(h.records.length, 0);
  h.feed(msg(0, 1).data(T256, [rec256(1)]).build());
  assert.equal(h.records.length, 1);
});

test('UDP templates expire after their lifetime', () => {
  const h = new Harness({}, { udpTemplateLifetimeMs: 60_000 });
  h.feed(msg().templates([T256]).build(), 0);
  h.feed(msg().data(T256, [rec256(1)]).build(), 30_000);
  assert.equal(h.records.length, 1);
  h.feed(msg().data(T256, [rec256(2)]).build(), 100_000);
  assert.equal(h.records.length, 1);
  assert.ok(h.dropReasons().includes('template-expired'));
  h.pipeline.decoder.flush();
  assert.ok(h.dropReasons().includes('missing-template'));
});

test('template withdrawal is honoured over TCP and ignored over UDP', () => {
  const tcp = makeSession('tcp', '192.0.2.1', 5000, 4739);
  const h = new Harness();
  h.feed(msg().templates([T256]).build(), 0, tcp);
  h.feed(msg().withdraw(256).build(), 0, tcp);
  h.feed(msg().data(T256, [rec256(1)]).build(), 0, tcp);
  assert.equal(h.records.length, 0);
  assert.equal(h.templates.filter((t) => t.withdrawn).length, 1);
  // withdraw-all (template id 2) over TCP
  h.feed(msg().templates([T256, { ...T256, id: 257 }]).build(), 0, tcp);
  h.feed(msg().withdraw(2).build(), 0, tcp);
  assert.equal(h.pipeline.decoder.store.templateCount, 0);

  const u = new Harness();
  u.feed(msg().templates([T256]).build());
  u.feed(msg().withdraw(256).build());
  u.feed(msg().data(T256, [rec256(1)]).build());
  assert.equal(u.records.length, 1);
  assert.deepEqual(u.dropReasons(), ['withdrawal-ignored']);
});

test('template redefinition: replaced on UDP, counted as a protocol error on TCP', () => {
  const t2: EncTemplate = { id: 256, fields: [{ id: 1, length: 4 }] };
  const u = new Harness();
  u.feed(msg().templates([T256]).build());
  u.feed(msg().templates([t2]).data(t2, [[99]]).build());
  assert.equal(u.records[0]!['iana:octetDeltaCount'], 99);
  assert.deepEqual(u.dropReasons(), []);
  const tcp = makeSession('tcp', '192.0.2.1', 5000, 4739);
  const h = new Harness();
  h.feed(msg().templates([T256]).build(), 0, tcp);
  h.feed(msg().templates([t2]).build(), 0, tcp);
  assert.deepEqual(h.dropReasons(), ['template-redefined']);
});

test('template count is bounded per session and in total', () => {
  const h = new Harness({}, { maxTemplatesPerSession: 10, maxTemplatesTotal: 15 });
  const many = Array.from({ length: 12 }, (_, i) => ({ ...T256, id: 256 + i }));
  h.feed(msg().templates(many).build());
  // One drop event for the set, counting both refused templates.
  assert.equal(h.dropReasons().filter((r) => r === 'template-limit').length, 1);
  assert.equal(h.pipeline.counters.drops.byReason.get('template-limit'), 2);
  h.feed(msg().templates(many).build(), undefined, makeSession('udp', '192.0.2.2', 1, 1));
  assert.equal(h.pipeline.decoder.store.templateCount, 15);
});

test('RFC 6313 basicList, subTemplateList and subTemplateMultiList, nested', () => {
  const inner: EncTemplate = { id: 500, fields: [{ id: 8, length: 4 }, { id: 7, length: 2 }] };
  const inner2: EncTemplate = { id: 501, fields: [{ id: 4, length: 1 }] };
  const outer: EncTemplate = { id: 502, fields: [{ id: 291, length: VARLEN }, { id: 292, length: VARLEN }, { id: 293, length: VARLEN }] };
  const basic = Buffer.concat([Buffer.from([3]), Buffer.from([0x00, 0x0b, 0x00, 0x02]), Buffer.from([0x00, 0x50, 0x01, 0xbb])]); // allOf destinationTransportPort [80, 443]
  const stl = Buffer.concat([Buffer.from([4, 0x01, 0xf4]), Buffer.from([10, 0, 0, 1, 0, 80, 10, 0, 0, 2, 0, 81])]); // ordered, template 500, two records
  const block = (tid: number, body: Buffer) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(tid, 0);
    h.writeUInt16BE(4 + body.length, 2);
    return Buffer.concat([h, body]);
  };
  const stml = Buffer.concat([Buffer.from([1]), block(500, Buffer.from([1, 1, 1, 1, 0, 1])), block(501, Buffer.from([6, 17]))]);
  const h = new Harness();
  h.feed(msg().templates([inner, inner2, outer]).data(outer, [[basic, stl, stml]]).build());
  assert.deepEqual(h.dropReasons(), []);
  const r = h.records[0]!;
  assert.deepEqual(r['iana:basicList'], { '@type': 'basicList', semantic: 'allOf', fieldID: 'iana:destinationTransportPort', data: [80, 443] });
  assert.deepEqual(r['iana:subTemplateList'], {
    '@type': 'subTemplateList',
    semantic: 'ordered',
    data: [
      { 'iana:sourceIPv4Address': '10.0.0.1', 'iana:sourceTransportPort': 80 },
      { 'iana:sourceIPv4Address': '10.0.0.2', 'iana:sourceTransportPort': 81 },
    ],
  });
  assert.deepEqual(r['iana:subTemplateMultiList'], {
    '@type': 'subTemplateMultiList',
    semantic: 'exactlyOneOf',
    data: [[{ 'iana:sourceIPv4Address': '1.1.1.1', 'iana:sourceTransportPort': 1 }], [{ 'iana:protocolIdentifier': 'TCP' }, { 'iana:protocolIdentifier': 'UDP' }]],
  });
});

test('bad input: truncated, lying lengths, zero-length sets, unknown versions, garbage — counted, never thrown', () => {
  const h = new Harness();
  const good = msg().templates([T256]).data(T256, [rec256(1), rec256(2)]).build();
  h.feed(Buffer.alloc(0));
  h.feed(Buffer.from([0, 10, 0]));
  h.feed(Buffer.from([0x12, 0x34, 0, 0, 1, 2, 3]));
  const short = good.subarray(0, good.length - 10);
  h.feed(short); // header length lies (longer than datagram): complete sets decoded
  const zeroSet = Buffer.from(good);
  zeroSet.writeUInt16BE(0, 18); // first set length 0
  h.feed(zeroSet);
  const lying = Buffer.from(good);
  lying.writeUInt16BE(8, 2); // message length below header
  h.feed(lying);
  const reasons = new Set(h.dropReasons());
  for (const r of ['truncated', 'bad-version', 'bad-set', 'bad-length']) assert.ok(reasons.has(r as never), `${r} counted: ${[...reasons]}`);
  assert.ok(!h.drops.some((d) => d.detail.includes('internal decoder error')));
  assert.ok(h.drops.every((d) => Number.isInteger(d.offset) && d.offset >= 0));
  assert.equal(h.pipeline.counters.drops.byExporter.get('192.0.2.1')?.get('bad-version'), 1);
});
