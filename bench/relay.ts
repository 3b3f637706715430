/**
 * Relay benchmark: datagrams/s that `sluice relay` copies to two receivers with zero loss, next to
 * nfdump's repeater (`nfcapd -R`, Debian nfdump 1.7) on the same machine, in the same run.
 *
 * Both relays get the same IPFIX datagrams (softflowd-style, ~1.1 kB) over loopback from a sender
 * that paces itself on the relay's socket queue (/proc/net/udp), so the relay, not the sender, sets
 * the pace and the kernel drops nothing at the relay's door. Two receivers in this process count
 * what arrives; a run counts only when both got every datagram. Figures: wall-clock datagrams/s
 * (first send to last arrival) and datagrams per CPU second of the relay process (user + system,
 * /proc/PID/stat). nfcapd also decodes and stores the flows, which sluice relay does not; the
 * repeater is the peer because it is the relay that ships with the collector people already run.
 *
 *   node --import tsx bench/relay.ts              # BENCH_RELAY_DATAGRAMS=200000 for a longer run
 *
 * From another script: `import { runRelayBench, formatRelayBench } from './relay.js'`.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { buildIpfixStream } from './ipfix-stream.js';
import { cpuSeconds, rssBytes, udpSocketState } from './proc.js';

export interface RelayRun {
  readonly name: string;
  readonly datagrams: number;
  /** Copies that arrived, per receiver. */
  readonly arrived: readonly number[];
  readonly lost: number;
  readonly inputDrops: number;
  readonly wallSec: number;
  readonly cpuSec: number;
  readonly datagramsPerSec: number;
  readonly datagramsPerCpuSec: number;
  readonly rssMB: number;
}

export interface RelayBenchResult {
  readonly bytesPerDatagram: number;
  readonly rounds: number;
  readonly sluice: RelayRun;
  readonly nfcapd?: RelayRun;
  readonly note?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tick = () => new Promise<void>((r) => setImmediate(r));
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const BUF = 4 * 1024 * 1024;
/**
 * Datagrams sent but not yet arrived at the slower receiver: well below what the buffers hold. A
 * ~1.2 kB datagram takes 2 304 bytes of a loopback receive buffer, and UDP returns freed buffer
 * space in steps of a quarter of the buffer, so an 8 MiB buffer (4 MiB asked, doubled) holds about
 * 2 700 for sure: at 3 000 the bench's own receivers dropped copies of both relays (RcvbufErrors)
 * once the relay outran them; 2 000 leaves room.
 */
const MAX_IN_FLIGHT = Number(process.env.BENCH_RELAY_IN_FLIGHT ?? 2000);

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

interface Counter {
  readonly port: number;
  readonly n: number;
  /** performance.timeOrigin + performance.now() of the last arrival. */
  readonly last: number;
}

/**
 * The two receivers run in a worker thread, counting into shared memory, so receiving does not
 * compete with the sender for this thread: otherwise the bench process does as much work per
 * datagram as the relay under test and becomes the limit.
 */
async function counters(k: number): Promise<{ rs: Counter[]; close(): Promise<void> }> {
  const sab = new SharedArrayBuffer(16 * k);
  const n = new Int32Array(sab, 0, k);
  const last = new Float64Array(sab, 8 * k, k);
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const dgram = require('node:dgram');
    const n = new Int32Array(workerData.sab, 0, workerData.k);
    const last = new Float64Array(workerData.sab, 8 * workerData.k, workerData.k);
    const socks = [];
    let bound = 0;
    for (let i = 0; i < workerData.k; i++) {
      const s = dgram.createSocket({ type: 'udp4', recvBufferSize: workerData.buf });
      s.on('message', () => { n[i]++; last[i] = performance.timeOrigin + performance.now(); });
      s.bind(0, '127.0.0.1', () => { if (++bound === workerData.k) parentPort.postMessage(socks.map((x) => x.address().port)); });
      socks.push(s);
    }
    parentPort.on('message', () => { for (const s of socks) s.close(); parentPort.close(); });`;
  const w = new Worker(code, { eval: true, workerData: { sab, k, buf: BUF } });
  const ports = await new Promise<number[]>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  const rs = ports.map((port, i) => ({
    port,
    get n() {
      return Atomics.load(n, i);
    },
    get last() {
      return last[i]!;
    },
  }));
  return {
    rs,
    close: async () => {
      w.postMessage('close');
      await new Promise<void>((r) => w.once('exit', () => r()));
    },
  };
}

async function measure(name: string, command: string, args: string[], port: number, receivers: Counter[], data: readonly Buffer[], n: number, warmup: number): Promise<RelayRun> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (log = (log + s).slice(-20_000)));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const sock = dgram.createSocket({ type: 'udp4', sendBufferSize: BUF });
  try {
    for (const t0 = Date.now(); udpSocketState(port) === undefined; await sleep(20)) {
      if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`${name} did not start:\n${log}`);
    }
    await sleep(200);
    await new Promise<void>((r) => sock.connect(port, '127.0.0.1', r));
    const pid = child.pid!;
    const send = async (from: number, count: number) => {
      let sent = 0;
      let rxQueue = 0;
      let ticks = 0;
      const base = Math.min(...receivers.map((r) => r.n));
      while (sent < count) {
        // Pace on what is still in flight to the slower receiver (bounded well below what the
        // receive buffers hold) and, every few rounds, on the relay's input queue: reading
        // /proc/net/udp costs more than sending.
        if (ticks++ % 8 === 0) {
          const st = udpSocketState(port);
          if (st === undefined) throw new Error(`${name} went away`);
          rxQueue = st.rxQueue;
        }
        const inFlight = base + sent - Math.min(...receivers.map((r) => r.n));
        if (rxQueue < 1024 * 1024 && inFlight < MAX_IN_FLIGHT) {
          const k = Math.min(128, count - sent, MAX_IN_FLIGHT - inFlight);
          for (let i = 0; i < k; i++) sock.send(data[(from + sent + i) % data.length]!);
          sent += k;
        }
        await tick();
      }
    };
    const arrivedAll = async (want: number[], timeoutMs: number) => {
      const until = Date.now() + timeoutMs;
      let seen = receivers.map((r) => r.n);
      let quietSince = Date.now();
      while (receivers.some((r, i) => r.n < want[i]!) && Date.now() < until) {
        await sleep(5);
        const now = receivers.map((r) => r.n);
        if (now.some((v, i) => v !== seen[i])) quietSince = Date.now();
        else if (Date.now() - quietSince > 1500) break; // nothing more is coming: losses
        seen = now;
      }
    };
    sock.send(data[0]!); // the template datagram first, as an exporter starts
    await send(1, warmup);
    await arrivedAll(receivers.map((r) => r.n), 100);
    await sleep(300);
    const start = receivers.map((r) => r.n);
    const drops0 = udpSocketState(port)?.drops ?? 0;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.timeOrigin + performance.now();
    await send(1 + warmup, n);
    await arrivedAll(start.map((s) => s + n), 60_000);
    const t1 = Math.max(...receivers.map((r) => r.last));
    const cpu1 = cpuSeconds(pid);
    const arrived = receivers.map((r, i) => r.n - start[i]!);
    const inputDrops = (udpSocketState(port)?.drops ?? 0) - drops0;
    const rss = rssBytes(pid);
    const wallSec = (t1 - t0) / 1000;
    const cpuSec = cpu1 - cpu0;
    return {
      name,
      datagrams: n,
      arrived,
      lost: receivers.length * n - arrived.reduce((a, b) => a + b, 0),
      inputDrops,
      wallSec,
      cpuSec,
      datagramsPerSec: Math.min(...arrived) / wallSec,
      datagramsPerCpuSec: Math.min(...arrived) / cpuSec,
      rssMB: rss / 2 ** 20,
    };
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}\n--- its output:\n${log.slice(-4000)}`);
  } finally {
    sock.close();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }
}

export async function runRelayBench(o: { datagrams?: number; warmup?: number; rounds?: number } = {}): Promise<RelayBenchResult> {
  const n = o.datagrams ?? Number(process.env.BENCH_RELAY_DATAGRAMS ?? 100_000);
  const warmup = o.warmup ?? Math.min(20_000, Math.round(n / 5));
  const stream = buildIpfixStream(1000, 25);
  const data = stream.datagrams;
  const bytesPerDatagram = Math.round(data.slice(1).reduce((a, b) => a + b.length, 0) / (data.length - 1));

  const rounds = o.rounds ?? 2;
  const recv = await counters(2);
  const rs = recv.rs;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-relay-'));
  const haveNfcapd = spawnSync('nfcapd', ['-V'], { stdio: 'ignore' }).status === 0;
  // Alternate the two relays and keep each one's best round: this machine is shared, and a busy
  // moment should not decide the ratio.
  const best = (a: RelayRun | undefined, b: RelayRun) => (a === undefined || (b.lost === 0 && (a.lost > 0 || b.datagramsPerSec > a.datagramsPerSec)) ? b : a);
  let sluice: RelayRun | undefined;
  let nfcapd: RelayRun | undefined;
  try {
    for (let round = 0; round < rounds; round++) {
      const port = await freePort();
      const relayArgs = ['--import', 'tsx', MAIN, 'relay', '-p', String(port), '-s', '127.0.0.1', '-b', String(BUF), ...rs.map((r) => `127.0.0.1/${r.port}`)];
      sluice = best(sluice, await measure('sluice relay', process.execPath, relayArgs, port, rs, data, n, warmup));
      if (!haveNfcapd) continue;
      const p2 = await freePort();
      const nfArgs = ['-b', '127.0.0.1', '-p', String(p2), '-w', dir, '-B', String(BUF), ...rs.flatMap((r) => ['-R', `127.0.0.1/${r.port}`])];
      nfcapd = best(nfcapd, await measure('nfcapd -R (repeater)', 'nfcapd', nfArgs, p2, rs, data, n, warmup));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await recv.close();
  }
  if (nfcapd === undefined) return { bytesPerDatagram, rounds, sluice: sluice!, note: 'nfcapd not installed (apt-get install nfdump): no repeater to compare with' };
  return { bytesPerDatagram, rounds, sluice: sluice!, nfcapd };
}

export function formatRelayBench(r: RelayBenchResult): string {
  const k = (x: number) => `${(x / 1000).toFixed(0)} k`;
  const row = (x: RelayRun) =>
    `  ${x.name.padEnd(24)}${k(x.datagramsPerSec).padStart(12)}${k(x.datagramsPerCpuSec).padStart(14)}${`${((100 * x.cpuSec) / x.wallSec).toFixed(0)}%`.padStart(7)}${String(x.lost).padStart(8)}` +
    `   ${x.arrived.join(' + ')} of 2 x ${x.datagrams} copies, ${x.inputDrops} input drops, ${x.wallSec.toFixed(2)} s, RSS ${x.rssMB.toFixed(0)} MB`;
  const lines = [
    `relay benchmark: ~${r.bytesPerDatagram}-byte IPFIX datagrams over loopback to 2 receivers, best of ${r.rounds} alternating rounds`,
    `  ${''.padEnd(24)}${'datagrams/s'.padStart(12)}${'per CPU-sec'.padStart(14)}${'CPU'.padStart(7)}${'lost'.padStart(8)}`,
    row(r.sluice),
  ];
  if (r.nfcapd !== undefined) {
    lines.push(row(r.nfcapd));
    lines.push(
      `  ratio sluice relay / nfcapd -R: wall clock ${(r.sluice.datagramsPerSec / r.nfcapd.datagramsPerSec).toFixed(2)}x, per CPU-sec ${(r.sluice.datagramsPerCpuSec / r.nfcapd.datagramsPerCpuSec).toFixed(2)}x` +
        '  (nfcapd also decodes and stores the flows)',
    );
  }
  for (const x of [r.sluice, r.nfcapd]) if (x !== undefined && (x.lost > 0 || x.inputDrops > 0)) lines.push(`  warning: ${x.name} lost ${x.lost} copies (${x.inputDrops} at its input): its rate is not a zero-loss rate`);
  if (r.note !== undefined) lines.push(`  ${r.note}`);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runRelayBench()
    .then((r) => console.log(formatRelayBench(r)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
