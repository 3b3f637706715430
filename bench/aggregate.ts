/**
 * Aggregation records/s: sluice's windows (src, dst, dst_port, proto) over the softflowd-style IPFIX
 * benchmark stream, next to nfdump's `-A srcip,dstip,dstport,proto` aggregation of the same records
 * (captured once by nfcapd over loopback UDP), measured in the same run. The stream's keys are all
 * distinct, so it is sent twice: half the records start an aggregate, half join one.
 *
 *   sluice, aggregate only        batches decoded beforehand; WindowAggregator.add + take
 *   sluice, decode + aggregate    DecodeStage from the datagrams, then aggregation (what `sluice run` does)
 *   nfdump -A                     reads the nfcapd file, aggregates, prints CSV to /dev/null (one process)
 *
 *   node --import tsx bench/aggregate.ts [--quick]
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newTally, WindowAggregator } from '../src/pipeline/aggregate.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession, type FlowBatch } from '../src/wire/batch.js';
import { IeRegistry } from '../src/wire/ie/registry.js';
import { buildIpfixStream, type IpfixStream } from './ipfix-stream.js';
import { freeUdpPort, hasBinary } from './udp.js';

export interface AggregateBenchResult {
  readonly records: number;
  readonly uniqueFlows: number;
  readonly aggregateOnly: number;
  readonly decodeAndAggregate: number;
  readonly nfdump?: { readonly recordsPerSec: number; readonly records: number; readonly rows: number; readonly runs: readonly number[] };
  readonly note?: string;
}

const WINDOW_MS = 10 * 60_000;
const PASSES = 2;

function decodeAll(stream: IpfixStream): FlowBatch[] {
  const out: FlowBatch[] = [];
  const p = new DecodeStage({ registry: IeRegistry.builtin(), onBatch: (b) => out.push(b) });
  const s = makeSession('udp', '192.0.2.1', 9995, 2055);
  for (const d of stream.datagrams) p.handle(d, s, 1_704_067_200_000);
  return out;
}

function best(runs: number, fn: () => number): number {
  let top = 0;
  for (let i = 0; i < runs; i++) top = Math.max(top, fn());
  return top;
}

async function nfdumpPeer(stream: IpfixStream, runs: number): Promise<AggregateBenchResult['nfdump'] | string> {
  if (!hasBinary('nfcapd', ['-V']) || !hasBinary('nfdump', ['-V'])) return 'nfcapd/nfdump not installed (apt-get install nfdump): no peer';
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-agg-'));
  try {
    const port = await freeUdpPort();
    const child = spawn('nfcapd', ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-B', String(4 << 20), '-t', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (log += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (log += s));
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    for (const t0 = Date.now(); !log.includes('Startup'); await new Promise((r) => setTimeout(r, 20))) {
      if (child.exitCode !== null || Date.now() - t0 > 20_000) return `nfcapd did not start: ${log.slice(-500)}`;
    }
    await new Promise((r) => setTimeout(r, 200));
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.connect(port, '127.0.0.1', r));
    // Slowly enough that nothing is dropped: this capture is set-up, not measured.
    for (let pass = 0; pass < PASSES; pass++) {
      for (let i = 0; i < stream.datagrams.length; i++) {
        await new Promise<void>((r) => sock.send(stream.datagrams[i]!, () => r()));
        if (i % 100 === 99) await new Promise((r) => setTimeout(r, 2));
      }
    }
    sock.close();
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGTERM');
    await closed;
    const info = spawnSync('nfdump', ['-R', dir, '-I'], { encoding: 'utf8' });
    const records = Number(/^Flows: (\d+)/m.exec(info.stdout)?.[1] ?? NaN);
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = spawnSync('nfdump', ['-R', dir, '-A', 'srcip,dstip,dstport,proto', '-o', 'csv', '-q'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      const sec = (performance.now() - t0) / 1000;
      if (r.status !== 0) return `nfdump -A failed: ${r.stderr}`;
      rows = r.stdout.split('\n').filter((l) => l !== '').length;
      times.push(records / sec);
    }
    return { recordsPerSec: Math.max(...times), records, rows, runs: times };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runAggregateBench(o: { quick?: boolean } = {}): Promise<AggregateBenchResult> {
  const stream = buildIpfixStream(o.quick ? 2000 : 8000, 25);
  const batches = decodeAll(stream);
  const records = PASSES * batches.reduce((a, b) => a + (b.template.isOptions ? 0 : b.count), 0);
  const runs = o.quick ? 3 : 7;
  let uniqueFlows = 0;
  const aggregateOnly = best(runs, () => {
    const agg = new WindowAggregator(WINDOW_MS, 1_704_067_200_000);
    const tally = newTally();
    const t0 = performance.now();
    for (let pass = 0; pass < PASSES; pass++) for (const b of batches) agg.add(b, tally);
    uniqueFlows = agg.take(1_704_067_200_000 + WINDOW_MS, 'window_end').flows.length;
    return tally.records / ((performance.now() - t0) / 1000);
  });
  const decodeAndAggregate = best(runs, () => {
    const agg = new WindowAggregator(WINDOW_MS, 1_704_067_200_000);
    const tally = newTally();
    const p = new DecodeStage({ registry: IeRegistry.builtin(), onBatch: (b) => agg.add(b, tally) });
    const s = makeSession('udp', '192.0.2.1', 9995, 2055);
    const t0 = performance.now();
    for (let pass = 0; pass < PASSES; pass++) for (const d of stream.datagrams) p.handle(d, s, 1_704_067_200_000);
    agg.take(1_704_067_200_000 + WINDOW_MS, 'window_end');
    return tally.records / ((performance.now() - t0) / 1000);
  });
  const peer = await nfdumpPeer(stream, o.quick ? 2 : 4);
  return typeof peer === 'string' ? { records, uniqueFlows, aggregateOnly, decodeAndAggregate, note: peer } : { records, uniqueFlows, aggregateOnly, decodeAndAggregate, nfdump: peer };
}

export function formatAggregateBench(r: AggregateBenchResult): string {
  const M = (n: number): string => `${(n / 1e6).toFixed(2)} M`;
  const lines = [`\naggregation (src, dst, dst_port, proto), ${r.records} softflowd-style IPFIX records -> ${r.uniqueFlows} aggregated flows, one core`];
  lines.push(`  ${'sluice, aggregate only (decoded beforehand)'.padEnd(50)}${M(r.aggregateOnly).padStart(12)} records/s`);
  lines.push(`  ${'sluice, decode + aggregate'.padEnd(50)}${M(r.decodeAndAggregate).padStart(12)} records/s`);
  if (r.nfdump !== undefined) {
    lines.push(`  ${'nfdump -A srcip,dstip,dstport,proto (file -> CSV)'.padEnd(50)}${M(r.nfdump.recordsPerSec).padStart(12)} records/s   ${r.nfdump.records} records, ${r.nfdump.rows} rows`);
    lines.push(`  ratio sluice decode + aggregate / nfdump -A: ${(r.decodeAndAggregate / r.nfdump.recordsPerSec).toFixed(2)}`);
  } else lines.push(`  ${r.note ?? ''}`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(formatAggregateBench(await runAggregateBench({ quick: process.argv.includes('--quick') })));
}
