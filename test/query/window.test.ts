/**
 * -t time windows (relative, ISO 8601, nfdump's format, ranges) and --series intervals, with
 * errors at the right column.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInterval, parseWindow } from '../../src/query/window.js';
import { WindowError } from '../../src/query/errors.js';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);
const at = (h: number, m = 0, s = 0, ms = 0, day = 1): number => Date.UTC(2024, 4, day, h, m, s, ms);

test('relative windows end now', () => {
  assert.deepEqual(parseWindow('-1h', NOW), { fromMs: NOW - 3_600_000, toMs: NOW });
  assert.deepEqual(parseWindow('-30m', NOW), { fromMs: NOW - 1_800_000, toMs: NOW });
  assert.deepEqual(parseWindow('-7d', NOW), { fromMs: NOW - 7 * 86_400_000, toMs: NOW });
  assert.deepEqual(parseWindow('-90s', NOW), { fromMs: NOW - 90_000, toMs: NOW });
  assert.deepEqual(parseWindow('-2w', NOW), { fromMs: NOW - 14 * 86_400_000, toMs: NOW });
  assert.deepEqual(parseWindow('-1H', NOW), { fromMs: NOW - 3_600_000, toMs: NOW });
});

test('absolute times: ISO 8601 (UTC unless an offset is given) and nfdump', () => {
  const cases: [string, { fromMs?: number; toMs?: number }][] = [
    ['2024-05-01T10:00:00Z', { fromMs: at(10) }],
    ['2024-05-01T10:00:00', { fromMs: at(10) }],
    ['2024-05-01T10:00:00+02:00', { fromMs: at(8) }],
    ['2024-05-01T10:00-0530', { fromMs: at(15, 30) }],
    ['2024-05-01T10:00:00.250Z', { fromMs: at(10, 0, 0, 250) }],
    ['2024-05-01', { fromMs: at(0) }],
    ['2024-05-01 10:00', { fromMs: at(10) }],
    ['2024/05/01.10:00:00', { fromMs: at(10) }],
    ['2024/05/01.10:00', { fromMs: at(10) }],
    ['2024/05/01.10', { fromMs: at(10) }],
    ['2024/05/01', { fromMs: at(0) }],
    ['2024/5/1.9:05:03', { fromMs: at(9, 5, 3) }],
    ['2024-05-01T10:00:00Z/2024-05-01T11:00:00Z', { fromMs: at(10), toMs: at(11) }],
    ['2024/05/01.10:00:00-2024/05/01.11:00:00', { fromMs: at(10), toMs: at(11) }],
    ['2024/05/01.10:00:00/2024/05/01.11:00:00', { fromMs: at(10), toMs: at(11) }],
    ['2024/05/01/2024/05/02', { fromMs: at(0), toMs: at(0, 0, 0, 0, 2) }],
    ['2024-05-01T10:00:00-05:00/2024-05-01T11:00:00-05:00', { fromMs: at(15), toMs: at(16) }],
    ['2024-05-01-2024-05-02', { fromMs: at(0), toMs: at(0, 0, 0, 0, 2) }],
    ['2024-05-01T10:00/2024/05/01.11:00', { fromMs: at(10), toMs: at(11) }],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseWindow(text, NOW), want, text);
});

test('window errors name the column', () => {
  const cases: [string, number, RegExp][] = [
    ['-1x', 3, /unit s, m, h, d or w/],
    ['-h', 2, /number after "-"/],
    ['-0h', 2, /longer than 0/],
    ['2024-13-01', 6, /month must be from 1 to 12/],
    ['2024-02-30', 9, /day must be from 1 to 29/],
    ['2023-02-29', 9, /day must be from 1 to 28/],
    ['2024-05-01T25:00', 12, /hour must be from 0 to 23/],
    ['2024/05/01.10:00:00/2024/05/01.10:61', 35, /minutes must be from 0 to 59/],
    ['2024-05-01T11:00Z/2024-05-01T10:00Z', 19, /end of the window is not after its start/],
    ['yesterday', 1, /4-digit year/],
    ['2024.05.01', 5, /"-" \(ISO 8601\) or "\/" \(nfdump\)/],
    ['', 1, /expected a time window/],
    ['2024-05-01T10:00:00Zjunk', 21, /unexpected "j"/],
    ['2024-05-01T10:00:00+25:00', 21, /offset hours must be from 0 to 23/],
  ];
  for (const [text, column, reason] of cases) {
    assert.throws(
      () => parseWindow(text, NOW),
      (e: unknown) => {
        assert.ok(e instanceof WindowError, text);
        assert.equal(e.column, column, `${text}: ${e.message}`);
        assert.match(e.reason, reason, text);
        return true;
      },
    );
  }
});

test('series intervals', () => {
  assert.equal(parseInterval('1m'), 60_000);
  assert.equal(parseInterval('5m'), 300_000);
  assert.equal(parseInterval('1h'), 3_600_000);
  assert.equal(parseInterval('30s'), 30_000);
  assert.equal(parseInterval('1d'), 86_400_000);
  assert.equal(parseInterval('1w'), 604_800_000);
  for (const [text, column] of [['m', 1], ['5x', 2], ['0m', 1], ['', 1]] as const) {
    assert.throws(() => parseInterval(text), (e: unknown) => e instanceof WindowError && e.column === column && /^interval:/.test(e.message), text);
  }
});
