/**
 * Sampling renormalisation with real sampling exporters: softflowd `-s 10` (IPFIX, the rate in
 * options data as samplingPacketInterval 1 / samplingPacketSpace 9) and pmacctd's nfprobe with
 * `sampling_rate: 10` (NetFlow v9, samplerId 1 / samplerRandomInterval 10 in options data) meter the
 * same generated capture into `sluice collect --store`. The stored rate is 10 on every flow, and the
 * scaled totals equal the capture's unsampled truth within the sampling error:
 * - softflowd samples periodically (1 in 10, count-based): scaled packets within 10 of the truth;
 * - pmacct samples at random: the sampled count is binomial (n = packets, p = 0.1), standard
 *   deviation sqrt(n p (1-p)) ~ 30 for 9 868 packets, so scaled packets within 10 % (3.3 sigma).
 * Bytes carry the packet-size spread on top: within 15 % for both.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { runProgram, runSluice } from '../helpers/cli.js';
import { requireBinary, sleep, startCollector } from '../helpers/collector.js';
import { buildTrafficPcap, flowsFromPcap, totals } from '../helpers/traffic.js';

const run = (cmd: string, args: string[], cwd: string): Promise<string> => runProgram(cmd, args, { cwd });

async function storedTotals(store: string): Promise<{ flows: number; packets: number; bytes: number; lo: number; hi: number }> {
  const r = await runSluice(['query', '--store', store, '--format', 'csv', '--sql', 'select count(*) flows, sum(packets * sampling) packets, sum(bytes * sampling) bytes, min(sampling) lo, max(sampling) hi from flows']);
  assert.equal(r.code, 0, r.stderr);
  const [head, row] = r.stdout.trim().split('\n');
  const v = row!.split(',').map(Number);
  return Object.fromEntries(head!.split(',').map((k, i) => [k, v[i]!])) as { flows: number; packets: number; bytes: number; lo: number; hi: number };
}

const within = (got: number, want: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(got - want) <= tolerance, `${what}: ${got} is not within ${tolerance} of ${want}`);

for (const exporter of ['softflowd', 'pmacctd'] as const) {
  test(`${exporter} sampling 1 in 10: the rate in force is stored and the scaled totals match the unsampled capture`, async (t) => {
    requireBinary(exporter === 'softflowd' ? 'softflowd' : 'pmacctd', ['-V'], exporter === 'softflowd' ? 'softflowd' : 'pmacct');
    const dir = mkdtempSync(join(tmpdir(), `sluice-sampling-${exporter}-`));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pcapPath = join(dir, 'traffic.pcap');
    const pcap = buildTrafficPcap({ seed: 7, tcp4: 300, udp4: 200, icmp4: 20, tcp6: 0, udp6: 0, icmp6: 0 });
    writeFileSync(pcapPath, pcap);
    const truth = totals(flowsFromPcap(readFileSync(pcapPath)).values());
    const store = join(dir, 'store');
    const c = await startCollector({ extraArgs: ['--store', store, '--workers', '1', '--store-flush', '1s'] });
    t.after(() => c.stop(2000));
    if (exporter === 'softflowd') {
      await run('softflowd', ['-r', pcapPath, '-a', '-v', '10', '-s', '10', '-T', 'full', '-n', `127.0.0.1:${c.port}`, '-d', '-c', 'none', '-p', join(dir, 'sf.pid')], dir);
    } else {
      writeFileSync(
        join(dir, 'pm.conf'),
        ['daemonize: false', `pcap_savefile: ${pcapPath}`, 'pcap_savefile_wait: false', 'plugins: nfprobe', `nfprobe_receiver: 127.0.0.1:${c.port}`, 'nfprobe_version: 9', 'sampling_rate: 10', 'nfprobe_timeouts: expint=1:general=1:maxlife=1', ''].join('\n'),
      );
      await run('pmacctd', ['-f', join(dir, 'pm.conf')], dir);
    }
    await sleep(1500);
    const stopped = await c.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    const s = await storedTotals(store);
    assert.ok(s.flows > 100, `flows were stored (${s.flows})`);
    assert.deepEqual([s.lo, s.hi], [10, 10], 'every flow carries the rate the exporter announced');
    if (exporter === 'softflowd') within(s.packets, truth.packets, 10, 'scaled packets');
    else within(s.packets, truth.packets, truth.packets * 0.1, 'scaled packets');
    within(s.bytes, truth.octets, truth.octets * 0.15, 'scaled bytes');
    assert.doesNotMatch(stopped.stderr, /sampling unknown/, 'no record was left at an unknown rate');
  });
}
