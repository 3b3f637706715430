/**
 * A PCE outage as a user lives it, through the real CLI: flows arrive while the PCE refuses
 * connections; `sluice stop` leaves the window's batch in the spool; after the PCE is back, the
 * next `sluice start` sends it; a `kill -9` after that and another start send nothing twice.
 * Every flow reaches the PCE exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeNetflow5, type V5Record } from '../src/wire/encode/ipfix.js';
import { runSluice } from './helpers/cli.js';
import { TEST_PCE_CERT, TestPce } from './helpers/test-pce.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('PCE outage: spooled on stop, sent once by the next start; kill -9 and restart send nothing twice', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-outage-'));
  process.env.SLUICE_RUNTIME_DIR = path.join(dir, 'run');
  const pce = await TestPce.start({ keyId: 'k1', secret: 's1', orgId: 1 });
  const pids: number[] = [];
  t.after(async () => {
    for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
    await pce.close();
    delete process.env.SLUICE_RUNTIME_DIR;
    rmSync(dir, { recursive: true, force: true });
  });
  const data = path.join(dir, 'data');
  const cfgFile = path.join(dir, 'sluice.yaml');
  writeFileSync(
    cfgFile,
    [`pce_addr: ${pce.url}`, 'api_key: "k1 s1"', `pce_ca_file: ${TEST_PCE_CERT}`, `data_directory: ${data}`, 'retry_minutes: 0.05', 'consumers:', '  - name: r', '    parser: { type: netflow }', '    connectors: [{ type: udp, properties: { ports: "0" } }]', ''].join('\n'),
  );
  const start = async (): Promise<{ pid: number; port: number }> => {
    const r = await runSluice(['start', '--config', cfgFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const pid = Number(/pid (\d+)/.exec(r.stdout)![1]);
    pids.push(pid);
    const lines = readFileSync(path.join(data, 'sluice.log'), 'utf8').split('\n').filter((l) => l.includes(`"pid":${pid}`));
    const port = Number(/listening on udp port (\d+)/.exec(lines.join('\n'))![1]);
    return { pid, port };
  };

  await pce.setMode({ kind: 'refuse' });
  const first = await start();
  const recs: V5Record[] = Array.from({ length: 30 }, (_, i) => ({ src: `10.0.0.${i + 1}`, dst: '10.9.0.1', packets: 1, octets: 40, firstMs: 1000, lastMs: 2000, srcPort: 40000 + i, dstPort: 443, protocol: 6 }));
  const sock = dgram.createSocket('udp4');
  for (let k = 0; k < 3; k++) {
    const pkt = encodeNetflow5({ sysUpTimeMs: 10_000, unixSecs: Math.floor(Date.now() / 1000), sequence: k * 10 }, recs.slice(k * 10, k * 10 + 10));
    await new Promise<void>((resolve, reject) => sock.send(pkt, first.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }
  sock.close();
  await new Promise((r) => setTimeout(r, 500));
  const stopped = await runSluice(['stop']);
  assert.equal(stopped.code, 0, stopped.stdout);
  assert.equal(pce.accepted.length, 0);
  const spooled = readdirSync(path.join(data, 'spool', 'pce'));
  assert.equal(spooled.length, 1, `the window's batch waits in the spool: ${spooled.join(' ')}`);

  // The PCE is back: the next start sends what the spool holds.
  await pce.setMode({ kind: 'ok' });
  const second = await start();
  await until('the spooled flows at the PCE', () => pce.acceptedLines().length >= 30);
  await until('the spool emptied', () => readdirSync(path.join(data, 'spool', 'pce')).length === 0);
  process.kill(second.pid, 'SIGKILL');
  await until('the killed instance gone', () => !alive(second.pid));
  assert.equal((await runSluice(['status'])).stdout, 'STOPPED\n', 'a killed instance is not reported as running');

  const third = await start();
  await new Promise((r) => setTimeout(r, 4000)); // longer than retry_minutes: a resend would show
  const s = await runSluice(['stop']);
  assert.equal(s.code, 0, s.stdout);
  assert.ok(!alive(third.pid));
  const lines = pce.acceptedLines();
  assert.equal(lines.length, 30, 'every flow exactly once');
  assert.deepEqual([...lines].sort(), recs.map((r) => `${r.src},${r.dst},443,6`).sort());
});
