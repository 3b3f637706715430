import { Ipfixcol2JsonFormatter, type JsonFormatOptions } from '../../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../../src/pipeline/decode.js';
import { makeSession, type FlowBatch, type TemplateEvent, type TransportSession } from '../../src/wire/batch.js';
import { IeRegistry, protocolKeyword } from '../../src/wire/ie/registry.js';
import type { DropEvent } from '../../src/wire/stats.js';
import type { TemplateStoreLimits } from '../../src/wire/template-store.js';

export type JsonRecord = Record<string, unknown>;

/** A decoder + JSON formatter that keeps everything it produced, for assertions. */
export class Harness {
  readonly records: JsonRecord[] = [];
  readonly batches: FlowBatch[] = [];
  readonly drops: DropEvent[] = [];
  readonly templates: TemplateEvent[] = [];
  readonly pipeline: DecodeStage;
  readonly formatter: Ipfixcol2JsonFormatter;
  readonly registry = IeRegistry.builtin();
  session: TransportSession = makeSession('udp', '192.0.2.1', 4444, 4739);

  constructor(format: Partial<JsonFormatOptions> = {}, limits: Partial<TemplateStoreLimits> = {}) {
    this.formatter = new Ipfixcol2JsonFormatter({ ignoreUnknown: false, ignoreOptions: false, ...format }, protocolKeyword);
    this.pipeline = new DecodeStage({
      registry: this.registry,
      limits,
      onBatch: (b) => {
        this.batches.push(b);
        for (const line of this.formatter.formatBatch(b).split('\n')) if (line !== '') this.records.push(JSON.parse(line) as JsonRecord);
      },
      onTemplate: (ev) => this.templates.push(ev),
      onDrop: (ev) => this.drops.push(ev),
    });
  }

  feed(buf: Buffer, nowMs = 1_700_000_000_000, session: TransportSession = this.session): this {
    this.pipeline.handle(buf, session, nowMs);
    return this;
  }

  dropReasons(): string[] {
    return this.drops.map((d) => d.reason);
  }

  entries(): JsonRecord[] {
    return this.records.filter((r) => r['@type'] === 'ipfix.entry');
  }
}
