/**
 * The probe against real peers, on loopback:
 * - Debian's nfcapd receives `sluice probe --pcap` as IPFIX, NetFlow v9 and v5; nfdump's totals
 *   (flows, packets, bytes) equal the capture's, computed by test/helpers/traffic.ts's own reader
 *   (v5: the IPv4 flows, since v5 cannot carry IPv6);
 * - tshark decodes every exported message (captured by a UDP socket and written to a pcap) without
 *   an expert-info warning or a malformed packet, and its record totals equal the capture's;
 * - softflowd (a real exporter) and sluice probe meter the same pcap; both exports decoded by
 *   `sluice collect` give the same 5-tuples, packets and TCP flags per flow;
 * - IPFIX over TCP into `sluice collect --listen tcp://…` gives the same totals.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary, startCollector } from './helpers/collector.js';
import { buildTrafficPcap, flowKey, flowsFromPcap, totals, type FlowTotals } from './helpers/traffic.js';
import { DatagramSink, Nfcapd, runProbeCli, tsharkCheck } from './helpers/probe.js';

type Json = Record<string, unknown>;

interface SeenFlow {
  key: string;
  packets: number;
  octets: number;
  tcpFlags: number;
}

function num(r: Json, ...keys: string[]): number | undefined {
  for (const k of keys) if (typeof r[k] === 'number') return r[k] as number;
  return undefined;
}

function seen(r: Json): SeenFlow {
  const src = (r['iana:sourceIPv4Address'] ?? r['iana:sourceIPv6Address']) as string;
  const dst = (r['iana:destinationIPv4Address'] ?? r['iana:destinationIPv6Address']) as string;
  const protocol = num(r, 'iana:protocolIdentifier')!;
  const icmp = protocol === 1 || protocol === 58;
  const dstPort = icmp ? num(r, 'iana:icmpTypeCodeIPv4', 'iana:icmpTypeCodeIPv6', 'netflow:icmpTypeCodeIPv6') ?? 0 : num(r, 'iana:destinationTransportPort') ?? 0;
  return {
    key: flowKey(src, dst, protocol, icmp ? 0 : num(r, 'iana:sourceTransportPort') ?? 0, dstPort),
    packets: num(r, 'iana:packetDeltaCount') ?? NaN,
    octets: num(r, 'iana:octetDeltaCount') ?? NaN,
    tcpFlags: num(r, 'iana:tcpControlBits') ?? 0,
  };
}

function flowsOf(stdout: string): Map<string, SeenFlow> {
  const out = new Map<string, SeenFlow>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const r = JSON.parse(line) as Json;
    if (r['@type'] !== 'ipfix.entry') continue;
    const f = seen(r);
    assert.ok(!out.has(f.key), `${f.key} reported twice`);
    out.set(f.key, f);
  }
  return out;
}

let workDir = '';
let pcapPath = '';
let all = new Map<string, FlowTotals>();

function expectedFor(version: 5 | 9 | 10): Map<string, FlowTotals> {
  return new Map([...all].filter(([, f]) => version !== 5 || f.ipVersion === 4));
}

async function probe(t: TestContext, args: string[]): Promise<string> {
  const r = await runProbeCli(['--pcap', pcapPath, ...args]);
  assert.equal(r.code, 0, `sluice probe failed:\n${r.stderr}`);
  t.diagnostic(r.stderr.trim().split('\n').at(-1)!);
  return r.stderr;
}

test('sluice probe exports a pcap correctly to nfcapd, tshark, sluice collect, and agrees with softflowd', async (t) => {
  requireBinary('nfcapd', ['-V'], 'nfdump');
  requireBinary('tshark', ['-v'], 'tshark');
  requireBinary('softflowd', ['-h'], 'softflowd');
  workDir = mkdtempSync(join(tmpdir(), 'sluice-probe-'));
  t.after(() => rmSync(workDir, { recursive: true, force: true }));
  const pcap = buildTrafficPcap();
  pcapPath = join(workDir, 'traffic.pcap');
  writeFileSync(pcapPath, pcap);
  all = flowsFromPcap(pcap);
  const sum = totals(all.values());
  t.diagnostic(`pcap: ${sum.flows} flows, ${sum.packets} packets, ${sum.octets} IP octets`);

  for (const version of [10, 9, 5] as const) {
    await t.test(`nfcapd receives v${version === 10 ? '10 (IPFIX)' : version}: nfdump totals equal the pcap's`, async (st) => {
      const want = totals(expectedFor(version).values());
      const nf = await Nfcapd.start();
      st.after(() => nf.kill());
      await probe(st, ['-c', `127.0.0.1:${nf.port}`, '-V', String(version)]);
      const got = await nf.stop();
      st.diagnostic(`nfdump: ${JSON.stringify(got)}`);
      assert.deepEqual(got, { flows: want.flows, packets: want.packets, bytes: want.octets }, `nfcapd log:\n${nf.log}`);
      assert.match(nf.log, /Sequence Errors: 0, Bad Packets: 0/);
    });
  }

  await t.test('nfcapd scales IPFIX by the 1-in-4 sampling the options record declares', async (st) => {
    const nf = await Nfcapd.start();
    st.after(() => nf.kill());
    const stderr = await probe(st, ['-c', `127.0.0.1:${nf.port}`, '--sampling', '4']);
    const m = /selected (\d+), metered \d+ \((\d+) octets\)/.exec(stderr);
    assert.ok(m !== null, stderr);
    // Systematic count-based: packets 0, 4, 8, ... of the capture.
    assert.equal(Number(m[1]), Math.ceil(sum.packets / 4));
    const got = await nf.stop();
    assert.equal(got.packets, 4 * Number(m[1]), `nfcapd log:\n${nf.log}`);
    assert.equal(got.bytes, 4 * Number(m[2]));
  });

  for (const [version, extra] of [[10, ['--biflow']], [10, []], [9, []], [5, []]] as const) {
    await t.test(`tshark decodes every v${version}${extra.length ? ' biflow' : ''} message without a warning`, async (st) => {
      const sink = await DatagramSink.open();
      st.after(() => sink.close());
      // A small MTU makes many messages and template refreshes, the cases worth checking.
      await probe(st, ['-c', `127.0.0.1:${sink.port}`, '-V', String(version), '--mtu', '700', '--template-refresh-packets', '3', ...extra]);
      await sink.waitFor(1, 300);
      const file = join(workDir, `export-v${version}${extra.join('')}.pcap`);
      writeFileSync(file, sink.toPcap());
      const ts = tsharkCheck(file, sink.port);
      st.diagnostic(`${sink.datagrams.length} datagrams; tshark: ${ts.cflowFrames} cflow frames, ${ts.records} records, ${ts.packets} packets, ${ts.octets} octets`);
      assert.ok(sink.datagrams.length > 3);
      assert.ok(sink.datagrams.every((d) => d.data.length <= 700 - 28), 'a message exceeds the MTU');
      assert.equal(ts.cflowFrames, sink.datagrams.length, 'tshark did not decode every message as NetFlow/IPFIX');
      assert.deepEqual(ts.problems, [], 'tshark expert warnings');
      const want = totals(expectedFor(version).values());
      assert.deepEqual({ packets: ts.packets, octets: ts.octets }, { packets: want.packets, octets: want.octets });
      if (extra.length === 0) assert.equal(ts.records, want.flows);
    });
  }

  await t.test('softflowd and sluice probe on the same pcap: same 5-tuples, packets and TCP flags (both decoded by sluice collect)', async (st) => {
    const viaSoftflowd = await startCollector();
    st.after(() => viaSoftflowd.stop());
    const sf = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn('softflowd', ['-r', pcapPath, '-a', '-v', '10', '-T', 'full', '-n', `127.0.0.1:${viaSoftflowd.port}`, '-d', '-c', 'none', '-p', join(workDir, 'softflowd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
    assert.equal(sf.code, 0, sf.out);
    await viaSoftflowd.waitForQuiet(all.size, { quietMs: 300, idleMs: 3000, timeoutMs: 15_000 });
    const a = flowsOf((await viaSoftflowd.stop()).stdout);

    const viaProbe = await startCollector();
    st.after(() => viaProbe.stop());
    await probe(st, ['-c', `127.0.0.1:${viaProbe.port}`]);
    await viaProbe.waitForQuiet(all.size, { quietMs: 300, idleMs: 3000, timeoutMs: 15_000 });
    const b = flowsOf((await viaProbe.stop()).stdout);

    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), '5-tuples differ');
    const diffs: string[] = [];
    let sfOctets = 0;
    let probeOctets = 0;
    for (const [k, fa] of a) {
      const fb = b.get(k)!;
      const e = all.get(k)!;
      if (fa.packets !== fb.packets) diffs.push(`${k}: packets softflowd ${fa.packets}, probe ${fb.packets}`);
      if (fa.tcpFlags !== fb.tcpFlags) diffs.push(`${k}: TCP flags softflowd ${fa.tcpFlags}, probe ${fb.tcpFlags}`);
      // softflowd counts frame bytes after the link header (Ethernet padding of short frames
      // included); sluice counts IP total length, as RFC 7012 defines octetDeltaCount.
      if (fa.octets !== e.linkOctets) diffs.push(`${k}: softflowd octets ${fa.octets}, pcap link octets ${e.linkOctets}`);
      if (fb.octets !== e.octets) diffs.push(`${k}: probe octets ${fb.octets}, pcap IP octets ${e.octets}`);
      sfOctets += fa.octets;
      probeOctets += fb.octets;
    }
    assert.deepEqual(diffs, []);
    const sum = totals(all.values());
    st.diagnostic(`${a.size} flows each; octets softflowd ${sfOctets} (link), probe ${probeOctets} (IP): the difference ${sfOctets - probeOctets} is exactly the Ethernet padding`);
    assert.equal(sfOctets - probeOctets, sum.linkOctets - sum.octets);
  });

  await t.test('IPFIX over TCP (RFC 7011 framing) into sluice collect: every flow, packet and byte', async (st) => {
    const { freeTcpPort } = await import('./helpers/probe.js');
    const tcpPort = await freeTcpPort();
    const c = await startCollector({ extraArgs: ['--listen', `tcp://127.0.0.1:${tcpPort}`] });
    st.after(() => c.stop());
    await c.waitForLog(`listening on tcp://127.0.0.1:${tcpPort}`, 15_000);
    await probe(st, ['-c', `127.0.0.1:${tcpPort}`, '--transport', 'tcp']);
    await c.waitForQuiet(all.size, { quietMs: 300, idleMs: 3000, timeoutMs: 15_000 });
    const stopped = await c.stop();
    const got = flowsOf(stopped.stdout);
    let packets = 0;
    let octets = 0;
    for (const f of got.values()) {
      packets += f.packets;
      octets += f.octets;
    }
    const want = totals(all.values());
    assert.deepEqual({ flows: got.size, packets, octets }, { flows: want.flows, packets: want.packets, octets: want.octets });
    assert.deepEqual([...got.keys()].sort(), [...all.keys()].sort());
    assert.match(stopped.stderr, /dropped: \{\}/, stopped.stderr);
  });
});
