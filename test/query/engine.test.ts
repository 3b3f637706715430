/**
 * The engine over real Parquet segments written in the test: totals, top-N by every order,
 * both-side keys, srcnet masks, -A, series (plain and split), raw flows paging, sampling scaling,
 * an empty store, --sql (reads, refusals, window) and the time limit.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { QueryEngine } from '../../src/query/engine.js';
import { storeSegments } from '../../src/query/segments.js';
import { FilterError, QueryTimeoutError, QueryUsageError, SqlRefusedError } from '../../src/query/errors.js';
import type { AggregateResult } from '../../src/query/results.js';
import { T0, writeSegment, type FlowInput, storeSegmentPath } from './helpers.js';

const S = 1000;
const FLOWS: Record<string, FlowInput> = {
  r1: { time_received: T0 + 11 * S, time_start: T0, time_end: T0 + 10 * S, exporter: '192.0.2.1', src_addr: '10.0.0.1', dst_addr: '10.0.1.1', src_port: 1000, dst_port: 443, proto: 6, packets: 10, bytes: 10_000, in_if: 1, out_if: 2, src_as: 100, dst_as: 200 },
  r2: { time_received: T0 + 21 * S, time_start: T0 + 10 * S, time_end: T0 + 20 * S, exporter: '192.0.2.1', src_addr: '10.0.0.1', dst_addr: '10.0.1.2', src_port: 1001, dst_port: 443, proto: 6, packets: 20, bytes: 20_000, in_if: 1, out_if: 3, src_as: 100, dst_as: 300 },
  r3: { time_received: T0 + 31 * S, time_start: T0 + 30 * S, time_end: T0 + 30 * S, exporter: '192.0.2.1', src_addr: '10.0.0.2', dst_addr: '10.0.1.1', src_port: 53, dst_port: 5000, proto: 17, packets: 1, bytes: 100, sampling: 10, in_if: 2, out_if: 1, src_as: 100, dst_as: 200 },
  r4: { time_received: T0 + 121 * S, time_start: T0 + 60 * S, time_end: T0 + 120 * S, exporter: '192.0.2.2', src_addr: '10.0.1.1', dst_addr: '10.0.0.1', src_port: 443, dst_port: 1000, proto: 6, packets: 30, bytes: 90_000, in_if: 2, out_if: 1, src_as: 200, dst_as: 100 },
  r5: { time_received: T0 + 302 * S, time_start: T0 + 300 * S, time_end: T0 + 301 * S, exporter: '2001:db8::ff', src_addr: '2001:db8::1', dst_addr: '2001:db8:1::5', src_port: 80, dst_port: 40000, proto: 6, packets: 4, bytes: 4000, src_mask: 48, kind: 'v9' },
  r6: { time_received: T0 + 3601 * S, time_end: T0 + 3600 * S, exporter: '192.0.2.1', src_addr: '10.0.2.7', dst_addr: '10.0.0.1', src_port: 123, dst_port: 123, proto: 17, packets: 2, bytes: 200, sampling: 1000, extra: '{"iana:ipVersion":4}' },
  r7: { time_received: T0 + 90 * S, exporter: '192.0.2.1', src_addr: '10.0.0.3', dst_addr: '10.0.1.1', proto: 1, packets: 1, bytes: 84 },
};

let dir: string;
let engine: QueryEngine;
let empty: QueryEngine;
const HOUR = { fromMs: T0, toMs: T0 + 3600 * S };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-query-engine-'));
  const f = FLOWS;
  await writeSegment(storeSegmentPath(dir, T0, 1), [f.r1!, f.r2!, f.r3!, f.r4!]);
  await writeSegment(storeSegmentPath(dir, T0, 2), [f.r5!, f.r6!, f.r7!]);
  // A file that is not a segment of the store (a name it does not give) is not read.
  await writeSegment(join(dirname(storeSegmentPath(dir, T0, 3)), '.c.parquet'), [f.r1!]);
  engine = await QueryEngine.open({ segments: storeSegments(dir) });
  empty = await QueryEngine.open({ segments: storeSegments(join(dir, 'nothing-here')) });
});

after(() => {
  engine.close();
  empty.close();
  rmSync(dir, { recursive: true, force: true });
});

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
}

test('totals: flows, packets and bytes scaled by sampling, first/last seen and average rates', async () => {
  const t = await engine.totals();
  assert.equal(t.flows, 7);
  assert.equal(t.packets, 10 + 20 + 10 + 30 + 4 + 2000 + 1);
  assert.equal(t.bytes, 10_000 + 20_000 + 1000 + 90_000 + 4000 + 200_000 + 84);
  assert.equal(t.firstMs, T0);
  assert.equal(t.lastMs, T0 + 3600 * S);
  near(t.bps, (325_084 * 8000) / 3_600_000, 'bps');
  near(t.pps, (2075 * 1000) / 3_600_000, 'pps');
  near(t.bpp, 325_084 / 2075, 'bpp');
  assert.deepEqual(t.window, {});

  // [start, end) by flow end (received when there is no end): r6 ends exactly at the end.
  const h = await engine.totals({ window: HOUR });
  assert.deepEqual([h.flows, h.packets, h.bytes], [6, 75, 125_084]);
  assert.deepEqual(h.window, HOUR);
  const f = await engine.totals({ filter: 'proto udp' });
  assert.deepEqual([f.flows, f.packets, f.bytes], [2, 2010, 201_000]);
});

const rowsOf = (r: AggregateResult): unknown[] => r.rows.map((x) => (x.values.length === 1 ? x.values[0] : x.values));

test('-s srcip by every order (ties broken by the value)', async () => {
  const by = async (order: 'flows' | 'packets' | 'bytes' | 'bps' | 'pps' | 'bpp'): Promise<unknown[]> => rowsOf(await engine.aggregate({ keys: ['srcip'], order, limit: 10 }));
  assert.deepEqual(await by('flows'), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.1.1', '10.0.2.7', '2001:db8::1']);
  assert.deepEqual(await by('packets'), ['10.0.2.7', '10.0.0.1', '10.0.1.1', '10.0.0.2', '2001:db8::1', '10.0.0.3']);
  assert.deepEqual(await by('bytes'), ['10.0.2.7', '10.0.1.1', '10.0.0.1', '2001:db8::1', '10.0.0.2', '10.0.0.3']);
  assert.deepEqual(await by('bps'), ['2001:db8::1', '10.0.0.1', '10.0.1.1', '10.0.0.2', '10.0.0.3', '10.0.2.7']);
  assert.deepEqual(await by('pps'), ['2001:db8::1', '10.0.0.1', '10.0.1.1', '10.0.0.2', '10.0.0.3', '10.0.2.7']);
  assert.deepEqual(await by('bpp'), ['10.0.1.1', '10.0.0.1', '2001:db8::1', '10.0.0.2', '10.0.2.7', '10.0.0.3']);

  const r = await engine.aggregate({ keys: ['srcip'], order: 'bytes', limit: 3 });
  assert.equal(r.rows.length, 3);
  assert.equal(r.totals.flows, 7);
  const a = r.rows.find((x) => x.values[0] === '10.0.0.1')!;
  assert.deepEqual([a.flows, a.packets, a.bytes, a.firstMs, a.lastMs], [2, 30, 30_000, T0, T0 + 20 * S]);
  near(a.bps, 12_000, 'bps over first..last seen');
  near(a.pps, 1.5, 'pps');
  near(a.bpp, 1000, 'bpp');
  const s = r.rows.find((x) => x.values[0] === '10.0.2.7')!;
  assert.deepEqual([s.packets, s.bytes, s.bps], [2000, 200_000, 0]);
});

test('-s dstport: numbers; a flow without ports has port 0 (ICMP: type * 256 + code), as in nfdump', async () => {
  const r = await engine.aggregate({ keys: ['dstport'], limit: 10 });
  assert.deepEqual(rowsOf(r), [443, 0, 123, 1000, 5000, 40000]);
  assert.equal(r.rows[0]!.flows, 2);
  const p = await engine.aggregate({ keys: ['proto'], order: 'bytes' });
  assert.deepEqual(rowsOf(p), [17, 6, 1]);
});

test('ip, port, as, if count each flow under its source and its destination', async () => {
  const ip = await engine.aggregate({ keys: ['ip'], limit: 2 });
  assert.deepEqual(rowsOf(ip), ['10.0.0.1', '10.0.1.1']);
  assert.deepEqual(ip.rows.map((x) => x.flows), [4, 4]);
  const all = await engine.aggregate({ keys: ['ip'] });
  assert.equal(all.rows.reduce((n, x) => n + x.flows, 0), 14);
  assert.equal(all.totals.flows, 7); // totals count each flow once

  const port = await engine.aggregate({ keys: ['port'], limit: 3 });
  assert.deepEqual(rowsOf(port), [443, 0, 123]);
  assert.deepEqual(port.rows.map((x) => x.flows), [3, 2, 2]); // r7 (ICMP) has 0 on both sides, r6 is 123 -> 123: each counted twice
  const as = await engine.aggregate({ keys: ['as'], order: 'bytes', limit: 10, filter: 'ipv4' });
  assert.deepEqual(rowsOf(as), [null, 100, 200, 300]); // r6 and r7 carry no AS: twice each
  const iface = await engine.aggregate({ keys: ['if'] });
  assert.deepEqual(rowsOf(iface), [null, 1, 2, 3]);
  assert.deepEqual(iface.rows.map((x) => x.flows), [6, 4, 3, 1]);
  const ex = await engine.aggregate({ keys: ['exporter'] });
  assert.deepEqual(rowsOf(ex), ['192.0.2.1', '192.0.2.2', '2001:db8::ff']);
});

test('srcnet/dstnet: --mask/--mask6 lengths, else the flow\'s own mask, else the full length', async () => {
  const m16 = await engine.aggregate({ keys: ['srcnet'], masks: { v4: 16, v6: 32 } });
  assert.deepEqual(rowsOf(m16), ['10.0.0.0/16', '2001:db8::/32']);
  assert.deepEqual(m16.rows.map((x) => x.flows), [6, 1]);
  const m24 = await engine.aggregate({ keys: ['srcnet'], masks: { v4: 24 } });
  assert.deepEqual(rowsOf(m24), ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24', '2001:db8::/48']);
  assert.deepEqual(m24.rows.map((x) => x.flows), [4, 1, 1, 1]);
  const own = await engine.aggregate({ keys: ['srcnet'], order: 'bytes', limit: 2 });
  assert.deepEqual(rowsOf(own), ['10.0.2.7/32', '10.0.1.1/32']);
  const v6 = await engine.aggregate({ keys: ['dstnet'], masks: { v6: 0 }, filter: 'ipv6' });
  assert.deepEqual(rowsOf(v6), ['::/0']);
  const zero = await engine.aggregate({ keys: ['dstnet'], masks: { v4: 0 }, filter: 'ipv4' });
  assert.deepEqual(rowsOf(zero), ['0.0.0.0/0']);
});

test('-A: several keys; a both-side key pairs each side\'s values', async () => {
  const a = await engine.aggregate({ keys: ['srcip', 'dstport'], limit: 1 });
  assert.deepEqual(a.rows[0]!.values, ['10.0.0.1', 443]);
  assert.equal(a.rows[0]!.flows, 2);
  const ep = await engine.aggregate({ keys: ['ip', 'port'], order: 'flows', limit: 2 });
  assert.deepEqual(ep.rows.map((x) => [x.values, x.flows]), [[['10.0.0.1', 1000], 2], [['10.0.1.1', 443], 2]]);
  const net = await engine.aggregate({ keys: ['srcnet', 'proto'], masks: { v4: 8 }, filter: 'ipv4' });
  assert.deepEqual(net.rows.map((x) => [x.values, x.flows]), [[['10.0.0.0/8', 6], 3], [['10.0.0.0/8', 17], 2], [['10.0.0.0/8', 1], 1]]);
});

test('series: every interval of the window, empty ones as zeros, split by a key\'s top values plus the rest', async () => {
  const w = { fromMs: T0, toMs: T0 + 300 * S };
  const s = await engine.series({ window: w, intervalMs: 60 * S });
  assert.deepEqual(s.points.map((p) => [p.startMs - T0, p.flows, p.packets, p.bytes]), [
    [0, 3, 40, 31_000],
    [60 * S, 1, 1, 84],
    [120 * S, 1, 30, 90_000],
    [180 * S, 0, 0, 0],
    [240 * S, 0, 0, 0],
  ]);
  near(s.points[0]!.bps, (31_000 * 8000) / 60_000, 'bps over the interval');
  near(s.points[0]!.pps, 40 / 60, 'pps over the interval');
  assert.equal(s.totals.flows, 5);
  // The series' totals add its intervals up: the same as totals() over the window.
  const t = await engine.totals({ window: w });
  assert.deepEqual([s.totals.flows, s.totals.packets, s.totals.bytes, s.totals.firstMs, s.totals.lastMs, s.totals.bps], [t.flows, t.packets, t.bytes, t.firstMs, t.lastMs, t.bps]);
  const split0 = await engine.series({ window: w, intervalMs: 60 * S, filter: 'proto 99' });
  assert.deepEqual([split0.totals.flows, split0.totals.firstMs], [0, null]);

  const split = await engine.series({ window: w, intervalMs: 60 * S, split: { key: 'dstport', limit: 2 } });
  assert.deepEqual(split.values!.map((v) => v.values[0]), [443, 0]);
  const c = (x: { flows: number; packets: number; bytes: number }): number[] => [x.flows, x.packets, x.bytes];
  assert.deepEqual(split.points.map((p) => [p.split!.map(c), c(p.other!)]), [
    [[[2, 30, 30_000], [0, 0, 0]], [1, 10, 1000]],
    [[[0, 0, 0], [1, 1, 84]], [0, 0, 0]],
    [[[0, 0, 0], [0, 0, 0]], [1, 30, 90_000]],
    [[[0, 0, 0], [0, 0, 0]], [0, 0, 0]],
    [[[0, 0, 0], [0, 0, 0]], [0, 0, 0]],
  ]);

  // No window: from the first flow's interval to the last one's.
  const open = await engine.series({ intervalMs: 3600 * S });
  assert.deepEqual(open.points.map((p) => [p.startMs - T0, p.flows]), [[0, 6], [3600 * S, 1]]);
});

test('raw flows: every column, time-ordered both ways, paged without overlap', async () => {
  const ids = (rows: readonly { readonly [k: string]: unknown }[]): string[] =>
    rows.map((r) => Object.entries(FLOWS).find(([, f]) => f.time_received === r.time_received)![0]);
  const p1 = await engine.flows({ limit: 3 });
  const p2 = await engine.flows({ limit: 3, offset: 3 });
  const p3 = await engine.flows({ limit: 3, offset: 6 });
  assert.deepEqual([ids(p1.rows), ids(p2.rows), ids(p3.rows)], [['r6', 'r5', 'r4'], ['r7', 'r3', 'r2'], ['r1']]);
  assert.deepEqual([p1.more, p2.more, p3.more], [true, true, false]);
  const old = await engine.flows({ newestFirst: false, limit: 2 });
  assert.deepEqual(ids(old.rows), ['r1', 'r2']);
  const all = await engine.flows({ filter: 'proto udp', window: HOUR });
  assert.deepEqual(ids(all.rows), ['r3']);
  assert.equal(all.more, false);
  assert.equal(all.limit, null);

  const r3 = all.rows[0]!;
  assert.deepEqual(r3, {
    time_received: T0 + 31 * S, time_start: T0 + 30 * S, time_end: T0 + 30 * S, exporter: '192.0.2.1', domain: 0, kind: 'ipfix',
    src_addr: '10.0.0.2', dst_addr: '10.0.1.1', src_port: 53, dst_port: 5000, proto: 17, tcp_flags: null, tos: null, icmp_type: null,
    icmp_code: null, packets: 1n, bytes: 100n, sampling: 10, in_if: 2, out_if: 1, src_as: 100, dst_as: 200, next_hop: null, src_mask: null,
    dst_mask: null, vlan: null, direction: null, end_reason: null, src_mac: null, dst_mac: null, extra: null,
  });
  const r5 = (await engine.flows({ filter: 'ipv6' })).rows[0]!;
  assert.equal(r5.src_addr, '2001:db8::1');
  assert.equal(r5.kind, 'v9');

  let n = 0;
  for await (const batch of engine.flowBatches({ newestFirst: false })) n += batch.length;
  assert.equal(n, 7);
});

test('an empty store is not an error: zero totals, no rows', async () => {
  const t = await empty.totals({ filter: 'proto tcp' });
  assert.deepEqual([t.flows, t.packets, t.bytes, t.firstMs, t.lastMs, t.bps], [0, 0, 0, null, null, 0]);
  assert.deepEqual((await empty.aggregate({ keys: ['srcip'] })).rows, []);
  // Segments, but nothing matched: the totals and groups come from one statement, still no row.
  const none = await engine.aggregate({ keys: ['srcip', 'dstport'], filter: 'proto 99' });
  assert.deepEqual(none.rows, []);
  assert.deepEqual([none.totals.flows, none.totals.bytes, none.totals.firstMs], [0, 0, null]);
  assert.deepEqual((await empty.flows({ limit: 5 })).rows, []);
  const s = await empty.series({ window: { fromMs: T0, toMs: T0 + 120 * S }, intervalMs: 60 * S, split: { key: 'dstport' } });
  assert.deepEqual(s.points.map((p) => [p.flows, p.other?.flows]), [[0, 0], [0, 0]]);
  assert.deepEqual((await empty.sql('SELECT count(*) AS n FROM flows')).rows, [[0n]]);
});

test('--sql reads the views through the macros, within the window', async () => {
  const r = await engine.sql('SELECT count(*) AS n, sum(packets * sampling) AS p FROM flows');
  assert.deepEqual(r.columns.map((c) => c.name), ['n', 'p']);
  assert.deepEqual(r.rows, [[7n, 2075n]]);
  const w = await engine.sql('SELECT count(*) FROM flows', { window: HOUR });
  assert.deepEqual(w.rows, [[6n]]);
  const t = await engine.sql("SELECT ip_text(src_addr) AS a, ip_text(exporter) AS e, tcp_flags_text(18) AS f, mac_text(11259375) AS m FROM flows WHERE proto = 6 ORDER BY time_received DESC LIMIT 1");
  assert.deepEqual(t.rows, [['2001:db8::1', '2001:db8::ff', '...A..S.', '00:00:00:ab:cd:ef']]);
  const big = await engine.sql('SELECT * FROM range(10)', { maxRows: 3 });
  assert.equal(big.rows.length, 3);
  assert.equal(big.truncated, true);
  const c = await engine.sql('SELECT count(*) FROM options UNION ALL SELECT count(*) FROM counters');
  assert.deepEqual(c.rows, [[0n], [0n]]);
});

test('--sql refuses anything but one read-only SELECT, and reads no other file', async () => {
  const refused = [
    'DROP VIEW flows',
    'CREATE TABLE x AS SELECT 1',
    "COPY (SELECT 1) TO '/tmp/sluice-should-not-exist.csv'",
    'INSERT INTO flows SELECT * FROM flows',
    'SELECT 1; SELECT 2',
    "ATTACH '/tmp/sluice-should-not-exist.db'",
    'SET threads = 1',
    'PRAGMA version',
    'EXPLAIN SELECT 1',
    'SELEC 1',
    '',
  ];
  for (const text of refused) await assert.rejects(engine.sql(text), SqlRefusedError, text);
  await assert.rejects(engine.sql("SELECT * FROM read_csv('/etc/passwd')"), /disabled by configuration|Permission/);
  assert.deepEqual((await engine.sql('SELECT count(*) FROM flows')).rows, [[7n]]);
});

test('a query past its time limit is interrupted and reported as such', { timeout: 120_000 }, async () => {
  await assert.rejects(engine.sql('SELECT sum(hash(i)) FROM range(100000000000) t(i)', { timeLimitMs: 200 }), (e: unknown) => {
    assert.ok(e instanceof QueryTimeoutError, String(e));
    assert.match(e.message, /time limit of 0.2 s/);
    return true;
  });
  // The engine works on afterwards.
  assert.equal((await engine.totals()).flows, 7);
});

test('the listing gets the window (open ends widened), and a segment that vanished is listed again once', async () => {
  const calls: unknown[] = [];
  const real = storeSegments(dir);
  let first = true;
  const lister: typeof real = async (table, window) => {
    calls.push([table, window]);
    const files = await real(table, window);
    if (table === 'flows' && first) {
      first = false;
      return [...files, join(dirname(storeSegmentPath(dir, T0, 9)), 'compacted-away.parquet')];
    }
    return files;
  };
  const e = await QueryEngine.open({ segments: lister });
  try {
    assert.equal((await e.totals({ window: { fromMs: T0 } })).flows, 7);
    assert.deepEqual(calls, [
      ['flows', { fromMs: T0, toMs: 8.64e15 }],
      ['flows', { fromMs: T0, toMs: 8.64e15 }],
    ]);
    calls.length = 0;
    await e.totals();
    await e.totals({ window: HOUR });
    assert.deepEqual(calls, [['flows', undefined], ['flows', HOUR]]);
  } finally {
    e.close();
  }
});

test('engine queries report the time limit too, and reject impossible requests as usage errors', async () => {
  const slowListing: Parameters<typeof QueryEngine.open>[0]['segments'] = async (table, window) => {
    await new Promise((r) => setTimeout(r, 100));
    return storeSegments(dir)(table, window);
  };
  const e = await QueryEngine.open({ segments: slowListing, timeLimitMs: 10 });
  try {
    await assert.rejects(e.totals(), QueryTimeoutError);
    await assert.rejects(e.aggregate({ keys: ['srcip'] }), QueryTimeoutError);
    assert.equal((await e.totals({ timeLimitMs: 0 })).flows, 7);
  } finally {
    e.close();
  }
  await assert.rejects(engine.series({ intervalMs: 1000, window: { fromMs: T0, toMs: T0 + 365 * 86_400_000 } }), QueryUsageError);
  await assert.rejects(engine.aggregate({ keys: [] }), QueryUsageError);
  await assert.rejects(engine.flows({ limit: -1 }), QueryUsageError);
  await assert.rejects(engine.totals({ filter: 'port 99999' }), FilterError);
});

test('a damaged segment is reported and left out; the query answers from the others', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'sluice-query-damaged-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  await writeSegment(storeSegmentPath(d, T0, 1), [FLOWS.r1!, FLOWS.r2!]);
  const damaged = storeSegmentPath(d, T0, 2);
  writeFileSync(damaged, 'not parquet at all');
  await writeSegment(storeSegmentPath(d, T0, 3), [FLOWS.r3!]);
  const skipped: string[] = [];
  const e = await QueryEngine.open({ segments: storeSegments(d), onSkippedSegment: (path) => skipped.push(path) });
  try {
    assert.equal((await e.totals()).flows, 3);
    assert.deepEqual((await e.aggregate({ keys: ['dstport'] })).rows.map((r) => r.values[0]), [443, 5000]);
    assert.equal((await e.flows()).rows.length, 3);
    let n = 0;
    for await (const b of e.flowBatches()) n += b.length;
    assert.equal(n, 3);
    assert.deepEqual((await e.sql('SELECT count(*) FROM flows')).rows, [[3n]]);
    assert.ok(skipped.length >= 5 && skipped.every((p) => p === damaged), JSON.stringify(skipped));
  } finally {
    e.close();
  }
});
