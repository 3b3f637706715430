/**
 * The API's request parameters, checked before any query runs: names, ranges and the query texts
 * (filter, time window, interval) through the query module's own parsers, so a bad filter is
 * answered with the column `sluice query` would point at. Nothing here builds SQL.
 */
import { QuerySyntaxError, WindowError } from '../query/errors.js';
import { SluiceError } from '../util/errors.js';
import { parseFilter } from '../query/filter-parse.js';
import { KEY_NAMES, isKeyName, type KeyName, type Order } from '../query/keys.js';
import { parseInterval, parseWindow, type TimeWindow } from '../query/window.js';

/** What a series is drawn in, and what its top values are chosen by. */
export const UNITS = ['bps', 'pps', 'flows'] as const;
export type Unit = (typeof UNITS)[number];

/** The counter each unit is a rate of (and the order its top N follows). */
export const UNIT_ORDER: Readonly<Record<Unit, Order>> = { bps: 'bytes', pps: 'packets', flows: 'flows' };

/** Longest filter or window text taken (a filter is typed, not generated). */
export const MAX_TEXT = 4096;
export const MAX_TOP = 50;
export const MAX_PAGE = 1000;
/** Intervals a series may have: enough for a wide screen, few enough to stay quick. */
export const MAX_POINTS = 2000;
/** Points an automatic interval aims at, at most. */
const TARGET_POINTS = 200;
const NICE_INTERVALS_MS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10_800, 21_600, 43_200, 86_400, 604_800].map((s) => s * 1000);

/** A request the API refuses: the HTTP status, the message, and what else tells the client where. */
export class ApiError extends SluiceError {
  constructor(
    readonly status: number,
    message: string,
    readonly detail: Readonly<Record<string, unknown>> = {},
  ) {
    super('api', message);
  }
}

/** A syntax error in parameter `name`, with its column (1-based) as the query module found it. */
function syntaxError(name: string, e: QuerySyntaxError): ApiError {
  return new ApiError(400, e.message, { code: e instanceof WindowError ? 'query' : 'filter', parameter: name, column: e.column, reason: e.reason, input: e.input });
}

/** Which flows: the filter text and the time window (`t`, in `sluice query -t` syntax). */
export interface Scope {
  readonly filter: string;
  /** The window text as given; absent: the whole store. */
  readonly t?: string;
  readonly window?: TimeWindow;
}

export interface TrafficParams extends Scope {
  readonly dim: KeyName;
  readonly unit: Unit;
  readonly top: number;
  /** The series interval; absent: chosen from the window's length. */
  readonly intervalMs?: number;
}

export interface FlowParams extends Scope {
  readonly limit: number;
  readonly offset: number;
  readonly newestFirst: boolean;
}

/** Reads a request's parameters: every name must be known, and given once. */
class Reader {
  constructor(
    readonly q: URLSearchParams,
    allowed: readonly string[],
  ) {
    const seen = new Set<string>();
    for (const name of q.keys()) {
      if (!allowed.includes(name)) throw new ApiError(400, `unknown parameter "${name}" (this endpoint takes ${allowed.join(', ') || 'none'})`, { code: 'usage', parameter: name });
      if (seen.has(name)) throw new ApiError(400, `parameter "${name}" given twice`, { code: 'usage', parameter: name });
      seen.add(name);
    }
  }

  text(name: string): string | undefined {
    const v = this.q.get(name);
    if (v !== null && v.length > MAX_TEXT) throw new ApiError(400, `${name} is longer than ${MAX_TEXT} characters`, { code: 'usage', parameter: name });
    return v === null ? undefined : v;
  }

  int(name: string, min: number, max: number, dflt: number): number {
    const v = this.q.get(name);
    if (v === null || v === '') return dflt;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new ApiError(400, `${name} must be a whole number from ${min} to ${max}, got "${v}"`, { code: 'usage', parameter: name });
    return n;
  }

  choice<T extends string>(name: string, choices: readonly T[], dflt: T): T {
    const v = this.q.get(name);
    if (v === null || v === '') return dflt;
    if (!(choices as readonly string[]).includes(v)) throw new ApiError(400, `${name} must be one of ${choices.join(', ')}, got "${v}"`, { code: 'usage', parameter: name });
    return v as T;
  }
}

const SCOPE_NAMES = ['filter', 't'] as const;

function scope(r: Reader, nowMs: number): Scope {
  const filter = r.text('filter') ?? '';
  try {
    parseFilter(filter);
  } catch (e) {
    if (e instanceof QuerySyntaxError) throw syntaxError('filter', e);
    throw e;
  }
  const t = r.text('t');
  if (t === undefined || t === '') return { filter };
  try {
    return { filter, t, window: parseWindow(t, nowMs) };
  } catch (e) {
    if (e instanceof QuerySyntaxError) throw syntaxError('t', e);
    throw e;
  }
}

/** `filter` and `t` only (totals, filter validation). */
export function scopeParams(q: URLSearchParams, nowMs: number): Scope {
  return scope(new Reader(q, SCOPE_NAMES), nowMs);
}

/** Top N and series: the scope, `dim` (a -s element), `unit`, `top`, and `interval` (series). */
export function trafficParams(q: URLSearchParams, nowMs: number, withInterval: boolean): TrafficParams {
  const r = new Reader(q, [...SCOPE_NAMES, 'dim', 'unit', 'top', ...(withInterval ? ['interval'] : [])]);
  const s = scope(r, nowMs);
  const dimText = r.text('dim') ?? 'srcip';
  if (!isKeyName(dimText)) throw new ApiError(400, `dim must be one of ${KEY_NAMES.join(', ')}, got "${dimText}"`, { code: 'usage', parameter: 'dim' });
  const p = { ...s, dim: dimText, unit: r.choice('unit', UNITS, 'bps'), top: r.int('top', 1, MAX_TOP, 10) };
  const iv = r.text('interval');
  if (iv === undefined || iv === '' || iv === 'auto') return p;
  let intervalMs: number;
  try {
    intervalMs = parseInterval(iv);
  } catch (e) {
    if (e instanceof QuerySyntaxError) throw syntaxError('interval', e);
    throw e;
  }
  return { ...p, intervalMs };
}

/** Raw flows: the scope and a page (`limit`, `offset`, `sort` newest or oldest first). */
export function flowParams(q: URLSearchParams, nowMs: number): FlowParams {
  const r = new Reader(q, [...SCOPE_NAMES, 'limit', 'offset', 'sort']);
  const s = scope(r, nowMs);
  return { ...s, limit: r.int('limit', 1, MAX_PAGE, 50), offset: r.int('offset', 0, 1e9, 0), newestFirst: r.choice('sort', ['newest', 'oldest'], 'newest') === 'newest' };
}

/** No parameters at all (exporters, health). */
export function noParams(q: URLSearchParams): void {
  new Reader(q, []);
}

/** The interval for `spanMs`: the shortest of the usual steps that gives at most TARGET_POINTS points. */
export function autoInterval(spanMs: number): number {
  return NICE_INTERVALS_MS.find((iv) => spanMs / iv <= TARGET_POINTS) ?? NICE_INTERVALS_MS[NICE_INTERVALS_MS.length - 1]!;
}

/** Refuses a series of more than MAX_POINTS intervals (400, on `interval`). */
export function checkPoints(spanMs: number, intervalMs: number): void {
  const n = Math.ceil(spanMs / intervalMs);
  if (n > MAX_POINTS) throw new ApiError(400, `interval: the series would have ${n} points (at most ${MAX_POINTS}): choose a longer interval or a shorter window`, { code: 'usage', parameter: 'interval' });
}
