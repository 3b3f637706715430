/**
 * `sluice collect`: arguments and config file in, the collect engine (src/collect/engine.ts) run
 * until SIGINT/SIGTERM, a summary out.
 */
import { Command, Option } from 'commander';
import { loadCollectConfig, type CollectConfig } from '../collect/config.js';
import { CollectEngine, defaultWorkers } from '../collect/engine.js';
import { parseFormatSpec } from '../format/spec.js';
import { parseOutputSpec } from '../outputs/spec.js';
import { DEFAULT_LISTEN, parseListenUri } from '../sources/listen-uri.js';
import { collectList, nonNegativeInt, positiveInt } from './args.js';
import { FORMAT_HELP } from './format-help.js';
import { createLog, type LogLevel } from './log.js';
import { untilSignal } from './signals.js';

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
    .option('--workers <n>', 'decode worker threads (0 = decode on the receiving thread; default: one per CPU core beyond the first, at most 8)', nonNegativeInt)
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addHelpText(
      'after',
      `
Examples:
  sluice collect                                    # all default ports, JSON to stdout
  sluice collect -l udp://:2055 -l tcp://:4739      # NetFlow/IPFIX on 2055, IPFIX over TCP on 4739
  sluice collect -l udp://[::1]:9995 -f json,timestamp=unix,ignoreUnknown=false
  sluice collect -o print -o 'file:/var/lib/sluice/%Y/%m/%d/?compression=gzip&format=json,timestamp=unix'

Every port accepts every protocol: the version field of each datagram decides.
Problems with input (bad datagrams, missing templates) are counted and logged on stderr, rate-limited.`,
    )
    .action(async (o: CollectFlags) => {
      process.exitCode = await runCollect(o);
    });
}

async function runCollect(o: CollectFlags): Promise<number> {
  // Argument and file errors throw here, before anything opens: the program reports them and exits 2.
  const cfg: CollectConfig = o.config !== undefined ? loadCollectConfig(o.config) : {};
  const listen = (o.listen && o.listen.length > 0 ? o.listen : (cfg.listen ?? DEFAULT_LISTEN)).map(parseListenUri);
  const format = { ...cfg.format, ...parseFormatSpec(o.format) };
  const outputs = o.output && o.output.length > 0 ? o.output.map(parseOutputSpec) : (cfg.outputs ?? [parseOutputSpec('print')]);
  const log = createLog(o.logLevel);
  let engine: CollectEngine;
  try {
    engine = await CollectEngine.start({
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
  const overflow = () => (engine.overflow ? `, ${engine.overflow} datagrams dropped: decode workers behind` : '');
  const report = setInterval(() => log.info({}, `${engine.received} datagrams received${overflow()}; outputs: ${engine.outputReport()}`), 60_000);
  report.unref();
  const sig = await untilSignal();
  log.info({}, `${sig}: stopping`);
  clearInterval(report);
  const c = await engine.stop();
  log.info(
    { datagrams: c.datagrams, records: c.records, optionsRecords: c.optionsRecords, drops: c.drops, overflow: c.overflow },
    `stopped: ${c.datagrams} datagrams, ${c.records} records, ${c.optionsRecords} options records, dropped: ${JSON.stringify(c.drops)}${overflow()}; outputs: ${engine.outputReport()}`,
  );
  return 0;
}
