/**
 * `kill -9` of a collecting `sluice collect --store`: what the store had written survives whole, what
 * was lost is at most what arrived after the last write, and a restart resumes on the same store,
 * with the templates of the killed run (collect --state, inside the store by default): data sent
 * after the restart without any template is decoded and stored, every record of it.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { buildIpfixStream } from '../../bench/ipfix-stream.js';
import { runSluice } from '../helpers/cli.js';
import { freeUdpPort, sleep, startCollector, type CollectorProcess } from '../helpers/collector.js';

/** Sends from a fixed source port: an exporter's transport session stays the same across the collector's restart. */
async function send(port: number, datagrams: readonly Buffer[], fromPort: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(fromPort, '127.0.0.1', r));
  try {
    for (let i = 0; i < datagrams.length; i++) {
      await new Promise<void>((r, j) => s.send(datagrams[i]!, port, '127.0.0.1', (e) => (e ? j(e) : r())));
      // Paced: a loaded CI machine must not drop at the socket what the test counts.
      if (i % 50 === 49) await sleep(5);
    }
  } finally {
    s.close();
  }
}

async function storedFlows(store: string): Promise<number> {
  const r = await runSluice(['query', '--store', store, '--totals', '--format', 'csv']);
  assert.equal(r.code, 0, `every listed segment is readable: ${r.stderr}`);
  const [head, row] = r.stdout.trim().split('\n');
  const cols = head!.split(',');
  return Number(row!.split(',')[cols.indexOf('flows')]);
}

/** Polls until the store holds `want` flows (bounded: 30 s). */
async function waitStored(store: string, want: number): Promise<number> {
  let n = -1;
  for (let i = 0; i < 60 && n < want; i++) {
    n = await storedFlows(store);
    if (n < want) await sleep(500);
  }
  return n;
}

test('kill -9 of collect --store: written segments intact, loss bounded by the last write, restart resumes with the old templates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, 'store');
  const stream = buildIpfixStream(400, 25, 0xc4a5);
  const templates = stream.datagrams[0]!;
  const data = stream.datagrams.slice(1);
  const half = Math.floor(data.length / 2);
  const perMessage = stream.recordsPerMessage;
  const args = ['--store', store, '--store-flush', '1s', '--workers', '1'];

  let c: CollectorProcess = await startCollector({ extraArgs: args });
  t.after(() => c.stop(2000));
  // A: templates and data, until the store has written every record of it.
  const from = await freeUdpPort();
  await send(c.port, [templates, ...data.slice(0, half)], from);
  const a = half * perMessage;
  assert.equal(await waitStored(store, a), a, 'the first half is stored');
  for (let i = 0; i < 40 && !existsSync(join(store, 'state', 'templates.json')); i++) await sleep(250);
  assert.ok(existsSync(join(store, 'state', 'templates.json')), 'templates are kept in the store');
  // B: more data, then kill -9 before the next write can be relied on.
  await send(c.port, data.slice(half), from);
  process.kill(c.pid, 'SIGKILL');
  const killed = await c.stop(1000);
  assert.equal(killed.signal, 'SIGKILL');
  const afterCrash = await storedFlows(store);
  assert.ok(afterCrash >= a, `what was written survives: ${afterCrash} >= ${a}`);
  assert.ok(afterCrash <= 2 * a, `nothing counted twice: ${afterCrash} <= ${2 * a}`);

  // C: a new collect on the same store; the exporter sends data only (its templates came before the crash).
  c = await startCollector({ extraArgs: args, port: c.port });
  await c.waitForLog('restored', 10_000);
  await send(c.port, data.slice(0, half), from);
  await sleep(1500);
  const stopped = await c.stop();
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /missing-template|dropped: \{\}/, 'the summary says what was dropped');
  assert.doesNotMatch(stopped.stderr, /"missing-template":\d+/, 'no record waited for a template that never came');
  assert.equal(await storedFlows(store), afterCrash + a, 'every record sent after the restart is stored');
});
