/**
 * sFlow v5 benchmark: sluice's decoder on one core, in-process, next to Debian's sfcapd
 * (nfdump-sflow) on the same datagrams in the same run, with the ratio.
 *
 * Input: datagrams as a switch sends them: six flow samples each, a 128-byte raw Ethernet header
 * (IPv4/IPv6, TCP/UDP, some VLAN-tagged) plus an extended switch record, 1 in 512 sampling.
 *
 * sluice: the samples/s of a tight loop over the datagrams, (a) decoding only, (b) decoding plus
 * the record model and IPFIXcol2 JSON text, which is the work `sluice collect` does per datagram.
 * sfcapd: the datagrams go to it over loopback UDP; what it stored is counted with `nfdump -I`, and
 * its rate is the samples it stored per second of its own CPU time (user + system, from
 * /proc/PID/stat), so the pacing of the sender and the idle time in between do not count. Both
 * receivers get a fifth as many datagrams again first, untimed (start-up and warm-up). sfcapd's
 * number includes its receive system calls and file writes; sluice's does not include a socket.
 *
 *   node --import tsx bench/sflow.ts            # or: BENCH_SECONDS=5 BENCH_SFCAPD_DATAGRAMS=200000 ...
 *
 * From another script: `import { runSflowBench, formatSflowBench } from './sflow.js'`.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByteOutput } from '../src/format/byte-output.js';
import { Ipfixcol2JsonFormatter } from '../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession, type FlowBatch } from '../src/wire/batch.js';
import { IeRegistry, protocolKeyword } from '../src/wire/ie/registry.js';
import { ethernetIpv4Tcp, ethernetIpv4Udp, ethernetIpv6Tcp } from '../src/wire/packet/build.js';
import { SflowDecoder } from '../src/wire/sflow/decode.js';
import { compiledSluice } from './proc.js';
import { encodeSflowDatagram, type SflowSample } from '../src/wire/sflow/encode.js';

export interface SflowBenchOptions {
  /** Seconds per in-process measurement (after a warm-up of a third of that). */
  readonly seconds?: number;
  /** Datagrams sent to sfcapd. */
  readonly sfcapdDatagrams?: number;
  /** Distinct datagrams in the input set. */
  readonly distinct?: number;
}

export interface Rate {
  readonly datagramsPerSec: number;
  readonly samplesPerSec: number;
}

export interface SflowBenchResult {
  readonly samplesPerDatagram: number;
  readonly bytesPerDatagram: number;
  readonly decode: Rate;
  /** Decode + JSON as collect writes it: UTF-8 bytes from the byte formatter. */
  readonly decodeJson: Rate;
  /** Decode + JSON text (the string formatter, a reference path collect does not use). */
  readonly decodeJsonText: Rate;
  /** undefined when sfcapd is not installed. */
  readonly sfcapd?: Rate & { readonly sent: number; readonly stored: number; readonly cpuSec: number };
  /** `sluice collect` over loopback UDP, measured like sfcapd. */
  readonly collect?: Rate & { readonly sent: number; readonly stored: number; readonly cpuSec: number };
  readonly note?: string;
}

const SAMPLES_PER_DATAGRAM = 6;

/** A deterministic set of switch-like datagrams. */
export function buildSflowDatagrams(distinct: number): Buffer[] {
  let x = 0x5eed;
  const rnd = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const out: Buffer[] = [];
  // Each data source numbers its own samples (sFlow v5), as a switch's ports do.
  const seqOf = new Map<number, number>();
  for (let d = 0; d < distinct; d++) {
    const samples: SflowSample[] = [];
    for (let k = 0; k < SAMPLES_PER_DATAGRAM; k++) {
      const kind = rnd(10);
      const vlanIds = rnd(3) === 0 ? [rnd(4000) + 1] : [];
      const payload = Buffer.alloc(200 + rnd(1200));
      const frame =
        kind < 5
          ? ethernetIpv4Tcp({ src: `10.${rnd(256)}.${rnd(256)}.${rnd(254) + 1}`, dst: `192.0.2.${rnd(254) + 1}`, srcPort: 1024 + rnd(60000), dstPort: [80, 443, 22][rnd(3)]!, flags: 0x18, vlanIds, payload })
          : kind < 8
            ? ethernetIpv4Udp({ src: `10.${rnd(256)}.${rnd(256)}.${rnd(254) + 1}`, dst: `198.51.100.${rnd(254) + 1}`, srcPort: 1024 + rnd(60000), dstPort: 53, vlanIds, payload })
            : ethernetIpv6Tcp({ src: `2001:db8:${rnd(65535).toString(16)}::${(rnd(65535) + 1).toString(16)}`, dst: '2001:db8:ffff::1', srcPort: 1024 + rnd(60000), dstPort: 443, flags: 0x10, vlanIds, payload });
      const port = 1 + rnd(48);
      const seq = (seqOf.get(port) ?? 0) + 1;
      seqOf.set(port, seq);
      samples.push({
        kind: 'flow',
        sequence: seq,
        sourceIndex: port,
        samplingRate: 512,
        samplePool: seq * 512,
        drops: 0,
        input: port,
        output: 1 + rnd(48),
        records: [
          { type: 'header', protocol: 1, frameLength: frame.length + 4, stripped: 4, header: frame.subarray(0, 128) },
          { type: 'switch', srcVlan: vlanIds[0] ?? 1, srcPriority: 0, dstVlan: vlanIds[0] ?? 1, dstPriority: 0 },
        ],
      });
    }
    out.push(encodeSflowDatagram({ agent: '192.0.2.250', subAgentId: 0, sequence: d + 1, uptimeMs: 1_000_000 + d, samples }));
  }
  return out;
}

/** Runs `step` over the datagrams for `seconds` (after a warm-up); returns datagrams per second. */
function timeLoop(datagrams: readonly Buffer[], seconds: number, step: (b: Buffer, i: number) => void): number {
  const run = (ms: number): number => {
    const t0 = performance.now();
    let n = 0;
    let now = t0;
    while (now - t0 < ms) {
      // Check the clock once per pass over the set, not per datagram.
      for (let i = 0; i < datagrams.length; i++) step(datagrams[i]!, n + i);
      n += datagrams.length;
      now = performance.now();
    }
    return n / ((now - t0) / 1000);
  };
  run((seconds * 1000) / 3);
  return run(seconds * 1000);
}

function inProcess(datagrams: readonly Buffer[], seconds: number): { decode: number; decodeJson: number; decodeJsonText: number } {
  const session = makeSession('udp', '192.0.2.250', 6343, 6343);
  const nowMs = 1_700_000_000_000;
  // (a) the decoder alone, into a sink that only counts.
  let records = 0;
  const dec = new SflowDecoder(IeRegistry.builtin());
  const sink = {
    batch: (b: FlowBatch) => {
      records += b.count;
    },
    drop: () => {
      throw new Error('the benchmark input must decode cleanly');
    },
  };
  const decode = timeLoop(datagrams, seconds, (b) => dec.decode(b, session, nowMs, sink));
  // (b) what collect does per datagram: decoder, time model, JSON as UTF-8 bytes (collect's encoder).
  const fmt = new Ipfixcol2JsonFormatter({}, protocolKeyword);
  const out = new ByteOutput(1 << 20);
  let bytes = 0;
  const pipeline = new DecodeStage({
    registry: IeRegistry.builtin(),
    onBatch: (b) => {
      fmt.formatBatchInto(b, out);
      if (out.len >= 256 * 1024) {
        bytes += out.len;
        out.reset();
      }
    },
  });
  const decodeJson = timeLoop(datagrams, seconds, (b) => pipeline.handle(b, session, nowMs));
  // (c) the same with the string formatter (JSON text), for reference.
  let chars = 0;
  const textPipeline = new DecodeStage({
    registry: IeRegistry.builtin(),
    onBatch: (b) => {
      chars += fmt.formatBatch(b).length;
    },
  });
  const decodeJsonText = timeLoop(datagrams, seconds, (b) => textPipeline.handle(b, session, nowMs));
  bytes += out.len;
  if (records === 0 || chars === 0 || bytes === 0 || pipeline.counters.drops.total() !== 0 || textPipeline.counters.drops.total() !== 0) throw new Error('benchmark decoded nothing, or dropped input');
  return { decode, decodeJson, decodeJsonText };
}

function has(cmd: string, args: readonly string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return (Number(f[11]) + Number(f[12])) / ticks; // fields 14 and 15 of stat, counted after the command name
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return p;
}

type OverUdp = NonNullable<SflowBenchResult['sfcapd']>;

/**
 * Starts `cmd`, waits for `ready` in its output, sends `total` datagrams to `port` in bursts small
 * enough for the socket buffer (with a pause for the receiver to drain it: this measures the
 * receiver's work, not the kernel's drops), and returns the receiver's CPU seconds for that part.
 * `finish` stops the process and counts what it stored.
 */
async function overUdp(
  cmd: string,
  args: readonly string[],
  ready: string,
  port: number,
  datagrams: readonly Buffer[],
  total: number,
  finish: (log: () => string, stop: () => Promise<void>) => Promise<number>,
  stdoutToNull = false,
): Promise<OverUdp> {
  const child = spawn(cmd, args, { stdio: ['ignore', stdoutToNull ? 'ignore' : 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (log += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (log += s));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  try {
    for (const t0 = Date.now(); !log.includes(ready); await sleep(20)) {
      if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`${cmd} did not start: ${log}`);
    }
    const pid = child.pid!;
    const sock = dgram.createSocket('udp4');
    sock.connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const send = async (from: number, count: number) => {
      for (let sent = 0; sent < count; ) {
        const n = Math.min(200, count - sent);
        for (let i = 0; i < n; i++) sock.send(datagrams[(from + sent + i) % datagrams.length]!);
        sent += n;
        await sleep(2);
      }
      await sleep(500);
    };
    // Warm-up, not timed, the same for every receiver: a collector's first second (its decode
    // worker loading, code being compiled) is not the rate it keeps.
    const warm = Math.floor(total / 5);
    await send(0, warm);
    const cpu0 = cpuSeconds(pid);
    await send(warm, total);
    sock.close();
    const cpu = cpuSeconds(pid) - cpu0;
    const stored = (await finish(() => log, stop)) - warm * SAMPLES_PER_DATAGRAM;
    return { sent: total, stored, cpuSec: cpu, datagramsPerSec: stored / SAMPLES_PER_DATAGRAM / cpu, samplesPerSec: stored / cpu };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

async function sfcapd(datagrams: readonly Buffer[], total: number): Promise<OverUdp> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sfcapd-'));
  const port = await freePort();
  try {
    const args = ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-B', '16777216', '-t', '3600'];
    return await overUdp('sfcapd', args, 'Startup', port, datagrams, total, async (_log, stop) => {
      await stop(); // sfcapd closes and renames its file on SIGTERM
      const info = spawnSync('nfdump', ['-R', dir, '-I'], { encoding: 'utf8' });
      const m = /^Flows: (\d+)/m.exec(info.stdout);
      if (m === null) throw new Error(`nfdump -I gave no flow count: ${info.stdout}${info.stderr}`);
      return Number(m[1]);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `sluice collect` as a separate process, measured the same way, JSON to /dev/null. */
async function sluiceCollect(datagrams: readonly Buffer[], total: number): Promise<OverUdp> {
  const port = await freePort();
  // The compiled CLI as it ships (bench/proc.ts), not through tsx.
  const args = [...compiledSluice(), 'collect', '--listen', `udp://127.0.0.1:${port}`];
  return overUdp(process.execPath, args, 'listening on', port, datagrams, total, async (log, stop) => {
    await stop(); // collect logs "N datagrams, M records, ..." when it stops
    const m = /(\d+) datagrams, (\d+) records/.exec(log());
    if (m === null) throw new Error(`sluice collect printed no summary: ${log()}`);
    return Number(m[2]);
  }, true);
}

export async function runSflowBench(o: SflowBenchOptions = {}): Promise<SflowBenchResult> {
  const seconds = o.seconds ?? 3;
  const datagrams = buildSflowDatagrams(o.distinct ?? 512);
  const bytes = datagrams.reduce((n, b) => n + b.length, 0) / datagrams.length;
  const r = inProcess(datagrams, seconds);
  const rate = (dps: number): Rate => ({ datagramsPerSec: dps, samplesPerSec: dps * SAMPLES_PER_DATAGRAM });
  const base = { samplesPerDatagram: SAMPLES_PER_DATAGRAM, bytesPerDatagram: Math.round(bytes), decode: rate(r.decode), decodeJson: rate(r.decodeJson), decodeJsonText: rate(r.decodeJsonText) };
  const total = o.sfcapdDatagrams ?? 100_000;
  if (total === 0) return base;
  const collect = await sluiceCollect(datagrams, total);
  if (!has('sfcapd', ['-V']) || !has('nfdump', ['-V'])) return { ...base, collect, note: 'sfcapd/nfdump not installed (apt-get install nfdump-sflow nfdump): no peer to compare with' };
  return { ...base, collect, sfcapd: await sfcapd(datagrams, total) };
}

const k = (n: number) => `${(n / 1000).toFixed(0)}k`;

export function formatSflowBench(r: SflowBenchResult): string {
  const lines = [
    `sFlow v5, ${r.samplesPerDatagram} flow samples (128-byte raw header + extended switch) per ${r.bytesPerDatagram}-byte datagram`,
    `  sluice decode            ${k(r.decode.datagramsPerSec).padStart(6)} datagrams/s  ${k(r.decode.samplesPerSec).padStart(6)} samples/s  (one core, in-process)`,
    `  sluice decode + JSON     ${k(r.decodeJson.datagramsPerSec).padStart(6)} datagrams/s  ${k(r.decodeJson.samplesPerSec).padStart(6)} samples/s  (one core, in-process, UTF-8 JSON as collect writes it)`,
    `  sluice decode + JSON text ${k(r.decodeJsonText.datagramsPerSec).padStart(5)} datagrams/s  ${k(r.decodeJsonText.samplesPerSec).padStart(6)} samples/s  (one core, in-process, string formatter, reference only)`,
  ];
  const udp = (name: string, s: OverUdp, what: string) =>
    `  ${name.padEnd(24)} ${k(s.datagramsPerSec).padStart(6)} datagrams/s  ${k(s.samplesPerSec).padStart(6)} samples/s  per CPU second over UDP (${s.stored} of ${s.sent * r.samplesPerDatagram} samples ${what}, ${s.cpuSec.toFixed(2)} s CPU)`;
  if (r.collect !== undefined) lines.push(udp('sluice collect', r.collect, 'printed'));
  if (r.sfcapd !== undefined) {
    const s = r.sfcapd;
    lines.push(udp('sfcapd (nfdump-sflow)', s, 'stored'));
    const ratio = (x: number) => `${(x / s.samplesPerSec).toFixed(2)}x`;
    lines.push(
      `  ratio sluice/sfcapd: decode ${ratio(r.decode.samplesPerSec)}, decode + JSON ${ratio(r.decodeJson.samplesPerSec)} (text ${ratio(r.decodeJsonText.samplesPerSec)})` +
        (r.collect !== undefined ? `, collect over UDP ${ratio(r.collect.samplesPerSec)}` : ''),
    );
  } else if (r.note !== undefined) lines.push(`  ${r.note}`);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const env = (name: string) => (process.env[name] !== undefined ? Number(process.env[name]) : undefined);
  runSflowBench({ seconds: env('BENCH_SECONDS'), sfcapdDatagrams: env('BENCH_SFCAPD_DATAGRAMS') })
    .then((r) => console.log(formatSflowBench(r)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
