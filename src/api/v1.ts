/**
 * The HTTP API, version 1 (docs/api.md): JSON over GET under /api/v1/. Every answer comes from the
 * query engine `sluice query` uses (src/query/engine.ts), from parameters checked first
 * (params.ts); none builds SQL from request text. Answers are cached briefly (cache.ts), queries
 * run a few at a time (gate.ts) under a time limit, and every answer says how long its query took
 * (`durationMs`, and the Server-Timing header).
 */
import { performance } from 'node:perf_hooks';
import type { Log } from '../model/contracts.js';
import type { QueryEngine } from '../query/engine.js';
import { QuerySyntaxError, QueryTimeoutError, QueryUsageError } from '../query/errors.js';
import { isoTime } from '../query/format-units.js';
import { jsonText } from '../query/format-json.js';
import type { SqlValue } from '../query/results.js';
import { AnswerCache, type Answer, type CacheHit } from './cache.js';
import type { ExportersProvider } from './exporters.js';
import { FLOW_FIELDS, flowRow } from './flow-rows.js';
import { QueryGate } from './gate.js';
import type { HealthProvider } from './health.js';
import { ApiError, UNIT_ORDER, autoInterval, checkPoints, flowParams, noParams, scopeParams, trafficParams } from './params.js';
import { errorResponse, type Handler, type HttpServer, type Request, type Response } from './server.js';
import { seriesAnswer, topAnswer, totalsValue, windowJson } from './traffic.js';

export interface ApiOptions {
  readonly engine: QueryEngine;
  readonly exporters: ExportersProvider;
  readonly health: HealthProvider;
  /** Each query's time limit in ms (default 30 s); a query over it is stopped and answered 503. */
  readonly timeLimitMs?: number;
  /** How long an answer is reused for the same request, ms (default 5000; 0: not at all). */
  readonly cacheMs?: number;
  /** Queries running at once (default 2), and waiting at most before 503 (default 32). */
  readonly maxQueries?: number;
  readonly maxWaiting?: number;
  readonly now?: () => number;
  /** Where unexpected failures are told (answered 500). */
  readonly log?: Log;
}

export const DEFAULT_API_TIME_LIMIT_MS = 30_000;
export const DEFAULT_CACHE_MS = 5000;

type Json = { [k: string]: SqlValue };

/** A failure with the time its query ran before it. */
class TimedFailure extends Error {
  constructor(
    readonly failure: unknown,
    readonly durationMs: number,
  ) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

/** The request's parameters in one order, so the same question is one cache key however it was written. */
function cacheKey(req: Request): string {
  const pairs = [...req.query.entries()].sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return `${req.path}?${new URLSearchParams(pairs).toString()}`;
}

function json(status: number, text: string, durationMs?: number): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (durationMs !== undefined) headers['server-timing'] = `query;dur=${durationMs}`;
  return { status, headers, body: text };
}

/** The answer's JSON with durationMs, cached and ageMs first. */
function answerResponse(hit: CacheHit): Response {
  const head = `{"durationMs":${hit.durationMs},"cached":${hit.cached},"ageMs":${hit.ageMs}`;
  return json(200, hit.json === '{}' ? `${head}}` : `${head},${hit.json.slice(1)}`, hit.durationMs);
}

export class ApiV1 {
  readonly #o: ApiOptions;
  readonly #cache: AnswerCache;
  readonly #gate: QueryGate;
  readonly #now: () => number;
  readonly #timeLimitMs: number;

  constructor(o: ApiOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#cache = new AnswerCache({ ttlMs: o.cacheMs ?? DEFAULT_CACHE_MS, now: this.#now });
    this.#gate = new QueryGate(o.maxQueries ?? 2, o.maxWaiting ?? 32);
    this.#timeLimitMs = o.timeLimitMs ?? DEFAULT_API_TIME_LIMIT_MS;
  }

  /** Adds the routes to `server`. */
  mount(server: HttpServer): this {
    server
      .route('GET', '/api/v1/totals', this.#handler((r) => this.#totals(r)))
      .route('GET', '/api/v1/top', this.#handler((r) => this.#top(r)))
      .route('GET', '/api/v1/series', this.#handler((r) => this.#series(r)))
      .route('GET', '/api/v1/flows', this.#handler((r) => this.#flows(r)))
      .route('GET', '/api/v1/filter', this.#handler((r) => this.#filter(r)))
      .route('GET', '/api/v1/exporters', this.#handler((r) => this.#exporters(r)))
      .route('GET', '/api/v1/health', this.#handler((r) => this.#health(r)));
    return this;
  }

  #handler(make: (req: Request) => Promise<Answer>): Handler {
    return async (req) => {
      try {
        return answerResponse(await this.#cache.get(cacheKey(req), () => make(req)));
      } catch (e) {
        return this.#failure(e, req);
      }
    };
  }

  #failure(err: unknown, req: Request): Response {
    const durationMs = err instanceof TimedFailure ? err.durationMs : undefined;
    const e = err instanceof TimedFailure ? err.failure : err;
    const extra = durationMs === undefined ? {} : { durationMs };
    let r: Response;
    if (e instanceof ApiError) r = errorResponse(e.status, e.message, { ...e.detail, ...extra });
    else if (e instanceof QuerySyntaxError) r = errorResponse(400, e.message, { code: e.code, column: e.column, reason: e.reason, input: e.input, ...extra });
    else if (e instanceof QueryUsageError) r = errorResponse(400, e.message, { code: 'query', ...extra });
    // The engine interrupted the query at its limit: nothing of it runs on. Said with the whole
    // limit (the engine was given what was left of it for its step).
    else if (e instanceof QueryTimeoutError) r = errorResponse(503, new QueryTimeoutError(this.#timeLimitMs).message, { code: 'query', timeLimitMs: this.#timeLimitMs, ...extra });
    else {
      this.#o.log?.error({ path: req.path }, `API ${req.path} failed: ${e instanceof Error ? e.message : String(e)}`);
      r = errorResponse(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, extra);
    }
    return durationMs === undefined ? r : { ...r, headers: { ...r.headers, 'server-timing': `query;dur=${durationMs}` } };
  }

  /**
   * Runs a query in line with the others, timed; its value as JSON text (64-bit counters exact).
   * `left()` is what remains of the time limit for the next engine call (one limit for them all).
   */
  async #query(run: (left: () => number) => Promise<Json>): Promise<Answer> {
    return this.#gate.run(async () => {
      const t0 = performance.now();
      const limit = this.#timeLimitMs;
      const left = (): number => {
        const ms = Math.ceil(limit - (performance.now() - t0));
        if (ms <= 0) throw new QueryTimeoutError(limit);
        return ms;
      };
      try {
        const value = await run(left);
        return { json: jsonText(value), durationMs: ms(t0) };
      } catch (e) {
        throw new TimedFailure(e, ms(t0));
      }
    });
  }

  async #totals(req: Request): Promise<Answer> {
    const p = scopeParams(req.query, this.#now());
    return this.#query(async (left) => {
      const t = await this.#o.engine.totals({ filter: p.filter, window: p.window, timeLimitMs: left() });
      return { window: windowJson(p.window), totals: totalsValue(t) };
    });
  }

  async #top(req: Request): Promise<Answer> {
    const p = trafficParams(req.query, this.#now(), false);
    return this.#query(async (left) => {
      const r = await this.#o.engine.aggregate({ filter: p.filter, window: p.window, keys: [p.dim], order: UNIT_ORDER[p.unit], limit: p.top, timeLimitMs: left() });
      return topAnswer(r, p);
    });
  }

  async #series(req: Request): Promise<Answer> {
    const p = trafficParams(req.query, this.#now(), true);
    const w = p.window;
    const windowSpan = w?.fromMs !== undefined && w.toMs !== undefined ? w.toMs - w.fromMs : undefined;
    if (windowSpan !== undefined) checkPoints(windowSpan, p.intervalMs ?? autoInterval(windowSpan));
    return this.#query(async (left) => {
      let span = windowSpan;
      if (span === undefined) {
        // An open window: how long it is depends on the flows it holds, known after a totals query.
        const t = await this.#o.engine.totals({ filter: p.filter, window: w, timeLimitMs: left() });
        span = t.firstMs === null || t.lastMs === null ? 0 : Math.max(w?.toMs ?? t.lastMs, t.lastMs) - Math.min(w?.fromMs ?? t.firstMs, t.firstMs);
        checkPoints(span, p.intervalMs ?? autoInterval(span));
      }
      const split = { key: p.dim, order: UNIT_ORDER[p.unit], limit: p.top };
      const s = await this.#o.engine.series({ filter: p.filter, window: w, intervalMs: p.intervalMs ?? autoInterval(span), split, timeLimitMs: left() });
      return seriesAnswer(s, p);
    });
  }

  async #flows(req: Request): Promise<Answer> {
    const p = flowParams(req.query, this.#now());
    return this.#query(async (left) => {
      const page = await this.#o.engine.flows({ filter: p.filter, window: p.window, limit: p.limit, offset: p.offset, newestFirst: p.newestFirst, timeLimitMs: left() });
      const t = await this.#o.engine.totals({ filter: p.filter, window: p.window, timeLimitMs: left() });
      return {
        window: windowJson(p.window),
        sort: p.newestFirst ? 'newest' : 'oldest',
        offset: page.offset,
        limit: p.limit,
        more: page.more,
        matched: t.flows,
        fields: FLOW_FIELDS.map((f) => ({ name: f.name, doc: f.doc, stored: f.stored })),
        rows: page.rows.map(flowRow),
      };
    });
  }

  /** A check, not a query: a filter or window with a mistake is a good answer (valid: false, where and why), not a 400. */
  async #filter(req: Request): Promise<Answer> {
    const t0 = performance.now();
    let value: Json;
    try {
      const p = scopeParams(req.query, this.#now());
      value = { valid: true, filter: p.filter, window: windowJson(p.window) };
    } catch (e) {
      if (!(e instanceof ApiError) || e.detail.column === undefined) throw e;
      value = { valid: false, error: e.message, ...(e.detail as Json) };
    }
    return { json: jsonText(value), durationMs: ms(t0) };
  }

  async #exporters(req: Request): Promise<Answer> {
    noParams(req.query);
    const t0 = performance.now();
    const v = await this.#o.exporters();
    const value = {
      source: v.source,
      taken: v.takenMs === null ? null : isoTime(v.takenMs),
      takenAgeMs: v.takenMs === null ? null : Math.max(0, this.#now() - v.takenMs),
      exporters: v.exporters,
    };
    // Plain numbers and text only: JSON.stringify's own rules (non-finite numbers as null).
    return { json: JSON.stringify(value), durationMs: ms(t0) };
  }

  async #health(req: Request): Promise<Answer> {
    noParams(req.query);
    const t0 = performance.now();
    const h = await this.#gate.run(() => this.#o.health());
    return { json: JSON.stringify(h), durationMs: ms(t0) };
  }
}

