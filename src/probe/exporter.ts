/**
 * The exporting process: expired flows in, export messages out (IPFIX, NetFlow v9 or v5), each no
 * larger than the size limit. Templates and the options record (exporting-process statistics and
 * sampling configuration) go out first, then again every `templateRefreshMs` of the clock or every
 * `templateRefreshMessages` messages, whichever comes first (UDP; over TCP they go once per
 * connection, as RFC 7011 8.1 allows no refresh there, see templateMessage()).
 *
 * Pure: no sockets, no timers. `send` receives each finished message; the clock is passed in.
 */
import { DataMessageWriter } from '../wire/encode/data-writer.js';
import { encodeNetflow5, IpfixMessageBuilder, Netflow9PacketBuilder, type EncTemplate, type EncValue, type V5Record } from '../wire/encode/ipfix.js';
import type { Flow } from './flow.js';
import { flowLayouts, layoutFor, OPTIONS_TEMPLATE_ID, writeFlowRecord, type FlowRecordInput, type LayoutSet } from './records.js';

export type ExportVersion = 5 | 9 | 10;

export interface ExporterOptions {
  readonly version: ExportVersion;
  /** IPFIX observation domain id / v9 source id / v5 engine type << 8 | engine id. */
  readonly domainId: number;
  /** Largest message in bytes (MTU minus IP and transport headers). */
  readonly maxMessageBytes: number;
  /** Resend templates after this much clock time (ms); 0 never (TCP). */
  readonly templateRefreshMs: number;
  /** Resend templates after this many messages; 0 never (TCP). */
  readonly templateRefreshMessages: number;
  readonly biflow: boolean;
  /** 1-in-N packet sampling the meter applies (declared in the options record and the v5 header). */
  readonly sampling: number;
  /**
   * Templates travel inside the message stream (UDP). False for TCP: the transport sends
   * templateMessage() once per connection, and refreshes carry only the options record.
   */
  readonly inlineTemplates: boolean;
  /** Receives every finished message, in order. */
  readonly send: (message: Buffer) => void;
}

/** Metering-process facts the options record reports. */
export interface MeteringStats {
  readonly packetsObserved: number;
  readonly packetsSelected: number;
  /** Packets the meter could not use (no IP header). */
  readonly packetsIgnored: number;
}

export class ExporterCounters {
  messages = 0;
  /** Flow data records sent. */
  records = 0;
  /** Options data records sent. */
  optionsRecords = 0;
  octets = 0;
  templateMessages = 0;
  /** Flows the export version cannot carry (IPv6 and biflow counters in v5). */
  notSent = 0;
}

/** NetFlow v5 carries at most 30 records per packet (Cisco's limit; collectors rely on it). */
const V5_MAX_RECORDS = 30;

export class FlowExporter {
  readonly counters = new ExporterCounters();
  private readonly layouts: LayoutSet | undefined;
  private readonly writer: DataMessageWriter | undefined;
  private readonly v5: V5Record[] = [];
  private readonly v5Max: number;
  private readonly input: FlowRecordInput;
  private lastTemplatesMs = -Infinity;
  private messagesSinceTemplates = 0;
  private templatesSent = false;
  /** Sequence: IPFIX data records (flows and options) / v9 packets / v5 flows sent. */
  private sequence = 0;
  /** The exporter's boot time (v5/v9 uptime origin): the clock at the first export, less a second. */
  private bootMs = NaN;
  private metering: MeteringStats = { packetsObserved: 0, packetsSelected: 0, packetsIgnored: 0 };

  constructor(private readonly o: ExporterOptions) {
    if (o.version !== 10 && o.biflow) throw new RangeError('biflow records need IPFIX (version 10): v5 and v9 have no reverse elements');
    if (o.version === 5) {
      this.v5Max = Math.min(V5_MAX_RECORDS, Math.floor((o.maxMessageBytes - 24) / 48));
      if (this.v5Max < 1) throw new RangeError(`message size limit ${o.maxMessageBytes} cannot hold a NetFlow v5 record`);
    } else {
      this.v5Max = 0;
      this.layouts = flowLayouts(o.version, o.biflow);
      this.writer = new DataMessageWriter(o.version, o.maxMessageBytes);
      for (const tm of this.templateMessages(0)) {
        if (tm.length > o.maxMessageBytes) throw new RangeError(`message size limit ${o.maxMessageBytes} cannot hold a template (${tm.length} bytes)`);
      }
    }
    this.input = { flow: undefined as unknown as Flow, layout: undefined as unknown as FlowRecordInput['layout'], bootMs: 0 };
  }

  /** Updates what the next options record reports. */
  setMeteringStats(s: MeteringStats): void {
    this.metering = s;
  }

  /**
   * Sets the uptime origin (v5/v9) a second before the first packet, so no flow starts before it
   * even with slightly unordered timestamps. Without this call the first exported flow sets it.
   */
  start(firstPacketMs: number): void {
    this.boot(firstPacketMs);
  }

  /** The uptime origin used in v5/v9 headers and records (ms since the epoch). */
  get bootTimeMs(): number {
    return this.bootMs;
  }

  /** Queues one expired flow; sends a message when one is full. */
  add(flow: Flow, nowMs: number): void {
    this.boot(flow.startMs);
    if (this.o.version === 5) {
      if (flow.ipVersion !== 4) {
        this.counters.notSent++;
        return;
      }
      this.v5.push(this.v5Record(flow));
      if (this.v5.length >= this.v5Max) this.flush(nowMs);
      return;
    }
    const w = this.writer!;
    const input = this.input;
    input.flow = flow;
    input.layout = layoutFor(this.layouts!, flow);
    input.bootMs = this.bootMs;
    if (!w.add(input.layout.templateId, writeFlowRecord, input)) {
      this.flush(nowMs);
      w.add(input.layout.templateId, writeFlowRecord, input);
    }
  }

  /** Sends what is queued (a partly filled message), with templates first when they are due. */
  flush(nowMs: number): void {
    this.boot(nowMs);
    if (this.o.version === 5) {
      if (this.v5.length === 0) return;
      const msg = encodeNetflow5(
        {
          sysUpTimeMs: this.uptime(nowMs),
          unixSecs: Math.floor(nowMs / 1000),
          unixNsecs: Math.floor((nowMs % 1000) * 1e6),
          sequence: this.sequence,
          engineType: (this.o.domainId >>> 8) & 0xff,
          engineId: this.o.domainId & 0xff,
          // Sampling mode 1 (deterministic, "1 in N") in the top 2 bits, the interval in the other 14.
          sampling: this.o.sampling > 1 ? (0x4000 | Math.min(this.o.sampling, 0x3fff)) : 0,
        },
        this.v5,
      );
      this.sequence += this.v5.length;
      this.counters.records += this.v5.length;
      this.v5.length = 0;
      this.emit(msg);
      return;
    }
    const w = this.writer!;
    if (w.empty) return;
    if (this.templatesDue(nowMs)) {
      if (this.o.inlineTemplates) this.sendTemplates(nowMs);
      else this.sendOptions(nowMs);
    }
    const records = w.records;
    const msg = w.finish({ exportTimeSec: Math.floor(nowMs / 1000), sequence: this.sequence, domainId: this.o.domainId, sysUpTimeMs: this.uptime(nowMs) })!;
    this.sequence += this.o.version === 10 ? records : 1;
    this.counters.records += records;
    this.messagesSinceTemplates++;
    this.emit(msg);
  }

  /**
   * Every template and (by default) a fresh options record, in as few messages as the size limit
   * allows: sent when templates are due. A TCP transport sends them without the options record on
   * each (re)connect, so the stream's sequence numbers stay exact. Counts as sent only through
   * sendTemplates().
   */
  templateMessages(nowMs: number, withOptionsRecord = true): Buffer[] {
    const layouts = this.layouts;
    if (layouts === undefined) throw new Error('NetFlow v5 has no templates');
    const opt = this.optionsTemplate();
    const templates = [...layouts.all.map((l) => l.template), opt];
    const secs = Math.floor(nowMs / 1000);
    const out: Buffer[] = [];
    const build = (ts: readonly EncTemplate[], options: boolean): Buffer => {
      if (this.o.version === 10) {
        const b = new IpfixMessageBuilder({ domainId: this.o.domainId, exportTimeSec: secs, sequence: this.sequence }).templates(ts);
        return (options ? b.data(opt, [this.optionsValues(nowMs)]) : b).build();
      }
      // v9 numbers packets: each template packet has its own sequence number.
      const b = new Netflow9PacketBuilder({ sourceId: this.o.domainId, unixSecs: secs, sysUpTimeMs: this.uptime(nowMs), sequence: this.sequence + out.length }).templates(ts);
      return (options ? b.data(opt, [this.optionsValues(nowMs)]) : b).build();
    };
    // Greedy packing: add templates to the current message while it stays under the limit.
    let group: EncTemplate[] = [];
    for (const t of templates) {
      if (group.length > 0 && build([...group, t], false).length > this.o.maxMessageBytes) {
        out.push(build(group, false));
        group = [];
      }
      group.push(t);
    }
    const last = withOptionsRecord ? build(group, true) : build(group, false);
    if (last.length <= this.o.maxMessageBytes) out.push(last);
    else {
      out.push(build(group, false));
      if (withOptionsRecord) out.push(this.optionsMessage(nowMs));
    }
    return out;
  }

  /** The templates as one byte string, for a TCP stream. */
  templateMessage(nowMs: number, withOptionsRecord = true): Buffer {
    return Buffer.concat(this.templateMessages(nowMs, withOptionsRecord));
  }

  /** Flushes, then reports the final statistics in an options record (end of capture, stop). */
  finish(nowMs: number): void {
    this.flush(nowMs);
    if (this.o.version === 5 || this.counters.messages === 0) return;
    if (!this.templatesSent && this.o.inlineTemplates) this.sendTemplates(nowMs);
    else this.sendOptions(nowMs);
  }

  /** An options record alone, for a collector that has the templates already. */
  private sendOptions(nowMs: number): void {
    const msg = this.optionsMessage(nowMs);
    this.sequence += 1;
    this.counters.optionsRecords++;
    this.templatesSent = true;
    this.lastTemplatesMs = nowMs;
    this.messagesSinceTemplates = 0;
    this.emit(msg);
  }

  private optionsMessage(nowMs: number): Buffer {
    const opt = this.optionsTemplate();
    const values = this.optionsValues(nowMs);
    return this.o.version === 10
      ? new IpfixMessageBuilder({ domainId: this.o.domainId, exportTimeSec: Math.floor(nowMs / 1000), sequence: this.sequence }).data(opt, [values]).build()
      : new Netflow9PacketBuilder({ sourceId: this.o.domainId, unixSecs: Math.floor(nowMs / 1000), sysUpTimeMs: this.uptime(nowMs), sequence: this.sequence }).data(opt, [values]).build();
  }

  private templatesDue(nowMs: number): boolean {
    if (!this.templatesSent) return true;
    const o = this.o;
    return (o.templateRefreshMs > 0 && nowMs - this.lastTemplatesMs >= o.templateRefreshMs) || (o.templateRefreshMessages > 0 && this.messagesSinceTemplates >= o.templateRefreshMessages);
  }

  private sendTemplates(nowMs: number): void {
    const msgs = this.templateMessages(nowMs);
    this.counters.optionsRecords++;
    this.templatesSent = true;
    this.lastTemplatesMs = nowMs;
    this.messagesSinceTemplates = 0;
    for (const m of msgs) {
      this.counters.templateMessages++;
      this.emit(m);
      // v9 counts packets; IPFIX counts data records, and only the options record is one.
      if (this.o.version === 9) this.sequence++;
    }
    if (this.o.version === 10) this.sequence++;
  }

  private optionsTemplate(): EncTemplate {
    if (this.o.version === 10) {
      return {
        id: OPTIONS_TEMPLATE_ID,
        scopeCount: 1,
        fields: [
          { id: 149, length: 4 }, // observationDomainId (scope)
          { id: 41, length: 8 }, // exportedMessageTotalCount
          { id: 42, length: 8 }, // exportedFlowRecordTotalCount
          { id: 40, length: 8 }, // exportedOctetTotalCount
          { id: 166, length: 8 }, // notSentFlowTotalCount
          { id: 164, length: 8 }, // ignoredPacketTotalCount
          { id: 318, length: 8 }, // selectorIdTotalPktsObserved
          { id: 319, length: 8 }, // selectorIdTotalPktsSelected
          // The sampling: 1-in-N as RFC 5476 says it (304-306), and as the deprecated
          // samplingInterval (34) that many collectors still read. The order matters to nfdump
          // 1.7, which reads 34 and 306 into one slot (the later wins) and wants all four.
          { id: 304, length: 2 }, // selectorAlgorithm: 1 = systematic count-based sampling
          { id: 305, length: 4 }, // samplingPacketInterval: packets selected in a row (1)
          { id: 34, length: 4 }, // samplingInterval: N
          { id: 306, length: 4 }, // samplingPacketSpace: packets skipped between selections (N - 1)
        ],
      };
    }
    return {
      id: OPTIONS_TEMPLATE_ID,
      scopeCount: 1,
      fields: [
        { id: 1, length: 4 }, // scope: System (the source id)
        { id: 41, length: 8 }, // TOTAL_PKTS_EXP
        { id: 42, length: 8 }, // TOTAL_FLOWS_EXP
        { id: 40, length: 8 }, // TOTAL_BYTES_EXP
        { id: 34, length: 4 }, // SAMPLING_INTERVAL
        { id: 35, length: 1 }, // SAMPLING_ALGORITHM: 1 deterministic
        { id: 160, length: 8 }, // systemInitTimeMilliseconds: ms-exact times despite the header's whole seconds
      ],
    };
  }

  private optionsValues(nowMs: number): EncValue[] {
    const c = this.counters;
    const n = this.o.sampling;
    if (this.o.version === 10) {
      const m = this.metering;
      return [this.o.domainId, c.messages, c.records, c.octets, c.notSent, m.packetsIgnored, m.packetsObserved, m.packetsSelected, 1, 1, n, n - 1];
    }
    return [this.o.domainId, c.messages, c.records, c.octets, n, 1, Number.isNaN(this.bootMs) ? Math.floor(nowMs) : this.bootMs];
  }

  private boot(ms: number): void {
    // One second before the first time seen, so no record time is before boot even when packets
    // arrive slightly out of order.
    if (Number.isNaN(this.bootMs)) this.bootMs = Math.floor(ms) - 1000;
  }

  private uptime(nowMs: number): number {
    return Math.max(0, Math.floor(nowMs) - this.bootMs);
  }

  private v5Record(f: Flow): V5Record {
    const d = f.fwd;
    return {
      src: ipv4(f.srcAddr),
      dst: ipv4(f.dstAddr),
      input: f.ingressInterface & 0xffff,
      packets: Math.min(d.packets, 0xffffffff),
      octets: Math.min(d.octets, 0xffffffff),
      firstMs: Math.floor(d.firstMs) - this.bootMs,
      lastMs: Math.floor(d.lastMs) - this.bootMs,
      srcPort: f.srcPort,
      // v5 has no ICMP field: type << 8 | code goes in the destination port, as routers do.
      dstPort: f.protocol === 1 ? f.icmpTypeCode : f.dstPort,
      tcpFlags: d.tcpFlags & 0xff,
      protocol: f.protocol,
      tos: d.tos,
    };
  }

  private emit(msg: Buffer): void {
    this.counters.messages++;
    this.counters.octets += msg.length;
    this.o.send(msg);
  }
}

function ipv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}
