import type { FlowBatch } from './batch.js';
import type { DomainState } from './template-store.js';
import { decodeRecord, ListDecodeError, type FieldValue } from './values.js';
import { NETFLOW_PEN } from './ie/types.js';

const asNumber = (v: FieldValue): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : NaN);

/**
 * The sampling rate (1 in N) of RFC 5476 count-based sampling: samplingPacketInterval (305)
 * packets selected, then samplingPacketSpace (306) skipped, i.e. 1 in (305 + 306) / 305. Without
 * 306 (`space` < 0) some exporters mean "1 in 305" (against RFC 5476); taken as that. 0 when the
 * values say nothing.
 */
export function packetIntervalRate(selected: number, space: number): number {
  if (!(selected > 0)) return 0;
  return space >= 0 ? (selected + space) / selected : selected;
}

/**
 * The rate (1 in N) a PSAMP selector (RFC 5475 / 5477, selectorAlgorithm 304) implies, or 0 when
 * it implies none: time-based sampling (2) and property-match filtering (5) select packets by
 * something other than a fraction of them, so no factor scales their counts.
 */
function selectorRate(algorithm: number, p: SelectorParams): number {
  switch (algorithm) {
    case 1: // systematic count-based
      return packetIntervalRate(p.selected, p.space);
    case 3: // random n-out-of-N: samplingSize (309) of samplingPopulation (310)
      return p.size > 0 && p.population >= p.size ? p.population / p.size : 0;
    case 4: // uniform probabilistic: samplingProbability (311)
      return p.probability > 0 && p.probability <= 1 ? 1 / p.probability : 0;
    case 6: // hash-based filtering (BOB, IPSX, CRC): the selected share of the hash output range
    case 7:
    case 8: {
      const out = p.outMax - p.outMin + 1;
      const sel = p.selMax - p.selMin + 1;
      return out > 0 && sel > 0 && sel <= out ? out / sel : 0;
    }
    default:
      return 0;
  }
}

interface SelectorParams {
  selected: number;
  space: number;
  size: number;
  population: number;
  probability: number;
  outMin: number;
  outMax: number;
  selMin: number;
  selMax: number;
}

/**
 * Learns per-domain facts from options records: systemInitTimeMilliseconds for sysUpTime-relative
 * timestamps, and sampling configuration: v9 SAMPLING_INTERVAL 34 / FLOW_SAMPLER_ID 48 /
 * FLOW_SAMPLER_MODE 49 / FLOW_SAMPLER_RANDOM_INTERVAL 50, IPFIX samplingInterval 34,
 * samplerRandomInterval 50, and PSAMP selectors: selectorId 302 with selectorAlgorithm 304 and the
 * parameters of its algorithm (RFC 5477: 305/306, 309/310, 311, 329-332). Without 304, the
 * parameters present decide.
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
    let algorithm = -1;
    let learned = false;
    const p: SelectorParams = { selected: 0, space: -1, size: 0, population: 0, probability: 0, outMin: 0, outMax: -1, selMin: 0, selMax: -1 };
    for (let k = 0; k < t.fields.length; k++) {
      const f = t.fields[k]!;
      const v = vals[k]!;
      if (f.ie !== undefined && d.optionValues.size < 256) d.optionValues.set(f.ie.name, v);
      if (f.pen !== 0 && f.pen !== NETFLOW_PEN) continue;
      switch (f.id) {
        case 160:
          d.systemInitTimeMs = asNumber(v);
          learned = true;
          break;
        case 34:
        case 50:
          interval = asNumber(v);
          break;
        case 304:
          algorithm = asNumber(v);
          break;
        case 305:
          p.selected = asNumber(v);
          break;
        case 306:
          p.space = asNumber(v);
          break;
        case 309:
          p.size = asNumber(v);
          break;
        case 310:
          p.population = asNumber(v);
          break;
        case 311:
          p.probability = asNumber(v);
          break;
        case 329:
          p.outMin = asNumber(v);
          break;
        case 330:
          p.outMax = asNumber(v);
          break;
        case 331:
          p.selMin = asNumber(v);
          break;
        case 332:
          p.selMax = asNumber(v);
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
    if (!(interval > 0)) {
      if (algorithm >= 0) interval = selectorRate(algorithm, p);
      else interval = packetIntervalRate(p.selected, p.space) || selectorRate(3, p) || selectorRate(4, p);
    }
    if (interval > 0 && Number.isFinite(interval)) {
      if (samplerId >= 0 && d.samplers.size < 4096) d.samplers.set(samplerId, interval);
      d.samplingInterval = interval;
      learned = true;
    }
    if (learned) d.optionsSeenMs = batch.ctx.receivedMs;
  }
}
