/**
 * The flow store next to nfdump on the same 2.36 M flows (a softflowd-style IPFIX export, repeated):
 * - decode + store records/s (`sluice decode --store`), against sluice's own decode + JSON in the
 *   same run (goal: at least 0.7x);
 * - `-s srcip/bytes -n 10` and a filtered top-N, wall time including process start, against
 *   `nfdump -R` on nfcapd's LZ4 files of the same flows (goal: at least 5x faster);
 * - bytes on disk per flow, against nfcapd's LZ4 files (goal: no more);
 * - peak RSS of `sluice collect --store` receiving the flows over loopback UDP.
 * sluice runs from dist/ (built first), as an installed package would.
 *
 *   node --import tsx bench/store-vs-nfdump.ts [--flows N]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIpfixStream } from './ipfix-stream.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'dist', 'cli', 'main.js');

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function duBytes(dir: string, ext: RegExp): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (ext.test(e.name)) n += statSync(p).size;
    }
  };
  walk(dir);
  return n;
}

/** Wall seconds of a command, best of `runs`. */
function timed(cmd: string, args: string[], runs: number, discard = false): { secs: number; out: string } {
  let best = Infinity;
  let out = '';
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', discard ? 'ignore' : 'pipe', 'pipe'] });
    const secs = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
    if (secs < best) best = secs;
    out = r.stdout;
  }
  return { secs: best, out };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends every datagram to 127.0.0.1:port, paced so a single-threaded receiver keeps up. */
async function sendAll(port: number, datagrams: readonly Buffer[], perMs: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.connect(port, '127.0.0.1', r));
  for (let i = 0; i < datagrams.length; i++) {
    s.send(datagrams[i]!);
    if (i % perMs === perMs - 1) await sleep(1);
  }
  await sleep(200);
  s.close();
}

function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function main(): Promise<void> {
  const wantFlows = arg('--flows', 2_360_000);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const stream = buildIpfixStream(4000, 25);
  const data = stream.datagrams.slice(1);
  const messages = Math.ceil(wantFlows / stream.recordsPerMessage);
  const datagrams: Buffer[] = [stream.datagrams[0]!];
  for (let i = 0; i < messages; i++) datagrams.push(data[i % data.length]!);
  const flows = messages * stream.recordsPerMessage;
  const work = mkdtempSync(join(os.tmpdir(), 'sluice-bench-store-'));
  try {
    const raw = join(work, 'export.bin');
    writeFileSync(raw, Buffer.concat(datagrams));
    console.log(`store vs nfdump: ${(flows / 1e6).toFixed(2)} M flows (softflowd-style IPFIX, ${stream.recordsPerMessage} per datagram, repeated); node ${process.version}; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

    // Decode + JSON (reference) and decode + store.
    const json = timed(process.execPath, [MAIN, 'decode', '-q', '-f', 'json', raw], 1, true);
    const store = join(work, 'store');
    const stored = timed(process.execPath, [MAIN, 'decode', '-q', '--store', store, raw], 1);
    const jsonRate = flows / json.secs;
    const storeRate = flows / stored.secs;

    // nfcapd: the same datagrams over loopback UDP, LZ4 files.
    const nfDir = join(work, 'nfcapd');
    spawnSync('mkdir', ['-p', nfDir]);
    const port = 30000 + Math.floor(Math.random() * 20000);
    const nf = spawn('nfcapd', ['-p', String(port), '-b', '127.0.0.1', '-w', nfDir, '-y', '-B', String(8 << 20), '-t', '3600'], { stdio: 'ignore' });
    await sleep(800);
    await sendAll(port, datagrams, 20);
    await sleep(500);
    const nfDone = new Promise((r) => nf.once('close', r));
    nf.kill('SIGTERM');
    await nfDone;
    const nfFlows = Number(/^Flows: (\d+)/m.exec(execFileSync('nfdump', ['-R', nfDir, '-I'], { encoding: 'utf8' }))?.[1] ?? NaN);
    const nfBytes = duBytes(nfDir, /^nfcapd\./);
    const storeBytes = duBytes(join(store, 'flows'), /\.parquet$/);

    // Queries, wall time with process start, best of 3.
    const filter = 'proto tcp and dst port 443';
    const q = (args: string[]) => timed(process.execPath, [MAIN, 'query', '--store', store, ...args], 3);
    const n = (args: string[]) => timed('nfdump', ['-R', nfDir, ...args], 3);
    const rows: Array<[string, number, number]> = [
      ['-s srcip/bytes -n 10', q(['-s', 'srcip/bytes', '-n', '10']).secs, n(['-s', 'srcip/bytes', '-n', '10']).secs],
      [`-s dstip/flows -n 10 '${filter}'`, q(['-s', 'dstip/flows', '-n', '10', filter]).secs, n(['-s', 'dstip/flows', '-n', '10', filter]).secs],
      ['totals', q(['--totals']).secs, n(['-I']).secs],
    ];

    // Peak RSS of collect --store fed over UDP.
    const cport = 30000 + Math.floor(Math.random() * 20000);
    const cstore = join(work, 'collect-store');
    const c = spawn(process.execPath, [MAIN, 'collect', '-l', `udp://127.0.0.1:${cport}`, '--store', cstore], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    c.stderr.on('data', (b: Buffer) => (log += b.toString()));
    for (let i = 0; i < 200 && !log.includes('listening on'); i++) await sleep(50);
    await sendAll(cport, datagrams, 20);
    await sleep(2000);
    const rss = peakRss(c.pid!);
    const cDone = new Promise((r) => c.once('close', r));
    c.kill('SIGTERM');
    await cDone;

    const M = (x: number) => `${(x / 1e6).toFixed(2)} M`;
    console.log(`  decode + JSON (to /dev/null)         ${M(jsonRate)} records/s`);
    console.log(`  decode + store                      ${M(storeRate)} records/s   ratio to decode + JSON: ${(storeRate / jsonRate).toFixed(2)}x (goal >= 0.70x)`);
    console.log(`  bytes on disk per flow              sluice ${(storeBytes / flows).toFixed(1)} B (zstd Parquet)   nfcapd ${(nfBytes / nfFlows).toFixed(1)} B (LZ4, ${nfFlows} flows received)   ratio ${(storeBytes / flows / (nfBytes / nfFlows)).toFixed(2)} (goal <= 1)`);
    for (const [what, s, nfs] of rows) console.log(`  query ${what.padEnd(42)} sluice ${s.toFixed(2)} s   nfdump -R ${nfs.toFixed(2)} s   sluice is ${(nfs / s).toFixed(2)}x nfdump's speed (goal >= 5x)`);
    console.log(`  collect --store peak RSS            ${(rss / 2 ** 20).toFixed(0)} MiB, receiving the ${M(flows)} flows over loopback UDP`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
