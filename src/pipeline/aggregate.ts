/**
 * Aggregation windows: flows are summed per unique (src_ip, dst_ip, dst_port, protocol
 * [, icmp type, icmp code]) within a window of `aggregation_minutes`, with the number of flow
 * records, packets, octets and the first and last time seen.
 *
 * Windows are aligned to the clock (multiples of the window length since the Unix epoch), and a
 * record belongs to the window in which it arrived, not the one its own timestamps fall in: a
 * window can then be closed at its end without waiting for late exporters, and every record is
 * counted in exactly one window.
 */
import type { FlowBatch } from '../wire/batch.js';
import { addressText, flowKey, FlowReader, newFlowFields, planFor, type FlowFields } from './flow-fields.js';
import { rateAt } from '../model/rates.js';
import { SamplingTracker } from './sampling.js';

export interface AggregatedFlow {
  readonly srcIp: string;
  readonly dstIp: string;
  readonly dstPort: number;
  readonly proto: number;
  /** -1 when not ICMP / ICMPv6. */
  readonly icmpType: number;
  readonly icmpCode: number;
  /** Number of flow records merged into this one. */
  flows: number;
  packets: number;
  bytes: number;
  /** ms since the epoch: earliest flow start / latest flow end of the merged records. */
  firstMs: number;
  lastMs: number;
}

/** A closed window. */
export interface WindowResult {
  readonly startMs: number;
  readonly endMs: number;
  readonly flows: readonly AggregatedFlow[];
  /** Flow records that went into it. */
  readonly records: number;
  readonly reason: FlushReason;
}

export type FlushReason = 'window_end' | 'stop' | 'size_cap';

/** What one batch contributed (the pipeline turns these into counters, once per batch). */
export interface BatchTally {
  /** Flow records read. */
  records: number;
  /** Records dropped, by reason. */
  classD: number;
  unreadable: number;
  /** Records of templates that are not flows (options, sFlow counters) or have no addresses. */
  ignored: number;
  ignoredReason: string;
}

export function newTally(): BatchTally {
  return { records: 0, classD: 0, unreadable: 0, ignored: 0, ignoredReason: '' };
}

export class WindowAggregator {
  readonly windowMs: number;
  #map = new Map<string, AggregatedFlow>();
  #records = 0;
  #start: number;
  readonly #reader = new FlowReader();
  readonly #f: FlowFields = newFlowFields();
  /** The rate in force of each record (src/pipeline/sampling.ts): aggregates count what the records stand for. */
  readonly #sampling = new SamplingTracker();

  /**
   * @param windowMs window length
   * @param maxKeys unique keys held before the window is closed early (bounds memory)
   */
  constructor(windowMs: number, nowMs: number, readonly maxKeys = 1_000_000) {
    if (!(windowMs > 0)) throw new RangeError(`aggregation window must be positive, got ${windowMs}`);
    this.windowMs = windowMs;
    this.#start = this.alignedStart(nowMs);
  }

  alignedStart(nowMs: number): number {
    return Math.floor(nowMs / this.windowMs) * this.windowMs;
  }

  get startMs(): number {
    return this.#start;
  }
  get endMs(): number {
    return this.#start + this.windowMs;
  }
  /** Unique keys in the open window. */
  get size(): number {
    return this.#map.size;
  }
  get records(): number {
    return this.#records;
  }
  get full(): boolean {
    return this.#map.size >= this.maxKeys;
  }

  /** Adds every flow record of `b`; `tally` receives what was read and dropped. */
  add(b: FlowBatch, tally: BatchTally): void {
    const plan = planFor(b.template);
    if (!plan.usable) {
      tally.ignored += b.count;
      tally.ignoredReason = plan.reason;
      return;
    }
    const f = this.#f;
    const map = this.#map;
    const fallback = b.ctx.receivedMs;
    const rates = this.#sampling.rates(b);
    for (let i = 0; i < b.count; i++) {
      if (!this.#reader.read(b, plan, i, f)) {
        tally.unreadable++;
        continue;
      }
      tally.records++;
      if (f.multicast) {
        tally.classD++;
        continue;
      }
      const rate = rateAt(rates, i);
      const packets = f.packets * rate;
      const bytes = f.bytes * rate;
      let first = b.startMs[i]!;
      let last = b.endMs[i]!;
      if (Number.isNaN(first)) first = Number.isNaN(last) ? fallback : last;
      if (Number.isNaN(last)) last = first;
      const key = flowKey(f);
      const a = map.get(key);
      if (a === undefined) {
        map.set(key, {
          srcIp: addressText(f.buf, f.srcOff, f.srcLen),
          dstIp: addressText(f.buf, f.dstOff, f.dstLen),
          dstPort: f.dstPort,
          proto: f.proto,
          icmpType: f.icmpType,
          icmpCode: f.icmpCode,
          flows: 1,
          packets,
          bytes,
          firstMs: first,
          lastMs: last,
        });
      } else {
        a.flows++;
        a.packets += packets;
        a.bytes += bytes;
        if (first < a.firstMs) a.firstMs = first;
        if (last > a.lastMs) a.lastMs = last;
      }
      this.#records++;
    }
  }

  /**
   * Closes the open window and opens the one containing `nowMs` (or, for an early close, continues
   * the same clock window with an empty table).
   */
  take(nowMs: number, reason: FlushReason): WindowResult {
    const flows = [...this.#map.values()];
    const res: WindowResult = {
      startMs: this.#start,
      endMs: reason === 'window_end' ? this.#start + this.windowMs : Math.max(this.#start, Math.min(nowMs, this.#start + this.windowMs)),
      flows,
      records: this.#records,
      reason,
    };
    this.#map = new Map();
    this.#records = 0;
    this.#start = this.alignedStart(nowMs);
    return res;
  }
}
