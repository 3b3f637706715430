/**
 * Canonical text of field values, so a golden's rendering ("0x00dca6f5", base64, "2015-10-08T19:03:46.14Z",
 * "00:1b:21:bc:24:dd", 14460661) and sluice's JSON ("0x00dca6f5", 1444331026140, ...) compare as equal
 * exactly when they mean the same wire value. Each kind has one canonical form:
 *   uint / int  decimal digits (BigInt, so 64-bit counters stay exact)
 *   float       the float32 value to 6 significant digits (sluice prints %.6g like IPFIXcol2; goldens print more)
 *   ip          32 (v4: 8) lowercase hex digits, so "::ffff:1.2.3.4" and "::ffff:102:304" agree
 *   mac / bytes lowercase hex without separators
 *   string      the text with trailing NULs removed (fixed-length exporters pad with NULs)
 *   time        integer milliseconds since the epoch (sluice prints milliseconds; finer digits are cut, not rounded)
 *   bool        "true" / "false"
 */
import type { DataType } from '../../src/wire/ie/types.js';

export type ValueKind = 'uint' | 'int' | 'float' | 'ip' | 'mac' | 'bytes' | 'string' | 'time' | 'bool';

export function kindOfType(t: DataType | undefined): ValueKind {
  switch (t) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
    case 'unsigned256':
      return 'uint';
    case 'signed8':
    case 'signed16':
    case 'signed32':
    case 'signed64':
      return 'int';
    case 'float32':
    case 'float64':
      return 'float';
    case 'ipv4Address':
    case 'ipv6Address':
      return 'ip';
    case 'macAddress':
      return 'mac';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'dateTimeSeconds':
    case 'dateTimeMilliseconds':
    case 'dateTimeMicroseconds':
    case 'dateTimeNanoseconds':
      return 'time';
    default:
      return 'bytes';
  }
}

/** How a golden writes octet arrays that are not plain hex. */
export type BytesEncoding = 'hex' | 'base64' | 'colon-hex';

export interface GoldenDialect {
  readonly bytes: BytesEncoding;
  /** Unit of a golden's bare number for a dateTime element: 'element' = the element's own unit. */
  readonly timeNumbers: 'element' | 'ms';
}

const HEX_RE = /^(?:0x)?([0-9a-fA-F]*)$/;

/** Hex digits of an octet array written as "0x00ff", "00ff", "00:ff" or base64. */
export function bytesHex(text: string, enc: BytesEncoding): string | undefined {
  if (enc === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
    return Buffer.from(text, 'base64').toString('hex');
  }
  const t = enc === 'colon-hex' ? text.replace(/:/g, '') : text;
  const m = HEX_RE.exec(t);
  if (m === null || m[1]!.length % 2 !== 0) return undefined;
  return m[1]!.toLowerCase();
}

function bigintOf(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : undefined;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^-?\d+$/.test(s)) return BigInt(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return BigInt(s);
  return undefined;
}

/** 16 bytes (IPv6) or 4 bytes (IPv4) of an address in any textual form, as hex; undefined if it is none. */
export function ipHex(text: string): string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4 !== null) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return parts.map((p) => p.toString(16).padStart(2, '0')).join('');
  }
  if (!text.includes(':')) return undefined;
  let s = text.toLowerCase();
  // An embedded dotted quad ("::ffff:1.2.3.4") becomes two 16-bit groups.
  const tail = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(s);
  if (tail !== null) {
    const h = ipHex(tail[1]!);
    if (h === undefined) return undefined;
    s = s.slice(0, s.length - tail[1]!.length) + `${h.slice(0, 4)}:${h.slice(4)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (x: string) => (x === '' ? [] : x.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return undefined;
  const all = [...head, ...Array<string>(fill).fill('0'), ...rest];
  if (all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => g.padStart(4, '0')).join('');
}

/**
 * Milliseconds since the epoch of an RFC 3339 / ISO 8601 instant with any number of fractional digits and any
 * offset. Date.parse is not used: it does not promise to accept more than three fractional digits.
 */
export function instantMs(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$/.exec(text.trim());
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number(y) < 100) ms = new Date(ms).setUTCFullYear(Number(y)); // Date.UTC maps years 0-99 to 1900-1999
  ms += Math.floor(Number(((frac ?? '') + '000').slice(0, 3)));
  if (zone !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone!)!;
    const off = (Number(z[2]) * 60 + Number(z[3])) * 60_000;
    ms -= z[1] === '+' ? off : -off;
  }
  return ms;
}

/** Milliseconds per unit of a dateTime element's integer encoding. */
function timeUnitMs(t: DataType | undefined): number {
  return t === 'dateTimeSeconds' ? 1000 : 1;
}

/** Six significant digits: sluice prints floats as IPFIXcol2 does (printf %.6g for float32, %.15g for float64). */
function floatCanon(n: number): string {
  return String(Number(Math.fround(n).toPrecision(6)));
}

/** Canonical form of a value sluice printed, or undefined when sluice's value does not have that kind. */
export function canonSluice(kind: ValueKind, v: unknown): string | undefined {
  switch (kind) {
    case 'uint':
    case 'int': {
      const b = bigintOf(v);
      return b === undefined ? undefined : b.toString();
    }
    case 'float':
      return typeof v === 'number' ? floatCanon(v) : undefined;
    case 'ip':
      return typeof v === 'string' ? ipHex(v) : undefined;
    case 'mac':
      return typeof v === 'string' ? bytesHex(v, 'colon-hex') : undefined;
    // sluice (like IPFIXcol2) prints a zero-length octet array as null; it is the empty value.
    case 'bytes':
      return typeof v === 'string' ? bytesHex(v, 'hex') : v === null ? '' : undefined;
    case 'string':
      return typeof v === 'string' ? v.replace(/\0+$/, '') : undefined;
    case 'time':
      return typeof v === 'number' ? String(Math.floor(v)) : undefined;
    case 'bool':
      return typeof v === 'boolean' ? String(v) : undefined;
  }
}

/**
 * Canonical form of a golden's value for an element of `type` (when known) read as `kind`. Numbers
 * compared with octet arrays are read as big-endian unsigned integers by the caller (see compare.ts).
 */
export function canonGolden(kind: ValueKind, raw: unknown, dialect: GoldenDialect, type?: DataType): string | undefined {
  switch (kind) {
    case 'uint':
    case 'int': {
      const b = bigintOf(raw);
      if (b !== undefined) return b.toString();
      // A golden that had no type for the element shows its bytes (flowbeat: base64); read them as a number.
      if (typeof raw === 'string' && dialect.bytes === 'base64') {
        const hex = bytesHex(raw, 'base64');
        if (hex !== undefined && hex !== '') return BigInt('0x' + hex).toString();
      }
      return undefined;
    }
    case 'float': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      return Number.isFinite(n) ? floatCanon(n) : undefined;
    }
    case 'ip':
      return typeof raw === 'string' ? ipHex(raw) : undefined;
    case 'mac':
      return typeof raw === 'string' ? bytesHex(raw.replace(/-/g, ':'), 'colon-hex') : undefined;
    case 'bytes':
      return typeof raw === 'string' ? bytesHex(raw, dialect.bytes) : undefined;
    case 'string':
      return typeof raw === 'string' ? raw.replace(/\0+$/, '') : undefined;
    case 'time': {
      if (typeof raw === 'string') {
        const ms = instantMs(raw);
        if (ms !== undefined) return String(ms);
      }
      const b = bigintOf(raw);
      if (b === undefined) return undefined;
      // A golden that reads an NTP-format element (RFC 7011 6.1.9/6.1.10) as a plain 64-bit integer: read
      // the same 64 bits as the NTP time sluice shows.
      if ((type === 'dateTimeMicroseconds' || type === 'dateTimeNanoseconds') && dialect.timeNumbers === 'element') {
        const sec = Number(b >> 32n);
        let frac = Number(b & 0xffffffffn);
        if (type === 'dateTimeMicroseconds') frac -= frac % 2048; // the low 11 bits carry no meaning
        return String(Math.floor((sec - 2208988800) * 1000 + (frac / 4294967296) * 1000));
      }
      const unit = dialect.timeNumbers === 'ms' ? 1 : timeUnitMs(type);
      return String(Number(b) * unit);
    }
    case 'bool':
      return typeof raw === 'boolean' ? String(raw) : raw === 1 ? 'true' : raw === 2 || raw === 0 ? 'false' : undefined;
  }
}

/** A value as a short display string for reports. */
export function show(v: unknown): string {
  if (v === undefined) return '(absent)';
  const s = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? v.toString() : JSON.stringify(v) ?? String(v);
  return s.length > 120 ? s.slice(0, 117) + '...' : s;
}
