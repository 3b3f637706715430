/**
 * IP addresses as bytes with their text, and prefix matching, for the relay (no DNS, no I/O).
 * node:net can tell whether text is an address but not give its bytes, which the raw sender and
 * the source-prefix rules need; the bytes and the RFC 5952 text come from wire/packet/addr.
 */
import { isIP } from 'node:net';
import { ipv4ToString, ipv6ToString, parseIpv4, parseIpv6 } from '../wire/packet/addr.js';

export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Buffer;
  /** Canonical text (lower case, compressed IPv6), as Node prints addresses. */
  readonly text: string;
}

/** Parses an IPv4 or IPv6 address literal (IPv6 without brackets); undefined when it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  const kind = isIP(text);
  if (kind === 4) {
    const bytes = parseIpv4(text);
    return bytes === undefined ? undefined : { family: 4, bytes, text: ipv4ToString(bytes, 0) };
  }
  if (kind === 6) {
    const bytes = parseIpv6(text);
    return bytes === undefined ? undefined : { family: 6, bytes, text: ipv6ToString(bytes, 0) };
  }
  return undefined;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports) as plain IPv4. */
export function unmapIpv4(addr: IpAddress): IpAddress {
  if (addr.family !== 6) return addr;
  const b = addr.bytes;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return addr;
  if (b[10] !== 0xff || b[11] !== 0xff) return addr;
  const bytes = Buffer.from(b.subarray(12, 16));
  return { family: 4, bytes, text: `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}` };
}

export interface IpPrefix {
  readonly family: Family;
  readonly bytes: Buffer;
  /** Mask bytes, same length as bytes (IPv4 configs may give any dotted mask, not only a prefix). */
  readonly mask: Buffer;
  readonly text: string;
}

export function prefixFromLength(addr: IpAddress, length: number): IpPrefix {
  const mask = Buffer.alloc(addr.bytes.length);
  for (let i = 0; i < mask.length; i++) {
    const bits = Math.max(0, Math.min(8, length - 8 * i));
    mask[i] = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
  return prefixFromMask(addr, mask, `${addr.text}/${length}`);
}

export function prefixFromMask(addr: IpAddress, mask: Buffer, text: string): IpPrefix {
  const bytes = Buffer.alloc(addr.bytes.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = addr.bytes[i]! & mask[i]!;
  return { family: addr.family, bytes, mask, text };
}

export function prefixMatches(p: IpPrefix, addr: IpAddress): boolean {
  if (p.family !== addr.family) return false;
  const a = addr.bytes;
  for (let i = 0; i < a.length; i++) if ((a[i]! & p.mask[i]!) !== p.bytes[i]) return false;
  return true;
}
