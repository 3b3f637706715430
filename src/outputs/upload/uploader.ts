/**
 * Sends one target's spooled batches, oldest first, at most `maxInFlight` at a time.
 *
 * 2xx: the batch is delivered and its spool file deleted. No reply, 429 or 5xx: the target is
 * unreachable; sending stops, the batches stay spooled, and after `retryMinutes` (doubling on each
 * failed round, up to four times that) one batch is tried alone; when it goes through, full
 * concurrency resumes. Any other status (4xx, 3xx): the batch is moved to rejected/ with the
 * reply, logged, and not retried.
 */
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Log } from '../../model/contracts.js';
import type { HttpClient } from './http-post.js';
import type { DeliveryMetrics } from './metrics.js';
import { parsePceReply } from './encode.js';
import type { Spool, SpoolEntry } from './spool.js';

const gunzipAsync = promisify(gunzip);

export interface UploaderOptions {
  /** Directory name under spool/ and the metrics label. */
  readonly target: string;
  readonly kind: 'pce' | 'http';
  readonly client: HttpClient;
  readonly headers: Readonly<Record<string, string>>;
  /** Send the stored gzip bytes as they are, with Content-Encoding: gzip (else decompress first). */
  readonly sendGzip: boolean;
  readonly maxInFlight: number;
  readonly retryMs: number;
  readonly debug: boolean;
}

export type Outcome = 'sent' | 'retry' | 'rejected';

/** The longest wait a Retry-After header can impose (a bad header must not park the spool for days). */
const MAX_RETRY_AFTER_MS = 3_600_000;

export class Uploader {
  readonly #queue: SpoolEntry[] = [];
  #inFlight = 0;
  #failures = 0;
  #probing = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #idleWaiters: Array<() => void> = [];
  /** The target asked (Retry-After) not to be called again before this time. */
  #notBefore = 0;

  constructor(
    readonly opts: UploaderOptions,
    readonly spool: Spool,
    readonly metrics: DeliveryMetrics,
    readonly log: Log,
    readonly onChange: () => void,
  ) {}

  get target(): string {
    return this.opts.target;
  }
  get queued(): number {
    return this.#queue.filter((e) => !e.gone && !e.rejected).length;
  }
  get inFlight(): number {
    return this.#inFlight;
  }
  /** True while waiting for the next retry round. */
  get backingOff(): boolean {
    return this.#retryTimer !== undefined;
  }

  enqueue(e: SpoolEntry): void {
    this.#queue.push(e);
    this.pump();
  }

  /** Starts as many sends as the state allows. */
  pump(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    const limit = this.#probing ? 1 : this.opts.maxInFlight;
    while (this.#inFlight < limit) {
      const e = this.#next();
      if (e === undefined) break;
      void this.#send(e);
    }
    this.#checkIdle();
  }

  #next(): SpoolEntry | undefined {
    // Drop what was delivered, pruned or rejected from the head; the rest stays in order.
    while (this.#queue.length > 0 && (this.#queue[0]!.gone || this.#queue[0]!.rejected)) this.#queue.shift();
    for (const e of this.#queue) if (!e.gone && !e.rejected && !e.inFlight) return e;
    return undefined;
  }

  async #send(e: SpoolEntry): Promise<void> {
    e.inFlight = true;
    this.#inFlight++;
    let outcome: Outcome = 'retry';
    try {
      outcome = await this.#attempt(e);
    } catch (err) {
      this.log.error({ target: this.target, batch: e.name, err: String(err) }, 'upload failed unexpectedly; batch kept in the spool');
    } finally {
      e.inFlight = false;
      this.#inFlight--;
    }
    if (outcome === 'retry') {
      if (!e.onDisk && !e.gone) {
        const err = await this.spool.persist(e);
        if (err !== undefined) this.metrics.spoolWriteErrors.inc({ reason: err.code ?? 'unknown' });
      }
      this.#scheduleRetry();
    } else if (this.#probing && outcome === 'sent') {
      this.#probing = false;
      this.#failures = 0;
      this.log.info({ target: this.target, waiting: this.queued }, 'target reachable again; sending the spool');
    } else if (outcome === 'sent') {
      this.#failures = 0;
    }
    this.onChange();
    this.pump();
  }

  async #attempt(e: SpoolEntry): Promise<Outcome> {
    let gz: Buffer;
    try {
      gz = await this.spool.read(e);
    } catch (err) {
      // The file vanished or cannot be read: nothing to send; count it as lost from the spool.
      this.log.error({ target: this.target, batch: e.name, err: String(err) }, 'spooled batch unreadable; dropped');
      this.metrics.lostFlows.inc({ reason: 'unreadable' }, e.flows);
      await this.spool.remove(e).catch(() => undefined);
      return 'rejected';
    }
    const body = this.opts.sendGzip ? gz : await gunzipAsync(gz);
    const headers = this.opts.sendGzip ? { ...this.opts.headers, 'Content-Encoding': 'gzip' } : this.opts.headers;
    const t0 = Date.now();
    const r = await this.opts.client.post(headers, body);
    if (e.gone) return 'sent'; // pruned meanwhile: nothing left to do either way
    const status = r.status === 0 ? (r.error ?? 'error') : String(r.status);
    this.metrics.posts.inc({ target: this.target, status });
    const ms = Date.now() - t0;
    if (this.opts.debug) this.log.debug({ target: this.target, batch: e.name, flows: e.flows, status, ms }, 'POST');
    if (r.status >= 200 && r.status < 300) {
      this.metrics.batchesSent.inc({ target: this.target });
      this.metrics.flowsSent.inc({ target: this.target }, e.flows);
      if (this.opts.kind === 'pce') this.#pceReply(e, r.status, r.body);
      await this.spool.remove(e);
      return 'sent';
    }
    this.spool.release(e);
    if (r.status === 0 || r.status === 429 || r.status >= 500) {
      if (r.retryAfterMs !== undefined) this.#notBefore = Math.max(this.#notBefore, Date.now() + Math.min(r.retryAfterMs, MAX_RETRY_AFTER_MS));
      if (this.#retryTimer === undefined && !this.#closed) {
        this.log.warn(
          { target: this.target, status, reply: r.body.slice(0, 300), batch: e.name, flows: e.flows },
          r.status === 0 ? 'target unreachable; batch stays in the spool' : 'target busy or failing; batch stays in the spool',
        );
      }
      return 'retry';
    }
    this.metrics.rejectedBatches.inc({ target: this.target, status });
    this.metrics.rejectedFlows.inc({ target: this.target }, e.flows);
    this.log.error(
      { target: this.target, status: r.status, reply: r.body.slice(0, 2000), batch: e.name, flows: e.flows, kept: `rejected/${e.target}/${e.name}` },
      'batch refused; kept for inspection and not retried',
    );
    await this.spool.reject(e, r.status, r.body);
    return 'rejected';
  }

  #pceReply(e: SpoolEntry, status: number, body: string): void {
    const reply = parsePceReply(body);
    if (reply === undefined) {
      this.log.warn({ target: this.target, status, reply: body.slice(0, 300), batch: e.name }, 'PCE reply is not the bulk_traffic_flows JSON; counting the batch as sent');
      return;
    }
    this.metrics.pceFlowsAccepted.inc(Math.max(0, reply.received - reply.failed));
    if (reply.failed > 0) this.metrics.pceFlowsFailed.inc(reply.failed);
    if (reply.failed > 0) {
      this.log.warn({ target: this.target, status, received: reply.received, failed: reply.failed, failed_flows: reply.failedFlows.slice(0, 20), batch: e.name }, 'PCE refused some flows');
    } else if (this.opts.debug) {
      this.log.debug({ target: this.target, status, received: reply.received, failed: 0, batch: e.name }, 'PCE reply');
    }
  }

  /** Tries again to write batches held in memory (the disk was full) before a retry round. */
  async #persistHeld(): Promise<void> {
    for (const e of this.#queue) {
      if (e.onDisk || e.gone || e.rejected || e.inFlight) continue;
      const err = await this.spool.persist(e);
      if (err !== undefined) {
        this.metrics.spoolWriteErrors.inc({ reason: err.code ?? 'unknown' });
        return; // still full: try again next round
      }
      this.log.info({ target: this.target, batch: e.name, flows: e.flows }, 'batch held in memory written to the spool');
    }
    this.onChange();
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    this.#failures++;
    this.#probing = true;
    // The backoff, or longer when the target said so (Retry-After on a 429 or 503).
    const delay = Math.max(this.opts.retryMs * Math.min(2 ** (this.#failures - 1), 4), this.#notBefore - Date.now());
    this.log.info({ target: this.target, waiting: this.queued, retry_in_s: Math.round(delay / 100) / 10 }, 'retrying later');
    this.#retryTimer = setTimeout(() => {
      void this.#persistHeld().then(() => {
        this.#retryTimer = undefined;
        this.metrics.retries.inc({ target: this.target });
        this.pump();
      });
    }, delay);
    this.#retryTimer.unref();
    this.#checkIdle();
  }

  /** Nothing more will be sent without new input or a retry round. */
  get idle(): boolean {
    return this.#inFlight === 0 && (this.#retryTimer !== undefined || this.#closed || this.#next() === undefined);
  }

  #checkIdle(): void {
    if (!this.idle) return;
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const f of w) f();
  }

  /** Resolves when the uploader is idle (everything sent, or backing off), or after `ms`. */
  whenIdle(ms: number): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.#idleWaiters.push(done);
    });
  }

  /** Stops sending; in-flight POSTs are aborted (their batches stay spooled and are sent next start). */
  close(): void {
    this.#closed = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.opts.client.close();
    this.#checkIdle();
  }
}
