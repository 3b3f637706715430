/**
 * What Linux's /proc tells about a receiver under test: its CPU time, and the state of its UDP
 * socket (bytes waiting in the receive queue, datagrams the kernel dropped for lack of room).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return clockTicks;
}

/** utime + stime of a process and all its threads, in seconds (fields 14 and 15 of /proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
}

/** Resident set size of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export interface UdpSocketState {
  /** Bytes queued for the application (kernel accounting, so larger than the payloads). */
  readonly rxQueue: number;
  /** Datagrams dropped on this socket because its receive buffer was full. */
  readonly drops: number;
}

/**
 * The IPv4 UDP socket bound to 127.0.0.1:port (or 0.0.0.0:port), from /proc/net/udp; undefined
 * when there is none.
 */
export function udpSocketState(port: number): UdpSocketState | undefined {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const lines = readFileSync('/proc/net/udp', 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i]!.trim().split(/\s+/);
    if (cols.length < 13) continue;
    const [addr, p] = cols[1]!.split(':');
    if (p !== portHex || (addr !== '0100007F' && addr !== '00000000')) continue;
    const rx = cols[4]!.split(':')[1]!;
    return { rxQueue: parseInt(rx, 16), drops: Number(cols[cols.length - 1]) };
  }
  return undefined;
}

let built = false;

/**
 * The command line that runs sluice as it ships: the compiled CLI (dist/), built once per bench
 * process (`npm run build`), not through tsx, whose compiler would be measured with it (~55 MiB of
 * RSS per thread, start-up time).
 */
export function compiledSluice(): string[] {
  const root = fileURLToPath(new URL('..', import.meta.url));
  if (!built) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed: the benchmarks run the compiled CLI');
    built = true;
  }
  // As installed: the node flags of bin/sluice.js's first line (its young-generation size), then the entry.
  const bin = join(root, 'bin', 'sluice.js');
  const flags = /^#!.*?\bnode\b(.*)$/m.exec(readFileSync(bin, 'utf8').split('\n')[0]!)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
  // BENCH_NODE_FLAGS adds node flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the CLI a bench runs.
  const extra = process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  return [...flags, ...extra, bin];
}
