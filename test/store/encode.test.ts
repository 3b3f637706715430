/**
 * The store encoder against the JSON formatter on real captures: every core column of every flow
 * row equals the element the IPFIXcol2 JSON shows for the same record, and what has no column is
 * in `extra` under its IPFIXcol2 key, so nothing decoded is lost.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { Ipfixcol2JsonFormatter } from '../../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../../src/pipeline/decode.js';
import { readRow, type ColumnBlock } from '../../src/store/columns.js';
import { SamplingTracker } from '../../src/pipeline/sampling.js';
import { StoreEncoder } from '../../src/store/encode.js';
import { makeSession, type FlowBatch } from '../../src/wire/batch.js';
import { IeRegistry } from '../../src/wire/ie/registry.js';
import { ipToString, macToString } from '../../src/wire/packet/addr.js';
import { udpFromFrame } from '../../src/wire/packet/parse.js';
import { IpReassembler } from '../../src/wire/packet/reassemble.js';
import { readCapture } from '../../src/wire/pcap/read.js';

const FIXTURES = new URL('../fixtures/pcap/', import.meta.url);

function decodeRaw(path: string): FlowBatch[] {
  const batches: FlowBatch[] = [];
  const stage = new DecodeStage({ registry: IeRegistry.builtin(), onBatch: (b) => batches.push(b) });
  stage.handle(readFileSync(new URL(path, FIXTURES)), makeSession('file', '192.0.2.1', 6343), 1_704_067_300_000);
  stage.decoder.flush();
  return batches;
}

function decodeCapture(name: string): FlowBatch[] {
  if (name.endsWith('.bin')) return decodeRaw(name);
  const batches: FlowBatch[] = [];
  const stage = new DecodeStage({ registry: IeRegistry.builtin(), onBatch: (b) => batches.push(b) });
  const reasm = new IpReassembler();
  for (const frame of readCapture(readFileSync(new URL(name, FIXTURES)))) {
    const udp = udpFromFrame(frame.linkType, frame.data, reasm, frame.tsMs);
    if (udp === undefined) continue;
    stage.handle(udp.payload, makeSession('file', udp.srcAddr, udp.srcPort, udp.dstPort), frame.tsMs);
  }
  stage.decoder.flush();
  return batches;
}

/** JSON keys whose values the flows table holds in a column of its own (or derives, as scaled counts). */
const COLUMN_KEYS = new Set(
  [
    'sourceTransportPort', 'destinationTransportPort', 'protocolIdentifier', 'tcpControlBits', 'ipClassOfService', 'ingressInterface',
    'egressInterface', 'bgpSourceAsNumber', 'bgpDestinationAsNumber', 'packetDeltaCount', 'packetTotalCount', 'octetDeltaCount',
    'octetTotalCount', 'vlanId', 'dot1qVlanId', 'sourceIPv4Address', 'sourceIPv6Address', 'destinationIPv4Address', 'destinationIPv6Address',
    'sourceMacAddress', 'destinationMacAddress', 'flowStartMilliseconds', 'flowEndMilliseconds', 'flowStartSeconds', 'flowEndSeconds',
    'flowStartSysUpTime', 'flowEndSysUpTime', 'flowStartDeltaMicroseconds', 'flowEndDeltaMicroseconds', 'icmpTypeCodeIPv4',
    'icmpTypeCodeIPv6', 'icmpTypeIPv4', 'icmpCodeIPv4', 'icmpTypeIPv6', 'icmpCodeIPv6', 'samplingInterval', 'flowDirection',
    'flowEndReason', 'sourceIPv4PrefixLength', 'destinationIPv4PrefixLength', 'sourceIPv6PrefixLength', 'destinationIPv6PrefixLength',
    'ipNextHopIPv4Address', 'ipNextHopIPv6Address', 'exporterIPv4Address', 'exporterIPv6Address', 'ipVersion',
    // v5/v7 header facts: the domain column holds engine type and id, the sampling column the interval
    'engineType', 'engineId', 'samplingAlgorithm',
  ].map((n) => `iana:${n}`).concat(['sluice:scaledPacketDeltaCount', 'sluice:scaledOctetDeltaCount', 'sluice:scaledLayer2OctetDeltaCount']),
);

const addr = (v: unknown): string | null => {
  if (v === null) return null;
  const b = Buffer.from(v as Uint8Array);
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return mapped ? ipToString(b, 12, 4) : ipToString(b, 0, 16);
};

for (const capture of ['flowbeat-ipfix_cisco.pcap', 'flowbeat-netflow9_ubiquiti_edgerouter.pcap', 'flowbeat-ipt_netflow_v5.pcap', '../sflow/sflow_issue_15918/message.bin', '../sflow/sflow_issue_15375/sflow_drop_1036.bin', 'telegraf-ipfix_example.pcap']) {
  test(`store rows of ${capture} hold what the JSON shows`, () => {
    const batches = decodeCapture(capture);
    const enc = new StoreEncoder();
    const sampling = new SamplingTracker();
    const json = new Ipfixcol2JsonFormatter({ ignoreUnknown: false, ignoreOptions: false, timestamp: 'unix', protocol: 'raw', tcpFlags: 'raw' });
    const expected: Record<string, unknown>[] = [];
    for (const b of batches) {
      enc.push(b, sampling.rates(b));
      if (b.template.isOptions || b.template.recordType !== undefined) continue;
      for (const line of json.formatBatch(b).split('\n')) if (line !== '') expected.push(JSON.parse(line) as Record<string, unknown>);
    }
    const blocks: ColumnBlock[] = enc.take(true);
    const rows = blocks.filter((bl) => bl.table === 'flows').flatMap((bl) => Array.from({ length: bl.count }, (_, i) => readRow(bl, i)));
    assert.equal(rows.length, expected.length, 'one row per flow record');
    assert.ok(rows.length > 0);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const j = expected[i]!;
      const pick = (...keys: string[]) => keys.map((k) => j[`iana:${k}`]).find((v) => v !== undefined && !(typeof v === 'string' && /^(0\.0\.0\.0|::)$/.test(v)));
      const same = (col: string, want: unknown) => assert.deepEqual(r[col], want ?? null, `${capture} row ${i} ${col}: ${JSON.stringify(j)}`);
      same('src_port', pick('sourceTransportPort'));
      same('dst_port', pick('destinationTransportPort'));
      same('proto', pick('protocolIdentifier'));
      same('tcp_flags', pick('tcpControlBits'));
      same('in_if', pick('ingressInterface'));
      same('out_if', pick('egressInterface'));
      same('src_as', pick('bgpSourceAsNumber'));
      same('dst_as', pick('bgpDestinationAsNumber'));
      same('packets', pick('packetDeltaCount', 'packetTotalCount'));
      same('bytes', pick('octetDeltaCount', 'octetTotalCount'));
      same('vlan', pick('vlanId', 'dot1qVlanId'));
      assert.equal(addr(r.src_addr), pick('sourceIPv4Address', 'sourceIPv6Address') ?? (j['iana:sourceIPv4Address'] ?? j['iana:sourceIPv6Address'] ?? null));
      assert.equal(addr(r.dst_addr), pick('destinationIPv4Address', 'destinationIPv6Address') ?? (j['iana:destinationIPv4Address'] ?? j['iana:destinationIPv6Address'] ?? null));
      const mac = j['iana:sourceMacAddress'];
      if (mac !== undefined) {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(r.src_mac as number));
        assert.equal(macToString(b, 2).toLowerCase(), String(mac).toLowerCase());
      }
      if (j['iana:flowEndMilliseconds'] !== undefined) assert.equal(r.time_end, j['iana:flowEndMilliseconds']);
      // Nothing lost: every element of the record is a column or a key of extra.
      const extra = r.extra === null ? {} : (JSON.parse(r.extra as string) as Record<string, unknown>);
      for (const k of Object.keys(j)) {
        if (k === '@type' || COLUMN_KEYS.has(k)) continue;
        assert.ok(k in extra, `${capture} row ${i}: ${k} is neither a column nor in extra (${String(r.extra)})`);
      }
    }
  });
}

test('options records and sFlow counter samples go to their own tables, whole', () => {
  const enc = new StoreEncoder();
  const sampling = new SamplingTracker();
  for (const b of decodeCapture('telegraf-sflow_v5_example.pcap')) enc.push(b, sampling.rates(b));
  const blocks = enc.take(true);
  const counters = blocks.filter((b) => b.table === 'counters');
  assert.ok(counters.length > 0, 'the capture has counter samples');
  const row = readRow(counters[0]!, 0);
  const rec = JSON.parse(row.record as string) as Record<string, unknown>;
  assert.ok(Object.keys(rec).some((k) => k.startsWith('sluice:if')), `counter fields: ${Object.keys(rec).join(' ')}`);
  assert.equal(row.kind, 'sflow');
});
