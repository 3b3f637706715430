import type { InfoElement } from './ie/types.js';
import { makeTemplate, type FieldSpec, type Template, type TemplateOrigin } from './template.js';

/** Resolves (enterprise, element id) to a definition; the IE registry implements it. */
export interface IeResolver {
  get(pen: number, id: number): InfoElement | undefined;
}

/**
 * NetFlow v5 and v7 records have a fixed layout. Expressing them as templates of IANA elements lets
 * them share the compiled decoders, the formatter and the model with v9 and IPFIX.
 * Each entry: [IANA element id, length]. 210 = paddingOctets.
 */
const V5_LAYOUT: ReadonlyArray<readonly [number, number]> = [
  [8, 4], // srcaddr -> sourceIPv4Address
  [12, 4], // dstaddr -> destinationIPv4Address
  [15, 4], // nexthop -> ipNextHopIPv4Address
  [10, 2], // input -> ingressInterface
  [14, 2], // output -> egressInterface
  [2, 4], // dPkts -> packetDeltaCount
  [1, 4], // dOctets -> octetDeltaCount
  [22, 4], // first -> flowStartSysUpTime
  [21, 4], // last -> flowEndSysUpTime
  [7, 2], // srcport -> sourceTransportPort
  [11, 2], // dstport -> destinationTransportPort
  [210, 1], // pad1
  [6, 1], // tcp_flags -> tcpControlBits
  [4, 1], // prot -> protocolIdentifier
  [5, 1], // tos -> ipClassOfService
  [16, 2], // src_as -> bgpSourceAsNumber
  [17, 2], // dst_as -> bgpDestinationAsNumber
  [9, 1], // src_mask -> sourceIPv4PrefixLength
  [13, 1], // dst_mask -> destinationIPv4PrefixLength
  [210, 2], // pad2
];

/** v7 (Catalyst switches): the v5 layout with flag bytes in the pads, plus the shortcut router address. */
const V7_LAYOUT: ReadonlyArray<readonly [number, number]> = [
  [8, 4],
  [12, 4],
  [15, 4],
  [10, 2],
  [14, 2],
  [2, 4],
  [1, 4],
  [22, 4],
  [21, 4],
  [7, 2],
  [11, 2],
  [210, 1], // flags1 (which fields are valid): no IANA element, carried as padding
  [6, 1],
  [4, 1],
  [5, 1],
  [16, 2],
  [17, 2],
  [9, 1],
  [13, 1],
  [210, 2], // flags2
  [210, 4], // router_sc (the router being shortcut): no IANA element has this meaning, so it is not exported
];

export const V5_RECORD_LENGTH = 48;
export const V7_RECORD_LENGTH = 52;
/** v5/v7 template ids are not on the wire; these are what JSON shows as ipfix:templateId. */
export const V5_TEMPLATE_ID = 5;
export const V7_TEMPLATE_ID = 7;

function build(id: number, origin: TemplateOrigin, layout: ReadonlyArray<readonly [number, number]>, reg: IeResolver): Template {
  const fields: FieldSpec[] = layout.map(([ie, length]) => ({ id: ie, pen: 0, length, ie: reg.get(0, ie) }));
  return makeTemplate(id, origin, fields, 0);
}

export function netflow5Template(reg: IeResolver): Template {
  return build(V5_TEMPLATE_ID, 'netflow5', V5_LAYOUT, reg);
}
export function netflow7Template(reg: IeResolver): Template {
  return build(V7_TEMPLATE_ID, 'netflow7', V7_LAYOUT, reg);
}
