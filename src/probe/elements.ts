/**
 * Information Elements the probe exports that the IANA registry has no element for.
 *
 * Same scheme as the sFlow elements (src/wire/sflow/elements.ts): sluice's pseudo-enterprise number
 * 4294967293, JSON scope "sluice". Ids 96 and up belong to the probe, so the two tables never
 * collide. HTTP Host is IANA's httpRequestHost (460) and is not defined here.
 */
import type { DataType, InfoElement } from '../wire/ie/types.js';
import { SLUICE_PEN, SLUICE_SCOPE } from '../wire/sflow/elements.js';

export { SLUICE_PEN };

/** Element ids, for template building. */
export const ProbeIe = {
  /** SYN to the ACK that completes the handshake, as seen at the observation point (client RTT + server RTT). */
  tcpHandshakeRttMicroseconds: 96,
  /** Data segments (and SYN/FIN) whose sequence range was already seen in this direction. */
  tcpRetransmissionCount: 97,
  /** First query name of the first DNS query (or response) seen in the flow, dotted, without the root dot. */
  dnsQueryName: 98,
  /** server_name of the first TLS ClientHello seen in the flow. */
  tlsServerName: 99,
  /** tcpRetransmissionCount of the reverse direction of a biflow record (RFC 5103 only reverses IANA elements). */
  reverseTcpRetransmissionCount: 100,
} as const;

const ROWS: ReadonlyArray<readonly [number, string, DataType, string?, string?]> = [
  [ProbeIe.tcpHandshakeRttMicroseconds, 'tcpHandshakeRttMicroseconds', 'unsigned32', 'quantity', 'microseconds'],
  [ProbeIe.tcpRetransmissionCount, 'tcpRetransmissionCount', 'unsigned64', 'deltaCounter', 'packets'],
  [ProbeIe.dnsQueryName, 'dnsQueryName', 'string'],
  [ProbeIe.tlsServerName, 'tlsServerName', 'string'],
  [ProbeIe.reverseTcpRetransmissionCount, 'reverseTcpRetransmissionCount', 'unsigned64', 'deltaCounter', 'packets'],
];

/** The definitions, in the shape IeRegistry.add takes. */
export const PROBE_ELEMENTS: readonly InfoElement[] = ROWS.map(([id, name, type, semantics, units]) =>
  Object.freeze({ pen: SLUICE_PEN, id, name, type, semantics, units, scope: SLUICE_SCOPE, reverse: false }),
);
