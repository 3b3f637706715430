/**
 * An sFlow datagram's records handed to the sink as FlowBatches: one batch per template, the
 * records contiguous in the writer's slab (copied together when the datagram mixed layouts).
 */
import type { FlowBatch, MessageContext, TransportSession } from '../batch.js';
import type { DecodeSink } from '../decoder.js';
import type { IeResolver } from '../fixed-formats.js';
import type { Template } from '../template.js';
import { float64s, int32s } from '../typed-slab.js';
import { decodeRecord, type FieldValue } from '../values.js';
import type { DatagramRecords } from './record-writer.js';

/**
 * Hands the datagram's records to the sink, one batch per template. The records move into a
 * buffer of their own (one allocation per datagram), since the writer is reused and a consumer
 * may keep a batch.
 */
export function emitBatches(recs: DatagramRecords, session: TransportSession, subAgent: number, seq: number, uptime: number, nowMs: number, registry: IeResolver, sink: DecodeSink): void {
  const ctx: MessageContext = {
    protocol: 'sflow5',
    session,
    domainId: subAgent,
    // sFlow has no wall clock in its header: the receive time stands in for the export time.
    exportTimeMs: nowMs,
    sequence: seq,
    sysUpTimeMs: uptime,
    receivedMs: nowMs,
  };
  const n = recs.n;
  const src = recs.out.buf;
  const tpl = recs.tpl;
  const first = tpl[0]!;
  let same = true;
  for (let k = 1; k < n; k++) {
    if (tpl[k] !== first) {
      same = false;
      break;
    }
  }
  if (same) {
    // The common case: every sample of the datagram had the same fields, and the records are
    // already contiguous in the slab.
    const starts = int32s(n + 1);
    for (let k = 0; k < n; k++) starts[k] = recs.start[k]!;
    starts[n] = recs.out.pos;
    recs.out.commit();
    batch(ctx, first, src, starts, registry, sink);
    return;
  }
  // Mixed layouts: each template's records are copied together behind the datagram's records.
  recs.room(recs.out.pos - recs.out.mark);
  const data = recs.out.buf;
  let pos = recs.out.pos;
  const groups: { t: Template; starts: Int32Array }[] = [];
  for (let k = 0; k < n; k++) {
    const t = tpl[k]!;
    let seen = false;
    for (let j = 0; j < k && !seen; j++) seen = tpl[j] === t; // a handful of samples: no Set needed
    if (seen) continue;
    let count = 0;
    for (let j = k; j < n; j++) if (tpl[j] === t) count++;
    const starts = int32s(count + 1);
    let c = 0;
    for (let j = k; j < n; j++) {
      if (tpl[j] !== t) continue;
      starts[c++] = pos;
      // copyWithin: a native move inside one buffer, without Buffer.copy's per-call checks.
      data.copyWithin(pos, recs.start[j]!, recs.end[j]!);
      pos += recs.end[j]! - recs.start[j]!;
    }
    starts[count] = pos;
    groups.push({ t, starts });
  }
  // Everything is in place before any consumer sees a batch, so an exception in a consumer cannot
  // leave a handed-out region open for reuse.
  recs.out.pos = pos;
  recs.out.commit();
  for (const g of groups) batch(ctx, g.t, data, g.starts, registry, sink);
}

function batch(ctx: MessageContext, t: Template, data: Buffer, starts: Int32Array, registry: IeResolver, sink: DecodeSink): void {
  const count = starts.length - 1;
  let lists: FieldValue[][] | undefined;
  if (t.structured) {
    // AS path and community lists: decoded once here, as FlowDecoder does for RFC 6313 data.
    lists = [];
    const resolve = (pen: number, id: number) => registry.get(pen, id);
    for (let i = 0; i < count; i++) lists.push(decodeRecord(t, data, starts[i]!, starts[i + 1]!, undefined, resolve) ?? []);
  }
  const b: FlowBatch = { ctx, template: t, buf: data, starts, count, startMs: float64s(count), endMs: float64s(count), lists };
  sink.batch(b);
}
