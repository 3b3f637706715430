/**
 * Probe benchmark: packets/s metered into flows and exported as IPFIX, from a pcap, on one core,
 * next to Debian's softflowd reading the same file (`softflowd -r`) in the same run.
 *
 * The pcap is test/helpers/traffic.ts's generated mix (TCP connections, UDP exchanges, ICMP over
 * IPv4 and IPv6), repeated with a time shift so it is long enough to time. Rows:
 *   - sluice in-process: Meter + FlowExporter over the frames already in memory (best of several
 *     runs), messages built and dropped: the metering and encoding cost alone;
 *   - `sluice probe --pcap` as a process, exporting over loopback UDP to a socket this process
 *     drains: CPU seconds (user + sys) with and without node/tsx start-up (measured on a 1-frame pcap);
 *   - `softflowd -r` on the same file to the same kind of socket, CPU seconds.
 * The ratio divides packets per CPU second.
 *
 *   node --import tsx bench/probe.ts          (BENCH_PROBE_COPIES=N for a longer pcap)
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTrafficPcap } from '../test/helpers/traffic.js';
import { readCapture } from '../src/wire/pcap/read.js';
import { writePcap, type FrameToWrite } from '../src/wire/pcap/write.js';
import { DEFAULT_METER_OPTIONS, Meter } from '../src/probe/meter.js';
import { FlowExporter } from '../src/probe/exporter.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface ProbeBenchOptions {
  /** Copies of the base capture, each shifted past every idle timeout. */
  readonly copies?: number;
  readonly runs?: number;
}

export interface ProcessRun {
  readonly wallSec: number;
  readonly cpuSec: number;
  readonly datagrams: number;
}

export interface ProbeBenchResult {
  readonly packets: number;
  readonly bytes: number;
  readonly flows: number;
  readonly inProcessPps: number;
  readonly inProcessRuns: number[];
  readonly probe?: ProcessRun;
  readonly probeStartup?: ProcessRun;
  readonly softflowd?: ProcessRun;
  readonly note?: string;
}

function buildPcap(copies: number): { pcap: Buffer; frames: FrameToWrite[] } {
  const n = 1500;
  const base = buildTrafficPcap({ seed: 0xbe7c, tcp4: n, tcp6: n / 3, udp4: n, udp6: n / 3, icmp4: n / 4, icmp6: n / 6, spreadMs: 60_000 });
  const frames: FrameToWrite[] = [];
  const baseFrames = [...readCapture(base)];
  const span = baseFrames.at(-1)!.tsMs - baseFrames[0]!.tsMs;
  for (let c = 0; c < copies; c++) {
    const shift = c * (span + 120_000);
    for (const f of baseFrames) frames.push({ tsMs: f.tsMs + shift, data: f.data });
  }
  return { pcap: copies === 1 ? base : writePcap(frames), frames };
}

function inProcess(frames: readonly FrameToWrite[], runs: number): { pps: number[]; flows: number } {
  const pps: number[] = [];
  let flows = 0;
  for (let r = 0; r < runs; r++) {
    const ex = new FlowExporter({ version: 10, domainId: 0, maxMessageBytes: 1472, templateRefreshMs: 60_000, templateRefreshMessages: 20, inlineTemplates: true, biflow: false, sampling: 1, send: () => {} });
    const m: Meter = new Meter(DEFAULT_METER_OPTIONS, (f) => ex.add(f, m.clockMs));
    const t0 = process.hrtime.bigint();
    for (const f of frames) m.packet(1, f.data, f.tsMs, 0);
    m.flush();
    ex.finish(m.clockMs);
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    pps.push(frames.length / sec);
    flows = m.cache.counters.created;
  }
  return { pps, flows };
}

/** Runs `cmd args` under bash's `time`, with a UDP sink on 127.0.0.1 drained meanwhile. */
async function timed(cmd: string, args: (port: number) => string[]): Promise<ProcessRun> {
  const sink = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  let datagrams = 0;
  sink.on('message', () => datagrams++);
  await new Promise<void>((ok) => sink.bind(0, '127.0.0.1', () => ok()));
  const port = sink.address().port;
  const quoted = [cmd, ...args(port)].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', ['-c', `TIMEFORMAT='@@ %R %U %S'; time ${quoted} >/dev/null 2>/tmp/sluice-bench-probe-child.err`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
      const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) reject(new Error(`${cmd} exited with ${code}: ${err}`));
        else resolve(err);
      });
    });
    const m = /@@ ([\d.]+) ([\d.]+) ([\d.]+)/.exec(out);
    if (m === null) throw new Error(`no timing from bash: ${out}`);
    await new Promise((r) => setTimeout(r, 200)); // the last datagrams
    return { wallSec: Number(m[1]), cpuSec: Number(m[2]) + Number(m[3]), datagrams };
  } finally {
    sink.close();
  }
}

function has(cmd: string, args: readonly string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return !(r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT');
}

export async function runProbeBench(o: ProbeBenchOptions = {}): Promise<ProbeBenchResult> {
  const copies = o.copies ?? 3;
  const { pcap, frames } = buildPcap(copies);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-probe-'));
  try {
    const path = join(dir, 'traffic.pcap');
    writeFileSync(path, pcap);
    const one = join(dir, 'one.pcap');
    writeFileSync(one, writePcap(frames.slice(0, 1)));
    const ip = inProcess(frames, o.runs ?? 5);
    const base = { packets: frames.length, bytes: pcap.length, flows: ip.flows, inProcessPps: Math.max(...ip.pps), inProcessRuns: ip.pps };
    const sluice = (file: string) => (port: number) => [process.execPath, '--import', 'tsx', MAIN, 'probe', '--pcap', file, '-c', `127.0.0.1:${port}`];
    const probeStartup = await timed(process.execPath, (p) => sluice(one)(p).slice(1));
    const probe = await timed(process.execPath, (p) => sluice(path)(p).slice(1));
    if (!has('softflowd', ['-h'])) return { ...base, probe, probeStartup, note: 'softflowd not installed (apt-get install softflowd): no peer to compare with' };
    // Same job: read the file, meter, export IPFIX to loopback. -m: a cache as large as sluice's default.
    const softflowd = await timed('softflowd', (p) => ['-r', path, '-a', '-v', '10', '-m', '262144', '-n', `127.0.0.1:${p}`, '-d', '-c', 'none', '-p', join(dir, 'softflowd.pid')]);
    return { ...base, probe, probeStartup, softflowd };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const k = (n: number) => `${(n / 1000).toFixed(0)}k`;

export function formatProbeBench(r: ProbeBenchResult): string {
  const lines = [`Probe: ${r.packets} packets (${(r.bytes / 1e6).toFixed(0)} MB pcap), ${r.flows} flows, metered and exported as IPFIX`];
  lines.push(`  sluice Meter + exporter, in-process    ${k(r.inProcessPps).padStart(6)} packets/s  (one core, best of ${r.inProcessRuns.length}: ${r.inProcessRuns.map((x) => k(x)).join(' ')})`);
  let probePerCpu: number | undefined;
  if (r.probe !== undefined && r.probeStartup !== undefined) {
    const cpu = Math.max(0.001, r.probe.cpuSec - r.probeStartup.cpuSec);
    probePerCpu = r.packets / cpu;
    lines.push(
      `  sluice probe --pcap (process)          ${k(probePerCpu).padStart(6)} packets/CPU-s (${r.probe.cpuSec.toFixed(2)} CPU-s, less ${r.probeStartup.cpuSec.toFixed(2)} s node/tsx start-up; ${r.probe.wallSec.toFixed(2)} s wall; ${r.probe.datagrams} datagrams)`,
    );
  }
  if (r.softflowd !== undefined) {
    const sf = r.packets / Math.max(0.001, r.softflowd.cpuSec);
    lines.push(`  softflowd -r (process)                 ${k(sf).padStart(6)} packets/CPU-s (${r.softflowd.cpuSec.toFixed(2)} CPU-s, ${r.softflowd.wallSec.toFixed(2)} s wall; ${r.softflowd.datagrams} datagrams)`);
    lines.push(`  ratio sluice/softflowd: in-process ${(r.inProcessPps / sf).toFixed(2)}x` + (probePerCpu !== undefined ? `, process per CPU-s ${(probePerCpu / sf).toFixed(2)}x` : ''));
  } else if (r.note !== undefined) lines.push(`  ${r.note}`);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const copies = process.env.BENCH_PROBE_COPIES !== undefined ? Number(process.env.BENCH_PROBE_COPIES) : undefined;
  runProbeBench({ copies })
    .then((r) => console.log(formatProbeBench(r)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
