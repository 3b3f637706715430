/**
 * What a template costs the decoder: field specifiers shared between templates, templates past the
 * store's bounds refused before they are built and counted, one drop event per template set.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { DecodeStage } from '../../src/pipeline/decode.js';
import { makeSession } from '../../src/wire/batch.js';
import { IpfixMessageBuilder, Netflow9PacketBuilder, type EncTemplate } from '../../src/wire/encode/ipfix.js';
import { IeRegistry } from '../../src/wire/ie/registry.js';
import type { DropEvent } from '../../src/wire/stats.js';
import { makeTemplate } from '../../src/wire/template.js';
import { TemplateStore } from '../../src/wire/template-store.js';

const reg = IeRegistry.builtin();
const hdr = { domainId: 1, exportTimeSec: 1_704_067_200, sequence: 0 };

function stage(limits = {}): { s: DecodeStage; drops: DropEvent[] } {
  const drops: DropEvent[] = [];
  return { s: new DecodeStage({ registry: reg, limits, onBatch: () => {}, onDrop: (ev) => drops.push(ev) }), drops };
}

test('templates of the same fields share their field specifiers, across sessions and protocols', () => {
  const { s } = stage();
  const t: EncTemplate = { id: 300, fields: [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 1, length: 8 }] };
  const a = makeSession('udp', '192.0.2.1', 1, 4739);
  const b = makeSession('udp', '192.0.2.2', 1, 4739);
  s.handle(new IpfixMessageBuilder(hdr).templates([t]).build(), a, 0);
  s.handle(new IpfixMessageBuilder(hdr).templates([{ ...t, id: 301 }]).build(), b, 0);
  s.handle(new Netflow9PacketBuilder({ sourceId: 1, unixSecs: 1, sysUpTimeMs: 1, sequence: 0 }).templates([{ ...t, id: 302 }]).build(), b, 0);
  const store = s.decoder.store;
  const get = (sess: typeof a, id: number, v9 = false) => {
    const st = store.session(sess, 0);
    return store.lookup(st, st.domain(v9 ? 1 : 1), id, 0);
  };
  const ta = get(a, 300);
  const tb = get(b, 301);
  const tc = get(b, 302, true);
  assert.ok(typeof ta === 'object' && typeof tb === 'object' && typeof tc === 'object');
  assert.notEqual(ta, tb);
  for (let k = 0; k < 3; k++) {
    assert.equal(ta.fields[k], tb.fields[k], `field ${k} shared between sessions`);
    assert.equal(ta.fields[k], tc.fields[k], `field ${k} shared between IPFIX and v9`);
  }
  assert.equal(ta.signature, tb.signature);
});

test('a session at its template bound: new ids refused and counted, one drop event per set; known ids still redefinable', () => {
  const { s, drops } = stage({ maxTemplatesPerSession: 4 });
  const sess = makeSession('udp', '192.0.2.1', 1, 4739);
  const many: EncTemplate[] = Array.from({ length: 10 }, (_, i) => ({ id: 256 + i, fields: [{ id: 8, length: 4 }, { id: 2, length: 4 + (i % 2) * 4 }] }));
  s.handle(new IpfixMessageBuilder(hdr).templates(many).build(), sess, 0);
  assert.equal(s.decoder.store.templateCount, 4);
  const limit = drops.filter((d) => d.reason === 'template-limit');
  assert.equal(limit.length, 1, 'one event for the set');
  assert.equal(limit[0]!.count, 6);
  assert.equal(limit[0]!.unit, 'template');
  assert.equal(limit[0]!.offset, 16 + 4 + 4 * (4 + 8), 'offset of the first refused template');
  assert.equal(s.counters.drops.byReason.get('template-limit'), 6);
  // A redefinition of a known id is not a new template: it is taken.
  const redefined: EncTemplate = { id: 257, fields: [{ id: 12, length: 4 }] };
  s.handle(new IpfixMessageBuilder(hdr).templates([redefined]).build(), sess, 0);
  const st = s.decoder.store.session(sess, 0);
  const t = s.decoder.store.lookup(st, st.domain(1), 257, 0);
  assert.ok(typeof t === 'object' && t.fields[0]!.id === 12);
  assert.equal(s.counters.drops.byReason.get('template-limit'), 6);
});

test('a flood over the id space stays within the bound, every refusal counted', () => {
  const { s } = stage({ maxTemplatesPerSession: 512 });
  const sess = makeSession('udp', '192.0.2.1', 1, 4739);
  let sent = 0;
  for (let m = 0; m < 250; m++) {
    const ts: EncTemplate[] = Array.from({ length: 16 }, (_, i) => {
      const n = m * 16 + i;
      return { id: 256 + (n % 3000), fields: [{ id: 8, length: 4 }, { id: 1, length: 1 + (n % 8) }, { id: 7, length: 2 }] };
    });
    sent += ts.length;
    s.handle(new IpfixMessageBuilder(hdr).templates(ts).build(), sess, 0);
  }
  const store = s.decoder.store;
  assert.equal(store.templateCount, 512);
  // Each definition was taken (new, replaced or refreshed) or refused and counted.
  const refused = s.counters.drops.byReason.get('template-limit') ?? 0;
  assert.ok(refused > 0);
  assert.ok(refused <= sent - 512);
});

test('TemplateStore.canAdd: a known id always, a new one while both bounds have room', () => {
  const store = new TemplateStore({ maxTemplatesPerSession: 2, maxTemplatesTotal: 3 });
  const a = store.session(makeSession('udp', '192.0.2.1', 1, 1), 0);
  const b = store.session(makeSession('udp', '192.0.2.2', 1, 1), 0);
  const da = a.domain(0);
  const db = b.domain(0);
  const t = (id: number) => makeTemplate(id, 'ipfix', [{ id: 8, pen: 0, length: 4, ie: reg.get(0, 8) }], 0);
  assert.ok(store.canAdd(a, da, 256));
  store.add(a, da, t(256), 0);
  store.add(a, da, t(257), 0);
  assert.equal(store.canAdd(a, da, 258), false, 'session full');
  assert.equal(store.canAdd(a, da, 257), true, 'known id');
  store.add(b, db, t(256), 0);
  assert.equal(store.canAdd(b, db, 257), false, 'total full');
  assert.equal(store.add(b, db, t(257), 0), 'limit');
});

test('flow plans of 400 different template shapes share one hidden class; used is indexed by field', async () => {
  const script = fileURLToPath(new URL('../helpers/flow-plan-maps.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '0', 'plans whose V8 map differs from the first one');
  const { flowPlan } = await import('../../src/model/flow-plan.js');
  const f = (id: number, length: number) => ({ id, pen: 0, length, ie: reg.get(0, id) });
  const p = flowPlan(makeTemplate(500, 'ipfix', [f(8, 4), f(12, 4), f(152, 8), f(2, 8)], 0));
  assert.deepEqual(p.used, [true, true, true, true]);
});

test('a JSON byte layout keeps its ops, field lengths and literal bytes in one buffer', async () => {
  const { LayoutBuilder } = await import('../../src/format/byte-layout.js');
  const lb = new LayoutBuilder(true, Int32Array.of(4, 4), 0);
  lb.lit('{"a":');
  lb.header(3);
  const L = lb.finish('}');
  assert.equal(L.ops.buffer, L.lits.buffer);
  assert.equal(L.fieldLens.buffer, L.lits.buffer);
  assert.deepEqual([...L.fieldLens], [4, 4]);
  assert.equal(Buffer.from(L.lits).toString(), '{"a":}');
});
