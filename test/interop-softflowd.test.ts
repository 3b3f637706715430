/**
 * Interop with a real exporter: softflowd (Debian's softflowd 1.1.0) meters a generated pcap and
 * exports NetFlow v5, v9 and IPFIX over loopback UDP to a `sluice collect` child process. Every
 * flow, packet and byte the pcap holds must come out of sluice as JSON, with the right 5-tuple,
 * counters, TCP flags and times.
 *
 * softflowd facts this test relies on (checked against 1.1.0):
 * - `-r FILE` reads a capture, expires every flow at its end, sends, prints statistics and exits.
 * - `-c none` is required with `-r`: with a control socket, 1.1.0 reads uninitialised poll state
 *   when it reads from a file and blocks in accept() forever before reading a single packet.
 * - `-a` bases sysUpTime on the first packet's capture time; without it the capture's (past)
 *   times are taken relative to the real boot time, wrap around 2^32 ms, and no time checks hold.
 * - Flows are bidirectional inside softflowd and exported as one record per direction that saw
 *   packets, so the expected flows are the pcap's unidirectional 5-tuples; both records carry the
 *   conversation's start and end times, not their own direction's.
 * - Octets are the frame length after the link header (Ethernet padding of short frames
 *   included), not the IP total length; see FlowTotals.linkOctets.
 * - ICMP carries type << 8 | code as the destination port in v5 and icmpTypeCodeIPv4/IPv6 in
 *   v9/IPFIX; v5 has no IPv6, so softflowd does not track IPv6 traffic at all with -v 5.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary, startCollector } from './helpers/collector.js';
import { buildTrafficPcap, flowKey, flowsFromPcap, totals, type FlowTotals } from './helpers/traffic.js';

const SOFTFLOWD_TIMEOUT_MS = 30_000;

interface SoftflowdRun {
  readonly code: number | null;
  readonly output: string;
  /** "Flows exported: N (R records)": R, the records softflowd says it sent. */
  readonly recordsExported: number;
}

/** Runs softflowd over the capture to 127.0.0.1:port; bounded by a timeout that kills it. */
function runSoftflowd(pcapPath: string, version: 5 | 9 | 10, port: number, workDir: string): Promise<SoftflowdRun> {
  const args = ['-r', pcapPath, '-a', '-v', String(version), '-T', 'full', '-n', `127.0.0.1:${port}`, '-d', '-c', 'none', '-p', join(workDir, 'softflowd.pid')];
  return new Promise((resolve, reject) => {
    const child = spawn('softflowd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), SOFTFLOWD_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const m = /Flows exported: \d+ \((\d+) records\)/.exec(output);
      resolve({ code, output, recordsExported: m ? Number(m[1]) : -1 });
    });
  });
}

type JsonRecord = Record<string, unknown>;

function numberField(rec: JsonRecord, ...keys: string[]): number | undefined {
  for (const k of keys) {
    const v = rec[k];
    if (typeof v === 'number') return v;
  }
  return undefined;
}

function stringField(rec: JsonRecord, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = rec[k];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

interface SeenFlow {
  readonly key: string;
  readonly packets: number;
  readonly octets: number;
  readonly tcpFlags: number;
  readonly startMs: number;
  readonly endMs: number;
}

/** The flow a sluice JSON record describes, keyed like FlowTotals. */
function seenFlow(rec: JsonRecord): SeenFlow {
  const src = stringField(rec, 'iana:sourceIPv4Address', 'iana:sourceIPv6Address');
  const dst = stringField(rec, 'iana:destinationIPv4Address', 'iana:destinationIPv6Address');
  const protocol = numberField(rec, 'iana:protocolIdentifier');
  assert.ok(src !== undefined && dst !== undefined && protocol !== undefined, `record without addresses or protocol: ${JSON.stringify(rec)}`);
  const icmp = protocol === 1 || protocol === 58;
  const srcPort = numberField(rec, 'iana:sourceTransportPort') ?? 0;
  // v9 element 139 is outside the 1-127 range that sluice names as IANA, hence the netflow: key.
  const dstPort = icmp
    ? numberField(rec, 'iana:icmpTypeCodeIPv4', 'iana:icmpTypeCodeIPv6', 'netflow:icmpTypeCodeIPv6', 'iana:destinationTransportPort') ?? 0
    : numberField(rec, 'iana:destinationTransportPort') ?? 0;
  return {
    key: flowKey(src, dst, protocol, srcPort, dstPort),
    packets: numberField(rec, 'iana:packetDeltaCount') ?? NaN,
    octets: numberField(rec, 'iana:octetDeltaCount') ?? NaN,
    tcpFlags: numberField(rec, 'iana:tcpControlBits') ?? 0,
    startMs: numberField(rec, 'iana:flowStartMilliseconds') ?? NaN,
    endMs: numberField(rec, 'iana:flowEndMilliseconds') ?? NaN,
  };
}

/** softflowd's times for a direction: first and last packet of the whole (bidirectional) conversation. */
function conversationTimes(all: Map<string, FlowTotals>): Map<string, { firstMs: number; lastMs: number }> {
  const out = new Map<string, { firstMs: number; lastMs: number }>();
  for (const [key, f] of all) {
    const back = all.get(flowKey(f.dst, f.src, f.protocol, f.dstPort, f.srcPort));
    out.set(key, {
      firstMs: Math.min(f.firstMs, back?.firstMs ?? Infinity),
      lastMs: Math.max(f.lastMs, back?.lastMs ?? -Infinity),
    });
  }
  return out;
}

/**
 * How far a reported flow start may be from the first packet's capture time. softflowd keeps
 * milliseconds (sub-ms parts are cut); a v9 header carries the export time in whole seconds only,
 * so absolute v9 times can be early by up to a second.
 */
function startTolerance(version: 5 | 9 | 10): [number, number] {
  return version === 9 ? [-1002, 2] : [-2, 2];
}

async function checkVersion(t: TestContext, version: 5 | 9 | 10, pcapPath: string, all: Map<string, FlowTotals>, workDir: string): Promise<void> {
  const expected = new Map([...all].filter(([, f]) => version !== 5 || f.ipVersion === 4));
  const want = totals(expected.values());

  const collector = await startCollector();
  t.after(() => collector.stop());

  const sf = await runSoftflowd(pcapPath, version, collector.port, workDir);
  assert.equal(sf.code, 0, `softflowd -v ${version} failed:\n${sf.output}`);
  // If this fails, the expectation or softflowd changed, not sluice.
  assert.equal(sf.recordsExported, want.flows, `softflowd says it exported ${sf.recordsExported} records, the pcap holds ${want.flows} flows:\n${sf.output}`);

  // softflowd has exited, so everything is sent; wait (bounded) until sluice has printed it all.
  await collector.waitForQuiet(want.flows, { quietMs: 300, idleMs: 3000, timeoutMs: 15_000 });
  const stopped = await collector.stop();
  assert.equal(stopped.code, 0, `sluice collect exited with ${stopped.code ?? stopped.signal}:\n${stopped.stderr}`);
  assert.match(stopped.stderr, /stopped: .*dropped: \{\}/, `sluice reported drops:\n${stopped.stderr}`);

  const lines = stopped.stdout.split('\n').filter((l) => l !== '');
  const records: JsonRecord[] = lines.map((l) => {
    try {
      return JSON.parse(l) as JsonRecord;
    } catch (err) {
      assert.fail(`sluice printed a line that is not JSON (${(err as Error).message}): ${l}`);
    }
  });
  const flows = records.filter((r) => r['@type'] === 'ipfix.entry').map(seenFlow);

  const got = { flows: flows.length, packets: 0, octets: 0 };
  for (const f of flows) {
    got.packets += f.packets;
    got.octets += f.octets;
  }
  t.diagnostic(`v${version}: ${got.flows} flows, ${got.packets} packets, ${got.octets} octets (pcap: ${want.flows} / ${want.packets} / ${want.linkOctets}; IP lengths ${want.octets})`);
  assert.deepEqual(got, { flows: want.flows, packets: want.packets, octets: want.linkOctets }, `totals differ for v${version}`);

  const byKey = new Map(flows.map((f) => [f.key, f]));
  assert.equal(byKey.size, flows.length, 'a 5-tuple was reported twice');
  const missing = [...expected.keys()].filter((k) => !byKey.has(k));
  const extra = [...byKey.keys()].filter((k) => !expected.has(k));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, '5-tuples differ');

  const [lo, hi] = startTolerance(version);
  const times = conversationTimes(all);
  const problems: string[] = [];
  for (const [key, e] of expected) {
    const g = byKey.get(key)!;
    const { firstMs, lastMs } = times.get(key)!;
    if (g.packets !== e.packets || g.octets !== e.linkOctets) problems.push(`${key}: ${g.packets} pkts / ${g.octets} B, pcap ${e.packets} / ${e.linkOctets}`);
    if (e.protocol === 6 && g.tcpFlags !== e.tcpFlags) problems.push(`${key}: TCP flags 0x${g.tcpFlags.toString(16)}, pcap 0x${e.tcpFlags.toString(16)}`);
    const dStart = g.startMs - firstMs;
    if (!(dStart >= lo && dStart <= hi)) problems.push(`${key}: start ${g.startMs} is ${dStart.toFixed(1)} ms from the first packet (${firstMs})`);
    const dDur = g.endMs - g.startMs - (lastMs - firstMs);
    if (!(Math.abs(dDur) <= 2)) problems.push(`${key}: duration ${g.endMs - g.startMs} ms, pcap ${(lastMs - firstMs).toFixed(1)} ms`);
  }
  assert.deepEqual(problems, [], `per-flow differences for v${version}`);
}

test('softflowd exports a pcap as NetFlow v5, v9 and IPFIX; sluice collect reports every flow, packet and byte', async (t) => {
  requireBinary('softflowd', ['-h'], 'softflowd');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-softflowd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pcap = buildTrafficPcap();
  const pcapPath = join(dir, 'traffic.pcap');
  writeFileSync(pcapPath, pcap);
  const all = flowsFromPcap(pcap);
  const sum = totals(all.values());
  t.diagnostic(`pcap: ${sum.packets} packets, ${all.size} unidirectional flows (${[...all.values()].filter((f) => f.ipVersion === 6).length} IPv6)`);

  await t.test('NetFlow v5 (IPv4 only)', (st) => checkVersion(st, 5, pcapPath, all, dir));
  await t.test('NetFlow v9', (st) => checkVersion(st, 9, pcapPath, all, dir));
  await t.test('IPFIX', (st) => checkVersion(st, 10, pcapPath, all, dir));
});
