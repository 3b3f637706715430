/**
 * The running service of `sluice run`: consumers (connectors + parsers) feeding the delivery
 * pipeline (class D filter, aggregation, PCE/HTTP upload with its spool: src/pipeline, built by the
 * delivery side, src/outputs/upload/delivery.ts) and, optionally, the collect outputs with raw JSON
 * records. Metrics are prom-client counters in one registry, printed every metrics_print_seconds
 * and served on /metrics when configured.
 *
 * Stop order matters for "lose nothing that was accepted": sockets and consumers close first
 * (nothing new comes in), parsers and the decoder flush what they hold, then the delivery side
 * flushes the open window and sends or spools it, then the outputs finish their files.
 */
import { HttpServer, metricsHandler } from '../api/server.js';
import { Counter, Gauge, Registry } from 'prom-client';
import { JsonEncoder } from '../collect/encoders.js';
import { TemplateState } from '../collect/template-state.js';
import { mergeSnapshots, restoredText, type TemplateSnapshot } from '../wire/template-store.js';
import { join } from 'node:path';
import { StoreEncoder } from '../store/encode.js';
import { registerStoreMetrics } from '../store/metrics.js';
import { openStoreWriter } from '../store/open-writer.js';
import type { StoreWriter } from '../store/writer.js';
import { loadRegistry } from '../model/registry.js';
import { dropLogger } from '../pipeline/drop-log.js';
import { SamplingTracker } from '../pipeline/sampling.js';
import { formatGroups, writeGroups, type FormatGroup } from '../outputs/groups.js';
import { DecodeStage } from '../pipeline/decode.js';
import { AwsVpcParser } from '../parsers/aws-vpc.js';
import type { LineParser } from '../parsers/line-parser.js';
import { TextParser } from '../parsers/text.js';
import { createOutput } from '../outputs/create.js';
import { formatOutputCounters, type Output } from '../outputs/output.js';
import { Allowlist } from '../sources/allowlist.js';
import { datagramLines, LineFramer } from '../sources/line-framer.js';
import { parseListenUri } from '../sources/listen-uri.js';
import { TcpSource } from '../sources/tcp.js';
import { UdpSource } from '../sources/udp.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import type { FlowBatch, TransportSession } from '../wire/batch.js';
import type { IeRegistry } from '../wire/ie/registry.js';
import { protocolKeyword } from '../wire/ie/registry.js';
import { formatRelayCounters, parseReceiver, Replicator, resolveReceiver, type ResolvedReceiver } from '../relay/index.js';
import { listenRelay, type RelayListener } from '../relay/listener.js';
import type { ConnectorSpec, ConsumerSpec, RelaySpec, ServiceConfig } from './config.js';
import { flowKeys } from '../pipeline/flow-fields.js';
import type { CreateDeliveryPipeline, DeliveryPipeline } from '../outputs/upload/delivery.js';
import type { LineHandler, LineSource, Lifecycle, Log } from '../model/contracts.js';

/** A connector that is not a socket of ours (Kafka, CloudWatch Logs): lines in through a callback. */
export type LineSourceFactory = (c: Exclude<ConnectorSpec, { type: 'udp' | 'tcp' }>, consumer: string, sink: LineHandler, deps: { log: Log; dataDirectory: string }) => Promise<LineSource>;

export interface RuntimeDeps {
  readonly createDelivery: CreateDeliveryPipeline;
  readonly log: Log;
  readonly debug?: boolean;
  /** Kafka and aws connectors (loaded only when configured). */
  readonly lineSource?: LineSourceFactory;
  readonly now?: () => number;
  /** Tests: the metrics print interval in ms (default metrics_print_seconds). */
  readonly metricsPrintMs?: number;
}

export interface Listening {
  readonly consumer: string;
  readonly transport: 'udp' | 'tcp';
  readonly port: number;
}

interface Metrics {
  received: Counter<'consumer' | 'connector'>;
  records: Counter<'consumer' | 'protocol'>;
  dropped: Counter<'consumer' | 'reason'>;
  lines: Counter<'consumer'>;
}

export class ServiceRuntime implements Lifecycle {
  readonly metrics = new Registry();
  readonly listening: Listening[] = [];
  private readonly m: Metrics;
  private readonly registry: IeRegistry;
  /** The rate in force per batch, for the store's sampling column and the JSON's scaledCounters. */
  private readonly sampling = new SamplingTracker();
  private delivery: DeliveryPipeline | undefined;
  private readonly sockets: Array<{ close(): Promise<void> }> = [];
  private readonly lineSources: LineSource[] = [];
  private readonly pipelines: DecodeStage[] = [];
  /** Templates and options facts kept in data_directory/state across restarts (as collect --state). */
  private templateState: TemplateState | undefined;
  private savedTemplates: TemplateSnapshot | undefined;
  private readonly flushers: Array<() => void> = [];
  private readonly outputs: Output[] = [];
  private readonly forwarders = new Map<string, Replicator>();
  private readonly replicators: Array<{ what: string; r: Replicator }> = [];
  private groups: FormatGroup[] = [];
  /** The collect engine's JSON encoder: one formatting pass per set of format options. */
  private json: JsonEncoder | undefined;
  /** The `store` output: every record kept in the flow store. */
  private store: { writer: StoreWriter; encoder: StoreEncoder } | undefined;
  private outFlushScheduled = false;
  private timers: NodeJS.Timeout[] = [];
  private metricsServer: HttpServer | undefined;
  private readonly badLines = new RateLimitedLog((msg, suppressed) => this.deps.log.debug({ suppressed }, msg), 10_000);
  private started = false;
  private stopping: Promise<void> | undefined;
  metricsUrl: string | undefined;

  constructor(
    readonly cfg: ServiceConfig,
    private readonly deps: RuntimeDeps,
  ) {
    this.registry = loadRegistry([]);
    const registers = [this.metrics];
    this.m = {
      received: new Counter({ name: 'sluice_received_total', help: 'datagrams, stream messages, Kafka messages or log events received, per consumer and connector', labelNames: ['consumer', 'connector'], registers }),
      records: new Counter({ name: 'sluice_records_total', help: 'flow records decoded or parsed, per consumer and protocol', labelNames: ['consumer', 'protocol'], registers }),
      dropped: new Counter({ name: 'sluice_input_dropped_total', help: 'input dropped before delivery, per consumer and reason (not-allowed: outside remote_addrs; decode and parse reasons)', labelNames: ['consumer', 'reason'], registers }),
      lines: new Counter({ name: 'sluice_lines_total', help: 'text lines read by the text and aws parsers', labelNames: ['consumer'], registers }),
    };
    // Relay counters live in each Replicator (counted per datagram there); these read them at scrape time.
    const replicators = this.replicators;
    new Gauge({
      name: 'sluice_relay_sent_datagrams',
      help: 'datagrams replicated to each receiver since start, per relay (relays: or forward_to) and receiver',
      labelNames: ['relay', 'receiver'],
      registers,
      collect() {
        for (const { what, r } of replicators) for (const c of r.counters.receivers) this.set({ relay: what, receiver: c.receiver }, c.sent);
      },
    });
    new Gauge({
      name: 'sluice_relay_dropped_datagrams',
      help: 'copies not delivered to a receiver since start, per relay, receiver and reason (unreachable, too-big, queue-full, buffer-full, family-mismatch, send-error)',
      labelNames: ['relay', 'receiver', 'reason'],
      registers,
      collect() {
        for (const { what, r } of replicators) {
          for (const c of r.counters.receivers) for (const [reason, n] of Object.entries(c.dropped)) this.set({ relay: what, receiver: c.receiver, reason }, n);
        }
      },
    });
  }

  /** Opens everything; on any failure closes what was opened and rethrows (nothing keeps running). */
  async start(): Promise<void> {
    if (this.started) throw new Error('already started');
    this.started = true;
    const { cfg, deps } = this;
    const log = deps.log;
    try {
      // Replicators first: a spoofing receiver without CAP_NET_RAW or the addon stops the start here.
      for (const c of cfg.consumers) {
        if (c.forwardTo.length > 0) this.forwarders.set(c.name, await this.openReplicator(`forward_to of consumer ${c.name}`, c.forwardTo, false));
      }
      for (const r of cfg.relays) await this.startRelay(r);
      await this.openOutputs();
      this.delivery = deps.createDelivery({
        dataDirectory: cfg.dataDirectory,
        aggregationMinutes: cfg.aggregationMinutes,
        dataDirectorySizeMb: cfg.dataDirectorySizeMb,
        fileRetentionHours: cfg.fileRetentionHours,
        pce: cfg.pce,
        http: cfg.http,
        debug: deps.debug ?? false,
        log,
        metrics: this.metrics,
        now: deps.now,
      });
      await this.delivery.start();
      const consumers: ConsumerSpec[] = [...cfg.consumers];
      if (cfg.listeners.length > 0) {
        consumers.push({
          name: 'listeners',
          parser: { type: 'netflow' },
          forwardTo: [],
          connectors: cfg.listeners.map((l) => ({ type: l.transport, ports: [l.port], host: l.host })),
        });
      }
      this.templateState = new TemplateState({ dir: join(cfg.dataDirectory, 'state'), log, take: () => mergeSnapshots(this.pipelines.map((p) => p.decoder.store.snapshot(Date.now()))) });
      this.savedTemplates = await this.templateState.load();
      for (const c of consumers) await this.startConsumer(c);
      this.savedTemplates = undefined;
      await this.templateState.start();
      await this.startMetricsServer();
    } catch (err) {
      await this.stop();
      throw err;
    }
    const pce = cfg.pce ? `PCE ${cfg.pce.url} org ${cfg.pce.orgId}` : 'no PCE';
    log.info({ aggregationMinutes: cfg.aggregationMinutes, metricsPrintSeconds: cfg.metricsPrintSeconds }, `reporting interval: flows aggregated every ${cfg.aggregationMinutes} min to ${pce}${cfg.http.length ? ` and ${cfg.http.length} http output(s)` : ''}; metrics printed every ${cfg.metricsPrintSeconds} s`);
    const t = setInterval(() => void this.printMetrics(), deps.metricsPrintMs ?? cfg.metricsPrintSeconds * 1000);
    t.unref();
    this.timers.push(t);
    const tick = setInterval(() => {
      for (const p of this.pipelines) p.decoder.tick(Date.now());
    }, 5000);
    tick.unref();
    this.timers.push(tick);
  }

  /** A Replicator for receivers written as `sluice relay` takes them; its counters become metrics. */
  private async openReplicator(what: string, receivers: readonly string[], spoof: boolean): Promise<Replicator> {
    const log = this.deps.log;
    let resolved: ResolvedReceiver[];
    try {
      resolved = await Promise.all(receivers.map((t) => resolveReceiver(parseReceiver(t.trim()))));
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}`);
    }
    let r: Replicator;
    try {
      r = await Replicator.open(resolved, { spoof, log: (line) => log.warn({ relay: what }, line) });
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}`);
    }
    this.replicators.push({ what, r });
    log.info({ relay: what, receivers: receivers.length }, `${what}: replicating to ${r.counters.receivers.map((c) => `${c.receiver}${c.spoofed ? ' (spoofed source)' : ''}`).join(', ')}`);
    return r;
  }

  /** A `relays:` entry: UDP listeners whose datagrams are only replicated, never decoded. */
  private async startRelay(spec: RelaySpec): Promise<void> {
    const r = await this.openReplicator(`relay ${spec.name}`, spec.receivers, spec.spoof);
    for (const text of spec.listen) {
      const l = parseListenUri(text);
      // The relay's own listener: recvmmsg batches through the addon when it is built, else node:dgram.
      let src: RelayListener;
      try {
        src = await listenRelay(r, {
          host: l.host === '' ? undefined : l.host,
          port: l.port,
          recvBufferBytes: 4 << 20,
          onError: (err) => this.deps.log.warn({ relay: spec.name }, `relay ${spec.name}: receive error: ${err.message}`),
        });
      } catch (err) {
        throw new Error(`relay ${spec.name}: cannot listen on ${l.text}: ${(err as Error).message}`);
      }
      this.sockets.push(src);
      const port = src.address().port;
      this.listening.push({ consumer: `relay ${spec.name}`, transport: 'udp', port });
      this.deps.log.info({ relay: spec.name, port, receiver: src.kind }, `relay ${spec.name}: listening on udp port ${port} (${src.kind === 'batched' ? 'batched receive' : 'node:dgram'})`);
    }
  }

  private async openOutputs(): Promise<void> {
    const s = this.cfg.store;
    if (s !== undefined) {
      const writer = await openStoreWriter(s, this.deps.log);
      this.store = { writer, encoder: new StoreEncoder() };
      registerStoreMetrics(this.metrics, () => writer.stats());
      this.deps.log.info({ store: s.dir }, `flows are kept in the store ${s.dir} (sluice query --store ${s.dir})`);
    }
    if (this.cfg.outputs.length === 0) return;
    const groups = formatGroups(this.cfg.outputs, this.cfg.format ?? {});
    const outLog = (level: 'info' | 'warn' | 'error', msg: string) => this.deps.log[level]({}, msg);
    for (const g of groups) {
      for (const spec of g.specs) {
        const o = await createOutput(spec, outLog);
        g.outputs.push(o);
        this.outputs.push(o);
      }
    }
    this.groups = groups;
    this.json = new JsonEncoder(groups.map((g) => g.options));
    this.deps.log.info({}, `outputs: ${this.outputs.map((o) => o.name).join(', ')}`);
  }

  /** Every batch of every consumer goes through here. */
  private deliver(consumer: string, b: FlowBatch): void {
    this.m.records.inc({ consumer, protocol: b.ctx.protocol }, b.count);
    if (this.deps.debug) {
      for (const k of flowKeys(b)) {
        this.deps.log.debug(
          { consumer, exporter: b.ctx.session.address, src: k.src, dst: k.dst, srcPort: k.srcPort, dstPort: k.dstPort, protocol: k.protocol === undefined ? undefined : (protocolKeyword(k.protocol) ?? k.protocol) },
          'record',
        );
      }
    }
    // The aggregation takes flow records; options data and sFlow counter samples are not flows.
    if (!b.template.isOptions && b.template.recordType === undefined) this.delivery?.push(b);
    if (this.json !== undefined || this.store !== undefined) {
      const rates = this.sampling.rates(b);
      this.store?.encoder.push(b, rates);
      this.json?.push(b, rates);
      if (!this.outFlushScheduled) {
        this.outFlushScheduled = true;
        setImmediate(() => this.flushOutputs());
      }
    }
  }

  private flushOutputs(): void {
    this.outFlushScheduled = false;
    if (this.store !== undefined) for (const block of this.store.encoder.take(true)) this.store.writer.append(block);
    const part = this.json?.take();
    if (part?.kind !== 'json') return;
    writeGroups(this.groups, part.groups);
  }

  private async startConsumer(c: ConsumerSpec): Promise<void> {
    const log = this.deps.log;
    const name = c.name;
    const binary = c.parser.type === 'netflow' || c.parser.type === 'ipfix' || c.parser.type === 'sflow';
    let onDatagram: (buf: Buffer, s: TransportSession, now: number) => void;
    let onLines: LineHandler | undefined;
    let onClose: ((s: TransportSession) => void) | undefined;
    if (binary) {
      const logDrop = dropLogger((line) => log.warn({ consumer: name }, line));
      const p = new DecodeStage({
        registry: this.registry,
        onBatch: (b) => {
          // Options data teaches sampling and systemInitTime: kept across a restart as templates are.
          if (b.template.isOptions) this.templateState?.changed();
          this.deliver(name, b);
        },
        onTemplate: () => this.templateState?.changed(),
        onDrop: (ev) => {
          this.m.dropped.inc({ consumer: name, reason: ev.reason }, ev.count);
          logDrop(ev);
        },
      });
      this.pipelines.push(p);
      if (this.savedTemplates !== undefined) {
        // This consumer's sessions: those that arrived on its ports.
        const ports = new Set(c.connectors.flatMap((k) => (k.type === 'udp' || k.type === 'tcp' ? k.ports : [])));
        const r = p.decoder.store.restore(this.savedTemplates, this.registry, Date.now(), (s) => ports.has(s.localPort));
        if (r.templates > 0) log.info({ consumer: name, templates: r.templates, sessions: r.sessions }, `consumer ${name}: ${restoredText(r)}`);
      }
      this.flushers.push(() => p.decoder.flush());
      onDatagram = (buf, s, now) => p.handle(buf, s, now);
      onClose = (s) => p.decoder.closeSession(s);
    } else {
      const hooks = {
        onBatch: (b: FlowBatch) => this.deliver(name, b),
        onBad: (reason: string, line: string, s: TransportSession) => {
          this.m.dropped.inc({ consumer: name, reason: `unparsed-${reason}` });
          this.badLines.log(`${name}|${reason}`, `consumer ${name}: line from ${s.address} not parsed (${reason}): ${line.length > 300 ? `${line.slice(0, 300)}...` : line}`);
        },
      };
      const parser: LineParser = c.parser.type === 'text' ? new TextParser(this.registry, c.parser.props, hooks) : new AwsVpcParser(this.registry, c.parser.type === 'aws' ? c.parser.fields : undefined, hooks);
      const sink: LineHandler = (lines, s, now) => {
        this.m.lines.inc({ consumer: name }, lines.length);
        parser.parseLines(lines, s, now);
      };
      onLines = sink;
      // Stream lines are gathered per event-loop turn, so a burst becomes one parse and one flush.
      const pending = new Map<TransportSession, string[]>();
      let scheduled = false;
      const drain = () => {
        scheduled = false;
        const now = Date.now();
        for (const [s, lines] of pending) sink(lines, s, now);
        pending.clear();
      };
      this.flushers.push(drain);
      onDatagram = (buf, s, now) => {
        if (s.transport === 'udp') return sink(datagramLines(buf), s, now);
        let l = pending.get(s);
        if (l === undefined) pending.set(s, (l = []));
        l.push(buf.toString('utf8'));
        if (!scheduled) {
          scheduled = true;
          setImmediate(drain);
        }
      };
    }
    log.info({ consumer: name, parser: c.parser.type }, `consumer ${name} started: ${c.parser.type} parser, ${c.connectors.length} connector(s)`);
    for (const [i, k] of c.connectors.entries()) {
      const label = `${k.type}${c.connectors.length > 1 ? `#${i}` : ''}`;
      if (k.type === 'udp' || k.type === 'tcp') {
        const allow = k.remoteAddrs ? new Allowlist(k.remoteAddrs) : undefined;
        const refused = new RateLimitedLog((msg, n) => log.warn({ consumer: name, suppressed: n }, msg), 60_000);
        const refuse = (addr: string) => {
          this.m.dropped.inc({ consumer: name, reason: 'not-allowed' });
          refused.log(addr, `consumer ${name}: ${k.type} from ${addr} dropped: not in remote_addrs`);
        };
        for (const port of k.ports) {
          const spec = { transport: k.type, host: k.host, port, text: `${k.type}://${k.host.includes(':') ? `[${k.host}]` : k.host}:${port}` };
          // forward_to replicates what the consumer accepts (after remote_addrs), before decoding.
          const fwd = k.type === 'udp' ? this.forwarders.get(name) : undefined;
          const handler = (buf: Buffer, s: TransportSession, now: number) => {
            if (allow && !allow.allows(s.address)) return refuse(s.address);
            this.m.received.inc({ consumer: name, connector: label });
            fwd?.handle(buf, s.address, s.port);
            onDatagram(buf, s, now);
          };
          const warn = (msg: string) => log.warn({ consumer: name }, msg);
          const src =
            k.type === 'udp'
              ? new UdpSource(spec, handler, { onWarning: warn })
              : new TcpSource(spec, handler, {
                  onClose,
                  onWarning: warn,
                  accept: allow
                    ? (a) => {
                        if (allow.allows(a)) return true;
                        refuse(a);
                        return false;
                      }
                    : undefined,
                  framer: binary ? undefined : () => new LineFramer(),
                });
          try {
            await src.start();
          } catch (err) {
            throw new Error(`consumer ${name}: cannot listen on ${spec.text}: ${(err as Error).message}`);
          }
          this.sockets.push(src);
          this.listening.push({ consumer: name, transport: k.type, port: src.boundPort });
          log.info({ consumer: name, transport: k.type, port: src.boundPort, allowlist: allow?.size }, `consumer ${name}: listening on ${k.type} port ${src.boundPort}${allow ? ` (remote_addrs: ${allow.size} entries)` : ''}`);
        }
      } else if (k.type === 'kafka' || k.type === 'aws') {
        if (this.deps.lineSource === undefined || onLines === undefined) throw new Error(`consumer ${name}: the ${k.type} connector is not available in this build`);
        const sink = onLines;
        const src = await this.deps.lineSource(k, name, (lines, s, now) => {
          this.m.received.inc({ consumer: name, connector: label }, lines.length);
          sink(lines, s, now);
        }, { log, dataDirectory: this.cfg.dataDirectory });
        await src.start();
        this.lineSources.push(src);
        log.info({ consumer: name, connector: k.type }, `consumer ${name}: ${src.description}`);
      }
    }
  }

  private async startMetricsServer(): Promise<void> {
    const l = this.cfg.metricsListen;
    if (l === undefined) return;
    const server = new HttpServer({ host: l.host, port: l.port, auth: l.auth }).route('GET', '/metrics', metricsHandler(this.metrics));
    await server.listen();
    this.metricsServer = server;
    this.metricsUrl = `${server.url}/metrics`;
    this.deps.log.info({ url: this.metricsUrl }, `metrics served on ${this.metricsUrl}`);
  }

  /** One log line with every non-zero counter and gauge of the registry (both sides). */
  async metricsSummary(): Promise<string> {
    const parts: string[] = [];
    for (const m of await this.metrics.getMetricsAsJSON()) {
      for (const v of m.values) {
        if (!v.value) continue;
        const labels = Object.entries(v.labels ?? {}).map(([k, x]) => `${k}=${String(x)}`).join(',');
        parts.push(`${m.name}${labels ? `{${labels}}` : ''}=${v.value}`);
      }
    }
    return parts.length > 0 ? parts.join(' ') : 'nothing received yet';
  }

  private async printMetrics(): Promise<void> {
    this.deps.log.info({}, `metrics: ${await this.metricsSummary()}`);
  }

  /** Drains and releases everything; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.sockets.map((s) => s.close()));
    await this.templateState?.stop();
    await Promise.all(this.lineSources.map((s) => s.stop()));
    // Nothing new arrives now: let the queued copies leave, then report every receiver.
    await Promise.all(this.replicators.map(({ r }) => r.close()));
    for (const { what, r } of this.replicators) this.deps.log.info({ relay: what }, `${what}: ${formatRelayCounters(r.counters)}`);
    for (const f of this.flushers) f();
    this.flushOutputs();
    try {
      await this.delivery?.stop();
    } finally {
      this.flushOutputs();
      await Promise.all(this.outputs.map((o) => o.close()));
      await this.store?.writer.close();
      await this.metricsServer?.stop();
      if (this.outputs.length > 0) this.deps.log.info({}, `outputs: ${this.outputs.map((o) => `${o.name}: ${formatOutputCounters(o.counters)}`).join('; ')}`);
      this.deps.log.info({}, `stopped; ${await this.metricsSummary()}`);
    }
  }
}
