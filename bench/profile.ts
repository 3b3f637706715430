/**
 * Where the in-process decode + JSON path spends its time: runs bench/inprocess.ts under
 * `node --cpu-prof` and prints the functions with the most self time. With a .cpuprofile path as
 * argument it only summarises that file.
 *
 *   node --import tsx bench/profile.ts [--top 30] [file.cpuprofile]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

/** The V8 CPU profile format written by --cpu-prof (Chrome DevTools Profiler.Profile). */
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  /** Microseconds since the previous sample. */
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly ms: number;
  readonly percent: number;
}

const REPO = fileURLToPath(new URL('../', import.meta.url));

function location(cf: CallFrame): string {
  // Formatters compiled with new Function() have no URL either; their name says what they are.
  if (cf.url === '') return '(no script: native or generated code)';
  const path = cf.url.startsWith('file://') ? fileURLToPath(cf.url) : cf.url;
  const rel = path.startsWith(REPO) ? relative(REPO, path) : path;
  // Under tsx, line numbers refer to the transformed module (everything lands on line 1): omit them then.
  return cf.lineNumber > 0 ? `${rel}:${cf.lineNumber + 1}` : rel;
}

/** Self time per function (same name and location summed), largest first. */
export function selfTimes(p: CpuProfile): SelfTime[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const us = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]!);
    const dt = p.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    total += dt;
    const cf = node.callFrame;
    const name = cf.functionName === '' ? '(anonymous)' : cf.functionName;
    const where = location(cf);
    const key = `${name}@${where}`;
    const e = us.get(key) ?? { name, where, us: 0 };
    e.us += dt;
    us.set(key, e);
  }
  return [...us.values()]
    .sort((a, b) => b.us - a.us)
    .map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000, percent: (100 * e.us) / total }));
}

export function formatSelfTimes(rows: readonly SelfTime[], top: number): string {
  const lines = ['  self ms   self %  function                                  where'];
  for (const r of rows.slice(0, top)) {
    lines.push(`${r.ms.toFixed(0).padStart(8)}  ${r.percent.toFixed(1).padStart(6)}%  ${r.name.slice(0, 40).padEnd(40)}  ${r.where}`);
  }
  return lines.join('\n');
}

/** Profiles bench/inprocess.ts in a child process and returns the summary rows. */
export function profileInProcess(): SelfTime[] {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-prof-'));
  try {
    const script = fileURLToPath(new URL('./inprocess.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', script], {
      encoding: 'utf8',
      env: { ...process.env, BENCH_RUNS: '3', BENCH_VARIANT: 'formatter' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`profiled run failed (${r.status ?? r.signal})`);
    process.stdout.write(r.stdout);
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('node --cpu-prof wrote no profile');
    return selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t >= 0 ? Number(args.splice(t, 2)[1]) : 25;
  const file = args[0];
  const rows = file !== undefined ? selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile) : profileInProcess();
  console.log(`\nTop ${top} functions by self time (in-process decode + JSON):\n${formatSelfTimes(rows, top)}`);
}
