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
/** The same heads as five little-endian words, for the usual 20-byte ones (years 0..9999). */
const headWords = new Uint32Array(1024 * 5);

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
    if (head.length === 20) {
      for (let k = 0; k < 5; k++) {
        const c = slot * HEAD_SLOT + 4 * k;
        headWords[5 * slot + k] = (heads[c]! | (heads[c + 1]! << 8) | (heads[c + 2]! << 16) | (heads[c + 3]! << 24)) >>> 0;
      }
    }
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

// ---- writers that also take `dv`, a DataView over `d` -------------------------------------------
// The compiled formatters write through these: one 16- or 32-bit store (a single bounds check)
// instead of two or four byte stores. Some of them store a few bytes past the token they return
// the end of; those bytes lie inside the room the caller made and the next token overwrites them.

/** "00".."99" as little-endian 16-bit words (first digit in the low byte). */
const DIGW = new Uint16Array(100);
for (let i = 0; i < 100; i++) DIGW[i] = (48 + ((i / 10) | 0)) | ((48 + (i % 10)) << 8);

/** Digits of 0 <= v < 10000. */
function small(d: Buffer, dv: DataView, p: number, v: number): number {
  if (v < 100) {
    if (v < 10) {
      d[p] = 48 + v;
      return p + 1;
    }
    dv.setUint16(p, DIGW[v]!, true);
    return p + 2;
  }
  const hi = (v / 100) | 0;
  const lo = v - hi * 100;
  if (hi < 10) {
    d[p] = 48 + hi;
    dv.setUint16(p + 1, DIGW[lo]!, true);
    return p + 3;
  }
  dv.setUint16(p, DIGW[hi]!, true);
  dv.setUint16(p + 2, DIGW[lo]!, true);
  return p + 4;
}

/** Four digits of 0 <= v < 10000, zero-padded. */
function four(dv: DataView, p: number, v: number): void {
  const hi = (v / 100) | 0;
  dv.setUint16(p, DIGW[hi]!, true);
  dv.setUint16(p + 2, DIGW[v - hi * 100]!, true);
}

/** Digits of 0 <= v < 1e8. */
function eight(d: Buffer, dv: DataView, p: number, v: number): number {
  if (v < 10000) return small(d, dv, p, v);
  const hi = (v / 10000) | 0;
  p = small(d, dv, p, hi);
  four(dv, p, v - hi * 10000);
  return p + 4;
}

/** u(): decimal digits of an integer 0 <= v < 2^53. */
export function ud(d: Buffer, dv: DataView, p: number, v: number): number {
  if (v < 1e8) return eight(d, dv, p, v);
  let hi = Math.floor(v / 1e8);
  let lo = v - hi * 1e8;
  if (lo < 0) {
    // v / 1e8 rounded up to the next integer (v close to 2^53)
    hi--;
    lo += 1e8;
  }
  p = eight(d, dv, p, hi);
  const m = (lo / 10000) | 0;
  four(dv, p, m);
  four(dv, p + 4, lo - m * 10000);
  return p + 8;
}

/**
 * "<digits>." of 0..255 as a little-endian word, and its length (IPv4 octets); U8W/U8N the same
 * without the dot (one-byte unsigned values). The compiled formatters use these tables inline.
 */
export const OCTW = new Uint32Array(256);
export const OCTN = new Uint8Array(256);
export const U8W = new Uint32Array(256);
export const U8N = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  const s = String(i) + '.';
  OCTN[i] = s.length;
  U8N[i] = s.length - 1;
  for (let k = 0; k < s.length; k++) OCTW[i] = (OCTW[i]! | (s.charCodeAt(k) << (8 * k))) >>> 0;
  for (let k = 0; k < s.length - 1; k++) U8W[i] = (U8W[i]! | (s.charCodeAt(k) << (8 * k))) >>> 0;
}

/** ip4(): quoted dotted quad; stores up to 17 bytes from p. */
export function ip4d(d: Buffer, dv: DataView, p: number, buf: Buffer, o: number): number {
  d[p] = 34;
  let x = buf[o]!;
  dv.setUint32(p + 1, OCTW[x]!, true);
  p += 1 + OCTN[x]!;
  x = buf[o + 1]!;
  dv.setUint32(p, OCTW[x]!, true);
  p += OCTN[x]!;
  x = buf[o + 2]!;
  dv.setUint32(p, OCTW[x]!, true);
  p += OCTN[x]!;
  x = buf[o + 3]!;
  dv.setUint32(p, OCTW[x]!, true);
  p += OCTN[x]!;
  // the dot after the last octet becomes the closing quote
  d[p - 1] = 34;
  return p;
}

/** tcpFlags() as two words per value. */
export const TCPW = new Uint32Array(128);
for (let v = 0; v < 64; v++) {
  const s = J.TCP_FLAGS[v]!;
  for (let k = 0; k < 8; k++) TCPW[2 * v + (k >> 2)] = (TCPW[2 * v + (k >> 2)]! | (s.charCodeAt(k) << (8 * (k & 3)))) >>> 0;
}

/** tcpFlags(): v is 0..63. */
export function tcpFlagsd(dv: DataView, p: number, v: number): number {
  dv.setUint32(p, TCPW[2 * v]!, true);
  dv.setUint32(p + 4, TCPW[2 * v + 1]!, true);
  return p + 8;
}

/**
 * Up to 256 precomputed tokens (protocol names) as three little-endian words each, for tokens of
 * up to 12 bytes; longer ones are copied from `bytes`.
 */
export interface TokenTable {
  readonly words: Uint32Array;
  readonly lens: Uint8Array;
  readonly bytes: readonly Uint8Array[];
}

export function tokenTable(tokens: readonly Uint8Array[]): TokenTable {
  const words = new Uint32Array(3 * tokens.length);
  const lens = new Uint8Array(tokens.length);
  tokens.forEach((t, i) => {
    lens[i] = Math.min(t.length, 255);
    if (t.length > 12) return;
    for (let k = 0; k < t.length; k++) words[3 * i + (k >> 2)] = (words[3 * i + (k >> 2)]! | (t[k]! << (8 * (k & 3)))) >>> 0;
  });
  return { words, lens, bytes: tokens };
}

/** Token x of the table; stores max(12, its length) bytes from p. */
export function token(d: Buffer, dv: DataView, p: number, t: TokenTable, x: number): number {
  const n = t.lens[x]!;
  if (n > 12) return bytes(d, p, t.bytes[x]!);
  const w = t.words;
  dv.setUint32(p, w[3 * x]!, true);
  dv.setUint32(p + 4, w[3 * x + 1]!, true);
  dv.setUint32(p + 8, w[3 * x + 2]!, true);
  return p + n;
}

/** iso(): stores 26 bytes for years 0..9999 (the 20-byte heads), else as iso(). */
export function isod(d: Buffer, dv: DataView, p: number, ms: number): number {
  if (!Number.isFinite(ms)) return nul(d, p);
  const t = Math.floor(ms);
  const sec = Math.floor(t / 1000);
  const slot = sec & 1023;
  if (headKeys[slot] !== sec) return iso(d, p, ms); // fills the slot; the next time takes the words
  if (headLens[slot] !== 20) return iso(d, p, ms);
  const h = 5 * slot;
  dv.setUint32(p, headWords[h]!, true);
  dv.setUint32(p + 4, headWords[h + 1]!, true);
  dv.setUint32(p + 8, headWords[h + 2]!, true);
  dv.setUint32(p + 12, headWords[h + 3]!, true);
  dv.setUint32(p + 16, headWords[h + 4]!, true);
  const m = t - sec * 1000;
  const hi = (m / 100) | 0;
  // ".", hundreds, tens and units, then 'Z' and the closing quote
  dv.setUint32(p + 20, (46 | ((48 + hi) << 8) | (DIGW[m - hi * 100]! << 16)) >>> 0, true);
  dv.setUint16(p + 24, 90 | (34 << 8), true);
  return p + 26;
}

/** unix(): integer milliseconds. */
export function unixd(d: Buffer, dv: DataView, p: number, ms: number): number {
  if (!Number.isFinite(ms)) return nul(d, p);
  const v = Math.floor(ms);
  if (v >= 0 && v < TWO53) return ud(d, dv, p, v);
  return ascii(d, p, '' + v);
}

/** uint() of 8 bytes given as two 32-bit halves. */
export function u64d(d: Buffer, dv: DataView, p: number, hi: number, lo: number): number {
  if (hi < 0x200000) return ud(d, dv, p, hi * TWO32 + lo);
  return ascii(d, p, ((BigInt(hi) << 32n) | BigInt(lo)).toString());
}

/** uint(): unsigned integer of 1..8 bytes. */
export function uintd(d: Buffer, dv: DataView, p: number, buf: Buffer, o: number, len: number): number {
  if (len <= 6) return ud(d, dv, p, buf.readUIntBE(o, len));
  const hiLen = len - 4;
  return u64d(d, dv, p, buf.readUIntBE(o, hiLen), buf.readUInt32BE(o + hiLen));
}
