import pino from 'pino';
import { DecodePipeline } from '../model/decode-pipeline.js';
import { LineWriter } from '../sinks/line-writer.js';
import { DEFAULT_LISTEN, parseListenUri } from '../sources/listen-uri.js';
import { TcpSource } from '../sources/tcp.js';
import { UdpSource } from '../sources/udp.js';
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
  const pipeline = new DecodePipeline({
    registry,
    limits,
    onBatch: (b) => out.write(formatter.formatBatch(b)),
    onTemplate: formatter.options.templateInfo ? (ev) => !ev.withdrawn && out.write(formatter.formatTemplate(ev.ctx, ev.template)) : undefined,
    onDrop: dropLogger((line) => log.warn(line)),
  });
  const handle = pipeline.handle.bind(pipeline);
  const warn = (msg: string) => log.warn(msg);

  // Output is flushed once per event-loop turn, so a burst of datagrams becomes one write.
  let flushScheduled = false;
  const scheduleFlush = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      out.flush();
    });
  };
  const onDatagram: typeof handle = (buf, session, now) => {
    handle(buf, session, now);
    scheduleFlush();
  };

  const sources: Array<UdpSource | TcpSource> = [];
  for (const spec of specs) {
    const src =
      spec.transport === 'udp'
        ? new UdpSource(spec, onDatagram, { receiveBufferBytes: opts.receiveBuffer, onWarning: warn })
        : new TcpSource(spec, onDatagram, { onClose: (s) => pipeline.decoder.closeSession(s), onWarning: warn });
    try {
      await src.start();
    } catch (err) {
      log.error(`cannot listen on ${spec.text}: ${(err as Error).message}`);
      await Promise.all(sources.map((s) => s.close()));
      return 1;
    }
    sources.push(src);
    log.info(`listening on ${spec.transport}://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${src.boundPort}`);
  }

  const tick = setInterval(() => pipeline.decoder.tick(Date.now()), 5000);
  const c = pipeline.counters;
  const summary = () =>
    `${c.datagrams} datagrams, ${c.records} records, ${c.optionsRecords} options records, dropped: ${JSON.stringify(c.drops.toJSON())}` +
    (out.droppedWrites ? `, output overflow dropped ${out.droppedBytes} bytes` : '');
  const report = setInterval(() => log.info(summary()), 60_000);
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
  pipeline.decoder.flush();
  out.flush();
  log.info(`stopped: ${summary()}`);
  return 0;
}
