/**
 * Addresses as the store holds them (16 bytes, IPv4 as IPv4-mapped IPv6; see src/store/schema.ts)
 * and as people write them. A prefix is one range of the 16-byte value, so a network test is a
 * BETWEEN over the column.
 */
import { addressUuid, storedAddress } from '../store/columns.js';
import { ipv4ToString, ipv6ToString, parseIpv4, parseIpv6 } from '../wire/packet/addr.js';

/** Bytes 10 and 11 of an IPv4-mapped address; bytes 0..9 are zero. */
const MAPPED_PREFIX_BYTES = 12;

/** An inclusive range of stored addresses: one address (lo = hi) or a prefix. */
export interface AddressRange {
  /** Lowest address, as the DuckDB UUID text of its 16 stored bytes. */
  readonly lo: string;
  /** Highest address, likewise. */
  readonly hi: string;
}

/** Why a piece of text is not an address or prefix, and where in it (0-based). */
export interface AddressProblem {
  readonly reason: string;
  readonly offset: number;
}

export function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** An address written as text -> its 16 stored bytes, or undefined. */
export function parseStoredAddress(text: string): Uint8Array | undefined {
  if (text.includes(':')) {
    const v6 = parseIpv6(text);
    return v6 === undefined ? undefined : storedAddress(v6, 0, 16);
  }
  const v4 = parseIpv4(text);
  return v4 === undefined ? undefined : storedAddress(v4, 0, 4);
}

/** The range of stored addresses that share the first `bits` of `b` (bits counted over all 128). */
export function prefixRange(b: Uint8Array, bits: number): AddressRange {
  const lo = new Uint8Array(16);
  const hi = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i)); // bits of this byte inside the prefix
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    lo[i] = b[i]! & mask;
    hi[i] = (b[i]! & mask) | (~mask & 0xff);
  }
  return { lo: addressUuid(lo), hi: addressUuid(hi) };
}

/** One address as a range of one. */
export function exactRange(b: Uint8Array): AddressRange {
  const u = addressUuid(b);
  return { lo: u, hi: u };
}

/**
 * A prefix as text: "10.1.0.0/16", nfdump's short IPv4 form "10.1/16" (missing octets are zero),
 * or "2001:db8::/32". Host bits past the length are ignored, as nfdump does.
 */
export function parsePrefix(text: string): AddressRange | AddressProblem {
  const slash = text.indexOf('/');
  if (slash < 0) return { reason: 'expected a prefix ADDRESS/LENGTH', offset: 0 };
  const addr = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  const v6 = addr.includes(':');
  const max = v6 ? 128 : 32;
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    return { reason: `expected a prefix length from 0 to ${max}`, offset: slash + 1 };
  }
  const len = Number(lenText);
  let bytes: Uint8Array | undefined;
  if (v6) bytes = parseStoredAddress(addr);
  else {
    const parts = addr.split('.');
    // nfdump lets "172.16/16" stand for 172.16.0.0/16.
    if (parts.length >= 1 && parts.length <= 4 && parts.every((p) => /^\d{1,3}$/.test(p))) {
      while (parts.length < 4) parts.push('0');
      bytes = parseStoredAddress(parts.join('.'));
    }
  }
  if (bytes === undefined) return { reason: v6 ? 'expected an IPv6 address before the "/"' : 'expected an IPv4 address before the "/"', offset: 0 };
  return prefixRange(bytes, v6 ? len : MAPPED_PREFIX_BYTES * 8 + len);
}

/** "10.0.0.0 255.255.0.0": an IPv4 network and a contiguous netmask. */
export function maskedRange(addrText: string, maskText: string): AddressRange | AddressProblem {
  const addr = parseIpv4(addrText);
  if (addr === undefined) return { reason: 'expected an IPv4 network address before a netmask', offset: 0 };
  const mask = parseIpv4(maskText);
  if (mask === undefined) return { reason: 'expected a netmask such as 255.255.255.0', offset: addrText.length + 1 };
  const m = mask.readUInt32BE(0);
  const len = m === 0 ? 0 : 32 - Math.log2((~m >>> 0) + 1);
  if (!Number.isInteger(len)) return { reason: 'the netmask is not contiguous', offset: addrText.length + 1 };
  return prefixRange(storedAddress(addr, 0, 4), MAPPED_PREFIX_BYTES * 8 + len);
}

export function isProblem(r: AddressRange | AddressProblem): r is AddressProblem {
  return 'reason' in r;
}

/** The 16 bytes of a DuckDB UUID text ("0a0b...-....") as the store holds them. */
export function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** Stored address bytes as text: dotted quad for IPv4-mapped, RFC 5952 otherwise. */
export function addressText(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, 16);
  return isMapped(b) ? ipv4ToString(buf, MAPPED_PREFIX_BYTES) : ipv6ToString(buf, 0);
}

/** UUID text of the IPv4-mapped addresses: everything but the last 8 hex digits (the IPv4 address). */
const MAPPED_UUID_PREFIX = '00000000-0000-0000-0000-ffff';

/** A UUID value read from the store as address text (runs once per address of every raw flow printed). */
export function uuidAddressText(uuid: string): string {
  if (uuid.length === 36 && uuid.startsWith(MAPPED_UUID_PREFIX)) {
    const v = parseInt(uuid.slice(28), 16);
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }
  return addressText(uuidBytes(uuid));
}

/** Two 64-bit halves (as read from SQL) of a stored address, and a prefix length, as "net/len". */
export function networkText(hi: bigint, lo: bigint, bits: number): string {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(hi, 0);
  b.writeBigUInt64BE(lo, 8);
  return isMapped(b) ? `${addressText(b)}/${bits - MAPPED_PREFIX_BYTES * 8}` : `${addressText(b)}/${bits}`;
}
