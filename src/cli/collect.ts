import { availableParallelism } from 'node:os';
import pino from 'pino';
import { DecodeStage } from '../pipeline/decode.js';
import { WorkerPool } from '../collect/worker-pool.js';
import { DEFAULT_JSON_OPTIONS, type JsonFormatOptions } from '../format/ipfixcol2-json.js';
import { formatGroups, type FormatGroup } from '../outputs/groups.js';
import { ByteOutput } from '../format/byte-output.js';
import { createOutput } from '../outputs/create.js';
import { formatCounters, type Output, type OutputSpec } from '../outputs/output.js';
import { DEFAULT_LISTEN, parseListenUri } from '../sources/listen-uri.js';
import { TcpSource } from '../sources/tcp.js';
import { UdpSource } from '../sources/udp.js';
import type { TransportSession } from '../wire/batch.js';
import type { TemplateStoreLimits } from '../wire/template-store.js';
import { loadRegistry } from '../model/registry.js';
import { dropLogger } from '../pipeline/drop-log.js';
import { Ipfixcol2JsonFormatter } from '../format/ipfixcol2-json.js';
import { parseFormatSpec } from '../format/spec.js';
import { parseOutputSpec } from '../outputs/spec.js';
import type { CollectConfig } from '../collect/config.js';

export interface CollectCommandOptions {
  readonly listen?: string[];
  readonly format: string;
  readonly ieFile: string[];
  readonly templateLifetime?: number;
  readonly receiveBuffer?: number;
  readonly logLevel: string;
  /** Decode worker threads; 0 decodes on the receiving thread. Default: one per core beyond the first. */
  readonly workers?: number;
  /** `--output` flags; none: print to stdout. */
  readonly output?: string[];
  /** From `--config FILE`; command-line flags win over it. */
  readonly config?: CollectConfig;
}

export function defaultWorkers(): number {
  return Math.min(8, Math.max(0, availableParallelism() - 1));
}

/** `sluice collect`: listen, decode, write JSON lines to the outputs (default: stdout). Runs until SIGINT/SIGTERM. */
export async function runCollect(opts: CollectCommandOptions): Promise<number> {
  const log = pino({ level: opts.logLevel, base: undefined }, pino.destination(2));
  const cfg = opts.config ?? {};
  const listen = opts.listen && opts.listen.length > 0 ? opts.listen : (cfg.listen ?? DEFAULT_LISTEN);
  const specs = listen.map(parseListenUri);
  const ieFiles = [...(cfg.ieFiles ?? []), ...opts.ieFile];
  const registry = loadRegistry(ieFiles);
  const baseFormat = { ...cfg.format, ...parseFormatSpec(opts.format) };
  const outputSpecs =
    opts.output && opts.output.length > 0 ? opts.output.map(parseOutputSpec) : (cfg.outputs ?? [parseOutputSpec('print')]);
  const groups = formatGroups(outputSpecs, baseFormat);
  const limits: Partial<TemplateStoreLimits> =
    opts.templateLifetime !== undefined ? { udpTemplateLifetimeMs: opts.templateLifetime * 1000 } : {};
  const workers = opts.workers ?? defaultWorkers();
  const logDrop = dropLogger((line) => log.warn(line));

  // Outputs first: one that cannot start (port in use, no Kafka in this build) stops the command.
  const outputs: Output[] = [];
  const outLog = (level: 'info' | 'warn' | 'error', msg: string) => log[level](msg);
  for (const g of groups) {
    for (const spec of g.specs) {
      try {
        const o = await createOutput(spec, outLog);
        g.outputs.push(o);
        outputs.push(o);
      } catch (err) {
        log.error(`cannot start output ${spec.name}: ${(err as Error).message}`);
        await Promise.all(outputs.map((o) => o.close()));
        return 1;
      }
    }
  }
  const deliver = (g: FormatGroup, bytes: Buffer) => {
    for (const o of g.outputs) o.write(bytes);
  };

  // Either decode here, or hand datagrams to worker threads and only receive and route bytes here.
  let received = 0;
  let pipeline: DecodeStage | undefined;
  let pool: WorkerPool | undefined;
  let onDatagram: (buf: Buffer, session: TransportSession, now: number) => void;
  let onClose: (session: TransportSession) => void;
  let flushInline = () => {};
  if (workers > 0) {
    const p = new WorkerPool(workers, { formats: groups.map((g) => g.options), ieFiles, limits, logLevel: opts.logLevel }, {
      onOutput: (group, bytes) => deliver(groups[group]!, bytes),
      onLog: (level, msg) => log[level](msg),
    });
    pool = p;
    onDatagram = (buf, session, now) => {
      received++;
      p.handle(buf, session, now);
    };
    onClose = (s) => p.close(s);
  } else {
    // One formatter and buffer per format group; UTF-8 straight into the buffer, no JSON strings.
    const lanes = groups.map((g) => ({ g, f: new Ipfixcol2JsonFormatter(g.options), out: new ByteOutput(256 * 1024) }));
    const withTemplates = lanes.filter((l) => l.f.options.templateInfo);
    const flushLane = (l: (typeof lanes)[number]) => {
      if (l.out.len > 0) deliver(l.g, l.out.take());
    };
    flushInline = () => lanes.forEach(flushLane);
    const p = new DecodeStage({
      registry,
      limits,
      onBatch: (b) => {
        for (const l of lanes) {
          l.f.formatBatchInto(b, l.out);
          if (l.out.len >= 256 * 1024) flushLane(l);
        }
      },
      onTemplate:
        withTemplates.length > 0
          ? (ev) => {
              for (const l of withTemplates) l.out.writeString(l.f.formatTemplate(ev.ctx, ev.template, ev.withdrawn));
            }
          : undefined,
      onDrop: logDrop,
    });
    pipeline = p;
    // Output is flushed once per event-loop turn, so a burst of datagrams becomes one write.
    let flushScheduled = false;
    onDatagram = (buf, session, now) => {
      received++;
      p.handle(buf, session, now);
      if (flushScheduled) return;
      flushScheduled = true;
      setImmediate(() => {
        flushScheduled = false;
        flushInline();
      });
    };
    onClose = (s) => p.decoder.closeSession(s);
  }
  const warn = (msg: string) => log.warn(msg);

  const sources: Array<UdpSource | TcpSource> = [];
  for (const spec of specs) {
    const src =
      spec.transport === 'udp'
        ? new UdpSource(spec, onDatagram, { receiveBufferBytes: opts.receiveBuffer, onWarning: warn })
        : new TcpSource(spec, onDatagram, { onClose, onWarning: warn });
    try {
      await src.start();
    } catch (err) {
      log.error(`cannot listen on ${spec.text}: ${(err as Error).message}`);
      await Promise.all(sources.map((s) => s.close()));
      await pool?.stop();
      await Promise.all(outputs.map((o) => o.close()));
      return 1;
    }
    sources.push(src);
    log.info(`listening on ${spec.transport}://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${src.boundPort}`);
  }

  log.info(workers > 0 ? `decoding in ${workers} worker thread(s)` : 'decoding on the receiving thread');
  const tick = pipeline ? setInterval(() => pipeline.decoder.tick(Date.now()), 5000) : undefined;
  log.info(`outputs: ${groups.map((g) => g.specs.map((s) => s.name).join(' + ')).join('; ')}`);
  const overflow = () => (pool?.overflow ? `, ${pool.overflow} datagrams dropped: decode workers behind` : '');
  const outputReport = () => outputs.map((o) => `${o.name}: ${formatCounters(o.counters)}`).join('; ');
  const report = setInterval(() => log.info(`${received} datagrams received${overflow()}; outputs: ${outputReport()}`), 60_000);
  report.unref();

  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info(`${sig}: stopping`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  clearInterval(tick);
  clearInterval(report);
  await Promise.all(sources.map((s) => s.close()));
  let c: { datagrams: number; records: number; optionsRecords: number; drops: Record<string, number> };
  if (pool) c = await pool.stop();
  else {
    pipeline!.decoder.flush();
    const pc = pipeline!.counters;
    c = { datagrams: pc.datagrams, records: pc.records, optionsRecords: pc.optionsRecords, drops: pc.drops.toJSON() };
  }
  flushInline();
  // Files finished and renamed (gzip trailers written), sockets drained and ended.
  await Promise.all(outputs.map((o) => o.close()));
  log.info(
    `stopped: ${c.datagrams} datagrams, ${c.records} records, ${c.optionsRecords} options records, dropped: ${JSON.stringify(c.drops)}${overflow()}; outputs: ${outputReport()}`,
  );
  return 0;
}
