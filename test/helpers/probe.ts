/**
 * Helpers for the probe's end-to-end tests: run `sluice probe` as a child process, receive its
 * export on a loopback UDP socket, wrap the received datagrams into a pcap for tshark, and run
 * Debian's nfcapd / nfdump as the reference collector.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethernetIpv4Udp } from '../../src/wire/packet/build.js';
import { writePcap } from '../../src/wire/pcap/write.js';
import { freeUdpPort, REPO_ROOT, sleep } from './collector.js';
import { MAIN, runSluice, type RunResult } from './cli.js';

export { MAIN };

/** `sluice probe ARGS` to completion (bounded). */
export function runProbeCli(args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
  return runSluice(['probe', ...args], timeoutMs);
}

export interface Received {
  readonly tsMs: number;
  readonly data: Buffer;
}

/** A UDP socket on 127.0.0.1 that keeps every datagram it receives. */
export class DatagramSink {
  readonly datagrams: Received[] = [];
  private constructor(
    private readonly socket: dgram.Socket,
    readonly port: number,
  ) {
    socket.on('message', (data) => this.datagrams.push({ tsMs: Date.now(), data }));
  }

  static async open(): Promise<DatagramSink> {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
    await new Promise<void>((ok, fail) => {
      s.once('error', fail);
      s.bind(0, '127.0.0.1', () => ok());
    });
    return new DatagramSink(s, s.address().port);
  }

  /** Waits until `n` datagrams arrived or nothing came for `idleMs`. */
  async waitFor(n: number, idleMs = 1000, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    let since = Date.now();
    while (Date.now() < deadline && this.datagrams.length < n) {
      if (this.datagrams.length !== last) {
        last = this.datagrams.length;
        since = Date.now();
      } else if (Date.now() - since > idleMs) break;
      await sleep(20);
    }
  }

  /** The datagrams as an Ethernet/IPv4/UDP pcap, as if captured on lo, for tshark. */
  toPcap(srcPort = 40000): Buffer {
    return writePcap(
      this.datagrams.map((d) => ({ tsMs: d.tsMs, data: ethernetIpv4Udp({ src: '127.0.0.1', dst: '127.0.0.1', srcPort, dstPort: this.port, payload: d.data }) })),
    );
  }

  close(): Promise<void> {
    return new Promise((ok) => this.socket.close(() => ok()));
  }
}

export interface NfdumpTotals {
  readonly flows: number;
  readonly packets: number;
  readonly bytes: number;
}

/** nfcapd (Debian nfdump 1.7) on a loopback UDP port, writing into a temporary directory. */
export class Nfcapd {
  private exited: Promise<number | null>;
  private err = '';

  private constructor(
    private readonly child: ReturnType<typeof spawn>,
    readonly port: number,
    private readonly dir: string,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.err += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.err += s));
    this.exited = new Promise((ok) => child.once('close', (code) => ok(code)));
  }

  get log(): string {
    return this.err;
  }

  static async start(): Promise<Nfcapd> {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-probe-nfcapd-'));
    const port = await freeUdpPort();
    const child = spawn('nfcapd', ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-t', '3600'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const n = new Nfcapd(child, port, dir);
    const deadline = Date.now() + 10_000;
    while (!n.err.includes('Startup')) {
      if (child.exitCode !== null) throw new Error(`nfcapd exited: ${n.err}`);
      if (Date.now() > deadline) break; // some builds print nothing; the port is bound by now anyway
      await sleep(20);
    }
    return n;
  }

  /** Stops nfcapd (it closes and renames its file on SIGTERM) and sums the file with `nfdump -I`. */
  async stop(): Promise<NfdumpTotals> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
    try {
      const info = spawnSync('nfdump', ['-R', this.dir, '-I'], { encoding: 'utf8', timeout: 20_000 });
      const num = (k: string) => {
        const m = new RegExp(`^${k}: (\\d+)`, 'm').exec(info.stdout);
        if (m === null) throw new Error(`nfdump -I printed no ${k}:\n${info.stdout}${info.stderr}\nnfcapd: ${this.err}`);
        return Number(m[1]);
      };
      return { flows: num('Flows'), packets: num('Packets'), bytes: num('Bytes') };
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Kills it without reading (cleanup after a failure). */
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface TsharkCheck {
  /** Frames tshark dissected as NetFlow/IPFIX. */
  readonly cflowFrames: number;
  /** Expert-info lines of severity warning or error, and malformed-packet markers. */
  readonly problems: string[];
  /** Sums of the per-record packet and octet counts tshark decoded. */
  readonly packets: number;
  readonly octets: number;
  readonly records: number;
}

/** tshark's view of a pcap of exported datagrams to `port`, decoded as cflow. */
export function tsharkCheck(pcapPath: string, port: number): TsharkCheck {
  const decodeAs = ['-d', `udp.port==${port},cflow`];
  const v = spawnSync('tshark', ['-n', '-r', pcapPath, ...decodeAs, '-V'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
  if (v.status !== 0) throw new Error(`tshark failed (${v.status}): ${v.stderr}`);
  const problems = v.stdout.split('\n').filter((l) => /Expert Info \((Warning|Error)/.test(l) || /Malformed Packet/.test(l));
  const f = spawnSync('tshark', ['-n', '-r', pcapPath, ...decodeAs, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'cflow.version', '-e', 'cflow.packets', '-e', 'cflow.octets'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 60_000,
  });
  if (f.status !== 0) throw new Error(`tshark -T fields failed (${f.status}): ${f.stderr}`);
  let cflowFrames = 0;
  let packets = 0;
  let octets = 0;
  let records = 0;
  const nums = (s: string | undefined) => (s === undefined || s === '' ? [] : s.split(',').map(Number));
  for (const line of f.stdout.split('\n')) {
    if (line === '') continue;
    const [version, p, o] = line.split('\t');
    if (version !== '') cflowFrames++;
    const ps = nums(p);
    records += ps.length;
    for (const x of ps) packets += x;
    for (const x of nums(o)) octets += x;
  }
  return { cflowFrames, problems, packets, octets, records };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
