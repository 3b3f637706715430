/**
 * Fuzzing the sFlow decoder with mutated datagrams: the telegraf corpus and encoder-built datagrams
 * with every sample and record type, mutated with a deterministic PRNG (so a failure reproduces
 * from its iteration number). Nothing may escape decode(), no drop may be an internal error, every
 * record must format to JSON that parses, and the whole run must stay fast and small.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { DecodeStage } from '../src/pipeline/decode.js';
import { Ipfixcol2JsonFormatter } from '../src/format/ipfixcol2-json.js';
import { IeRegistry, protocolKeyword } from '../src/wire/ie/registry.js';
import { makeSession } from '../src/wire/batch.js';
import { ethernet, ethernetIpv4Tcp, ethernetIpv6Udp, ethernetIpv4Icmp } from '../src/wire/packet/build.js';
import { encodeSflowDatagram, type FlowRecord, type SflowSample } from '../src/wire/sflow/encode.js';
import { Prng } from './helpers/prng.js';

const ITERATIONS = 60_000;
const SEED = 0x5f10_0005;

/** mulberry32: small, fast, and the same sequence on every platform. */
/** Uniform floats in [0, 1) from the shared deterministic PRNG (same sequence as before). */
function prng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.float();
}

function seeds(): Buffer[] {
  const out: Buffer[] = [];
  const dir = new URL('./fixtures/sflow/', import.meta.url);
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    for (const f of readdirSync(new URL(`${d.name}/`, dir))) if (f.endsWith('.bin')) out.push(readFileSync(new URL(`${d.name}/${f}`, dir)));
  }
  const tcp = ethernetIpv4Tcp({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1000, dstPort: 80, flags: 0x18, vlanIds: [5, 6], payload: Buffer.alloc(40) });
  const udp6 = ethernetIpv6Udp({ src: '2001:db8::1', dst: '2001:db8::2', srcPort: 53, dstPort: 53, payload: Buffer.alloc(20) });
  const lse = Buffer.from([0x03, 0xe8, 0x01, 0x40]);
  const mpls = ethernet({}, 0x8847, Buffer.concat([lse, ethernetIpv4Icmp({ src: '1.1.1.1', dst: '2.2.2.2', type: 8, code: 0 }).subarray(14)]));
  const all: FlowRecord[] = [
    { type: 'header', protocol: 1, frameLength: tcp.length + 4, header: tcp.subarray(0, 96) },
    { type: 'ethernet', length: 1518, srcMac: '00:11:22:33:44:55', dstMac: '66:77:88:99:aa:bb', etherType: 0x86dd },
    { type: 'ipv4', length: 1500, protocol: 6, src: '198.51.100.1', dst: '203.0.113.9', srcPort: 1, dstPort: 2, tcpFlags: 0x12, tos: 0 },
    { type: 'ipv6', length: 1280, protocol: 17, src: '2001:db8::a', dst: '2001:db8::b', srcPort: 3, dstPort: 4, tcpFlags: 0, tos: 0 },
    { type: 'switch', srcVlan: 1, srcPriority: 2, dstVlan: 3, dstPriority: 4 },
    { type: 'router', nextHop: '2001:db8::fe', srcMask: 48, dstMask: 64 },
    { type: 'gateway', nextHop: '192.0.2.1', as: 1, srcAs: 2, srcPeerAs: 3, asPath: [{ type: 2, asns: [4, 5] }, { type: 1, asns: [6] }], communities: [7, 8], localPref: 9 },
    { type: 'user', srcCharset: 106, srcUser: 'alice', dstCharset: 106, dstUser: 'bob' },
    { type: 'url', direction: 1, url: '/x', host: 'example.org' },
    { type: 'mpls', nextHop: '10.0.0.9', inStack: [1, 2, 3], outStack: [4] },
    { type: 'nat', src: '10.0.0.1', dst: '2001:db8::1' },
    { type: 'queue', queue: 3 },
  ];
  const samples: SflowSample[] = [
    { kind: 'flow', sequence: 1, sourceIndex: 3, samplingRate: 100, samplePool: 1000, drops: 0, input: 3, output: { format: 2, value: 3 }, records: all },
    { kind: 'flow', expanded: true, sequence: 2, sourceIndex: 4, samplingRate: 100, samplePool: 1000, drops: 0, input: 4, output: { format: 1, value: 258 }, records: [{ type: 'header', protocol: 1, frameLength: udp6.length, header: udp6 }] },
    { kind: 'flow', sequence: 3, sourceIndex: 5, samplingRate: 10, samplePool: 10, drops: 0, input: 5, output: 6, records: [{ type: 'header', protocol: 1, frameLength: mpls.length, header: mpls }] },
    { kind: 'discard', sequence: 4, sourceIndex: 1, drops: 1, input: 1, output: 2, reason: 259, records: [{ type: 'header', protocol: 11, frameLength: 60, header: tcp.subarray(22, 82) }] },
    {
      kind: 'counters',
      sequence: 5,
      sourceIndex: 7,
      records: [
        { type: 'vlan', vlanId: 7, octets: 1, ucastPkts: 2, multicastPkts: 3, broadcastPkts: 4, discards: 5 },
        { type: 'processor', cpu5s: 1, cpu1m: 2, cpu5m: 3, totalMemory: 4, freeMemory: 5 },
        { type: 'portName', name: 'eth0' },
      ],
    },
  ];
  out.push(encodeSflowDatagram({ agent: '192.0.2.9', subAgentId: 1, sequence: 1, uptimeMs: 1, samples }));
  out.push(encodeSflowDatagram({ agent: '2001:db8::9', subAgentId: 2, sequence: 2, uptimeMs: 2, samples: samples.slice(0, 2) }));
  return out;
}

/** Values that tend to break length and count checks. */
const WORDS = [0, 1, 2, 3, 4, 5, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffc, 0xffffffff, 1001, 1003, 1006];

function mutate(src: Buffer, rnd: () => number, pool: readonly Buffer[]): Buffer {
  let b = Buffer.from(src);
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n; k++) {
    const op = Math.floor(rnd() * 8);
    const at = Math.floor(rnd() * Math.max(1, b.length));
    switch (op) {
      case 0: // flip a bit
        if (b.length > 0) b[at] = b[at]! ^ (1 << Math.floor(rnd() * 8));
        break;
      case 1: // a random byte
        if (b.length > 0) b[at] = Math.floor(rnd() * 256);
        break;
      case 2: // a 32-bit word (lengths, counts, formats and address types are all aligned words)
      case 3: {
        const w = at & ~3;
        if (w + 4 <= b.length) b.writeUInt32BE(WORDS[Math.floor(rnd() * WORDS.length)]! >>> 0, w);
        break;
      }
      case 4: // cut the datagram
        b = b.subarray(0, Math.floor(rnd() * b.length));
        break;
      case 5: // garbage at the end
        b = Buffer.concat([b, Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)))]);
        break;
      case 6: {
        // splice in a piece of another seed
        const o = pool[Math.floor(rnd() * pool.length)]!;
        const from = Math.floor(rnd() * o.length);
        const piece = o.subarray(from, from + Math.floor(rnd() * 128));
        b = Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]);
        break;
      }
      default: {
        // duplicate a word-aligned range (repeated samples and records)
        const s = at & ~3;
        const len = (Math.floor(rnd() * 64) & ~3) + 4;
        b = Buffer.concat([b.subarray(0, s + len), b.subarray(s, s + len), b.subarray(s + len)]);
        break;
      }
    }
  }
  // Keep the sFlow version so most inputs reach the sFlow decoder rather than the dispatcher's bad-version.
  if (b.length >= 4 && rnd() < 0.95) b.writeUInt32BE(5, 0);
  return b;
}

test(`sFlow fuzz: ${ITERATIONS} mutated datagrams, seed ${SEED.toString(16)}`, () => {
  const pool = seeds();
  const rnd = prng(SEED);
  const formatters = [
    new Ipfixcol2JsonFormatter({}, protocolKeyword),
    new Ipfixcol2JsonFormatter({ ignoreUnknown: false, detailedInfo: true, timestamp: 'unix', tcpFlags: 'raw', protocol: 'raw', octetArrayAsUint: false, nonPrintableChar: false }, protocolKeyword),
  ];
  let records = 0;
  let iteration = 0;
  let current: Buffer = Buffer.alloc(0);
  const internal: string[] = [];
  const pipeline = new DecodeStage({
    registry: IeRegistry.builtin(),
    onBatch: (b) => {
      const text = formatters[iteration & 1]!.formatBatch(b);
      for (const line of text.split('\n')) {
        if (line === '') continue;
        try {
          JSON.parse(line);
        } catch (err) {
          assert.fail(`iteration ${iteration}: record is not JSON (${(err as Error).message}): ${line.slice(0, 300)} input ${current.toString('hex')}`);
        }
        records++;
      }
    },
    onDrop: (ev) => {
      if (/internal/i.test(ev.detail)) internal.push(`iteration ${iteration}: ${ev.detail} input ${current.toString('hex')}`);
      assert.ok(Number.isInteger(ev.offset) && ev.offset >= 0 && ev.offset <= current.length, `iteration ${iteration}: drop offset ${ev.offset} outside the ${current.length}-byte datagram`);
    },
  });
  const session = makeSession('udp', '192.0.2.77', 6343, 6343);
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let slowest = 0;
  let mostRecords = 0;
  for (iteration = 0; iteration < ITERATIONS; iteration++) {
    current = mutate(pool[Math.floor(rnd() * pool.length)]!, rnd, pool);
    const t = performance.now();
    const before = records;
    pipeline.handle(current, session, 1_700_000_000_000 + iteration);
    slowest = Math.max(slowest, performance.now() - t);
    // Work is bounded by the bytes present: every sample record takes at least 8 bytes of its datagram.
    const made = records - before;
    mostRecords = Math.max(mostRecords, made);
    assert.ok(made <= current.length / 8, `iteration ${iteration}: ${made} records from a ${current.length}-byte datagram`);
  }
  const ms = performance.now() - t0;
  assert.deepEqual(internal.slice(0, 5), []);
  const c = pipeline.counters;
  assert.equal(c.datagrams, ITERATIONS);
  assert.ok(records > ITERATIONS / 4, `mutations kept enough of the input decodable (${records} records)`);
  assert.ok(c.drops.total() > 0);
  const grew = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  assert.ok(grew < 256, `heap stays bounded (+${grew.toFixed(0)} MiB)`);
  // Timing is reported, not asserted (tests never assert on wall-clock speed); a hang fails by the test timeout.
  console.log(`  ${ITERATIONS} datagrams in ${ms.toFixed(0)} ms (slowest ${slowest.toFixed(1)} ms), ${records} records (at most ${mostRecords} from one datagram), drops ${JSON.stringify(c.drops.toJSON())}`);
});
