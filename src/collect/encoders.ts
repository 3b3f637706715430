/**
 * The batch seam of collect: what runs beside the decoder (in a decode worker, or on the
 * receiving thread with --workers 0) and turns decoded batches into parts that can cross a thread
 * boundary by transfer. Every consumer of collect's records is one kind here: JSON for the
 * outputs, column blocks for the store. A new consumer (exporter metrics, say) is a new kind,
 * beside the others, without touching them.
 */
import { ByteOutput } from '../format/byte-output.js';
import { Ipfixcol2JsonFormatter, type JsonFormatOptions } from '../format/ipfixcol2-json.js';
import { ExporterAccount, type ExporterDelta } from '../pipeline/exporters.js';
import type { BatchRates } from '../model/rates.js';
import type { ColumnBlock } from '../store/columns.js';
import { StoreEncoder } from '../store/encode.js';
import type { FlowBatch, TemplateEvent, TransportSession } from '../wire/batch.js';
import type { DropEvent, SequenceEvent } from '../wire/stats.js';
import type { TemplateStore } from '../wire/template-store.js';

/** What a consumer wants encoded (plain data: it is posted to decode workers). */
export type EncoderSpec =
  /** IPFIXcol2 JSON lines, once per set of format options (outputs with equal options share one pass). */
  | { readonly kind: 'json'; readonly formats: readonly JsonFormatOptions[] }
  /** Rows of the flow store's tables. */
  | { readonly kind: 'store' }
  /** Per-exporter accounting (metrics, the exporters view), and the datagrams that caused drops when capturing. */
  | { readonly kind: 'exporters'; readonly activeTimeoutMs?: number; readonly lateExportMs?: number; readonly captureDrops: boolean };

/** A datagram that caused a drop, kept for --capture-drops. */
export interface DroppedDatagram {
  readonly payload: Uint8Array;
  readonly address: string;
  readonly port: number;
  readonly localPort: number;
  readonly receivedMs: number;
}

/** What an encoder hands over; crosses threads with its buffers transferred. */
export type EncodedPart =
  /** `groups[g]`: JSON lines for format group g, or null when it has none. */
  | { readonly kind: 'json'; readonly groups: readonly (Uint8Array | null)[] }
  | { readonly kind: 'store'; readonly blocks: readonly ColumnBlock[] }
  | { readonly kind: 'exporters'; readonly exporters: readonly ExporterDelta[]; readonly dropped: readonly DroppedDatagram[]; readonly templatesChanged: boolean };

export interface BatchEncoder {
  /** A batch, with the sampling rates in force for its records (src/pipeline/sampling.ts). */
  push(b: FlowBatch, rates: BatchRates): void;
  template?(ev: TemplateEvent): void;
  /** Every datagram, before it is decoded. */
  datagram?(buf: Buffer, session: TransportSession, nowMs: number): void;
  /** A drop, with the datagram that caused it. */
  drop?(ev: DropEvent, datagram: Buffer | undefined, nowMs: number): void;
  message?(ev: SequenceEvent): void;
  /** What was encoded since the last take(), or undefined when nothing; `all`: partly filled blocks too. */
  take(all: boolean): EncodedPart | undefined;
}

/** Buffers of a part that can be transferred instead of copied. */
export function transferables(p: EncodedPart): ArrayBuffer[] {
  if (p.kind === 'json') return p.groups.filter((g): g is Uint8Array => g !== null).map((g) => g.buffer as ArrayBuffer);
  if (p.kind === 'store') return p.blocks.map((b) => b.data);
  return p.dropped.map((d) => d.payload.buffer as ArrayBuffer);
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

  push(b: FlowBatch, rates: BatchRates): void {
    for (let i = 0; i < this.#formatters.length; i++) this.#formatters[i]!.formatBatchInto(b, this.#outs[i]!, rates);
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

  push(b: FlowBatch, rates: BatchRates): void {
    this.#enc.push(b, rates);
  }

  take(all: boolean): EncodedPart | undefined {
    const blocks = this.#enc.take(all);
    return blocks.length === 0 ? undefined : { kind: 'store', blocks };
  }
}

/** Exporter deltas are handed over at most this often between full takes (ms). */
const HANDOVER_MS = 250;

/** Datagrams kept per take for --capture-drops; past it they are counted, not kept. */
const MAX_DROPPED_PER_TAKE = 256;

class ExportersEncoder implements BatchEncoder {
  readonly #acc: ExporterAccount;
  readonly #capture: boolean;
  #dropped: DroppedDatagram[] = [];
  #lastCaptured: Buffer | undefined;
  #templatesChanged = false;
  #lastStoreRead = 0;
  #lastHandover = 0;
  /** Dropped datagrams not kept because a take's share was full. */
  captureOverflow = 0;

  constructor(
    spec: Extract<EncoderSpec, { kind: 'exporters' }>,
    private readonly store: () => TemplateStore,
  ) {
    this.#acc = new ExporterAccount({ activeTimeoutMs: spec.activeTimeoutMs, lateExportMs: spec.lateExportMs });
    this.#capture = spec.captureDrops;
  }

  push(b: FlowBatch, rates: BatchRates): void {
    this.#acc.batch(b, rates);
    // Options data teaches sampling and systemInitTime: worth keeping across a restart too.
    if (b.template.isOptions) this.#templatesChanged = true;
  }

  template(): void {
    this.#templatesChanged = true;
  }

  datagram(buf: Buffer, session: TransportSession, nowMs: number): void {
    this.#acc.datagram(buf, session.address, nowMs);
  }

  drop(ev: DropEvent, datagram: Buffer | undefined, nowMs: number): void {
    this.#acc.drop(ev);
    // One copy per datagram, however many drops it caused.
    if (!this.#capture || datagram === undefined || datagram === this.#lastCaptured) return;
    this.#lastCaptured = datagram;
    if (this.#dropped.length >= MAX_DROPPED_PER_TAKE) {
      this.captureOverflow++;
      return;
    }
    this.#dropped.push({ payload: new Uint8Array(datagram), address: ev.session.address, port: ev.session.port, localPort: ev.session.localPort, receivedMs: nowMs });
  }

  message(ev: SequenceEvent): void {
    this.#acc.message(ev);
  }

  take(all: boolean): EncodedPart | undefined {
    const now = Date.now();
    // Deltas leave at most every HANDOVER_MS between full takes: handed over with every data
    // message they were a structured clone per recvmmsg batch, and the receiving thread spent a
    // third of its time collecting that garbage under sFlow (a stream per data source).
    if (!all && now - this.#lastHandover < HANDOVER_MS && this.#dropped.length < MAX_DROPPED_PER_TAKE) return undefined;
    // The template store is walked at most every 5 s (it can hold many sessions).
    const readStore = all && now - this.#lastStoreRead >= 5000;
    if (readStore) this.#lastStoreRead = now;
    const exporters = this.#acc.take(readStore ? this.store() : undefined);
    if (exporters.length === 0 && this.#dropped.length === 0 && !this.#templatesChanged) return undefined;
    this.#lastHandover = now;
    const part: EncodedPart = { kind: 'exporters', exporters, dropped: this.#dropped, templatesChanged: this.#templatesChanged };
    this.#dropped = [];
    this.#templatesChanged = false;
    return part;
  }
}

/** `store`: the decoder's template store, for encoders that report on it (exporters). */
export function createEncoder(spec: EncoderSpec, store: () => TemplateStore): BatchEncoder {
  switch (spec.kind) {
    case 'json':
      return new JsonEncoder(spec.formats);
    case 'store':
      return new StoreBatchEncoder();
    case 'exporters':
      return new ExportersEncoder(spec, store);
  }
}

/** JSON bytes buffered before the receiving thread writes them out without waiting for the turn to end. */
export const JSON_FLUSH_BYTES = 256 * 1024;
export { JsonEncoder };
