/**
 * The batch seam of collect: what runs beside the decoder (in a decode worker, or on the
 * receiving thread with --workers 0) and turns decoded batches into parts that can cross a thread
 * boundary by transfer. Every consumer of collect's records is one kind here: JSON for the
 * outputs, column blocks for the store. A new consumer (exporter metrics, say) is a new kind,
 * beside the others, without touching them.
 */
import { ByteOutput } from '../format/byte-output.js';
import { Ipfixcol2JsonFormatter, type JsonFormatOptions } from '../format/ipfixcol2-json.js';
import type { ColumnBlock } from '../store/columns.js';
import { StoreEncoder } from '../store/encode.js';
import type { FlowBatch, TemplateEvent } from '../wire/batch.js';

/** What a consumer wants encoded (plain data: it is posted to decode workers). */
export type EncoderSpec =
  /** IPFIXcol2 JSON lines, once per set of format options (outputs with equal options share one pass). */
  | { readonly kind: 'json'; readonly formats: readonly JsonFormatOptions[] }
  /** Rows of the flow store's tables. */
  | { readonly kind: 'store' };

/** What an encoder hands over; crosses threads with its buffers transferred. */
export type EncodedPart =
  /** `groups[g]`: JSON lines for format group g, or null when it has none. */
  | { readonly kind: 'json'; readonly groups: readonly (Uint8Array | null)[] }
  | { readonly kind: 'store'; readonly blocks: readonly ColumnBlock[] };

export interface BatchEncoder {
  push(b: FlowBatch): void;
  template?(ev: TemplateEvent): void;
  /** What was encoded since the last take(), or undefined when nothing; `all`: partly filled blocks too. */
  take(all: boolean): EncodedPart | undefined;
}

/** Buffers of a part that can be transferred instead of copied. */
export function transferables(p: EncodedPart): ArrayBuffer[] {
  if (p.kind === 'json') return p.groups.filter((g): g is Uint8Array => g !== null).map((g) => g.buffer as ArrayBuffer);
  return p.blocks.map((b) => b.data);
}

/** UTF-8 JSON straight into one buffer per format group: no JSON strings are built. */
class JsonEncoder implements BatchEncoder {
  readonly #formatters: Ipfixcol2JsonFormatter[];
  readonly #outs: ByteOutput[];
  readonly #withTemplates: number[];

  constructor(formats: readonly JsonFormatOptions[]) {
    this.#formatters = formats.map((f) => new Ipfixcol2JsonFormatter(f));
    this.#outs = formats.map(() => new ByteOutput(256 * 1024));
    this.#withTemplates = this.#formatters.flatMap((f, i) => (f.options.templateInfo ? [i] : []));
  }

  push(b: FlowBatch): void {
    for (let i = 0; i < this.#formatters.length; i++) this.#formatters[i]!.formatBatchInto(b, this.#outs[i]!);
  }

  template(ev: TemplateEvent): void {
    for (const i of this.#withTemplates) this.#outs[i]!.writeString(this.#formatters[i]!.formatTemplate(ev.ctx, ev.template, ev.withdrawn));
  }

  /** Bytes buffered past which the receiving thread flushes early (it otherwise flushes once per event-loop turn). */
  get pending(): number {
    let n = 0;
    for (const o of this.#outs) n += o.len;
    return n;
  }

  take(): EncodedPart | undefined {
    if (this.#outs.every((o) => o.len === 0)) return undefined;
    // take() copies into a buffer of its own, so it can be transferred; ours stays for the next batch.
    return { kind: 'json', groups: this.#outs.map((o) => (o.len === 0 ? null : o.take())) };
  }
}

class StoreBatchEncoder implements BatchEncoder {
  readonly #enc = new StoreEncoder();

  push(b: FlowBatch): void {
    this.#enc.push(b);
  }

  take(all: boolean): EncodedPart | undefined {
    const blocks = this.#enc.take(all);
    return blocks.length === 0 ? undefined : { kind: 'store', blocks };
  }
}

export function createEncoder(spec: EncoderSpec): BatchEncoder {
  switch (spec.kind) {
    case 'json':
      return new JsonEncoder(spec.formats);
    case 'store':
      return new StoreBatchEncoder();
  }
}

/** JSON bytes buffered before the receiving thread writes them out without waiting for the turn to end. */
export const JSON_FLUSH_BYTES = 256 * 1024;
export { JsonEncoder };
