/**
 * The API's answers for traffic: the top N of an element, and its series split by the same top N
 * plus "other", as JSON values. Totals and table rows take the shape of `sluice query --format
 * json` (the same formatter), with what a page needs beside them: a generic `value`, its label,
 * the drill-down filter, and each row's share of the total.
 */
import { aggregateJson, totalsJson } from '../query/format-json.js';
import { keyText, isoTime } from '../query/format-units.js';
import type { AggregateResult, Counters, SeriesResult, SqlValue, Totals } from '../query/results.js';
import type { TimeWindow } from '../query/window.js';
import { drillFilter } from './drill.js';
import { UNIT_ORDER, type TrafficParams, type Unit } from './params.js';

type Json = { [k: string]: SqlValue };
type Measure = keyof Counters;

/** The counter a unit is a rate of. */
function measureOf(unit: Unit): Measure {
  return UNIT_ORDER[unit] as Measure;
}

/** Rate per second of a counter over `ms`: bits for bps, else units. */
function rate(unit: Unit, n: number, ms: number): number {
  return ms > 0 ? (n * (unit === 'bps' ? 8000 : 1000)) / ms : 0;
}

export function windowJson(w: TimeWindow | undefined): Json {
  return { from: w?.fromMs === undefined ? null : isoTime(w.fromMs), to: w?.toMs === undefined ? null : isoTime(w.toMs) };
}

/** Totals as `sluice query --totals --format json` prints them. */
export function totalsValue(t: Totals): Json {
  return JSON.parse(totalsJson(t)) as Json;
}

/** The top N table: the totals, and rows as `sluice query -s DIM/ORDER --format json` with value, label, filter and share. */
export function topAnswer(r: AggregateResult, p: TrafficParams): Json {
  const measure = measureOf(p.unit);
  const total = r.totals[measure];
  const rows = (JSON.parse(aggregateJson(r)) as Json[]).map((row, i) => {
    const v = r.rows[i]!.values[0]!;
    return { value: v, label: keyText(p.dim, v), filter: drillFilter(p.dim, v), ...row, share: total > 0 ? r.rows[i]![measure] / total : 0 };
  });
  return { dim: p.dim, unit: p.unit, order: r.order, top: p.top, window: windowJson(p.window), totals: totalsValue(r.totals), rows };
}

/**
 * The series: interval starts (ms), and per top value, for "other" and for the total, the unit's
 * counter per interval and its rate. An interval the window cuts (the first and the last, usually
 * the one still filling) is rated over the part inside the window, so it does not look like a drop.
 */
export function seriesAnswer(s: SeriesResult, p: TrafficParams): Json {
  const measure = measureOf(p.unit);
  const iv = s.intervalMs;
  const times = s.points.map((x) => x.startMs);
  const spans = times.map((t) => Math.min(t + iv, p.window?.toMs ?? Infinity) - Math.max(t, p.window?.fromMs ?? -Infinity));
  const line = (counts: number[]): Json => ({ counts, rates: counts.map((n, i) => rate(p.unit, n, spans[i]!)) });
  const values = s.values ?? [];
  const series = values.map((v, i) => {
    const value = v.values[0]!;
    return { value, label: keyText(p.dim, value), filter: drillFilter(p.dim, value), flows: v.flows, packets: v.packets, bytes: v.bytes, ...line(s.points.map((x) => x.split?.[i]?.[measure] ?? 0)) };
  });
  return {
    dim: p.dim,
    unit: p.unit,
    order: s.order ?? UNIT_ORDER[p.unit],
    top: p.top,
    window: windowJson(p.window),
    intervalMs: iv,
    times,
    series,
    other: line(s.points.map((x) => x.other?.[measure] ?? 0)),
    total: line(s.points.map((x) => x[measure])),
    totals: totalsValue(s.totals),
  };
}
