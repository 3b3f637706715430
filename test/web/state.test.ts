/**
 * The page's state module (web/state.js, plain JavaScript run here as it ships): the URL round
 * trip, defaults for what is missing or wrong, the drill-down's narrowed filter (checked with the
 * query module's parser: same meaning, and still one filter), custom ranges.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFilter } from '../../src/query/filter-parse.js';
import { parseWindow } from '../../src/query/window.js';
// @ts-expect-error web/ is plain JavaScript without declarations (no build step)
import * as stateModule from '../../web/state.js';

interface State {
  view: string;
  t: string;
  filter: string;
  dim: string;
  unit: string;
  top: number;
  flows: boolean;
  offset: number;
  limit: number;
  cols: string[];
}
const { DEFAULTS, readState, writeState, narrowFilter, customRange, rangeBounds, RANGES, DIMENSIONS } = stateModule as {
  DEFAULTS: State;
  readState: (search: string) => State;
  writeState: (s: State) => string;
  narrowFilter: (base: string, extra: string) => string;
  customRange: (fromMs: number, toMs: number) => string;
  rangeBounds: (t: string) => { fromMs: number; toMs: number } | null;
  RANGES: Array<{ t: string }>;
  DIMENSIONS: Array<{ key: string }>;
};

test('the state round-trips through the URL; defaults stay out of it', () => {
  assert.equal(writeState(DEFAULTS), '');
  assert.deepEqual(readState(''), { ...DEFAULTS, cols: [...DEFAULTS.cols] });
  const s: State = { view: 'traffic', t: '2018-11-08T19:40:00.000Z/2018-11-08T20:20:00.000Z', filter: 'proto tcp and (port 80 or port 443)', dim: 'dstport', unit: 'pps', top: 20, flows: true, offset: 100, limit: 25, cols: ['time_end', 'src_addr', 'extra'] };
  const search = writeState(s);
  assert.deepEqual(readState(search), s);
  assert.equal(writeState(readState(search)), search);
  assert.match(search, /filter=proto\+tcp\+and\+%28port\+80\+or\+port\+443%29/);
});

test('unknown or broken values in the URL fall back to the defaults', () => {
  const s = readState('?view=admin&dim=nosuch&unit=bytes&top=999&offset=-3&limit=7&cols=%3Cscript%3E&flows=yes');
  assert.deepEqual([s.view, s.dim, s.unit, s.top, s.offset, s.limit, s.cols, s.flows], ['traffic', 'srcip', 'bps', 10, 0, 50, DEFAULTS.cols, false]);
});

test('every preset range and the custom ones are windows sluice query reads', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  for (const r of RANGES) assert.ok(parseWindow(r.t, now).fromMs! < now, r.t);
  const t = customRange(Date.parse('2024-05-01T10:00:00Z'), Date.parse('2024-05-01T11:30:00Z'));
  assert.deepEqual(parseWindow(t), { fromMs: Date.parse('2024-05-01T10:00:00Z'), toMs: Date.parse('2024-05-01T11:30:00Z') });
  assert.deepEqual(rangeBounds(t), parseWindow(t));
  assert.equal(rangeBounds('-1h'), null);
  assert.ok(DIMENSIONS.length >= 10);
});

test('a drill-down narrows the filter: and-ed on, a base with "or" kept whole', () => {
  assert.equal(narrowFilter('', 'src ip 10.0.0.1'), 'src ip 10.0.0.1');
  assert.equal(narrowFilter('proto tcp', 'dst port 443'), 'proto tcp and dst port 443');
  assert.equal(narrowFilter('port 80 or port 443', 'src ip 10.0.0.1'), '(port 80 or port 443) and src ip 10.0.0.1');
  assert.equal(narrowFilter('src or dst ip 10.0.0.1', 'proto 6'), '(src or dst ip 10.0.0.1) and proto 6');
  // The narrowed text is one filter whose top is the `and` of the base and the new test.
  const n = parseFilter(narrowFilter('port 80 || port 443', 'proto 17')) as { type: string; items: Array<{ type: string }> };
  assert.equal(n.type, 'and');
  assert.deepEqual(n.items.map((i) => i.type), ['or', 'number']);
  const m = parseFilter(narrowFilter('not proto tcp', 'dst port 53')) as { type: string; items: Array<{ type: string }> };
  assert.deepEqual([m.type, ...m.items.map((i) => i.type)], ['and', 'not', 'number']);
});
