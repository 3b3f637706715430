import { DecodeStage } from '../pipeline/decode.js';
import type { TransportSession } from '../wire/batch.js';
import type { IeResolver } from '../wire/fixed-formats.js';
import type { DropEvent } from '../wire/stats.js';
import type { TemplateStoreLimits } from '../wire/template-store.js';
import { createEncoder, type BatchEncoder, type EncodedPart, type EncoderSpec } from './encoders.js';

export interface FanoutOptions {
  readonly registry: IeResolver;
  readonly limits?: Partial<TemplateStoreLimits>;
  readonly encoders: readonly EncoderSpec[];
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

  constructor(o: FanoutOptions) {
    const encoders = o.encoders.map(createEncoder);
    this.encoders = encoders;
    const withTemplates = encoders.filter((e) => e.template !== undefined);
    this.stage = new DecodeStage({
      registry: o.registry,
      limits: o.limits,
      onBatch: (b) => {
        for (let i = 0; i < encoders.length; i++) encoders[i]!.push(b);
      },
      onTemplate: withTemplates.length > 0 ? (ev) => withTemplates.forEach((e) => e.template!(ev)) : undefined,
      onDrop: o.onDrop,
    });
  }

  handle(buf: Buffer, session: TransportSession, nowMs: number): void {
    this.stage.handle(buf, session, nowMs);
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
