/**
 * The contract types every stage shares: the neutral module that sources, parsers, pipeline
 * stages, outputs, the store and the engines all import, so none of them has to import another's
 * room to agree on a shape.
 */
import type { FlowBatch, TransportSession } from '../wire/batch.js';

/** Takes the batches a decoder or parser produced. Never blocks, never throws. */
export interface BatchConsumer {
  push(batch: FlowBatch): void;
}

/** The structured logger every part gets (a pino logger satisfies it). Secrets are never passed to it. */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A part an engine starts once and stops once (on `sluice stop`, SIGTERM or SIGINT). */
export interface Lifecycle {
  /** Opens sockets, starts timers, replays what an earlier run left (e.g. a spool). */
  start(): Promise<void>;
  /** Drains what was accepted and releases everything; resolves when nothing accepted is at risk. */
  stop(): Promise<void>;
}

/** Text lines from one transport session, in arrival order. */
export type LineHandler = (lines: readonly string[], session: TransportSession, nowMs: number) => void;

/** A connector that is not a socket of ours (Kafka, CloudWatch Logs): lines in through a LineHandler. */
export interface LineSource extends Lifecycle {
  readonly description: string;
}
