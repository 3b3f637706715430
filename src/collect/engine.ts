/**
 * The collect engine: listeners in, decode (on worker threads, or here with workers = 0), every
 * consumer's encoded parts out: JSON lines to the outputs, column blocks to the store. The command
 * line (src/cli/collect.ts) only turns arguments into CollectOptions and waits for a signal.
 *
 * Stop order keeps "lose nothing accepted": listeners close first, the decoders flush what they
 * hold, the last parts are delivered, then outputs and the store finish their files.
 */
import { availableParallelism } from 'node:os';
import type { JsonFormatOptions } from '../format/ipfixcol2-json.js';
import type { Log } from '../model/contracts.js';
import { loadRegistry } from '../model/registry.js';
import { createOutput } from '../outputs/create.js';
import { formatGroups, writeGroups, type FormatGroup } from '../outputs/groups.js';
import { formatOutputCounters, type Output, type OutputSpec } from '../outputs/output.js';
import { dropLogger } from '../pipeline/drop-log.js';
import { registerStoreMetrics } from '../store/metrics.js';
import { openStoreWriter, type StoreSpec } from '../store/open-writer.js';
import type { StoreWriter } from '../store/writer.js';
import type { ListenSpec } from '../sources/listen-uri.js';
import { TcpSource } from '../sources/tcp.js';
import { UdpSource } from '../sources/udp.js';
import type { TransportSession } from '../wire/batch.js';
import type { TemplateStoreLimits } from '../wire/template-store.js';
import { Counter } from 'prom-client';
import { DropCapture } from '../outputs/drop-capture.js';
import type { ExporterDelta } from '../pipeline/exporters.js';
import type { SamplingConfig } from '../pipeline/sampling.js';
import { mergeSnapshots, restoredText, type TemplateSnapshot } from '../wire/template-store.js';
import { JSON_FLUSH_BYTES, JsonEncoder, type EncodedPart, type EncoderSpec } from './encoders.js';
import { ExporterTable } from './exporters.js';
import { TemplateState } from './template-state.js';
import { EXPORTERS_FILE, writeExporterRows } from '../model/exporter-file.js';
import { join } from 'node:path';
import { Fanout } from './fanout.js';
import type { WorkerCounters } from './protocol.js';
import { WorkerPool } from './worker-pool.js';

export interface CollectOptions {
  /** Sampling rates configured per exporter prefix (docs/exporter-truth.md). */
  readonly sampling?: SamplingConfig;
  /** Content checks: flows longer than activeTimeoutMs and exports later than lateExportMs are counted. */
  readonly health?: { readonly activeTimeoutMs?: number; readonly lateExportMs?: number };
  /** Directory of templates.json: templates and options facts kept across restarts. */
  readonly stateDir?: string;
  /** Datagrams that caused a drop, written as pcap files (`<dir>/<prefix>-N.pcap`, rotated). */
  readonly captureDrops?: { readonly dir: string; readonly prefix: string; readonly maxFileBytes?: number; readonly maxFiles?: number };
  readonly listen: readonly ListenSpec[];
  /** JSON outputs; may be empty when the store is the only consumer. */
  readonly outputs: readonly OutputSpec[];
  /** The command-wide JSON options, under each output's own. */
  readonly format: Partial<JsonFormatOptions>;
  /** The flow store (src/store): every flow kept on disk, for sluice query and the page. */
  readonly store?: StoreSpec;
  readonly ieFiles: readonly string[];
  readonly limits: Partial<TemplateStoreLimits>;
  /** Decode worker threads; 0 decodes on the receiving thread. */
  readonly workers: number;
  /** SO_RCVBUF to ask for on UDP sockets. */
  readonly receiveBufferBytes?: number;
  readonly log: Log;
}

export interface CollectSummary extends WorkerCounters {
  /** Datagrams dropped because decode workers fell behind. */
  readonly overflow: number;
}

/** Datagrams a busy worker could not take, as an exporter delta (reason workers-behind). */
function workersBehind(exporter: string, n: number): ExporterDelta {
  return { exporter, datagrams: {}, records: [], drops: { 'workers-behind': n }, sequence: [], sampling: [], rateUnknown: 0, templates: [], health: {}, delay: { buckets: [], sum: 0, count: 0 }, clockSkew: NaN, lastSeenMs: 0 };
}

/** One per CPU core beyond the first, at most 8. */
export function defaultWorkers(): number {
  return Math.min(8, Math.max(0, availableParallelism() - 1));
}

export class CollectEngine {
  readonly #o: CollectOptions;
  readonly #groups: FormatGroup[];
  readonly #outputs: Output[] = [];
  readonly #specs: EncoderSpec[] = [];
  readonly #sources: Array<UdpSource | TcpSource> = [];
  readonly #timers: NodeJS.Timeout[] = [];
  #pool: WorkerPool | undefined;
  #fanout: Fanout | undefined;
  #received = 0;
  /** Where each encoder's parts go on this thread, index-aligned with #specs (worker: which decoder made it). */
  #receivers: Array<(p: EncodedPart, worker: number) => void> = [];
  #stopping: Promise<CollectSummary> | undefined;
  /** Every exporter's account, merged from the decoders: metrics, the exporters view, the summary. */
  readonly exporters: ExporterTable;
  #state: TemplateState | undefined;
  #capture: DropCapture | undefined;
  /** The store's writer, when collect keeps flows (its stats feed the metrics and the API). */
  store: StoreWriter | undefined;

  private constructor(o: CollectOptions) {
    this.#o = o;
    this.#groups = formatGroups(o.outputs, o.format);
    this.exporters = new ExporterTable();
    const outputs = this.#outputs;
    const written = new Counter({
      name: 'sluice_output_written_total',
      help: 'JSON lines handed on by each output (file, socket, client, Kafka)',
      labelNames: ['output'],
      registers: [this.exporters.registry],
      collect() {
        this.reset();
        for (const out of outputs) this.inc({ output: out.name }, out.counters.written);
      },
    });
    void written;
    new Counter({
      name: 'sluice_output_dropped_total',
      help: 'JSON lines an output could not take, per output and reason',
      labelNames: ['output', 'reason'],
      registers: [this.exporters.registry],
      collect() {
        this.reset();
        for (const out of outputs) for (const [reason, n] of Object.entries(out.counters.dropReasons)) this.inc({ output: out.name, reason }, n);
      },
    });
  }

  /** Opens outputs, decoders and listeners; on any failure closes what was opened and throws. */
  static async start(o: CollectOptions): Promise<CollectEngine> {
    const e = new CollectEngine(o);
    try {
      await e.#open();
    } catch (err) {
      await e.#close();
      throw err;
    }
    return e;
  }

  get received(): number {
    return this.#received;
  }

  /** Listeners and the ports they got (0 in a spec picks a free one). */
  get listening(): ReadonlyArray<{ readonly transport: 'udp' | 'tcp'; readonly host: string; readonly port: number }> {
    return this.#sources.map((s) => ({ transport: s.spec.transport, host: s.spec.host, port: s.boundPort }));
  }

  /** `print: written 10, dropped 0; file:...: ...` */
  outputReport(): string {
    return this.#outputs.map((o) => `${o.name}: ${formatOutputCounters(o.counters)}`).join('; ');
  }

  get overflow(): number {
    return this.#pool?.overflow ?? 0;
  }

  async #open(): Promise<void> {
    const o = this.#o;
    const log = o.log;
    // Outputs first: one that cannot start (port in use, no Kafka in this build) stops the command.
    const outLog = (level: 'info' | 'warn' | 'error', msg: string) => log[level]({}, msg);
    for (const g of this.#groups) {
      for (const spec of g.specs) {
        let out: Output;
        try {
          out = await createOutput(spec, outLog);
        } catch (err) {
          throw new Error(`cannot start output ${spec.name}: ${(err as Error).message}`);
        }
        g.outputs.push(out);
        this.#outputs.push(out);
      }
    }
    if (this.#groups.length > 0) {
      this.#specs.push({ kind: 'json', formats: this.#groups.map((g) => g.options) });
      const groups = this.#groups;
      this.#receivers.push((p) => {
        if (p.kind === 'json') writeGroups(groups, p.groups);
      });
    }
    // Every exporter is accounted for, whatever the outputs: metrics, the exporters view, the summary.
    this.#specs.push({ kind: 'exporters', activeTimeoutMs: o.health?.activeTimeoutMs, lateExportMs: o.health?.lateExportMs, captureDrops: o.captureDrops !== undefined });
    if (o.captureDrops !== undefined) this.#capture = new DropCapture({ ...o.captureDrops, log });
    this.#receivers.push((p, worker) => {
      if (p.kind !== 'exporters') return;
      this.exporters.merge(worker, p.exporters);
      if (this.#capture !== undefined) for (const d of p.dropped) this.#capture.capture({ payload: Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength), address: d.address, port: d.port, localPort: d.localPort, receivedMs: d.receivedMs });
      if (p.templatesChanged) this.#state?.changed();
    });
    let restore: TemplateSnapshot | undefined;
    if (o.stateDir !== undefined) {
      this.#state = new TemplateState({ dir: o.stateDir, log, take: () => this.#takeSnapshot() });
      restore = await this.#state.load();
    }
    if (o.store !== undefined) {
      let store: StoreWriter;
      try {
        store = await openStoreWriter(o.store, log);
      } catch (err) {
        throw new Error(`cannot open the store ${o.store.dir}: ${(err as Error).message}`);
      }
      this.store = store;
      registerStoreMetrics(this.exporters.registry, () => store.stats());
      this.#specs.push({ kind: 'store' });
      this.#receivers.push((p) => {
        if (p.kind === 'store') for (const b of p.blocks) store.append(b);
      });
    }

    let onDatagram: (buf: Buffer, session: TransportSession, now: number) => void;
    let onClose: (session: TransportSession) => void;
    if (o.workers > 0) {
      const pool = new WorkerPool(o.workers, { encoders: this.#specs, ieFiles: o.ieFiles, limits: o.limits, sampling: o.sampling, restore }, {
        onPart: (k, p, worker) => this.#receivers[k]!(p, worker),
        onLog: (level, msg) => log[level]({}, msg),
      });
      this.#pool = pool;
      onDatagram = (buf, session, now) => {
        this.#received++;
        pool.handle(buf, session, now);
      };
      onClose = (s) => pool.close(s);
    } else {
      const registry = loadRegistry(o.ieFiles);
      const fanout = new Fanout({
        registry,
        limits: o.limits,
        encoders: this.#specs,
        sampling: o.sampling,
        onDrop: dropLogger((line) => log.warn({}, line)),
      });
      this.#fanout = fanout;
      if (restore !== undefined) {
        const r = fanout.restore(restore, Date.now());
        if (r.templates > 0) log.info({ templates: r.templates, sessions: r.sessions }, restoredText(r));
      }
      const json = fanout.encoders.find((e): e is JsonEncoder => e instanceof JsonEncoder);
      // Parts are delivered once per event-loop turn, so a burst of datagrams becomes one write.
      let scheduled = false;
      onDatagram = (buf, session, now) => {
        this.#received++;
        fanout.handle(buf, session, now);
        if (json !== undefined && json.pending >= JSON_FLUSH_BYTES) this.#deliver(false);
        if (scheduled) return;
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          this.#deliver(false);
        });
      };
      onClose = (s) => fanout.closeSession(s);
      this.#timers.push(setInterval(() => fanout.tick(Date.now()), 5000));
      this.#timers.push(setInterval(() => this.#deliver(true), 1000));
    }

    const warn = (msg: string) => log.warn({}, msg);
    for (const spec of o.listen) {
      const src =
        spec.transport === 'udp'
          ? new UdpSource(spec, onDatagram, { receiveBufferBytes: o.receiveBufferBytes, onWarning: warn })
          : new TcpSource(spec, onDatagram, { onClose, onWarning: warn });
      try {
        await src.start();
      } catch (err) {
        throw new Error(`cannot listen on ${spec.text}: ${(err as Error).message}`);
      }
      this.#sources.push(src);
      log.info({ transport: spec.transport, port: src.boundPort }, `listening on ${spec.transport}://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${src.boundPort}`);
    }
    await this.#state?.start();
    if (o.stateDir !== undefined) {
      // The exporters view for `sluice serve` in another process: written every 5 s, atomically.
      const dir = o.stateDir;
      let writing = false;
      const write = () => {
        if (writing) return;
        writing = true;
        writeExporterRows(dir, this.exporters.rows())
          .catch((err: Error) => log.warn({}, `cannot write ${join(dir, EXPORTERS_FILE)}: ${err.message}`))
          .finally(() => (writing = false));
      };
      const t = setInterval(write, 5000);
      t.unref();
      this.#timers.push(t);
    }
    if (this.#state !== undefined) log.info({ path: this.#state.path }, `templates kept across restarts in ${this.#state.path}`);
    if (this.#capture !== undefined) log.info({ dir: o.captureDrops!.dir }, `datagrams that cause drops are written to ${o.captureDrops!.dir}/${o.captureDrops!.prefix}-N.pcap`);
    log.info({ workers: o.workers }, o.workers > 0 ? `decoding in ${o.workers} worker thread(s)` : 'decoding on the receiving thread');
    const consumers = this.#groups.map((g) => g.specs.map((s) => s.name).join(' + '));
    if (o.store !== undefined) consumers.push(`store ${o.store.dir}`);
    log.info({}, `outputs: ${consumers.join('; ') || 'none'}`);
  }

  /** Hands what the inline decoder encoded to the receivers. */
  #deliver(all: boolean): void {
    const parts = this.#fanout?.take(all);
    if (parts === undefined) return;
    for (let k = 0; k < parts.length; k++) {
      const p = parts[k];
      if (p !== undefined) this.#receivers[k]!(p, 0);
    }
  }

  /** Closes listeners, drains decoders, finishes outputs and the store. Safe to call twice. */
  stop(): Promise<CollectSummary> {
    this.#stopping ??= this.#close();
    return this.#stopping;
  }

  /** Every decoder's templates, as one snapshot. */
  async #takeSnapshot(): Promise<TemplateSnapshot> {
    if (this.#pool !== undefined) return mergeSnapshots(await this.#pool.snapshot());
    return this.#fanout!.stage.decoder.store.snapshot(Date.now());
  }

  async #close(): Promise<CollectSummary> {
    for (const t of this.#timers) clearInterval(t);
    if (this.#o.stateDir !== undefined) await writeExporterRows(this.#o.stateDir, this.exporters.rows()).catch(() => {});
    await Promise.all(this.#sources.map((s) => s.close()));
    // Templates written while the decoders still hold them (the workers stop next).
    await this.#state?.stop();
    let c: WorkerCounters = { datagrams: 0, records: 0, optionsRecords: 0, drops: {} };
    if (this.#pool !== undefined) c = await this.#pool.stop();
    else if (this.#fanout !== undefined) {
      this.#fanout.flush();
      this.#deliver(true);
      c = this.#fanout.counters();
    }
    // Files finished and renamed (gzip trailers written), sockets drained and ended, segments written.
    await Promise.all(this.#outputs.map((out) => out.close()));
    await this.store?.close();
    await this.#capture?.stop();
    for (const [address, n] of this.#pool?.overflowBy ?? []) this.exporters.merge(0, [workersBehind(address, n)]);
    return { ...c, overflow: this.overflow };
  }
}
