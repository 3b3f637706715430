/**
 * Spool replay to a PCE: how fast a spool of N batches of 1000 CSV lines drains to the HTTPS test
 * PCE on loopback (20 in flight, keep-alive), next to curl (`--parallel --parallel-max 20`, one
 * process) POSTing the same CSV bodies to the same server, in the same run. Both clients run as
 * processes of their own; the test PCE (with its per-line checks) runs in this one.
 *
 *   node --import tsx bench/upload.ts [--quick]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distinctFlows, pceLineOf } from '../test/helpers/flows.js';
import { TEST_PCE_CERT, TestPce } from '../test/helpers/test-pce.js';
import { hasBinary } from './udp.js';

export interface UploadBenchResult {
  readonly batches: number;
  readonly flows: number;
  readonly sluiceFlowsPerSec: number;
  readonly curlFlowsPerSec?: number;
  readonly note?: string;
}

const CHILD = fileURLToPath(new URL('../test/helpers/delivery-child.ts', import.meta.url));
const KEY = 'api_bench';
const SECRET = 'bench-secret';

export async function runUploadBench(o: { quick?: boolean } = {}): Promise<UploadBenchResult> {
  const batches = o.quick ? 30 : 120;
  const flows = distinctFlows(batches * 1000);
  const pce = await TestPce.start({ keyId: KEY, secret: SECRET, orgId: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-upload-'));
  try {
    // sluice's pipeline runs in a child (test/helpers/delivery-child.ts), as curl does, so the
    // server in this process competes with neither. Spool everything while the PCE refuses, then
    // time the drain from the moment it is back.
    await pce.setMode({ kind: 'refuse' });
    const cfg = { dir: join(dir, 'data'), url: pce.url, caFile: TEST_PCE_CERT, keyId: KEY, secret: SECRET, orgId: 1, maxLinesPerPost: 1000, maxInFlight: 20, retryMinutes: 0.002 };
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const waitOut = async (ev: string): Promise<void> => {
      for (const t0 = Date.now(); !out.includes(`"ev":"${ev}"`); await new Promise((r) => setTimeout(r, 20))) {
        if (Date.now() - t0 > 300_000 || child.exitCode !== null) throw new Error(`delivery child: no ${ev}`);
      }
    };
    await waitOut('started');
    child.stdin.write(JSON.stringify({ op: 'flows', offset: 0, n: flows.length }) + '\n' + JSON.stringify({ op: 'flush' }) + '\n');
    await waitOut('flushed');
    await new Promise((r) => setTimeout(r, 300)); // its first POST has failed: it is backing off
    const before = pce.requests.length;
    await pce.setMode({ kind: 'ok' });
    // From its first POST after the recovery (not from the end of its retry wait).
    await pce.waitFor(() => pce.requests.length > before, 10_000, 'the first retry');
    const t0 = performance.now();
    await pce.waitFor(() => pce.accepted.length === batches, 300_000, 'the drain');
    const sluiceSec = (performance.now() - t0) / 1000;
    child.stdin.write(JSON.stringify({ op: 'stop' }) + '\n');
    await exited;

    let curlFlowsPerSec: number | undefined;
    let note: string | undefined;
    if (hasBinary('curl', ['--version'])) {
      const lines = flows.map(pceLineOf);
      const args = ['--silent', '--show-error', '--parallel', '--parallel-max', '20', '--cacert', TEST_PCE_CERT, '-u', `${KEY}:${SECRET}`];
      for (let i = 0; i < batches; i++) {
        const f = join(dir, `b${i}.csv`);
        writeFileSync(f, lines.slice(i * 1000, i * 1000 + 1000).join('\n') + '\n');
        if (i > 0) args.push('--next', '--silent', '--show-error', '--parallel', '--parallel-max', '20', '--cacert', TEST_PCE_CERT, '-u', `${KEY}:${SECRET}`);
        args.push('-H', 'Content-Type: text/csv', '--data-binary', `@${f}`, '-o', '/dev/null', `${pce.url}/api/v2/orgs/1/agents/bulk_traffic_flows`);
      }
      const acceptedBefore = pce.accepted.length;
      // curl runs as a child while this process serves it (spawnSync would block the server).
      const t1 = performance.now();
      const code = await new Promise<number | null>((resolve) => spawn('curl', args, { stdio: 'ignore' }).on('exit', resolve));
      const curlSec = (performance.now() - t1) / 1000;
      if (code === 0 && pce.accepted.length - acceptedBefore === batches) curlFlowsPerSec = flows.length / curlSec;
      else note = `curl exited ${code}, ${pce.accepted.length - acceptedBefore} of ${batches} accepted`;
    } else note = 'curl not installed: no peer';
    return { batches, flows: flows.length, sluiceFlowsPerSec: flows.length / sluiceSec, curlFlowsPerSec, note };
  } finally {
    await pce.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatUploadBench(r: UploadBenchResult): string {
  const K = (n: number): string => `${(n / 1e3).toFixed(0)} k`;
  const lines = [`\nspool replay to the HTTPS test PCE on loopback: ${r.batches} batches of 1000 CSV lines, 20 in flight`];
  lines.push(`  ${'sluice (spool read, gunzip, POST, delete)'.padEnd(50)}${K(r.sluiceFlowsPerSec).padStart(12)} flows/s   ${(r.sluiceFlowsPerSec / 1000).toFixed(0)} POSTs/s`);
  if (r.curlFlowsPerSec !== undefined) {
    lines.push(`  ${'curl --parallel --parallel-max 20 (same bodies)'.padEnd(50)}${K(r.curlFlowsPerSec).padStart(12)} flows/s`);
    lines.push(`  ratio sluice / curl: ${(r.sluiceFlowsPerSec / r.curlFlowsPerSec).toFixed(2)}`);
  } else lines.push(`  ${r.note ?? ''}`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(formatUploadBench(await runUploadBench({ quick: process.argv.includes('--quick') })));
}
