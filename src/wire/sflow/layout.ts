/**
 * Synthetic templates for sFlow records.
 *
 * sFlow has no templates: each sample carries whichever records the agent chose. sluice transcodes a
 * sample into a small record of IPFIX elements, and the elements a record holds are decided by
 * which field groups the sample had. Every group has a fixed list of fields, groups appear in the
 * record in the fixed order of this file, so a set of groups (two bit words plus the MPLS label
 * count) names one layout, and one cached Template. JSON then shows exactly the fields the sample
 * carried, and the formatter compiles each layout once.
 */
import type { IeResolver } from '../fixed-formats.js';
import { makeTemplate, VARLEN, type FieldSpec, type Template } from '../template.js';
import { SyntheticFieldFactory } from '../ie/synthetic-fields.js';

/** Flow groups; the number is the bit index (0-31 in `lo`, 32-63 in `hi` as bit - 32). Order = record order. */
export const enum G {
  AGENT4 = 0,
  AGENT6,
  BASE,
  SAMPLING,
  DROPPED,
  DISCARD,
  IN_IF,
  OUT_IF,
  IN_MULTI,
  OUT_MULTI,
  DIRECTION,
  HDR_PROTO,
  L2OCTETS,
  SCALED_L2,
  OCTETS,
  SCALED_OCT,
  DROPPED_OCT,
  MAC,
  ETHTYPE,
  DOT1Q,
  DOT1Q_INNER,
  SW_IN_VLAN,
  SW_OUT_VLAN,
  SW_IN_PRI,
  SW_OUT_PRI,
  IP4,
  IP6,
  PROTO,
  IPV4HDR,
  IPV6HDR,
  FRAG,
  PORTS,
  // hi word
  TCP,
  UDP,
  ICMP4,
  ICMP6,
  MPLS_LABELS,
  RT_NH4,
  RT_NH6,
  MASK4,
  MASK6,
  GW,
  GW_NH4,
  GW_NH6,
  GW_PATH,
  GW_COMM,
  USER,
  URL,
  MPLS_NH4,
  MPLS_NH6,
  MPLS_OUT,
  NAT_SRC4,
  NAT_SRC6,
  NAT_DST4,
  NAT_DST6,
  QUEUE,
  COUNT,
}

/** Counter groups (their own record type). */
export const enum C {
  AGENT4 = 0,
  AGENT6,
  BASE,
  IF,
  ETH,
  VLAN,
  CPU,
  PORTNAME,
  COUNT,
}

/** Most MPLS label stack entries a record carries: IANA has mplsTopLabelStackSection + 2..10. */
export const MAX_LABELS = 10;

type FieldList = (f: SyntheticFieldFactory, labels: number) => FieldSpec[];

/** The fields of each flow group, indexed by G. */
const FLOW_FIELDS: readonly FieldList[] = [
  /* AGENT4 */ (f) => [f.iana(130, 4)],
  /* AGENT6 */ (f) => [f.iana(131, 16)],
  /* BASE */ (f) => [f.sluice('sflowDataSourceType', 4), f.sluice('sflowDataSourceIndex', 4), f.sluice('sflowSampleSequenceNumber', 4), f.iana(152, 8), f.iana(153, 8)],
  /* SAMPLING */ (f) => [f.iana(34, 4), f.iana(318, 4), f.iana(164, 4), f.iana(2, 4), f.sluice('scaledPacketDeltaCount', 8)],
  /* DROPPED */ (f) => [f.iana(164, 4), f.iana(133, 4)],
  /* DISCARD */ (f) => [f.iana(89, 1), f.sluice('sflowDropReason', 4)],
  /* IN_IF */ (f) => [f.iana(10, 4)],
  /* OUT_IF */ (f) => [f.iana(14, 4)],
  /* IN_MULTI */ (f) => [f.sluice('ingressInterfaceCount', 4)],
  /* OUT_MULTI */ (f) => [f.sluice('egressInterfaceCount', 4)],
  /* DIRECTION */ (f) => [f.iana(61, 1)],
  /* HDR_PROTO */ (f) => [f.sluice('sflowHeaderProtocol', 4)],
  /* L2OCTETS */ (f) => [f.iana(352, 4)],
  /* SCALED_L2 */ (f) => [f.sluice('scaledLayer2OctetDeltaCount', 8)],
  /* OCTETS */ (f) => [f.iana(1, 4)],
  /* SCALED_OCT */ (f) => [f.sluice('scaledOctetDeltaCount', 8)],
  /* DROPPED_OCT */ (f) => [f.iana(132, 4)],
  /* MAC */ (f) => [f.iana(56, 6), f.iana(80, 6)],
  /* ETHTYPE */ (f) => [f.iana(256, 2)],
  /* DOT1Q */ (f) => [f.iana(243, 2), f.iana(244, 1)],
  /* DOT1Q_INNER */ (f) => [f.iana(245, 2), f.iana(246, 1)],
  /* SW_IN_VLAN */ (f) => [f.iana(58, 2)],
  /* SW_OUT_VLAN */ (f) => [f.iana(59, 2)],
  /* SW_IN_PRI */ (f) => [f.iana(244, 1)],
  /* SW_OUT_PRI */ (f) => [f.sluice('postDot1qPriority', 1)],
  /* IP4 */ (f) => [f.iana(8, 4), f.iana(12, 4)],
  /* IP6 */ (f) => [f.iana(27, 16), f.iana(28, 16)],
  /* PROTO */ (f) => [f.iana(4, 1), f.iana(5, 1)],
  /* IPV4HDR */ (f) => [f.iana(192, 1), f.iana(189, 1), f.iana(190, 2)],
  /* IPV6HDR */ (f) => [f.iana(192, 1), f.iana(191, 2), f.iana(31, 4)],
  /* FRAG */ (f) => [f.iana(54, 4), f.iana(88, 2), f.iana(197, 1)],
  /* PORTS */ (f) => [f.iana(7, 2), f.iana(11, 2)],
  /* TCP */ (f) => [f.iana(6, 2)],
  /* UDP */ (f) => [f.iana(205, 2)],
  /* ICMP4 */ (f) => [f.iana(32, 2)],
  /* ICMP6 */ (f) => [f.iana(139, 2)],
  /* MPLS_LABELS: mplsTopLabelStackSection (70), then mplsLabelStackSection2..10 (71-79) */
  (f, labels) => Array.from({ length: labels }, (_, i) => f.iana(70 + i, 3)),
  /* RT_NH4 */ (f) => [f.iana(15, 4)],
  /* RT_NH6 */ (f) => [f.iana(62, 16)],
  /* MASK4 */ (f) => [f.iana(9, 1), f.iana(13, 1)],
  /* MASK6 */ (f) => [f.iana(29, 1), f.iana(30, 1)],
  /* GW */ (f) => [f.sluice('bgpRouterAsNumber', 4), f.iana(16, 4), f.iana(129, 4), f.iana(17, 4), f.sluice('bgpLocalPref', 4)],
  /* GW_NH4 */ (f) => [f.iana(18, 4)],
  /* GW_NH6 */ (f) => [f.iana(63, 16)],
  /* GW_PATH */ (f) => [f.iana(128, 4), f.iana(512, VARLEN)],
  /* GW_COMM */ (f) => [f.iana(485, VARLEN)],
  /* USER */ (f) => [f.sluice('sourceUserName', VARLEN), f.sluice('destinationUserName', VARLEN)],
  /* URL */ (f) => [f.sluice('sflowUrlDirection', 1), f.iana(461, VARLEN), f.iana(460, VARLEN)],
  /* MPLS_NH4 */ (f) => [f.iana(47, 4)],
  /* MPLS_NH6 */ (f) => [f.iana(140, 16)],
  /* MPLS_OUT */ (f) => [f.sluice('postMplsTopLabelStackSection', 3)],
  /* NAT_SRC4 */ (f) => [f.iana(225, 4)],
  /* NAT_SRC6 */ (f) => [f.iana(281, 16)],
  /* NAT_DST4 */ (f) => [f.iana(226, 4)],
  /* NAT_DST6 */ (f) => [f.iana(282, 16)],
  /* QUEUE */ (f) => [f.sluice('egressQueue', 4)],
];

const COUNTER_FIELDS: readonly FieldList[] = [
  /* AGENT4 */ (f) => [f.iana(130, 4)],
  /* AGENT6 */ (f) => [f.iana(131, 16)],
  /* BASE */ (f) => [f.sluice('sflowDataSourceType', 4), f.sluice('sflowDataSourceIndex', 4), f.sluice('sflowSampleSequenceNumber', 4), f.iana(323, 8)],
  /* IF: the generic interface counters record, in wire order */
  (f) => [
    f.sluice('ifIndex', 4),
    f.sluice('ifType', 4),
    f.sluice('ifSpeed', 8),
    f.sluice('ifDirection', 4),
    f.sluice('ifStatus', 4),
    f.sluice('ifInOctets', 8),
    f.sluice('ifInUcastPkts', 4),
    f.sluice('ifInMulticastPkts', 4),
    f.sluice('ifInBroadcastPkts', 4),
    f.sluice('ifInDiscards', 4),
    f.sluice('ifInErrors', 4),
    f.sluice('ifInUnknownProtos', 4),
    f.sluice('ifOutOctets', 8),
    f.sluice('ifOutUcastPkts', 4),
    f.sluice('ifOutMulticastPkts', 4),
    f.sluice('ifOutBroadcastPkts', 4),
    f.sluice('ifOutDiscards', 4),
    f.sluice('ifOutErrors', 4),
    f.sluice('ifPromiscuousMode', 4),
  ],
  /* ETH: 13 dot3Stats counters, in wire order */
  (f) =>
    [
      'dot3StatsAlignmentErrors',
      'dot3StatsFCSErrors',
      'dot3StatsSingleCollisionFrames',
      'dot3StatsMultipleCollisionFrames',
      'dot3StatsSQETestErrors',
      'dot3StatsDeferredTransmissions',
      'dot3StatsLateCollisions',
      'dot3StatsExcessiveCollisions',
      'dot3StatsInternalMacTransmitErrors',
      'dot3StatsCarrierSenseErrors',
      'dot3StatsFrameTooLongs',
      'dot3StatsInternalMacReceiveErrors',
      'dot3StatsSymbolErrors',
    ].map((n) => f.sluice(n, 4)),
  /* VLAN: vlan_id is the IANA vlanId, the counters are sluice's */
  (f) => [f.iana(58, 2), f.sluice('vlanOctets', 8), f.sluice('vlanUcastPkts', 4), f.sluice('vlanMulticastPkts', 4), f.sluice('vlanBroadcastPkts', 4), f.sluice('vlanDiscards', 4)],
  /* CPU */ (f) => [f.sluice('cpuPercent5s', 4), f.sluice('cpuPercent1m', 4), f.sluice('cpuPercent5m', 4), f.sluice('totalMemory', 8), f.sluice('freeMemory', 8)],
  /* PORTNAME */ (f) => [f.iana(82, VARLEN)],
];

/** Record type of counter records in JSON ("@type"), so flow consumers can tell them apart. */
export const COUNTERS_RECORD_TYPE = 'sflow.counters';

/** Bound on cached layouts: a fuzzer can reach many group combinations; real agents use a handful. */
const MAX_CACHED = 4096;

/** Builds and caches the template of each group combination. */
export class SflowLayouts {
  private readonly f: SyntheticFieldFactory;
  private readonly flow = new Map<number, Map<number, Template>>();
  private readonly counter = new Map<number, Template>();
  private cached = 0;
  private nextId = 256;

  constructor(reg: IeResolver) {
    this.f = new SyntheticFieldFactory(reg);
  }

  /** Template for flow groups `lo` (bits 0-31) and `hi` (bits 32+), with `labels` MPLS label fields. */
  flowTemplate(lo: number, hi: number, labels: number): Template {
    const hk = hi + labels * 0x4000_0000; // labels above the hi bits: hi uses fewer than 30 bits
    let inner = this.flow.get(lo);
    let t = inner?.get(hk);
    if (t !== undefined) return t;
    const fields: FieldSpec[] = [];
    for (let g = 0; g < G.COUNT; g++) {
      const set = g < 32 ? (lo >>> g) & 1 : (hi >>> (g - 32)) & 1;
      if (set) fields.push(...FLOW_FIELDS[g]!(this.f, labels));
    }
    t = makeTemplate(this.id(), 'sflow5', fields, 0);
    this.bound();
    if (inner === undefined) this.flow.set(lo, (inner = new Map()));
    inner.set(hk, t);
    this.cached++;
    return t;
  }

  counterTemplate(bits: number): Template {
    let t = this.counter.get(bits);
    if (t !== undefined) return t;
    const fields: FieldSpec[] = [];
    for (let g = 0; g < C.COUNT; g++) if ((bits >>> g) & 1) fields.push(...COUNTER_FIELDS[g]!(this.f, 0));
    t = makeTemplate(this.id(), 'sflow5', fields, 0, false, COUNTERS_RECORD_TYPE);
    this.bound();
    this.counter.set(bits, t);
    this.cached++;
    return t;
  }

  private id(): number {
    const id = this.nextId;
    this.nextId = id >= 0xffff ? 256 : id + 1;
    return id;
  }

  private bound(): void {
    if (this.cached < MAX_CACHED) return;
    this.flow.clear();
    this.counter.clear();
    this.cached = 0;
  }
}
