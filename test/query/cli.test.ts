/**
 * `sluice query` end to end: node --import tsx src/cli/main.ts query ... over a store written in
 * the test; formats, filter words joined, exit codes and the caret under a bad column.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSluice } from '../helpers/cli.js';
import { storeSegmentPath, T0, writeSegment } from './helpers.js';

let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-query-cli-'));
  await writeSegment(storeSegmentPath(dir, T0, 1), [
    { time_received: T0 + 11_000, time_start: T0, time_end: T0 + 10_000, src_addr: '10.0.0.1', dst_addr: '10.0.1.1', src_port: 1000, dst_port: 443, proto: 6, packets: 10, bytes: 10_000 },
    { time_received: T0 + 31_000, time_start: T0 + 30_000, time_end: T0 + 30_000, src_addr: '10.0.0.2', dst_addr: '10.0.1.1', src_port: 53, dst_port: 5000, proto: 17, packets: 1, bytes: 100, sampling: 10 },
    { time_received: T0 + 62_000, time_start: T0 + 60_000, time_end: T0 + 61_000, src_addr: '10.0.0.1', dst_addr: '10.0.1.2', src_port: 1001, dst_port: 443, proto: 6, packets: 5, bytes: 500 },
  ]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const query = (...args: string[]) => runSluice(['query', '--store', dir, ...args]);

test('-s srcip/bytes as csv, the filter given as several words', async () => {
  const r = await query('--format', 'csv', '-s', 'srcip/bytes', 'not', 'proto', 'icmp', 'and', 'ipv4');
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'srcip,flows,packets,bytes,bps,pps,bpp\n10.0.0.1,2,15,10500,1377.049180327869,0.2459016393442623,700\n10.0.0.2,1,10,1000,0,0,100\n');
});

test('totals as json, raw flows as IPFIXcol2 lines, the table with its summary', async () => {
  const t = await query('--totals', '--format', 'json', '-t', '2024-05-01T10:00Z/2024-05-01T10:01Z', 'proto', 'tcp');
  assert.equal(t.code, 0, t.stderr);
  assert.deepEqual(JSON.parse(t.stdout), {
    flows: 1, packets: 10, bytes: 10_000, bps: 8000, pps: 1, bpp: 1000, first: '2024-05-01T10:00:00.000Z', last: '2024-05-01T10:00:10.000Z',
    window: { from: '2024-05-01T10:00:00.000Z', to: '2024-05-01T10:01:00.000Z' },
  });
  const raw = await query('--format', 'json', '-c', '2', '--newest');
  assert.equal(raw.code, 0, raw.stderr);
  const lines = raw.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => [l['@type'], l['iana:sourceTransportPort']]), [['ipfix.entry', 1001], ['ipfix.entry', 53]]);
  const table = await query('-t', '2024/05/01.10:00/2024/05/01.10:01');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^first seen .*\n2024-05-01T10:00:00.000Z .*10.0.0.1:1000 .*\n2024-05-01T10:00:30.000Z .*10.0.0.2:53 .*\n\nSummary: flows 2, packets 20, bytes 11.0 K/);
});

test('usage errors exit 2, with a caret under the column of the filter or window', async () => {
  const f = await query('src', 'ip', '10.0.0.300');
  assert.equal(f.code, 2);
  assert.equal(f.stdout, '');
  assert.equal(f.stderr, 'sluice query: filter: expected an IPv4 or IPv6 address, found "10.0.0.300" at column 8\n  src ip 10.0.0.300\n         ^ expected an IPv4 or IPv6 address, found "10.0.0.300"\n');
  const w = await query('-t', '2024-05-01T10:00Z/2024-05-01T09:00Z');
  assert.equal(w.code, 2);
  assert.match(w.stderr, /time window: the end of the window is not after its start at column 19\n {2}2024-05-01T10:00Z\/2024-05-01T09:00Z\n {20}\^/);
  for (const args of [['--bogus'], ['-s', 'nosuch'], ['-s', 'srcip', '-A', 'dstip'], ['--format', 'xml'], ['--sql', 'DROP VIEW flows'], ['--sql', 'SELECT 1', 'proto', 'tcp']]) {
    const r = await query(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  const noStore = await runSluice(['query']);
  assert.equal(noStore.code, 2);
  assert.match(noStore.stderr, /required option '--store <dir>'/);
});

test('--sql reads the store; the time limit is a failure (exit 1); an empty store is not', async () => {
  const s = await query('--format', 'csv', '--sql', 'SELECT ip_text(src_addr) AS a, count(*) AS n FROM flows GROUP BY a ORDER BY a');
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, 'a,n\n10.0.0.1,2\n10.0.0.2,1\n');
  const slow = await query('--time-limit', '0.2', '--sql', 'SELECT sum(hash(i)) FROM range(100000000000) t(i)');
  assert.equal(slow.code, 1);
  assert.match(slow.stderr, /time limit of 0.2 s reached/);
  const empty = await runSluice(['query', '--store', join(dir, 'none'), '--totals', '--format', 'csv', '-t', '-1h']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /^flows,packets,bytes,bps,pps,bpp,first,last\n0,0,0,0,0,0,,\n$/);
});

test('--help teaches, with examples', async () => {
  const h = await runSluice(['query', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Examples:\n {2}sluice query --store/);
  assert.match(h.stdout, /srcip dstip ip srcport dstport port proto/);
});
