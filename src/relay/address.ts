/**
 * IP address text to bytes and back, and prefix matching, for the relay (no DNS, no I/O).
 * node:net can tell whether text is an address but not give its bytes, which the raw sender and
 * the source-prefix rules need.
 */
import { isIP } from 'node:net';

export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Buffer;
  /** Canonical text (lower case, compressed IPv6), as Node prints addresses. */
  readonly text: string;
}

function parseIpv4Bytes(text: string, out: Buffer, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[at + i] = n;
  }
  return true;
}

function parseIpv6Bytes(text: string, out: Buffer): boolean {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const words = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  const groups: number[] = [];
  const take = (list: string[], isLast: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const w = list[i]!;
      if (isLast && i === list.length - 1 && w.includes('.')) {
        const v4 = Buffer.alloc(4);
        if (!parseIpv4Bytes(w, v4, 0)) return false;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return false;
      groups.push(parseInt(w, 16));
    }
    return true;
  };
  if (!take(head, halves.length === 1)) return false;
  const headCount = groups.length;
  if (!take(tail, true)) return false;
  const tailGroups = groups.splice(headCount);
  if (halves.length === 1 ? groups.length !== 8 : headCount + tailGroups.length > 7) return false;
  while (groups.length + tailGroups.length < 8) groups.push(0);
  groups.push(...tailGroups);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i]!, 2 * i);
  return true;
}

function ipv6Text(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(2 * i));
  // RFC 5952: compress the longest run of two or more zero groups (the first on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Parses an IPv4 or IPv6 address literal (IPv6 without brackets); undefined when it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  const kind = isIP(text);
  if (kind === 4) {
    const bytes = Buffer.alloc(4);
    if (!parseIpv4Bytes(text, bytes, 0)) return undefined;
    return { family: 4, bytes, text: `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}` };
  }
  if (kind === 6) {
    const bytes = Buffer.alloc(16);
    if (!parseIpv6Bytes(text, bytes)) return undefined;
    return { family: 6, bytes, text: ipv6Text(bytes) };
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
