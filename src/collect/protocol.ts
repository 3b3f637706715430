import type { JsonFormatOptions } from '../format/ipfixcol2-json.js';
import type { Transport } from '../wire/batch.js';
import type { TemplateStoreLimits } from '../wire/template-store.js';

/**
 * Messages between the receiving thread and decode workers. Datagrams travel in packed batches
 * (one transferred ArrayBuffer per event-loop turn) and JSON comes back as transferred bytes, so
 * neither side copies per record or clones strings across threads.
 */
export interface WorkerConfig {
  /** One entry per format group: the worker formats every batch once per group. */
  readonly formats: readonly Partial<JsonFormatOptions>[];
  readonly ieFiles: readonly string[];
  readonly limits: Partial<TemplateStoreLimits>;
  readonly logLevel: string;
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
  | { readonly t: 'stop' };

export interface WorkerCounters {
  datagrams: number;
  records: number;
  optionsRecords: number;
  drops: Record<string, number>;
}

export type FromWorker =
  /** `data[g]` holds the JSON lines for format group g (empty when it has nothing). */
  | { readonly t: 'out'; readonly data: readonly ArrayBuffer[]; readonly datagrams: number }
  | { readonly t: 'log'; readonly level: 'warn' | 'error' | 'info'; readonly msg: string }
  | { readonly t: 'stopped'; readonly counters: WorkerCounters };
