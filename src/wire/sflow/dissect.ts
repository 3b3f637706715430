/**
 * The sampled packet header of an sFlow flow record, dissected (src/wire/packet/parse.ts) into
 * the sample's state: MACs, VLAN tags, MPLS labels, IP header fields, ports, TCP flags, ICMP.
 */
import type { PacketLayers } from '../packet/parse.js';
import { MAX_LABELS } from './layout.js';
import {
  dissect, ET_MPLS, ET_MPLS_MC, HP_ETHERNET, HP_IPV4, HP_IPV6, HP_MPLS, H_FROM_PACKET, H_ICMP4, H_ICMP6, H_MPLS_LABELS, H_TCP, H_UDP, LT_ETHERNET, LT_IPV4, LT_IPV6, LT_RAW, L_DOT1Q, L_DOT1Q_INNER, L_ETHTYPE, L_FRAG, L_FROM_PACKET, L_IP4, L_IP6, L_IPV4HDR, L_IPV6HDR, L_MAC, L_OCTETS, L_PORTS, L_PROTO, L_V4_ONLY, L_V6_ONLY, P_SCTP, P_TCP, P_UDP, P_UDPLITE,
} from './groups.js';
import { u16, type SampleState } from './sample.js';

/** Marks the sample's packet as IP version `v`, dropping fields a record of the other version set. */
export function setIpVersion(s: SampleState, v: 4 | 6): void {
  if (v === 4) {
    s.lo = (s.lo & ~L_V6_ONLY) | L_IP4 | L_PROTO;
    s.hi &= ~H_ICMP6;
  } else {
    s.lo = (s.lo & ~L_V4_ONLY) | L_IP6 | L_PROTO;
    s.hi &= ~H_ICMP4;
  }
}

/** Ports and TCP flags of the IPv4/IPv6 data records; meaningful for port-carrying protocols only. */
export function setIpData(s: SampleState, srcPort: number, dstPort: number, tcpFlags: number): void {
  s.lo |= L_OCTETS;
  const pr = s.proto;
  if (pr === P_TCP || pr === P_UDP || pr === P_SCTP || pr === P_UDPLITE) {
    s.srcPort = srcPort & 0xffff;
    s.dstPort = dstPort & 0xffff;
    s.lo |= L_PORTS;
  } else s.lo &= ~L_PORTS;
  if (pr === P_TCP) (s.tcpFlags = tcpFlags), (s.hi |= H_TCP);
  else s.hi &= ~H_TCP;
}

/** Dissects a sampled packet header at [off, off + len) of the datagram. */
export function dissectHeader(s: SampleState, buf: Buffer, L: PacketLayers, proto: number, off: number, len: number): void {
  let base = off;
  let ok: boolean;
  // The header is the one place the record's bytes are handed to another parser; a subarray
  // bounds it, so the dissector cannot read the rest of the datagram as packet bytes.
  switch (proto) {
    case HP_ETHERNET:
      ok = dissect(LT_ETHERNET, buf.subarray(off, off + len), L);
      break;
    case HP_IPV4:
      ok = dissect(LT_IPV4, buf.subarray(off, off + len), L);
      break;
    case HP_IPV6:
      ok = dissect(LT_IPV6, buf.subarray(off, off + len), L);
      break;
    case HP_MPLS: {
      // A label stack without a link header: walk to the bottom of stack, then raw IP.
      let n = 0;
      let q = off;
      const end = off + len;
      while (end - q >= 4) {
        const bottom = (buf[q + 2]! & 1) !== 0;
        q += 4;
        n++;
        if (bottom) break;
      }
      if (n > 0) (s.labels = Math.min(n, MAX_LABELS)), (s.labelOff = off), (s.hi |= H_MPLS_LABELS);
      base = q;
      ok = dissect(LT_RAW, buf.subarray(q, end), L);
      break;
    }
    default:
      return; // other media (token ring, FDDI, 802.11, ...): the frame length is all sluice keeps
  }
  if (L.ethOffset >= 0) {
    s.dstMacOff = base + L.ethOffset;
    s.srcMacOff = base + L.ethOffset + 6;
    s.lo |= L_MAC;
    const tags = L.vlanIds.length;
    if (tags > 0) {
      // TCI of tag k at 14 + 4k: priority in the top 3 bits, VLAN id in the low 12.
      s.vlan = L.vlanIds[0]!;
      s.vlanPri = buf[base + 14]! >> 5;
      s.lo |= L_DOT1Q;
      if (tags > 1) {
        s.vlanInner = L.vlanIds[1]!;
        s.vlanInnerPri = buf[base + 18]! >> 5;
        s.lo |= L_DOT1Q_INNER;
      }
    }
    if (L.etherType >= 0) (s.ethType = L.etherType), (s.lo |= L_ETHTYPE);
    if ((L.etherType === ET_MPLS || L.etherType === ET_MPLS_MC) && L.mplsLabels > 0) {
      s.labels = Math.min(L.mplsLabels, MAX_LABELS);
      // The stack ends where IP starts (LLC/SNAP can sit before it); without IP, right after the tags.
      s.labelOff = L.ipOffset >= 0 ? base + L.ipOffset - 4 * L.mplsLabels : base + 14 + 4 * tags;
      s.hi |= H_MPLS_LABELS;
    }
  }
  if (!ok || L.ipVersion === 0) return;
  // The header replaces what an earlier record said about the packet.
  s.lo &= ~L_FROM_PACKET;
  s.hi &= ~H_FROM_PACKET;
  const ip = base + L.ipOffset;
  s.ipSrcOff = base + L.srcAddrOffset;
  s.ipDstOff = base + L.dstAddrOffset;
  s.tos = L.tos;
  s.ttl = L.ttl;
  if (L.ipVersion === 4) {
    setIpVersion(s, 4);
    s.ihl = L.ipHeaderLength;
    s.ipTotal4 = u16(buf, ip + 2);
    s.ipLen = L.ipTotalLength;
    s.fragId = L.fragId;
    s.fragOff = L.fragOffset / 8;
    s.fragFlags = buf[ip + 6]! & 0xe0; // RS, DF, MF: the same bit positions as IANA fragmentFlags
    s.lo |= L_IPV4HDR | L_FRAG;
  } else {
    setIpVersion(s, 6);
    s.payload6 = u16(buf, ip + 4);
    s.ipLen = L.ipTotalLength;
    s.flowLabel = L.flowLabel;
    s.lo |= L_IPV6HDR;
    if (L.fragHeaderOffset >= 0) {
      s.fragId = L.fragId;
      s.fragOff = L.fragOffset / 8;
      s.fragFlags = L.moreFragments ? 0x20 : 0;
      s.lo |= L_FRAG;
    }
  }
  s.lo |= L_OCTETS;
  if (L.protocol >= 0) s.proto = L.protocol;
  else s.lo &= ~L_PROTO;
  if (L.srcPort >= 0) (s.srcPort = L.srcPort), (s.dstPort = L.dstPort), (s.lo |= L_PORTS);
  if (L.protocol === P_TCP && L.payloadOffset >= 0) (s.tcpFlags = L.tcpFlags), (s.hi |= H_TCP);
  if (L.udpLength >= 0) (s.udpLen = L.udpLength), (s.hi |= H_UDP);
  if (L.icmpType >= 0) {
    s.icmp = (L.icmpType << 8) | L.icmpCode;
    s.hi |= L.ipVersion === 4 ? H_ICMP4 : H_ICMP6;
  }
}
