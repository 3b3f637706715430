/**
 * The one-way house: the imports of src/ against the layout (scripts/check-layout.ts), and the
 * checker itself against a graph that breaks each rule, so a broken checker cannot pass quietly.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import { checkLayout, importGraph, type Import } from '../../scripts/check-layout.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('every import of src/ runs down the layout; no cycle between folders', () => {
  const imports = importGraph(ROOT);
  assert.ok(imports.length > 300, `the graph was read (${imports.length} imports)`);
  const v = checkLayout(imports);
  assert.deepEqual(v.map((x) => `${x.rule}: ${x.text}`), []);
});

test('the checker finds each kind of wrong arrow', () => {
  const imp = (from: string, to: string): Import => ({ from: `src/${from}`, to: `src/${to}`, spec: '../x.js', line: 1 });
  const rules = (list: Import[]) => checkLayout(list).map((x) => x.rule).sort();
  assert.deepEqual(rules([imp('collect/a.ts', 'cli/b.ts')]), ['imports-cli']);
  assert.deepEqual(rules([imp('wire/a.ts', 'model/b.ts')]), ['wire-outside']);
  assert.deepEqual(rules([imp('sources/a.ts', 'service/b.ts')]), ['upward']);
  assert.deepEqual(rules([imp('store/a.ts', 'collect/b.ts')]), ['upward']);
  assert.deepEqual(rules([imp('nowhere/a.ts', 'wire/b.ts')]), ['unknown-room']);
  assert.deepEqual(rules([imp('outputs/a.ts', 'format/b.ts'), imp('format/c.ts', 'outputs/d.ts')]), ['cycle', 'upward']);
  assert.deepEqual(rules([imp('collect/a.ts', 'store/b.ts'), imp('store/c.ts', 'wire/d.ts')]), []);
});
