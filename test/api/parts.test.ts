/**
 * The API's small parts on their own: the answer cache (time, sharing, bounds, failures), the
 * query gate, the automatic series interval, the drill-down filters (each one parses, and means
 * the element it came from), and the page files (uPlot from node_modules, web/ as shipped).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerCache, type Answer } from '../../src/api/cache.js';
import { drillFilter } from '../../src/api/drill.js';
import { QueryGate } from '../../src/api/gate.js';
import { pageFiles } from '../../src/api/page.js';
import { ApiError, autoInterval, trafficParams } from '../../src/api/params.js';
import { parseFilter } from '../../src/query/filter-parse.js';
import { KEY_NAMES } from '../../src/query/keys.js';

const answer = (json: string): Answer => ({ json, durationMs: 1 });

test('the cache answers the same request within its time, shares one in flight, keeps no failure, stays bounded', async () => {
  let now = 1000;
  const c = new AnswerCache({ ttlMs: 5000, maxEntries: 3, now: () => now });
  let made = 0;
  const make = async () => answer(`{"n":${++made}}`);
  assert.deepEqual(await c.get('a', make), { json: '{"n":1}', durationMs: 1, cached: false, ageMs: 0 });
  now += 4000;
  assert.deepEqual(await c.get('a', make), { json: '{"n":1}', durationMs: 1, cached: true, ageMs: 4000 });
  now += 1001;
  assert.equal((await c.get('a', make)).json, '{"n":2}', 'older than the cache time: made again');

  // Two identical requests at once: one query.
  let release!: () => void;
  let runs = 0;
  const slow = () => {
    runs++;
    return new Promise<Answer>((r) => (release = () => r(answer('{"slow":1}'))));
  };
  const p1 = c.get('s', slow);
  const p2 = c.get('s', slow);
  release();
  const [r1, r2] = await Promise.all([p1, p2]);
  assert.equal(runs, 1);
  assert.deepEqual([r1.cached, r2.cached, r2.json], [false, true, '{"slow":1}']);

  await assert.rejects(c.get('f', async () => Promise.reject(new Error('boom'))), /boom/);
  assert.equal((await c.get('f', make)).cached, false, 'a failure is not kept');

  for (const k of ['x', 'y', 'z', 'w']) await c.get(k, make);
  assert.ok(c.size <= 3, `at most 3 entries, got ${c.size}`);

  const bySize = new AnswerCache({ ttlMs: 5000, maxChars: 25, now: () => now });
  await bySize.get('big1', async () => answer(`{"v":"${'x'.repeat(10)}"}`));
  await bySize.get('big2', async () => answer(`{"v":"${'y'.repeat(10)}"}`));
  assert.equal(bySize.size, 1, 'characters beyond the bound push the oldest answer out');
});

test('the gate runs a few queries at once, lines up the next ones and refuses past the line', async () => {
  const g = new QueryGate(1, 1);
  const order: string[] = [];
  let releaseA!: () => void;
  const a = g.run(() => new Promise<void>((r) => (releaseA = () => (order.push('a'), r()))));
  const b = g.run(async () => void order.push('b'));
  await assert.rejects(g.run(async () => undefined), (e: unknown) => e instanceof ApiError && e.status === 503 && /busy/.test(e.message));
  releaseA();
  await Promise.all([a, b]);
  assert.deepEqual(order, ['a', 'b']);
  assert.equal(await g.run(async () => 7), 7, 'free again');
});

test('the automatic interval: at most 200 points, in usual steps', () => {
  const min = 60_000;
  assert.equal(autoInterval(15 * min), 5000);
  assert.equal(autoInterval(60 * min), 30_000);
  assert.equal(autoInterval(6 * 60 * min), 5 * min);
  assert.equal(autoInterval(24 * 60 * min), 10 * min);
  assert.equal(autoInterval(7 * 24 * 60 * min), 60 * min);
  for (let span = 1000; span < 400 * 86_400_000; span *= 1.7) assert.ok(span / autoInterval(span) <= 200 || autoInterval(span) === 7 * 86_400_000, String(span));
});

test('every drill-down filter parses and tests the element it came from', () => {
  const samples: Record<string, string | number> = { proto: 6, srcip: '10.0.0.1', dstip: '2001:db8::1', ip: '192.0.2.7', exporter: '192.0.2.1', srcnet: '10.0.0.0/24', dstnet: '2001:db8::/48' };
  for (const key of KEY_NAMES) {
    const v = samples[key] ?? 443;
    const f = drillFilter(key, v);
    assert.ok(f !== null);
    const node = parseFilter(f);
    const text = JSON.stringify(node);
    const column = { srcip: 'src_addr', dstip: 'dst_addr', srcport: 'src_port', dstport: 'dst_port', proto: 'proto', srcas: 'src_as', dstas: 'dst_as', inif: 'in_if', outif: 'out_if', exporter: 'exporter', srcnet: 'src_addr', dstnet: 'dst_addr' }[key as string];
    if (column !== undefined) assert.match(text, new RegExp(`"columns":\\["${column}"\\]`), `${key}: ${f} -> ${text}`);
  }
  assert.equal(drillFilter('srcas', null), null, 'no filter for flows without the element');
  // One-sided elements test one column; both-sided ones either.
  assert.match(JSON.stringify(parseFilter(drillFilter('port', 53)!)), /"columns":\["src_port","dst_port"\]/);
});

test('parameters: defaults, and the interval read by the query module', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const p = trafficParams(new URLSearchParams(''), now, true);
  assert.deepEqual(p, { filter: '', dim: 'srcip', unit: 'bps', top: 10 });
  const w = trafficParams(new URLSearchParams('t=-1h&dim=proto&unit=flows&top=5&interval=5m'), now, true);
  assert.deepEqual(w, { filter: '', t: '-1h', window: { fromMs: now - 3_600_000, toMs: now }, dim: 'proto', unit: 'flows', top: 5, intervalMs: 300_000 });
});

test('the page files: web/ as shipped, uPlot from node_modules, / is index.html', () => {
  const files = pageFiles();
  for (const p of ['/', '/index.html', '/app.js', '/style.css', '/state.js', '/vendor/uplot.js', '/vendor/uplot.css']) assert.ok(files.has(p), p);
  assert.match(files.get('/vendor/uplot.js')!, /node_modules\/uplot\/dist\/uPlot\.esm\.js$/);
  assert.equal(files.get('/'), files.get('/index.html'));
});
