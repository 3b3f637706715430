import type { Template } from './template.js';
import type { DomainInfo } from './template-store.js';

/** `aws` and `text`: records parsed from AWS VPC flow log lines and text/syslog lines (src/parsers). */
export type FlowProtocol = 'netflow5' | 'netflow7' | 'netflow9' | 'ipfix' | 'sflow5' | 'aws' | 'text';
export type Transport = 'udp' | 'tcp' | 'file' | 'kafka' | 'aws';

/**
 * A transport session (RFC 7011 section 3): who sent the datagram and where it arrived.
 * Templates and sequence numbers live per session.
 */
export interface TransportSession {
  readonly transport: Transport;
  readonly address: string;
  readonly port: number;
  readonly localPort: number;
  /** Stable string key, computed once per session by sessionKey(). */
  readonly key: string;
}

export function makeSession(transport: Transport, address: string, port: number, localPort = 0): TransportSession {
  return { transport, address, port, localPort, key: `${transport}|${address}|${port}|${localPort}` };
}

/** What the message header said, shared by every record of the message. */
export interface MessageContext {
  readonly protocol: FlowProtocol;
  readonly session: TransportSession;
  /** IPFIX observation domain id, NetFlow v9 source id, v5/v7: engine type << 8 | engine id. */
  readonly domainId: number;
  /** Export time from the header in ms since the epoch (v5: secs + nsecs; v9/IPFIX: secs * 1000). */
  readonly exportTimeMs: number;
  /** Header sequence number (v5/v7: flow sequence; v9: packet sequence; IPFIX: data record sequence). */
  readonly sequence: number;
  /** v5/v7/v9 header sysUpTime in ms; -1 when the protocol has none (IPFIX). */
  readonly sysUpTimeMs: number;
  /** Length of the message on the wire in bytes (IPFIX: the header's length field). */
  readonly messageLength?: number;
  /** When sluice received (or the capture recorded) the datagram, ms since the epoch. */
  readonly receivedMs: number;
  /** v5/v7 header fields that apply to every record; undefined for template protocols. */
  readonly header?: FixedHeader;
  /** Options-derived facts of this (session, domain): systemInitTime, sampling. v9/IPFIX only. */
  readonly domain?: DomainInfo;
}

/** v5/v7 header values carried into each record as IPFIX elements. */
export interface FixedHeader {
  readonly engineType: number;
  readonly engineId: number;
  readonly samplingAlgorithm: number;
  readonly samplingInterval: number;
}

/**
 * The unit that moves through the pipeline: the records of one data set, left in the datagram's
 * bytes. Record i spans buf[starts[i], starts[i+1]). Consumers compile what they need from the
 * template once and then read the bytes directly, so decoding allocates per set, not per record.
 */
export interface FlowBatch {
  readonly ctx: MessageContext;
  readonly template: Template;
  readonly buf: Buffer;
  readonly starts: Int32Array;
  readonly count: number;
  /** Derived absolute flow start/end in ms since the epoch (NaN where unknown); see model/time. */
  readonly startMs: Float64Array;
  readonly endMs: Float64Array;
  /**
   * For templates with structured (RFC 6313) fields: decoded list values per record and field
   * index, resolved against the session's templates at decode time. Undefined otherwise.
   */
  readonly lists?: ReadonlyArray<ReadonlyArray<unknown>>;
}

/** A template definition or withdrawal seen on the wire (for templateInfo output and debugging). */
export interface TemplateEvent {
  readonly ctx: MessageContext;
  readonly template: Template;
  readonly withdrawn: boolean;
}
