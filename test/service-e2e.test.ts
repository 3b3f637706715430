/**
 * End to end, as a user runs it: softflowd (Debian's softflowd) meters a generated pcap and
 * exports IPFIX over loopback to `sluice start --config F` (the real CLI, in the background);
 * `sluice stop` then drains the consumer, flushes the aggregation window and uploads it; the test
 * PCE (HTTPS, its own CA given as pce_ca_file) must have received exactly the pcap's flows as
 * `src_ip,dst_ip,dst_port,proto` CSV lines, with Basic auth of the configured key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requireBinary } from './helpers/collector.js';
import { runSluice } from './helpers/cli.js';
import { TEST_PCE_CERT, TestPce } from './helpers/test-pce.js';
import { buildTrafficPcap, flowsFromPcap } from './helpers/traffic.js';

function softflowd(pcap: string, port: number, dir: string): Promise<string> {
  // -r: read the capture, expire every flow at its end, export, exit; -c none: no control socket (see interop-softflowd.test.ts).
  const args = ['-r', pcap, '-a', '-v', '10', '-T', 'full', '-n', `127.0.0.1:${port}`, '-d', '-c', 'none', '-p', path.join(dir, 'softflowd.pid')];
  return new Promise((resolve, reject) => {
    const c = spawn('softflowd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.once('error', reject);
    c.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`softflowd exited ${code}: ${out}`));
    });
  });
}

const multicast = (a: string) => (a.includes(':') ? a.toLowerCase().startsWith('ff') : Number(a.split('.')[0]) >= 224 && Number(a.split('.')[0]) <= 239);

test('softflowd -> sluice start -> sluice stop -> the test PCE holds the right CSV lines', { timeout: 180_000 }, async (t) => {
  requireBinary('softflowd', ['-h'], 'softflowd');
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-e2e-'));
  process.env.SLUICE_RUNTIME_DIR = path.join(dir, 'run');
  const pce = await TestPce.start({ keyId: 'api_e2e', secret: 'e2e-secret-0123', orgId: 7 });
  let pid = 0;
  t.after(async () => {
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await pce.close();
    delete process.env.SLUICE_RUNTIME_DIR;
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(path.join(dir, 'api_info'), 'api_e2e e2e-secret-0123\n');
  const cfgFile = path.join(dir, 'flowlink.yaml');
  writeFileSync(
    cfgFile,
    [
      `pce_addr: ${pce.url}`,
      `api_key: $cat ${path.join(dir, 'api_info')}`,
      'org_id: 7',
      `pce_ca_file: ${TEST_PCE_CERT}`,
      `data_directory: ${path.join(dir, 'data')}`,
      'aggregation_minutes: 10',
      'consumers:',
      '  - name: softflowd',
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
  const started = await runSluice(['start', '--config', cfgFile]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  pid = Number(/pid (\d+)/.exec(started.stdout)![1]);
  const logFile = path.join(dir, 'data', 'sluice.log');
  const port = Number(/listening on udp port (\d+)/.exec(readFileSync(logFile, 'utf8'))![1]);

  const pcapBytes = buildTrafficPcap();
  const pcapPath = path.join(dir, 'traffic.pcap');
  writeFileSync(pcapPath, pcapBytes);
  await softflowd(pcapPath, port, dir);
  // softflowd has exited: everything is on the wire. Let sluice read its socket before stopping.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(pce.requests.length, 0, 'nothing is uploaded before the window closes');

  const stopped = await runSluice(['stop']);
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr + readFileSync(logFile, 'utf8'));

  const expected = new Set<string>();
  for (const f of flowsFromPcap(pcapBytes).values()) {
    if (multicast(f.src) || multicast(f.dst)) continue;
    expected.add(`${f.src},${f.dst},${f.protocol === 1 || f.protocol === 58 ? 0 : f.dstPort},${f.protocol}`);
  }
  const got = pce.requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.lines);
  assert.ok(pce.requests.length >= 1);
  for (const r of pce.requests) {
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/api/v2/orgs/7/agents/bulk_traffic_flows');
    assert.equal(r.user, 'api_e2e');
    assert.equal(r.password, 'e2e-secret-0123');
    assert.match(r.contentType ?? '', /^text\/csv/);
  }
  assert.equal(got.length, new Set(got).size, 'each aggregated flow once');
  assert.deepEqual([...got].sort(), [...expected].sort());
  const log = readFileSync(logFile, 'utf8');
  assert.ok(!log.includes('e2e-secret-0123'), 'the secret is never logged');
  assert.match(log, /consumer softflowd started: ipfix parser/);
});
