/**
 * Aggregation over FlowBatches made by the real decoders from encoded IPFIX, NetFlow v5 and sFlow:
 * keys, ICMP type/code, counts, first/last seen, class D, window boundaries on an injected clock,
 * flush on stop, sFlow scaled counters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newTally, WindowAggregator, type AggregatedFlow } from '../src/pipeline/aggregate.js';
import { Decoded, T4, T4ICMP, T4VAR, T6 } from './helpers/flows.js';
import { makeDelivery, metric, pceTarget, startPce, tempDir } from './helpers/delivery-env.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0); // a window boundary for 1, 5, 10 … minute windows
const MIN = 60_000;

function keyOf(f: AggregatedFlow): string {
  return f.icmpType < 0 ? `${f.srcIp} ${f.dstIp} ${f.dstPort} ${f.proto}` : `${f.srcIp} ${f.dstIp} ${f.dstPort} ${f.proto} icmp ${f.icmpType}/${f.icmpCode}`;
}

function byKey(flows: readonly AggregatedFlow[]): Map<string, AggregatedFlow> {
  return new Map(flows.map((f) => [keyOf(f), f]));
}

test('aggregation key: src, dst, dst_port, protocol; counts, packets, bytes, first and last seen', () => {
  const dec = new Decoded();
  const agg = new WindowAggregator(10 * MIN, T0 + 1000);
  const tally = newTally();
  const at = T0 + 5000;
  const batches = dec.ipfix(
    T4,
    [
      { src: '10.1.0.1', dst: '10.2.0.1', sport: 50000, dport: 443, proto: 6, packets: 10, bytes: 1000, start: T0 + 100, end: T0 + 900 },
      // a different source port: same key
      { src: '10.1.0.1', dst: '10.2.0.1', sport: 50001, dport: 443, proto: 6, packets: 5, bytes: 500, start: T0 + 50, end: T0 + 700 },
      { src: '10.1.0.1', dst: '10.2.0.1', sport: 50002, dport: 443, proto: 6, packets: 1, bytes: 40, start: T0 + 300, end: T0 + 2000 },
      // protocol differs
      { src: '10.1.0.1', dst: '10.2.0.1', dport: 443, proto: 17, packets: 2, bytes: 200 },
      // port differs
      { src: '10.1.0.1', dst: '10.2.0.1', dport: 80, proto: 6, packets: 1, bytes: 60 },
      // direction differs
      { src: '10.2.0.1', dst: '10.1.0.1', dport: 443, proto: 6, packets: 1, bytes: 60 },
    ],
    at,
  );
  for (const b of batches) agg.add(b, tally);
  assert.equal(tally.records, 6);
  const w = agg.take(T0 + 10 * MIN, 'window_end');
  assert.equal(w.records, 6);
  assert.equal(w.startMs, T0);
  assert.equal(w.endMs, T0 + 10 * MIN);
  const m = byKey(w.flows);
  assert.equal(m.size, 4);
  const a = m.get('10.1.0.1 10.2.0.1 443 6')!;
  assert.deepEqual({ flows: a.flows, packets: a.packets, bytes: a.bytes, first: a.firstMs, last: a.lastMs }, { flows: 3, packets: 16, bytes: 1540, first: T0 + 50, last: T0 + 2000 });
  assert.equal(m.get('10.1.0.1 10.2.0.1 443 17')!.packets, 2);
  assert.equal(m.get('10.1.0.1 10.2.0.1 80 6')!.bytes, 60);
  assert.equal(m.get('10.2.0.1 10.1.0.1 443 6')!.flows, 1);
  assert.equal(agg.size, 0, 'take() empties the window');
});

test('IPv6 and variable-length templates give the same keys', () => {
  const dec = new Decoded();
  const agg = new WindowAggregator(MIN, T0);
  const tally = newTally();
  for (const b of dec.ipfix(T6, [{ src: '2001:db8::1', dst: '2001:db8:0:0:1::2', dport: 22, packets: 7, bytes: 700 }, { src: '::ffff:192.0.2.7', dst: '2001:db8::2', dport: 22 }], T0 + 1)) agg.add(b, tally);
  for (const b of dec.ipfix(T4VAR, [{ src: '192.0.2.1', dst: '192.0.2.2', dport: 25, packets: 4, bytes: 400 }, { src: '192.0.2.1', dst: '192.0.2.2', dport: 25, packets: 1, bytes: 100 }], T0 + 2)) agg.add(b, tally);
  const m = byKey(agg.take(T0 + MIN, 'window_end').flows);
  assert.equal(m.get('2001:db8::1 2001:db8::1:0:0:2 22 6')?.packets, 7);
  assert.ok(m.has('192.0.2.7 2001:db8::2 22 6'), 'IPv4-mapped IPv6 is written as IPv4');
  const v = m.get('192.0.2.1 192.0.2.2 25 6')!;
  assert.deepEqual([v.flows, v.packets, v.bytes], [2, 5, 500]);
  // no times in T4VAR: first/last seen fall back to the receive time
  assert.equal(v.firstMs, T0 + 2);
  assert.equal(v.lastMs, T0 + 2);
});

test('ICMP: type/code from icmpTypeCodeIPv4, or from the NetFlow v5 destination port; dst_port 0 in the key', () => {
  const dec = new Decoded();
  const agg = new WindowAggregator(MIN, T0);
  const tally = newTally();
  for (const b of dec.ipfix(T4ICMP, [{ src: '10.0.0.1', dst: '10.0.0.2', icmp: 0x0800 }, { src: '10.0.0.1', dst: '10.0.0.2', icmp: 0x0800 }, { src: '10.0.0.2', dst: '10.0.0.1', icmp: 0x0000 }, { src: '10.0.0.1', dst: '10.0.0.3', icmp: 0x0303 }], T0 + 1)) agg.add(b, tally);
  // NetFlow v5 has no ICMP fields: exporters put type * 256 + code in the destination port.
  const v5 = dec.netflow5(
    { sysUpTimeMs: 100_000, unixSecs: Math.floor(T0 / 1000) + 1, sequence: 1 },
    [
      { src: '10.0.5.1', dst: '10.0.5.2', packets: 1, octets: 84, firstMs: 99_000, lastMs: 99_500, srcPort: 0, dstPort: 0x0b00, protocol: 1 },
      { src: '10.0.5.1', dst: '10.0.5.2', packets: 3, octets: 300, firstMs: 98_000, lastMs: 99_900, srcPort: 1234, dstPort: 80, protocol: 6 },
    ],
    T0 + 2,
  );
  for (const b of v5) agg.add(b, tally);
  const m = byKey(agg.take(T0 + MIN, 'window_end').flows);
  assert.equal(m.get('10.0.0.1 10.0.0.2 0 1 icmp 8/0')?.flows, 2);
  assert.equal(m.get('10.0.0.2 10.0.0.1 0 1 icmp 0/0')?.flows, 1);
  assert.equal(m.get('10.0.0.1 10.0.0.3 0 1 icmp 3/3')?.flows, 1);
  assert.equal(m.get('10.0.5.1 10.0.5.2 0 1 icmp 11/0')?.bytes, 84);
  const tcp = m.get('10.0.5.1 10.0.5.2 80 6')!;
  assert.equal(tcp.packets, 3);
  // v5 times are sysUpTime-relative: 98 s of 100 s uptime = 2 s before the export time
  assert.equal(tcp.firstMs, (Math.floor(T0 / 1000) + 1) * 1000 - 2000);
  assert.equal(tcp.lastMs, (Math.floor(T0 / 1000) + 1) * 1000 - 100);
});

test('class D (multicast) source or destination is dropped and counted, IPv4 and IPv6', () => {
  const dec = new Decoded();
  const agg = new WindowAggregator(MIN, T0);
  const tally = newTally();
  for (const b of dec.ipfix(T4, [{ src: '10.0.0.1', dst: '224.0.0.251' }, { src: '239.1.2.3', dst: '10.0.0.1' }, { src: '10.0.0.1', dst: '223.255.255.255' }, { src: '10.0.0.1', dst: '240.0.0.1' }], T0)) agg.add(b, tally);
  for (const b of dec.ipfix(T6, [{ src: 'fe80::1', dst: 'ff02::fb' }, { src: 'ff05::2', dst: '2001:db8::1' }, { src: '2001:db8::1', dst: 'fe00::1' }], T0)) agg.add(b, tally);
  assert.equal(tally.records, 7);
  assert.equal(tally.classD, 4);
  const keys = [...byKey(agg.take(T0 + MIN, 'window_end').flows).keys()].sort();
  assert.deepEqual(keys, ['10.0.0.1 223.255.255.255 443 6', '10.0.0.1 240.0.0.1 443 6', '2001:db8::1 fe00::1 443 6']);
});

test('sFlow: aggregates use the counts scaled by the sampling rate; counter samples are not flows', () => {
  const dec = new Decoded();
  const agg = new WindowAggregator(MIN, T0);
  const tally = newTally();
  const sample = (seq: number, rate: number, len: number) => ({
    kind: 'flow' as const,
    sequence: seq,
    sourceIndex: 3,
    samplingRate: rate,
    samplePool: seq * rate,
    drops: 0,
    input: 3,
    output: 4,
    records: [{ type: 'ipv4' as const, length: len, protocol: 6, src: '10.9.0.1', dst: '10.9.0.2', srcPort: 33333, dstPort: 443, tcpFlags: 0x18, tos: 0 }],
  });
  const counters = {
    kind: 'counters' as const,
    sequence: 1,
    sourceIndex: 3,
    records: [{ type: 'processor' as const, cpu5s: 100, cpu1m: 100, cpu5m: 100, totalMemory: 1000, freeMemory: 500 }],
  };
  const batches = dec.sflow({ agent: '192.0.2.99', subAgentId: 0, sequence: 1, uptimeMs: 1000, samples: [sample(1, 512, 1500), sample(2, 512, 40), counters] }, T0 + 10);
  for (const b of batches) agg.add(b, tally);
  assert.equal(tally.ignored, 1, 'the counter sample is ignored');
  const f = byKey(agg.take(T0 + MIN, 'window_end').flows).get('10.9.0.1 10.9.0.2 443 6')!;
  assert.equal(f.flows, 2);
  assert.equal(f.packets, 2 * 512);
  assert.equal(f.bytes, (1500 + 40) * 512);
  assert.equal(f.firstMs, T0 + 10);
});

test('the key table is bounded: a full window is closed early', () => {
  const dec = new Decoded();
  const agg = new WindowAggregator(MIN, T0, 3);
  const tally = newTally();
  for (const b of dec.ipfix(T4, [1, 2, 3].map((i) => ({ src: `10.0.0.${i}`, dst: '10.0.1.1' })), T0)) agg.add(b, tally);
  assert.ok(agg.full);
});

test('windows: aligned to the clock, closed at their end (injected clock), flushed on stop', async (t) => {
  const pce = await startPce(t);
  let clock = T0 + 2 * MIN; // two minutes into a 5-minute window
  const { delivery, metrics } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce), over: { aggregationMinutes: 5, now: () => clock } });
  await delivery.start();
  const dec = new Decoded();
  const push = (src: string, at: number): void => {
    for (const b of dec.ipfix(T4, [{ src, dst: '10.0.0.254', dport: 80, start: at - 10, end: at - 5 }], at)) delivery.push(b);
  };
  push('10.0.0.1', clock);
  clock = T0 + 5 * MIN - 1; // last millisecond of the window
  push('10.0.0.2', clock);
  await delivery.whenIdle();
  assert.equal(pce.requests.length, 0, 'nothing is sent before the window ends');
  clock = T0 + 5 * MIN; // the next window starts: the first is closed on the next push
  push('10.0.0.3', clock);
  await delivery.whenIdle();
  await pce.waitFor(() => pce.accepted.length === 1);
  assert.deepEqual([...pce.acceptedLines()].sort(), ['10.0.0.1,10.0.0.254,80,6', '10.0.0.2,10.0.0.254,80,6']);
  assert.equal(await metric(metrics, 'sluice_aggregation_windows_flushed_total', { reason: 'window_end' }), 1);
  clock = T0 + 7 * MIN;
  await delivery.stop();
  assert.deepEqual(pce.accepted.map((r) => r.lines), [['10.0.0.1,10.0.0.254,80,6', '10.0.0.2,10.0.0.254,80,6'], ['10.0.0.3,10.0.0.254,80,6']]);
  assert.equal(await metric(metrics, 'sluice_aggregation_windows_flushed_total', { reason: 'stop' }), 1);
  assert.equal(await metric(metrics, 'sluice_aggregation_flows_total'), 3);
});

test('windows: the timer closes a window at its end without further input', async (t) => {
  const pce = await startPce(t);
  // A real clock and a 1-minute window would take too long; a clock 200 ms before the boundary does not.
  const base = Date.now();
  const offset = T0 + MIN - 200 - base;
  const { delivery } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce), over: { aggregationMinutes: 1, now: () => Date.now() + offset } });
  await delivery.start();
  for (const b of new Decoded().ipfix(T4, [{ src: '10.7.0.1', dst: '10.7.0.2', dport: 7 }], T0 + MIN - 200)) delivery.push(b);
  await pce.waitFor(() => pce.accepted.length === 1, 5000, 'the timer flush');
  assert.deepEqual(pce.acceptedLines(), ['10.7.0.1,10.7.0.2,7,6']);
});
