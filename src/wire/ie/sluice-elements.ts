/**
 * Information Elements of sluice's own, for facts the IANA registry has no element for: sFlow
 * sample and counter facts, scaled counts, AWS VPC flow log fields, and the probe's measurements.
 *
 * They live under a pseudo-enterprise number of sluice's own (no PEN is registered for sluice), in
 * the JSON scope "sluice", the way IPFIXcol2 puts NetFlow v9 types above 127 under pseudo-PENs
 * 4294967294/4294967295. 4294967293 is the next value down: real PENs are assigned upwards from 0
 * and are nowhere near it. The built-in registry holds them (src/wire/ie/registry.ts); a user
 * definition for the same (PEN, id) given with `--ie-file` still wins.
 *
 * Ids are stable: they are on the wire (the probe exports them) and in JSON with numericNames.
 * One table, so an id can be taken once only (checked when the table is built).
 */
import type { DataType, InfoElement } from './types.js';

export const SLUICE_PEN = 4294967293;
export const SLUICE_SCOPE = 'sluice';

/** Ids of the probe's elements (src/probe), for template building. */
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
  reverseTcpRetransmissionCount: 123,
} as const;

/** Ids of the scaled counts and the rate they were scaled by (sFlow decoding, JSON scaledCounters, the flow plan). */
export const ScaleIe = {
  scaledPacketDeltaCount: 1,
  scaledOctetDeltaCount: 2,
  scaledLayer2OctetDeltaCount: 3,
  samplingRate: 19,
} as const;

/** [id, name, type, semantics?, units?] */
const ROWS: ReadonlyArray<readonly [number, string, DataType, string?, string?]> = [
  // Flow samples: counts scaled by the sampling rate (an estimate, not a measurement, hence their own names).
  [ScaleIe.scaledPacketDeltaCount, 'scaledPacketDeltaCount', 'unsigned64', 'deltaCounter', 'packets'],
  [ScaleIe.scaledOctetDeltaCount, 'scaledOctetDeltaCount', 'unsigned64', 'deltaCounter', 'octets'],
  [ScaleIe.scaledLayer2OctetDeltaCount, 'scaledLayer2OctetDeltaCount', 'unsigned64', 'deltaCounter', 'octets'],
  // The sampling rate in force that the scaled counts of a JSON record were multiplied by
  // (src/pipeline/sampling.ts decides it; 1 when unsampled or unknown). Fractional for
  // samplingPacketInterval/Space, hence a float.
  [ScaleIe.samplingRate, 'samplingRate', 'float64', 'quantity'],
  // sFlow sample header facts.
  [4, 'sflowDataSourceType', 'unsigned32', 'identifier'],
  [5, 'sflowDataSourceIndex', 'unsigned32', 'identifier'],
  [6, 'sflowSampleSequenceNumber', 'unsigned32', 'identifier'],
  [7, 'sflowDropReason', 'unsigned32', 'identifier'],
  [8, 'sflowHeaderProtocol', 'unsigned32', 'identifier'],
  [9, 'egressInterfaceCount', 'unsigned32', 'quantity'],
  [10, 'ingressInterfaceCount', 'unsigned32', 'quantity'],
  // Extended records without an IANA counterpart.
  [11, 'postDot1qPriority', 'unsigned8', 'identifier'],
  [12, 'bgpRouterAsNumber', 'unsigned32', 'identifier'],
  [13, 'bgpLocalPref', 'unsigned32', 'quantity'],
  [14, 'sourceUserName', 'string'],
  [15, 'destinationUserName', 'string'],
  [16, 'sflowUrlDirection', 'unsigned8', 'identifier'],
  [17, 'postMplsTopLabelStackSection', 'octetArray'],
  [18, 'egressQueue', 'unsigned32', 'identifier'],
  // Counter samples, named after the sFlow v5 / MIB counters they carry.
  [32, 'ifIndex', 'unsigned32', 'identifier'],
  [33, 'ifType', 'unsigned32', 'identifier'],
  [34, 'ifSpeed', 'unsigned64', 'quantity', 'bits'],
  [35, 'ifDirection', 'unsigned32', 'identifier'],
  [36, 'ifStatus', 'unsigned32', 'flags'],
  [37, 'ifInOctets', 'unsigned64', 'totalCounter', 'octets'],
  [38, 'ifInUcastPkts', 'unsigned32', 'totalCounter', 'packets'],
  [39, 'ifInMulticastPkts', 'unsigned32', 'totalCounter', 'packets'],
  [40, 'ifInBroadcastPkts', 'unsigned32', 'totalCounter', 'packets'],
  [41, 'ifInDiscards', 'unsigned32', 'totalCounter', 'packets'],
  [42, 'ifInErrors', 'unsigned32', 'totalCounter', 'packets'],
  [43, 'ifInUnknownProtos', 'unsigned32', 'totalCounter', 'packets'],
  [44, 'ifOutOctets', 'unsigned64', 'totalCounter', 'octets'],
  [45, 'ifOutUcastPkts', 'unsigned32', 'totalCounter', 'packets'],
  [46, 'ifOutMulticastPkts', 'unsigned32', 'totalCounter', 'packets'],
  [47, 'ifOutBroadcastPkts', 'unsigned32', 'totalCounter', 'packets'],
  [48, 'ifOutDiscards', 'unsigned32', 'totalCounter', 'packets'],
  [49, 'ifOutErrors', 'unsigned32', 'totalCounter', 'packets'],
  [50, 'ifPromiscuousMode', 'unsigned32', 'identifier'],
  [51, 'dot3StatsAlignmentErrors', 'unsigned32', 'totalCounter', 'frames'],
  [52, 'dot3StatsFCSErrors', 'unsigned32', 'totalCounter', 'frames'],
  [53, 'dot3StatsSingleCollisionFrames', 'unsigned32', 'totalCounter', 'frames'],
  [54, 'dot3StatsMultipleCollisionFrames', 'unsigned32', 'totalCounter', 'frames'],
  [55, 'dot3StatsSQETestErrors', 'unsigned32', 'totalCounter'],
  [56, 'dot3StatsDeferredTransmissions', 'unsigned32', 'totalCounter', 'frames'],
  [57, 'dot3StatsLateCollisions', 'unsigned32', 'totalCounter'],
  [58, 'dot3StatsExcessiveCollisions', 'unsigned32', 'totalCounter', 'frames'],
  [59, 'dot3StatsInternalMacTransmitErrors', 'unsigned32', 'totalCounter', 'frames'],
  [60, 'dot3StatsCarrierSenseErrors', 'unsigned32', 'totalCounter'],
  [61, 'dot3StatsFrameTooLongs', 'unsigned32', 'totalCounter', 'frames'],
  [62, 'dot3StatsInternalMacReceiveErrors', 'unsigned32', 'totalCounter', 'frames'],
  [63, 'dot3StatsSymbolErrors', 'unsigned32', 'totalCounter'],
  [64, 'vlanOctets', 'unsigned64', 'totalCounter', 'octets'],
  [65, 'vlanUcastPkts', 'unsigned32', 'totalCounter', 'packets'],
  [66, 'vlanMulticastPkts', 'unsigned32', 'totalCounter', 'packets'],
  [67, 'vlanBroadcastPkts', 'unsigned32', 'totalCounter', 'packets'],
  [68, 'vlanDiscards', 'unsigned32', 'totalCounter', 'packets'],
  // Processor: CPU in hundredths of a percent (-1 = unknown, hence signed), memory in bytes.
  [72, 'cpuPercent5s', 'signed32', 'quantity'],
  [73, 'cpuPercent1m', 'signed32', 'quantity'],
  [74, 'cpuPercent5m', 'signed32', 'quantity'],
  [75, 'totalMemory', 'unsigned64', 'quantity', 'octets'],
  [76, 'freeMemory', 'unsigned64', 'quantity', 'octets'],
  // AWS VPC flow log fields without an IANA counterpart (src/parsers/aws-vpc.ts), named after the AWS fields.
  [100, 'awsLogVersion', 'unsigned8', 'identifier'],
  [101, 'awsAccountId', 'string'],
  [102, 'awsInterfaceId', 'string'],
  [103, 'awsAction', 'string'],
  [104, 'awsLogStatus', 'string'],
  [105, 'awsVpcId', 'string'],
  [106, 'awsSubnetId', 'string'],
  [107, 'awsInstanceId', 'string'],
  [108, 'awsTrafficType', 'string'],
  [109, 'awsPktSrcAddr', 'string'],
  [110, 'awsPktDstAddr', 'string'],
  [111, 'awsRegion', 'string'],
  [112, 'awsAzId', 'string'],
  [113, 'awsSublocationType', 'string'],
  [114, 'awsSublocationId', 'string'],
  [115, 'awsPktSrcAwsService', 'string'],
  [116, 'awsPktDstAwsService', 'string'],
  [117, 'awsTrafficPath', 'unsigned8', 'identifier'],
  [118, 'awsRejectReason', 'string'],
  [119, 'awsEcsClusterName', 'string'],
  [120, 'awsEcsServiceName', 'string'],
  [121, 'awsEcsTaskId', 'string'],
  [122, 'awsEcsContainerId', 'string'],
  // The probe's measurements (src/probe). HTTP Host is IANA's httpRequestHost (460), not defined here.
  [ProbeIe.tcpHandshakeRttMicroseconds, 'tcpHandshakeRttMicroseconds', 'unsigned32', 'quantity', 'microseconds'],
  [ProbeIe.tcpRetransmissionCount, 'tcpRetransmissionCount', 'unsigned64', 'deltaCounter', 'packets'],
  [ProbeIe.dnsQueryName, 'dnsQueryName', 'string'],
  [ProbeIe.tlsServerName, 'tlsServerName', 'string'],
  [ProbeIe.reverseTcpRetransmissionCount, 'reverseTcpRetransmissionCount', 'unsigned64', 'deltaCounter', 'packets'],
];

function build(): readonly InfoElement[] {
  const seen = new Map<number, string>();
  return ROWS.map(([id, name, type, semantics, units]) => {
    const other = seen.get(id);
    if (other !== undefined) throw new Error(`sluice element id ${id} is taken twice: ${other} and ${name}`);
    seen.set(id, name);
    return Object.freeze({ pen: SLUICE_PEN, id, name, type, semantics, units, scope: SLUICE_SCOPE, reverse: false });
  });
}

/** The definitions, in the shape IeRegistry.add takes. */
export const SLUICE_ELEMENTS: readonly InfoElement[] = build();
