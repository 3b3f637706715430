import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TemplateState } from '../../src/collect/template-state.js';
import type { Log } from '../../src/model/contracts.js';
import { makeSession } from '../../src/wire/batch.js';
import { FlowDecoder } from '../../src/wire/decoder.js';
import { IpfixMessageBuilder, type EncTemplate } from '../../src/wire/encode/ipfix.js';
import { IeRegistry } from '../../src/wire/ie/registry.js';
import { TemplateStore, type TemplateSnapshot } from '../../src/wire/template-store.js';

const registry = IeRegistry.builtin();
const T0 = Date.now();
const session = makeSession('udp', '192.0.2.1', 4444, 4739);
const t256: EncTemplate = { id: 256, fields: [{ id: 8, length: 4 }, { id: 2, length: 4 }] };

/** A log that keeps what it was given. */
function memoryLog(): Log & { warnings: { obj: Record<string, unknown>; msg?: string }[] } {
  const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
  const none = () => undefined;
  return { warnings, debug: none, info: none, error: none, warn: (obj, msg) => void warnings.push({ obj: obj as Record<string, unknown>, msg }) };
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-tstate-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Polls `cond` every 10 ms, at most `limit` times. */
async function until(cond: () => boolean, limit = 300): Promise<void> {
  for (let i = 0; i < limit && !cond(); i++) await sleep(10);
  assert.ok(cond(), 'condition not reached in time');
}

function storeWithTemplate(): TemplateStore {
  const d = new FlowDecoder({ registry }, { batch: () => undefined, drop: () => undefined });
  d.decode(new IpfixMessageBuilder({ domainId: 1, exportTimeSec: Math.floor(T0 / 1000), sequence: 0 }).templates([t256]).build(), session, T0);
  return d.store;
}

test(
  'changes are written once per debounce window, atomically, and load back into a new store',
  withDir(async (dir) => {
    const store = storeWithTemplate();
    let takes = 0;
    const log = memoryLog();
    const state = new TemplateState({ dir: join(dir, 'state'), take: () => (takes++, store.snapshot(Date.now())), log, debounceMs: 30 });
    await state.start();
    for (let i = 0; i < 20; i++) state.changed();
    await until(() => state.counters.writes === 1);
    await sleep(60);
    assert.equal(state.counters.writes, 1, 'twenty changes in one window: one write');
    assert.equal(takes, 1);
    assert.deepEqual(readdirSync(join(dir, 'state')), ['templates.json'], 'no temporary file left behind');
    await state.stop();
    assert.equal(state.counters.writes, 2, 'stop writes a last time');
    assert.deepEqual(log.warnings, []);

    const again = new TemplateState({ dir: join(dir, 'state'), take: () => new TemplateStore().snapshot(0), log });
    const snap = await again.load();
    assert.ok(snap !== undefined);
    const fresh = new TemplateStore();
    const r = fresh.restore(snap, registry, Date.now());
    assert.equal(r.templates, 1);
    assert.equal(fresh.session(session, Date.now()).domain(1).templates.get(256)!.template.fields.length, 2);
  }),
);

test(
  'a periodic write keeps refreshed last-seen times without being told',
  withDir(async (dir) => {
    let n = 0;
    const state = new TemplateState({ dir, take: () => ({ format: 'sluice.templates', version: 1, takenMs: ++n, sessions: [] }) as TemplateSnapshot, log: memoryLog(), refreshMs: 20 });
    await state.start();
    await until(() => state.counters.writes >= 2);
    await state.stop();
    const written = JSON.parse(readFileSync(join(dir, 'templates.json'), 'utf8')) as TemplateSnapshot;
    assert.equal(written.takenMs, n);
    const after = state.counters.writes;
    await sleep(50);
    assert.equal(state.counters.writes, after, 'nothing after stop');
  }),
);

test(
  'no file: nothing to load, nothing logged',
  withDir(async (dir) => {
    const log = memoryLog();
    const state = new TemplateState({ dir, take: () => new TemplateStore().snapshot(0), log });
    assert.equal(await state.load(), undefined);
    assert.deepEqual(log.warnings, []);
    assert.equal(state.counters.loadErrors, 0);
  }),
);

test(
  'a corrupt or foreign file is logged with where it is wrong and ignored',
  withDir(async (dir) => {
    const cases: [string, RegExp][] = [
      ['{"format":"sluice.templates","version":1,"takenMs":0,"sessions":[', /JSON|position|end/i],
      ['{"format":"pmacct","version":1}', /\$\.format/],
      [JSON.stringify({ format: 'sluice.templates', version: 1, takenMs: 0, sessions: [{ transport: 'udp', address: 'x', port: 1, localPort: 2, seenMs: 0, domains: [{ id: -1 }] }] }), /\$\.sessions\[0\]\.domains\[0\]\.id/],
      ['\u0000\u0001binary', /JSON|token/i],
    ];
    for (const [text, why] of cases) {
      writeFileSync(join(dir, 'templates.json'), text);
      const log = memoryLog();
      const state = new TemplateState({ dir, take: () => new TemplateStore().snapshot(0), log });
      assert.equal(await state.load(), undefined);
      assert.equal(state.counters.loadErrors, 1);
      assert.equal(log.warnings.length, 1);
      assert.match(String(log.warnings[0]!.obj.err), why);
    }
  }),
);

test(
  'a failed write is counted, logged, never thrown, and leaves the previous file in place',
  withDir(async (dir) => {
    const store = storeWithTemplate();
    const log = memoryLog();
    let fail = false;
    const state = new TemplateState({
      dir,
      take: () => {
        if (fail) throw new Error('worker did not answer');
        return store.snapshot(Date.now());
      },
      log,
    });
    await state.write();
    const before = readFileSync(join(dir, 'templates.json'), 'utf8');
    fail = true;
    await state.write();
    assert.equal(state.counters.writeErrors, 1);
    assert.equal(readFileSync(join(dir, 'templates.json'), 'utf8'), before);
    assert.match(String(log.warnings[0]!.obj.err), /worker did not answer/);
    // A directory that cannot be made (a file is in the way) fails the same way.
    writeFileSync(join(dir, 'blocker'), '');
    const blocked = new TemplateState({ dir: join(dir, 'blocker', 'sub'), take: () => store.snapshot(Date.now()), log: memoryLog() });
    await blocked.stop();
    assert.equal(blocked.counters.writeErrors, 1);
    assert.equal(existsSync(join(dir, 'blocker', 'sub')), false);
  }),
);
