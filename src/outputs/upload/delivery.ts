/**
 * The delivery side of `sluice run`: batches in → class D filter → aggregation windows → upload
 * batches (≤ maxLinesPerPost lines) written to the spool → POSTed to the PCE and HTTP targets.
 *
 * Write-ahead: a closed window's batches are on disk before their first POST and leave the disk
 * only after a 2xx (see src/sinks/upload/spool.ts). What a crash can lose is the open window
 * (never spooled); what it can send twice is the batches in flight at that moment.
 */
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Registry } from 'prom-client';
import type { BatchConsumer, Lifecycle, Log } from '../../model/contracts.js';
import type { FlowBatch } from '../../wire/batch.js';
import { encodeHttp, encodePce, type BatchText } from './encode.js';
import { HttpClient } from './http-post.js';
import { DeliveryMetrics } from './metrics.js';
import { Spool, type BatchFormat, type SpoolIo } from './spool.js';
import { Uploader } from './uploader.js';
import { newTally, WindowAggregator, type FlushReason, type WindowResult } from '../../pipeline/aggregate.js';

const gzipAsync = promisify(gzip);

/** The PCE upload as the config file describes it (validated, secrets resolved from `$cat file`). */
export interface PceTarget {
  /** `host:port`, with `https://` added when the file gave none. */
  readonly url: string;
  readonly orgId: number;
  readonly keyId: string;
  readonly secret: string;
  readonly caFile?: string;
  readonly insecure: boolean;
  readonly maxLinesPerPost: number;
  readonly maxInFlight: number;
  readonly retryMinutes: number;
}

/** A generic HTTP collector fed by the same aggregation, batching and spool. */
export interface HttpTarget {
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly format: 'ndjson' | 'csv';
  readonly gzip: boolean;
  readonly caFile?: string;
  readonly insecure: boolean;
  readonly maxLinesPerPost: number;
  readonly maxInFlight: number;
  readonly retryMinutes: number;
}

/** Everything the delivery side needs, built once from the validated config. */
export interface DeliveryOptions {
  readonly dataDirectory: string;
  readonly aggregationMinutes: number;
  readonly dataDirectorySizeMb: number;
  readonly fileRetentionHours: number;
  readonly pce?: PceTarget;
  readonly http: readonly HttpTarget[];
  /** --debug: log each aggregation, upload and response code. */
  readonly debug: boolean;
  readonly log: Log;
  /** Every counter and gauge goes here; the runtime prints it and serves it on /metrics. */
  readonly metrics: Registry;
  /** Injected clock for tests; Date.now by default. */
  readonly now?: () => number;
}

/** The delivery side: a BatchConsumer with a lifecycle. `stop()` flushes the open window and sends or spools it. */
export interface DeliveryPipeline extends BatchConsumer, Lifecycle {}

export type CreateDeliveryPipeline = (opts: DeliveryOptions) => DeliveryPipeline;

/** Knobs the config file does not have (defaults suit production); tests and the harness set them. */
export interface DeliveryInternals {
  /** File operations of the spool (fault injection). */
  readonly io?: SpoolIo;
  /** Per-POST timeout; a hung target counts as unreachable. Default 60 s. */
  readonly requestTimeoutMs?: number;
  /** How long stop() waits for batches to go out before leaving them in the spool. Default 10 s. */
  readonly stopGraceMs?: number;
  /** Unique flows per window before it is closed early. Default 1 000 000. */
  readonly maxWindowFlows?: number;
  /** Bytes of batches held in memory while the disk cannot be written. Default 64 MiB. */
  readonly maxMemoryBytes?: number;
  /** How often the spool is checked against size and age limits. Default 60 s. */
  readonly pruneIntervalMs?: number;
}

interface TargetPlan {
  readonly uploader: Uploader;
  readonly format: BatchFormat;
  readonly encode: (w: WindowResult) => BatchText[];
}

/** The PCE's bulk traffic flows endpoint under its base URL (which the config made absolute). */
function pceBulkFlowsUrl(t: PceTarget): string {
  const base = /^https?:\/\//i.test(t.url) ? t.url : `https://${t.url}`;
  return `${base.replace(/\/+$/, '')}/api/v2/orgs/${t.orgId}/agents/bulk_traffic_flows`;
}

/** Spool directory name of an HTTP target: its name, reduced to safe characters. */
export function httpTargetDir(name: string): string {
  return `http-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export class Delivery implements DeliveryPipeline {
  readonly metrics: DeliveryMetrics;
  readonly spool: Spool;
  readonly #opts: DeliveryOptions;
  readonly #now: () => number;
  readonly #agg: WindowAggregator;
  readonly #targets: TargetPlan[] = [];
  readonly #stopGraceMs: number;
  readonly #pruneIntervalMs: number;
  #windowTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #started = false;
  #stopped = false;
  readonly #tally = newTally();

  constructor(opts: DeliveryOptions, internals: DeliveryInternals = {}) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.metrics = new DeliveryMetrics(opts.metrics);
    this.#agg = new WindowAggregator(opts.aggregationMinutes * 60_000, this.#now(), internals.maxWindowFlows);
    this.#stopGraceMs = internals.stopGraceMs ?? 10_000;
    this.#pruneIntervalMs = internals.pruneIntervalMs ?? 60_000;
    this.spool = new Spool(
      opts.dataDirectory,
      {
        maxBytes: opts.dataDirectorySizeMb * 1024 * 1024,
        retentionMs: opts.fileRetentionHours * 3_600_000,
        maxMemoryBytes: internals.maxMemoryBytes ?? 64 * 1024 * 1024,
      },
      internals.io,
      this.#now,
    );
    const timeoutMs = internals.requestTimeoutMs ?? 60_000;
    const onChange = (): void => this.#updateGauges();
    if (opts.pce !== undefined) {
      const t = opts.pce;
      const client = new HttpClient({ url: pceBulkFlowsUrl(t), caFile: t.caFile, insecure: t.insecure, maxSockets: t.maxInFlight, timeoutMs });
      const auth = Buffer.from(`${t.keyId}:${t.secret}`).toString('base64');
      const uploader = new Uploader(
        {
          target: 'pce',
          kind: 'pce',
          client,
          headers: { 'Content-Type': 'text/csv', Authorization: `Basic ${auth}`, Accept: 'application/json' },
          sendGzip: false,
          maxInFlight: t.maxInFlight,
          retryMs: t.retryMinutes * 60_000,
          debug: opts.debug,
        },
        this.spool,
        this.metrics,
        opts.log,
        onChange,
      );
      this.#targets.push({ uploader, format: 'csv', encode: (w) => encodePce(w.flows, t.maxLinesPerPost) });
    }
    for (const t of opts.http) this.#targets.push(this.#httpPlan(t, timeoutMs, onChange));
  }

  #httpPlan(t: HttpTarget, timeoutMs: number, onChange: () => void): TargetPlan {
    const client = new HttpClient({ url: t.url, caFile: t.caFile, insecure: t.insecure, maxSockets: t.maxInFlight, timeoutMs });
    const contentType = t.format === 'ndjson' ? 'application/x-ndjson' : 'text/csv';
    const uploader = new Uploader(
      {
        target: httpTargetDir(t.name),
        kind: 'http',
        client,
        headers: { 'Content-Type': contentType, ...t.headers },
        sendGzip: t.gzip,
        maxInFlight: t.maxInFlight,
        retryMs: t.retryMinutes * 60_000,
        debug: this.#opts.debug,
      },
      this.spool,
      this.metrics,
      this.#opts.log,
      onChange,
    );
    return { uploader, format: t.format, encode: (w) => encodeHttp(w.flows, w, t.format, t.maxLinesPerPost) };
  }

  /** Replays what the spool holds from an earlier run, then starts the window and prune timers. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const log = this.#opts.log;
    const held = await this.spool.open();
    for (const [dir, entries] of held) {
      const t = this.#targets.find((p) => p.uploader.target === dir);
      const flows = entries.reduce((a, e) => a + e.flows, 0);
      if (t === undefined) {
        log.warn({ target: dir, batches: entries.length, flows }, 'spool holds batches for a target that is no longer configured; left on disk');
        continue;
      }
      log.info({ target: dir, batches: entries.length, flows }, 'resending batches spooled by an earlier run');
      for (const e of entries) t.uploader.enqueue(e);
    }
    await this.#prune();
    this.#updateGauges();
    this.#scheduleWindow();
    this.#pruneTimer = setInterval(() => void this.#prune(), this.#pruneIntervalMs);
    this.#pruneTimer.unref();
    log.info(
      {
        aggregation_minutes: this.#opts.aggregationMinutes,
        window_end: new Date(this.#agg.endMs).toISOString(),
        targets: this.#targets.map((t) => t.uploader.target),
        data_directory: this.#opts.dataDirectory,
      },
      'delivery started',
    );
  }

  push(batch: FlowBatch): void {
    if (this.#stopped) {
      this.metrics.flowsDropped.inc({ reason: 'stopped' }, batch.count);
      return;
    }
    const now = this.#now();
    if (now >= this.#agg.endMs) this.#flush('window_end', now);
    const t = this.#tally;
    t.records = t.classD = t.unreadable = t.ignored = 0;
    this.#agg.add(batch, t);
    if (t.records > 0) this.metrics.flowsIn.inc(t.records);
    if (t.classD > 0) this.metrics.flowsDropped.inc({ reason: 'class_d' }, t.classD);
    if (t.unreadable > 0) this.metrics.flowsDropped.inc({ reason: 'unreadable' }, t.unreadable);
    if (t.ignored > 0) this.metrics.recordsIgnored.inc({ reason: t.ignoredReason }, t.ignored);
    if (this.#agg.full) this.#flush('size_cap', now);
  }

  /** Closes the open window now and spools (and starts sending) its batches. */
  flushNow(reason: FlushReason = 'stop'): Promise<void> {
    this.#flush(reason, this.#now());
    return this.#chain;
  }

  #flush(reason: FlushReason, now: number): void {
    const w = this.#agg.take(now, reason);
    this.metrics.windowsFlushed.inc({ reason });
    this.metrics.aggregatedFlows.inc(w.flows.length);
    this.metrics.openFlows.set(0);
    const log = this.#opts.log;
    const summary = { reason, window_start: new Date(w.startMs).toISOString(), window_end: new Date(w.endMs).toISOString(), records: w.records, flows: w.flows.length };
    if (w.flows.length === 0) {
      if (this.#opts.debug) log.debug(summary, 'aggregation window closed, empty');
      return;
    }
    log.info(summary, 'aggregation window closed');
    if (this.#opts.debug) {
      for (const f of w.flows) {
        log.debug(
          { src_ip: f.srcIp, dst_ip: f.dstIp, dst_port: f.dstPort, proto: f.proto, icmp_type: f.icmpType >= 0 ? f.icmpType : undefined, icmp_code: f.icmpCode >= 0 ? f.icmpCode : undefined, flows: f.flows, packets: f.packets, bytes: f.bytes, first_seen: new Date(f.firstMs).toISOString(), last_seen: new Date(f.lastMs).toISOString() },
          'aggregated flow',
        );
      }
    }
    if (this.#targets.length === 0) return;
    const plans = this.#targets.map((t) => ({ t, bodies: t.encode(w) }));
    // Written in order, one after the other, so spool order is window order.
    this.#chain = this.#chain.then(() => this.#spoolWindow(plans)).catch((err: unknown) => {
      log.error({ err: String(err) }, 'spooling a window failed');
    });
  }

  async #spoolWindow(plans: ReadonlyArray<{ t: TargetPlan; bodies: BatchText[] }>): Promise<void> {
    const log = this.#opts.log;
    for (const { t, bodies } of plans) {
      let spooled = 0;
      let memory = 0;
      // Written 16 at a time (fsyncs overlap), queued in window order once written.
      for (let i = 0; i < bodies.length; i += 16) {
        const slice = bodies.slice(i, i + 16);
        const gz = await Promise.all(slice.map((b) => gzipAsync(b.text)));
        // write() names the file synchronously, so names (and spool order) follow window order.
        const written = await Promise.all(slice.map((b, k) => this.spool.write(t.uploader.target, b.flows, t.format, gz[k]!)));
        for (const { entry, error } of written) {
          this.metrics.batchesCreated.inc({ target: t.uploader.target });
          if (error === undefined) {
            spooled++;
            this.metrics.spoolWrites.inc({ target: t.uploader.target });
          } else {
            memory++;
            this.metrics.spoolWriteErrors.inc({ reason: error.code ?? 'unknown' });
            log.error({ target: t.uploader.target, code: error.code, err: error.message, batch: entry.name, flows: entry.flows }, 'cannot write the spool; batch held in memory');
          }
          t.uploader.enqueue(entry);
        }
      }
      const flows = bodies.reduce((a, b) => a + b.flows, 0);
      log.info({ target: t.uploader.target, batches: bodies.length, flows, spooled, in_memory: memory }, 'window batches queued for upload');
    }
    await this.#prune();
    this.#updateGauges();
  }

  async #prune(): Promise<void> {
    let pruned;
    try {
      pruned = await this.spool.prune();
    } catch (err) {
      this.#opts.log.error({ err: String(err) }, 'pruning the spool failed');
      return;
    }
    if (pruned.length === 0) return;
    const by = new Map<string, { batches: number; flows: number }>();
    for (const p of pruned) {
      const k = `${p.reason}|${p.entry.target}|${p.entry.rejected ? 'rejected' : p.entry.onDisk ? 'spool' : 'memory'}`;
      const s = by.get(k) ?? { batches: 0, flows: 0 };
      s.batches++;
      s.flows += p.entry.flows;
      by.set(k, s);
      if (p.reason === 'memory_full') this.metrics.lostFlows.inc({ reason: 'memory_full' }, p.entry.flows);
      else {
        this.metrics.prunedFlows.inc({ reason: p.reason }, p.entry.flows);
        this.metrics.prunedBatches.inc({ reason: p.reason });
      }
    }
    for (const [k, s] of by) {
      const [reason, target, where] = k.split('|');
      this.#opts.log.warn(
        { reason, target, where, batches: s.batches, flows: s.flows, limit_mb: this.#opts.dataDirectorySizeMb, retention_hours: this.#opts.fileRetentionHours },
        reason === 'memory_full' ? 'batches held in memory dropped: disk unwritable and memory bound reached' : 'spool pruned, oldest first: these flows will not be sent',
      );
    }
    this.#updateGauges();
  }

  #updateGauges(): void {
    const totals = this.spool.totals();
    for (const t of this.#targets) {
      const s = totals.get(t.uploader.target) ?? { batches: 0, flows: 0 };
      this.metrics.spoolBatches.set({ target: t.uploader.target }, s.batches);
      this.metrics.spoolFlows.set({ target: t.uploader.target }, s.flows);
    }
    this.metrics.spoolBytes.set(this.spool.diskBytes);
    this.metrics.memoryBatches.set(this.spool.memoryBatches);
    this.metrics.openFlows.set(this.#agg.size);
  }

  #scheduleWindow(): void {
    if (this.#stopped) return;
    const delay = Math.max(10, this.#agg.endMs - this.#now());
    // Long windows are re-checked every minute, so a clock step does not leave a window open for long.
    this.#windowTimer = setTimeout(() => {
      const now = this.#now();
      if (now >= this.#agg.endMs) this.#flush('window_end', now);
      this.#updateGauges();
      this.#scheduleWindow();
    }, Math.min(delay, 60_000));
    this.#windowTimer.unref();
  }

  /** Resolves when every target is idle (sent everything, or waiting for a retry round). For tests and stop. */
  async whenIdle(ms = 30_000): Promise<void> {
    await this.#chain;
    await Promise.all(this.#targets.map((t) => t.uploader.whenIdle(ms)));
  }

  get uploaders(): readonly Uploader[] {
    return this.#targets.map((t) => t.uploader);
  }

  /**
   * Closes the open window, writes its batches to the spool, gives the targets up to the grace
   * time to take what is queued, then aborts what is still in flight (it stays in the spool).
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#windowTimer !== undefined) clearTimeout(this.#windowTimer);
    if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer);
    this.#flush('stop', this.#now());
    await this.#chain;
    const deadline = Date.now() + this.#stopGraceMs;
    await Promise.all(this.#targets.map((t) => t.uploader.whenIdle(Math.max(0, deadline - Date.now()))));
    for (const t of this.#targets) t.uploader.close();
    const held = this.spool.memoryHeld();
    if (held.batches > 0) {
      // Held in memory because the disk refused them, and not delivered in the grace time.
      this.metrics.lostFlows.inc({ reason: 'stop' }, held.flows);
      this.#opts.log.error(held, 'stopping with batches that could not be written to disk; they are lost');
    }
    this.#updateGauges();
    const left = this.#targets.map((t) => ({ target: t.uploader.target, queued: t.uploader.queued }));
    this.#opts.log.info({ left }, 'delivery stopped; what is queued stays in the spool for the next start');
  }
}

export const createDeliveryPipeline: CreateDeliveryPipeline = (opts) => new Delivery(opts);
