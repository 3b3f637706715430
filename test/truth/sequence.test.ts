import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sequenceKeys, SequenceTracker, type SequenceCounts, type SequenceProtocol } from '../../src/pipeline/sequence.js';

const TWO32 = 4294967296;

/** Feeds [sequence, units] pairs of one stream and returns its counters. */
function run(protocol: SequenceProtocol, msgs: ReadonlyArray<readonly [number, number | 'unknown']>, t = new SequenceTracker(), key = 'k'): SequenceCounts {
  for (const [sequence, units] of msgs) t.observe({ protocol, key, sequence, units });
  const c = t.get(key);
  assert.ok(c !== undefined);
  return c;
}

/** The counters that matter, without protocol and message count. */
function pick(c: SequenceCounts): Omit<SequenceCounts, 'protocol' | 'messages'> {
  const { protocol: _p, messages: _m, ...rest } = c;
  return rest;
}

const clean = { expected: 0, received: 0, lost: 0, reordered: 0, duplicates: 0, resets: 0, unknown: 0, strays: 0 };

test('IPFIX counts data records: next = seq + records in the message', () => {
  const c = run('ipfix', [
    [1000, 10],
    [1010, 5],
    [1015, 0], // templates only: the next message carries the same sequence
    [1015, 7],
  ]);
  assert.deepEqual(pick(c), { ...clean, expected: 22, received: 22 });
  assert.equal(c.messages, 4);
});

test('IPFIX gap is lost until the late message arrives, then taken back as reordered', () => {
  const t = new SequenceTracker();
  const c1 = run('ipfix', [
    [0, 10],
    [20, 10],
  ], t);
  assert.deepEqual(pick(c1), { ...clean, expected: 30, received: 20, lost: 10 });
  const c2 = run('ipfix', [[10, 10]], t);
  assert.deepEqual(pick(c2), { ...clean, expected: 30, received: 30, reordered: 1 });
});

test('IPFIX: a late message only partly in a gap takes back its overlap', () => {
  const c = run('ipfix', [
    [0, 10],
    [20, 10], // gap [10, 20)
    [15, 10], // overlaps [15, 20) of the gap; [20, 25) was received already
  ]);
  assert.deepEqual(pick(c), { ...clean, expected: 30, received: 25, lost: 5, reordered: 1 });
});

test('NetFlow v9 counts packets (+1 each), whatever the records', () => {
  const c = run('netflow9', [
    [100, 30],
    [101, 2],
    [103, 'unknown'], // units do not matter to v9
    [102, 5],
  ]);
  assert.deepEqual(pick(c), { ...clean, expected: 4, received: 4, reordered: 1 });
});

test('NetFlow v5/v7 count flows: next = seq + header count', () => {
  const c5 = run('netflow5', [
    [0, 30],
    [30, 30],
    [90, 30],
  ]);
  assert.deepEqual(pick(c5), { ...clean, expected: 120, received: 90, lost: 30 });
  const c7 = run('netflow7', [
    [5, 27],
    [32, 1],
  ]);
  assert.deepEqual(pick(c7), { ...clean, expected: 28, received: 28 });
});

test('sFlow: datagrams per agent and samples per data source are separate streams', () => {
  const t = new SequenceTracker();
  const agent = sequenceKeys.agent('192.0.2.1', 0);
  const src = sequenceKeys.source('192.0.2.1', 0, 0, 7, 'flow');
  const ctr = sequenceKeys.source('192.0.2.1', 0, 0, 7, 'counter');
  assert.notEqual(src, ctr);
  run('sflow5', [
    [1, 4],
    [2, 4],
    [3, 4],
    [5, 4],
  ], t, agent);
  run('sflow5-sample', [
    [700, 1],
    [701, 1],
    [703, 1],
    [704, 1],
  ], t, src);
  run('sflow5-sample', [
    [9, 1],
    [10, 1],
  ], t, ctr);
  assert.deepEqual(pick(t.get(agent)!), { ...clean, expected: 5, received: 4, lost: 1 });
  assert.deepEqual(pick(t.get(src)!), { ...clean, expected: 5, received: 4, lost: 1 });
  assert.deepEqual(pick(t.get(ctr)!), { ...clean, expected: 2, received: 2 });
});

test('sequence numbers wrap at 2^32 without loss or reset', () => {
  const v9 = run('netflow9', [
    [TWO32 - 2, 1],
    [TWO32 - 1, 1],
    [0, 1],
    [1, 1],
  ]);
  assert.deepEqual(pick(v9), { ...clean, expected: 4, received: 4 });
  // IPFIX: 10 records from 2^32-5 end at 5.
  const ipfix = run('ipfix', [
    [TWO32 - 5, 10],
    [5, 3],
    [11, 4], // gap of 3 across nothing: 8, 9, 10
  ]);
  assert.deepEqual(pick(ipfix), { ...clean, expected: 20, received: 17, lost: 3 });
  // A gap straddling the wrap, filled late.
  const t = new SequenceTracker();
  run('netflow9', [
    [TWO32 - 1, 1],
    [1, 1],
  ], t);
  assert.equal(t.get('k')!.lost, 1);
  const filled = run('netflow9', [[0, 1]], t);
  assert.deepEqual(pick(filled), { ...clean, expected: 3, received: 3, reordered: 1 });
});

test('duplicates: a late message that fills no gap', () => {
  const v9 = run('netflow9', [
    [5, 1],
    [6, 1],
    [6, 1],
    [5, 1],
  ]);
  assert.deepEqual(pick(v9), { ...clean, expected: 2, received: 2, duplicates: 2 });
  const ipfix = run('ipfix', [
    [100, 10],
    [110, 10],
    [110, 10],
  ]);
  assert.deepEqual(pick(ipfix), { ...clean, expected: 20, received: 20, duplicates: 1 });
});

test('exporter restart: a backwards jump confirmed by the next message is a reset, not loss', () => {
  const c = run('netflow9', [
    [1000, 1],
    [1001, 1],
    [1002, 1],
    [0, 1], // restart
    [1, 1],
    [2, 1],
  ]);
  assert.deepEqual(pick(c), { ...clean, expected: 6, received: 6, resets: 1 });
  // IPFIX restarting at 0 after billions of records: nothing lost.
  const i = run('ipfix', [
    [3_000_000_000, 30],
    [3_000_000_030, 30],
    [0, 20],
    [20, 20],
  ]);
  assert.deepEqual(pick(i), { ...clean, expected: 100, received: 100, resets: 1 });
});

test('an absurd forward jump confirmed by the next message is a reset too', () => {
  const c = run('netflow9', [
    [10, 1],
    [11, 1],
    [3_000_000_000, 1],
    [3_000_000_001, 1],
  ]);
  assert.deepEqual(pick(c), { ...clean, expected: 4, received: 4, resets: 1 });
});

test('a restart with loss right after it counts the loss in the new stream', () => {
  const c = run('netflow9', [
    [500, 1],
    [501, 1],
    [0, 1],
    [3, 1],
  ]);
  assert.deepEqual(pick(c), { ...clean, expected: 6, received: 4, lost: 2, resets: 1 });
});

test('a single far-off message the next one does not confirm is a stray', () => {
  const c = run('netflow9', [
    [10, 1],
    [11, 1],
    [3_000_000_000, 1],
    [12, 1],
  ]);
  assert.deepEqual(pick(c), { ...clean, expected: 3, received: 3, strays: 1 });
  // Two strays in a row that do not agree with each other, then the stream goes on.
  const d = run('netflow9', [
    [10, 1],
    [2_000_000_000, 1],
    [3_000_000_000, 1],
    [11, 1],
  ]);
  assert.deepEqual(pick(d), { ...clean, expected: 2, received: 2, strays: 2 });
});

test('the reorder window: within it late, beyond it far off', () => {
  const t = new SequenceTracker({ windowMessages: 8 });
  const msgs: [number, number][] = [];
  for (let s = 0; s < 20; s++) if (s !== 3 && s !== 14) msgs.push([s, 1]);
  run('netflow9', msgs, t);
  assert.equal(t.get('k')!.lost, 2);
  // 14 is 6 behind the next expected (20), within 8: reordered. 3 is 17 behind: held, then 20 follows: a stray.
  run('netflow9', [
    [14, 1],
    [3, 1],
    [20, 1],
  ], t);
  assert.deepEqual(pick(t.get('k')!), { ...clean, expected: 21, received: 20, lost: 1, reordered: 1, strays: 1 });
});

test('unknown units: the gap before still counts, the next message resynchronises without loss', () => {
  const c = run('ipfix', [
    [0, 10],
    [15, 'unknown'], // 5 records lost before it; its own count is unknown
    [57, 10], // resynchronised: no loss counted for 15..57
    [67, 3],
  ]);
  assert.deepEqual(pick(c), { ...clean, expected: 28, received: 23, lost: 5, unknown: 1 });
  // The very first message unknown: the baseline is set by the second.
  const d = run('ipfix', [
    [100, 'unknown'],
    [400, 10],
    [410, 10],
  ]);
  assert.deepEqual(pick(d), { ...clean, expected: 20, received: 20, unknown: 1 });
});

test('a late message after an unknown one is still placed against the gaps', () => {
  const c = run('ipfix', [
    [0, 10],
    [20, 10], // gap [10, 20)
    [30, 'unknown'],
    [10, 10], // fills the gap
    [77, 1],
  ]);
  assert.deepEqual(pick(c), { ...clean, expected: 31, received: 31, reordered: 1, unknown: 1 });
});

test('bounded memory: streams past maxKeys are evicted oldest first and their counts stay in the totals', () => {
  const t = new SequenceTracker({ maxKeys: 2 });
  run('netflow9', [
    [1, 1],
    [3, 1],
  ], t, 'a');
  run('netflow9', [[1, 1]], t, 'b');
  run('netflow9', [[2, 1]], t, 'a'); // 'a' is now the most recent: 'b' goes first
  run('ipfix', [[0, 10]], t, 'c');
  assert.equal(t.size, 2);
  assert.equal(t.evicted, 1);
  assert.equal(t.get('b'), undefined);
  assert.deepEqual([...t.entries()].map(([k]) => k), ['a', 'c']);
  const totals = t.totals();
  assert.deepEqual(pick(totals.get('netflow9')!), { ...clean, expected: 4, received: 4, reordered: 1 });
  assert.equal(totals.get('netflow9')!.messages, 4);
  assert.deepEqual(pick(totals.get('ipfix')!), { ...clean, expected: 10, received: 10 });
  t.forget('a');
  assert.equal(t.get('a'), undefined);
  assert.equal(t.totals().get('netflow9')!.received, 4);
});

test('gaps per stream are bounded: the oldest stay lost for good', () => {
  const t = new SequenceTracker({ windowMessages: 1000 });
  const msgs: [number, number][] = [];
  // 30 gaps of one packet each: only the newest 16 can still be filled.
  for (let s = 0; s < 60; s += 2) msgs.push([s, 1]);
  run('netflow9', msgs, t);
  assert.equal(t.get('k')!.lost, 29);
  run('netflow9', [
    [1, 1], // forgotten gap: a duplicate as far as the tracker can tell
    [57, 1], // remembered
  ], t);
  const c = t.get('k')!;
  assert.equal(c.lost, 28);
  assert.equal(c.reordered, 1);
  assert.equal(c.duplicates, 1);
});

test('a stream whose key now speaks another protocol starts again', () => {
  const t = new SequenceTracker();
  run('netflow9', [
    [1, 1],
    [2, 1],
  ], t);
  const c = run('ipfix', [[500, 10]], t);
  assert.equal(c.protocol, 'ipfix');
  assert.deepEqual(pick(c), { ...clean, expected: 10, received: 10 });
  assert.equal(t.totals().get('netflow9')!.received, 2);
});

test('keys: one spelling per stream kind', () => {
  assert.equal(sequenceKeys.domain('udp|192.0.2.1|2055|2055', 7), 'udp|192.0.2.1|2055|2055|7');
  assert.notEqual(sequenceKeys.source('a', 0, 0, 1, 'flow'), sequenceKeys.source('a', 0, 0, 1, 'discard'));
  assert.throws(() => new SequenceTracker({ maxKeys: 0 }), RangeError);
});

test('ExporterAccount: interleaved sFlow samples of two agents, sources and kinds each keep their own stream', async () => {
  const { ExporterAccount } = await import('../../src/pipeline/exporters.js');
  const { makeSession } = await import('../../src/wire/batch.js');
  const acc = new ExporterAccount();
  const session = makeSession('udp', '192.0.2.9', 6343, 6343);
  const sample = (agent: string, subAgent: number, index: number, kind: 'flow' | 'counter', sequence: number) =>
    acc.message({ protocol: 'sflow5-sample', session, domainId: subAgent, agent, source: { type: 0, index, kind }, sequence, units: 1, exportTimeMs: 0, receivedMs: 0 });
  // Agent A, sub-agent 0: ifIndex 3 flow samples 1, 2, (3 lost), 4; ifIndex 3 counter samples 1, 2; ifIndex 5 flow samples 7, 8.
  // Agent B, sub-agent 0, and agent A, sub-agent 1: ifIndex 3 flow samples 1, 2, 3 (the same numbers, other streams).
  for (const [i, s] of [1, 2, 4].entries()) {
    sample('10.0.0.1', 0, 3, 'flow', s);
    sample('10.0.0.2', 0, 3, 'flow', i + 1);
    sample('10.0.0.1', 1, 3, 'flow', i + 1);
    if (i < 2) sample('10.0.0.1', 0, 3, 'counter', i + 1);
    if (i < 2) sample('10.0.0.1', 0, 5, 'flow', 7 + i);
  }
  const counts = acc.sequenceCounts();
  const lost = (agent: string, sub: number, index: number, kind: 'flow' | 'counter') => counts.get(sequenceKeys.source(agent, sub, 0, index, kind))?.lost;
  assert.equal(lost('10.0.0.1', 0, 3, 'flow'), 1);
  assert.equal(lost('10.0.0.1', 0, 3, 'counter'), 0);
  assert.equal(lost('10.0.0.1', 0, 5, 'flow'), 0);
  assert.equal(lost('10.0.0.2', 0, 3, 'flow'), 0);
  assert.equal(lost('10.0.0.1', 1, 3, 'flow'), 0);
  assert.equal(counts.size, 5);
  const byExporter = new Map(acc.take().map((d) => [d.exporter, d.sequence]));
  assert.deepEqual(byExporter.get('10.0.0.1')!.map((r) => r[2]).sort(), [0, 0, 0, 1]);
  assert.deepEqual(byExporter.get('10.0.0.2')!.map((r) => r[2]), [0]);
});

test('a full tracker forgets the least recently seen sixteenth at once, whatever order the keys came in', () => {
  const t = new SequenceTracker({ maxKeys: 32 });
  for (let k = 0; k < 32; k++) t.observe({ protocol: 'netflow9', key: `k${k}`, sequence: 1, units: 1 });
  // Seen again in reverse (k31 first, so the oldest), then k0 .. k15 once more: insertion order is not recency.
  for (let k = 31; k >= 0; k--) t.observe({ protocol: 'netflow9', key: `k${k}`, sequence: 2, units: 1 });
  for (let k = 0; k < 16; k++) t.observe({ protocol: 'netflow9', key: `k${k}`, sequence: 3, units: 1 });
  t.observe({ protocol: 'netflow9', key: 'new', sequence: 1, units: 1 });
  assert.equal(t.evicted, 2);
  // 32 / 16 = 2 forgotten: the two least recently seen, k31 and k30; k0, first inserted, stays.
  assert.equal(t.get('k31'), undefined);
  assert.equal(t.get('k30'), undefined);
  assert.notEqual(t.get('k29'), undefined);
  assert.notEqual(t.get('k0'), undefined);
  assert.equal(t.size, 31);
  assert.equal(t.totals().get('netflow9')!.messages, 32 * 2 + 16 + 1, 'the forgotten streams still count');
});
