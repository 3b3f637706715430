/**
 * What the query engine returns: plain data that the CLI formats and the HTTP API serialises.
 *
 * Counters (packets, bytes) are scaled by sampling. They are JavaScript numbers: exact up to 2^53
 * (9 PB), the nearest double beyond. Rates: bps and pps over a span in ms (nfdump's: 0 when the
 * span is 0), bpp = bytes / packets (0 without packets).
 */
import type { KeyName, KeyValue, Order } from './keys.js';
import type { FlowRecord } from './records.js';
import type { TimeWindow } from './window.js';

export interface Counters {
  readonly flows: number;
  readonly packets: number;
  readonly bytes: number;
}

export interface Rates {
  readonly bps: number;
  readonly pps: number;
  readonly bpp: number;
}

/** Everything the filter and window matched. */
export interface Totals extends Counters, Rates {
  /** The window asked for. */
  readonly window: TimeWindow;
  /** First seen (earliest flow start) and last seen (latest flow end) of the matched flows; null when none matched. */
  readonly firstMs: number | null;
  readonly lastMs: number | null;
}

/** One group of a statistic: its key values and what its flows add up to (rates over its first to last seen). */
export interface AggregateRow extends Counters, Rates {
  /** One value per key of the query, in the query's order. */
  readonly values: readonly KeyValue[];
  readonly firstMs: number;
  readonly lastMs: number;
}

export interface AggregateResult {
  readonly keys: readonly KeyName[];
  readonly order: Order;
  /** Totals of the matched flows (each flow once, whatever the keys). */
  readonly totals: Totals;
  readonly rows: readonly AggregateRow[];
}

/** One interval of a series; rates over the interval's length. */
export interface SeriesPoint extends Counters {
  readonly startMs: number;
  readonly bps: number;
  readonly pps: number;
  /** With a split: the counters of each top value (aligned with SeriesResult.values), and of the rest. */
  readonly split?: readonly Counters[];
  readonly other?: Counters;
}

export interface SeriesResult {
  readonly intervalMs: number;
  readonly totals: Totals;
  /** With a split: the key, the order its top values were chosen by, and those values with their totals. */
  readonly key?: KeyName;
  readonly order?: Order;
  readonly values?: readonly AggregateRow[];
  /** Every interval from the window's start (or the first flow) to its end (or the last flow), empty ones as zeros. */
  readonly points: readonly SeriesPoint[];
}

export interface FlowPage {
  readonly rows: readonly FlowRecord[];
  readonly offset: number;
  /** The page size asked for; null: no limit. */
  readonly limit: number | null;
  /** Whether flows follow this page. */
  readonly more: boolean;
}

/** A value of an --sql result: DuckDB's values with dates as ISO text and blobs as hex. */
export type SqlValue = null | boolean | number | bigint | string | readonly SqlValue[] | { readonly [key: string]: SqlValue };

export interface SqlResult {
  readonly columns: readonly { readonly name: string; readonly type: string }[];
  readonly rows: readonly (readonly SqlValue[])[];
  /** True when the statement had more rows than the row limit. */
  readonly truncated: boolean;
}

/** Rates of counters over `ms`. */
export function rates(c: Counters, ms: number): Rates {
  return {
    bps: ms > 0 ? (c.bytes * 8000) / ms : 0,
    pps: ms > 0 ? (c.packets * 1000) / ms : 0,
    bpp: c.packets > 0 ? c.bytes / c.packets : 0,
  };
}
