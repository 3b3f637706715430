import type { FlowBatch } from './batch.js';
import type { DomainState } from './template-store.js';
import { decodeRecord, ListDecodeError, type FieldValue } from './values.js';
import { NETFLOW_PEN } from './ie/types.js';

const asNumber = (v: FieldValue): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : NaN);

/**
 * Learns per-domain facts from options records: systemInitTimeMilliseconds for sysUpTime-relative
 * timestamps, and sampling configuration (v9 SAMPLING_INTERVAL 34 / FLOW_SAMPLER_* 48-50, IPFIX
 * samplingInterval 34, samplingPacketInterval 305 with samplingPacketSpace 306, selectorId 302).
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
    // RFC 5476 count-based sampling: samplingPacketInterval (305) packets selected, then
    // samplingPacketSpace (306) skipped, i.e. 1 in (305 + 306) / 305.
    let selected = 0;
    let space = -1;
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
          interval = asNumber(v);
          break;
        case 305:
          selected = asNumber(v);
          break;
        case 306:
          space = asNumber(v);
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
    if (interval <= 0 && selected > 0) {
      // 305 without 306 is how some exporters state "1 in N" (against RFC 5476); taken as N then.
      interval = space >= 0 ? (selected + space) / selected : selected;
    }
    if (interval > 0) {
      if (samplerId >= 0 && d.samplers.size < 4096) d.samplers.set(samplerId, interval);
      d.samplingInterval = interval;
    }
  }
}
