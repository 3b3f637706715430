/**
 * Interop with a real sFlow agent: Debian's pmacctd (pmacct 1.7.7) reads a generated pcap and its
 * sfprobe plugin exports sFlow v5 over loopback UDP to a `sluice collect` child process, while
 * tshark captures the same export on lo. sluice must decode as many samples as tshark does from the
 * capture, and every sample's 5-tuple must be the one tshark dissects from its sampled header.
 *
 * pmacctd facts this test relies on (checked against 1.7.7):
 * - with `pcap_savefile`, pmacctd sleeps 2 s, reads the file as fast as it can, flushes its plugins
 *   and exits;
 * - sfprobe with `sampling_rate: 1` sends one flow sample per packet (raw Ethernet header of up to
 *   128 bytes plus an extended switch record), six samples to a datagram;
 * - the source id is ifIndex 1 and the input interface 0x3fffffff ("internal").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary, sleep, startCollector } from './helpers/collector.js';
import { buildTrafficPcap, flowKey, flowsFromPcap } from './helpers/traffic.js';

type Json = Record<string, unknown>;

interface Sample {
  readonly seq: number;
  readonly tuple: string;
}

const tuple = (src: unknown, dst: unknown, proto: unknown, sp: unknown, dp: unknown): string => `${String(src)} ${String(dst)} ${String(proto)} ${String(sp ?? '-')} ${String(dp ?? '-')}`;

/** Flow samples in tshark's JSON decode (run with --no-duplicate-keys, so repeated keys are arrays). */
function tsharkSamples(frames: Json[]): { flows: Sample[]; counters: number } {
  const flows: Sample[] = [];
  let counters = 0;
  const each = (v: unknown, f: (o: Json) => void) => {
    for (const x of Array.isArray(v) ? v : [v]) if (x !== null && typeof x === 'object') f(x as Json);
  };
  for (const frame of frames) {
    const layers = ((frame['_source'] as Json)['layers'] as Json) ?? {};
    each(layers['sflow'], (sflow) => {
      for (const [key, value] of Object.entries(sflow)) {
        if (key.startsWith('Counters sample')) each(value, () => counters++);
        if (!key.startsWith('Flow sample')) continue;
        each(value, (s) => {
          const seq = Number(s['sflow.flow_sample.sequence_number']);
          let t = 'no header';
          each(s['Raw packet header'], (h) => {
            const tree = (h['sflow_245.header_tree'] ?? {}) as Json;
            const ip = (tree['ip'] ?? tree['ipv6']) as Json | undefined;
            if (ip === undefined) return;
            const v6 = tree['ipv6'] !== undefined;
            const tcp = tree['tcp'] as Json | undefined;
            const udp = tree['udp'] as Json | undefined;
            // IPv6: the upper-layer protocol after any extension headers, as sluice reports it.
            const proto = v6 ? (tcp ? 6 : udp ? 17 : tree['icmpv6'] ? 58 : ip['ipv6.nxt']) : ip['ip.proto'];
            t = tuple(
              v6 ? ip['ipv6.src'] : ip['ip.src'],
              v6 ? ip['ipv6.dst'] : ip['ip.dst'],
              Number(proto),
              tcp ? Number(tcp['tcp.srcport']) : udp ? Number(udp['udp.srcport']) : undefined,
              tcp ? Number(tcp['tcp.dstport']) : udp ? Number(udp['udp.dstport']) : undefined,
            );
          });
          flows.push({ seq, tuple: t });
        });
      }
    });
  }
  return { flows, counters };
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

test('pmacctd sfprobe -> sluice collect: sample count and every 5-tuple match tshark', { timeout: 120_000 }, async () => {
  requireBinary('pmacctd', ['-V'], 'pmacct');
  requireBinary('tshark', ['-v'], 'tshark');
  const work = mkdtempSync(join(tmpdir(), 'sluice-sflow-'));
  const collector = await startCollector();
  let tshark: ChildProcess | undefined;
  try {
    const pcap = buildTrafficPcap({ seed: 0x5f10 });
    const pcapPath = join(work, 'traffic.pcap');
    writeFileSync(pcapPath, pcap);
    let packets = 0;
    for (const f of flowsFromPcap(pcap).values()) packets += f.packets;

    // tshark first, so it sees the first datagram; it says "Capturing on" once the capture runs.
    const capPath = join(work, 'export.pcapng');
    tshark = spawn('tshark', ['-i', 'lo', '-f', `udp port ${collector.port}`, '-w', capPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let tsharkErr = '';
    tshark.stderr!.setEncoding('utf8').on('data', (s: string) => (tsharkErr += s));
    for (let t0 = Date.now(); !tsharkErr.includes('Capturing on'); ) {
      assert.ok(tshark.exitCode === null, `tshark could not capture on lo: ${tsharkErr}`);
      assert.ok(Date.now() - t0 < 20_000, `tshark did not start capturing: ${tsharkErr}`);
      await sleep(50);
    }

    const conf = join(work, 'pmacctd.conf');
    writeFileSync(
      conf,
      [
        'daemonize: false',
        `pcap_savefile: ${pcapPath}`,
        'plugins: sfprobe',
        `sfprobe_receiver: 127.0.0.1:${collector.port}`,
        'sfprobe_agentip: 192.0.2.99',
        'sampling_rate: 1',
        '',
      ].join('\n'),
    );
    const pm = spawn('pmacctd', ['-f', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let pmOut = '';
    pm.stdout!.setEncoding('utf8').on('data', (s: string) => (pmOut += s));
    pm.stderr!.setEncoding('utf8').on('data', (s: string) => (pmOut += s));
    // At the end of the file the core stops the plugin; depending on which side notices first it exits
    // 0 ("OK, Exiting") or 1 ("no more plugins active"). Both follow a complete export; the sample
    // count below checks that nothing was lost.
    const code = await waitForExit(pm, 60_000);
    assert.ok(code === 0 || (code === 1 && /no more plugins active/.test(pmOut)), `pmacctd failed (exit ${code}):\n${pmOut}`);
    assert.doesNotMatch(pmOut, /ERROR/, pmOut);

    await collector.waitForQuiet(packets, { quietMs: 500, idleMs: 5000, timeoutMs: 30_000 });
    await sleep(500); // let tshark write what it captured
    tshark.kill('SIGINT');
    await waitForExit(tshark, 10_000);
    tshark = undefined;

    const stopped = await collector.stop();
    const records = stopped.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Json);
    const flows = records.filter((r) => r['@type'] === 'ipfix.entry');
    const counterRecords = records.filter((r) => r['@type'] === 'sflow.counters');
    assert.doesNotMatch(stopped.stderr, /drop /, 'sluice dropped nothing');

    const dec = spawnSync('tshark', ['-n', '-r', capPath, '-d', `udp.port==${collector.port},sflow`, '-T', 'json', '--no-duplicate-keys'], { encoding: 'utf8', maxBuffer: 512 * 2 ** 20 });
    assert.equal(dec.status, 0, dec.stderr);
    const ts = tsharkSamples(JSON.parse(dec.stdout) as Json[]);

    assert.ok(ts.flows.length > 0, 'tshark decoded flow samples');
    assert.equal(flows.length, ts.flows.length, 'sluice decodes as many flow samples as tshark');
    assert.equal(counterRecords.length, ts.counters, 'and as many counter samples');
    // sfprobe with sampling rate 1 samples every packet, but at the end of a savefile pmacctd 1.7.7
    // exits without sending its last few samples (7 of 755 here; with pcap_savefile_wait and SIGINT
    // it sends them and re-sends earlier ones). So: no more samples than packets, nearly all of them,
    // and each sample one of the capture's packets.
    assert.ok(flows.length <= packets && flows.length >= packets * 0.95, `${flows.length} samples of ${packets} packets`);
    const left = new Map<string, number>();
    for (const [k, f] of flowsFromPcap(pcap)) left.set(k, f.packets);
    for (const r of flows) {
      const icmp = (r['iana:icmpTypeCodeIPv4'] ?? r['iana:icmpTypeCodeIPv6']) as number | undefined;
      const k = flowKey(
        String(r['iana:sourceIPv4Address'] ?? r['iana:sourceIPv6Address']),
        String(r['iana:destinationIPv4Address'] ?? r['iana:destinationIPv6Address']),
        r['iana:protocolIdentifier'] as number,
        (r['iana:sourceTransportPort'] as number | undefined) ?? 0,
        (r['iana:destinationTransportPort'] as number | undefined) ?? icmp ?? 0,
      );
      const n = left.get(k) ?? 0;
      assert.ok(n > 0, `sample ${String(r['sluice:sflowSampleSequenceNumber'])} (${k}) is not a packet of the capture, or one too many`);
      left.set(k, n - 1);
      assert.equal(r['iana:packetDeltaCount'], 1);
    }

    // Pair by sample sequence number (unique per source): every 5-tuple equal.
    const mine = new Map<number, string>();
    for (const r of flows) {
      assert.equal(r['iana:exporterIPv4Address'], '192.0.2.99');
      assert.equal(r['iana:samplingInterval'], 1);
      const src = r['iana:sourceIPv4Address'] ?? r['iana:sourceIPv6Address'];
      const dst = r['iana:destinationIPv4Address'] ?? r['iana:destinationIPv6Address'];
      mine.set(r['sluice:sflowSampleSequenceNumber'] as number, tuple(src, dst, r['iana:protocolIdentifier'], r['iana:sourceTransportPort'], r['iana:destinationTransportPort']));
    }
    assert.equal(mine.size, flows.length, 'sample sequence numbers are unique');
    let equal = 0;
    for (const t of ts.flows) {
      assert.equal(mine.get(t.seq), t.tuple, `sample ${t.seq}`);
      equal++;
    }
    console.log(`  pmacctd exported ${packets} packets as ${ts.flows.length} flow samples (tshark) / ${flows.length} (sluice); ${equal} 5-tuples equal`);
  } finally {
    if (tshark !== undefined) {
      tshark.kill('SIGINT');
      await waitForExit(tshark, 5000);
    }
    await collector.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
