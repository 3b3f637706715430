/**
 * A/B comparison of the in-process decode + JSON path (byte formatter) between two checkouts of
 * sluice, for performance work on a shared, noisy machine: child processes of A and B alternate
 * (A B B A ...), each runs bench/inprocess.ts of its own checkout, and the summary compares the
 * process CPU time per record (less disturbed by other load than wall time) and the wall rate,
 * best and median over all timed runs.
 *
 *   node --import tsx bench/ab.ts DIR_A DIR_B [--rounds 6] [--variant formatter]
 *
 * Each directory needs its own node_modules (npm ci) and a bench/inprocess.ts that knows BENCH_JSON.
 *
 * With --same-process N, both checkouts are loaded into this one process instead and run one pass
 * over the stream each, alternating, N pairs: neighbouring passes see the same machine load, so the
 * median of the paired B/A ratios is the steadiest figure (an A/A run gives 1.00 +- 0.02 here).
 * Both sides share one heap, though: garbage one side makes is partly collected in the other's
 * passes, so allocation changes need the separate-process mode.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ChildResult {
  readonly runs: number[];
  readonly cpuNsPerRecord: number[];
  readonly jsonBytesPerRecord: number;
  readonly drops: number;
}

function runChild(dir: string, variant: string): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/inprocess.ts'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, BENCH_VARIANT: variant, BENCH_JSON: '1', BENCH_RUNS: process.env.BENCH_RUNS ?? '5' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`${dir}: bench/inprocess.ts failed (${r.status ?? r.signal})`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as ChildResult;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function summary(label: string, all: readonly ChildResult[]): { bestCpu: number; medCpu: number; bestRate: number; medRate: number; line: string } {
  const cpu = all.flatMap((c) => c.cpuNsPerRecord);
  const rate = all.flatMap((c) => c.runs);
  const bestCpu = Math.min(...cpu);
  const medCpu = median(cpu);
  const bestRate = Math.max(...rate);
  const medRate = median(rate);
  const bytes = all[0]?.jsonBytesPerRecord ?? 0;
  const drops = all.reduce((n, c) => n + c.drops, 0);
  const line =
    `${label}: CPU ns/record best ${bestCpu.toFixed(0)} median ${medCpu.toFixed(0)} | wall M records/s best ${(bestRate / 1e6).toFixed(3)} median ${(medRate / 1e6).toFixed(3)}` +
    ` | ${cpu.length} runs, ${bytes.toFixed(1)} B/record${drops > 0 ? `, ${drops} DROPS` : ''}`;
  return { bestCpu, medCpu, bestRate, medRate, line };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const k = args.indexOf(name);
    return k >= 0 ? args.splice(k, 2)[1]! : dflt;
  };
  const rounds = Number(opt('--rounds', '6'));
  const pairs = Number(opt('--same-process', '0'));
  const variant = opt('--variant', 'formatter');
  const [a, b] = args.map((d) => resolve(d));
  if (a === undefined || b === undefined) {
    console.error('usage: bench/ab.ts DIR_A DIR_B [--rounds N] [--variant formatter|bytes|text]');
    process.exit(2);
  }
  if (pairs > 0) {
    await samePass(a, b, pairs);
    process.exit(0);
  }
  const A: ChildResult[] = [];
  const B: ChildResult[] = [];
  for (let i = 0; i < rounds; i++) {
    // A B, then B A: neither side always runs first after the other's load.
    const order = i % 2 === 0 ? ([[a, A], [b, B]] as const) : ([[b, B], [a, A]] as const);
    for (const [dir, acc] of order) {
      const r = runChild(dir, variant);
      acc.push(r);
      console.log(`  round ${i + 1} ${dir === a ? 'A' : 'B'}: cpu ns/rec ${r.cpuNsPerRecord.map((x) => x.toFixed(0)).join(' ')}`);
    }
  }
  const sa = summary(`A ${a}`, A);
  const sb = summary(`B ${b}`, B);
  console.log(sa.line);
  console.log(sb.line);
  console.log(
    `B vs A: CPU/record best ${((100 * (sb.bestCpu - sa.bestCpu)) / sa.bestCpu).toFixed(1)}%, median ${((100 * (sb.medCpu - sa.medCpu)) / sa.medCpu).toFixed(1)}%; ` +
      `throughput from CPU/record: best ${(sa.bestCpu / sb.bestCpu).toFixed(3)}x, median ${(sa.medCpu / sb.medCpu).toFixed(3)}x`,
  );
}

/** One checkout's decode + JSON path, ready to run passes over the stream: returns CPU ns/record. */
async function loadSide(dir: string): Promise<() => number> {
  const url = (p: string) => new URL(p, `file://${dir}/`).href;
  const { ByteOutput } = (await import(url('src/format/byte-output.ts'))) as typeof import('../src/format/byte-output.js');
  const { Ipfixcol2JsonFormatter } = (await import(url('src/format/ipfixcol2-json.ts'))) as typeof import('../src/format/ipfixcol2-json.js');
  // The decode stage moved (model/decode-pipeline.ts DecodeStage -> pipeline/decode.ts DecodeStage): load whichever the checkout has.
  const stageModule = existsSync(`${dir}/src/pipeline/decode.ts`)
    ? ((await import(url('src/pipeline/decode.ts'))) as Record<string, unknown>)
    : ((await import(url('src/model/decode-pipeline.ts'))) as Record<string, unknown>);
  const DecodeStage = (stageModule.DecodeStage ?? stageModule.DecodeStage) as typeof import('../src/pipeline/decode.js').DecodeStage;
  const { makeSession } = (await import(url('src/wire/batch.ts'))) as typeof import('../src/wire/batch.js');
  const { IeRegistry, protocolKeyword } = (await import(url('src/wire/ie/registry.ts'))) as typeof import('../src/wire/ie/registry.js');
  const { buildIpfixStream } = (await import(url('bench/ipfix-stream.ts'))) as typeof import('./ipfix-stream.js');
  const stream = buildIpfixStream();
  const formatter = new Ipfixcol2JsonFormatter({}, protocolKeyword);
  const out = new ByteOutput(1 << 20);
  const pipeline = new DecodeStage({
    registry: IeRegistry.builtin(),
    onBatch: (b) => {
      formatter.formatBatchInto(b, out);
      if (out.len >= 256 * 1024) out.reset();
    },
  });
  const session = makeSession('udp', '127.0.0.1', 40000, 4739);
  const now = Date.now();
  const dg = stream.datagrams;
  return () => {
    const u0 = process.cpuUsage();
    for (let i = 0; i < dg.length; i++) pipeline.handle(dg[i]!, session, now);
    const u = process.cpuUsage(u0);
    return ((u.user + u.system) * 1000) / stream.records;
  };
}

async function samePass(a: string, b: string, pairs: number): Promise<void> {
  const runA = await loadSide(a);
  const runB = await loadSide(b);
  for (let w = 0; w < 6; w++) {
    runA();
    runB();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  const ratio: number[] = [];
  for (let i = 0; i < pairs; i++) {
    let x: number;
    let y: number;
    if (i & 1) {
      y = runB();
      x = runA();
    } else {
      x = runA();
      y = runB();
    }
    ta.push(x);
    tb.push(y);
    ratio.push(y / x);
  }
  console.log(`A ${a}: CPU ns/record min ${Math.min(...ta).toFixed(0)} median ${median(ta).toFixed(0)}`);
  console.log(`B ${b}: CPU ns/record min ${Math.min(...tb).toFixed(0)} median ${median(tb).toFixed(0)}`);
  console.log(`B/A CPU per record: median of ${pairs} paired ratios ${median(ratio).toFixed(3)}, of minima ${(Math.min(...tb) / Math.min(...ta)).toFixed(3)}, of medians ${(median(tb) / median(ta)).toFixed(3)}`);
}
