import type { SamplingConfig } from '../pipeline/sampling.js';
import type { TemplateSnapshot, TemplateStoreLimits } from '../wire/template-store.js';
import type { Transport } from '../wire/batch.js';
import type { EncodedPart, EncoderSpec } from './encoders.js';

/**
 * Messages between the receiving thread and decode workers. Datagrams travel in packed batches
 * (one transferred ArrayBuffer per event-loop turn) and encoded parts come back with their
 * buffers transferred, so neither side copies per record or clones strings across threads.
 */
export interface WorkerConfig {
  /** The consumers' encoders; parts come back index-aligned with these. */
  readonly encoders: readonly EncoderSpec[];
  readonly ieFiles: readonly string[];
  readonly limits: Partial<TemplateStoreLimits>;
  readonly sampling?: SamplingConfig;
  /** This worker's index and the number of workers (sessions are pinned by laneOf). */
  readonly worker: number;
  readonly workers: number;
  /** Templates saved by an earlier run (collect --state): each worker takes back its own sessions. */
  readonly restore?: TemplateSnapshot;
}

export interface SessionDef {
  readonly id: number;
  readonly transport: Transport;
  readonly address: string;
  readonly port: number;
  readonly localPort: number;
}

export type ToWorker =
  /** `index` holds [offset, length, sessionId, receivedMs] per datagram into `data`. */
  | { readonly t: 'data'; readonly data: ArrayBuffer; readonly index: Float64Array; readonly sessions: readonly SessionDef[] }
  | { readonly t: 'close'; readonly sessionId: number }
  /** Asks for the worker's templates (collect --state). */
  | { readonly t: 'snapshot'; readonly id: number }
  | { readonly t: 'stop' };

export interface WorkerCounters {
  datagrams: number;
  records: number;
  optionsRecords: number;
  drops: Record<string, number>;
}

export type FromWorker =
  /** `parts[k]`: what encoder k produced (null: nothing); `datagrams`: how many of the posted ones this accounts for. */
  | { readonly t: 'out'; readonly parts: readonly (EncodedPart | null)[]; readonly datagrams: number }
  | { readonly t: 'log'; readonly level: 'warn' | 'error' | 'info'; readonly msg: string }
  | { readonly t: 'snapshot'; readonly id: number; readonly snapshot: TemplateSnapshot }
  | { readonly t: 'stopped'; readonly counters: WorkerCounters };
