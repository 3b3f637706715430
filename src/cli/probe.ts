import { Command, InvalidArgumentError, Option } from 'commander';
import { collectList } from './args.js';
import { DEFAULT_METER_OPTIONS } from '../probe/meter.js';
import { runProbe } from '../probe/run.js';
import { parseCollector } from '../probe/transport.js';
import { SluiceError } from '../util/errors.js';

function intIn(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of seconds >= 0');
  return n;
}

interface ProbeFlags {
  pcap?: string;
  interface?: string;
  realtime?: boolean;
  filter?: string;
  collector?: string[];
  version: string;
  transport: 'udp' | 'tcp';
  domainId: number;
  mtu: number;
  templateRefresh: number;
  templateRefreshPackets: number;
  sampling: number;
  biflow?: boolean;
  activeTimeout: number;
  inactiveTimeout: number;
  finTimeout: number;
  maxFlows: number;
  inspect: boolean;
  ifindex?: number;
}

/** `sluice probe`: the exporter side. */
export function probeCommand(): Command {
  return new Command('probe')
    .description('meter packets from a pcap/pcapng file or a live interface into flows and export them as IPFIX, NetFlow v9 or v5')
    .option('--pcap <file>', 'read packets from a pcap or pcapng capture (as fast as possible unless --realtime)')
    .option('-i, --interface <name>', 'capture live on an interface (needs the optional "cap" package and libpcap, and root or CAP_NET_RAW)')
    .option('--realtime', 'replay --pcap at the pace it was recorded')
    .option('--filter <bpf>', 'BPF filter for --interface (tcpdump syntax)')
    .option('-c, --collector <host:port>', 'where to export; repeatable (every collector gets every message)', collectList)
    .addOption(new Option('-V, --version <n>', 'export protocol: 10 = IPFIX, 9 = NetFlow v9, 5 = NetFlow v5 (IPv4 only)').choices(['10', '9', '5']).default('10'))
    .addOption(new Option('--transport <proto>', 'udp, or tcp (IPFIX only, RFC 7011 framing)').choices(['udp', 'tcp']).default('udp'))
    .option('--domain-id <n>', 'IPFIX observation domain id / v9 source id / v5 engine type << 8 | engine id', intIn(0, 0xffffffff), 0)
    .option('--mtu <bytes>', 'path MTU: each message is at most this minus the IP and UDP/TCP headers', intIn(576, 65535), 1500)
    .option('--template-refresh <seconds>', 'resend templates (over TCP: only the options record) after this long, in capture time for --pcap; 0 = never', seconds, 60)
    .option('--template-refresh-packets <n>', 'resend templates (over TCP: only the options record) after this many messages; 0 = never', intIn(0, 1 << 30), 20)
    .option('--sampling <n>', 'meter 1 in N packets (systematic count-based); declared in the options record / v5 header', intIn(1, 1 << 30), 1)
    .option('--biflow', 'one record per conversation with RFC 5103 reverse counters (IPFIX only)')
    .option('--active-timeout <seconds>', 'export long-lived flows after this long, then start a new record', seconds, DEFAULT_METER_OPTIONS.activeTimeoutMs / 1000)
    .option('--inactive-timeout <seconds>', 'export a flow after this long without packets', seconds, DEFAULT_METER_OPTIONS.inactiveTimeoutMs / 1000)
    .option('--fin-timeout <seconds>', 'after TCP FIN (both directions with --biflow), export once idle this long; 0 = at the FIN. RST exports at once', seconds, DEFAULT_METER_OPTIONS.finTimeoutMs / 1000)
    .option('--max-flows <n>', 'flow cache bound; beyond it the least recently active flows are exported early (counted as emergency expiry)', intIn(1, 1 << 26), DEFAULT_METER_OPTIONS.maxFlows)
    .option('--no-inspect', 'do not read DNS query names, HTTP Host and TLS SNI from payloads')
    .option('--ifindex <n>', 'ingressInterface to report (default: the pcapng interface number, or the live interface index)', intIn(0, 0xffffffff))
    .addHelpText(
      'after',
      `
Times (timeouts, template refresh) run on packet time for --pcap, so a capture meters the same way
at any speed. When the capture ends (or on SIGINT/SIGTERM) every flow left is exported, followed
by an options record with the exporting process statistics; a summary goes to stderr.

Examples:
  sluice probe --pcap trace.pcap -c 127.0.0.1:2055                  # IPFIX over UDP
  sluice probe --pcap trace.pcap -c 127.0.0.1:2055 -V 9 --sampling 10
  sluice probe --pcap trace.pcap -c 10.0.0.5:4739 --transport tcp --biflow
  sluice probe -i eth0 -c 127.0.0.1:2055 --filter 'not port 2055'   # live, needs libpcap`,
    )
    .action(async (o: ProbeFlags) => {
      if ((o.pcap === undefined) === (o.interface === undefined)) throw new SluiceError('usage', 'give exactly one of --pcap FILE or --interface NAME');
      if (o.collector === undefined || o.collector.length === 0) throw new SluiceError('usage', 'give at least one --collector HOST:PORT');
      const version = Number(o.version) as 5 | 9 | 10;
      if (o.transport === 'tcp' && version !== 10) throw new SluiceError('usage', '--transport tcp is for IPFIX (--version 10) only; NetFlow v5/v9 are UDP protocols');
      if (o.biflow && version !== 10) throw new SluiceError('usage', '--biflow needs IPFIX (--version 10): v5 and v9 have no reverse elements');
      if (o.realtime && o.pcap === undefined) throw new SluiceError('usage', '--realtime applies to --pcap');
      const collectors = o.collector.map(parseCollector);
      const log = (line: string) => process.stderr.write(`sluice probe: ${line}\n`);
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const summary = await runProbe(
          {
            pcap: o.pcap,
            interface: o.interface,
            realtime: o.realtime === true,
            filter: o.filter,
            collectors,
            version,
            transport: o.transport,
            domainId: o.domainId,
            mtu: o.mtu,
            templateRefreshSec: o.templateRefresh,
            templateRefreshPackets: o.templateRefreshPackets,
            ifIndex: o.ifindex,
            meter: {
              activeTimeoutMs: o.activeTimeout * 1000,
              inactiveTimeoutMs: o.inactiveTimeout * 1000,
              finTimeoutMs: o.finTimeout * 1000,
              maxFlows: o.maxFlows,
              biflow: o.biflow === true,
              sampling: o.sampling,
              inspect: o.inspect,
            },
            log,
          },
          ac.signal,
        );
        log(summary.text);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
