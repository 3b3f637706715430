import { DecodeStage } from '../pipeline/decode.js';
import { SamplingTracker, type SamplingConfig } from '../pipeline/sampling.js';
import type { TransportSession } from '../wire/batch.js';
import type { IeResolver } from '../wire/fixed-formats.js';
import type { DropEvent } from '../wire/stats.js';
import type { RestoreResult, TemplateSnapshot, TemplateStoreLimits } from '../wire/template-store.js';
import { createEncoder, type BatchEncoder, type EncodedPart, type EncoderSpec } from './encoders.js';
import type { WorkerCounters } from './protocol.js';

export interface FanoutOptions {
  readonly registry: IeResolver;
  readonly limits?: Partial<TemplateStoreLimits>;
  readonly encoders: readonly EncoderSpec[];
  /** Sampling rates configured per exporter prefix (overrides, defaults). */
  readonly sampling?: SamplingConfig;
  /** Every drop (already counted); use a rate-limited log here. */
  readonly onDrop?: (ev: DropEvent) => void;
}

/**
 * Datagrams in, encoded parts out: the decoder with its record model, and every consumer's encoder
 * fed each batch once. The same unit runs in a decode worker and, with --workers 0 or for
 * `sluice decode`, on the main thread.
 */
export class Fanout {
  readonly stage: DecodeStage;
  readonly encoders: readonly BatchEncoder[];
  /** The one place that decides the sampling rate of each record, shared by every encoder. */
  readonly sampling: SamplingTracker;
  readonly #onDatagram: BatchEncoder[];
  readonly #registry: IeResolver;
  /** The datagram being decoded (drops name it) and when it arrived. */
  #current: Buffer | undefined;
  #nowMs = 0;

  constructor(o: FanoutOptions) {
    const encoders = o.encoders.map((spec) => createEncoder(spec, () => this.stage.decoder.store));
    this.encoders = encoders;
    this.#registry = o.registry;
    this.sampling = new SamplingTracker(o.sampling);
    const sampling = this.sampling;
    const withTemplates = encoders.filter((e) => e.template !== undefined);
    const withDrops = encoders.filter((e) => e.drop !== undefined);
    const withMessages = encoders.filter((e) => e.message !== undefined);
    this.#onDatagram = encoders.filter((e) => e.datagram !== undefined);
    this.stage = new DecodeStage({
      registry: o.registry,
      limits: o.limits,
      onBatch: (b) => {
        const rates = sampling.rates(b);
        for (let i = 0; i < encoders.length; i++) encoders[i]!.push(b, rates);
      },
      onTemplate: withTemplates.length > 0 ? (ev) => withTemplates.forEach((e) => e.template!(ev)) : undefined,
      onDrop: (ev) => {
        for (const e of withDrops) e.drop!(ev, this.#current, this.#nowMs);
        o.onDrop?.(ev);
      },
      onMessage: withMessages.length > 0 ? (ev) => withMessages.forEach((e) => e.message!(ev)) : undefined,
    });
  }

  handle(buf: Buffer, session: TransportSession, nowMs: number): void {
    for (let i = 0; i < this.#onDatagram.length; i++) this.#onDatagram[i]!.datagram!(buf, session, nowMs);
    this.#current = buf;
    this.#nowMs = nowMs;
    this.stage.handle(buf, session, nowMs);
    this.#current = undefined;
  }

  /** Templates saved before a restart (collect --state), for the sessions `accept` takes (all by default). */
  restore(snapshot: TemplateSnapshot, nowMs: number, accept?: (s: TransportSession) => boolean): RestoreResult {
    return this.stage.decoder.store.restore(snapshot, this.#registry, nowMs, accept);
  }

  /** What was decoded so far, as plain data (it crosses threads). */
  counters(): WorkerCounters {
    const c = this.stage.counters;
    return { datagrams: c.datagrams, records: c.records, optionsRecords: c.optionsRecords, drops: c.drops.toJSON() };
  }

  /** A TCP session ended: its templates end with it. */
  closeSession(session: TransportSession): void {
    this.stage.decoder.closeSession(session);
  }

  /** Housekeeping: held data sets and UDP templates expire. */
  tick(nowMs: number): void {
    this.stage.decoder.tick(nowMs);
  }

  /** End of input: what is held for missing templates is dropped and counted. */
  flush(): void {
    this.stage.decoder.flush();
  }

  /** One entry per encoder (undefined where it has nothing); `all` takes partly filled blocks too. */
  take(all: boolean): (EncodedPart | undefined)[] {
    return this.encoders.map((e) => e.take(all));
  }
}
