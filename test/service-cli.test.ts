/**
 * start / status / stop as a user runs them in a shell: the real CLI, a background service found
 * again with no arguments through the registry of running instances (SLUICE_RUNTIME_DIR points it
 * at a temporary directory here), a NetFlow datagram received in between and written by the
 * file output by the time stop returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeNetflow5 } from '../src/wire/encode/ipfix.js';
import { runSluice } from './helpers/cli.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('sluice start, status, stop: RUNNING with the pid, graceful stop, STOPPED', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-ctl-'));
  process.env.SLUICE_RUNTIME_DIR = path.join(dir, 'run');
  let pid = 0;
  t.after(() => {
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    delete process.env.SLUICE_RUNTIME_DIR;
    rmSync(dir, { recursive: true, force: true });
  });
  const data = path.join(dir, 'data');
  const files = path.join(dir, 'json');
  const cfgFile = path.join(dir, 'sluice.yaml');
  writeFileSync(
    cfgFile,
    [
      `data_directory: ${data}`,
      'outputs:',
      `  - { type: file, path: ${files}/, timeWindow: 60 }`,
      'consumers:',
      '  - name: routers',
      '    parser: { type: netflow }',
      '    connectors: [{ type: udp, properties: { ports: "0", remote_addrs: 127.0.0.0/8 } }]',
      '',
    ].join('\n'),
  );

  const s0 = await runSluice(['status']);
  assert.equal(s0.stdout, 'STOPPED\n');
  assert.equal(s0.code, 3);

  const started = await runSluice(['start', '--config', cfgFile]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  const m = /^sluice started \(pid (\d+)\); logging to (.*)$/m.exec(started.stdout);
  assert.ok(m, started.stdout);
  pid = Number(m[1]);
  assert.equal(m[2], path.join(data, 'sluice.log'));
  assert.ok(alive(pid));
  assert.equal(readFileSync(path.join(data, 'sluice.pid'), 'utf8').trim(), String(pid));

  const s1 = await runSluice(['status']);
  assert.equal(s1.code, 0);
  assert.equal(s1.stdout, `RUNNING (pid ${pid}) config ${cfgFile} log ${path.join(data, 'sluice.log')}\n`);
  assert.equal((await runSluice(['status', '--config', cfgFile])).code, 0);
  assert.equal((await runSluice(['status', '--config', path.join(dir, 'other.yaml')])).stdout, 'STOPPED\n');

  const again = await runSluice(['start', '--config', cfgFile]);
  assert.equal(again.code, 1);
  assert.match(again.stdout, new RegExp(`already running \\(pid ${pid}\\)`));

  // The log tells the story; the listening port is in it.
  const log = readFileSync(path.join(data, 'sluice.log'), 'utf8');
  assert.match(log, /consumer routers started: netflow parser/);
  const port = Number(/listening on udp port (\d+)/.exec(log)![1]);
  const pkt = encodeNetflow5({ sysUpTimeMs: 10_000, unixSecs: 1_700_000_000, sequence: 1 }, [
    { src: '10.1.1.1', dst: '10.2.2.2', packets: 3, octets: 300, firstMs: 5000, lastMs: 9000, srcPort: 1234, dstPort: 443, protocol: 6 },
  ]);
  await new Promise<void>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.send(pkt, port, '127.0.0.1', (err) => (s.close(), err ? reject(err) : resolve()));
  });
  const t0 = Date.now();
  while (!/sluice_records_total/.test(readFileSync(path.join(data, 'sluice.log'), 'utf8')) && Date.now() - t0 < 100) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300)); // let the datagram be received before stopping

  const stopped = await runSluice(['stop']);
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
  assert.equal(stopped.stdout, `sluice stopped (pid ${pid})\n`);
  assert.ok(!alive(pid));
  assert.ok(!existsSync(path.join(data, 'sluice.pid')), 'pid file removed');
  const s2 = await runSluice(['status']);
  assert.equal(s2.stdout, 'STOPPED\n');
  const s3 = await runSluice(['stop']);
  assert.equal(s3.code, 1);
  assert.equal(s3.stdout, 'sluice is not running\n');

  const done = readFileSync(path.join(data, 'sluice.log'), 'utf8');
  assert.match(done, /SIGTERM: stopping/);
  assert.match(done, /sluice stopped/);
  const out = readdirSync(files).filter((f) => f.startsWith('json.'));
  assert.equal(out.length, 1, out.join(' '));
  const rec = JSON.parse(readFileSync(path.join(files, out[0]!), 'utf8').trim()) as Record<string, unknown>;
  assert.equal(rec['iana:sourceIPv4Address'], '10.1.1.1');
  assert.equal(rec['iana:destinationTransportPort'], 443);

  // A broken file: the problems are printed, nothing starts.
  writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace('remote_addrs', 'remote_adrs'));
  const bad = await runSluice(['start', '--config', cfgFile]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /sluice\.yaml:7:\d+: consumers\.0\.connectors\.0\.properties\.remote_adrs: unknown key/);
  assert.match(bad.stderr, /nothing was started/);
  assert.equal((await runSluice(['status'])).stdout, 'STOPPED\n');
});
