/**
 * FlowBatches made the way `sluice run` makes them: messages encoded with sluice's encoders and
 * decoded by the real DecodeStage (templates, times and all). Plus a logger that keeps lines.
 */
import { DecodeStage } from '../../src/pipeline/decode.js';
import type { Log } from '../../src/model/contracts.js';
import { makeSession, type FlowBatch } from '../../src/wire/batch.js';
import { encodeNetflow5, IpfixMessageBuilder, type EncTemplate, type EncValue } from '../../src/wire/encode/ipfix.js';
import { IeRegistry } from '../../src/wire/ie/registry.js';
import { encodeSflowDatagram, type SflowDatagram } from '../../src/wire/sflow/encode.js';

export interface TestFlow {
  readonly src: string;
  readonly dst: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly proto?: number;
  readonly packets?: number;
  readonly bytes?: number;
  /** ms since the epoch */
  readonly start?: number;
  readonly end?: number;
  /** icmpTypeCodeIPv4/IPv6 value (type * 256 + code) */
  readonly icmp?: number;
}

const f = (id: number, length: number) => ({ id, length });

/** IPv4 flows with ports, protocol, counters and millisecond times (softflowd-like). */
export const T4: EncTemplate = { id: 300, fields: [f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(4, 1), f(2, 8), f(1, 8), f(152, 8), f(153, 8)] };
/** IPv6 flows with 4-byte counters. */
export const T6: EncTemplate = { id: 301, fields: [f(27, 16), f(28, 16), f(7, 2), f(11, 2), f(4, 1), f(2, 4), f(1, 4), f(152, 8), f(153, 8)] };
/** IPv4 ICMP flows with icmpTypeCodeIPv4 and no ports. */
export const T4ICMP: EncTemplate = { id: 302, fields: [f(8, 4), f(12, 4), f(4, 1), f(32, 2), f(2, 8), f(1, 8), f(152, 8), f(153, 8)] };
/** IPv4 flows with a variable-length field in front (interface name), so offsets are not constant. */
export const T4VAR: EncTemplate = { id: 303, fields: [f(82, 0xffff), f(8, 4), f(12, 4), f(11, 2), f(4, 1), f(2, 8), f(1, 8)] };

function values(t: EncTemplate, fl: TestFlow, now: number): EncValue[] {
  const start = BigInt(fl.start ?? now - 1000);
  const end = BigInt(fl.end ?? now - 500);
  switch (t.id) {
    case T4.id:
    case T6.id:
      return [fl.src, fl.dst, fl.sport ?? 40000, fl.dport ?? 443, fl.proto ?? 6, fl.packets ?? 1, fl.bytes ?? 100, start, end];
    case T4ICMP.id:
      return [fl.src, fl.dst, fl.proto ?? 1, fl.icmp ?? 0x0800, fl.packets ?? 1, fl.bytes ?? 84, start, end];
    default:
      return [Buffer.from('eth0'), fl.src, fl.dst, fl.dport ?? 443, fl.proto ?? 6, fl.packets ?? 1, fl.bytes ?? 100];
  }
}

/** Decodes datagrams with the real pipeline and returns the batches (with derived times). */
export class Decoded {
  readonly batches: FlowBatch[] = [];
  readonly #pipe = new DecodeStage({ registry: IeRegistry.builtin(), onBatch: (b) => this.batches.push(b) });
  #seq = 0;
  readonly session = makeSession('udp', '192.0.2.10', 40000, 4739);

  feed(buf: Buffer, receivedMs: number): FlowBatch[] {
    const n = this.batches.length;
    this.#pipe.handle(buf, this.session, receivedMs);
    return this.batches.slice(n);
  }

  /** One IPFIX message (template + data) with `flows` under template `t`. */
  ipfix(t: EncTemplate, flows: readonly TestFlow[], receivedMs: number): FlowBatch[] {
    const msg = new IpfixMessageBuilder({ domainId: 1, exportTimeSec: Math.floor(receivedMs / 1000), sequence: this.#seq })
      .templates([t])
      .data(t, flows.map((fl) => values(t, fl, receivedMs)))
      .build();
    this.#seq += flows.length;
    return this.feed(msg, receivedMs);
  }

  sflow(d: SflowDatagram, receivedMs: number): FlowBatch[] {
    return this.feed(encodeSflowDatagram(d), receivedMs);
  }

  netflow5(header: Parameters<typeof encodeNetflow5>[0], records: Parameters<typeof encodeNetflow5>[1], receivedMs: number): FlowBatch[] {
    return this.feed(encodeNetflow5(header, records), receivedMs);
  }
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly obj: Record<string, unknown>;
}

/** A Log that keeps every line (and can echo them with SLUICE_TEST_LOG=1). */
export class MemoryLog implements Log {
  readonly lines: LogLine[] = [];
  #add(level: LogLine['level'], obj: object, msg?: string): void {
    this.lines.push({ level, msg: msg ?? '', obj: obj as Record<string, unknown> });
    if (process.env['SLUICE_TEST_LOG'] === '1') process.stderr.write(`${level} ${msg ?? ''} ${JSON.stringify(obj)}\n`);
  }
  debug(obj: object, msg?: string): void {
    this.#add('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.#add('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.#add('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.#add('error', obj, msg);
  }
  has(msg: string | RegExp, level?: LogLine['level']): boolean {
    return this.lines.some((l) => (level === undefined || l.level === level) && (typeof msg === 'string' ? l.msg.includes(msg) : msg.test(l.msg)));
  }
}

/** `n` distinct IPv4 flows (distinct source addresses), for batching tests. */
export function distinctFlows(n: number, offset = 0, dport = 443): TestFlow[] {
  const out: TestFlow[] = [];
  for (let i = offset; i < offset + n; i++) out.push({ src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: '192.0.2.200', dport, proto: 6 });
  return out;
}

/** The PCE CSV line of a TestFlow (TCP/UDP). */
export function pceLineOf(f: TestFlow): string {
  return `${f.src},${f.dst},${f.dport ?? 443},${f.proto ?? 6}`;
}

/** Pushes flows through IPFIX messages of at most 500 records (datagram-sized), decoded for real. */
export function feedFlows(dec: Decoded, sink: { push(b: FlowBatch): void }, flows: readonly TestFlow[], receivedMs: number): void {
  for (let i = 0; i < flows.length; i += 500) for (const b of dec.ipfix(T4, flows.slice(i, i + 500), receivedMs)) sink.push(b);
}
