/**
 * FlowLink's `text` parser: one flow per line (syslog messages over UDP/TCP, Kafka messages),
 * fields picked by attribute tag (`sip=10.0.0.1 dip=10.0.0.2 dport=443 proto=tcp`) or by field
 * number starting at 1 (fields separated by blanks, or by `delimiter`). src_ip, dst_ip, dst_port
 * and protocol (names or numbers) are needed; icmp_type/icmp_code, packets, bytes and a timestamp
 * (one or several fields joined by a space, read by timestamp_format) are optional. Without a
 * timestamp the receive time stands for the flow time, as for sFlow. A leading syslog PRI (`<134>`)
 * is not counted as a field. A line that does not parse is
 * counted by reason and handed to onBad; it never stops the parser.
 */
import type { DropReasonOf } from '../util/drop-reasons.js';
import type { IeResolver } from '../wire/fixed-formats.js';
import type { TransportSession } from '../wire/batch.js';
import { parseIpv4, parseIpv6 } from '../wire/packet/addr.js';
import { protocolKeyword } from '../wire/ie/registry.js';
import { compileTimestampFormat, type TimestampFormat } from './timestamp-format.js';
import { LineCounters, type LineParser, type LineParserHooks } from './line-parser.js';
import { protocolNumbers, RecordBuilder, type SlotDef } from './record-builder.js';

/** A text field reference: a 1-based field number, or the tag of a `tag=value` attribute. */
export type FieldRef = { readonly kind: 'field'; readonly index: number } | { readonly kind: 'tag'; readonly tag: string };

/** Where each fact sits in a line (the service file's text parser properties, validated there). */
export interface TextParserProps {
  readonly src_ip: FieldRef;
  readonly dst_ip: FieldRef;
  readonly dst_port: FieldRef;
  readonly protocol: FieldRef;
  readonly icmp_type?: FieldRef;
  readonly icmp_code?: FieldRef;
  /** One or several fields joined by a space before timestamp_format reads them. */
  readonly timestamp?: readonly FieldRef[];
  readonly timestamp_format?: string;
  readonly packets?: FieldRef;
  readonly bytes?: FieldRef;
  /** Field separator for field numbers (default: runs of blanks). */
  readonly delimiter?: string;
}

const SLOTS: readonly SlotDef[] = [
  { iana: 8, length: 4 }, // 0 sourceIPv4Address
  { iana: 12, length: 4 }, // 1 destinationIPv4Address
  { iana: 27, length: 16 }, // 2 sourceIPv6Address
  { iana: 28, length: 16 }, // 3 destinationIPv6Address
  { iana: 11, length: 2 }, // 4 destinationTransportPort
  { iana: 4, length: 1 }, // 5 protocolIdentifier
  { iana: 32, length: 2 }, // 6 icmpTypeCodeIPv4
  { iana: 139, length: 2 }, // 7 icmpTypeCodeIPv6
  { iana: 2, length: 8 }, // 8 packetDeltaCount
  { iana: 1, length: 8 }, // 9 octetDeltaCount
  { iana: 152, length: 8 }, // 10 flowStartMilliseconds
  { iana: 153, length: 8 }, // 11 flowEndMilliseconds
];

const PROTOCOLS = protocolNumbers(protocolKeyword);
const PRI_RE = /^<\d{1,3}>/;
const TAG_RE = /([^\s=,;"]+)=("([^"]*)"|'([^']*)'|[^\s,;]*)/g;

export class TextParser implements LineParser {
  readonly counters = new LineCounters();
  private readonly rb: RecordBuilder;
  private readonly ts: TimestampFormat | undefined;
  private readonly usesTags: boolean;
  private readonly usesFields: boolean;
  private readonly split: (line: string) => string[];

  constructor(
    reg: IeResolver,
    private readonly p: TextParserProps,
    private readonly hooks: LineParserHooks,
  ) {
    this.rb = new RecordBuilder(reg, 'text', SLOTS);
    this.ts = p.timestamp_format !== undefined ? compileTimestampFormat(p.timestamp_format) : undefined;
    const refs: FieldRef[] = [p.src_ip, p.dst_ip, p.dst_port, p.protocol, ...[p.icmp_type, p.icmp_code, p.packets, p.bytes].filter((r): r is FieldRef => r !== undefined), ...(p.timestamp ?? [])];
    this.usesTags = refs.some((r) => r.kind === 'tag');
    this.usesFields = refs.some((r) => r.kind === 'field');
    const d = p.delimiter;
    this.split = d === undefined ? (l) => l.trim().split(/\s+/) : (l) => l.split(d).map((s) => s.trim());
  }

  parseLines(lines: readonly string[], session: TransportSession, nowMs: number): void {
    for (const line of lines) {
      this.counters.lines++;
      const why = this.parseLine(line, nowMs);
      if (why !== undefined) {
        this.rb.discard();
        this.counters.bad(why);
        this.hooks.onBad?.(why, line, session);
      } else this.counters.records++;
    }
    this.rb.flush(session, nowMs, this.hooks.onBatch);
  }

  /** Returns the reason the line did not parse, or undefined when a record was committed. */
  private parseLine(raw: string, nowMs: number): DropReasonOf<'parse'> | undefined {
    // A syslog PRI (<134>) is framing, not content: field numbers count from what follows it, as
    // in the log files syslog daemons write.
    const line = raw.charCodeAt(0) === 60 ? raw.replace(PRI_RE, '') : raw;
    const fields = this.usesFields ? this.split(line) : [];
    let tags: Map<string, string> | undefined;
    if (this.usesTags) {
      tags = new Map();
      for (const m of line.matchAll(TAG_RE)) tags.set(m[1]!, m[3] ?? m[4] ?? m[2]!);
    }
    const get = (r: FieldRef | undefined): string | undefined => {
      if (r === undefined) return undefined;
      const v = r.kind === 'field' ? fields[r.index - 1] : tags!.get(r.tag);
      return v === undefined || v === '' || v === '-' ? undefined : v;
    };
    const sip = get(this.p.src_ip);
    const dip = get(this.p.dst_ip);
    if (sip === undefined || dip === undefined) return 'missing-address';
    const v6 = sip.includes(':');
    const s = v6 ? parseIpv6(sip) : parseIpv4(sip);
    const d = dip.includes(':') === v6 ? (v6 ? parseIpv6(dip) : parseIpv4(dip)) : undefined;
    if (s === undefined || d === undefined) return 'bad-address';
    const protoText = get(this.p.protocol);
    if (protoText === undefined) return 'missing-protocol';
    const proto = /^\d+$/.test(protoText) ? Number(protoText) : PROTOCOLS.get(protoText.toLowerCase());
    if (proto === undefined || proto > 255) return 'bad-protocol';
    const icmp = proto === 1 || proto === 58;
    const portText = get(this.p.dst_port);
    if (portText !== undefined) {
      const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
      if (!(port <= 65535)) return 'bad-port';
      this.rb.set(4, port);
    } else if (!icmp) return 'missing-port';
    this.rb.set(v6 ? 2 : 0, s);
    this.rb.set(v6 ? 3 : 1, d);
    this.rb.set(5, proto);
    if (icmp && (this.p.icmp_type !== undefined || this.p.icmp_code !== undefined)) {
      const t = get(this.p.icmp_type);
      const c = get(this.p.icmp_code);
      const tn = t === undefined ? 0 : Number(t);
      const cn = c === undefined ? 0 : Number(c);
      if (!(Number.isInteger(tn) && tn >= 0 && tn <= 255 && Number.isInteger(cn) && cn >= 0 && cn <= 255)) return 'bad-icmp';
      if (t !== undefined || c !== undefined) this.rb.set(v6 ? 7 : 6, tn * 256 + cn);
    }
    for (const [ref, slot] of [[this.p.packets, 8], [this.p.bytes, 9]] as const) {
      const v = get(ref);
      if (v === undefined) continue;
      if (!/^\d+$/.test(v)) return 'bad-counter';
      this.rb.set(slot, BigInt(v));
    }
    let t = nowMs;
    if (this.ts !== undefined && this.p.timestamp !== undefined) {
      const parts: string[] = [];
      for (const r of this.p.timestamp) {
        const v = get(r);
        if (v === undefined) return 'missing-timestamp';
        parts.push(v);
      }
      t = this.ts.parse(parts.join(' '), nowMs);
      if (Number.isNaN(t)) return 'bad-timestamp';
    }
    this.rb.set(10, t);
    this.rb.set(11, t);
    this.rb.commit();
    return undefined;
  }
}
