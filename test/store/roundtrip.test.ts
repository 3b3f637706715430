/**
 * Blocks built with BlockBuilder (every column type, NULLs, IPv4 and IPv6, counters up to 2^64-1,
 * hour edges) appended, flushed and read back by DuckDB from the segment files: equal values,
 * each row in the partition of its hour. Also the two byte layouts columns.ts promises (UUID and
 * TIMESTAMP_MS), checked on the Parquet bytes, and blocks the writer must refuse without throwing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, relative } from 'node:path';
import { test } from 'node:test';
import { addressUuid, BlockBuilder, storedAddress, type ColumnBlock } from '../../src/store/columns.js';
import { HOUR_MS, parseDay, parseHourOfDay, parseSegmentFileName } from '../../src/store/layout.js';
import { KINDS, TABLES, type ColumnDef, type Kind, type TableName } from '../../src/store/schema.js';
import { listSegments } from '../../src/store/segments.js';
import { Prng } from '../helpers/prng.js';
import { MemoryLog } from '../helpers/flows.js';
import { openWriter, reader, tempDir } from './helpers/store-env.js';

type Value = number | bigint | string | Uint8Array | null;
type Row = Record<string, Value>;

const H = HOUR_MS;
const BASE = Date.UTC(2024, 2, 1, 10); // 2024-03-01T10:00Z

/** Writes one row into the builder, column by column, as a decoder would. */
function put(b: BlockBuilder, row: Row): void {
  const r = b.addRow();
  for (const [i, slot] of b.layout.slots.entries()) {
    const v = row[slot.column.name];
    if (v === null || v === undefined) continue;
    switch (slot.column.type) {
      case 'TIMESTAMP_MS':
        b.timestamp(i, r, v as number);
        break;
      case 'UUID': {
        const a = v as Uint8Array;
        b.address(i, r, a, 0, a.length as 4 | 16);
        break;
      }
      case 'UTINYINT':
        b.u8(i, r, v as number);
        break;
      case 'USMALLINT':
        b.u16(i, r, v as number);
        break;
      case 'UINTEGER':
        b.u32(i, r, v as number);
        break;
      case 'UBIGINT': {
        const be = new Uint8Array(8);
        new DataView(be.buffer).setBigUint64(0, v as bigint);
        b.u64Bytes(i, r, be, 0, 8);
        break;
      }
      case 'KIND':
        b.kind(i, r, v as Kind);
        break;
      case 'VARCHAR':
        b.string(i, r, v as string);
        break;
    }
  }
}

/** What DuckDB should print for a value (`col::VARCHAR`, timestamps as epoch_ms). */
function expectedText(c: ColumnDef, v: Value): string | null {
  if (v === null || v === undefined) return null;
  if (c.type === 'UUID') {
    const a = v as Uint8Array;
    return addressUuid(storedAddress(a, 0, a.length as 4 | 16));
  }
  return String(v);
}

function selectList(table: TableName): string {
  return TABLES[table].map((c) => (c.type === 'TIMESTAMP_MS' ? `epoch_ms("${c.name}")::VARCHAR` : `"${c.name}"::VARCHAR`)).join(', ');
}

const ip4 = (...b: number[]): Uint8Array => new Uint8Array(b);
function ip6(text: string): Uint8Array {
  // Only the forms used below: full groups or one "::".
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head === '' ? [] : head!.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => new DataView(out.buffer).setUint16(2 * i, parseInt(g, 16)));
  return out;
}

const MAX = { UTINYINT: 255, USMALLINT: 65535, UINTEGER: 4294967295 } as const;

function randomFlow(p: Prng, id: number): Row {
  const row: Row = {};
  const nul = (): boolean => p.int(0, 3) === 0;
  const addr = (): Uint8Array => {
    switch (p.int(0, 5)) {
      case 0:
        return ip4(0, 0, 0, 0);
      case 1:
        return ip4(255, 255, 255, 255);
      case 2:
        return ip6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
      case 3:
        return ip6(`2001:db8:${p.int(0, 65535).toString(16)}::${p.int(0, 65535).toString(16)}`);
      default:
        return ip4(p.int(0, 255), p.int(0, 255), p.int(0, 255), p.int(0, 255));
    }
  };
  for (const c of TABLES.flows) {
    if (c.nullable && c.name !== 'domain' && nul()) {
      row[c.name] = null;
      continue;
    }
    switch (c.type) {
      case 'TIMESTAMP_MS': {
        // Around hour edges, so a row one millisecond either side of an hour lands in the right partition.
        const edge = BASE + p.int(0, 5) * H;
        row[c.name] = edge + [-1, 0, 1, p.int(2, H - 2)][p.int(0, 3)]!;
        break;
      }
      case 'UUID':
        row[c.name] = addr();
        break;
      case 'KIND':
        row[c.name] = KINDS[p.int(0, KINDS.length - 1)]!;
        break;
      case 'UBIGINT': {
        const pick = p.int(0, 3);
        row[c.name] = pick === 0 ? 0n : pick === 1 ? 2n ** 64n - 1n : pick === 2 ? 2n ** 53n + 1n : BigInt(p.u32()) * 4294967296n + BigInt(p.u32());
        break;
      }
      case 'VARCHAR':
        row[c.name] = [`{"iana:ipVersion":${p.int(4, 6)}}`, 'é ü 日本 🎉 "quoted" \\ back', 'with\0nul', ''][p.int(0, 3)]!;
        break;
      default: {
        const max = MAX[c.type as keyof typeof MAX];
        row[c.name] = [0, max, p.int(0, max)][p.int(0, 2)]!;
      }
    }
  }
  row['domain'] = id; // the row's identity, to compare in order
  return row;
}

function blocksOf(table: TableName, rows: readonly Row[], perBlock = 2048): ColumnBlock[] {
  const out: ColumnBlock[] = [];
  const b = new BlockBuilder(table);
  for (const row of rows) {
    put(b, row);
    if (b.count === perBlock) out.push(b.take());
  }
  if (b.count > 0) out.push(b.take());
  return out;
}

test('flows of every column type round-trip through segments, each in the partition of its hour', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir);
  const p = new Prng(20240301);
  const rows = Array.from({ length: 5000 }, (_, i) => randomFlow(p, i));
  // Blocks of uneven size (a last short block, a one-row block) reuse the writer's data chunk.
  for (const b of [...blocksOf('flows', rows.slice(0, 4999), 1500), ...blocksOf('flows', rows.slice(4999))]) assert.equal(w.append(b), true);
  const f = await w.flush();
  assert.equal(f.rowsWritten, rows.length);
  assert.equal(f.error, undefined);

  const files = await listSegments(dir, 'flows');
  assert.ok(files.length >= 6, `rows of six hours make at least six partitions, got ${files.length}`);
  const db = await reader(t);
  const got = await db.rows(`SELECT ${selectList('flows')} FROM read_parquet($files) ORDER BY domain`, files);
  assert.equal(got.length, rows.length);
  for (let i = 0; i < rows.length; i++) {
    const want = TABLES.flows.map((c) => expectedText(c, rows[i]![c.name]!));
    assert.deepEqual(got[i], want, `row ${i}`);
  }
  for (const file of files) {
    const [table, day, hh] = relative(dir, dirname(file)).split('/');
    assert.equal(table, 'flows');
    const hour = parseDay(day!)! + parseHourOfDay(hh!)!;
    const hours = await db.rows('SELECT DISTINCT epoch_ms(coalesce(time_end, time_received)) // 3600000 FROM read_parquet($files)', [file]);
    assert.deepEqual(hours.map((r) => Number(r[0])), [hour], file);
    assert.ok(parseSegmentFileName(basename(file)) !== undefined, file);
  }
  assert.equal(w.stats().rowsWritten, rows.length);
  assert.equal(w.stats().tables.flows.rowsWritten, rows.length);
});

test('options and counters records round-trip, strings with NUL and non-ASCII included', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir);
  const mk = (i: number): Row => ({
    time_received: BASE + i * 1000,
    exporter: i % 2 === 0 ? ip4(192, 0, 2, i % 256) : ip6(`2001:db8::${i.toString(16)}`),
    domain: i,
    kind: i % 2 === 0 ? 'ipfix' : 'sflow',
    template_id: 256 + i,
    record: `{"@type":"ipfix.optionsEntry","n":${i},"s":"${'é'.repeat(i % 5)}\u0000x"}`,
  });
  const opts = Array.from({ length: 3000 }, (_, i) => mk(i));
  const ctrs = Array.from({ length: 10 }, (_, i) => mk(i));
  for (const b of blocksOf('options', opts)) w.append(b);
  for (const b of blocksOf('counters', ctrs)) w.append(b);
  assert.equal((await w.flush()).rowsWritten, opts.length + ctrs.length);
  const db = await reader(t);
  for (const [table, rows] of [['options', opts], ['counters', ctrs]] as const) {
    const files = await listSegments(dir, table);
    const got = await db.rows(`SELECT ${selectList(table)} FROM read_parquet($files) ORDER BY domain`, files);
    assert.deepEqual(got, rows.map((r) => TABLES[table].map((c) => expectedText(c, r[c.name]!))), table);
  }
});

test('the UUID and TIMESTAMP_MS layouts of columns.ts: Parquet holds the address bytes in network order and ms since the epoch', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir);
  const exporter = ip4(192, 0, 2, 1);
  const src = ip6('2001:db8::1');
  const ms = Date.UTC(2023, 10, 14, 22, 13, 20, 123);
  w.append(blocksOf('flows', [{ time_received: ms, exporter, domain: 1, kind: 'ipfix', sampling: 1, src_addr: src }])[0]!);
  await w.flush();
  const [file] = await listSegments(dir, 'flows');
  const db = await reader(t);
  const [row] = await db.rows('SELECT exporter::VARCHAR, src_addr::VARCHAR, time_received::VARCHAR, epoch_ms(time_received)::VARCHAR FROM read_parquet($files)', [file!]);
  assert.deepEqual(row, ['00000000-0000-0000-0000-ffffc0000201', '20010db8-0000-0000-0000-000000000001', '2023-11-14 22:13:20.123', String(ms)]);
  const schema = await db.rows(`SELECT name, type, type_length::VARCHAR, logical_type FROM parquet_schema($files) WHERE name IN ('exporter', 'time_received') ORDER BY name`, [file!]);
  assert.equal(schema[0]![1], 'FIXED_LEN_BYTE_ARRAY');
  assert.equal(schema[0]![2], '16');
  assert.match(String(schema[0]![3]), /UUID/);
  assert.equal(schema[1]![1], 'INT64');
  assert.match(String(schema[1]![3]), /MILLIS/);
  // The footer's (uncompressed) min/max statistics carry the column's raw bytes: the 16 address
  // bytes in network order, IPv4 mapped, exactly what another Parquet reader gets.
  const bytes = readFileSync(file!);
  const has = (needle: Uint8Array): boolean => bytes.indexOf(Buffer.from(needle)) >= 0;
  assert.ok(has(storedAddress(exporter, 0, 4)), 'exporter bytes ::ffff:192.0.2.1 in the file');
  assert.ok(has(src), 'src_addr bytes 2001:db8::1 in the file');
  const le = new Uint8Array(8);
  new DataView(le.buffer).setBigInt64(0, BigInt(ms), true);
  assert.ok(has(le), 'time_received as little-endian int64 ms in the statistics');
});

test('blocks that do not fit their layout are refused and counted, never thrown; bad timestamps become NULL', async (t) => {
  const dir = tempDir(t);
  const log = new MemoryLog();
  const w = await openWriter(t, dir, { log });
  const good = (n: number, id0: number): ColumnBlock =>
    blocksOf('flows', Array.from({ length: n }, (_, i) => ({ time_received: BASE, exporter: ip4(10, 0, 0, 1), domain: id0 + i, kind: 'v5', sampling: 1 })))[0]!;
  const g = good(3, 0);
  assert.equal(w.append({ ...g, table: 'nope' as TableName }), false);
  assert.equal(w.append({ ...g, data: new ArrayBuffer(16) }), false);
  assert.equal(w.append({ ...g, count: g.capacity + 1 }), false);
  assert.equal(w.append({ ...g, capacity: 4096 }), false);
  assert.equal(w.append({ ...g, strings: [] }), false);
  // Strings are checked when the block is taken, not when the window scan hands it to DuckDB.
  assert.equal(w.append({ ...g, strings: [[7, null, null] as unknown as string[]] }), false);
  const badKind = good(3, 10);
  const kindSlot = new BlockBuilder('flows').layout.slots[new BlockBuilder('flows').layout.index.get('kind')!]!;
  new Uint8Array(badKind.data)[kindSlot.offset + 1] = KINDS.length;
  assert.equal(w.append(badKind), false);
  const rec = new BlockBuilder('options');
  rec.addRow(); // record (never NULL) left NULL
  rec.timestamp(0, 0, BASE);
  rec.kind(3, 0, 'ipfix');
  assert.equal(w.append(rec.take()), false);
  // Rows as each block claimed: 3, 3, 2049 (the lying count), 3, 3, 3, 3, 1.
  assert.equal(w.stats().rowsDropped['invalid-block'], 2068);

  // Times outside 1970..9999 (a broken exporter clock) would make DuckDB refuse the whole segment.
  const odd = new BlockBuilder('flows');
  const ix = (n: string): number => odd.layout.index.get(n)!;
  for (const [i, [recv, end]] of ([[BASE, 1e17], [-5, -1], [1e17, BASE]] as const).entries()) {
    const r = odd.addRow();
    odd.timestamp(ix('time_received'), r, recv);
    odd.timestamp(ix('time_end'), r, end);
    odd.address(ix('exporter'), r, ip4(10, 0, 0, 2), 0, 4);
    odd.u32(ix('domain'), r, 100 + i);
    odd.kind(ix('kind'), r, 'v9');
  }
  assert.equal(w.append(odd.take()), true);
  assert.equal(w.append(good(2, 200)), true);
  const f = await w.flush();
  assert.equal(f.error, undefined);
  assert.equal(f.rowsWritten, 5);
  assert.equal(w.stats().timestampsRepaired, 4);
  const db = await reader(t);
  const got = await db.rows('SELECT domain, epoch_ms(time_received)::VARCHAR, epoch_ms(time_end)::VARCHAR FROM read_parquet($files) WHERE domain >= 100 AND domain < 200 ORDER BY domain', await listSegments(dir, 'flows'));
  assert.deepEqual(got, [
    [100, String(BASE), null],
    [101, '0', null],
    [102, String(Date.UTC(9999, 11, 31, 23, 59, 59, 999)), String(BASE)],
  ]);
  assert.ok(log.lines.some((l) => l.msg.includes('invalid-block')));
});

test('past maxBufferedRows blocks are dropped and counted as store-full; what was taken is written', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir, { maxBufferedRows: 5000 });
  const rows = Array.from({ length: 2048 * 3 }, (_, i) => ({ time_received: BASE + i, exporter: ip4(10, 0, 0, 1), domain: i, kind: 'v5', sampling: 1 }) as Row);
  const results = blocksOf('flows', rows).map((b) => w.append(b));
  assert.deepEqual(results, [true, true, false]);
  assert.equal(w.stats().rowsDropped['store-full'], 2048);
  assert.equal(w.stats().rowsBuffered, 4096);
  await w.flush();
  const db = await reader(t);
  assert.equal(await db.count(await listSegments(dir, 'flows')), 4096);
  // After the write, the buffer has room again.
  assert.equal(w.append(blocksOf('flows', rows.slice(0, 100))[0]!), true);
});
