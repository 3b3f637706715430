/**
 * One flow in the probe's cache: a key, the initiator's addresses and ports, and the counters of
 * its forward direction (and, in biflow mode, its reverse direction). Plain mutable fields, updated
 * in place per packet; nothing is allocated after the flow is created.
 */

/** flowEndReason values (IANA registry, RFC 5102 / 7012). */
export const FlowEndReason = {
  IDLE_TIMEOUT: 1,
  ACTIVE_TIMEOUT: 2,
  END_OF_FLOW: 3,
  FORCED_END: 4,
  LACK_OF_RESOURCES: 5,
} as const;
export type FlowEndReasonCode = (typeof FlowEndReason)[keyof typeof FlowEndReason];

/** Counters of one direction. */
export class DirectionCounters {
  packets = 0;
  octets = 0;
  tcpFlags = 0;
  minTtl = 255;
  maxTtl = 0;
  /** ToS / traffic class of the first packet. */
  tos = 0;
  firstMs = 0;
  lastMs = 0;
  /** Packets whose TCP sequence range had already been seen. */
  retransmissions = 0;
  /** One past the highest TCP sequence number seen (mod 2^32); valid when seqKnown. */
  seqHigh = 0;
  seqKnown = false;
  finSeen = false;
}

export class Flow {
  readonly fwd = new DirectionCounters();
  /** Reverse direction (biflow mode); packets stays 0 otherwise. */
  readonly rev = new DirectionCounters();

  /** flowEndReason once expired. */
  endReason: FlowEndReasonCode = FlowEndReason.IDLE_TIMEOUT;
  /** Ms timestamps of the handshake: SYN, SYN-ACK; -1 until seen. */
  synMs = -1;
  synAckMs = -1;
  /** SYN to handshake-completing ACK, in microseconds; -1 when not measured. */
  rttUs = -1;
  dnsName: string | undefined = undefined;
  httpHost: string | undefined = undefined;
  tlsSni: string | undefined = undefined;
  /** Payload inspection is done (a name was found, or enough packets were looked at). */
  inspected = false;
  inspectedPackets = 0;

  /** Doubly linked list by last activity, oldest first (the cache's idle order). */
  older: Flow | undefined = undefined;
  newer: Flow | undefined = undefined;
  /** Doubly linked list by creation, oldest first (the cache's active-timeout order). */
  createdBefore: Flow | undefined = undefined;
  createdAfter: Flow | undefined = undefined;
  /** The next flow whose key has the same hash. */
  sameHash: Flow | undefined = undefined;
  /** In the cache's set of flows waiting out their FIN timeout. */
  closing = false;

  constructor(
    /**
     * One allocation per flow: the key (see Meter.key), then the initiator's source and
     * destination address (4 or 16 bytes each), then source and destination MAC when the frame
     * had an Ethernet header.
     */
    readonly bytes: Buffer,
    readonly keyLength: number,
    /** The key's 32-bit hash. */
    readonly hash: number,
    readonly ipVersion: 4 | 6,
    readonly protocol: number,
    /** TCP/UDP/SCTP ports; 0 for other protocols. */
    readonly srcPort: number,
    readonly dstPort: number,
    /** ICMP type << 8 | code of the first packet; 0 for other protocols. */
    readonly icmpTypeCode: number,
    /** Outermost 802.1Q VLAN id; 0 untagged. */
    readonly vlanId: number,
    readonly ingressInterface: number,
    /** The frame had an Ethernet header: the MACs are in `bytes`. */
    readonly hasMac: boolean,
    /** In biflow mode: whether the initiator's side is the "swapped" side of the canonical key. */
    readonly initiatorSwapped: boolean,
  ) {}

  get addressLength(): 4 | 16 {
    return this.ipVersion === 4 ? 4 : 16;
  }

  /** Offsets into `bytes`. */
  get srcAddrOffset(): number {
    return this.keyLength;
  }

  get dstAddrOffset(): number {
    return this.keyLength + this.addressLength;
  }

  /** Source MAC at this offset, destination MAC 6 bytes later; -1 without Ethernet. */
  get macOffset(): number {
    return this.hasMac ? this.keyLength + 2 * this.addressLength : -1;
  }

  get srcAddr(): Buffer {
    return this.bytes.subarray(this.srcAddrOffset, this.srcAddrOffset + this.addressLength);
  }

  get dstAddr(): Buffer {
    return this.bytes.subarray(this.dstAddrOffset, this.dstAddrOffset + this.addressLength);
  }

  get srcMac(): Buffer | undefined {
    const o = this.macOffset;
    return o < 0 ? undefined : this.bytes.subarray(o, o + 6);
  }

  get dstMac(): Buffer | undefined {
    const o = this.macOffset;
    return o < 0 ? undefined : this.bytes.subarray(o + 6, o + 12);
  }

  get startMs(): number {
    return this.rev.packets > 0 ? Math.min(this.fwd.firstMs, this.rev.firstMs) : this.fwd.firstMs;
  }

  get endMs(): number {
    return this.rev.packets > 0 ? Math.max(this.fwd.lastMs, this.rev.lastMs) : this.fwd.lastMs;
  }
}
