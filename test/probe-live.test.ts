/**
 * Live capture: `sluice probe --interface lo` (libpcap through the optional `cap` package) meters
 * UDP datagrams this test sends over loopback to a port picked for the purpose (a BPF filter keeps
 * other traffic on lo out), and exports IPFIX to a socket of the test; the decoded flow must hold
 * exactly the packets and bytes sent. Needs root (CI runs as root) and libpcap-dev at install time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { DatagramSink, MAIN } from './helpers/probe.js';
import { freeUdpPort, REPO_ROOT, sleep } from './helpers/collector.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession } from '../src/wire/batch.js';
import { decodeRecord } from '../src/wire/values.js';
import { loadRegistry } from '../src/model/registry.js';

function capAvailable(): string | undefined {
  try {
    createRequire(import.meta.url)('cap');
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

test('live capture on lo: every datagram sent is metered and exported', async (t) => {
  const missing = capAvailable();
  assert.equal(missing, undefined, `the optional "cap" package is not built (apt-get install libpcap-dev before npm ci; .ci/run does): ${missing}`);
  const sink = await DatagramSink.open();
  t.after(() => sink.close());
  const target = await freeUdpPort();
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'probe', '--interface', 'lo', '--filter', `udp and dst port ${target}`, '-c', `127.0.0.1:${sink.port}`], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((ok) => child.once('close', (code) => ok(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 30_000;
  while (!stderr.includes('capturing on lo')) {
    if (child.exitCode !== null || Date.now() > deadline) assert.fail(`probe did not start capturing:\n${stderr}`);
    await sleep(25);
  }

  const sender = dgram.createSocket('udp4');
  t.after(() => sender.close());
  const sizes = [0, 1, 100, 1000, 1400, 37, 512, 8, 64, 999];
  for (const n of sizes) {
    await new Promise<void>((ok, fail) => sender.send(Buffer.alloc(n, 0x61), target, '127.0.0.1', (err) => (err ? fail(err) : ok())));
    await sleep(5);
  }
  await sleep(500);
  child.kill('SIGINT');
  const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
  assert.equal(code, 0, `probe exit: ${code}\n${stderr}`);
  await sink.waitFor(1, 500);

  const flows: Map<string, unknown>[] = [];
  const p = new DecodeStage({
    registry: loadRegistry([]),
    onBatch: (b) => {
      if (b.template.isOptions) return;
      for (let i = 0; i < b.count; i++) {
        const v = decodeRecord(b.template, b.buf, b.starts[i]!, b.starts[i + 1]!)!;
        flows.push(new Map(b.template.fields.map((f, k) => [f.ie?.name ?? String(f.id), v[k]])));
      }
    },
  });
  for (const d of sink.datagrams) p.handle(d.data, makeSession('udp', '127.0.0.1', 1, sink.port), Date.now());
  assert.equal(p.counters.drops.byReason.size, 0);
  const mine = flows.filter((f) => f.get('destinationTransportPort') === target);
  assert.equal(mine.length, 1, `flows: ${JSON.stringify(flows.map((f) => Object.fromEntries(f)), (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}\n${stderr}`);
  const f = mine[0]!;
  assert.equal(Number(f.get('packetDeltaCount')), sizes.length);
  assert.equal(Number(f.get('octetDeltaCount')), sizes.reduce((a, n) => a + 28 + n, 0), 'IPv4 + UDP headers + payload');
  assert.equal(f.get('sourceIPv4Address'), '127.0.0.1');
  assert.ok(Number(f.get('ingressInterface')) > 0, 'lo has an ifIndex');
  assert.match(stderr, /probe stopped: .*metered 10 /);
});
