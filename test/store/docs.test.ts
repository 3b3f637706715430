/**
 * docs/store.md stays true: its column tables say what schema.ts says, and its DuckDB example runs
 * against a real store and gives the right answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BlockBuilder } from '../../src/store/columns.js';
import { TABLES } from '../../src/store/schema.js';
import { openWriter, reader, tempDir } from './helpers/store-env.js';

const DOC = readFileSync(fileURLToPath(new URL('../../docs/store.md', import.meta.url)), 'utf8');

test('the column tables of docs/store.md match schema.ts', () => {
  const section = (title: string): string => {
    const start = DOC.indexOf(`\n### ${title}\n`);
    assert.ok(start >= 0, `section "${title}"`);
    const end = DOC.indexOf('\n#', start + 1);
    return DOC.slice(start, end < 0 ? undefined : end);
  };
  for (const [table, columns] of Object.entries(TABLES)) {
    const text = section(table === 'flows' ? 'flows' : 'options and counters');
    for (const c of columns) {
      const row = new RegExp(`^\\| \`${c.name}\` \\| ${c.type} \\| ${c.nullable ? 'yes' : 'no'} \\| (.*) \\|$`, 'm').exec(text);
      assert.ok(row !== null, `${table}.${c.name} (${c.type}, ${c.nullable ? 'nullable' : 'never NULL'}) is documented`);
      assert.equal(row[1]!.replaceAll('\\|', '|'), c.doc, `${table}.${c.name}: the doc text is schema.ts's`);
    }
  }
});

test('the DuckDB example of docs/store.md runs on a store and answers correctly', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir);
  const b = new BlockBuilder('flows');
  const ix = (n: string): number => b.layout.index.get(n)!;
  const at = Date.UTC(2024, 2, 1, 10, 30);
  const rows: { src: Uint8Array; bytes: number; sampling: number }[] = [
    { src: new Uint8Array([10, 1, 2, 3]), bytes: 1000, sampling: 10 },
    { src: new Uint8Array([10, 1, 2, 3]), bytes: 500, sampling: 10 },
    { src: new Uint8Array([11, 0, 0, 1]), bytes: 100, sampling: 1 },
    { src: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), bytes: 7000, sampling: 1 },
  ];
  for (const [i, row] of rows.entries()) {
    const r = b.addRow();
    b.timestamp(ix('time_received'), r, at + i);
    b.timestamp(ix('time_end'), r, at + i);
    b.address(ix('exporter'), r, new Uint8Array([127, 0, 0, 1]), 0, 4);
    b.kind(ix('kind'), r, 'ipfix');
    b.address(ix('src_addr'), r, row.src, 0, row.src.length as 4 | 16);
    b.u64(ix('bytes'), r, row.bytes);
    b.u32(ix('sampling'), r, row.sampling);
  }
  w.append(b.take());
  await w.flush();

  const block = /<!-- duckdb-example[^>]*-->\n```sql\n([\s\S]*?)```/.exec(DOC);
  assert.ok(block !== null, 'the example is marked');
  const statements = block[1]!.replaceAll('STORE', dir).split(/;\s*\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  assert.equal(statements.length, 5);
  const db = await reader(t);
  const results = [];
  for (const s of statements) results.push((await db.con.runAndReadAll(s)).getRowsJson());
  assert.deepEqual(results[3], [
    ['10.1.2.3', '15000', '2'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '7000', '1'],
    ['11.0.0.1', '100', '1'],
  ]);
  assert.deepEqual(results[4], [['2']]);
});
