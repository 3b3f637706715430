/**
 * The byte formatter's two ways of running a layout, interpreted (cold layouts) and compiled (hot
 * ones), against each other and against the string formatter, over messages of every encoder and
 * option sets that reach every writer; and the layout cache's bounds: compiled layouts past the
 * bound go back to interpretation, layouts past theirs are forgotten, both counted, output unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteOutput } from '../../src/format/byte-output.js';
import { Ipfixcol2JsonFormatter, type FormatterLimits, type JsonFormatOptions } from '../../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../../src/pipeline/decode.js';
import { makeSession, type FlowBatch } from '../../src/wire/batch.js';
import { IpfixMessageBuilder, type EncTemplate } from '../../src/wire/encode/ipfix.js';
import { IeRegistry, protocolKeyword } from '../../src/wire/ie/registry.js';
import { generateMessages } from '../helpers/messages.js';

const NOW = 1_704_067_300_000;
const reg = IeRegistry.builtin();

const OPTION_SETS: Partial<JsonFormatOptions>[] = [
  {},
  { tcpFlags: 'raw', timestamp: 'unix', protocol: 'raw', ignoreUnknown: false, ignoreOptions: false, nonPrintableChar: false, octetArrayAsUint: false },
  { numericNames: true, detailedInfo: true, splitBiflow: true, ignoreOptions: false, ignoreUnknown: false },
];

const INTERPRETED: Partial<FormatterLimits> = { hotRecords: Number.POSITIVE_INFINITY };
const COMPILED: Partial<FormatterLimits> = { hotRecords: 0 };

/** Every batch of the generated messages (IPFIX, v9, v5), decoded once. */
function batches(seed: number): FlowBatch[] {
  const m = generateMessages(reg, seed, 6);
  const out: FlowBatch[] = [];
  const stage = new DecodeStage({ registry: reg, onBatch: (b) => out.push(b) });
  const feed = (list: readonly Buffer[], port: number) => {
    const s = makeSession('udp', '192.0.2.9', port, 4739);
    for (const d of list) stage.handle(d, s, NOW);
  };
  feed(m.ipfix, 1);
  feed(m.netflow9, 2);
  feed(m.netflow5, 3);
  return out;
}

function bytesOf(f: Ipfixcol2JsonFormatter, bs: readonly FlowBatch[]): Buffer {
  const out = new ByteOutput(64);
  for (const b of bs) f.formatBatchInto(b, out);
  return Buffer.from(out.view());
}

test('interpreted and compiled layouts write the same bytes as the string formatter', () => {
  const bs = batches(0x1a70);
  assert.ok(bs.length > 100, 'enough batches to cover the writers');
  for (const o of OPTION_SETS) {
    const text = Buffer.from(bs.map((b) => new Ipfixcol2JsonFormatter(o, protocolKeyword).formatBatch(b)).join(''), 'utf8');
    const interpreted = new Ipfixcol2JsonFormatter(o, protocolKeyword, INTERPRETED);
    const compiled = new Ipfixcol2JsonFormatter(o, protocolKeyword, COMPILED);
    const a = bytesOf(interpreted, bs);
    const c = bytesOf(compiled, bs);
    assert.ok(a.length > 10_000, 'something was written');
    assert.equal(interpreted.cacheStats.compiles, 0, 'the interpreted formatter compiled nothing');
    assert.ok(compiled.cacheStats.compiles > 0, 'the compiled formatter compiled its layouts');
    assert.ok(a.equals(text), `interpreted bytes differ from the text under ${JSON.stringify(o)}`);
    assert.ok(c.equals(text), `compiled bytes differ from the text under ${JSON.stringify(o)}`);
  }
});

test('formatFieldsInto: interpreted and compiled parts agree', () => {
  const bs = batches(0x9a27);
  const part = { id: 'odd', keep: (_f: unknown, k: number) => k % 2 === 1 };
  const outs = [INTERPRETED, COMPILED].map((limits) => {
    const f = new Ipfixcol2JsonFormatter({ ignoreUnknown: false, ignoreOptions: false }, protocolKeyword, limits);
    const out = new ByteOutput(64);
    for (const b of bs) for (let i = 0; i < b.count; i++) if (f.formatFieldsInto(b, i, part, out)) out.writeString('\n');
    return Buffer.from(out.view());
  });
  assert.ok(outs[0]!.length > 1000);
  assert.ok(outs[0]!.equals(outs[1]!));
  for (const line of outs[0]!.toString('utf8').split('\n')) if (line !== '') JSON.parse(line);
});

/** `n` templates of distinct shapes (one more field each), with `records` records in one data set each. */
function shapes(n: number, records: number): Buffer[] {
  const ts: EncTemplate[] = Array.from({ length: n }, (_, k) => ({ id: 256 + k, fields: [{ id: 8, length: 4 }, ...Array.from({ length: k + 1 }, () => ({ id: 2, length: 4 }))] }));
  const msgs = [new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_704_067_200, sequence: 0 }).templates(ts).build()];
  for (const t of ts) {
    const recs = Array.from({ length: records }, (_, r) => t.fields.map((_f, k) => (k === 0 ? `10.0.0.${r & 255}` : r * 7 + k)));
    msgs.push(new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_704_067_200, sequence: 0 }).data(t, recs).build());
  }
  return msgs;
}

function formatAll(f: Ipfixcol2JsonFormatter, msgs: readonly Buffer[], rounds: number): string {
  const out = new ByteOutput(64);
  const stage = new DecodeStage({ registry: reg, onBatch: (b) => f.formatBatchInto(b, out) });
  const s = makeSession('udp', '192.0.2.1', 1, 4739);
  for (let r = 0; r < rounds; r++) for (const m of r === 0 ? msgs : msgs.slice(1)) stage.handle(m, s, NOW);
  return out.view().toString('utf8');
}

test('at most compiledLayouts are compiled; the least recently used goes back to interpretation, counted', () => {
  const msgs = shapes(6, 40);
  const bounded = new Ipfixcol2JsonFormatter({}, protocolKeyword, { compiledLayouts: 2, hotRecords: 30 });
  const reference = new Ipfixcol2JsonFormatter({}, protocolKeyword, INTERPRETED);
  const got = formatAll(bounded, msgs, 3);
  assert.equal(got, formatAll(reference, msgs, 3));
  const st = bounded.cacheStats;
  assert.equal(st.layouts, 6);
  assert.ok(st.compiled <= 2, `compiled ${st.compiled}`);
  assert.ok(st.compiledEvictions >= 4, `evictions ${st.compiledEvictions}`);
  assert.equal(st.compiles, st.compiled + st.compiledEvictions);
});

test('cold layouts are never compiled: a template that sees little data costs no generated code', () => {
  const f = new Ipfixcol2JsonFormatter({}, protocolKeyword);
  formatAll(f, shapes(20, 5), 1);
  assert.deepEqual({ ...f.cacheStats }, { layouts: 20, compiled: 0, compiles: 0, compiledEvictions: 0, layoutEvictions: 0 });
});

test('layouts past their bound are forgotten and rebuilt when needed, counted, output unchanged', () => {
  const msgs = shapes(5, 3);
  const bounded = new Ipfixcol2JsonFormatter({}, protocolKeyword, { layouts: 2 });
  const got = formatAll(bounded, msgs, 2);
  assert.equal(got, formatAll(new Ipfixcol2JsonFormatter({}, protocolKeyword), msgs, 2));
  assert.ok(bounded.cacheStats.layouts <= 2);
  assert.ok(bounded.cacheStats.layoutEvictions >= 3);
});
