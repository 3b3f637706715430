/** The decoders report each message's sequence number and units, by each protocol's rule. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { FlowDecoder } from '../../src/wire/decoder.js';
import { makeSession } from '../../src/wire/batch.js';
import { IeRegistry } from '../../src/wire/ie/registry.js';
import type { SequenceEvent } from '../../src/wire/stats.js';
import { IpfixMessageBuilder, type EncTemplate } from '../../src/wire/encode/ipfix.js';

function collect(datagrams: Buffer[]): { events: SequenceEvent[]; records: number } {
  const events: SequenceEvent[] = [];
  let records = 0;
  const d = new FlowDecoder({ registry: IeRegistry.builtin() }, { batch: (b) => (records += b.template.isOptions ? 0 : b.count), drop: () => {}, message: (e) => events.push(e) });
  const s = makeSession('udp', '192.0.2.1', 4000, 2055);
  for (const g of datagrams) d.decode(g, s, 1_700_000_000_000);
  return { events, records };
}

test('v5: flow_sequence with the header count as units', () => {
  const v5 = Buffer.alloc(24 + 48 * 2);
  v5.writeUInt16BE(5, 0);
  v5.writeUInt16BE(2, 2);
  v5.writeUInt32BE(1000, 16);
  const { events } = collect([v5]);
  assert.equal(events.length, 1);
  assert.deepEqual([events[0]!.protocol, events[0]!.sequence, events[0]!.units], ['netflow5', 1000, 2]);
});

test('sFlow: one event per datagram (agent, sub-agent) and one per sample (data source)', () => {
  const buf = readFileSync(new URL('../fixtures/sflow/sflow_issue_15918/message.bin', import.meta.url));
  const { events } = collect([buf]);
  const dg = events.filter((e) => e.protocol === 'sflow5');
  const samples = events.filter((e) => e.protocol === 'sflow5-sample');
  assert.equal(dg.length, 1);
  assert.ok(dg[0]!.agent !== undefined && dg[0]!.units === 1);
  assert.ok(samples.length >= 1 && samples.every((e) => e.source !== undefined && e.agent === dg[0]!.agent));
});

test('IPFIX: data records per message; a set held for its template makes the count unknown', () => {
  // Built with the project's own encoder: template 256 of two fields, then data.
  const t: EncTemplate = { id: 256, fields: [{ id: 8, length: 4 }, { id: 2, length: 4 }] };
  const rows = (n: number) => Array.from({ length: n }, (_, i) => [`10.0.0.${i}`, i]);
  const m = (seq: number) => new IpfixMessageBuilder({ domainId: 7, sequence: seq, exportTimeSec: 1_700_000_000 });
  const { events, records } = collect([m(0).data(t, rows(3)).build(), m(3).templates([t]).data(t, rows(2)).build(), m(5).data(t, rows(4)).build()]);
  assert.deepEqual(events.map((e) => [e.protocol, e.sequence, e.units, e.domainId]), [['ipfix', 0, 'unknown', 7], ['ipfix', 3, 2, 7], ['ipfix', 5, 4, 7]]);
  assert.equal(records, 9, 'the held set is decoded once its template comes, but counted with its own message');
});
