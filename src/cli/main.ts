#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import { runCollect } from './collect.js';
import { loadCollectConfig } from '../collect/config.js';
import { collectList } from './common.js';
import { runDecode } from './decode.js';
import { relayCommand } from './relay.js';
import { buildProbeCommand } from './probe.js';
import { buildQueryCommand } from './query.js';
import { addServiceCommands } from './service.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be an integer >= 0');
  return n;
}

const FORMAT_HELP =
  'output format and IPFIXcol2 JSON options: json[,opt=value...]; options tcpFlags=formatted|raw, ' +
  'timestamp=formatted|unix, protocol=formatted|raw, ignoreUnknown, ignoreOptions, nonPrintableChar, ' +
  'octetArrayAsUint, numericNames, splitBiflow, detailedInfo, templateInfo (true|false)';

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('Network flow telemetry: decode NetFlow v5/v7/v9, IPFIX and sFlow v5 onto the IPFIX information model')
    .version('0.1.0')
    .showHelpAfterError();

  program
    .command('collect')
    .description('receive flow exports over UDP/TCP and print one IPFIXcol2-style JSON line per record on stdout')
    .option('-c, --config <file>', 'YAML configuration: listen, format and outputs (see the README); flags given on the command line win')
    .option('-l, --listen <uri>', 'where to listen: udp://HOST:PORT or tcp://HOST:PORT (IPFIX over TCP); repeatable; replaces the defaults (UDP 2055, 4739, 9995, 9555 and sFlow 6343 on all IPv4 and IPv6 addresses)', collectList)
    .option('-f, --format <spec>', FORMAT_HELP, 'json')
    .option('--ie-file <path>', 'extra Information Element definitions, one per line: "enterprise id name type [scope]"; repeatable', collectList, [])
    .option('--template-lifetime <seconds>', 'UDP template lifetime (RFC 7011 8.4)', positiveInt, 1800)
    .option('--receive-buffer <bytes>', 'UDP socket receive buffer to ask the kernel for', positiveInt)
    .option('-o, --output <spec>', 'where JSON goes; repeatable; replaces the default print: print, file:DIR[?prefix=json.&timeWindow=300&timeAlignment=yes&compression=none|gzip|lz4|zstd], tcp-server://[HOST]:PORT[?blocking=yes], tcp://HOST:PORT, udp://HOST:PORT, kafka://BROKER:PORT/TOPIC[?partition=N]; each takes ?format=json,opt=value... (see Outputs in README)', collectList)
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
    .action(async (o) => {
      const config = o.config !== undefined ? loadCollectConfig(o.config) : undefined;
      process.exitCode = await runCollect({
        config,
        listen: o.listen,
        format: o.format,
        ieFile: o.ieFile,
        templateLifetime: o.templateLifetime,
        receiveBuffer: o.receiveBuffer,
        logLevel: o.logLevel,
        workers: o.workers,
        output: o.output,
      });
    });

  program
    .command('decode')
    .description('decode pcap/pcapng captures or raw export payload files offline, in order, to JSON lines on stdout')
    .argument('<files...>', 'pcap, pcapng, or raw payload files (one or several concatenated datagrams)')
    .option('-f, --format <spec>', FORMAT_HELP, 'json')
    .option('--ie-file <path>', 'extra Information Element definitions; repeatable', collectList, [])
    .option('--exporter <addr[:port]>', 'exporter address assumed for raw payload files', '0.0.0.0')
    .option('--template-lifetime <seconds>', 'UDP template lifetime, measured in capture time', positiveInt)
    .option('-q, --quiet', 'do not log individual drops (the summary still counts them)')
    .addHelpText(
      'after',
      `
Templates carry over from file to file, so pass a template capture before its data.
A summary (datagrams, records, drops by reason) is printed on stderr; the exit code is 0 even
when input was bad, and 1 only when a file could not be read.

Examples:
  sluice decode capture.pcapng
  sluice decode templates.bin data1.bin data2.bin -f json,timestamp=unix`,
    )
    .action(async (files: string[], o) => {
      process.exitCode = await runDecode(files, {
        format: o.format,
        ieFile: o.ieFile,
        exporter: o.exporter,
        templateLifetime: o.templateLifetime,
        quiet: o.quiet,
      });
    });

  // Positional options: `probe --version 9` is the probe's export version, not the program's --version.
  program.enablePositionalOptions();
  program.addCommand(relayCommand());
  program.addCommand(buildProbeCommand());
  program.addCommand(buildQueryCommand());

  addServiceCommands(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`sluice: ${(err as Error).message}\n`);
    process.exitCode = 2;
  });
