/**
 * A sample's state while its records are read (numbers, and offsets into the datagram for
 * addresses and strings), the small XDR readers, and the sample-level error.
 */
import { SluiceError } from '../../util/errors.js';
import type { DropReason } from '../stats.js';

/**
 * sFlow drop reasons (the ICMP unreachable codes 0-15 of the v5 spec, 256+ from sflow_drops.txt)
 * onto IPFIX forwardingStatus (RFC 7270: 0b10xxxxxx = dropped, with a reason). Reasons without a
 * counterpart become 128 "Dropped: unknown"; the sFlow reason itself is kept beside it.
 */
export function forwardingStatusOf(reason: number): number {
  if (reason <= 15) {
    if (reason === 4) return 133; // fragmentation needed and DF set
    if (reason === 9 || reason === 10 || reason === 13 || reason === 14 || reason === 15 || reason === 8) return 129; // administratively prohibited: ACL deny
    return 131; // net/host/protocol/port unreachable: unroutable
  }
  switch (reason) {
    case 257: // ttl_exceeded
      return 137;
    case 258: // acl
      return 129;
    case 260: // red
      return 139;
    case 261: // traffic_shaping
      return 138;
    case 262: // pkt_too_big
      return 133;
    case 269: // blackhole_route
    case 281: // non_routable_packet
      return 131;
    case 275: // ip_header_corrupted
      return 136;
    case 279: // unresolved_neigh
      return 132;
    case 280: // mc_reverse_path_forwarding
    case 302: // uc_reverse_path_forwarding
      return 140;
    default:
      return 128;
  }
}

export function u16(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
export function u32(b: Buffer, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}
/** XDR pads opaque and string data to a multiple of 4 bytes. */
export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Where the next sample or record starts: samples and records are XDR opaque<> data, whose length
 * counts the bytes without the padding to 4 that follows them (agents write lengths that are
 * multiples of 4 anyway, so this matters for odd vendor records only). Never past `end`.
 */
export function next(body: number, len: number, end: number): number {
  return Math.min(body + pad4(len), end);
}

/** A problem found while reading a sample, carried to the datagram loop, which reports it. */
export class SampleError extends SluiceError {
  constructor(
    readonly reason: DropReason,
    readonly offset: number,
    message: string,
  ) {
    super('sflow-sample', message, { offset });
  }
}

/** What the records of one sample said. Reused for every sample: numbers and offsets only. */
export class SampleState {
  lo = 0;
  hi = 0;
  labels = 0;
  labelOff = 0;
  srcType = 0;
  srcIndex = 0;
  seq = 0;
  rate = 0;
  pool = 0;
  drops = 0;
  inVal = 0;
  outVal = 0;
  dropReason = 0;
  direction = 0;
  hdrProto = 0;
  frameLen = 0;
  ipLen = 0;
  srcMacOff = 0;
  dstMacOff = 0;
  ethType = 0;
  vlan = 0;
  vlanPri = 0;
  vlanInner = 0;
  vlanInnerPri = 0;
  swInVlan = 0;
  swOutVlan = 0;
  swInPri = 0;
  swOutPri = 0;
  ipSrcOff = 0;
  ipDstOff = 0;
  proto = 0;
  tos = 0;
  ttl = 0;
  ihl = 0;
  ipTotal4 = 0;
  payload6 = 0;
  flowLabel = 0;
  fragId = 0;
  fragOff = 0;
  fragFlags = 0;
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  udpLen = 0;
  icmp = 0;
  rtNhOff = 0;
  maskSrc = 0;
  maskDst = 0;
  gwNhOff = 0;
  gwAs = 0;
  gwSrcAs = 0;
  gwPeerAs = 0;
  gwDstAs = 0;
  gwLocalPref = 0;
  gwNextAs = 0;
  gwPathOff = 0;
  gwPathSegments = 0;
  gwPathAsns = 0;
  gwCommOff = 0;
  gwCommCount = 0;
  userSrcOff = 0;
  userSrcLen = 0;
  userDstOff = 0;
  userDstLen = 0;
  urlDir = 0;
  urlOff = 0;
  urlLen = 0;
  hostOff = 0;
  hostLen = 0;
  mplsNhOff = 0;
  mplsOutOff = 0;
  natSrcOff = 0;
  natDstOff = 0;
  queue = 0;
  /** Counter samples: record offsets. */
  ifOff = 0;
  ethOff = 0;
  vlanCtrOff = 0;
  cpuOff = 0;
  portNameOff = 0;
  portNameLen = 0;
}

/** Loop bound on announced sample and record counts (each also consumes at least 8 bytes). */
export const MAX_COUNT = 0xffff;
/** A UDP datagram holds at most 65535 bytes, so at most 8191 samples of 8 bytes or more. */
export const MAX_PLAUSIBLE = 8191;

/**
 * Samples lost when `count` were announced and `done` were read. A count no datagram could hold is
 * one lying field, reported once, not billions of lost samples in the metrics.
 */
export function lost(count: number, done: number): number {
  return count <= MAX_PLAUSIBLE ? count - done : 1;
}
