/**
 * The seams of `sluice run`: what the ingest side (connectors + parsers, src/sources and
 * src/parsers) hands to the delivery side (filters, aggregation, PCE/HTTP outputs with their
 * spool, src/pipeline and src/sinks), and what the service runtime (src/service) asks of both.
 * Interfaces only, so both sides can be built and tested apart.
 */
import type { Registry } from 'prom-client';
import type { FlowBatch } from '../wire/batch.js';

/** Where a consumer delivers the batches it decoded or parsed. Never blocks, never throws. */
export interface BatchSink {
  push(batch: FlowBatch): void;
}

/** The logger both sides get (a pino logger satisfies it). The PCE secret is never passed to it. */
export interface ServiceLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A lifecycle the runtime drives: start once, stop once (on `sluice stop`, SIGTERM or SIGINT). */
export interface ServicePart {
  /** Opens sockets, starts timers, replays what an earlier run left (e.g. the spool). */
  start(): Promise<void>;
  /** Drains what was accepted and releases everything; resolves when nothing accepted is at risk. */
  stop(): Promise<void>;
}

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
  readonly log: ServiceLog;
  /** Every counter and gauge goes here; the runtime prints it and serves it on /metrics. */
  readonly metrics: Registry;
  /** Injected clock for tests; Date.now by default. */
  readonly now?: () => number;
}

/** The delivery side: a BatchSink with a lifecycle. `stop()` flushes the open window and sends or spools it. */
export interface DeliveryPipeline extends BatchSink, ServicePart {}

export type CreateDeliveryPipeline = (opts: DeliveryOptions) => DeliveryPipeline;
