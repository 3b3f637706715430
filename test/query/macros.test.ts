/**
 * The SQL macros agree with the TypeScript address code: ip_text with the RFC 5952 formatter of
 * src/wire/packet/addr.ts, the net macros with prefix ranges, over random and edge addresses.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance, listValue, type DuckDBConnection } from '@duckdb/node-api';
import { macroStatements } from '../../src/query/macros.js';
import { addressText, networkText, prefixRange, uuidAddressText, uuidBytes } from '../../src/query/address.js';
import { addressUuid } from '../../src/store/columns.js';
import { Prng } from '../helpers/prng.js';

let db: DuckDBInstance;
let conn: DuckDBConnection;
before(async () => {
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  for (const m of macroStatements()) await conn.run(m);
});
after(() => {
  conn.closeSync();
  db.closeSync();
});

/** Random addresses with runs of zero groups (the hard part of RFC 5952), and IPv4-mapped ones. */
function addresses(n: number, seed: number): Uint8Array[] {
  const rng = new Prng(seed);
  const out: Uint8Array[] = [new Uint8Array(16), Uint8Array.from([...Array(15).fill(0), 1])];
  for (let i = 0; i < n; i++) {
    const b = new Uint8Array(16);
    if (rng.int(0, 3) === 0) {
      b[10] = 0xff;
      b[11] = 0xff;
      for (let j = 12; j < 16; j++) b[j] = rng.int(0, 255);
    } else {
      for (let g = 0; g < 8; g++) {
        const kind = rng.int(0, 2); // zero group, small group, full group
        const v = kind === 0 ? 0 : kind === 1 ? rng.int(1, 15) : rng.int(0, 0xffff);
        b[2 * g] = v >> 8;
        b[2 * g + 1] = v & 0xff;
      }
    }
    out.push(b);
  }
  return out;
}

test('ip_text matches the RFC 5952 formatter', async () => {
  const all = addresses(2000, 20240501);
  const r = await conn.runAndReadAll('SELECT ip_text(u::UUID) FROM unnest($1) WITH ORDINALITY AS t(u, i) ORDER BY i', [listValue(all.map(addressUuid))]);
  const got = r.getRowsJS().map((row) => row[0]);
  all.forEach((b, i) => assert.equal(got[i], addressText(b), addressUuid(b)));
  const n = await conn.runAndReadAll('SELECT ip_text(NULL::UUID)');
  assert.equal(n.getRowsJS()[0]![0], null);
});

test('the net macros mask to the same network as a prefix range', async () => {
  const rng = new Prng(7);
  for (const b of addresses(200, 99)) {
    const v4 = b[10] === 0xff && b[11] === 0xff && b.subarray(0, 10).every((x) => x === 0);
    const len = v4 ? rng.int(0, 32) : rng.int(0, 128);
    const bits = v4 ? 96 + len : len;
    const r = await conn.runAndReadAll('SELECT sluice_net_hi($1::UUID, $2::INTEGER), sluice_net_lo($1::UUID, $2::INTEGER), sluice_net_bits($1::UUID, $3::INTEGER, $3::INTEGER)', [addressUuid(b), bits, len]);
    const [hi, lo, got] = r.getRowsJS()[0]!;
    assert.equal(Number(got), bits);
    const expected = prefixRange(b, bits).lo;
    assert.equal(networkText(BigInt(hi as bigint), BigInt(lo as bigint), bits), `${addressText(uuidBytes(expected))}/${len}`);
  }
});

test('the fast UUID reader of raw flows gives the same text as the formatter', () => {
  for (const b of addresses(2000, 5)) assert.equal(uuidAddressText(addressUuid(b)), addressText(b));
});
