import { isIP } from 'node:net';
/**
 * Address text: IPv4 dotted quad, IPv6 in RFC 5952 canonical form, MAC as colon-separated hex.
 *
 * The formatters run once per flow record in the JSON path, so they read bytes straight from the
 * buffer, build the text by string concatenation from precomputed tables, and allocate nothing
 * but the result. The parsers (text -> bytes) serve builders and configuration, not hot paths.
 */

/** "0".."255": the decimal text of every byte value. */
const DEC: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));
/** Lowercase hex of every byte value without leading zero ("0".."ff"). */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16));
/** Lowercase hex of every byte value, always two digits ("00".."ff"). */
const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function need(buf: Buffer, off: number, n: number): void {
  // A Buffer index past the end reads `undefined` and would silently print "undefined"; fail loudly.
  if (!(off >= 0 && off + n <= buf.length)) {
    throw new RangeError(`address of ${n} bytes at offset ${off} does not fit a buffer of ${buf.length} bytes`);
  }
}

/** `buf[off..off+4)` as "a.b.c.d". */
export function ipv4ToString(buf: Buffer, off: number): string {
  need(buf, off, 4);
  return DEC[buf[off]!] + '.' + DEC[buf[off + 1]!] + '.' + DEC[buf[off + 2]!] + '.' + DEC[buf[off + 3]!];
}

/** One 16-bit group as RFC 5952 text: lowercase, no leading zeros. */
function group(hi: number, lo: number): string {
  return hi === 0 ? HEX[lo]! : HEX[hi]! + HEX2[lo]!;
}

/**
 * `buf[off..off+16)` in RFC 5952 form: lowercase hex, leading zeros dropped, the longest run of two or
 * more zero groups (the first one on a tie) written as "::", and IPv4-mapped addresses (::ffff:0:0/96)
 * ending in dotted quad (section 5).
 */
export function ipv6ToString(buf: Buffer, off: number): string {
  need(buf, off, 16);
  // Find the longest run of zero groups without materialising the groups.
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (section 4.2.2)
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const zero = buf[off + 2 * i] === 0 && buf[off + 2 * i + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = i;
      const len = i - runStart + 1;
      if (len > bestLen) {
        bestLen = len;
        bestStart = runStart;
      }
    } else {
      runStart = -1;
    }
  }
  // ::ffff:a.b.c.d — the first five groups are zero and the sixth is ffff.
  if (bestStart === 0 && bestLen === 5 && buf[off + 10] === 0xff && buf[off + 11] === 0xff) {
    return '::ffff:' + ipv4ToString(buf, off + 12);
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && i !== bestStart + bestLen) s += ':';
    s += group(buf[off + 2 * i]!, buf[off + 2 * i + 1]!);
  }
  return s;
}

/** `buf[off..off+6)` as "aa:bb:cc:dd:ee:ff". */
export function macToString(buf: Buffer, off: number): string {
  need(buf, off, 6);
  return (
    HEX2[buf[off]!] + ':' + HEX2[buf[off + 1]!] + ':' + HEX2[buf[off + 2]!] + ':' +
    HEX2[buf[off + 3]!] + ':' + HEX2[buf[off + 4]!] + ':' + HEX2[buf[off + 5]!]
  );
}

/** The address at `off` as text: 4 bytes are IPv4, 16 bytes IPv6. */
export function ipToString(buf: Buffer, off: number, length: 4 | 16): string {
  return length === 4 ? ipv4ToString(buf, off) : ipv6ToString(buf, off);
}

// ---- text -> bytes (not on hot paths) ----

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted quad; returns undefined when `text` is not one. */
export function parseIpv4(text: string): Buffer | undefined {
  const m = IPV4_RE.exec(text);
  if (m === null) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const v = Number(m[i + 1]);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

/** Parses any RFC 4291 text form (with "::" and a trailing dotted quad); undefined when invalid. */
export function parseIpv6(text: string): Buffer | undefined {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone); // a zone index names an interface, not address bits
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (v4 === undefined) return undefined;
        groups.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        groups.push(parseInt(item, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const given = head.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const out = Buffer.alloc(16);
  head.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  tail.forEach((g, i) => out.writeUInt16BE(g, 2 * (8 - tail.length + i)));
  return out;
}

/** Parses an IPv4 or IPv6 address; undefined when `text` is neither. */
export function parseIp(text: string): Buffer | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with "-" separators); undefined when invalid. */
export function parseMac(text: string): Buffer | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return undefined;
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

// Addresses with their family and text, and prefixes (the relay's source rules, receivers).

export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Buffer;
  /** Canonical text (lower case, compressed IPv6), as Node prints addresses. */
  readonly text: string;
}

/** Parses an IPv4 or IPv6 address literal (IPv6 without brackets) with its family and canonical text; undefined when it is not one. */
export function parseAddress(text: string): IpAddress | undefined {
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
