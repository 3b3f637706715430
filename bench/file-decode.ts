/**
 * The first row: an IPFIX file decoded to the default JSON and written to /dev/null, on one
 * core. Two measurements of the same file (the benchmark stream, passes concatenated):
 *   - in-process: the file read, split into messages and fed through collect's Fanout (decoder,
 *     record model, JSON encoder) with the JSON written to /dev/null in 256 KB chunks, timed from
 *     reading the file to the last write; best of a few runs, wall and CPU time;
 *   - `sluice decode FILE > /dev/null` as a process: wall and CPU time, peak RSS.
 *
 *   node --import tsx bench/file-decode.ts
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fanout } from '../src/collect/fanout.js';
import { DEFAULT_JSON_OPTIONS } from '../src/format/ipfixcol2-json.js';
import { makeSession } from '../src/wire/batch.js';
import { splitDatagrams } from '../src/wire/framing.js';
import { IeRegistry } from '../src/wire/ie/registry.js';
import { buildIpfixStream } from './ipfix-stream.js';

export interface FileDecodeResult {
  readonly records: number;
  readonly fileMB: number;
  /** In-process: best wall rate and the CPU rate of that run. */
  readonly recordsPerSec: number;
  readonly recordsPerCpuSec: number;
  readonly runs: readonly number[];
  /** `sluice decode FILE > /dev/null`, undefined when it failed. */
  readonly cli?: { readonly recordsPerSec: number; readonly recordsPerCpuSec: number; readonly maxRssMB: number };
}

/** Writes the benchmark stream, `passes` times over, as one raw IPFIX file. */
export function writeStreamFile(path: string, passes: number): number {
  const s = buildIpfixStream(4000, 25);
  const parts: Buffer[] = [s.datagrams[0]!];
  for (let p = 0; p < passes; p++) for (let i = 1; i < s.datagrams.length; i++) parts.push(s.datagrams[i]!);
  writeFileSync(path, Buffer.concat(parts));
  return s.records * passes;
}

/** One in-process pass over the file: returns wall ms and CPU µs. */
function inProcess(path: string, devNull: number): { ms: number; cpuUs: number; records: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const fanout = new Fanout({ registry: IeRegistry.builtin(), encoders: [{ kind: 'json', formats: [DEFAULT_JSON_OPTIONS] }] });
  const session = makeSession('file', '0.0.0.0', 0);
  const now = Date.now();
  const write = (all: boolean) => {
    for (const p of fanout.take(all)) {
      const g = p?.kind === 'json' ? p.groups[0] : null;
      if (g !== null && g !== undefined) writeSync(devNull, g);
    }
  };
  const datagrams = splitDatagrams(readFileSync(path));
  for (let i = 0; i < datagrams.length; i++) {
    fanout.handle(datagrams[i]!, session, now);
    if ((i & 63) === 63) write(false);
  }
  fanout.flush();
  write(true);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuUs: c.user + c.system, records: fanout.stage.counters.records };
}

export function runFileDecodeBench(o: { passes?: number; runs?: number } = {}): FileDecodeResult {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-file-'));
  try {
    const path = join(dir, 'stream.ipfix');
    const records = writeStreamFile(path, o.passes ?? 10);
    const devNull = openSync('/dev/null', 'w');
    const results: { ms: number; cpuUs: number; records: number }[] = [];
    try {
      inProcess(path, devNull); // warm-up: compiled code, as in a long run
      for (let r = 0; r < (o.runs ?? 3); r++) results.push(inProcess(path, devNull));
    } finally {
      closeSync(devNull);
    }
    for (const r of results) if (r.records !== records) throw new Error(`decoded ${r.records} records of ${records}`);
    const best = results.reduce((a, b) => (b.ms < a.ms ? b : a));
    const cli = cliDecode(path);
    return {
      records,
      fileMB: readFileSync(path).length / 2 ** 20,
      recordsPerSec: (records / best.ms) * 1000,
      recordsPerCpuSec: records / (best.cpuUs / 1e6),
      runs: results.map((r) => (records / r.ms) * 1000),
      cli,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `sluice decode FILE > /dev/null` under GNU time (wall, CPU, peak RSS); undefined without it or on failure. */
function cliDecode(path: string): FileDecodeResult['cli'] {
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, '--import', 'tsx', main, 'decode', '--quiet', path], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const t = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  const n = /(\d+) records/.exec(r.stderr ?? '');
  if (r.status !== 0 || t === null || n === null) return undefined;
  const records = Number(n[1]);
  return { recordsPerSec: records / Number(t[1]), recordsPerCpuSec: records / (Number(t[2]) + Number(t[3])), maxRssMB: Number(t[4]) / 1024 };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = runFileDecodeBench();
  console.log(r);
}
