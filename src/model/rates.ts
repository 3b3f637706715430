/**
 * The sampling rate in force for a batch's records, as src/pipeline/sampling.ts decides it, and
 * what a counter becomes once scaled by it. Plain data, so every layer after the decoders (the
 * JSON formatter, the store, the aggregation, exporter accounting) reads rates the same way.
 */

/** Where a record's rate came from (src/pipeline/sampling.ts lists them in order of precedence). */
export type RateSource = 'override' | 'record' | 'header' | 'sampler' | 'domain' | 'default' | 'unsampled' | 'unknown';

/** The rates of one batch. */
export interface BatchRates {
  /** The rate of every record; NaN when `perRecord` holds them. */
  readonly rate: number;
  /** Where `rate` came from; 'mixed' with `perRecord`; 'none' for records that are not traffic. */
  readonly source: RateSource | 'mixed' | 'none';
  /** Per-record rates (index = record), only when the records of the batch differ. */
  readonly perRecord?: Float64Array;
}

/** The rate of record `i` of a batch. */
export function rateAt(r: BatchRates, i: number): number {
  return r.perRecord === undefined ? r.rate : r.perRecord[i]!;
}

/**
 * A sampled counter scaled to an estimate of the traffic it stands for: count x rate, rounded to a
 * whole number (rates from samplingPacketInterval/Space can be fractional). A bigint stays a bigint.
 */
export function scaleCount(count: number, rate: number): number;
export function scaleCount(count: bigint, rate: number): bigint;
export function scaleCount(count: number | bigint, rate: number): number | bigint {
  if (typeof count === 'bigint') {
    if (Number.isInteger(rate)) return count * BigInt(rate);
    // Fractional rate: the rate in 2^-20 steps, so a count past 2^53 keeps its integer precision.
    const scaled = BigInt(Math.round(rate * 1048576));
    return (count * scaled + 524288n) / 1048576n;
  }
  return rate === 1 ? count : Math.round(count * rate);
}
