/**
 * `sluice probe`: reads packets (a capture file, or a live interface), meters them into flows and
 * exports the flows to collectors. This module owns the I/O and the clock; metering (meter.ts) and
 * message building (exporter.ts) are pure.
 */
import { readFileSync } from 'node:fs';
import { CaptureFormatError, readCapture } from '../wire/pcap/read.js';
import { FlowExporter, type ExportVersion } from './exporter.js';
import type { Flow } from './flow.js';
import { Meter, type MeterOptions } from './meter.js';
import { TcpTransport, UdpTransport, type CollectorAddress, type ExportTransport } from './transport.js';
import { openLiveCapture, type LiveCapture } from './live.js';

export interface ProbeConfig {
  readonly pcap?: string;
  readonly interface?: string;
  /** Replay a capture at its recorded pace instead of as fast as possible. */
  readonly realtime: boolean;
  readonly collectors: readonly CollectorAddress[];
  readonly version: ExportVersion;
  readonly transport: 'udp' | 'tcp';
  readonly domainId: number;
  /** Path MTU; messages are this minus the IP and transport headers. */
  readonly mtu: number;
  readonly templateRefreshSec: number;
  readonly templateRefreshPackets: number;
  readonly meter: MeterOptions;
  /** ingressInterface for every flow; undefined: the capture's interface number (pcapng) or the live interface's index. */
  readonly ifIndex?: number;
  /** BPF filter for live capture. */
  readonly filter?: string;
  readonly log: (line: string) => void;
}

export interface ProbeSummary {
  readonly packets: number;
  readonly flows: number;
  readonly messages: number;
  readonly text: string;
}

/** How often (clock time) a partly filled message is sent anyway. */
const FLUSH_EVERY_MS = 1000;
/** Packets between event-loop turns when reading a file at full speed (lets sends complete). */
const YIELD_EVERY = 2048;

export async function runProbe(cfg: ProbeConfig, stop: AbortSignal): Promise<ProbeSummary> {
  // The capture is opened first: a missing libpcap or a bad filter fails before any socket exists.
  const capture = cfg.pcap !== undefined ? readFileSync(cfg.pcap) : undefined;
  const live: LiveCapture | undefined = cfg.interface !== undefined ? await openLiveCapture(cfg.interface, cfg.filter, cfg.log) : undefined;
  try {
    return await meterAndExport(cfg, stop, capture, live);
  } finally {
    live?.close();
  }
}

async function meterAndExport(cfg: ProbeConfig, stop: AbortSignal, capture: Buffer | undefined, live: LiveCapture | undefined): Promise<ProbeSummary> {
  let exporter: FlowExporter | undefined;
  let meter: Meter | undefined;
  const clock = () => (meter !== undefined && Number.isFinite(meter.clockMs) ? meter.clockMs : Date.now());
  const tcp = cfg.transport === 'tcp' ? await TcpTransport.open(cfg.collectors, () => exporter!.templateMessage(clock(), false), cfg.log) : undefined;
  const transport: ExportTransport = tcp ?? (await UdpTransport.open(cfg.collectors, cfg.log));
  exporter = new FlowExporter({
    version: cfg.version,
    domainId: cfg.domainId,
    maxMessageBytes: cfg.mtu - transport.headerBytes,
    // Over TCP the templates go once per connection (the transport sends them); the options
    // record still goes out on the refresh schedule.
    templateRefreshMs: cfg.templateRefreshSec * 1000,
    templateRefreshMessages: cfg.templateRefreshPackets,
    inlineTemplates: cfg.transport !== 'tcp',
    biflow: cfg.meter.biflow,
    sampling: cfg.meter.sampling,
    send: (m) => transport.send(m),
  });
  const ex = exporter;
  const m0: Meter = new Meter(cfg.meter, (f: Flow) => ex.add(f, m0.clockMs));
  meter = m0;
  await tcp?.connect();
  const stats = () =>
    ex.setMeteringStats({ packetsObserved: m0.counters.packetsObserved, packetsSelected: m0.counters.packetsSelected, packetsIgnored: m0.counters.notIp });
  let lastFlush = -Infinity;
  const tick = (now: number) => {
    if (now - lastFlush >= FLUSH_EVERY_MS) {
      lastFlush = now;
      stats();
      ex.flush(now);
    }
  };
  let started = false;
  const first = (ts: number) => {
    if (started) return;
    started = true;
    ex.start(ts);
  };

  let captureError: string | undefined;
  if (capture !== undefined) {
    const buf = capture;
    let wall0 = 0;
    let ts0 = 0;
    let n = 0;
    try {
      for (const fr of readCapture(buf)) {
        if (stop.aborted) break;
        if (!started) {
          first(fr.tsMs);
          wall0 = performance.now();
          ts0 = fr.tsMs;
        }
        if (cfg.realtime) {
          // Wait for the frame's time in steps, moving the clock meanwhile so idle flows expire
          // on time during gaps, as they would live.
          for (;;) {
            const ahead = fr.tsMs - ts0 - (performance.now() - wall0);
            if (ahead <= 2 || stop.aborted) break;
            await sleep(Math.min(ahead, 250), stop);
            m0.advance(Math.min(fr.tsMs, ts0 + (performance.now() - wall0)));
            tick(m0.clockMs);
          }
        }
        m0.packet(fr.linkType, fr.data, fr.tsMs, cfg.ifIndex ?? fr.interfaceId);
        tick(m0.clockMs);
        if (++n % YIELD_EVERY === 0 || cfg.realtime) {
          await transport.drain();
          if (!cfg.realtime) await new Promise((r) => setImmediate(r));
        }
      }
    } catch (err) {
      if (!(err instanceof CaptureFormatError)) throw err;
      captureError = err.message;
      cfg.log(`${cfg.pcap}: ${err.message}; the frames before it were metered`);
    }
  } else if (live !== undefined) {
    const ifIndex = cfg.ifIndex ?? live.ifIndex;
    live.onPacket((linkType, data, tsMs) => {
      first(tsMs);
      m0.packet(linkType, data, tsMs, ifIndex);
      tick(m0.clockMs);
    });
    // Without packets the clock still moves, so idle flows expire on time.
    const timer = setInterval(() => {
      m0.advance(Date.now());
      tick(m0.clockMs);
    }, 250);
    await new Promise<void>((ok) => stop.addEventListener('abort', () => ok(), { once: true }));
    clearInterval(timer);
  }

  m0.flush();
  stats();
  const end = Number.isFinite(m0.clockMs) ? m0.clockMs : Date.now();
  ex.finish(end);
  await transport.close();

  const m = m0.counters;
  const c = m0.cache.counters;
  const e = ex.counters;
  const t = transport.counters;
  const text =
    `probe stopped: packets observed ${m.packetsObserved}, selected ${m.packetsSelected}, metered ${m.packetsMetered} (${m.octetsMetered} octets), not IP ${m.notIp}, fragments without ports ${m.fragmentsWithoutPorts}; ` +
    `flows ${c.created} (idle ${c.expiredIdle}, active ${c.expiredActive}, end of flow ${c.expiredEndOfFlow}, forced ${c.expiredForced}, emergency ${c.expiredEmergency}); ` +
    `exported ${e.records} records in ${e.messages} messages (${e.octets} bytes, ${e.templateMessages} with templates), not exportable in v${cfg.version} ${e.notSent}; ` +
    `transport sent ${t.sent}, errors ${t.sendErrors}, dropped ${t.dropped}` +
    (captureError !== undefined ? `; capture error: ${captureError}` : '');
  return { packets: m.packetsObserved, flows: c.created, messages: e.messages, text };
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((ok) => {
    const t = setTimeout(ok, ms);
    stop.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        ok();
      },
      { once: true },
    );
  });
}
