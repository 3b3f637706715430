import type { FlowBatch, TemplateEvent, TransportSession } from '../wire/batch.js';
import { FlowDecoder } from '../wire/decoder.js';
import type { IeResolver } from '../wire/fixed-formats.js';
import { DropCounters, type DropEvent, type SequenceEvent } from '../wire/stats.js';
import type { TemplateStoreLimits } from '../wire/template-store.js';
import { deriveTimes } from '../model/time.js';

export interface DecodeStageOptions {
  readonly registry: IeResolver;
  readonly limits?: Partial<TemplateStoreLimits>;
  /** Receives every batch after its times are derived. */
  readonly onBatch: (b: FlowBatch) => void;
  readonly onTemplate?: (ev: TemplateEvent) => void;
  /** Called for every drop (already counted); use a rate-limited log here. */
  readonly onDrop?: (ev: DropEvent) => void;
  /** Every message's (and sFlow sample's) sequence number, for loss accounting. */
  readonly onMessage?: (ev: SequenceEvent) => void;
}

/** Counters a caller can print or export; updated per datagram and per batch, never per record. */
export class DecodeCounters {
  datagrams = 0;
  bytes = 0;
  records = 0;
  optionsRecords = 0;
  readonly byProtocol = new Map<string, number>();
  readonly drops = new DropCounters();
}

/** Decoder + record model: datagrams in, batches with absolute times out. */
export class DecodeStage {
  readonly decoder: FlowDecoder;
  readonly counters = new DecodeCounters();

  constructor(opts: DecodeStageOptions) {
    const counters = this.counters;
    this.decoder = new FlowDecoder(
      { registry: opts.registry, limits: opts.limits },
      {
        batch(b) {
          deriveTimes(b);
          if (b.template.isOptions) counters.optionsRecords += b.count;
          else counters.records += b.count;
          counters.byProtocol.set(b.ctx.protocol, (counters.byProtocol.get(b.ctx.protocol) ?? 0) + b.count);
          opts.onBatch(b);
        },
        template: opts.onTemplate,
        message: opts.onMessage,
        drop(ev) {
          counters.drops.add(ev);
          opts.onDrop?.(ev);
        },
      },
    );
  }

  handle(buf: Buffer, session: TransportSession, nowMs: number): void {
    this.counters.datagrams++;
    this.counters.bytes += buf.length;
    this.decoder.decode(buf, session, nowMs);
  }
}
