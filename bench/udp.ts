/**
 * A receiver process (sluice collect, nfcapd) fed the benchmark stream over loopback UDP.
 *
 * The sender paces itself on the receiver's socket queue, read from /proc/net/udp: it sends while
 * fewer than `highWaterBytes` wait in the queue and pauses otherwise. That keeps the receiver busy
 * without the kernel dropping datagrams, so the wall-clock rate is the receiver's own throughput,
 * and the drops column proves nothing was lost. The receiver's CPU time (user + system, all
 * threads, /proc/PID/stat) over the same interval gives a second, pacing-independent figure:
 * records per CPU second. A warm-up phase (not measured) runs first, so a JIT compiler has done
 * its work before the clock starts, as in a long-running collector.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpfixStream } from './ipfix-stream.js';
import { compiledSluice, cpuSeconds, rssBytes, udpSocketState } from './proc.js';

export interface ReceiverSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Text in the receiver's output once it listens. */
  readonly ready: string;
  /** The receiver writes stdout to /dev/null itself. */
  readonly stdoutToNull: boolean;
  /** After the process has exited: how many flow records it stored or printed in total. */
  readonly count: (log: string) => number;
  readonly cleanup?: () => void;
}

export interface UdpResult {
  readonly name: string;
  readonly sentDatagrams: number;
  readonly sentRecords: number;
  /** Flow records the receiver handled in the measured phase. */
  readonly records: number;
  readonly kernelDrops: number;
  readonly wallSec: number;
  readonly cpuSec: number;
  readonly recordsPerSec: number;
  readonly recordsPerCpuSec: number;
  /** CPU seconds per wall second: 1.0 is one core saturated. */
  readonly cpuShare: number;
  readonly rssMB: number;
}

export interface UdpOptions {
  readonly datagrams: number;
  readonly warmupDatagrams: number;
  readonly highWaterBytes?: number;
  readonly burst?: number;
  /** Gives up on a receiver that stops consuming for this long. */
  readonly stallMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tick = () => new Promise<void>((r) => setImmediate(r));

export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return p;
}

/** Sends `count` data datagrams (cycling through the stream) paced on the receiver's queue. */
async function sendPaced(sock: dgram.Socket, port: number, stream: IpfixStream, from: number, count: number, o: UdpOptions): Promise<void> {
  const data = stream.datagrams.length - 1; // datagram 0 is the template message
  const high = o.highWaterBytes ?? 1 << 20;
  const burst = o.burst ?? 32;
  let sent = 0;
  let lastProgress = Date.now();
  let lastQueue = -1;
  while (sent < count) {
    const st = udpSocketState(port);
    if (st === undefined) throw new Error(`no UDP socket on port ${port}: the receiver went away`);
    if (st.rxQueue < high) {
      const n = Math.min(burst, count - sent);
      for (let i = 0; i < n; i++) sock.send(stream.datagrams[1 + ((from + sent + i) % data)]!);
      sent += n;
      lastProgress = Date.now();
    } else if (st.rxQueue !== lastQueue) {
      lastQueue = st.rxQueue;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > (o.stallMs ?? 20_000)) {
      throw new Error(`receiver on port ${port} stopped reading (${st.rxQueue} bytes queued)`);
    }
    await tick();
  }
}

/** Waits until the receiver's queue is empty; returns the time it was first seen empty. */
async function drained(port: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = udpSocketState(port);
    if (st === undefined || st.rxQueue === 0) return performance.now();
    if (Date.now() > deadline) throw new Error(`receiver on port ${port} did not drain its queue in ${timeoutMs} ms`);
    await sleep(2);
  }
}

/**
 * Waits until the process's CPU time stops growing for `quietMs`; returns the CPU seconds and the
 * time it last grew. With worker threads an empty socket queue does not mean the work is done, so
 * this is what marks the end of processing (to the clock tick, 10 ms on Linux).
 */
async function cpuSettled(pid: number, quietMs: number, timeoutMs: number): Promise<{ cpu: number; lastBusy: number }> {
  const deadline = Date.now() + timeoutMs;
  let cpu = cpuSeconds(pid);
  let lastBusy = performance.now();
  for (;;) {
    await sleep(5);
    const now = cpuSeconds(pid);
    if (now !== cpu) {
      cpu = now;
      lastBusy = performance.now();
    } else if (performance.now() - lastBusy >= quietMs || Date.now() > deadline) return { cpu, lastBusy };
  }
}

export async function measureOverUdp(spec: ReceiverSpec, port: number, stream: IpfixStream, o: UdpOptions): Promise<UdpResult> {
  const child = spawn(spec.command, spec.args, { stdio: ['ignore', spec.stdoutToNull ? 'ignore' : 'pipe', 'pipe'] });
  let log = '';
  const append = (s: string) => (log = (log + s).slice(-200_000));
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr!.setEncoding('utf8').on('data', append);
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const sock = dgram.createSocket('udp4');
  try {
    for (const t0 = Date.now(); !log.includes(spec.ready) || udpSocketState(port) === undefined; await sleep(20)) {
      if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`${spec.name} did not start:\n${log}`);
    }
    const pid = child.pid!;
    await new Promise<void>((r) => sock.connect(port, '127.0.0.1', r));
    sock.send(stream.datagrams[0]!); // templates and the options record, as an exporter starts
    await sleep(50);
    await sendPaced(sock, port, stream, 0, o.warmupDatagrams, o);
    await drained(port, 60_000);
    await cpuSettled(pid, 200, 30_000);

    const drops0 = udpSocketState(port)?.drops ?? 0;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await sendPaced(sock, port, stream, o.warmupDatagrams, o.datagrams, o);
    const emptied = await drained(port, 60_000);
    const settled = await cpuSettled(pid, 200, 30_000);
    const t1 = Math.max(emptied, settled.lastBusy);
    const cpu1 = settled.cpu;
    const drops = (udpSocketState(port)?.drops ?? 0) - drops0;
    const rss = rssBytes(pid);

    child.kill('SIGTERM');
    await exited;
    const total = spec.count(log);
    const records = total - o.warmupDatagrams * stream.recordsPerMessage;
    const wallSec = (t1 - t0) / 1000;
    const cpuSec = cpu1 - cpu0;
    return {
      name: spec.name,
      sentDatagrams: o.datagrams,
      sentRecords: o.datagrams * stream.recordsPerMessage,
      records,
      kernelDrops: drops,
      wallSec,
      cpuSec,
      recordsPerSec: records / wallSec,
      recordsPerCpuSec: records / cpuSec,
      cpuShare: cpuSec / wallSec,
      rssMB: rss / 2 ** 20,
    };
  } catch (err) {
    throw new Error(`${spec.name}: ${(err as Error).message}\n--- its output:\n${log.slice(-4000)}`);
  } finally {
    sock.close();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    spec.cleanup?.();
  }
}

// ---- the receivers ------------------------------------------------------------------------------

const RECEIVE_BUFFER = 4 * 1024 * 1024;


/** Whether this checkout's `sluice collect` has the --workers option (decode worker threads). */
export function collectHasWorkers(): boolean {
  const r = spawnSync(process.execPath, [...compiledSluice(), 'collect', '--help'], { encoding: 'utf8' });
  return r.stdout.includes('--workers');
}

/**
 * `sluice collect` with its default JSON format, stdout to /dev/null. `workers` undefined: the
 * collector's own default; 0: decode on the receiving thread (one core).
 */
export function sluiceReceiver(port: number, workers?: number): ReceiverSpec {
  return {
    name: workers === undefined ? 'sluice collect' : workers === 0 ? 'sluice collect, 1 thread' : `sluice collect, ${workers} workers`,
    command: process.execPath,
    args: [
      ...compiledSluice(),
      'collect',
      '--listen',
      `udp://127.0.0.1:${port}`,
      '--receive-buffer',
      String(RECEIVE_BUFFER),
      ...(workers === undefined ? [] : ['--workers', String(workers)]),
    ],
    ready: `listening on udp://127.0.0.1:${port}`,
    stdoutToNull: true,
    count: (log) => {
      const m = /stopped: (\d+) datagrams, (\d+) records/.exec(log);
      if (m === null) throw new Error(`sluice collect printed no summary:\n${log}`);
      return Number(m[2]);
    },
  };
}

/** nfcapd (nfdump 1.7) writing nfcapd files to a temporary directory, counted with `nfdump -I`. */
export function nfcapdReceiver(port: number): ReceiverSpec {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-nfcapd-'));
  return {
    name: 'nfcapd',
    command: 'nfcapd',
    args: ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-B', String(RECEIVE_BUFFER), '-t', '3600'],
    ready: 'Startup',
    stdoutToNull: false,
    count: () => {
      // On SIGTERM nfcapd closes its current file and renames it; -I sums its statistics record.
      const info = spawnSync('nfdump', ['-R', dir, '-I'], { encoding: 'utf8' });
      const m = /^Flows: (\d+)/m.exec(info.stdout);
      if (m === null) throw new Error(`nfdump -I printed no flow count:\n${info.stdout}${info.stderr}`);
      return Number(m[1]);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function hasBinary(name: string, args: readonly string[]): boolean {
  return spawnSync(name, args, { stdio: 'ignore' }).error === undefined;
}
