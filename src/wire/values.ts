import type { DataType } from './ie/types.js';
import { ipv4ToString, ipv6ToString, macToString } from './packet/addr.js';
import { VARLEN, type FieldSpec, type Template } from './template.js';
import { SluiceError } from '../util/errors.js';

/** A decoded field value. Integers above 2^53 are bigint; octet arrays stay Buffers. */
export type FieldValue = number | bigint | string | boolean | Buffer | ListValue | null;

/** RFC 6313 section 4.4 semantics. */
export const LIST_SEMANTICS = ['noneOf', 'exactlyOneOf', 'oneOrMoreOf', 'allOf', 'ordered'] as const;

export interface BasicListValue {
  readonly kind: 'basicList';
  readonly semantic: number;
  readonly field: FieldSpec;
  readonly values: FieldValue[];
}
export interface SubTemplateRecords {
  readonly templateId: number;
  /** Undefined when the sub-template is unknown: records are then not decodable. */
  readonly template: Template | undefined;
  readonly records: FieldValue[][];
}
export interface SubTemplateListValue extends SubTemplateRecords {
  readonly kind: 'subTemplateList';
  readonly semantic: number;
}
export interface SubTemplateMultiListValue {
  readonly kind: 'subTemplateMultiList';
  readonly semantic: number;
  readonly blocks: SubTemplateRecords[];
}
export type ListValue = BasicListValue | SubTemplateListValue | SubTemplateMultiListValue;

export class ListDecodeError extends SluiceError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super('list-decode', `${message} at offset ${offset}`, { offset });
  }
}

export type TemplateLookup = (templateId: number) => Template | undefined;
export type FieldResolver = (pen: number, id: number) => FieldSpec['ie'];

const TWO32 = 4294967296;

/** Unsigned big-endian integer of 1..8 bytes (reduced-size encoding, RFC 7011 6.2). */
export function readUnsigned(buf: Buffer, off: number, len: number): number | bigint {
  if (len <= 6) return len === 0 ? 0 : buf.readUIntBE(off, len);
  const hiLen = len - 4;
  const hi = buf.readUIntBE(off, hiLen);
  const lo = buf.readUInt32BE(off + hiLen);
  if (hi < 0x200000) return hi * TWO32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function readSigned(buf: Buffer, off: number, len: number): number | bigint {
  if (len <= 6) return len === 0 ? 0 : buf.readIntBE(off, len);
  if (len === 8) {
    const v = buf.readBigInt64BE(off);
    return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
  }
  // 7 bytes: sign-extend by hand
  const u = BigInt.asIntN(56, BigInt(buf.readUIntBE(off, 3)) * 2n ** 32n + BigInt(buf.readUInt32BE(off + 3)));
  return Number(u);
}

/** Seconds between 1900-01-01 (NTP era 0) and 1970-01-01. */
export const NTP_UNIX_OFFSET = 2208988800;

/**
 * dateTimeMicroseconds / dateTimeNanoseconds (RFC 7011 6.1.9/6.1.10): NTP seconds + 2^-32 fraction.
 * Returns ms since the Unix epoch as a fractional number.
 */
export function readNtpMs(buf: Buffer, off: number, micro: boolean): number {
  const sec = buf.readUInt32BE(off);
  let frac = buf.readUInt32BE(off + 4);
  if (micro) frac = (frac & ~0x7ff) >>> 0; // the 11 low bits carry no meaning for microseconds
  return (sec - NTP_UNIX_OFFSET) * 1000 + (frac / TWO32) * 1000;
}

/** Decodes one field value by its abstract type. Not used on the JSON hot path (that is compiled). */
export function decodeValue(
  type: DataType | undefined,
  buf: Buffer,
  off: number,
  len: number,
  lookup?: TemplateLookup,
  resolve?: FieldResolver,
  depth = 0,
): FieldValue {
  switch (type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
      return len >= 1 && len <= 8 ? readUnsigned(buf, off, len) : null;
    case 'signed8':
    case 'signed16':
    case 'signed32':
    case 'signed64':
      return len >= 1 && len <= 8 ? readSigned(buf, off, len) : null;
    case 'float32':
    case 'float64':
      return len === 4 ? buf.readFloatBE(off) : len === 8 ? buf.readDoubleBE(off) : null;
    case 'boolean':
      return len === 1 ? (buf[off] === 1 ? true : buf[off] === 2 ? false : null) : null;
    case 'macAddress':
      return len === 6 ? macToString(buf, off) : null;
    case 'ipv4Address':
      return len === 4 ? ipv4ToString(buf, off) : null;
    case 'ipv6Address':
      return len === 16 ? ipv6ToString(buf, off) : null;
    case 'string':
      return buf.toString('utf8', off, off + len);
    case 'dateTimeSeconds':
      return len === 4 ? buf.readUInt32BE(off) * 1000 : null;
    case 'dateTimeMilliseconds':
      return len === 8 ? Number(readUnsigned(buf, off, 8)) : null;
    case 'dateTimeMicroseconds':
    case 'dateTimeNanoseconds':
      return len === 8 ? readNtpMs(buf, off, type === 'dateTimeMicroseconds') : null;
    case 'basicList':
    case 'subTemplateList':
    case 'subTemplateMultiList':
      return decodeList(type, buf, off, len, lookup, resolve, depth);
    default:
      return Buffer.from(buf.subarray(off, off + len));
  }
}

const MAX_LIST_DEPTH = 8;

/** Reads a variable-length prefix; returns [length, headerBytes] or undefined when it runs past `end`. */
function varLen(buf: Buffer, p: number, end: number): [number, number] | undefined {
  if (p >= end) return undefined;
  const l = buf[p]!;
  if (l < 255) return [l, 1];
  if (p + 3 > end) return undefined;
  return [buf.readUInt16BE(p + 1), 3];
}

/** Decodes the records of a sub-template from buf[p, end). */
function decodeSubRecords(
  t: Template,
  buf: Buffer,
  p: number,
  end: number,
  lookup: TemplateLookup | undefined,
  resolve: FieldResolver | undefined,
  depth: number,
): FieldValue[][] {
  const out: FieldValue[][] = [];
  if (t.minLength === 0) return out;
  while (end - p >= t.minLength) {
    const rec: FieldValue[] = [];
    for (const f of t.fields) {
      let len = f.length;
      if (len === VARLEN) {
        const v = varLen(buf, p, end);
        if (v === undefined) throw new ListDecodeError('variable-length field runs past the list', p);
        len = v[0];
        p += v[1];
      }
      if (p + len > end) throw new ListDecodeError('field runs past the list', p);
      rec.push(decodeValue(f.ie?.type, buf, p, len, lookup, resolve, depth + 1));
      p += len;
    }
    out.push(rec);
  }
  return out;
}

function decodeList(
  type: 'basicList' | 'subTemplateList' | 'subTemplateMultiList',
  buf: Buffer,
  off: number,
  len: number,
  lookup: TemplateLookup | undefined,
  resolve: FieldResolver | undefined,
  depth: number,
): ListValue {
  if (depth > MAX_LIST_DEPTH) throw new ListDecodeError('lists nested too deeply', off);
  const end = off + len;
  if (len < 1) throw new ListDecodeError('empty list header', off);
  const semantic = buf[off]!;
  let p = off + 1;
  if (type === 'basicList') {
    // RFC 6313 4.5.1: semantic, field id (E bit), element length, [enterprise number], elements
    if (end - p < 4) throw new ListDecodeError('short basicList header', p);
    const rawId = buf.readUInt16BE(p);
    const elLen = buf.readUInt16BE(p + 2);
    p += 4;
    let pen = 0;
    if (rawId & 0x8000) {
      if (end - p < 4) throw new ListDecodeError('short basicList enterprise number', p);
      pen = buf.readUInt32BE(p);
      p += 4;
    }
    const id = rawId & 0x7fff;
    const field: FieldSpec = { id, pen, length: elLen, ie: resolve?.(pen, id) };
    const values: FieldValue[] = [];
    let guard = 0;
    while (p < end && guard++ < 65536) {
      let l = elLen;
      if (l === VARLEN) {
        const v = varLen(buf, p, end);
        if (v === undefined) throw new ListDecodeError('variable-length element runs past the list', p);
        l = v[0];
        p += v[1];
      }
      if (l === 0 && elLen !== VARLEN) break;
      if (p + l > end) throw new ListDecodeError('element runs past the list', p);
      values.push(decodeValue(field.ie?.type, buf, p, l, lookup, resolve, depth + 1));
      p += l;
    }
    return { kind: 'basicList', semantic, field, values };
  }
  if (type === 'subTemplateList') {
    if (end - p < 2) throw new ListDecodeError('short subTemplateList header', p);
    const templateId = buf.readUInt16BE(p);
    p += 2;
    const template = lookup?.(templateId);
    const records = template ? decodeSubRecords(template, buf, p, end, lookup, resolve, depth) : [];
    return { kind: 'subTemplateList', semantic, templateId, template, records };
  }
  const blocks: SubTemplateRecords[] = [];
  while (end - p >= 4) {
    const templateId = buf.readUInt16BE(p);
    const blen = buf.readUInt16BE(p + 2);
    if (blen < 4 || p + blen > end) throw new ListDecodeError('bad subTemplateMultiList block length', p);
    const template = lookup?.(templateId);
    const records = template ? decodeSubRecords(template, buf, p + 4, p + blen, lookup, resolve, depth) : [];
    blocks.push({ templateId, template, records });
    p += blen;
  }
  return { kind: 'subTemplateMultiList', semantic, blocks };
}

/**
 * Decodes every field of one record (interpreted; for options records, lists and tests).
 * Returns undefined when the record does not fit in [start, end).
 */
export function decodeRecord(
  t: Template,
  buf: Buffer,
  start: number,
  end: number,
  lookup?: TemplateLookup,
  resolve?: FieldResolver,
): FieldValue[] | undefined {
  const out: FieldValue[] = [];
  let p = start;
  for (const f of t.fields) {
    let len = f.length;
    if (len === VARLEN) {
      const v = varLen(buf, p, end);
      if (v === undefined) return undefined;
      len = v[0];
      p += v[1];
    }
    if (p + len > end) return undefined;
    out.push(decodeValue(f.ie?.type, buf, p, len, lookup, resolve));
    p += len;
  }
  return out;
}

/** Offsets of each field's value in a record: [valueStart, valueLength] pairs. */
export function fieldSlices(t: Template, buf: Buffer, start: number, end: number, out: Int32Array): boolean {
  let p = start;
  const fields = t.fields;
  for (let k = 0; k < fields.length; k++) {
    let len = fields[k]!.length;
    if (len === VARLEN) {
      if (p >= end) return false;
      len = buf[p]!;
      p += 1;
      if (len === 255) {
        if (p + 2 > end) return false;
        len = buf.readUInt16BE(p);
        p += 2;
      }
    }
    if (p + len > end) return false;
    out[2 * k] = p;
    out[2 * k + 1] = len;
    p += len;
  }
  return true;
}
