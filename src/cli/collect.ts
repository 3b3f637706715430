import { availableParallelism } from 'node:os';
import pino from 'pino';
import { DecodePipeline } from '../model/decode-pipeline.js';
import { WorkerPool } from '../runtime/worker-pool.js';
import { LineWriter } from '../sinks/line-writer.js';
import { DEFAULT_LISTEN, parseListenUri } from '../sources/listen-uri.js';
import { TcpSource } from '../sources/tcp.js';
import { UdpSource } from '../sources/udp.js';
import type { TransportSession } from '../wire/batch.js';
import type { TemplateStoreLimits } from '../wire/template-store.js';
import { dropLogger, loadRegistry, makeFormatter } from './common.js';
import { parseFormatSpec } from './format-spec.js';

export interface CollectCommandOptions {
  readonly listen?: string[];
  readonly format: string;
  readonly ieFile: string[];
  readonly templateLifetime?: number;
  readonly receiveBuffer?: number;
  readonly logLevel: string;
  /** Decode worker threads; 0 decodes on the receiving thread. Default: one per core beyond the first. */
  readonly workers?: number;
}

export function defaultWorkers(): number {
  return Math.min(8, Math.max(0, availableParallelism() - 1));
}

/** `sluice collect`: listen, decode, print JSON lines to stdout. Runs until SIGINT/SIGTERM. */
export async function runCollect(opts: CollectCommandOptions): Promise<number> {
  const log = pino({ level: opts.logLevel, base: undefined }, pino.destination(2));
  const specs = (opts.listen && opts.listen.length > 0 ? opts.listen : DEFAULT_LISTEN).map(parseListenUri);
  const registry = loadRegistry(opts.ieFile);
  const formatter = makeFormatter(parseFormatSpec(opts.format));
  const out = new LineWriter(process.stdout);
  const limits: Partial<TemplateStoreLimits> =
    opts.templateLifetime !== undefined ? { udpTemplateLifetimeMs: opts.templateLifetime * 1000 } : {};
  const workers = opts.workers ?? defaultWorkers();
  const logDrop = dropLogger((line) => log.warn(line));

  // Either decode here, or hand datagrams to worker threads and only receive and write here.
  let received = 0;
  let pipeline: DecodePipeline | undefined;
  let pool: WorkerPool | undefined;
  let onDatagram: (buf: Buffer, session: TransportSession, now: number) => void;
  let onClose: (session: TransportSession) => void;
  if (workers > 0) {
    const p = new WorkerPool(workers, { format: formatter.options, ieFiles: opts.ieFile, limits, logLevel: opts.logLevel }, {
      onOutput: (bytes) => out.writeBytes(bytes),
      onLog: (level, msg) => log[level](msg),
    });
    pool = p;
    onDatagram = (buf, session, now) => {
      received++;
      p.handle(buf, session, now);
    };
    onClose = (s) => p.close(s);
  } else {
    const p = new DecodePipeline({
      registry,
      limits,
      onBatch: (b) => {
        // UTF-8 straight into the writer's buffer: no JSON strings to build, flatten and encode.
        formatter.formatBatchInto(b, out.bytes);
        out.commit();
      },
      onTemplate: formatter.options.templateInfo ? (ev) => !ev.withdrawn && out.write(formatter.formatTemplate(ev.ctx, ev.template)) : undefined,
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
        out.flush();
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
      return 1;
    }
    sources.push(src);
    log.info(`listening on ${spec.transport}://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${src.boundPort}`);
  }

  log.info(workers > 0 ? `decoding in ${workers} worker thread(s)` : 'decoding on the receiving thread');
  const tick = pipeline ? setInterval(() => pipeline.decoder.tick(Date.now()), 5000) : undefined;
  const overflow = () =>
    (out.droppedWrites ? `, output overflow dropped ${out.droppedBytes} bytes` : '') +
    (pool?.overflow ? `, ${pool.overflow} datagrams dropped: decode workers behind` : '');
  const report = setInterval(() => log.info(`${received} datagrams received${overflow()}`), 60_000);
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
  out.flush();
  log.info(`stopped: ${c.datagrams} datagrams, ${c.records} records, ${c.optionsRecords} options records, dropped: ${JSON.stringify(c.drops)}${overflow()}`);
  return 0;
}
