/**
 * What exporter truth costs: decode + JSON on one core with and without the per-exporter
 * accounting (sequence numbers, sampling rates, drops, content checks, export delay), alternating,
 * best of several runs each. The goal: within 5 % of the rate without.
 *
 *   node --import tsx bench/truth.ts
 */
import os from 'node:os';
import { Fanout } from '../src/collect/fanout.js';
import { DEFAULT_JSON_OPTIONS } from '../src/format/ipfixcol2-json.js';
import { makeSession } from '../src/wire/batch.js';
import { IeRegistry } from '../src/wire/ie/registry.js';
import { buildIpfixStream } from './ipfix-stream.js';

const stream = buildIpfixStream(4000, 25);
const session = makeSession('udp', '192.0.2.1', 40000, 4739);

function rate(withTruth: boolean, passes: number): number {
  const fanout = new Fanout({
    registry: IeRegistry.builtin(),
    encoders: [{ kind: 'json', formats: [DEFAULT_JSON_OPTIONS] }, ...(withTruth ? [{ kind: 'exporters' as const, captureDrops: false }] : [])],
  });
  const now = 1_704_067_300_000;
  for (const d of stream.datagrams) fanout.handle(d, session, now); // warm-up
  fanout.take(true);
  const t0 = performance.now();
  let records = 0;
  for (let p = 0; p < passes; p++) {
    for (let i = 1; i < stream.datagrams.length; i++) {
      fanout.handle(stream.datagrams[i]!, session, now);
      if ((i & 63) === 0) fanout.take(false);
    }
    fanout.take(true);
    records += stream.records;
  }
  return records / ((performance.now() - t0) / 1000);
}

const runs = 6;
const without: number[] = [];
const withTruth: number[] = [];
for (let r = 0; r < runs; r++) {
  // Alternating, so machine load falls on both alike.
  without.push(rate(false, 5));
  withTruth.push(rate(true, 5));
}
const best = (xs: number[]) => Math.max(...xs);
const M = (x: number) => `${(x / 1e6).toFixed(2)} M`;
console.log(`exporter truth: decode + JSON on one core, best of ${runs} alternating runs; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`  without accounting      ${M(best(without))} records/s`);
console.log(`  with sequence, sampling, checks   ${M(best(withTruth))} records/s   ${((best(withTruth) / best(without)) * 100).toFixed(1)} % of the rate without (goal >= 95 %)`);
