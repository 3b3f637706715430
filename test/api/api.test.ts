/**
 * The API against `sluice query` on a store imported from known captures (NetFlow v5, v9 and
 * IPFIX): totals, top N, series and raw flows answer what the CLI answers; a drill-down filter
 * selects exactly its row's flows; bad parameters are 400 with the column; answers carry their
 * query's duration and are cached briefly; a query over the time limit is stopped and says so.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { writeExporterRows } from '../../src/model/exporter-file.js';
import type { ExporterRow } from '../../src/model/exporter-rows.js';
import { StoreWriter } from '../../src/store/writer.js';
import { syntheticFlowBlocks } from '../store/helpers/synthetic.js';
import { V5_FROM_MS, V5_TO_MS, V5_WINDOW, captureStore, cliCsv, cliJson, getJson, startApi, startTestApi, tempDir, type TestApi } from './helpers.js';

type Obj = Record<string, unknown>;

let dir: string;
let store: string;
let api: TestApi;

// One store and one server for the file: the captures take a few seconds to import.
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-api-'));
  store = await captureStore(dir);
  api = await startApi(store);
});
after(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const q = (path: string, params: Record<string, string | number> = {}) => `${api.url}/api/v1/${path}?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString()}`;

/** The API's row without what it adds to the CLI's (value, label, filter, share). */
function cliShape(row: Obj): Obj {
  const { value: _v, label: _l, filter: _f, share: _s, ...rest } = row;
  return rest;
}

test('totals equal sluice query --totals, with a filter and a window', async () => {
  for (const [filter, t] of [['', ''], ['proto udp', ''], ['proto tcp and not port 443', V5_WINDOW], ['exporter 192.168.1.1', '']]) {
    const a = await getJson(q('totals', { filter, t }));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const cli = await cliJson(store, [...(t === '' ? [] : ['-t', t]), '--totals', ...(filter === '' ? [] : [filter])]);
    assert.deepEqual(a.body.totals, cli, `filter "${filter}" t "${t}"`);
  }
  const all = (await getJson(q('totals'))).body.totals as Obj;
  assert.equal(all.flows, 60 + 10 + 29, 'every flow of the three captures');
});

test('top N equals sluice query -s DIM/ORDER -n N for each dimension and unit', async () => {
  const cases: Array<[string, string, string]> = [
    ['srcip', 'bps', 'bytes'],
    ['dstip', 'pps', 'packets'],
    ['dstport', 'flows', 'flows'],
    ['proto', 'bps', 'bytes'],
    ['exporter', 'flows', 'flows'],
    ['inif', 'pps', 'packets'],
  ];
  for (const [dim, unit, order] of cases) {
    const a = await getJson(q('top', { dim, unit, top: 5 }));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const cli = (await cliJson(store, ['-s', `${dim}/${order}`, '-n', '5'])) as Obj[];
    const rows = a.body.rows as Obj[];
    assert.deepEqual(rows.map(cliShape), cli, `${dim}/${order}`);
    assert.equal(a.body.order, order);
    const totals = a.body.totals as Obj;
    for (const r of rows) {
      assert.equal(r.value, r[dim]);
      assert.equal(r.share, (r[order] as number) / (totals[order] as number));
    }
  }
  // The v5 capture's top talker by bytes: the collector host itself (127.0.0.1 exporting to itself).
  const v5 = await getJson(q('top', { t: V5_WINDOW, dim: 'srcip', unit: 'bps', top: 3 }));
  const first = (v5.body.rows as Obj[])[0]!;
  assert.equal(first.value, '127.0.0.1');
  assert.equal(first.bytes, 3_028_938);
  assert.ok((first.share as number) > 0.95);
});

test('a drill-down filter selects exactly the flows of its row', async () => {
  for (const dim of ['srcip', 'dstip', 'srcport', 'dstport', 'proto', 'exporter', 'inif', 'outif', 'srcas']) {
    const top = await getJson(q('top', { t: V5_WINDOW, dim, unit: 'flows', top: 4 }));
    for (const r of top.body.rows as Obj[]) {
      if (r.filter === null) {
        assert.equal(r.value, null);
        continue;
      }
      const narrowed = await getJson(q('totals', { t: V5_WINDOW, filter: r.filter as string }));
      assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
      const t = narrowed.body.totals as Obj;
      assert.deepEqual([t.flows, t.packets, t.bytes], [r.flows, r.packets, r.bytes], `${dim} ${String(r.filter)}`);
    }
  }
});

test('the series equals sluice query --series with its split: counts per interval, rates per second', async () => {
  const a = await getJson(q('series', { t: V5_WINDOW, dim: 'srcip', unit: 'bps', top: 3, interval: '1m' }));
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const cli = (await cliJson(store, ['-t', V5_WINDOW, '--series', '1m', '-s', 'srcip/bytes', '-n', '3'])) as Array<Obj & { split: Obj[]; other: Obj }>;
  const b = a.body as { intervalMs: number; times: number[]; series: Array<Obj & { counts: number[]; rates: number[] }>; other: { counts: number[]; rates: number[] }; total: { counts: number[]; rates: number[] } };
  assert.equal(b.intervalMs, 60_000);
  assert.equal(b.times.length, 40, 'one point per minute of the 40-minute window');
  assert.deepEqual(b.times, cli.map((p) => Date.parse(p.time as string)));
  assert.deepEqual(b.series.map((s) => s.value), cli[0]!.split.map((s) => s.srcip));
  cli.forEach((p, i) => {
    b.series.forEach((s, k) => assert.equal(s.counts[i], p.split[k]!.bytes));
    assert.equal(b.other.counts[i], p.other.bytes);
    assert.equal(b.total.counts[i], p.bytes);
    // Every interval lies wholly inside the window here: the rate is the CLI's.
    assert.equal(b.total.rates[i], p.bps);
  });
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  assert.equal(sum(b.total.counts), (a.body.totals as Obj).bytes);
  assert.equal(sum(b.series.map((s) => sum(s.counts))) + sum(b.other.counts), sum(b.total.counts), 'top values plus other make the total');

  // flows/s counts flows; an interval the window cuts is rated over the part inside it.
  const cut = await getJson(q('series', { t: '2018-11-08T20:15:30Z/2018-11-08T20:16:20Z', dim: 'proto', unit: 'flows', interval: '1m' }));
  const c = cut.body as { times: number[]; total: { counts: number[]; rates: number[] } };
  assert.deepEqual(c.times, [Date.parse('2018-11-08T20:15:00Z'), Date.parse('2018-11-08T20:16:00Z')]);
  assert.equal(c.total.rates[0], (c.total.counts[0]! * 1000) / 30_000);
  assert.equal(c.total.rates[1], (c.total.counts[1]! * 1000) / 20_000);

  // Without an interval one is chosen from the window: 40 min -> 30 s steps, 80 points.
  const auto = await getJson(q('series', { t: V5_WINDOW, dim: 'dstport' }));
  assert.equal(auto.body.intervalMs, 30_000);
  assert.equal((auto.body.times as number[]).length, 80);
});

test('raw flows equal sluice query --newest, page by page, with every stored column', async () => {
  const cli = await cliCsv(store, ['--newest']);
  assert.equal(cli.length, 99);
  const seen: Obj[] = [];
  for (let offset = 0; offset < 120; offset += 40) {
    const a = await getJson(q('flows', { limit: 40, offset }));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.matched, 99);
    assert.equal(a.body.more, offset + 40 < 99);
    seen.push(...(a.body.rows as Obj[]));
  }
  assert.equal(seen.length, 99);
  seen.forEach((row, i) => {
    for (const [name, cell] of Object.entries(cli[i]!)) assert.equal(row[name] === null ? '' : String(row[name]), cell, `flow ${i} column ${name}`);
  });
  const one = await getJson(q('flows', { limit: 1, filter: 'proto tcp and flags S', sort: 'oldest', t: V5_WINDOW }));
  const fields = (one.body.fields as Obj[]).map((f) => f.name);
  assert.ok(fields.includes('extra') && fields.includes('src_mac') && fields.includes('scaled_bytes'), 'every stored column and the derived ones are listed');
  const r = (one.body.rows as Obj[])[0]!;
  assert.equal(r.proto_name, 'TCP');
  assert.match(r.flags_text as string, /S/);
  const oldest = await cliCsv(store, ['-c', '1', '-t', V5_WINDOW, 'proto tcp and flags S']);
  assert.equal(r.time_end, oldest[0]!.time_end);
});

test('bad parameters are 400 and say where: filter and window columns, names, ranges', async () => {
  const bad = await getJson(q('top', { filter: 'src ip 10.0.0.300' }));
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'filter');
  assert.equal(bad.body.parameter, 'filter');
  assert.equal(bad.body.column, 8);
  assert.equal(bad.body.input, 'src ip 10.0.0.300');
  assert.match(bad.body.error as string, /expected an IPv4 or IPv6 address.* at column 8/);
  const paren = await getJson(q('series', { filter: 'proto tcp and (port 80' }));
  assert.equal(paren.status, 400);
  assert.equal(paren.body.column, 23, 'the filter ended where ")" was due');
  const win = await getJson(q('flows', { t: '2024-05-01T10:00Z/2024-05-01T09:00Z' }));
  assert.equal(win.status, 400);
  assert.equal(win.body.parameter, 't');
  assert.equal(win.body.column, 19);
  const iv = await getJson(q('series', { interval: '5x' }));
  assert.deepEqual([iv.status, iv.body.parameter, iv.body.column], [400, 'interval', 2]);
  const many = await getJson(q('series', { t: '-7d', interval: '1s' }));
  assert.deepEqual([many.status, many.body.parameter], [400, 'interval']);
  for (const [path, params, name] of [
    ['top', { dim: 'nosuch' }, 'dim'],
    ['top', { unit: 'bytes' }, 'unit'],
    ['top', { top: 0 }, 'top'],
    ['top', { interval: '1m' }, 'interval'],
    ['flows', { limit: 5000 }, 'limit'],
    ['flows', { sort: 'random' }, 'sort'],
    ['totals', { bogus: 1 }, 'bogus'],
    ['exporters', { t: '-1h' }, 't'],
  ] as const) {
    const r = await getJson(q(path, params));
    assert.equal(r.status, 400, `${path} ${JSON.stringify(params)}`);
    assert.equal(r.body.parameter, name);
  }
  const twice = await getJson(`${api.url}/api/v1/totals?filter=any&filter=any`);
  assert.equal(twice.status, 400);
  // The check endpoint answers a mistake as a good answer: where and why, for the page's filter box.
  const check = await getJson(q('filter', { filter: 'proto tcp and port eighty' }));
  assert.equal(check.status, 200);
  assert.deepEqual([check.body.valid, check.body.parameter, check.body.column], [false, 'filter', 20]);
  const good = await getJson(q('filter', { filter: 'proto tcp', t: '-1h' }));
  assert.equal(good.body.valid, true);
  assert.equal(good.status, 200);
});

test('every answer carries its query duration; the same request within the cache time is answered from the cache', async () => {
  const url = q('top', { dim: 'dstport', unit: 'pps', top: 7 });
  const first = await getJson(url);
  assert.equal(first.body.cached, false);
  assert.equal(typeof first.body.durationMs, 'number');
  assert.match(first.headers.get('server-timing') ?? '', /^query;dur=[\d.]+$/);
  // Parameters in another order are the same question.
  const again = await getJson(q('top', { top: 7, unit: 'pps', dim: 'dstport' }));
  assert.equal(again.body.cached, true);
  assert.equal(again.body.durationMs, first.body.durationMs, "a cached answer reports its query's own duration");
  assert.deepEqual(again.body.rows, first.body.rows);
  for (const path of ['totals', 'series', 'flows', 'filter', 'exporters', 'health']) {
    const r = await getJson(q(path));
    assert.equal(r.status, 200, path);
    assert.equal(typeof r.body.durationMs, 'number', path);
  }
});

test('exporters come from collect\'s exporters.json with its age; health describes the directory', async (t) => {
  const none = await getJson(q('exporters'));
  assert.deepEqual([none.body.source, none.body.taken, none.body.exporters], ['none', null, []]);
  const row: ExporterRow = {
    exporter: '192.0.2.7', datagrams: 10, records: 300, recordsPerSecond: 5, lastSeenMs: Date.now() - 2000, drops: { 'no-template': 2 }, health: {}, rateUnknown: 0, clockSkewSeconds: 0.5,
    domains: [{ domain: 1, records: 300, optionsRecords: 0, counterRecords: 0, templates: 2, sampling: { header: 100 }, sequenceLost: { records: 3 }, sequenceResets: 0, sequenceReordered: 0 }],
  };
  await writeExporterRows(join(store, 'state'), [row]);
  t.after(() => writeExporterRows(join(store, 'state'), []));
  // Another server: the first one's answer is cached.
  const fresh = await startTestApi(t, store);
  const a = await getJson(`${fresh.url}/api/v1/exporters`);
  assert.equal(a.body.source, 'file');
  assert.deepEqual(a.body.exporters, [row]);
  assert.ok((a.body.takenAgeMs as number) >= 0 && (a.body.takenAgeMs as number) < 60_000);
  const h = await getJson(`${fresh.url}/api/v1/health`);
  assert.equal(h.body.source, 'directory');
  assert.equal(h.body.retention, null, 'serve does not know the writer\'s retention');
  assert.equal(h.body.ingestRowsPerSec, 0, 'nothing received in the last minute');
  assert.ok((h.body.segments as number) >= 1 && (h.body.bytes as number) > 0);
  const flows = (h.body.tables as Record<string, Obj>).flows!;
  assert.equal(flows.firstHourMs, Date.parse('2018-08-09T16:00:00Z'), 'the oldest partition: the hour the EdgeRouter capture\'s flows ended in');
});

test('a query over the time limit is stopped and answered 503 with the limit', async (t) => {
  const slowStore = tempDir(t, 'sluice-api-slow-');
  const w = await StoreWriter.open(slowStore, { flushIntervalMs: 3_600_000, maintenanceIntervalMs: 3_600_000 });
  for (const b of syntheticFlowBlocks(100, { seed: 3, startMs: V5_FROM_MS, stepMs: 10 })) w.append(b);
  await w.flush();
  await w.close();
  const slow = await startTestApi(t, slowStore, { timeLimitMs: 1 });
  const r = await getJson(`${slow.url}/api/v1/top?dim=srcip&t=${encodeURIComponent(`${new Date(V5_FROM_MS).toISOString()}/${new Date(V5_TO_MS + 86_400_000).toISOString()}`)}`);
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.equal(r.body.code, 'query');
  assert.equal(r.body.timeLimitMs, 1);
  assert.match(r.body.error as string, /query stopped: time limit of 0.001 s reached/);
  assert.equal(typeof r.body.durationMs, 'number');
  // A limit that is not reached: the same store answers.
  const ok = await startTestApi(t, slowStore, { timeLimitMs: 60_000 });
  const o = await getJson(`${ok.url}/api/v1/totals`);
  assert.equal(o.status, 200);
  assert.equal((o.body.totals as Obj).flows, 100 * 2048);
});
