/**
 * The JSON option scaledCounters: flow records gain sluice:samplingRate and their octet and packet
 * delta counts scaled by it, interpreted and compiled alike; nothing changes without the option,
 * without rates, for options records, or for sFlow records (which carry scaled counts already).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ByteOutput } from '../../src/format/byte-output.js';
import { Ipfixcol2JsonFormatter, type FormatterLimits, type JsonFormatOptions } from '../../src/format/ipfixcol2-json.js';
import { parseFormatSpec } from '../../src/format/spec.js';
import type { BatchRates } from '../../src/model/rates.js';
import { DecodeStage } from '../../src/pipeline/decode.js';
import { SamplingTracker } from '../../src/pipeline/sampling.js';
import { makeSession, type FlowBatch } from '../../src/wire/batch.js';
import { encodeNetflow5, IpfixMessageBuilder, type EncTemplate } from '../../src/wire/encode/ipfix.js';
import { splitDatagrams } from '../../src/wire/framing.js';
import { IeRegistry, protocolKeyword } from '../../src/wire/ie/registry.js';
import { REVERSE_PEN } from '../../src/wire/ie/types.js';
import { runSluice } from '../helpers/cli.js';

const reg = IeRegistry.builtin();
const NOW = 1_700_000_000_000;
const INTERPRETED: Partial<FormatterLimits> = { hotRecords: Number.POSITIVE_INFINITY };
const COMPILED: Partial<FormatterLimits> = { hotRecords: 0 };

function decode(datagrams: readonly Buffer[]): FlowBatch[] {
  const out: FlowBatch[] = [];
  const stage = new DecodeStage({ registry: reg, onBatch: (b) => out.push(b) });
  const s = makeSession('udp', '192.0.2.7', 9000, 4739);
  for (const d of datagrams) stage.handle(d, s, NOW);
  return out;
}

/** JSON objects of a batch through the byte path, under both ways of running a layout; they must agree. */
function records(b: FlowBatch, o: Partial<JsonFormatOptions>, rates: BatchRates | undefined): Record<string, unknown>[] {
  const texts = [INTERPRETED, COMPILED].map((limits) => {
    const out = new ByteOutput(256);
    new Ipfixcol2JsonFormatter(o, protocolKeyword, limits).formatBatchInto(b, out, rates);
    return Buffer.from(out.view()).toString('utf8');
  });
  assert.equal(texts[0], texts[1], 'interpreted and compiled layouts write the same bytes');
  return texts[0]!
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

// octetDeltaCount as 8 bytes (past 2^53 once scaled), packetDeltaCount as 4, a variable-length field
// in front so the compiled code reads offsets at run time too.
const flowT: EncTemplate = { id: 300, fields: [{ id: 82, length: 65535 }, { id: 8, length: 4 }, { id: 1, length: 8 }, { id: 2, length: 4 }] };
const flows = decode([
  new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_700_000_000, sequence: 0 })
    .templates([flowT])
    .data(flowT, [
      ['eth0', '10.0.0.1', 1500n, 3],
      ['eth1', '10.0.0.2', 2n ** 60n, 7],
    ])
    .build(),
]).filter((b) => !b.template.isOptions);

test('scaledCounters adds the rate and the counts times it; default JSON unchanged', () => {
  assert.equal(flows.length, 1);
  const b = flows[0]!;
  const plain = records(b, {}, { rate: 10, source: 'header' });
  assert.ok(plain.every((r) => !Object.keys(r).some((k) => k.startsWith('sluice:'))), 'the default stays IPFIXcol2 JSON');
  const [a, big] = records(b, { scaledCounters: true }, { rate: 10, source: 'header' });
  assert.equal(a!['sluice:samplingRate'], 10);
  assert.equal(a!['sluice:scaledOctetDeltaCount'], 15000);
  assert.equal(a!['sluice:scaledPacketDeltaCount'], 30);
  assert.equal(a!['iana:octetDeltaCount'], 1500, 'the counts as sent stay as sent');
  assert.equal(big!['sluice:scaledPacketDeltaCount'], 70);
  // 2^60 x 10 is past 2^53: written exactly (the parser rounds, so compare the text).
  const text = new Ipfixcol2JsonFormatter({ scaledCounters: true }, protocolKeyword).formatBatch(b, { rate: 10, source: 'header' });
  assert.match(text, new RegExp(`"sluice:scaledOctetDeltaCount":${(2n ** 60n * 10n).toString()}[,}]`));
});

test('per-record rates, fractional ones rounded; numericNames keys', () => {
  const b = flows[0]!;
  const [a, c] = records(b, { scaledCounters: true, numericNames: true }, { rate: NaN, source: 'mixed', perRecord: Float64Array.from([1, 2.5]) });
  assert.equal(a!['en4294967293:id19'], 1);
  assert.equal(a!['en4294967293:id2'], 1500);
  assert.equal(c!['en4294967293:id19'], 2.5);
  assert.equal(c!['en4294967293:id1'], 18, '7 x 2.5 = 17.5, rounded');
});

test('no rates, or records that are not traffic: nothing added', () => {
  const b = flows[0]!;
  for (const rates of [undefined, { rate: 1, source: 'none' } as const]) {
    for (const r of records(b, { scaledCounters: true }, rates)) assert.ok(!('sluice:samplingRate' in r));
  }
});

test('NetFlow v5 with the header interval: the sampling tracker rate reaches the JSON (collect and decode path)', () => {
  const v5 = encodeNetflow5(
    { sysUpTimeMs: 100_000, unixSecs: 1_700_000_000, sequence: 1, sampling: 0x4000 | 100 },
    [{ src: '10.1.0.1', dst: '10.2.0.1', packets: 4, octets: 600, firstMs: 90_000, lastMs: 99_000, srcPort: 1000, dstPort: 53, protocol: 17 }],
  );
  const [b] = decode([v5]);
  const tracker = new SamplingTracker();
  const [r] = records(b!, parseFormatSpec('json,scaledCounters'), tracker.rates(b!));
  assert.equal(r!['iana:samplingInterval'], 100, 'the header as sent');
  assert.equal(r!['sluice:samplingRate'], 100);
  assert.equal(r!['sluice:scaledOctetDeltaCount'], 60_000);
  assert.equal(r!['sluice:scaledPacketDeltaCount'], 400);
});

test('sFlow records keep their own scaled counts: none added, no key twice', () => {
  const corpus = new URL('../fixtures/corpora/telegraf/plugins/inputs/netflow/testcases/sflow_issue_15918/message.bin', import.meta.url);
  const bs = decode(splitDatagrams(readFileSync(corpus)));
  const tracker = new SamplingTracker();
  let n = 0;
  for (const b of bs) {
    const rates = tracker.rates(b);
    const out = new ByteOutput(256);
    new Ipfixcol2JsonFormatter({ scaledCounters: true }, protocolKeyword).formatBatchInto(b, out, rates);
    for (const line of Buffer.from(out.view()).toString('utf8').split('\n').filter((l) => l !== '')) {
      assert.equal((line.match(/"sluice:scaledPacketDeltaCount"/g) ?? []).length <= 1, true, line);
      assert.ok(!line.includes('"sluice:samplingRate"'), line);
      n++;
    }
  }
  assert.ok(n >= 6);
});

test('biflow split: the reverse record scales the reverse counts', () => {
  const t: EncTemplate = {
    id: 301,
    fields: [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 1, length: 4 }, { id: 1, pen: REVERSE_PEN, length: 4 }],
  };
  const [b] = decode([new IpfixMessageBuilder({ domainId: 2, exportTimeSec: 1_700_000_000, sequence: 0 }).templates([t]).data(t, [['10.0.0.1', '10.0.0.2', 100, 40]]).build()]).filter((x) => !x.template.isOptions);
  const [fwd, rev] = records(b!, { scaledCounters: true, splitBiflow: true }, { rate: 3, source: 'default' });
  assert.equal(fwd!['sluice:scaledOctetDeltaCount'], 300);
  assert.equal(rev!['sluice:scaledOctetDeltaCount'], 120);
  assert.equal(rev!['iana:octetDeltaCount'], 40);
});

test('--format json,scaledCounters parses; a misspelling is named', () => {
  assert.deepEqual(parseFormatSpec('json,scaledCounters'), { scaledCounters: true });
  assert.throws(() => parseFormatSpec('json,scaledcounter'), /unknown option "scaledcounter"/);
});

test('sluice decode -f json,scaledCounters: the Juniper MX80 capture (v5, 1 in 1000) scaled through the decode pipeline', async () => {
  const file = new URL('../fixtures/corpora/logstash-codec-netflow/spec/codecs/netflow5_test_juniper_mx80.dat', import.meta.url).pathname;
  const r = await runSluice(['decode', '-f', 'json,scaledCounters', file]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, number>);
  assert.equal(lines.length, 29);
  for (const l of lines) {
    assert.equal(l['sluice:samplingRate'], 1000);
    assert.equal(l['sluice:scaledOctetDeltaCount'], l['iana:octetDeltaCount']! * 1000);
    assert.equal(l['sluice:scaledPacketDeltaCount'], l['iana:packetDeltaCount']! * 1000);
  }
});
