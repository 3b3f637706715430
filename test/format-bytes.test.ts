/**
 * The byte formatter (Ipfixcol2JsonFormatter.formatBatchInto) against the string formatter
 * (formatBatch), which stays the reference: for every batch, the bytes must equal the UTF-8
 * encoding of the text, over the captured corpora, encoder-generated messages covering every data
 * type, length and formatting option, and mutated datagrams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByteOutput } from '../src/format/byte-output.js';
import * as W from '../src/format/json-bytes.js';
import { Ipfixcol2JsonFormatter, type JsonFormatOptions } from '../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession, type FlowBatch, type TransportSession } from '../src/wire/batch.js';
import { IpfixMessageBuilder, type EncField, type EncTemplate, type EncValue } from '../src/wire/encode/ipfix.js';
import { splitDatagrams } from '../src/wire/framing.js';
import { IeRegistry, protocolKeyword } from '../src/wire/ie/registry.js';
import type { DataType } from '../src/wire/ie/types.js';
import { udpFromFrame } from '../src/wire/packet/parse.js';
import { IpReassembler } from '../src/wire/packet/reassemble.js';
import { readCapture } from '../src/wire/pcap/read.js';
import { VARLEN } from '../src/wire/template.js';
import { corpusPath, loadSequences } from './conformance/corpus.js';
import { basicList, generateMessages, subTemplateList } from './helpers/messages.js';
import { Prng } from './helpers/prng.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const NOW = 1_704_067_300_000;

// ---- option combinations ------------------------------------------------------------------------

type Opts = Partial<JsonFormatOptions>;
const FLIPPED: Opts = {
  tcpFlags: 'raw',
  timestamp: 'unix',
  protocol: 'raw',
  ignoreUnknown: false,
  ignoreOptions: false,
  nonPrintableChar: false,
  octetArrayAsUint: false,
  numericNames: true,
  detailedInfo: true,
  splitBiflow: true,
};
const OPTION_NAMES = Object.keys(FLIPPED) as (keyof Opts)[];

/** Every combination of the ten output options (1024). */
function allCombinations(): Opts[] {
  return Array.from({ length: 1 << OPTION_NAMES.length }, (_, mask) => {
    const o: Record<string, unknown> = {};
    OPTION_NAMES.forEach((name, bit) => {
      if (mask & (1 << bit)) o[name] = FLIPPED[name];
    });
    return o as Opts;
  });
}

/** Defaults, everything flipped, and each option flipped alone (and all but it). */
function someCombinations(): Opts[] {
  const out: Opts[] = [{}, { ...FLIPPED }];
  for (const name of OPTION_NAMES) {
    out.push({ [name]: FLIPPED[name] });
    const rest: Record<string, unknown> = { ...FLIPPED };
    delete rest[name];
    out.push(rest as Opts);
  }
  return out;
}

// ---- the comparison -----------------------------------------------------------------------------

interface Mismatch {
  readonly opts: Opts;
  readonly template: string;
  readonly text: string;
  readonly bytes: string;
}

class Differ {
  readonly formatters: Ipfixcol2JsonFormatter[];
  /** A shared output that keeps growing from a tiny start and is reset only now and then. */
  private readonly out = new ByteOutput(64);
  records = 0;
  lines = 0;
  bytes = 0;
  errors: string[] = [];
  mismatches: Mismatch[] = [];
  mismatchCount = 0;

  constructor(
    readonly reg: IeRegistry,
    readonly optionSets: readonly Opts[],
  ) {
    this.formatters = optionSets.map((o) => new Ipfixcol2JsonFormatter(o, protocolKeyword));
  }

  check(b: FlowBatch): void {
    this.records += b.count;
    for (let k = 0; k < this.formatters.length; k++) {
      const f = this.formatters[k]!;
      let text: string;
      try {
        text = f.formatBatch(b);
      } catch {
        continue; // the string path's own failures are the fuzz test's business
      }
      const out = this.out;
      if (out.len > 1 << 20) out.reset();
      const before = out.len;
      const guard = out.len > 0 ? out.buf[out.len - 1] : undefined;
      try {
        f.formatBatchInto(b, out);
      } catch (err) {
        this.errors.push(`${JSON.stringify(this.optionSets[k])} template ${b.template.signature}: ${(err as Error).stack}`);
        continue;
      }
      if (guard !== undefined) assert.equal(out.buf[before - 1], guard, 'formatBatchInto changed bytes before its start');
      const got = out.buf.subarray(before, out.len);
      const want = Buffer.from(text, 'utf8');
      this.bytes += got.length;
      this.lines += b.count;
      if (!got.equals(want)) {
        this.mismatchCount++;
        if (this.mismatches.length < 5) {
          const gl = got.toString('utf8').split('\n');
          const wl = text.split('\n');
          const n = wl.findIndex((l, i) => l !== gl[i]);
          this.mismatches.push({ opts: this.optionSets[k]!, template: b.template.signature, text: wl[n] ?? '', bytes: gl[n] ?? '' });
        }
      }
    }
  }

  pipeline(): DecodeStage {
    return new DecodeStage({ registry: this.reg, onBatch: (b) => this.check(b) });
  }

  assertClean(what: string): void {
    assert.deepEqual(this.errors.slice(0, 3), [], `${what}: formatBatchInto threw`);
    const shown = this.mismatches.map((m) => `options ${JSON.stringify(m.opts)}, template ${m.template}\n  text:  ${m.text}\n  bytes: ${m.bytes}`).join('\n');
    assert.equal(this.mismatchCount, 0, `${what}: ${this.mismatchCount} batches differ\n${shown}`);
    assert.ok(this.lines > 0, `${what}: nothing was formatted`);
  }
}

// ---- inputs -------------------------------------------------------------------------------------

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

function datagramsOf(path: string): Array<{ payload: Buffer; src: string; sport: number; dport: number; ts: number }> {
  const buf = readFileSync(path);
  if (/\.(dat|bin)$/.test(path)) return splitDatagrams(buf).map((payload) => ({ payload, src: '192.0.2.1', sport: 4444, dport: 0, ts: NOW }));
  const out: Array<{ payload: Buffer; src: string; sport: number; dport: number; ts: number }> = [];
  const reasm = new IpReassembler();
  try {
    for (const fr of readCapture(buf)) {
      const u = udpFromFrame(fr.linkType, fr.data, reasm, fr.tsMs);
      if (u !== undefined) out.push({ payload: Buffer.from(u.payload), src: u.srcAddr, sport: u.srcPort, dport: u.dstPort, ts: fr.tsMs });
    }
  } catch {
    // the good frames before the damage are enough
  }
  return out;
}

/** One stream of datagrams per corpus file, each through its own pipeline (templates per file). */
function corpusFiles(): string[] {
  const files: string[] = [];
  for (const sub of ['corpora', 'pcap']) {
    const dir = join(FIXTURES, sub);
    if (existsSync(dir)) files.push(...walk(dir, []).filter((p) => /\.(dat|bin|pcap|pcapng|cap)$/.test(p)));
  }
  return files;
}

/** A template per data type holding it at every interesting length, and records of edge values. */
function typeCoverageMessages(reg: IeRegistry, rng: Prng, rounds = 30): Buffer[] {
  const byType = new Map<DataType, number[]>();
  for (let id = 1; id < 1000; id++) {
    const ie = reg.get(0, id);
    if (ie === undefined) continue;
    const ids = byType.get(ie.type) ?? [];
    ids.push(id);
    byType.set(ie.type, ids);
  }
  const lengths = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 20, VARLEN];
  const templates: EncTemplate[] = [];
  let tid = 400;
  for (const [type, ids] of byType) {
    if (type === 'basicList' || type === 'subTemplateList' || type === 'subTemplateMultiList') continue;
    // The well-known special cases first: protocol, TCP flags, and an enterprise (unknown) field.
    const picks = type === 'unsigned8' ? [4, 6, ids[0]!] : type === 'unsigned16' ? [6, ids[0]!] : [ids[0]!, ids[ids.length - 1]!];
    const fields: EncField[] = [];
    for (const id of picks) for (const length of lengths) fields.push({ id, length });
    fields.push({ id: 210, length: 4 }, { id: 77, length: 4, pen: 9 }, { id: 77, length: VARLEN, pen: 9 }, { id: picks[0]!, length: 4 });
    templates.push({ id: tid++, fields });
  }
  // Relative times only (sysUpTime is NetFlow; delta microseconds here), so flowStart/End are derived.
  templates.push({ id: tid++, fields: [{ id: 158, length: 4 }, { id: 159, length: 4 }, { id: 8, length: 4 }] });
  // Duplicate elements become arrays.
  templates.push({ id: tid++, fields: [{ id: 8, length: 4 }, { id: 8, length: 4 }, { id: 82, length: VARLEN }, { id: 82, length: 8 }, { id: 8, length: 2 }] });
  const strings = [
    Buffer.from('eth0'),
    Buffer.from('quote " backslash \\ slash /'),
    Buffer.from('tab\tnewline\ncr\rnul\0bell\x07del\x7f\x1f'),
    Buffer.from('trailing nuls\0\0\0'),
    Buffer.from('\0\0\0'),
    Buffer.from('ünïcødé ✓ 日本 😀 "q" \\ \n'),
    Buffer.from('\u2028line\u2029para'),
    Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc, 0xff, 0xfe, 0x01]),
    Buffer.from([0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf]),
    Buffer.alloc(300, 0x22),
    Buffer.alloc(400, 0x01),
    Buffer.alloc(0),
  ];
  const ipv6 = ['::', '::1', '1::', '1::1', '::ffff:192.0.2.1', '::192.0.2.1', '::ffff:0:1', '0:0:0:0:0:ffff:1:2', 'fe80::1:2:3:4', '2001:db8:0:0:1:0:0:1', '2001:db8::ffff:0:0', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '1:0:1:0:1:0:1:0', '0:1:0:0:0:1:0:0'];
  const u64Edges = [0n, 1n, 9n, 10n, 99n, 100n, 4294967295n, 4294967296n, 9007199254740991n, 9007199254740992n, 9007199254740993n, 18446744073709551615n, 999999999999999n, 1000000000000000n, 9999999999999999n];
  const floats = [NaN, Infinity, -Infinity, -0, 0, 1.5, -1e300, 5e-324, 3.4028234663852886e38, 1e21, 123456789.125];
  const value = (f: EncField, type: DataType | undefined): EncValue => {
    const len = f.length;
    const mode = rng.int(0, 9);
    if (len === VARLEN) {
      if (type === 'string' || mode < 3) return rng.pick(strings);
      return rng.bytes(rng.pick([0, 1, 2, 4, 6, 8, 9, 16, rng.int(0, 40)]));
    }
    if (mode === 0) return Buffer.alloc(len, 0xff);
    if (mode === 1) return Buffer.alloc(len, 0);
    if (mode === 2 && len === 8) return rng.pick(u64Edges);
    if (mode === 3 && len >= 1 && len <= 8) {
      const b = Buffer.alloc(len);
      b[0] = 0x80; // most negative / top bit set
      return b;
    }
    switch (type) {
      case 'string':
        return rng.pick(strings);
      case 'ipv6Address':
        if (len === 16) return rng.pick(ipv6);
        break;
      case 'float64':
      case 'float32':
        if (len === 8) {
          const b = Buffer.alloc(8);
          b.writeDoubleBE(rng.pick(floats));
          return b;
        }
        if (len === 4) {
          const b = Buffer.alloc(4);
          b.writeFloatBE(rng.pick(floats));
          return b;
        }
        break;
      case 'dateTimeSeconds':
        if (len === 4) return rng.pick([1_704_067_200, 0, 0xffffffff, rng.u32()]);
        break;
      case 'dateTimeMilliseconds':
        if (len === 8) return rng.pick([1_704_067_200_123n, 0n, 253_402_300_799_999n, 8_640_000_000_000_000n, 8_640_000_000_001_000n, BigInt(rng.u32()) * 1000n + 7n]);
        break;
      case 'dateTimeMicroseconds':
      case 'dateTimeNanoseconds':
        if (len === 8) return rng.pick([(3_913_056_000n << 32n) | 0x7fffffffn, 0n, BigInt(rng.u32()) << 32n]);
        break;
      case 'boolean':
        if (len === 1) return rng.pick([0, 1, 2, 3]);
        break;
    }
    return rng.bytes(len);
  };
  const msgs: Buffer[] = [new IpfixMessageBuilder({ domainId: 7, exportTimeSec: 1_704_067_200, sequence: 0 }).templates(templates).build()];
  for (let round = 0; round < rounds; round++) {
    for (const t of templates) {
      const recs = Array.from({ length: rng.int(1, 6) }, () => t.fields.map((f) => value(f, reg.get(f.pen ?? 0, f.id)?.type)));
      msgs.push(new IpfixMessageBuilder({ domainId: 7, exportTimeSec: 1_704_067_200 + round, sequence: round }).data(t, recs).build());
    }
  }
  // Lists, including nested ones, through the string fallback.
  const lt: EncTemplate = { id: 499, fields: [{ id: 291, length: VARLEN }, { id: 292, length: VARLEN }, { id: 8, length: 4 }] };
  const sub: EncTemplate = { id: 498, fields: [{ id: 82, length: VARLEN }, { id: 7, length: 2 }] };
  msgs.push(
    new IpfixMessageBuilder({ domainId: 7, exportTimeSec: 1_704_067_300, sequence: 99 })
      .templates([lt, sub])
      .data(lt, [
        [basicList(3, 82, VARLEN, [Buffer.from('eth"0'), Buffer.from('ünï\n')]), subTemplateList(1, 498, [Buffer.from([3, 0x61, 0x5c, 0x62, 0, 80])]), '10.0.0.1'],
        [basicList(1, 7, 2, [Buffer.from([0, 80]), Buffer.from([1, 187])]), subTemplateList(1, 498, []), '10.0.0.2'],
      ])
      .build(),
  );
  return msgs;
}

const SESSIONS: TransportSession[] = [
  makeSession('udp', '192.0.2.1', 50000, 4739),
  makeSession('udp', '2001:db8::1', 50002, 4739),
  makeSession('tcp', 'exporter "ü"\\\n', 1, 2),
];

// ---- tests --------------------------------------------------------------------------------------

test('json-bytes: digits of integers match String()', () => {
  const d = Buffer.alloc(32);
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const check = (v: number) => {
    const p = W.u(d, 3, v);
    assert.equal(d.toString('latin1', 3, p), String(v));
    // the DataView writer the compiled formatters use
    d.fill(0);
    const q = W.ud(d, dv, 5, v);
    assert.equal(d.toString('latin1', 5, q), String(v));
    assert.equal(d[q], 0, `ud(${v}) stored past its digits`);
  };
  for (let v = 0; v < 2000; v++) check(v);
  for (let e = 1; e <= 15; e++) for (const k of [-1, 0, 1]) check(10 ** e + k);
  for (const v of [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53 - 2, 4294967396, 9007199254740899]) check(v);
  const rng = new Prng(77);
  for (let i = 0; i < 100_000; i++) check(Math.floor(rng.float() * 2 ** (rng.int(1, 53))));
  for (let i = 0; i < 20_000; i++) check(rng.u32() * 2 ** 21 + rng.int(0, 2 ** 21 - 1));
});

test('format bytes: every data type, length and option combination (1024 formatters)', () => {
  const reg = IeRegistry.builtin();
  const d = new Differ(reg, allCombinations());
  const p = d.pipeline();
  for (const m of typeCoverageMessages(reg, new Prng(0xb17e5), 8)) p.handle(m, SESSIONS[2]!, NOW);
  d.assertClean('type coverage');
});

test('format bytes: every data type and length, more records, three exporters', () => {
  const reg = IeRegistry.builtin();
  const d = new Differ(reg, someCombinations());
  const msgs = typeCoverageMessages(reg, new Prng(0xb17e6), 60);
  for (const s of SESSIONS) {
    const p = d.pipeline();
    for (const m of msgs) p.handle(m, s, NOW);
  }
  d.assertClean('type coverage');
});

test('format bytes: encoder-generated IPFIX, NetFlow v9 and v5 messages', () => {
  const reg = IeRegistry.builtin();
  const d = new Differ(reg, someCombinations());
  for (const seed of [1, 2, 3]) {
    const g = generateMessages(reg, seed);
    for (const stream of [g.ipfix, g.netflow9, g.netflow5]) {
      const p = d.pipeline();
      for (const m of stream) p.handle(m, SESSIONS[seed % SESSIONS.length]!, NOW);
    }
  }
  d.assertClean('generated');
});

test('format bytes: captured corpora', (t) => {
  const reg = IeRegistry.builtin();
  const d = new Differ(reg, someCombinations());
  // The corpus test sequences in order (templates from earlier inputs), then the other captures.
  const streams: string[][] = existsSync(join(FIXTURES, 'corpora', 'inventory.json')) ? loadSequences().map((q) => q.inputs.map(corpusPath)) : [];
  if (existsSync(join(FIXTURES, 'pcap'))) for (const f of walk(join(FIXTURES, 'pcap'), [])) if (/\.(pcap|pcapng|cap)$/.test(f)) streams.push([f]);
  if (streams.length === 0) {
    t.skip('no corpora in this checkout');
    return;
  }
  for (const files of streams) {
    const p = d.pipeline();
    const sessions = new Map<string, TransportSession>();
    for (const file of files) {
      for (const g of datagramsOf(file)) {
        const key = `${g.src}|${g.sport}|${g.dport}`;
        let s = sessions.get(key);
        if (s === undefined) sessions.set(key, (s = makeSession('file', g.src, g.sport, g.dport)));
        p.handle(g.payload, s, g.ts);
      }
    }
    p.decoder.flush();
  }
  t.diagnostic(`${streams.length} sequences, ${d.records} records, ${d.lines} lines compared`);
  d.assertClean('corpora');
});

test('format bytes: mutated datagrams', (t) => {
  const reg = IeRegistry.builtin();
  const rng = new Prng(0xfa22);
  const g = generateMessages(reg, 11);
  const cover = typeCoverageMessages(reg, new Prng(5));
  const pool = [...g.ipfix, ...g.netflow9, ...g.netflow5, ...cover];
  for (const f of corpusFiles()) pool.push(...datagramsOf(f).map((x) => x.payload));
  const d = new Differ(reg, [{}, { ...FLIPPED }, { ...FLIPPED, numericNames: false, nonPrintableChar: true }]);
  const p = d.pipeline();
  const mutate = (buf: Buffer): Buffer => {
    const b = Buffer.from(buf);
    switch (rng.int(0, 4)) {
      case 0:
        for (let k = rng.int(1, 8); k > 0 && b.length > 0; k--) b[rng.int(0, b.length - 1)]! ^= 1 << rng.int(0, 7);
        return b;
      case 1:
        for (let k = rng.int(1, 4); k > 0 && b.length > 0; k--) b[rng.int(0, b.length - 1)] = rng.pick([0, 0xff, 0x22, 0x5c, 0x80, rng.int(0, 255)]);
        return b;
      case 2:
        if (b.length >= 2) b.writeUInt16BE(rng.pick([0, 1, 4, 8, 255, 256, 0x7fff, 0xffff]), rng.int(0, b.length - 2));
        return b;
      case 3:
        return b.subarray(0, rng.int(0, b.length));
      default: {
        const o = rng.pick(pool);
        return Buffer.concat([b.subarray(0, rng.int(0, b.length)), o.subarray(rng.int(0, o.length))]);
      }
    }
  };
  const N = 5000;
  for (let i = 0; i < N; i++) {
    // Replay the unmutated seeds now and then so templates are known when mutated data arrives.
    if (i % 500 === 0) for (const m of [...g.ipfix.slice(0, 3), ...g.netflow9.slice(0, 3), cover[0]!]) p.handle(m, SESSIONS[0]!, NOW);
    p.handle(mutate(rng.pick(pool)), SESSIONS[0]!, NOW + i);
  }
  t.diagnostic(`${N} datagrams, ${d.records} records, ${d.lines} lines compared`);
  d.assertClean('fuzz');
});

test('ByteOutput grows, views and takes', () => {
  const o = new ByteOutput(64);
  o.writeString('a'.repeat(100));
  o.writeString('ü');
  assert.equal(o.len, 102);
  assert.equal(o.view().toString(), 'a'.repeat(100) + 'ü');
  const t = o.take();
  assert.equal(o.len, 0);
  assert.equal(t.toString(), 'a'.repeat(100) + 'ü');
  assert.equal(t.byteOffset, 0);
  assert.equal(t.buffer.byteLength, t.length);
  o.writeString('xyz');
  assert.equal(t.toString(), 'a'.repeat(100) + 'ü', 'a taken buffer does not share memory');
  o.reset();
  assert.equal(o.view().length, 0);
});
