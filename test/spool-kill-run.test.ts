/**
 * kill -9 through the real CLI: `sluice run --config F` receives IPFIX over loopback UDP while the
 * PCE is down, is stopped (SIGTERM: the window is flushed into the spool), restarted against a
 * slow PCE and SIGKILLed while its first upload is in flight, then restarted again: every flow
 * arrives, and only the batch that was in flight arrives twice.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IpfixMessageBuilder } from '../src/wire/encode/ipfix.js';
import { KEY_ID, SECRET, startPce, tempDir } from './helpers/delivery-env.js';
import { distinctFlows, pceLineOf, T4 } from './helpers/flows.js';
import { TEST_PCE_CERT, type TestPce } from './helpers/test-pce.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

class Run {
  readonly proc: ChildProcess;
  log = '';
  readonly exited: Promise<NodeJS.Signals | number | null>;

  constructor(t: TestContext, cfg: string, runtimeDir: string) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'run', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLUICE_RUNTIME_DIR: runtimeDir } });
    this.proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve(signal ?? code)));
    t.after(() => {
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    });
  }

  async udpPort(timeoutMs = 30_000): Promise<number> {
    for (const t0 = Date.now(); Date.now() - t0 < timeoutMs; await new Promise((r) => setTimeout(r, 50))) {
      const m = /listening on udp port (\d+)/.exec(this.log);
      if (m !== null) return Number(m[1]);
      if (this.proc.exitCode !== null) break;
    }
    throw new Error(`sluice run did not listen:\n${this.log}`);
  }

  async waitLog(re: RegExp, timeoutMs = 20_000): Promise<void> {
    for (const t0 = Date.now(); Date.now() - t0 < timeoutMs; await new Promise((r) => setTimeout(r, 50))) if (re.test(this.log)) return;
    throw new Error(`no ${re} in the log:\n${this.log}`);
  }
}

function writeConfig(dir: string, pce: TestPce): string {
  const file = join(dir, 'flowlink.yaml');
  writeFileSync(
    file,
    [
      `pce_addr: ${pce.url}`,
      `api_key: ${KEY_ID} ${SECRET}`,
      'org_id: 7',
      `pce_ca_file: ${TEST_PCE_CERT}`,
      `data_directory: ${join(dir, 'data')}`,
      'aggregation_minutes: 10',
      'pce_lines_per_post: 100',
      'pce_max_in_flight: 1',
      'retry_minutes: 0.05',
      'consumers:',
      '  - name: exporter',
      '    parser:',
      '      type: ipfix',
      '    connectors:',
      '      - type: udp',
      '        properties:',
      '          ports: "0"',
      '          remote_addrs: 127.0.0.1',
      '',
    ].join('\n'),
  );
  return file;
}

test('sluice run: SIGTERM spools the window while the PCE is down; kill -9 during the upload resends only the batch in flight', { timeout: 120_000 }, async (t) => {
  const pce = await startPce(t);
  const dir = tempDir(t);
  const runtimeDir = join(dir, 'run');
  const cfg = writeConfig(dir, pce);
  await pce.setMode({ kind: 'refuse' });

  // 1. Receive 300 flows, stop gracefully: the window goes to the spool (3 batches).
  const a = new Run(t, cfg, runtimeDir);
  const port = await a.udpPort();
  const flows = distinctFlows(300);
  const sock = dgram.createSocket('udp4');
  t.after(() => sock.close());
  for (let i = 0; i < 3; i++) {
    const msg = new IpfixMessageBuilder({ domainId: 1, exportTimeSec: Math.floor(Date.now() / 1000), sequence: i * 100 })
      .templates([T4])
      .data(T4, flows.slice(i * 100, i * 100 + 100).map((f) => [f.src, f.dst, 40000, f.dport ?? 443, f.proto ?? 6, 1, 100, BigInt(Date.now() - 1000), BigInt(Date.now() - 500)]))
      .build();
    await new Promise<void>((r) => sock.send(msg, port, '127.0.0.1', () => r()));
  }
  await new Promise((r) => setTimeout(r, 1000)); // let it read its socket
  a.proc.kill('SIGTERM');
  assert.equal(await a.exited, 0, a.log);
  const spooled = readdirSync(join(dir, 'data', 'spool', 'pce'));
  assert.equal(spooled.length, 3, a.log);

  // 2. Restart against a slow PCE; kill -9 while the first replayed batch is being answered.
  pce.delayMs = 2000;
  await pce.setMode({ kind: 'ok' });
  const b = new Run(t, cfg, runtimeDir);
  await pce.waitFor(() => pce.requests.length === 1, 30_000, 'the first replayed POST');
  b.proc.kill('SIGKILL');
  assert.equal(await b.exited, 'SIGKILL');
  await pce.waitFor(() => pce.accepted.length === 1, 5000, 'the PCE to finish the killed upload');
  const inFlight = [...pce.accepted[0]!.lines];
  assert.equal(readdirSync(join(dir, 'data', 'spool', 'pce')).length, 3, 'its reply never arrived: still spooled');

  // 3. Restart: the spool is replayed; stop.
  pce.delayMs = 0;
  const c = new Run(t, cfg, runtimeDir);
  await pce.waitFor(() => pce.accepted.length === 4, 30_000, 'the replayed spool');
  await c.waitLog(/listening on udp port/);
  c.proc.kill('SIGTERM');
  assert.equal(await c.exited, 0, c.log);

  const got = pce.acceptedLines();
  const expected = flows.map(pceLineOf);
  assert.deepEqual([...new Set(got)].sort(), [...expected].sort(), 'every flow arrived');
  const seen = new Map<string, number>();
  for (const l of got) seen.set(l, (seen.get(l) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n === 2).map(([l]) => l);
  assert.ok([...seen.values()].every((n) => n <= 2));
  assert.deepEqual(twice.sort(), inFlight.sort(), 'only the batch in flight was sent twice');
  assert.deepEqual(readdirSync(join(dir, 'data', 'spool', 'pce')), []);
  assert.match(c.log, /resending batches spooled by an earlier run/);
});
