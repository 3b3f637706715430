/**
 * `sluice collect`: arguments and config file in, the collect engine (src/collect/engine.ts) run
 * until SIGINT/SIGTERM, a summary out.
 */
import { Command, Option } from 'commander';
import type { CollectConfig } from '../collect/config.js';
import { CollectEngine, defaultWorkers } from '../collect/engine.js';
import { parseFormatSpec } from '../format/spec.js';
import { parseOutputSpec } from '../outputs/spec.js';
import { DEFAULT_LISTEN, parseListenUri } from '../sources/listen-uri.js';
import { byteSize, collectList, duration, nonNegativeInt, positiveInt } from './args.js';
import { FORMAT_HELP } from './format-help.js';
import { createLog, type LogLevel } from './log.js';
import { untilSignal } from './signals.js';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { loadAuth } from '../api/auth.js';
import { PAGE_RATE_PER_SECOND, mountPage } from '../api/page.js';
import { HttpServer, metricsHandler } from '../api/server.js';
import type { QueryEngine } from '../query/engine.js';
import { SluiceError } from '../util/errors.js';
import { SamplingTracker, type PrefixRate } from '../pipeline/sampling.js';

/** `--sampling-default 1000`, `--sampling-default 1000@192.0.2.0/24`, `--sampling-override 192.0.2.7=512`. */
function parseRateFlag(text: string, flag: string): PrefixRate {
  const m = flag === '--sampling-override' ? /^([^=]+)=(\d+(?:\.\d+)?)$/.exec(text) : /^(\d+(?:\.\d+)?)(?:@(.+))?$/.exec(text);
  if (m === null) throw new InvalidArgumentError(`${flag} ${text}: expected ${flag === '--sampling-override' ? 'PREFIX=RATE (192.0.2.0/24=1000)' : 'RATE or RATE@PREFIX (1000@192.0.2.0/24)'}`);
  return flag === '--sampling-override' ? { prefix: m[1]!, rate: Number(m[2]) } : { prefix: m[2] ?? '::/0', rate: Number(m[1]) };
}

/** `9464`, `127.0.0.1:9464`, `[::1]:9464`, `0.0.0.0:9464`; a bare port binds loopback. */
export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):)?(\d+)$/.exec(text.trim());
  if (m === null || Number(m[2]) > 65535) throw new InvalidArgumentError(`${flag} ${text}: expected [HOST:]PORT`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

interface CollectFlags {
  readonly config?: string;
  readonly listen?: string[];
  readonly format: string;
  readonly ieFile: string[];
  readonly templateLifetime?: number;
  readonly receiveBuffer?: number;
  readonly logLevel: LogLevel;
  readonly workers?: number;
  readonly output?: string[];
  readonly metrics?: string;
  readonly metricsAuth?: string;
  readonly http?: string;
  readonly auth?: string;
  readonly state?: string;
  readonly captureDrops?: string;
  readonly samplingDefault: string[];
  readonly samplingOverride: string[];
  readonly activeTimeout: number;
  readonly store?: string;
  readonly storeFlush?: number;
  readonly retention?: number;
  readonly storeMaxSize?: number;
}

export function collectCommand(): Command {
  return new Command('collect')
    .description('receive flow exports over UDP/TCP and print one IPFIXcol2-style JSON line per record on stdout')
    .option('-c, --config <file>', 'YAML configuration: listen, format and outputs (docs/collect.md); flags given on the command line win')
    .option('-l, --listen <uri>', 'where to listen: udp://HOST:PORT or tcp://HOST:PORT (IPFIX over TCP); repeatable; replaces the defaults (UDP 2055, 4739, 9995, 9555 and sFlow 6343 on all IPv4 and IPv6 addresses)', collectList)
    .option('-f, --format <spec>', FORMAT_HELP, 'json')
    .option('--ie-file <path>', 'extra Information Element definitions, one per line: "enterprise id name type [scope]"; repeatable', collectList, [])
    .option('--template-lifetime <seconds>', 'UDP template lifetime (RFC 7011 8.4)', positiveInt, 1800)
    .option('--receive-buffer <bytes>', 'UDP socket receive buffer to ask the kernel for', positiveInt)
    .option('-o, --output <spec>', 'where JSON goes; repeatable; replaces the default print: print, file:DIR[?prefix=json.&timeWindow=300&timeAlignment=yes&compression=none|gzip|lz4|zstd], tcp-server://[HOST]:PORT[?blocking=yes], tcp://HOST:PORT, udp://HOST:PORT, kafka://BROKER:PORT/TOPIC[?partition=N]; each takes ?format=json,opt=value... (docs/outputs.md)', collectList)
    .option('--store <dir>', 'keep every flow in the embedded store under DIR (Parquet segments; query with sluice query --store DIR); with --store and no -o nothing is printed')
    .option('--store-flush <duration>', 'how often the store writes the open window: what a crash can lose at most', duration('s'))
    .option('--retention <duration>', 'delete store segments written longer ago than this (e.g. 30d), as nfexpire -t', duration('d'))
    .option('--store-max-size <size>', 'delete the oldest store segments past this total size (e.g. 100G), as nfexpire -s', byteSize)
    .option('--workers <n>', 'decode worker threads (0 = decode on the receiving thread; default: one per CPU core beyond the first, at most 8)', nonNegativeInt)
    .option('--metrics <[host:]port>', 'serve Prometheus /metrics here (default host 127.0.0.1; any other address needs --metrics-auth)')
    .option('--metrics-auth <file|token>', 'credentials for /metrics: a file of tokens (Bearer) and user:password lines (Basic), or one token')
    .option('--http <[host:]port>', 'serve the page and the HTTP API over --store here, and /metrics (e.g. 127.0.0.1:8080; any other address needs --auth); --metrics at the same address shares this server')
    .option('--auth <file|token>', 'credentials for --http: a file of tokens (Bearer) and user:password lines (Basic), or one token')
    .option('--state <dir>', 'keep templates and options facts in DIR/templates.json, so a restart decodes data at once instead of waiting up to 30 min for exporters to resend templates')
    .option('--capture-drops <file.pcap>', 'write every datagram that caused a drop to rotated pcap files FILE-N.pcap (8 x 16 MiB), with its exporter address and ports, for Wireshark or a bug report')
    .option('--sampling-default <rate[@prefix]>', 'sampling rate (1 in N) for exporters that never state one; @prefix limits it to exporters in a prefix; repeatable', collectList, [])
    .option('--sampling-override <prefix=rate>', 'sampling rate that wins over what exporters in the prefix state (exporters lie); repeatable', collectList, [])
    .option('--active-timeout <seconds>', 'flows longer than this are counted as longer-than-active-timeout (exporter health)', positiveInt, 1800)
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addHelpText(
      'after',
      `
Examples:
  sluice collect                                    # all default ports, JSON to stdout
  sluice collect -l udp://:2055 -l tcp://:4739      # NetFlow/IPFIX on 2055, IPFIX over TCP on 4739
  sluice collect -l udp://[::1]:9995 -f json,timestamp=unix,ignoreUnknown=false
  sluice collect -o print -o 'file:/var/lib/sluice/%Y/%m/%d/?compression=gzip&format=json,timestamp=unix'
  sluice collect --store /var/lib/sluice --retention 30d   # keep flows; sluice query --store /var/lib/sluice -s srcip/bytes

  sluice collect --store /var/lib/sluice --http 127.0.0.1:8080   # and the page on http://127.0.0.1:8080/

  sluice collect --metrics 9464 --state /var/lib/sluice/state --sampling-default 1000
  sluice collect --capture-drops /var/tmp/sluice-drops.pcap

Every port accepts every protocol: the version field of each datagram decides.
Problems with input (bad datagrams, missing templates) are counted and logged on stderr, rate-limited.
kill -USR1 <pid> logs every exporter: records, sequence loss, drops, sampling, content checks.`,
    )
    .action(async (o: CollectFlags) => {
      process.exitCode = await runCollect(o);
    });
}

async function runCollect(o: CollectFlags): Promise<number> {
  // Argument and file errors throw here, before anything opens: the program reports them and exits 2.
  // The schema (zod, yaml) is loaded only with a file: about 5 MiB of heap a flag-only collector does not need.
  const cfg: CollectConfig = o.config !== undefined ? (await import('../collect/config.js')).loadCollectConfig(o.config) : {};
  const listen = (o.listen && o.listen.length > 0 ? o.listen : (cfg.listen ?? DEFAULT_LISTEN)).map(parseListenUri);
  const format = { ...cfg.format, ...parseFormatSpec(o.format) };
  const storeDir = o.store ?? cfg.store?.dir;
  const store = storeDir === undefined ? undefined : { dir: storeDir, flushIntervalMs: o.storeFlush ?? cfg.store?.flushIntervalMs, maxAgeMs: o.retention ?? cfg.store?.maxAgeMs, maxBytes: o.storeMaxSize ?? cfg.store?.maxBytes };
  // The store is an output: with it and no JSON output asked for, nothing is printed.
  const outputs = o.output && o.output.length > 0 ? o.output.map(parseOutputSpec) : (cfg.outputs ?? (store !== undefined ? [] : [parseOutputSpec('print')]));
  // Flags add to what the file says; an override given twice, the flag's wins (the longest prefix decides, then the first).
  const sampling = {
    defaults: [...o.samplingDefault.map((s) => parseRateFlag(s, '--sampling-default')), ...(cfg.sampling?.defaults ?? [])],
    overrides: [...o.samplingOverride.map((s) => parseRateFlag(s, '--sampling-override')), ...(cfg.sampling?.overrides ?? [])],
  };
  new SamplingTracker(sampling); // checks the prefixes and rates now, before anything opens
  const metricsAt = o.metrics === undefined ? undefined : parseHostPort(o.metrics, '--metrics');
  const metricsAuth = o.metricsAuth === undefined ? undefined : loadAuth(o.metricsAuth);
  const httpAt = o.http === undefined ? undefined : parseHostPort(o.http, '--http');
  if (httpAt !== undefined && store === undefined) throw new SluiceError('usage', '--http serves the page and API of the flow store: give --store DIR too');
  // Refused now (loopback only without --auth), before anything opens.
  const http = httpAt === undefined ? undefined : new HttpServer({ host: httpAt.host, port: httpAt.port, auth: o.auth === undefined ? undefined : loadAuth(o.auth), ratePerSecond: PAGE_RATE_PER_SECOND });
  const metricsShared = metricsAt !== undefined && httpAt !== undefined && metricsAt.host === httpAt.host && metricsAt.port === httpAt.port;
  const captureDrops = o.captureDrops === undefined ? undefined : { dir: dirname(resolve(o.captureDrops)), prefix: basename(o.captureDrops).replace(/\.pcap$/, '') };
  const log = createLog(o.logLevel);
  let engine: CollectEngine;
  try {
    engine = await CollectEngine.start({
      sampling,
      health: { activeTimeoutMs: o.activeTimeout * 1000 },
      // Templates survive a restart by default when there is a store to keep them in.
      stateDir: o.state ?? (store !== undefined ? join(store.dir, 'state') : undefined),
      store,
      captureDrops,
      listen,
      outputs,
      format,
      ieFiles: [...(cfg.ieFiles ?? []), ...o.ieFile],
      limits: o.templateLifetime !== undefined ? { udpTemplateLifetimeMs: o.templateLifetime * 1000 } : {},
      workers: o.workers ?? defaultWorkers(),
      receiveBufferBytes: o.receiveBuffer,
      log,
    });
  } catch (err) {
    log.error({}, (err as Error).message);
    return 1;
  }
  if (store !== undefined) {
    const q = process.env.npm_lifecycle_event === 'start' ? 'npm run sluice -- query' : 'sluice query';
    log.info({ store: store.dir }, `flows are kept in ${store.dir}; ask them: ${q} --store ${store.dir} -s srcip/bytes -t -1h`);
  }
  let metrics: HttpServer | undefined;
  let pageEngine: QueryEngine | undefined;
  if (http !== undefined && store !== undefined) {
    try {
      // Loaded here: a collector without the page does not carry the API's modules and the query engine.
      const [{ QueryEngine }, { storeSegments }, { ApiV1 }, { liveExporters }, { writerHealth }] = await Promise.all([
        import('../query/engine.js'),
        import('../query/segments.js'),
        import('../api/v1.js'),
        import('../api/exporters.js'),
        import('../api/health.js'),
      ]);
      pageEngine = await QueryEngine.open({ segments: storeSegments(store.dir) });
      const writer = engine.store!;
      new ApiV1({
        engine: pageEngine,
        exporters: liveExporters(() => engine.exporters.rows()),
        health: writerHealth(() => writer.stats(), { maxAgeMs: store.maxAgeMs ?? null, maxBytes: store.maxBytes ?? null }),
        log,
      }).mount(http);
      mountPage(http);
      http.route('GET', '/metrics', metricsHandler(engine.exporters.registry));
      await http.listen();
      log.info({ url: `${http.url}/` }, `the page: ${http.url}/ (API under ${http.url}/api/v1/, metrics on ${http.url}/metrics)`);
    } catch (err) {
      log.error({}, `cannot serve the page on ${o.http}: ${(err as Error).message}`);
      pageEngine?.close();
      await engine.stop();
      return 1;
    }
  }
  if (metricsAt !== undefined && !metricsShared) {
    try {
      metrics = new HttpServer({ host: metricsAt.host, port: metricsAt.port, auth: metricsAuth }).route('GET', '/metrics', metricsHandler(engine.exporters.registry));
      await metrics.listen();
      log.info({ url: `${metrics.url}/metrics` }, `metrics served on ${metrics.url}/metrics`);
    } catch (err) {
      log.error({}, `cannot serve metrics on ${o.metrics}: ${(err as Error).message}`);
      await http?.stop();
      pageEngine?.close();
      await engine.stop();
      return 1;
    }
  }
  const overflow = () => (engine.overflow ? `, ${engine.overflow} datagrams dropped: decode workers behind` : '');
  const report = setInterval(() => log.info({}, `${engine.received} datagrams received${overflow()}; outputs: ${engine.outputReport()}`), 60_000);
  report.unref();
  const usr1 = () => {
    const lines = engine.exporters.report();
    log.info({ exporters: engine.exporters.rows() }, lines.length > 0 ? `exporters:\n  ${lines.join('\n  ')}` : 'exporters: none heard from yet');
  };
  process.on('SIGUSR1', usr1);
  const sig = await untilSignal();
  log.info({}, `${sig}: stopping`);
  clearInterval(report);
  process.off('SIGUSR1', usr1);
  await metrics?.stop();
  await http?.stop();
  pageEngine?.close();
  const c = await engine.stop();
  for (const line of engine.exporters.report()) log.info({}, line);
  log.info(
    { datagrams: c.datagrams, records: c.records, optionsRecords: c.optionsRecords, drops: c.drops, overflow: c.overflow },
    `stopped: ${c.datagrams} datagrams, ${c.records} records, ${c.optionsRecords} options records, dropped: ${JSON.stringify(c.drops)}${overflow()}; outputs: ${engine.outputReport()}`,
  );
  return 0;
}
