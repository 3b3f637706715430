import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DecodeStage } from '../../src/pipeline/decode.js';
import { rateAt, scaleCount, type BatchRates } from '../../src/model/rates.js';
import { SamplingConfigError, SamplingTracker, type SamplingConfig } from '../../src/pipeline/sampling.js';
import { makeSession, type FlowBatch, type TransportSession } from '../../src/wire/batch.js';
import { encodeNetflow5, IpfixMessageBuilder, Netflow9PacketBuilder, type EncTemplate } from '../../src/wire/encode/ipfix.js';
import { splitDatagrams } from '../../src/wire/framing.js';
import { IeRegistry } from '../../src/wire/ie/registry.js';
import { VARLEN } from '../../src/wire/template.js';

const CORPUS = new URL('../fixtures/corpora/', import.meta.url);
const LOGSTASH = 'logstash-codec-netflow/spec/codecs/';
const registry = IeRegistry.builtin();

interface Seen {
  readonly batch: FlowBatch;
  readonly rates: BatchRates;
}

/**
 * A decoder whose batches get their rates the moment they are decoded (options learned later must
 * not change what an earlier batch got), as the pipeline will do it.
 */
class Rig {
  readonly seen: Seen[] = [];
  readonly tracker: SamplingTracker;
  private readonly pipeline: DecodeStage;

  constructor(config: SamplingConfig = {}) {
    const tracker = (this.tracker = new SamplingTracker(config));
    this.pipeline = new DecodeStage({ registry, onBatch: (b) => this.seen.push({ batch: b, rates: tracker.rates(b) }) });
  }

  feed(buf: Buffer, session: TransportSession): this {
    this.pipeline.handle(buf, session, 1_700_000_000_000);
    return this;
  }

  files(names: readonly string[], session: TransportSession): this {
    for (const n of names) for (const d of splitDatagrams(readFileSync(new URL(n, CORPUS)))) this.feed(d, session);
    return this;
  }

  /** Flow records (not options, not counters) with their rate and its source. */
  flows(): { rate: number; source: string }[] {
    const out: { rate: number; source: string }[] = [];
    for (const { batch, rates } of this.seen) {
      if (rates.source === 'none') continue;
      for (let i = 0; i < batch.count; i++) out.push({ rate: rateAt(rates, i), source: rates.perRecord === undefined ? rates.source : 'mixed' });
    }
    return out;
  }
}

const file = (address = '192.0.2.10') => makeSession('file', address, 0);
const all = <T>(xs: readonly T[], pred: (x: T) => boolean): boolean => xs.length > 0 && xs.every(pred);

test('v5 header sampling interval (Juniper MX80, 1 in 1000)', () => {
  const rig = new Rig().files([LOGSTASH + 'netflow5_test_juniper_mx80.dat'], file());
  const flows = rig.flows();
  assert.equal(flows.length, 29);
  assert.ok(all(flows, (f) => f.rate === 1000 && f.source === 'header'));
  assert.equal(rig.tracker.counts.header, 29);
});

test('v5 header interval 0 says nothing: rate unknown, or the configured default', () => {
  const flows = new Rig().files([LOGSTASH + 'netflow5.dat'], file()).flows();
  assert.ok(all(flows, (f) => f.rate === 1 && f.source === 'unknown'));
  const withDefault = new Rig({ defaults: [{ prefix: '192.0.2.0/24', rate: 64 }] }).files([LOGSTASH + 'netflow5.dat'], file()).flows();
  assert.ok(all(withDefault, (f) => f.rate === 64 && f.source === 'default'));
});

test('sFlow: every flow record carries its sample rate (telegraf issue 15918, 1 in 200)', () => {
  const rig = new Rig().files(['telegraf/plugins/inputs/netflow/testcases/sflow_issue_15918/message.bin'], file());
  const flows = rig.flows();
  assert.equal(flows.length, 6);
  assert.ok(all(flows, (f) => f.rate === 200 && f.source === 'record'));
});

test('sFlow discard events are unsampled and counter records get no rate (telegraf issues 15375, 15918)', () => {
  const drops = new Rig().files(['telegraf/plugins/inputs/netflow/testcases/sflow_issue_15375/sflow_drop_1036.bin'], file());
  assert.deepEqual(drops.flows(), [{ rate: 1, source: 'unsampled' }]);
  assert.equal(drops.tracker.counts.unknown, 0);
  const mixed = new Rig().files(['telegraf/plugins/inputs/netflow/testcases/sflow_issue_15918/message.bin'], file());
  const counters = mixed.seen.filter((x) => x.batch.template.recordType === 'sflow.counters');
  assert.equal(counters.length, 1);
  assert.equal(counters[0]!.rates.source, 'none');
  assert.equal(mixed.tracker.counts.record, 6, 'the six flow records, not the counter record');
});

test('v9 options data (interface-scoped SAMPLING_INTERVAL 100) applies to the domain: netflow9_test_invalid01', () => {
  const rig = new Rig().files([LOGSTASH + 'netflow9_test_invalid01.dat'], file());
  const flows = rig.flows();
  assert.equal(flows.length, 2);
  assert.ok(all(flows, (f) => f.rate === 100 && f.source === 'domain'));
  assert.ok(rig.seen.some((s) => s.rates.source === 'none' && s.batch.template.isOptions), 'the options record itself gets no rate');
});

test('IPFIX selector options (algorithm 1, 305 = 1, 306 = 0): 1 in 1 as the exporter says, ipfix.dat', () => {
  const flows = new Rig().files([LOGSTASH + 'ipfix.dat'], file()).flows();
  assert.ok(flows.length >= 3);
  assert.ok(all(flows, (f) => f.rate === 1 && f.source === 'domain'));
});

/** An IPFIX data template of the exporter's domain, for data after the corpus' options. */
const flowT: EncTemplate = { id: 400, fields: [{ id: 8, length: 4 }, { id: 2, length: 4 }] };
const ipfixData = (domainId: number, sequence = 0) =>
  new IpfixMessageBuilder({ domainId, exportTimeSec: 1_700_000_000, sequence }).templates([flowT]).data(flowT, [
    ['10.0.0.1', 5],
    ['10.0.0.2', 7],
  ]).build();

test('IPFIX domain-wide samplingInterval from options (Juniper MX240, 1 in 1000) rates later data of that domain', () => {
  const rig = new Rig();
  const s = file();
  rig.files([LOGSTASH + 'ipfix_test_juniper_mx240_junos151r6s3_opttpl512.dat', LOGSTASH + 'ipfix_test_juniper_mx240_junos151r6s3_data512.dat'], s);
  const options = rig.seen.find((x) => x.batch.template.isOptions);
  assert.ok(options !== undefined);
  const domainId = options.batch.ctx.domainId;
  rig.feed(ipfixData(domainId), s);
  assert.deepEqual(rig.flows(), [
    { rate: 1000, source: 'domain' },
    { rate: 1000, source: 'domain' },
  ]);
  // Another domain of the same exporter learned nothing.
  rig.feed(ipfixData(domainId + 1), s);
  assert.deepEqual(rig.flows().slice(2), [
    { rate: 1, source: 'unknown' },
    { rate: 1, source: 'unknown' },
  ]);
});

test('v9 options with samplingAlgorithm 2 / interval 1 (Juniper SRX) and 1 / 1 (FortiGate): 1 in 1, learned per domain', () => {
  const srx = new Rig().files([LOGSTASH + 'netflow9_test_juniper_srx_tplopt.dat'], file());
  const o = srx.seen.find((x) => x.batch.template.isOptions)!;
  assert.equal(o.batch.ctx.domain?.samplingInterval, 1);
  assert.equal(o.batch.ctx.domain?.samplingAlgorithm, 2);
  // FortiGate: options with the data that follows them; its flows are rated 1 by the domain, not unknown.
  const forti = new Rig().files(
    [LOGSTASH + 'netflow9_test_fortigate_fortios_521_tpl.dat', LOGSTASH + 'netflow9_test_fortigate_fortios_521_data256.dat', LOGSTASH + 'netflow9_test_fortigate_fortios_521_data257.dat'],
    file(),
  );
  const f = forti.seen.find((x) => x.batch.template.isOptions)!;
  assert.equal(f.batch.ctx.domain?.samplingInterval, 1);
  assert.equal(f.batch.ctx.domain?.samplingAlgorithm, 1);
  const after = forti.seen.slice(forti.seen.indexOf(f) + 1).filter((x) => x.rates.source !== 'none');
  assert.ok(after.length > 0);
  assert.ok(after.every((x) => x.rates.source === 'domain' && x.rates.rate === 1));
});

test('H3C data records carry samplingInterval 0: that says nothing, so the chain goes on', () => {
  const names = [LOGSTASH + 'netflow9_test_h3c_tpl3281.dat', LOGSTASH + 'netflow9_test_h3c_data3281.dat'];
  const rig = new Rig().files(names, file());
  const flows = rig.flows();
  assert.ok(flows.length > 0);
  assert.ok(all(flows, (f) => f.rate === 1 && f.source === 'unknown'));
  assert.equal(rig.tracker.planFor(rig.seen.find((x) => !x.batch.template.isOptions)!.batch.template).kind, 'record');
  const withDefault = new Rig({ defaults: [{ prefix: '::/0', rate: 512 }] }).files(names, file()).flows();
  assert.ok(all(withDefault, (f) => f.rate === 512 && f.source === 'default'));
});

test('v9 sampler options (FLOW_SAMPLER_ID 48, MODE 49, RANDOM_INTERVAL 50) rate the data records naming that sampler (ASR 9000 data)', () => {
  const s = file('198.51.100.7');
  const rig = new Rig();
  // The ASR 9000 capture's data records name sampler 1; its sampler options are not in the corpus,
  // so they are written here, in the same session and source id, as IOS XR sends them.
  const probe = new Rig().files([LOGSTASH + 'netflow9_test_cisco_asr9k_tpl260.dat', LOGSTASH + 'netflow9_test_cisco_asr9k_data260.dat'], s);
  const sourceId = probe.seen[0]!.batch.ctx.domainId;
  const samplerT: EncTemplate = { id: 300, scopeCount: 1, fields: [{ id: 1, length: 4 }, { id: 48, length: 1 }, { id: 49, length: 1 }, { id: 50, length: 4 }] };
  const options = new Netflow9PacketBuilder({ sourceId, unixSecs: 1_700_000_000, sysUpTimeMs: 1000, sequence: 0 })
    .templates([samplerT])
    .data(samplerT, [
      [0, 1, 2, 2000],
      [0, 2, 2, 64],
    ])
    .build();
  rig.feed(options, s);
  rig.files([LOGSTASH + 'netflow9_test_cisco_asr9k_tpl260.dat', LOGSTASH + 'netflow9_test_cisco_asr9k_data260.dat'], s);
  const flows = rig.flows();
  assert.equal(flows.length, 21);
  assert.ok(all(flows, (f) => f.rate === 2000));
  assert.ok(rig.seen.every((x) => x.rates.source === 'none' || x.rates.source === 'sampler'));
  assert.equal(rig.tracker.counts.sampler, 21);
  // Without the options: sampler 1 is unknown, and so is the rate.
  assert.ok(all(probe.flows(), (f) => f.rate === 1 && f.source === 'unknown'));
});

test('records naming different samplers in one batch get a rate each', () => {
  const s = makeSession('udp', '203.0.113.5', 5000, 2055);
  const rig = new Rig();
  const samplerT: EncTemplate = { id: 300, scopeCount: 1, fields: [{ id: 302, length: 4 }, { id: 304, length: 2 }, { id: 309, length: 4 }, { id: 310, length: 4 }, { id: 311, length: 8 }] };
  const dataT: EncTemplate = { id: 301, fields: [{ id: 8, length: 4 }, { id: 82, length: VARLEN }, { id: 302, length: 4 }, { id: 2, length: 4 }] };
  const probability = (p: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(p);
    return b;
  };
  rig.feed(
    new IpfixMessageBuilder({ domainId: 9, exportTimeSec: 1_700_000_000, sequence: 0 })
      .templates([samplerT, dataT])
      .data(samplerT, [
        [7, 3, 1, 64, probability(0)], // random 1 out of 64
        [8, 4, 0, 0, probability(0.01)], // uniform probabilistic, p = 0.01
        [9, 2, 0, 0, probability(0)], // time-based: no packet ratio, not learned
      ])
      .data(dataT, [
        ['10.0.0.1', 'eth0', 7, 1],
        ['10.0.0.2', 'a-much-longer-interface-name', 8, 1],
        ['10.0.0.3', '', 9, 1],
        ['10.0.0.4', 'x', 7, 1],
      ])
      .build(),
    s,
  );
  const data = rig.seen.find((x) => x.batch.template.id === 301)!;
  assert.equal(data.rates.source, 'mixed');
  // Sampler 9 is unknown: the domain's last announced rate (sampler 8's) stands in for it.
  assert.deepEqual([0, 1, 2, 3].map((i) => rateAt(data.rates, i)), [64, 100, 100, 64]);
  assert.equal(rig.tracker.counts.sampler, 3);
  assert.equal(rig.tracker.counts.domain, 1);
  const plan = rig.tracker.planFor(data.batch.template);
  assert.equal(plan.kind, 'record');
  assert.equal(plan.samplerOffset, -1, 'a variable-length field precedes the selector id');
});

test('hash-based selection (RFC 5475): the selected share of the output range', () => {
  const rig = new Rig();
  const s = makeSession('udp', '203.0.113.6', 5000, 4739);
  const t: EncTemplate = { id: 310, scopeCount: 1, fields: [{ id: 302, length: 4 }, { id: 304, length: 2 }, { id: 329, length: 8 }, { id: 330, length: 8 }, { id: 331, length: 8 }, { id: 332, length: 8 }] };
  rig.feed(new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_700_000_000, sequence: 0 }).templates([t]).data(t, [[1, 6, 0n, 65535n, 0n, 255n]]).build(), s);
  assert.equal(rig.seen[0]!.batch.ctx.domain?.samplers.get(1), 256);
});

test('overrides win over everything the exporter says; the longest prefix applies', () => {
  const config: SamplingConfig = {
    overrides: [
      { prefix: '192.0.2.0/24', rate: 10 },
      { prefix: '192.0.2.10', rate: 20 },
      { prefix: '2001:db8::/32', rate: 30 },
    ],
  };
  // The Juniper MX80 header says 1000; the configuration says otherwise.
  const a = new Rig(config).files([LOGSTASH + 'netflow5_test_juniper_mx80.dat'], file('192.0.2.10')).flows();
  assert.ok(all(a, (f) => f.rate === 20 && f.source === 'override'));
  const b = new Rig(config).files([LOGSTASH + 'netflow5_test_juniper_mx80.dat'], file('192.0.2.11')).flows();
  assert.ok(all(b, (f) => f.rate === 10 && f.source === 'override'));
  // An IPv4 exporter seen on a dual-stack socket as ::ffff:a.b.c.d matches IPv4 prefixes.
  const c = new Rig(config).files([LOGSTASH + 'netflow5_test_juniper_mx80.dat'], file('::ffff:192.0.2.99')).flows();
  assert.ok(all(c, (f) => f.rate === 10 && f.source === 'override'));
  const d = new Rig(config).files(['telegraf/plugins/inputs/netflow/testcases/sflow_issue_15918/message.bin'], file('2001:db8:1::1')).flows();
  assert.ok(all(d, (f) => f.rate === 30 && f.source === 'override'));
  const e = new Rig(config).files([LOGSTASH + 'netflow5_test_juniper_mx80.dat'], file('198.51.100.1')).flows();
  assert.ok(all(e, (f) => f.rate === 1000 && f.source === 'header'));
});

test('records that are not traffic get no rate and are not counted', () => {
  const rig = new Rig().files([LOGSTASH + 'netflow9_test_juniper_srx_tplopt.dat'], file());
  assert.ok(rig.seen.length > 0);
  assert.ok(rig.seen.every((x) => x.rates.source === 'none'));
  assert.deepEqual(Object.values(rig.tracker.counts).reduce((a, b) => a + b, 0), 0);
});

test('a v5 batch with one rate allocates no per-record array', () => {
  const rig = new Rig();
  rig.feed(
    encodeNetflow5({ sysUpTimeMs: 10_000, unixSecs: 1_700_000_000, sequence: 0, sampling: (1 << 14) | 250 }, [
      { src: '10.0.0.1', dst: '10.0.0.2', packets: 3, octets: 300, firstMs: 1000, lastMs: 2000, srcPort: 1, dstPort: 2, protocol: 6 },
      { src: '10.0.0.3', dst: '10.0.0.4', packets: 4, octets: 400, firstMs: 1000, lastMs: 2000, srcPort: 1, dstPort: 2, protocol: 17 },
    ]),
    file(),
  );
  assert.deepEqual(rig.seen[0]!.rates, { rate: 250, source: 'header' });
});

test('configuration errors name the entry', () => {
  assert.throws(() => new SamplingTracker({ overrides: [{ prefix: 'not-an-address', rate: 2 }] }), (e: unknown) => e instanceof SamplingConfigError && e.path === 'overrides[0].prefix');
  assert.throws(() => new SamplingTracker({ defaults: [{ prefix: '::/0', rate: 1 }, { prefix: '10.0.0.0/33', rate: 2 }] }), (e: unknown) => e instanceof SamplingConfigError && e.path === 'defaults[1].prefix');
  assert.throws(() => new SamplingTracker({ overrides: [{ prefix: '10.0.0.0/8', rate: 0.5 }] }), (e: unknown) => e instanceof SamplingConfigError && e.path === 'overrides[0].rate');
  assert.throws(() => new SamplingTracker({ overrides: [{ prefix: '10.0.0.0/8x', rate: 2 }] }), SamplingConfigError);
});

test('scaleCount: count x rate, whole numbers, bigints stay bigints', () => {
  assert.equal(scaleCount(3, 1000), 3000);
  assert.equal(scaleCount(7, 1), 7);
  assert.equal(scaleCount(5, 2.5), 13); // 12.5 rounds half up
  assert.equal(scaleCount(2n ** 60n, 4), 2n ** 62n);
  assert.equal(scaleCount(10n, 2.5), 25n);
  assert.equal(scaleCount(3n, 1 / 3 + 1), 4n);
});
