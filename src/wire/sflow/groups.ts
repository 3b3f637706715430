/**
 * sFlow v5 wire constants (sample, flow record and counter record formats, sampled header
 * protocols), and the field-group bits a sample's state sets and the synthetic templates
 * (layout.ts) are keyed by.
 */
import * as parse from '../packet/parse.js';
import { C, G } from './layout.js';


/** Sample formats (enterprise 0). */
export const FLOW_SAMPLE = 1;
export const COUNTER_SAMPLE = 2;
export const FLOW_SAMPLE_EXPANDED = 3;
export const COUNTER_SAMPLE_EXPANDED = 4;
export const DISCARDED_PACKET = 5; // sflow_drops.txt

/** Flow record formats (enterprise 0). */
export const R_HEADER = 1;
export const R_ETHERNET = 2;
export const R_IPV4 = 3;
export const R_IPV6 = 4;
export const R_SWITCH = 1001;
export const R_ROUTER = 1002;
export const R_GATEWAY = 1003;
export const R_USER = 1004;
export const R_URL = 1005;
export const R_MPLS = 1006;
export const R_NAT = 1007;
export const R_EGRESS_QUEUE = 1036; // sflow_drops.txt

/** Counter record formats (enterprise 0). */
export const CR_GENERIC = 1;
export const CR_ETHERNET = 2;
export const CR_VLAN = 5;
export const CR_PROCESSOR = 1001;
export const CR_PORT_NAME = 1005; // sflow_openflow.txt

/** sampled_header header_protocol values that sluice dissects. */
export const HP_ETHERNET = 1;
export const HP_IPV4 = 11;
export const HP_IPV6 = 12;
export const HP_MPLS = 13;

// Imported bindings copied into module constants once: transpilers that turn modules into
// namespace objects (tsx in development) would otherwise put a getter call on every use.
export const dissect = parse.dissect;
export const LT_ETHERNET = parse.LinkType.ETHERNET;
export const LT_IPV4 = parse.LinkType.IPV4;
export const LT_IPV6 = parse.LinkType.IPV6;
export const LT_RAW = parse.LinkType.RAW;
export const ET_MPLS = parse.EtherType.MPLS;
export const ET_MPLS_MC = parse.EtherType.MPLS_MC;
export const P_TCP = parse.IpProto.TCP;
export const P_UDP = parse.IpProto.UDP;
export const P_SCTP = parse.IpProto.SCTP;
export const P_UDPLITE = parse.IpProto.UDPLITE;

// Group bits: flow groups 0-31 live in `lo`, 32+ in `hi`.
export const bit = (g: number): number => (g < 32 ? (1 << g) >>> 0 : 0);
export const hbit = (g: number): number => (g >= 32 ? 1 << (g - 32) : 0);

export const L_AGENT4 = bit(G.AGENT4);
export const L_AGENT6 = bit(G.AGENT6);
export const L_BASE = bit(G.BASE);
export const L_SAMPLING = bit(G.SAMPLING);
export const L_DROPPED = bit(G.DROPPED);
export const L_DISCARD = bit(G.DISCARD);
export const L_IN_IF = bit(G.IN_IF);
export const L_OUT_IF = bit(G.OUT_IF);
export const L_IN_MULTI = bit(G.IN_MULTI);
export const L_OUT_MULTI = bit(G.OUT_MULTI);
export const L_DIRECTION = bit(G.DIRECTION);
export const L_HDR_PROTO = bit(G.HDR_PROTO);
export const L_L2OCTETS = bit(G.L2OCTETS);
export const L_SCALED_L2 = bit(G.SCALED_L2);
export const L_OCTETS = bit(G.OCTETS);
export const L_SCALED_OCT = bit(G.SCALED_OCT);
export const L_DROPPED_OCT = bit(G.DROPPED_OCT);
export const L_MAC = bit(G.MAC);
export const L_ETHTYPE = bit(G.ETHTYPE);
export const L_DOT1Q = bit(G.DOT1Q);
export const L_DOT1Q_INNER = bit(G.DOT1Q_INNER);
export const L_SW_IN_VLAN = bit(G.SW_IN_VLAN);
export const L_SW_OUT_VLAN = bit(G.SW_OUT_VLAN);
export const L_SW_IN_PRI = bit(G.SW_IN_PRI);
export const L_SW_OUT_PRI = bit(G.SW_OUT_PRI);
export const L_IP4 = bit(G.IP4);
export const L_IP6 = bit(G.IP6);
export const L_PROTO = bit(G.PROTO);
export const L_IPV4HDR = bit(G.IPV4HDR);
export const L_IPV6HDR = bit(G.IPV6HDR);
export const L_FRAG = bit(G.FRAG);
export const L_PORTS = bit(G.PORTS);
export const H_TCP = hbit(G.TCP);
export const H_UDP = hbit(G.UDP);
export const H_ICMP4 = hbit(G.ICMP4);
export const H_ICMP6 = hbit(G.ICMP6);
export const H_MPLS_LABELS = hbit(G.MPLS_LABELS);
export const H_RT_NH4 = hbit(G.RT_NH4);
export const H_RT_NH6 = hbit(G.RT_NH6);
export const H_MASK4 = hbit(G.MASK4);
export const H_MASK6 = hbit(G.MASK6);
export const H_GW = hbit(G.GW);
export const H_GW_NH4 = hbit(G.GW_NH4);
export const H_GW_NH6 = hbit(G.GW_NH6);
export const H_GW_PATH = hbit(G.GW_PATH);
export const H_GW_COMM = hbit(G.GW_COMM);
export const H_USER = hbit(G.USER);
export const H_URL = hbit(G.URL);
export const H_MPLS_NH4 = hbit(G.MPLS_NH4);
export const H_MPLS_NH6 = hbit(G.MPLS_NH6);
export const H_MPLS_OUT = hbit(G.MPLS_OUT);
export const H_NAT_SRC4 = hbit(G.NAT_SRC4);
export const H_NAT_SRC6 = hbit(G.NAT_SRC6);
export const H_NAT_DST4 = hbit(G.NAT_DST4);
export const H_NAT_DST6 = hbit(G.NAT_DST6);
export const H_QUEUE = hbit(G.QUEUE);

/** Everything that depends on the sampled packet's IP version; cleared when a later record says otherwise. */
export const L_V4_ONLY = L_IP4 | L_IPV4HDR;
export const L_V6_ONLY = L_IP6 | L_IPV6HDR;
/** Fields that come from a dissected packet header; cleared before a header is dissected. */
export const L_FROM_PACKET = L_IP4 | L_IP6 | L_PROTO | L_IPV4HDR | L_IPV6HDR | L_FRAG | L_PORTS;
export const H_FROM_PACKET = H_TCP | H_UDP | H_ICMP4 | H_ICMP6;

export const CB_AGENT4 = 1 << C.AGENT4;
export const CB_AGENT6 = 1 << C.AGENT6;
export const CB_BASE = 1 << C.BASE;
export const CB_IF = 1 << C.IF;
export const CB_ETH = 1 << C.ETH;
export const CB_VLAN = 1 << C.VLAN;
export const CB_CPU = 1 << C.CPU;
export const CB_PORTNAME = 1 << C.PORTNAME;
