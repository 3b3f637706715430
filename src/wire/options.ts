import type { FlowBatch } from './batch.js';
import type { DomainState } from './template-store.js';
import { decodeRecord, ListDecodeError, type FieldValue } from './values.js';
import { NETFLOW_PEN } from './ie/types.js';

const asNumber = (v: FieldValue): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : NaN);

/**
 * Learns per-domain facts from options records: systemInitTimeMilliseconds for sysUpTime-relative
 * timestamps, and sampling configuration (v9 SAMPLING_INTERVAL 34 / FLOW_SAMPLER_* 48-50, IPFIX
 * samplingPacketInterval 305, selectorId 302).
 */
export function absorbOptions(batch: FlowBatch, d: DomainState): void {
  const t = batch.template;
  for (let i = 0; i < batch.count; i++) {
    let vals: FieldValue[] | undefined;
    try {
      vals = decodeRecord(t, batch.buf, batch.starts[i]!, batch.starts[i + 1]!);
    } catch (err) {
      // A malformed list in an options record is counted by the decoder; the scalars here are
      // still worth learning, but without the list we cannot trust the record's layout.
      if (err instanceof ListDecodeError) continue;
      throw err;
    }
    if (vals === undefined) continue;
    let samplerId = -1;
    let interval = 0;
    for (let k = 0; k < t.fields.length; k++) {
      const f = t.fields[k]!;
      const v = vals[k]!;
      if (f.ie !== undefined && d.optionValues.size < 256) d.optionValues.set(f.ie.name, v);
      if (f.pen !== 0 && f.pen !== NETFLOW_PEN) continue;
      switch (f.id) {
        case 160:
          d.systemInitTimeMs = asNumber(v);
          break;
        case 34:
        case 50:
        case 305:
          interval = asNumber(v);
          break;
        case 35:
        case 49:
          d.samplingAlgorithm = asNumber(v);
          break;
        case 48:
        case 302:
          samplerId = asNumber(v);
          break;
      }
    }
    if (interval > 0) {
      if (samplerId >= 0 && d.samplers.size < 4096) d.samplers.set(samplerId, interval);
      d.samplingInterval = interval;
    }
  }
}
