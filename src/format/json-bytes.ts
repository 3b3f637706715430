/**
 * Byte twins of json-values.ts: each writer puts one JSON token into `d` at `p` and returns the
 * position after it. The caller has made room (see the bounds in ipfixcol2-json.ts). Output is
 * byte-identical to the UTF-8 encoding of the json-values.ts text (test/format-bytes.test.ts).
 */
import * as J from './json-values.js';

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;

/** "00".."99" as pairs of digit bytes. */
const DIG2 = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  DIG2[2 * i] = 48 + ((i / 10) | 0);
  DIG2[2 * i + 1] = 48 + (i % 10);
}

/** Decimal digits of an integer 0 <= v < 2^53. */
export function u(d: Buffer, p: number, v: number): number {
  if (v < 10) {
    d[p] = 48 + v;
    return p + 1;
  }
  if (v < 100) {
    d[p] = DIG2[2 * v]!;
    d[p + 1] = DIG2[2 * v + 1]!;
    return p + 2;
  }
  let n: number;
  if (v < 1e3) n = 3;
  else if (v < 1e4) n = 4;
  else if (v < 1e5) n = 5;
  else if (v < 1e6) n = 6;
  else if (v < 1e7) n = 7;
  else if (v < 1e8) n = 8;
  else if (v < 1e9) n = 9;
  else if (v < 1e10) n = 10;
  else {
    n = 11;
    for (let t = 1e11; v >= t && n < 16; t *= 10) n++;
  }
  let q = p + n;
  while (v >= TWO32) {
    let t = Math.floor(v / 100);
    let r = v - t * 100;
    if (r < 0) {
      // v / 100 rounded up to the next integer
      t--;
      r += 100;
    }
    d[--q] = DIG2[2 * r + 1]!;
    d[--q] = DIG2[2 * r]!;
    v = t;
  }
  while (v >= 100) {
    const t = (v / 100) >>> 0;
    const r = v - t * 100;
    d[--q] = DIG2[2 * r + 1]!;
    d[--q] = DIG2[2 * r]!;
    v = t;
  }
  if (v >= 10) {
    d[--q] = DIG2[2 * v + 1]!;
    d[--q] = DIG2[2 * v]!;
  } else d[--q] = 48 + v;
  return p + n;
}

/** Text that is ASCII by construction (numbers, BigInt digits). */
export function ascii(d: Buffer, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) d[p + i] = s.charCodeAt(i);
  return p + s.length;
}

/** Any JavaScript number as `'' + v` would print it (digits for safe non-negative integers). */
export function num(d: Buffer, p: number, v: number): number {
  if (v >= 0 && v < TWO53 && Math.floor(v) === v) return u(d, p, v);
  return ascii(d, p, '' + v);
}

/** The `null` literal. */
export function nul(d: Buffer, p: number): number {
  d[p] = 110;
  d[p + 1] = 117;
  d[p + 2] = 108;
  d[p + 3] = 108;
  return p + 4;
}

/** A precomputed token. */
export function bytes(d: Buffer, p: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) d[p + i] = b[i]!;
  return p + b.length;
}

/** Unsigned integer of 1..8 bytes (J.uint). */
export function uint(d: Buffer, p: number, buf: Buffer, o: number, len: number): number {
  if (len <= 6) return u(d, p, buf.readUIntBE(o, len));
  const hiLen = len - 4;
  const hi = buf.readUIntBE(o, hiLen);
  const lo = buf.readUInt32BE(o + hiLen);
  if (hi < 0x200000) return u(d, p, hi * TWO32 + lo);
  return ascii(d, p, ((BigInt(hi) << 32n) | BigInt(lo)).toString());
}

/** Signed integer of 1..8 bytes (J.sint). */
export function sint(d: Buffer, p: number, buf: Buffer, o: number, len: number): number {
  if (len > 6) return ascii(d, p, J.sint(buf, o, len));
  const v = buf.readIntBE(o, len);
  if (v >= 0) return u(d, p, v);
  d[p] = 45;
  return u(d, p + 1, -v);
}

/** Float as J.float prints it (printf %.<digits>g). */
export function float(d: Buffer, p: number, v: number, digits: number): number {
  return ascii(d, p, J.float(v, digits));
}

/** [length, digit, digit, digit] for 0..255. */
const OCT = new Uint8Array(1024);
for (let i = 0; i < 256; i++) {
  const s = String(i);
  OCT[4 * i] = s.length;
  for (let k = 0; k < s.length; k++) OCT[4 * i + 1 + k] = s.charCodeAt(k);
}

function dotted(d: Buffer, p: number, buf: Buffer, o: number): number {
  for (let k = 0; k < 4; k++) {
    const x = 4 * buf[o + k]!;
    const n = OCT[x]!;
    d[p] = OCT[x + 1]!;
    if (n > 1) {
      d[p + 1] = OCT[x + 2]!;
      if (n > 2) d[p + 2] = OCT[x + 3]!;
    }
    p += n;
    if (k < 3) d[p++] = 46;
  }
  return p;
}

/** Quoted dotted-quad IPv4 address. */
export function ip4(d: Buffer, p: number, buf: Buffer, o: number): number {
  d[p] = 34;
  p = dotted(d, p + 1, buf, o);
  d[p] = 34;
  return p + 1;
}

const HEXC = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEXC[i] = '0123456789abcdef'.charCodeAt(i);
/** Uppercase digits for MAC addresses and octet arrays (libfds fds_mac2str, fds_octet_array2str). */
const HEXU = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEXU[i] = '0123456789ABCDEF'.charCodeAt(i);

function hex16(d: Buffer, p: number, w: number): number {
  if (w >= 0x1000) d[p++] = HEXC[w >> 12]!;
  if (w >= 0x100) d[p++] = HEXC[(w >> 8) & 15]!;
  if (w >= 0x10) d[p++] = HEXC[(w >> 4) & 15]!;
  d[p++] = HEXC[w & 15]!;
  return p;
}

/** RFC 5952 text form of an IPv6 address, quoted (J.ip6). */
export function ip6(d: Buffer, p: number, buf: Buffer, o: number): number {
  let best = -1;
  let bestLen = 1;
  let run = -1;
  for (let i = 0; i < 8; i++) {
    if (buf[o + 2 * i] === 0 && buf[o + 2 * i + 1] === 0) {
      if (run < 0) run = i;
      if (i - run + 1 > bestLen) {
        best = run;
        bestLen = i - run + 1;
      }
    } else run = -1;
  }
  d[p++] = 34;
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && buf[o + 10] === 0xff && buf[o + 11] === 0xff))) {
    d[p++] = 58;
    d[p++] = 58;
    if (bestLen === 5) {
      d[p++] = 102;
      d[p++] = 102;
      d[p++] = 102;
      d[p++] = 102;
      d[p++] = 58;
    }
    p = dotted(d, p, buf, o + 12);
    d[p] = 34;
    return p + 1;
  }
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      if (i === 0) d[p++] = 58;
      d[p++] = 58;
      i += bestLen - 1;
      continue;
    }
    p = hex16(d, p, (buf[o + 2 * i]! << 8) | buf[o + 2 * i + 1]!);
    if (i < 7) d[p++] = 58;
  }
  d[p] = 34;
  return p + 1;
}

/** Quoted MAC address, uppercase hex. */
export function mac(d: Buffer, p: number, buf: Buffer, o: number): number {
  d[p++] = 34;
  for (let k = 0; k < 6; k++) {
    const x = buf[o + k]!;
    d[p] = HEXU[x >> 4]!;
    d[p + 1] = HEXU[x & 15]!;
    p += 2;
    if (k < 5) d[p++] = 58;
  }
  d[p] = 34;
  return p + 1;
}

/** octetArray: unsigned number (asUint, up to 8 bytes) or "0x…" (J.octets). */
export function octets(d: Buffer, p: number, buf: Buffer, o: number, len: number, asUint: boolean): number {
  if (len === 0) return nul(d, p);
  if (asUint && len <= 8) return uint(d, p, buf, o, len);
  d[p] = 34;
  d[p + 1] = 48;
  d[p + 2] = 120;
  p += 3;
  for (let i = 0; i < len; i++) {
    const x = buf[o + i]!;
    d[p] = HEXU[x >> 4]!;
    d[p + 1] = HEXU[x & 15]!;
    p += 2;
  }
  d[p] = 34;
  return p + 1;
}

/** IPFIX string as a JSON string (J.str, libfds' rules; the one implementation is J.strBytes). */
export const str: (d: Buffer, p: number, buf: Buffer, o: number, len: number, drop: boolean) => number = J.strBytes;

// ISO-8601 head "YYYY-MM-DDTHH:MM:SS (with the opening quote), cached per second like J.isoMs.
const HEAD_SLOT = 32;
const headKeys = new Float64Array(1024).fill(NaN);
const headLens = new Uint8Array(1024);
const heads = new Uint8Array(1024 * HEAD_SLOT);

/** ISO-8601 UTC with milliseconds, quoted (J.isoMs). */
export function iso(d: Buffer, p: number, ms: number): number {
  if (!Number.isFinite(ms)) return nul(d, p);
  const t = Math.floor(ms);
  const sec = Math.floor(t / 1000);
  const slot = sec & 1023;
  if (headKeys[slot] !== sec) {
    const dt = new Date(sec * 1000);
    if (Number.isNaN(dt.getTime())) return nul(d, p);
    const full = dt.toISOString();
    const head = '"' + full.slice(0, full.length - 5);
    if (head.length > HEAD_SLOT) return ascii(d, p, J.isoMs(ms));
    for (let k = 0; k < head.length; k++) heads[slot * HEAD_SLOT + k] = head.charCodeAt(k);
    headLens[slot] = head.length;
    headKeys[slot] = sec;
  }
  const n = headLens[slot]!;
  const h = slot * HEAD_SLOT;
  for (let k = 0; k < n; k++) d[p + k] = heads[h + k]!;
  p += n;
  const m = t - sec * 1000;
  const hi = (m / 100) | 0;
  const lo = m - hi * 100;
  d[p] = 46;
  d[p + 1] = 48 + hi;
  d[p + 2] = DIG2[2 * lo]!;
  d[p + 3] = DIG2[2 * lo + 1]!;
  d[p + 4] = 90;
  d[p + 5] = 34;
  return p + 6;
}

/** Milliseconds since the epoch as an integer (J.unixMs). */
export function unix(d: Buffer, p: number, ms: number): number {
  if (!Number.isFinite(ms)) return nul(d, p);
  return num(d, p, Math.floor(ms));
}

/** tcpControlBits as "UAPRSF" with '.' for clear bits (J.TCP_FLAGS). */
export function tcpFlags(d: Buffer, p: number, v: number): number {
  d[p] = 34;
  d[p + 1] = v & 32 ? 85 : 46;
  d[p + 2] = v & 16 ? 65 : 46;
  d[p + 3] = v & 8 ? 80 : 46;
  d[p + 4] = v & 4 ? 82 : 46;
  d[p + 5] = v & 2 ? 83 : 46;
  d[p + 6] = v & 1 ? 70 : 46;
  d[p + 7] = 34;
  return p + 8;
}
