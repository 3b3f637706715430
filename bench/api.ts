/**
 * The HTTP API's latency on a big store: top N and series, p50/p95 over 100 requests each.
 *
 * The bench store: 1153 synthetic flow blocks of 2048 rows (2,361,344 flows, the store tests'
 * generator, test/store/helpers/synthetic.ts: a few exporters, ~1 M distinct IPv4 sources, some
 * IPv6, TCP/UDP on a handful of ports), one flow every 36 ms over 23.6 hours ending at the last
 * whole minute, written by the store's own writer (StoreWriter) into zstd Parquet segments; the
 * queries ask for the last 24 h and the last hour of it. The API runs in this process on
 * loopback with its cache off (every request is a query; a cached answer is measured apart), and
 * requests go one at a time, so each latency is one query's with nothing else running.
 *
 *   node --import tsx bench/api.ts [--requests N] [--blocks N] [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { fileExporters } from '../src/api/exporters.js';
import { directoryHealth } from '../src/api/health.js';
import { HttpServer } from '../src/api/server.js';
import { ApiV1 } from '../src/api/v1.js';
import { QueryEngine } from '../src/query/engine.js';
import { storeSegments } from '../src/query/segments.js';
import { StoreWriter } from '../src/store/writer.js';
import { syntheticFlowBlocks } from '../test/store/helpers/synthetic.js';

export interface ApiBenchOptions {
  /** Requests per case (default 100). */
  readonly requests?: number;
  /** Flow blocks of 2048 rows in the store (default 1153: 2.36 M flows). */
  readonly blocks?: number;
}

export interface ApiBenchCase {
  readonly name: string;
  readonly path: string;
  /** Client-side latency per request, ms: p50, p95, max; and the query's own duration (durationMs) p50. */
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  readonly queryP50: number;
  readonly requests: number;
}

export interface ApiBenchResult {
  readonly flows: number;
  /** Hours the flows span, ending when the bench started. */
  readonly spanHours: number;
  readonly segments: number;
  readonly bytes: number;
  readonly buildSec: number;
  readonly cases: readonly ApiBenchCase[];
  /** A cached answer of the first case: latency p50 over the same number of requests. */
  readonly cachedP50: number;
}

const STEP_MS = 36;
const CHUNK_BLOCKS = 64;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Writes `blocks` synthetic blocks ending at `endMs` into a new store under `dir`. */
async function buildStore(dir: string, blocks: number, endMs: number): Promise<{ flows: number; segments: number; bytes: number; spanHours: number }> {
  const w = await StoreWriter.open(dir, { flushIntervalMs: 3_600_000, maintenanceIntervalMs: 3_600_000, maxBufferedRows: CHUNK_BLOCKS * 2048 + 1 });
  const startMs = endMs - blocks * 2048 * STEP_MS;
  try {
    for (let at = 0; at < blocks; at += CHUNK_BLOCKS) {
      const n = Math.min(CHUNK_BLOCKS, blocks - at);
      for (const b of syntheticFlowBlocks(n, { seed: 1000 + at, startMs: startMs + at * 2048 * STEP_MS, stepMs: STEP_MS })) w.append(b);
      await w.flush();
    }
    const s = w.stats();
    return { flows: s.rowsWritten, segments: s.segments, bytes: s.bytes, spanHours: (blocks * 2048 * STEP_MS) / 3_600_000 };
  } finally {
    await w.close();
  }
}

async function timeRequests(url: string, n: number): Promise<{ latencies: number[]; durations: number[] }> {
  const latencies: number[] = [];
  const durations: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    const body = (await res.json()) as { durationMs?: number; error?: string };
    latencies.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${body.error ?? ''}`);
    durations.push(body.durationMs ?? NaN);
  }
  return { latencies, durations };
}

export async function runApiBench(o: ApiBenchOptions & { quick?: boolean } = {}): Promise<ApiBenchResult> {
  const requests = o.requests ?? (o.quick === true ? 20 : 100);
  const blocks = o.blocks ?? (o.quick === true ? 200 : 1153);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-api-'));
  try {
    const t0 = performance.now();
    // Windows end where the flows end (not at the clock, which moves on while the bench runs).
    const endMs = Math.floor(Date.now() / 60_000) * 60_000;
    const built = await buildStore(dir, blocks, endMs);
    const last = (hours: number): string => `${new Date(endMs - hours * 3_600_000).toISOString()}/${new Date(endMs).toISOString()}`;
    const day = encodeURIComponent(last(24));
    const hour = encodeURIComponent(last(1));
    const buildSec = (performance.now() - t0) / 1000;
    const engine = await QueryEngine.open({ segments: storeSegments(dir) });
    const server = new HttpServer({ host: '127.0.0.1', port: 0, ratePerSecond: 1_000_000 });
    new ApiV1({ engine, exporters: fileExporters(join(dir, 'state')), health: directoryHealth(dir, engine), cacheMs: 0, timeLimitMs: 120_000 }).mount(server);
    await server.listen();
    const cached = new HttpServer({ host: '127.0.0.1', port: 0, ratePerSecond: 1_000_000 });
    new ApiV1({ engine, exporters: fileExporters(join(dir, 'state')), health: directoryHealth(dir, engine), cacheMs: 3_600_000 }).mount(cached);
    await cached.listen();
    try {
      const cases: Array<[string, string]> = [
        ['top 10 source addresses by bytes, 24 h', `/api/v1/top?t=${day}&dim=srcip&unit=bps&top=10`],
        ['top 10 destination ports by bytes, 24 h', `/api/v1/top?t=${day}&dim=dstport&unit=bps&top=10`],
        ['series: top 10 source addresses + other, 24 h (10 min steps)', `/api/v1/series?t=${day}&dim=srcip&unit=bps&top=10`],
        ['series: top 10 destination ports + other, 24 h (10 min steps)', `/api/v1/series?t=${day}&dim=dstport&unit=bps&top=10`],
        ['top 10 source addresses by bytes, last 1 h (100 k flows)', `/api/v1/top?t=${hour}&dim=srcip&unit=bps&top=10`],
        ['series: top 10 source addresses + other, 1 h (30 s steps)', `/api/v1/series?t=${hour}&dim=srcip&unit=bps&top=10`],
      ];
      const out: ApiBenchCase[] = [];
      for (const [name, path] of cases) {
        await timeRequests(`${server.url}${path}`, 2); // warm-up: the file system cache and DuckDB's metadata
        const { latencies, durations } = await timeRequests(`${server.url}${path}`, requests);
        const l = [...latencies].sort((a, b) => a - b);
        const d = [...durations].sort((a, b) => a - b);
        out.push({ name, path, p50: quantile(l, 0.5), p95: quantile(l, 0.95), max: l[l.length - 1]!, queryP50: quantile(d, 0.5), requests });
      }
      const c = await timeRequests(`${cached.url}${cases[0]![1]}`, requests + 1);
      const cachedP50 = quantile(c.latencies.slice(1).sort((a, b) => a - b), 0.5);
      return { ...built, buildSec, cases: out, cachedP50 };
    } finally {
      await server.stop();
      await cached.stop();
      engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatApiBench(r: ApiBenchResult): string {
  const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`.padStart(9);
  const lines = [
    `HTTP API latency (bench/api.ts): ${(r.flows / 1e6).toFixed(2)} M synthetic flows over ${r.spanHours.toFixed(1)} h, ${r.segments} segments, ${(r.bytes / 1e6).toFixed(0)} MB, written in ${r.buildSec.toFixed(0)} s; cache off, one request at a time`,
    `  ${'request'.padEnd(64)}${'p50'.padStart(9)}${'p95'.padStart(9)}${'max'.padStart(9)}${'query p50'.padStart(11)}   n`,
  ];
  for (const c of r.cases) lines.push(`  ${c.name.padEnd(64)}${ms(c.p50)}${ms(c.p95)}${ms(c.max)}${ms(c.queryP50).padStart(11)}   ${c.requests}`);
  lines.push(`  the first request again with the cache on (same answer within 5 s): p50 ${r.cachedP50.toFixed(2)} ms`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  console.log(formatApiBench(await runApiBench({ requests: arg('--requests'), blocks: arg('--blocks'), quick: process.argv.includes('--quick') })));
}
