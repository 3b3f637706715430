import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './helpers/harness.js';
import { encodeNetflow5, Netflow9PacketBuilder, type EncTemplate } from '../src/wire/encode/ipfix.js';
import { splitDatagrams } from '../src/wire/framing.js';

const SECS = 1_444_331_070;

test('NetFlow v5: fixed records onto IANA elements, times from sysUpTime + unix secs/nsecs', () => {
  const h = new Harness({ timestamp: 'unix' });
  const pkt = encodeNetflow5({ sysUpTimeMs: 45_076, unixSecs: SECS, unixNsecs: 250_000_000, sequence: 9, engineType: 1, engineId: 2, sampling: (1 << 14) | 100 }, [
    { src: '10.0.0.1', dst: '10.0.0.2', packets: 3, octets: 180, firstMs: 40_000, lastMs: 43_859, srcPort: 1234, dstPort: 80, protocol: 6, tcpFlags: 0x12, srcAs: 65000, input: 3, output: 4, srcMask: 24 },
  ]);
  h.feed(pkt);
  assert.deepEqual(h.dropReasons(), []);
  const r = h.records[0]!;
  assert.equal(r['iana:sourceIPv4Address'], '10.0.0.1');
  assert.equal(r['iana:octetDeltaCount'], 180);
  assert.equal(r['iana:packetDeltaCount'], 3);
  assert.equal(r['iana:bgpSourceAsNumber'], 65000);
  assert.equal(r['iana:ingressInterface'], 3);
  assert.equal(r['iana:tcpControlBits'], '.A..S.');
  assert.equal(r['iana:flowStartSysUpTime'], 40_000);
  const exportMs = SECS * 1000 + 250;
  assert.equal(r['iana:flowStartMilliseconds'], exportMs - (45_076 - 40_000));
  assert.equal(r['iana:flowEndMilliseconds'], exportMs - (45_076 - 43_859));
  assert.equal(r['iana:samplingAlgorithm'], 1);
  assert.equal(r['iana:samplingInterval'], 100);
  assert.equal(r['iana:engineType'], 1);
  assert.equal(r['iana:engineId'], 2);
  assert.equal(r['iana:paddingOctets'], undefined);
});

test('NetFlow v5: sysUpTime wrap-around at 2^32 ms, and flows stamped just after the header', () => {
  const h = new Harness({ timestamp: 'unix' });
  // uptime wrapped 1000 ms ago; the flow started 3000 ms before export, i.e. before the wrap.
  h.feed(encodeNetflow5({ sysUpTimeMs: 1000, unixSecs: SECS, sequence: 0 }, [
    { src: '1.1.1.1', dst: '2.2.2.2', packets: 1, octets: 1, firstMs: 2 ** 32 - 2000, lastMs: 500, srcPort: 1, dstPort: 2, protocol: 17 },
    { src: '1.1.1.1', dst: '2.2.2.2', packets: 1, octets: 1, firstMs: 900, lastMs: 1010, srcPort: 1, dstPort: 2, protocol: 17 },
  ]));
  const [a, b] = h.records;
  assert.equal(a!['iana:flowStartMilliseconds'], SECS * 1000 - 3000);
  assert.equal(a!['iana:flowEndMilliseconds'], SECS * 1000 - 500);
  assert.equal(b!['iana:flowEndMilliseconds'], SECS * 1000 + 10, 'an end 10 ms after the header time stays 10 ms after');
});

test('NetFlow v5: a header count beyond the datagram is counted, the records present are kept', () => {
  const h = new Harness();
  const pkt = encodeNetflow5({ sysUpTimeMs: 1, unixSecs: SECS, sequence: 0 }, [
    { src: '1.1.1.1', dst: '2.2.2.2', packets: 1, octets: 1, firstMs: 0, lastMs: 0, srcPort: 1, dstPort: 2, protocol: 17 },
  ]);
  pkt.writeUInt16BE(30, 2);
  h.feed(pkt);
  assert.equal(h.records.length, 1);
  assert.deepEqual(h.dropReasons(), ['truncated']);
  assert.equal(h.drops[0]!.count, 29);
});

test('NetFlow v7 records decode with the v7 layout', () => {
  const h = new Harness();
  const b = Buffer.alloc(24 + 52);
  b.writeUInt16BE(7, 0);
  b.writeUInt16BE(1, 2);
  b.writeUInt32BE(10_000, 4);
  b.writeUInt32BE(SECS, 8);
  Buffer.from([192, 168, 1, 1]).copy(b, 24);
  Buffer.from([192, 168, 1, 2]).copy(b, 28);
  b.writeUInt32BE(7, 24 + 16);
  b.writeUInt32BE(700, 24 + 20);
  b[24 + 38] = 17;
  h.feed(b);
  assert.equal(h.records.length, 1);
  assert.equal(h.records[0]!['iana:sourceIPv4Address'], '192.168.1.1');
  assert.equal(h.records[0]!['iana:octetDeltaCount'], 700);
  assert.equal(h.records[0]!['iana:protocolIdentifier'], 'UDP');
});

const V9T: EncTemplate = {
  id: 260,
  fields: [
    { id: 8, length: 4 },
    { id: 12, length: 4 },
    { id: 1, length: 4 },
    { id: 2, length: 4 },
    { id: 22, length: 4 }, // FIRST_SWITCHED
    { id: 21, length: 4 }, // LAST_SWITCHED
    { id: 4, length: 1 },
    { id: 225, length: 4 }, // NSEL xlate src addr (above 127: netflow pseudo-enterprise)
    { id: 33000, length: 12 }, // NF_F_INGRESS_ACL_ID (above 32767: netflowExtra)
  ],
};

test('NetFlow v9: templates, data with padding, fields above 127 under IPFIXcol2 pseudo-enterprises', () => {
  const h = new Harness({ timestamp: 'unix', octetArrayAsUint: false });
  const acl = Buffer.from('0102030405060708090a0b0c', 'hex');
  const p = new Netflow9PacketBuilder({ sourceId: 7, unixSecs: SECS, sysUpTimeMs: 45_076, sequence: 1 })
    .templates([V9T])
    .data(V9T, [['10.0.0.1', '10.0.0.2', 1000, 10, 40_000, 43_859, 6, '100.64.0.1', acl]])
    .build();
  h.feed(p);
  assert.deepEqual(h.dropReasons(), []);
  const r = h.records[0]!;
  assert.equal(r['iana:octetDeltaCount'], 1000);
  assert.equal(r['iana:flowStartMilliseconds'], SECS * 1000 - 5076);
  assert.equal(r['iana:flowEndMilliseconds'], SECS * 1000 - 1217);
  const natKey = Object.keys(r).find((k) => k.startsWith('netflow:'));
  assert.ok(natKey, `a netflow: key in ${Object.keys(r)}`);
  assert.equal(r[natKey], '100.64.0.1');
  const aclKey = Object.keys(r).find((k) => k.startsWith('netflowExtra:'));
  assert.ok(aclKey);
  assert.equal(r[aclKey], '0x0102030405060708090A0B0C');
  assert.equal(h.batches[0]!.ctx.domainId, 7);
});

test('NetFlow v9: options template with scope fields; sampling interval learned per source id', () => {
  const opt: EncTemplate = { id: 300, scopeCount: 1, fields: [{ id: 1, length: 4 }, { id: 34, length: 4 }, { id: 35, length: 1 }] };
  const h = new Harness();
  h.feed(new Netflow9PacketBuilder({ sourceId: 1, unixSecs: SECS, sysUpTimeMs: 1, sequence: 1 }).templates([opt]).data(opt, [[5, 1000, 2]]).build());
  assert.deepEqual(h.dropReasons(), []);
  const o = h.records[0]!;
  assert.equal(o['@type'], 'ipfix.optionsEntry');
  assert.equal(o['iana:exportingProcessId'], 5, 'v9 scope "System" maps to exportingProcessId');
  assert.equal(o['iana:samplingInterval'], 1000);
  assert.equal(h.batches[0]!.ctx.domain?.samplingInterval, 1000);
});

test('NetFlow v9: templates are per source id; data waits for its template', () => {
  const h = new Harness();
  const hdr = (sourceId: number) => ({ sourceId, unixSecs: SECS, sysUpTimeMs: 50_000, sequence: 1 });
  const rec = ['10.0.0.1', '10.0.0.2', 1, 1, 1, 1, 17, '0.0.0.0', Buffer.alloc(12)];
  h.feed(new Netflow9PacketBuilder(hdr(2)).data(V9T, [rec]).build());
  h.feed(new Netflow9PacketBuilder(hdr(1)).templates([V9T]).build());
  assert.equal(h.records.length, 0);
  h.feed(new Netflow9PacketBuilder(hdr(2)).templates([V9T]).build());
  assert.equal(h.records.length, 1);
});

test('raw payload files with concatenated datagrams are split by protocol framing', () => {
  const v5 = encodeNetflow5({ sysUpTimeMs: 1, unixSecs: SECS, sequence: 0 }, [
    { src: '1.1.1.1', dst: '2.2.2.2', packets: 1, octets: 1, firstMs: 0, lastMs: 0, srcPort: 1, dstPort: 2, protocol: 17 },
  ]);
  const v9a = new Netflow9PacketBuilder({ sourceId: 1, unixSecs: SECS, sysUpTimeMs: 1, sequence: 1 }).templates([V9T]).build();
  const v9b = new Netflow9PacketBuilder({ sourceId: 1, unixSecs: SECS, sysUpTimeMs: 1, sequence: 2 }).data(V9T, [['10.0.0.1', '10.0.0.2', 1, 1, 1, 1, 17, '0.0.0.0', Buffer.alloc(12)]]).build();
  const parts = splitDatagrams(Buffer.concat([v5, v5, v9a, v9b]));
  assert.deepEqual(parts.map((p) => p.length), [v5.length, v5.length, v9a.length, v9b.length]);
});
