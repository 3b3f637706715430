/**
 * The store and `sluice query` against nfdump on the same flows: softflowd exports a generated
 * capture to nfcapd and to `sluice collect --store`, then totals, `-s srcip/bytes`, `-s dstport/flows`,
 * a filtered `-s`, and the raw flow count must equal what nfdump reads from nfcapd's files.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { freeUdpPort, requireBinary, sleep, startCollector } from '../helpers/collector.js';
import { runProgram, runSluice } from '../helpers/cli.js';
import { buildTrafficPcap } from '../helpers/traffic.js';

/** softflowd reads the capture, exports every flow to one collector and exits. */
function softflowd(pcap: string, port: number, dir: string, version: 9 | 10): Promise<string> {
  return runProgram('softflowd', ['-r', pcap, '-a', '-v', String(version), '-T', 'full', '-n', `127.0.0.1:${port}`, '-d', '-c', 'none', '-p', join(dir, `sf-${port}.pid`)], { timeoutMs: 30_000 });
}

/** `nfdump ... -o csv` rows as objects (the header names the columns). */
function nfdumpCsv(args: string[]): Record<string, string>[] {
  const r = spawnSync('nfdump', [...args, '-o', 'csv'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.includes(','));
  const head = lines[0]!.split(',');
  // The CSV ends with a summary block whose header differs: keep the rows of the first header only.
  const rows: Record<string, string>[] = [];
  for (const l of lines.slice(1)) {
    const v = l.split(',');
    if (v.length !== head.length || /^Summary|^flows/.test(l)) break;
    rows.push(Object.fromEntries(head.map((h, i) => [h, v[i]!.trim()])));
  }
  return rows;
}

async function sluiceCsv(store: string, args: string[]): Promise<Record<string, string>[]> {
  const r = await runSluice(['query', '--store', store, '--format', 'csv', ...args]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const head = lines[0]!.split(',');
  return lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i]!, v])));
}

/** element value -> "flows/packets/bytes" for nfdump's `-s` CSV. */
function nfStat(rows: Record<string, string>[]): Map<string, string> {
  // Port statistics name their columns ipkt/ibyt, the others pkt/byt.
  return new Map(rows.map((r) => [r.val!, `${r.fl}/${r.pkt ?? r.ipkt}/${r.byt ?? r.ibyt}`]));
}

function sluiceStat(rows: Record<string, string>[], element: string): Map<string, string> {
  return new Map(rows.map((r) => [r[element]!, `${r.flows}/${r.packets}/${r.bytes}`]));
}

test('the store answers as nfdump does on the same softflowd export', async (t) => {
  requireBinary('softflowd', ['-h'], 'softflowd');
  requireBinary('nfcapd', ['-V'], 'nfdump');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-parity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pcap = join(dir, 'traffic.pcap');
  writeFileSync(pcap, buildTrafficPcap({ seed: 0x5107e, tcp4: 40, udp4: 30, icmp4: 6, tcp6: 10, udp6: 6, icmp6: 3 }));

  // nfcapd into its own directory.
  const nfDir = join(dir, 'nfcapd');
  spawnSync('mkdir', ['-p', nfDir]);
  const nfPort = await freeUdpPort();
  const nf = spawn('nfcapd', ['-p', String(nfPort), '-b', '127.0.0.1', '-w', nfDir, '-y'], { stdio: 'ignore' });
  t.after(() => nf.kill('SIGKILL'));
  const store = join(dir, 'store');
  const collector = await startCollector({ extraArgs: ['--store', store, '--workers', '1', '--store-flush', '1s'] });
  t.after(() => collector.stop(2000));
  await sleep(500); // nfcapd binds
  await softflowd(pcap, nfPort, dir, 9);
  await softflowd(pcap, collector.port, dir, 9);
  await sleep(1500);
  const nfExit = new Promise((r) => nf.once('close', r));
  nf.kill('SIGTERM');
  await nfExit;
  const stopped = await collector.stop();
  assert.equal(stopped.code, 0, stopped.stderr);

  // Totals and the raw flow count.
  const nfRaw = nfdumpCsv(['-R', nfDir]);
  const sTotals = await sluiceCsv(store, ['--totals']);
  const nfTotals = { flows: nfRaw.length, packets: nfRaw.reduce((a, r) => a + Number(r.ipkt), 0), bytes: nfRaw.reduce((a, r) => a + Number(r.ibyt), 0) };
  assert.ok(nfTotals.flows > 100, `nfcapd got the flows (${nfTotals.flows})`);
  assert.deepEqual({ flows: Number(sTotals[0]!.flows), packets: Number(sTotals[0]!.packets), bytes: Number(sTotals[0]!.bytes) }, nfTotals);
  const sRaw = await runSluice(['query', '--store', store, '--format', 'csv']);
  assert.equal(sRaw.stdout.trim().split('\n').length - 1, nfRaw.length, 'raw flows: one line each');

  // Statistics: every value with its flows, packets and bytes.
  const cases: Array<[string, string[], string]> = [
    ['srcip/bytes', [], 'srcip'],
    ['dstport/flows', [], 'dstport'],
    ['dstip/packets', ['proto tcp and not dst port 443'], 'dstip'],
    ['proto/bytes', [], 'proto'],
  ];
  for (const [stat, filter, element] of cases) {
    const nf = nfStat(nfdumpCsv(['-R', nfDir, '-q', '-s', stat, '-n', '0', ...filter]));
    const sl = sluiceStat(await sluiceCsv(store, ['-s', stat, '-n', '0', ...filter]), element);
    assert.ok(nf.size > 2, `-s ${stat}: nfdump found values`);
    assert.deepEqual(new Map([...sl].sort()), new Map([...nf].sort()), `-s ${stat} ${filter.join(' ')}`);
  }
});
