/**
 * Memory under template load: the RSS of a `sluice collect` process (its default setup, JSON to
 * /dev/null) fed templates over loopback UDP, with nfcapd (Debian nfdump 1.7) fed the same beside
 * it. IPFIXcol2, the peer, is not installable on these machines.
 *
 *   fleet: 1 000 exporters (one loopback address each) x 10 IPFIX templates of 20 fields, every
 *          template a shape of its own, then one data set for each (so every template is used);
 *   flood: one exporter sends 200 000 template definitions over the id space (256..65535, a new
 *          shape each time), no data.
 *
 * RSS is read from /proc/PID/status once the receiver's queue is empty and its CPU time has settled.
 * *
 *   node --import tsx bench/templates.ts [--fleet-only|--flood-only] [--exporters N] [--definitions N]
 *
 * With --heap (and node's --expose-gc), what the JSON formatter retains instead: the live heap after a
 * full collection once 4 000 distinct layouts have each been hot enough to compile, with the
 * default bound of compiled layouts and without one. Evicted code must be collected, so the first
 * stays near the bound's worth and the second grows with the layouts.
 *
 *   node --expose-gc --import tsx bench/templates.ts --heap
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { ByteOutput } from '../src/format/byte-output.js';
import { Ipfixcol2JsonFormatter, type FormatterCacheStats, type FormatterLimits } from '../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession } from '../src/wire/batch.js';
import { IpfixMessageBuilder, type EncField, type EncTemplate } from '../src/wire/encode/ipfix.js';
import { IeRegistry } from '../src/wire/ie/registry.js';
import { cpuSeconds, rssBytes, udpSocketState } from './proc.js';
import { nfcapdReceiver, sluiceReceiver } from './udp.js';
import { Prng } from '../test/helpers/prng.js';

/** IANA elements with their usual lengths, for templates shaped like real exporters' (no lists, no varlen). */
const POOL: readonly (readonly [number, number])[] = [
  [1, 8], [2, 8], [4, 1], [5, 1], [6, 2], [7, 2], [8, 4], [9, 1], [10, 4], [11, 2], [12, 4], [13, 1], [14, 4], [15, 4],
  [16, 4], [17, 4], [18, 4], [21, 4], [22, 4], [27, 16], [28, 16], [29, 1], [30, 1], [31, 4], [32, 2], [56, 6], [58, 2],
  [60, 1], [61, 1], [62, 16], [70, 3], [80, 6], [85, 8], [86, 8], [89, 4], [130, 4], [131, 16], [136, 1], [138, 4],
  [144, 4], [148, 8], [150, 4], [151, 4], [152, 8], [153, 8], [154, 8], [155, 8], [160, 8], [161, 4], [176, 1], [177, 1],
  [184, 4], [185, 4], [186, 2], [192, 1], [195, 1], [205, 2], [224, 8], [225, 4], [226, 4], [227, 2], [228, 2], [234, 4],
  [235, 4], [239, 1], [243, 2], [244, 2], [245, 2], [256, 2], [276, 8], [298, 8], [299, 8], [300, 4], [302, 4],
];
/** Reduced-size encodings (RFC 7011 6.2) that give counters and interfaces more shapes. */
const REDUCED: ReadonlyMap<number, readonly number[]> = new Map([
  [8, [8, 4, 2]],
  [4, [4, 2]],
]);

/** `count` templates of `fields` fields, each of a shape no other has (element choice, order, sizes). */
export function distinctTemplates(count: number, fields: number, seed: number, firstId = 256): EncTemplate[] {
  const rng = new Prng(seed);
  const seen = new Set<string>();
  const out: EncTemplate[] = [];
  while (out.length < count) {
    const pick = new Set<number>();
    while (pick.size < fields) pick.add(rng.int(0, POOL.length - 1));
    const fs: EncField[] = [...pick].map((k) => {
      const [id, len] = POOL[k]!;
      const alt = REDUCED.get(len);
      return { id, length: alt !== undefined && id !== 8 && id !== 12 ? rng.pick(alt) : len };
    });
    const sig = fs.map((f) => `${f.id}.${f.length}`).join(',');
    if (seen.has(sig)) continue;
    seen.add(sig);
    out.push({ id: firstId + (out.length % (65536 - firstId)), fields: fs });
  }
  return out;
}

function randomRecord(rng: Prng, t: EncTemplate): Buffer[] {
  return t.fields.map((f) => {
    const b = Buffer.alloc(f.length);
    for (let i = 0; i < b.length; i++) b[i] = rng.int(0, 255);
    return b;
  });
}

const EXPORT_SEC = 1_704_067_200;

export interface FleetLoad {
  /** Per exporter: its template message, then its data messages. */
  readonly exporters: readonly { readonly templates: Buffer; readonly data: readonly Buffer[] }[];
  readonly templates: number;
}

/** `exporters` x `perExporter` templates of 20 fields, all shapes different, and 5 records of each. */
export function fleetLoad(exporters = 1000, perExporter = 10): FleetLoad {
  const all = distinctTemplates(exporters * perExporter, 20, 0x7e3);
  const rng = new Prng(0xda7a);
  const out: { templates: Buffer; data: Buffer[] }[] = [];
  for (let e = 0; e < exporters; e++) {
    const ts = all.slice(e * perExporter, (e + 1) * perExporter).map((t, k) => ({ ...t, id: 256 + k }));
    const templates = new IpfixMessageBuilder({ domainId: 1, exportTimeSec: EXPORT_SEC, sequence: 0 }).templates(ts).build();
    const data = ts.map((t, k) => new IpfixMessageBuilder({ domainId: 1, exportTimeSec: EXPORT_SEC, sequence: 5 * k }).data(t, Array.from({ length: 5 }, () => randomRecord(rng, t))).build());
    out.push({ templates, data });
  }
  return { exporters: out, templates: exporters * perExporter };
}

/** One exporter's template flood: `definitions` templates over ids 256..65535, `perMessage` to a message. */
export function floodLoad(definitions = 200_000, perMessage = 16): Buffer[] {
  const ts = distinctTemplates(definitions, 20, 0xf100d);
  const out: Buffer[] = [];
  for (let i = 0; i < ts.length; i += perMessage) {
    out.push(new IpfixMessageBuilder({ domainId: 1, exportTimeSec: EXPORT_SEC, sequence: 0 }).templates(ts.slice(i, i + perMessage)).build());
  }
  return out;
}

// ---- over UDP, as processes ----------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface MemoryResult {
  readonly name: string;
  /** RSS once listening, before any input. */
  readonly idleMB: number;
  readonly rssMB: number;
  readonly addedMB: number;
  /** Fleet: RSS once the templates are in, before any data. */
  readonly templatesOnlyMB?: number;
  readonly kernelDrops: number;
  readonly seconds: number;
}

interface Receiver {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly ready: string;
  readonly port: number;
  readonly cleanup?: () => void;
}

/** `sluice collect` as the UDP bench runs it; BENCH_COLLECT_ARGS adds arguments, e.g. "--workers 0", to see where the memory goes. */
export function sluiceCollect(port: number): Receiver {
  const r = sluiceReceiver(port);
  return { ...r, args: [...r.args, ...(process.env.BENCH_COLLECT_ARGS?.split(' ').filter((a) => a !== '') ?? [])], port };
}

/** nfcapd as the UDP bench runs it. */
export function nfcapd(port: number): Receiver {
  return { ...nfcapdReceiver(port), port };
}

async function paced(port: number, send: (i: number) => void, count: number): Promise<void> {
  for (let i = 0; i < count; ) {
    const st = udpSocketState(port);
    if (st === undefined) throw new Error(`no UDP socket on port ${port}: the receiver went away`);
    if (st.rxQueue < 1 << 20) {
      const n = Math.min(64, count - i);
      for (let k = 0; k < n; k++) send(i + k);
      i += n;
    }
    await new Promise<void>((r) => setImmediate(r));
  }
}

async function settled(pid: number, port: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while ((udpSocketState(port)?.rxQueue ?? 0) > 0 && Date.now() < deadline) await sleep(5);
  let cpu = cpuSeconds(pid);
  let quiet = performance.now();
  while (performance.now() - quiet < 500 && Date.now() < deadline) {
    await sleep(20);
    const now = cpuSeconds(pid);
    if (now !== cpu) {
      cpu = now;
      quiet = performance.now();
    }
  }
}

export type Load = { readonly kind: 'fleet'; readonly load: FleetLoad } | { readonly kind: 'flood'; readonly messages: readonly Buffer[] };

/** Starts the receiver, feeds it the load, returns its RSS before and after. */
export async function measureMemory(r: Receiver, port: number, load: Load): Promise<MemoryResult> {
  const child = spawn(r.command, r.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (log = (log + s).slice(-100_000)));
  const exited = new Promise<void>((res) => child.once('close', () => res()));
  const t0 = performance.now();
  try {
    for (const s0 = Date.now(); !log.includes(r.ready) || udpSocketState(port) === undefined; await sleep(20)) {
      if (child.exitCode !== null || Date.now() - s0 > 30_000) throw new Error(`${r.name} did not start:\n${log}`);
    }
    const pid = child.pid!;
    await sleep(300);
    const idle = rssBytes(pid);
    const drops0 = udpSocketState(port)?.drops ?? 0;
    let templatesOnly: number | undefined;
    if (load.kind === 'flood') {
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((res) => sock.connect(port, '127.0.0.1', res));
      await paced(port, (i) => sock.send(load.messages[i]!), load.messages.length);
      await settled(pid, port);
      sock.close();
    } else {
      // One socket per exporter, each on its own loopback address (127.1.x.y).
      const ex = load.load.exporters;
      const socks: dgram.Socket[] = [];
      for (let e = 0; e < ex.length; e++) {
        const s = dgram.createSocket('udp4');
        await new Promise<void>((res) => s.bind(0, `127.1.${Math.floor(e / 250)}.${(e % 250) + 1}`, res));
        socks.push(s);
      }
      await paced(port, (e) => socks[e]!.send(ex[e]!.templates, port, '127.0.0.1'), ex.length);
      await settled(pid, port);
      templatesOnly = rssBytes(pid);
      const per = ex[0]!.data.length;
      await paced(port, (i) => socks[i % ex.length]!.send(ex[i % ex.length]!.data[Math.floor(i / ex.length)]!, port, '127.0.0.1'), ex.length * per);
      await settled(pid, port);
      for (const s of socks) s.close();
    }
    const rss = rssBytes(pid);
    const drops = (udpSocketState(port)?.drops ?? 0) - drops0;
    child.kill('SIGTERM');
    await exited;
    return {
      name: r.name,
      idleMB: idle / 2 ** 20,
      rssMB: rss / 2 ** 20,
      addedMB: (rss - idle) / 2 ** 20,
      templatesOnlyMB: templatesOnly !== undefined ? templatesOnly / 2 ** 20 : undefined,
      kernelDrops: drops,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (err) {
    throw new Error(`${r.name}: ${(err as Error).message}\n--- its output:\n${log.slice(-3000)}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    r.cleanup?.();
  }
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return p;
}

export interface TemplateBenchResult {
  readonly fleet?: readonly MemoryResult[];
  readonly flood?: readonly MemoryResult[];
  readonly note?: string;
}

export async function runTemplateBench(o: { fleet?: boolean; flood?: boolean; exporters?: number; definitions?: number; peer?: boolean } = {}): Promise<TemplateBenchResult> {
  const receivers = async () => {
    const out = [sluiceCollect(await freeUdpPort())];
    if (o.peer !== false && hasNfcapd()) out.push(nfcapd(await freeUdpPort()));
    return out;
  };
  let fleet: MemoryResult[] | undefined;
  let flood: MemoryResult[] | undefined;
  if (o.fleet !== false) {
    const load = fleetLoad(o.exporters ?? 1000, 10);
    fleet = [];
    for (const r of await receivers()) fleet.push(await measureMemory(r, r.port, { kind: 'fleet', load }));
  }
  if (o.flood !== false) {
    const messages = floodLoad(o.definitions ?? 200_000);
    flood = [];
    for (const r of await receivers()) flood.push(await measureMemory(r, r.port, { kind: 'flood', messages }));
  }
  return { fleet, flood, note: hasNfcapd() ? undefined : 'nfcapd not installed (apt-get install nfdump): no peer' };
}

function hasNfcapd(): boolean {
  return spawnSync('nfcapd', ['-V'], { stdio: 'ignore' }).error === undefined;
}

const mb = (x: number) => `${x.toFixed(0)} MiB`;

export function formatTemplateBench(r: TemplateBenchResult, exporters = 1000, definitions = 200_000): string {
  const lines = ['Memory under template load (RSS of the receiving process; IPFIXcol2 is not installable here, nfcapd is the peer):'];
  const show = (title: string, rows: readonly MemoryResult[] | undefined, goal: string) => {
    if (rows === undefined) return;
    lines.push(`  ${title}`);
    for (const m of rows) {
      const tpl = m.templatesOnlyMB !== undefined ? `, ${mb(m.templatesOnlyMB)} after the templates alone` : '';
      lines.push(`    ${m.name.padEnd(16)} RSS ${mb(m.rssMB).padStart(8)}  (idle ${mb(m.idleMB)}, added ${mb(m.addedMB)}${tpl})  kernel drops ${m.kernelDrops}, ${m.seconds.toFixed(1)} s`);
    }
    const s = rows.find((m) => m.name.startsWith('sluice'));
    const p = rows.find((m) => m.name === 'nfcapd');
    if (s !== undefined && p !== undefined) lines.push(`    ratio sluice / nfcapd: RSS ${(s.rssMB / p.rssMB).toFixed(2)}x, added ${(s.addedMB / Math.max(1, p.addedMB)).toFixed(2)}x; goal ${goal}`);
    else if (s !== undefined) lines.push(`    goal ${goal}`);
  };
  show(`${exporters} exporters x 10 IPFIX templates (20 fields, shapes all different), 5 records of each`, r.fleet, '<= 200 MiB');
  show(`template flood: one exporter, ${definitions} definitions over the id space, no data`, r.flood, '<= +64 MiB added');
  if (r.note !== undefined) lines.push(`  ${r.note}`);
  return lines.join('\n');
}

// ---- in-process: what the formatter retains ----------------------------------------------------

export interface HeapResult {
  readonly layouts: number;
  readonly bounded: { readonly heapMB: number; readonly stats: FormatterCacheStats };
  readonly unbounded: { readonly heapMB: number; readonly stats: FormatterCacheStats };
  readonly baseMB: number;
}

/** Live heap (MiB) after full collections; needs --expose-gc. */
function liveHeapMB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run node with --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/**
 * `layouts` distinct templates (one exporter each, 1000 per run of ids), each with enough records
 * to be compiled at once (hotRecords 1), formatted by a formatter with `limits`; returns the live
 * heap with the decoder and formatter still reachable.
 */
function retained(layouts: number, limits: Partial<FormatterLimits>): { heapMB: number; stats: FormatterCacheStats } {
  const load = fleetLoad(layouts / 10, 10);
  const fmt = new Ipfixcol2JsonFormatter({}, undefined, { hotRecords: 1, ...limits });
  const out = new ByteOutput(1 << 16);
  const stage = new DecodeStage({
    registry: IeRegistry.builtin(),
    onBatch: (b) => {
      fmt.formatBatchInto(b, out);
      out.reset();
    },
  });
  load.exporters.forEach((e, i) => {
    const s = makeSession('udp', `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`, 4739, 4739);
    stage.handle(e.templates, s, 0);
    for (const d of e.data) stage.handle(d, s, 0);
  });
  const heapMB = liveHeapMB();
  // Kept reachable until measured.
  if (stage.counters.records === 0) throw new Error('nothing decoded');
  return { heapMB, stats: fmt.cacheStats };
}

export function runHeapCheck(layouts = 4000): HeapResult {
  const baseMB = liveHeapMB();
  const bounded = retained(layouts, {});
  const unbounded = retained(layouts, { compiledLayouts: Number.MAX_SAFE_INTEGER });
  return { layouts, baseMB, bounded, unbounded };
}

export function formatHeapCheck(r: HeapResult): string {
  const line = (name: string, x: HeapResult['bounded']) =>
    `    ${name.padEnd(34)} live heap ${(x.heapMB - r.baseMB).toFixed(1).padStart(6)} MiB  (${x.stats.compiled} compiled now, ${x.stats.compiles} compiles, ${x.stats.compiledEvictions} evictions)`;
  return [
    `  what the JSON formatter retains: ${r.layouts} distinct templates, each hot enough to compile (decoder and templates included)`,
    line('default bound of compiled layouts', r.bounded),
    line('no bound', r.unbounded),
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--heap')) {
  console.log(formatHeapCheck(runHeapCheck()));
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const num = (name: string) => {
    const k = args.indexOf(name);
    return k >= 0 ? Number(args[k + 1]) : undefined;
  };
  const exporters = num('--exporters') ?? 1000;
  const definitions = num('--definitions') ?? 200_000;
  runTemplateBench({ fleet: !args.includes('--flood-only'), flood: !args.includes('--fleet-only'), exporters, definitions, peer: !args.includes('--no-peer') })
    .then((r) => console.log(formatTemplateBench(r, exporters, definitions)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
