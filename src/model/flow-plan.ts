/**
 * Where the core facts of a flow record sit: addresses, ports, protocol, counters, interfaces, AS,
 * next hop, masks, VLAN, MACs... Every decoder maps its records onto IPFIX elements, so one plan
 * per template layout serves NetFlow v5/v7/v9, IPFIX, sFlow and the text parsers alike. The one
 * place that decides which element means which fact: the store's columns, the aggregation keys
 * and the exporter checks all read through it.
 */
import { ScaleIe, SLUICE_PEN } from '../wire/ie/sluice-elements.js';
import type { Template } from '../wire/template.js';
import { timePlan } from './time.js';

/** IANA element ids of the core facts (RFC 7012 / IANA IPFIX registry). */
const E = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  ipClassOfService: 5,
  tcpControlBits: 6,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  sourceIPv4PrefixLength: 9,
  ingressInterface: 10,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  destinationIPv4PrefixLength: 13,
  egressInterface: 14,
  ipNextHopIPv4Address: 15,
  bgpSourceAsNumber: 16,
  bgpDestinationAsNumber: 17,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  sourceIPv6PrefixLength: 29,
  destinationIPv6PrefixLength: 30,
  icmpTypeCodeIPv4: 32,
  samplingInterval: 34,
  sourceMacAddress: 56,
  vlanId: 58,
  flowDirection: 61,
  ipNextHopIPv6Address: 62,
  destinationMacAddress: 80,
  octetTotalCount: 85,
  packetTotalCount: 86,
  exporterIPv4Address: 130,
  exporterIPv6Address: 131,
  flowEndReason: 136,
  icmpTypeCodeIPv6: 139,
  icmpTypeIPv4: 176,
  icmpCodeIPv4: 177,
  icmpTypeIPv6: 178,
  icmpCodeIPv6: 179,
  dot1qVlanId: 243,
} as const;

/** ipVersion (60): 4 or 6, the family of the record's addresses. */
const IP_VERSION = 60;

/** Where one element sits: field index, constant offset in fixed-length records (else -1), length. */
export interface Slot {
  readonly index: number;
  readonly offset: number;
  readonly length: number;
}

/** Where each core fact of a flow record sits in one template layout. */
export interface FlowPlan {
  readonly fixed: boolean;
  readonly fieldCount: number;
  readonly src4?: Slot;
  readonly src6?: Slot;
  readonly dst4?: Slot;
  readonly dst6?: Slot;
  readonly srcPort?: Slot;
  readonly dstPort?: Slot;
  readonly proto?: Slot;
  readonly flags?: Slot;
  readonly tos?: Slot;
  readonly icmpTypeCode?: Slot;
  readonly icmpType?: Slot;
  readonly icmpCode?: Slot;
  readonly packets?: Slot;
  readonly bytes?: Slot;
  readonly sampling?: Slot;
  readonly inIf?: Slot;
  readonly outIf?: Slot;
  readonly srcAs?: Slot;
  readonly dstAs?: Slot;
  readonly nextHop4?: Slot;
  readonly nextHop6?: Slot;
  readonly srcMask?: Slot;
  readonly dstMask?: Slot;
  readonly vlan?: Slot;
  readonly direction?: Slot;
  readonly endReason?: Slot;
  readonly srcMac?: Slot;
  readonly dstMac?: Slot;
  /** sFlow: the agent the sample speaks for (exporterIPv4/IPv6Address). */
  readonly agent4?: Slot;
  readonly agent6?: Slot;
  /** sFlow: packets and octets already scaled by the sampling rate. */
  readonly scaledPackets?: Slot;
  readonly scaledBytes?: Slot;
  /**
   * Field indexes whose facts the plan (or the time module's start/end, to the millisecond) holds;
   * every other field is something no core fact covers. Indexed by field (an array, not a Set:
   * a Set's table costs half a kilobyte per template layout).
   */
  readonly used: readonly boolean[];
}

function compile(t: Template): FlowPlan {
  const fixed = t.fixedLength >= 0;
  const offsets: number[] = [];
  let off = 0;
  for (const f of t.fields) {
    offsets.push(fixed ? off : -1);
    off += f.length;
  }
  const used: boolean[] = t.fields.map(() => false);
  const find = (id: number, lengths: readonly number[]): Slot | undefined => {
    for (let k = 0; k < t.fields.length; k++) {
      const f = t.fields[k]!;
      if (f.pen === 0 && f.id === id && lengths.includes(f.length)) {
        used[k] = true;
        return { index: k, offset: offsets[k]!, length: f.length };
      }
    }
    return undefined;
  };
  const INT = [1, 2, 3, 4, 5, 6, 7, 8];
  const U16 = [1, 2];
  const U32 = [1, 2, 3, 4];
  const sflow = t.origin === 'sflow5';
  const sluice = (id: number): Slot | undefined => {
    const k = t.fields.findIndex((f) => f.pen === SLUICE_PEN && f.id === id && INT.includes(f.length));
    if (k < 0) return undefined;
    used[k] = true;
    return { index: k, offset: offsets[k]!, length: t.fields[k]!.length };
  };
  // One object literal with every key, always in this order: all plans share one hidden class (a
  // spread or keys added later gave thousands of distinct ones under a fleet of template shapes,
  // about 1 KB each).
  const plan: FlowPlan = {
    fixed,
    fieldCount: t.fields.length,
    src4: find(E.sourceIPv4Address, [4]),
    src6: find(E.sourceIPv6Address, [16]),
    dst4: find(E.destinationIPv4Address, [4]),
    dst6: find(E.destinationIPv6Address, [16]),
    srcPort: find(E.sourceTransportPort, U16),
    dstPort: find(E.destinationTransportPort, U16),
    proto: find(E.protocolIdentifier, [1]),
    flags: find(E.tcpControlBits, U16),
    tos: find(E.ipClassOfService, [1]),
    icmpTypeCode: find(E.icmpTypeCodeIPv4, [2]) ?? find(E.icmpTypeCodeIPv6, [2]),
    icmpType: find(E.icmpTypeIPv4, [1]) ?? find(E.icmpTypeIPv6, [1]),
    icmpCode: find(E.icmpCodeIPv4, [1]) ?? find(E.icmpCodeIPv6, [1]),
    packets: find(E.packetDeltaCount, INT) ?? find(E.packetTotalCount, INT),
    bytes: find(E.octetDeltaCount, INT) ?? find(E.octetTotalCount, INT),
    // A record that carries its own rate (sFlow samples, some v9 exporters) says the rate in force.
    sampling: find(E.samplingInterval, U32),
    inIf: find(E.ingressInterface, U32),
    outIf: find(E.egressInterface, U32),
    srcAs: find(E.bgpSourceAsNumber, U32),
    dstAs: find(E.bgpDestinationAsNumber, U32),
    nextHop4: find(E.ipNextHopIPv4Address, [4]),
    nextHop6: find(E.ipNextHopIPv6Address, [16]),
    srcMask: find(E.sourceIPv4PrefixLength, [1]) ?? find(E.sourceIPv6PrefixLength, [1]),
    dstMask: find(E.destinationIPv4PrefixLength, [1]) ?? find(E.destinationIPv6PrefixLength, [1]),
    vlan: find(E.vlanId, U16) ?? find(E.dot1qVlanId, U16),
    direction: find(E.flowDirection, [1]),
    endReason: find(E.flowEndReason, [1]),
    srcMac: find(E.sourceMacAddress, [6]),
    dstMac: find(E.destinationMacAddress, [6]),
    agent4: sflow ? find(E.exporterIPv4Address, [4]) : undefined,
    agent6: sflow ? find(E.exporterIPv6Address, [16]) : undefined,
    scaledPackets: sflow ? sluice(ScaleIe.scaledPacketDeltaCount) : undefined,
    scaledBytes: sflow ? sluice(ScaleIe.scaledOctetDeltaCount) : undefined,
    used,
  };
  if (sflow) sluice(ScaleIe.scaledLayer2OctetDeltaCount);
  // Times the store keeps as time_start/time_end (to the millisecond); finer ones stay in extra.
  const tp = timePlan(t);
  for (const f of [tp.start, tp.end]) if (f !== undefined && f.kind !== 'us' && f.kind !== 'ns') used[f.index] = true;
  // ipVersion says what the addresses' family already says: kept with them, not apart.
  if (plan.src4 !== undefined || plan.src6 !== undefined) {
    const k = t.fields.findIndex((f) => f.pen === 0 && f.id === IP_VERSION && f.length === 1);
    if (k >= 0) used[k] = true;
  }
  return plan;
}

const plans = new Map<string, FlowPlan>();
const planByTemplate = new WeakMap<Template, FlowPlan>();

/** The plan of a template (compiled on first sight, then cached by template and by layout). */
export function flowPlan(t: Template): FlowPlan {
  let p = planByTemplate.get(t);
  if (p !== undefined) return p;
  p = plans.get(t.signature);
  if (p === undefined) {
    p = compile(t);
    if (plans.size > 10_000) plans.clear(); // bounded under template floods; layouts are few
    plans.set(t.signature, p);
  }
  planByTemplate.set(t, p);
  return p;
}

