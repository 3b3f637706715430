import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeSession } from '../../src/wire/batch.js';
import { FlowDecoder } from '../../src/wire/decoder.js';
import { IpfixMessageBuilder, Netflow9PacketBuilder, type EncTemplate } from '../../src/wire/encode/ipfix.js';
import { splitDatagrams } from '../../src/wire/framing.js';
import { IeRegistry } from '../../src/wire/ie/registry.js';
import { VARLEN } from '../../src/wire/template.js';
import { mergeSnapshots, parseTemplateSnapshot, TemplateSnapshotError, TemplateStore, type TemplateSnapshot } from '../../src/wire/template-store.js';
import { loadSequences, readCorpusFile } from '../conformance/corpus.js';
import { Harness } from '../helpers/harness.js';

const registry = IeRegistry.builtin();
const T0 = 1_700_000_000_000;
const MIN = 60_000;
const udp = makeSession('udp', '192.0.2.1', 4444, 4739);
const tcp = makeSession('tcp', '192.0.2.2', 5555, 4739);

const flowT: EncTemplate = { id: 256, fields: [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 2, length: 4 }, { id: 82, length: VARLEN }, { id: 1, pen: 29305, length: 8 }] };
const flowT2: EncTemplate = { id: 257, fields: [{ id: 27, length: 16 }, { id: 1, length: 8 }] };
const samplerT: EncTemplate = { id: 258, scopeCount: 1, fields: [{ id: 149, length: 4 }, { id: 160, length: 8 }, { id: 302, length: 4 }, { id: 305, length: 4 }, { id: 306, length: 4 }] };
const v9T: EncTemplate = { id: 300, fields: [{ id: 8, length: 4 }, { id: 2, length: 4 }, { id: 48, length: 1 }] };
const v9OptT: EncTemplate = { id: 301, scopeCount: 1, fields: [{ id: 1, length: 4 }, { id: 48, length: 1 }, { id: 49, length: 1 }, { id: 50, length: 4 }] };

const ipfixTemplates = (domainId: number) =>
  new IpfixMessageBuilder({ domainId, exportTimeSec: T0 / 1000, sequence: 0 }).templates([flowT, flowT2, samplerT]).data(samplerT, [[1, BigInt(T0 - 3_600_000), 5, 1, 99]]).build();
const ipfixData = (domainId: number) =>
  new IpfixMessageBuilder({ domainId, exportTimeSec: T0 / 1000, sequence: 1 })
    .data(flowT, [
      ['10.0.0.1', '10.0.0.2', 3, 'eth0', 300n],
      ['10.0.0.3', '10.0.0.4', 4, 'ge-0/0/1', 400n],
    ])
    .data(flowT2, [['2001:db8::1', 999n]])
    .build();
const v9Templates = (sourceId: number) =>
  new Netflow9PacketBuilder({ sourceId, unixSecs: T0 / 1000, sysUpTimeMs: 5000, sequence: 0 }).templates([v9T, v9OptT]).data(v9OptT, [[0, 3, 2, 512]]).build();

/** A decoder that keeps nothing but its store (and counts records and drops). */
function decoder(limits = {}) {
  const seen = { records: 0, drops: [] as string[] };
  const d = new FlowDecoder({ registry, limits }, { batch: (b) => void (seen.records += b.template.isOptions ? 0 : b.count), drop: (ev) => void seen.drops.push(ev.reason) });
  return { d, store: d.store, seen };
}

/** A snapshot as it comes back from a file. */
const viaJson = (s: TemplateSnapshot): unknown => JSON.parse(JSON.stringify(s));

test('snapshot/restore round trip: templates, enterprise and variable-length fields, options facts', () => {
  const a = decoder();
  a.d.decode(ipfixTemplates(7), udp, T0);
  a.d.decode(v9Templates(3), udp, T0);
  const snap = a.store.snapshot(T0 + MIN);
  assert.equal(snap.format, 'sluice.templates');
  assert.equal(snap.sessions.length, 1);
  const b = decoder();
  const r = b.store.restore(viaJson(snap), registry, T0 + 2 * MIN);
  assert.deepEqual(r, { sessions: 1, templates: 5, facts: 2, expired: 0, kept: 0, refused: 0 });
  assert.equal(b.store.templateCount, 5);
  const stA = a.store.session(udp, T0 + 2 * MIN);
  const stB = b.store.session(udp, T0 + 2 * MIN);
  for (const [domainId, ids] of [
    [7, [256, 257, 258]],
    [3, [300, 301]],
  ] as const) {
    const da = stA.domain(domainId);
    const db = stB.domain(domainId);
    for (const id of ids) {
      const ta = da.templates.get(id)!.template;
      const tb = db.templates.get(id)!.template;
      assert.equal(tb.signature, ta.signature, `template ${id}`);
      assert.equal(tb.isOptions, ta.isOptions);
      assert.equal(tb.origin, ta.origin);
      assert.deepEqual(tb.fields.map((f) => f.ie?.name), ta.fields.map((f) => f.ie?.name), 'elements re-resolved against the registry');
      assert.equal(db.templates.get(id)!.lastSeenMs, T0, 'last seen kept');
    }
    assert.equal(db.systemInitTimeMs, da.systemInitTimeMs);
    assert.equal(db.samplingInterval, da.samplingInterval);
    assert.equal(db.samplingAlgorithm, da.samplingAlgorithm);
    assert.deepEqual([...db.samplers], [...da.samplers]);
    assert.equal(db.optionsSeenMs, T0);
  }
  assert.equal(stB.domain(7).samplingInterval, 100, '305 = 1 with 306 = 99: 1 in 100');
  assert.equal(stB.domain(7).systemInitTimeMs, T0 - 3_600_000);
  assert.deepEqual([...stB.domain(3).samplers], [[3, 512]]);
});

test('options values a malformed record left (a zero-length samplingAlgorithm) still make a valid snapshot', () => {
  const a = decoder();
  const t: EncTemplate = { id: 260, scopeCount: 1, fields: [{ id: 149, length: 4 }, { id: 35, length: 0 }, { id: 34, length: 4 }] };
  a.d.decode(new IpfixMessageBuilder({ domainId: 4, exportTimeSec: T0 / 1000, sequence: 0 }).templates([t]).data(t, [[1, Buffer.alloc(0), 100]]).build(), udp, T0);
  assert.ok(Number.isNaN(a.store.session(udp, T0).domain(4).samplingAlgorithm));
  const snap = viaJson(a.store.snapshot(T0));
  const b = new TemplateStore();
  const r = b.restore(snap, registry, T0);
  assert.equal(r.facts, 1);
  assert.equal(b.session(udp, T0).domain(4).samplingInterval, 100);
  assert.equal(b.session(udp, T0).domain(4).samplingAlgorithm, 0);
});

test('ages are kept: the UDP lifetime counts through the downtime, expired templates stay out', () => {
  const a = decoder();
  a.d.decode(ipfixTemplates(1), udp, T0);
  // Only flowT2 is refreshed 20 minutes later.
  a.d.decode(new IpfixMessageBuilder({ domainId: 1, exportTimeSec: T0 / 1000, sequence: 0 }).templates([flowT2]).build(), udp, T0 + 20 * MIN);
  const snap = viaJson(a.store.snapshot(T0 + 25 * MIN));
  // Restart at T0 + 35 min: flowT, samplerT and the options facts are 35 minutes old (> 30), flowT2 is 15.
  const b = decoder();
  const r = b.store.restore(snap, registry, T0 + 35 * MIN);
  assert.deepEqual(r, { sessions: 1, templates: 1, facts: 0, expired: 3, kept: 0, refused: 0 });
  const d = b.store.session(udp, T0 + 35 * MIN).domain(1);
  assert.deepEqual([...d.templates.keys()], [257]);
  assert.equal(d.samplingInterval, 0);
  // ... and it expires when it would have without the restart: 30 minutes after T0 + 20 min.
  assert.equal(b.store.expireTemplates(T0 + 50 * MIN), 0);
  assert.equal(b.store.expireTemplates(T0 + 50 * MIN + 1), 1);
  // A snapshot taken after a template's lifetime leaves it out already.
  const late = a.store.snapshot(T0 + 31 * MIN);
  assert.deepEqual(late.sessions[0]!.domains[0]!.templates.map((t) => t.id), [257]);
});

test('TCP sessions are not kept; UDP and file sessions are', () => {
  const a = decoder();
  a.d.decode(ipfixTemplates(1), tcp, T0);
  a.d.decode(ipfixTemplates(1), udp, T0);
  const file = makeSession('file', '0.0.0.0', 0);
  a.d.decode(ipfixTemplates(2), file, T0);
  const snap = a.store.snapshot(T0);
  assert.deepEqual(snap.sessions.map((s) => s.transport).sort(), ['file', 'udp']);
});

test('restart: templates decoded by one decoder, restored into a new one, data only: every record decoded', () => {
  const a = decoder();
  a.d.decode(ipfixTemplates(7), udp, T0);
  a.d.decode(v9Templates(3), udp, T0);
  const snap = viaJson(a.store.snapshot(T0 + MIN));
  const cold = decoder();
  cold.d.decode(ipfixData(7), udp, T0 + 2 * MIN);
  cold.d.flush();
  assert.equal(cold.seen.records, 0, 'without the snapshot nothing decodes');
  assert.ok(cold.seen.drops.includes('missing-template'));
  const b = decoder();
  b.store.restore(snap, registry, T0 + 2 * MIN);
  b.d.decode(ipfixData(7), udp, T0 + 2 * MIN);
  b.d.decode(new Netflow9PacketBuilder({ sourceId: 3, unixSecs: T0 / 1000, sysUpTimeMs: 9000, sequence: 1 }).data(v9T, [['10.1.1.1', 5, 3]]).build(), udp, T0 + 2 * MIN);
  b.d.flush();
  assert.equal(b.seen.records, 4);
  assert.deepEqual(b.seen.drops, []);
});

test('restart over the corpus: every multi-file sequence decodes its last file the same after a snapshot/restore', () => {
  const seqs = loadSequences().filter((s) => s.inputs.length > 1 && s.inputs.every((f) => !f.endsWith('.pcap') && !f.endsWith('.pcapng')));
  assert.ok(seqs.length >= 20, `${seqs.length} sequences`);
  const session = makeSession('udp', '198.51.100.9', 2055, 2055);
  const feed = (h: Harness, file: string, nowMs: number) => {
    for (const d of splitDatagrams(readCorpusFile(file))) h.feed(d, nowMs, session);
  };
  let compared = 0;
  for (const seq of seqs) {
    const head = seq.inputs.slice(0, -1);
    const last = seq.inputs[seq.inputs.length - 1]!;
    // The reference: one decoder that never stopped.
    const ref = new Harness();
    for (const f of head) feed(ref, f, T0);
    const before = ref.records.length;
    const dropsBefore = ref.drops.length;
    feed(ref, last, T0 + MIN);
    const expected = ref.records.slice(before);
    // A decoder that saw the head, a snapshot through JSON, and a new decoder that sees the last file only.
    const a = new Harness();
    for (const f of head) feed(a, f, T0);
    const b = new Harness();
    b.pipeline.decoder.store.restore(viaJson(a.pipeline.decoder.store.snapshot(T0)), b.registry, T0 + MIN);
    feed(b, last, T0 + MIN);
    assert.deepEqual(b.records, expected, seq.id);
    assert.deepEqual(b.dropReasons(), ref.drops.slice(dropsBefore).map((d) => d.reason), seq.id);
    compared += expected.length;
  }
  assert.ok(compared > 100, `${compared} records compared`);
});

test('what the live store has wins over the snapshot', () => {
  const a = decoder();
  a.d.decode(ipfixTemplates(1), udp, T0);
  const snap = viaJson(a.store.snapshot(T0));
  const b = decoder();
  const other: EncTemplate = { id: 256, fields: [{ id: 7, length: 2 }] };
  b.d.decode(new IpfixMessageBuilder({ domainId: 1, exportTimeSec: T0 / 1000, sequence: 0 }).templates([other]).build(), udp, T0 + 1000);
  const r = b.store.restore(snap, registry, T0 + 2000);
  assert.equal(r.kept, 1);
  assert.equal(r.templates, 2);
  assert.equal(b.store.session(udp, T0 + 2000).domain(1).templates.get(256)!.template.fields.length, 1);
});

test('the store bounds apply to restored templates', () => {
  const a = decoder();
  a.d.decode(ipfixTemplates(1), udp, T0);
  const b = decoder({ maxTemplatesPerSession: 2 });
  const r = b.store.restore(viaJson(a.store.snapshot(T0)), registry, T0);
  assert.equal(r.templates, 2);
  assert.equal(r.refused, 1);
  assert.equal(b.store.templateCount, 2);
});

test('accept picks sessions; mergeSnapshots joins per-worker snapshots', () => {
  const other = makeSession('udp', '192.0.2.50', 4444, 4739);
  const w1 = decoder();
  w1.d.decode(ipfixTemplates(1), udp, T0);
  const w2 = decoder();
  w2.d.decode(v9Templates(1), other, T0 + 1000);
  const merged = mergeSnapshots([w1.store.snapshot(T0 + 5000), w2.store.snapshot(T0 + 6000)]);
  assert.equal(merged.takenMs, T0 + 6000);
  assert.equal(merged.sessions.length, 2);
  const b = new TemplateStore();
  const r = b.restore(viaJson(merged), registry, T0 + 7000, (s) => s.address === '192.0.2.50');
  assert.equal(r.sessions, 1);
  assert.equal(b.templateCount, 2);
  assert.equal(b.sessionCount, 1);
});

test('a corrupt or foreign snapshot is refused with the place that is wrong, and nothing changes', () => {
  const a = decoder();
  a.d.decode(ipfixTemplates(1), udp, T0);
  const good = viaJson(a.store.snapshot(T0)) as { sessions: { domains: { templates: { fields: unknown[]; id: unknown }[] }[] }[] };
  const cases: [unknown, string][] = [
    [null, '$.format'],
    [{ format: 'something-else' }, '$.format'],
    [{ format: 'sluice.templates', version: 2 }, '$.version'],
    [{ format: 'sluice.templates', version: 1, takenMs: 0, sessions: {} }, '$.sessions'],
  ];
  const badFields = structuredClone(good);
  badFields.sessions[0]!.domains[0]!.templates[1]!.fields.push(1);
  cases.push([badFields, '$.sessions[0].domains[0].templates[1].fields']);
  const badId = structuredClone(good);
  badId.sessions[0]!.domains[0]!.templates[0]!.id = 17;
  cases.push([badId, '$.sessions[0].domains[0].templates[0].id']);
  for (const [value, path] of cases) {
    assert.throws(() => parseTemplateSnapshot(value), (e: unknown) => e instanceof TemplateSnapshotError && e.path === path, path);
    const b = new TemplateStore();
    assert.throws(() => b.restore(value, registry, T0), TemplateSnapshotError);
    assert.equal(b.sessionCount, 0);
  }
});
