/**
 * Small, allocation-light helpers that turn wire bytes into JSON text. Every function returns the
 * JSON token itself (quotes included for strings), so generated formatters only concatenate.
 */

/** Byte -> two uppercase hex digits: libfds prints MAC addresses (%02X) and octet arrays in uppercase. */
const HEX = Array.from({ length: 256 }, (_, i) => (i < 16 ? '0' : '') + i.toString(16).toUpperCase());
const TWO32 = 4294967296;

export function ip4(buf: Buffer, o: number): string {
  return '"' + buf[o] + '.' + buf[o + 1] + '.' + buf[o + 2] + '.' + buf[o + 3] + '"';
}

/** RFC 5952 text form of an IPv6 address, quoted. */
export function ip6(buf: Buffer, o: number): string {
  // Find the longest run of two or more zero 16-bit words.
  let best = -1;
  let bestLen = 1;
  let run = -1;
  for (let i = 0; i < 8; i++) {
    const z = buf[o + 2 * i] === 0 && buf[o + 2 * i + 1] === 0;
    if (z) {
      if (run < 0) run = i;
      if (i - run + 1 > bestLen) {
        best = run;
        bestLen = i - run + 1;
      }
    } else run = -1;
  }
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && buf[o + 10] === 0xff && buf[o + 11] === 0xff))) {
    const v4 = buf[o + 12] + '.' + buf[o + 13] + '.' + buf[o + 14] + '.' + buf[o + 15];
    return bestLen === 6 ? '"::' + v4 + '"' : '"::ffff:' + v4 + '"';
  }
  let s = '"';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += ((buf[o + 2 * i]! << 8) | buf[o + 2 * i + 1]!).toString(16);
    if (i < 7) s += ':';
  }
  return s + '"';
}

export function mac(buf: Buffer, o: number): string {
  return '"' + HEX[buf[o]!] + ':' + HEX[buf[o + 1]!] + ':' + HEX[buf[o + 2]!] + ':' + HEX[buf[o + 3]!] + ':' + HEX[buf[o + 4]!] + ':' + HEX[buf[o + 5]!] + '"';
}

/** Unsigned integer of 1..8 bytes as exact JSON digits (bigint only beyond 2^53). */
export function uint(buf: Buffer, o: number, len: number): string {
  if (len <= 6) return '' + buf.readUIntBE(o, len);
  const hiLen = len - 4;
  const hi = buf.readUIntBE(o, hiLen);
  const lo = buf.readUInt32BE(o + hiLen);
  if (hi < 0x200000) return '' + (hi * TWO32 + lo);
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

export function sint(buf: Buffer, o: number, len: number): string {
  if (len <= 6) return '' + buf.readIntBE(o, len);
  if (len === 8) return buf.readBigInt64BE(o).toString();
  return BigInt.asIntN(56, (BigInt(buf.readUIntBE(o, 3)) << 32n) | BigInt(buf.readUInt32BE(o + 3))).toString();
}

export function num(v: number): string {
  return Number.isFinite(v) ? '' + v : 'null';
}

/** u64 milliseconds as a plain number (exact up to year 287396). */
export function u64num(buf: Buffer, o: number): number {
  return buf.readUInt32BE(o) * TWO32 + buf.readUInt32BE(o + 4);
}

/** NTP timestamp (RFC 7011 6.1.9/6.1.10) to ms since the Unix epoch. */
export function ntpMs(buf: Buffer, o: number, micro: boolean): number {
  let frac = buf.readUInt32BE(o + 4);
  if (micro) frac = (frac & ~0x7ff) >>> 0;
  return (buf.readUInt32BE(o) - 2208988800) * 1000 + (frac / TWO32) * 1000;
}

/**
 * NTP timestamp to ms as libfds formats it as text (fds_get_datetime_hp_be): the fraction is first
 * rounded to nanoseconds (half up), then cut to milliseconds. frac * 1e9 / 2^31 is computed as
 * frac * 1953125 / 2^22, exact in a double.
 */
export function ntpMsText(buf: Buffer, o: number, micro: boolean): number {
  let frac = buf.readUInt32BE(o + 4);
  if (micro) frac = (frac & ~0x7ff) >>> 0;
  let q = Math.floor((frac * 1953125) / 4194304);
  if (q % 2 === 1) q++;
  const ns = q / 2;
  return (buf.readUInt32BE(o) - 2208988800) * 1000 + Math.floor(ns / 1e6);
}

// ISO-8601 text, UTC, milliseconds. The "YYYY-MM-DDTHH:MM:SS" head is cached per second because
// records of one export share a handful of seconds.
const headKeys = new Float64Array(1024).fill(NaN);
const heads: string[] = new Array(1024).fill('');
const MS3 = Array.from({ length: 1000 }, (_, i) => '.' + String(i).padStart(3, '0') + 'Z"');

export function isoMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'null';
  const t = Math.floor(ms);
  const sec = Math.floor(t / 1000);
  const slot = sec & 1023;
  let head: string;
  if (headKeys[slot] === sec) head = heads[slot]!;
  else {
    const d = new Date(sec * 1000);
    if (Number.isNaN(d.getTime())) return 'null';
    const full = d.toISOString();
    // Years beyond 9999 print as +YYYYYY; keep them as they come.
    head = '"' + full.slice(0, full.length - 5);
    headKeys[slot] = sec;
    heads[slot] = head;
  }
  return head + MS3[t - sec * 1000]!;
}

export function unixMs(ms: number): string {
  return Number.isFinite(ms) ? '' + Math.floor(ms) : 'null';
}

/** "UAPRSF" with '.' for clear bits, as IPFIXcol2 prints tcpControlBits. */
export const TCP_FLAGS: readonly string[] = Array.from({ length: 64 }, (_, v) => {
  const letters = 'UAPRSF';
  let s = '"';
  for (let b = 0; b < 6; b++) s += v & (32 >> b) ? letters[b] : '.';
  return s + '"';
});

/**
 * JSON escapes of ASCII characters as libfds' fds_drec2json writes them: '"' and '\\' always;
 * \n \r \t \b \f by name; other C0 controls and DEL as \u00XX (uppercase hex).
 */
const ESC: string[] = Array.from({ length: 128 }, (_, c) => {
  if (c === 0x22) return '\\"';
  if (c === 0x5c) return '\\\\';
  if (c === 0x0a) return '\\n';
  if (c === 0x0d) return '\\r';
  if (c === 0x09) return '\\t';
  if (c === 0x08) return '\\b';
  if (c === 0x0c) return '\\f';
  if (c < 0x20 || c === 0x7f) return '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
  return String.fromCharCode(c);
});

/** Scratch space for str(): the byte writer does the work, the text is decoded from its output. */
let scratch = Buffer.allocUnsafe(4096);

/**
 * IPFIX string to a JSON string, following libfds' to_string(): see W.str (json-bytes.ts), which
 * this decodes, so both paths share one implementation. With `dropControl` (IPFIXcol2's
 * nonPrintableChar) control characters and invalid bytes are dropped instead of escaped/replaced.
 */
export function str(buf: Buffer, o: number, len: number, dropControl: boolean): string {
  let ascii = true;
  const end = o + len;
  for (let i = o; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x7f || c < 0x20 || c === 0x22 || c === 0x5c) {
      ascii = false;
      break;
    }
  }
  if (ascii) return '"' + buf.toString('latin1', o, end) + '"';
  if (scratch.length < 6 * len + 8) scratch = Buffer.allocUnsafe(6 * len + 8);
  const n = strBytes(scratch, 0, buf, o, len, dropControl);
  return scratch.toString('utf8', 0, n);
}

/**
 * Writes the JSON string of IPFIX string bytes at d[p] (room: 6 bytes per input byte + 2) and
 * returns the position after it. libfds' rules: a character is a UTF-8 sequence whose lead byte
 * announces 1-4 bytes and whose tail bytes are 10xxxxxx; '"' and '\\' are escaped; with
 * `drop` every escapable, control (C0, DEL, a stray byte 0x80-0x9F) or invalid byte is left out;
 * without it they become \n-style escapes, \u00XX, or U+FFFD. Sequences libfds would pass
 * through although they are not Unicode (overlong forms, surrogates, above U+10FFFF) count as
 * invalid here, so the output is always valid UTF-8.
 */
export function strBytes(d: Buffer, p: number, buf: Buffer, o: number, len: number, drop: boolean): number {
  const end = o + len;
  d[p++] = 34;
  let i = o;
  while (i < end) {
    const c = buf[i]!;
    if (c < 0x80) {
      i++;
      if (c >= 0x20 && c !== 0x7f && c !== 0x22 && c !== 0x5c) {
        d[p++] = c;
        continue;
      }
      if (c === 0x22 || c === 0x5c) {
        d[p++] = 92;
        d[p++] = c;
        continue;
      }
      if (drop) continue;
      const e = ESC[c]!;
      for (let k = 0; k < e.length; k++) d[p++] = e.charCodeAt(k);
      continue;
    }
    const n = utf8Len(buf, i, end);
    if (n > 0) {
      for (let k = 0; k < n; k++) d[p++] = buf[i + k]!;
      i += n;
      continue;
    }
    i++;
    if (drop) continue;
    if (c <= 0x9f) {
      // C1 range as a lone byte: libfds treats it as a control character
      d[p++] = 92;
      d[p++] = 117;
      d[p++] = 48;
      d[p++] = 48;
      d[p++] = HEXU.charCodeAt(c >> 4);
      d[p++] = HEXU.charCodeAt(c & 15);
      continue;
    }
    d[p++] = 0xef;
    d[p++] = 0xbf;
    d[p++] = 0xbd;
  }
  d[p++] = 34;
  return p;
}

const HEXU = '0123456789ABCDEF';

/** Length of the valid multi-byte UTF-8 sequence at buf[i] (lead byte >= 0x80), 0 if invalid. */
function utf8Len(buf: Buffer, i: number, end: number): number {
  const c = buf[i]!;
  const cont = (k: number) => (buf[i + k]! & 0xc0) === 0x80;
  if ((c & 0xe0) === 0xc0) {
    if (end - i < 2 || !cont(1)) return 0;
    return c >= 0xc2 ? 2 : 0; // overlong
  }
  if ((c & 0xf0) === 0xe0) {
    if (end - i < 3 || !cont(1) || !cont(2)) return 0;
    const cp = ((c & 0x0f) << 12) | ((buf[i + 1]! & 0x3f) << 6) | (buf[i + 2]! & 0x3f);
    return cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : 3;
  }
  if ((c & 0xf8) === 0xf0) {
    if (end - i < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
    const cp = ((c & 0x07) << 18) | ((buf[i + 1]! & 0x3f) << 12) | ((buf[i + 2]! & 0x3f) << 6) | (buf[i + 3]! & 0x3f);
    return cp < 0x10000 || cp > 0x10ffff ? 0 : 4;
  }
  return 0;
}

/** A JavaScript string (an already decoded value) as JSON, with the escapes of strBytes(). */
export function quote(text: string, dropControl: boolean): string {
  let s = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (dropControl && (c < 0x20 || c === 0x7f)) continue;
      s += ESC[c];
    } else s += text[i];
  }
  return s + '"';
}

/**
 * A float as C's printf("%.<P>g") prints it (libfds: FLT_DIG = 6 digits for float32, DBL_DIG =
 * 15 for float64); NaN and infinities as the strings "NaN", "Infinity", "-Infinity".
 */
export function float(v: number, digits: number): string {
  if (Number.isNaN(v)) return '"NaN"';
  if (v === Infinity) return '"Infinity"';
  if (v === -Infinity) return '"-Infinity"';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const e = v.toExponential(digits - 1);
  const k = e.indexOf('e');
  const x = Number(e.slice(k + 1));
  if (x < -4 || x >= digits) {
    const m = trimZeros(e.slice(0, k));
    const ax = Math.abs(x);
    return m + 'e' + (x < 0 ? '-' : '+') + (ax < 10 ? '0' : '') + ax;
  }
  return trimZeros(v.toFixed(digits - 1 - x));
}

function trimZeros(s: string): string {
  if (s.indexOf('.') < 0) return s;
  let n = s.length;
  while (s.charCodeAt(n - 1) === 48) n--;
  if (s.charCodeAt(n - 1) === 46) n--;
  return s.slice(0, n);
}

/** octetArray: up to 8 bytes as an unsigned number when `asUint`, else "0x…" uppercase hex (fds_octet_array2str). */
export function octets(buf: Buffer, o: number, len: number, asUint: boolean): string {
  if (len === 0) return 'null';
  if (asUint && len <= 8) return uint(buf, o, len);
  let s = '"0x';
  for (let i = 0; i < len; i++) s += HEX[buf[o + i]!];
  return s + '"';
}
