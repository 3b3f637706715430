/**
 * A record layout of the byte formatter as data: which bytes and which field writers, in order.
 * One layout serves every template of the same shape (signature) under one view. It is run two
 * ways that write the same bytes: interpreted (runLayout), which costs nothing per layout beyond
 * this small description, and as generated code (compileLayout), tens of kilobytes per layout but
 * several times faster. The formatter interprets a layout until it has formatted enough records
 * to be worth compiling (ipfixcol2-json.ts, LayoutCache), so a template that sees little data
 * never costs generated code.
 */
import { rateAt, scaleCount, type BatchRates } from '../model/rates.js';
import { readUnsigned } from '../wire/values.js';
import type { FlowBatch, MessageContext } from '../wire/batch.js';
import type { ByteOutput } from './byte-output.js';
import * as W from './json-bytes.js';
import * as J from './json-values.js';

/** Field writers (the value kinds of ipfixcol2-json.ts valueKind()). */
export const enum Op {
  Octets = 0,
  List,
  Proto,
  TcpFlags,
  Uint,
  Sint,
  Float,
  Bool,
  Mac,
  Ip,
  Str,
  DateSec,
  DateMs,
  NtpMicro,
  NtpNano,
  /** Derived flowStart/EndMilliseconds: its key and value only when the time is known. */
  TimeStart,
  TimeEnd,
  /** NetFlow v5/v7 header facts (sampling, engine): when the message has a header. */
  Header,
  /** detailedInfo: message header facts and the template id. */
  Detailed,
  /** scaledCounters: a counter field times the record's sampling rate; key and value only with rates. */
  Scaled,
  /** scaledCounters: the record's sampling rate; key and value only with rates. */
  Rate,
}

/** Ints per op in ByteLayout.ops. */
export const STRIDE = 7;
/** Offsets inside an op. */
const CODE = 0;
/** Field index (value ops). */
const FIELD = 1;
/** Constant offset of the field in fixed-length records, else -1. */
const OFF = 2;
/** Fixed field length, or -1 for a variable-length field. */
const LEN = 3;
/** The literal bytes written before the op, always: [LIT, LIT_END) of `lits`. */
const LIT = 4;
const LIT_END = 5;
/** Time, Scaled and Rate ops: end of their key, which starts at LIT_END (written only with the value). */
const KEY_END = 6;

export interface ByteLayout {
  /** Fixed-length records: field offsets are constants. */
  readonly fixed: boolean;
  /** Every field's length in template order (-1: variable), to find the fields of variable-length records. */
  readonly fieldLens: Int32Array;
  /** STRIDE ints per op. */
  readonly ops: Int32Array;
  /** Every literal byte of the layout; ops and the tail point into it. */
  readonly lits: Uint8Array;
  /** The closing literal, [tail, lits.length). */
  readonly tail: number;
  /** Upper bound of the output bytes of a record, apart from 6 bytes per record byte. */
  readonly bound: number;
  /** False when some op writes text of unknown size (lists, detailedInfo): room is made record by record. */
  readonly sized: boolean;
  /** The view lists are shown in (passed back to ByteEnv.list). */
  readonly view: number;
}

/** Collects a layout op by op; literal text accumulates until the next op takes it. */
export class LayoutBuilder {
  private readonly ops: number[] = [];
  private readonly lits: number[] = [];
  private litStart = 0;
  private bound = 16;
  private sized = true;

  constructor(
    private readonly fixed: boolean,
    private readonly fieldLens: ArrayLike<number>,
    private readonly view: number,
  ) {}

  /** Literal text, written as UTF-8 before whatever comes next. */
  lit(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    this.bound += bytes.length;
    for (const v of bytes) this.lits.push(v);
  }

  /** A value op: field k (at constant offset `off` or -1) of length `len` (-1: variable). */
  value(code: Op, k: number, off: number, len: number, maxBytes: number): void {
    this.push(code, k, off, len, 0, maxBytes);
    if (code === Op.List) this.sized = false;
  }

  /** A derived time: `key` is written with the value only when the time is known. */
  time(code: Op.TimeStart | Op.TimeEnd, key: string): void {
    this.keyed(code, -1, -1, -1, key);
  }

  /** A counter field k scaled by the record's rate (`key`: written with the value, only when rates are known). */
  scaled(k: number, off: number, len: number, key: string): void {
    this.keyed(Op.Scaled, k, off, len, key);
  }

  /** The record's sampling rate, under `key`, only when rates are known. */
  rate(key: string): void {
    this.keyed(Op.Rate, -1, -1, -1, key);
  }

  private keyed(code: Op, k: number, off: number, len: number, key: string): void {
    const at = this.lits.length;
    const bytes = Buffer.from(key, 'utf8');
    for (const v of bytes) this.lits.push(v);
    // The key counts towards the bound like any literal; 32 bytes for the value (a u64 times a
    // u32 rate has at most 30 digits).
    this.bound += bytes.length;
    this.push(code, k, off, len, this.lits.length - at, 32, at);
  }

  header(keyBytes: number): void {
    this.bound += keyBytes;
    this.push(Op.Header, -1, -1, -1, 0, 4 * 32);
  }

  detailed(): void {
    this.sized = false;
    this.push(Op.Detailed, -1, -1, -1, 0, 0);
  }

  private push(code: Op, k: number, off: number, len: number, keyLen: number, maxBytes: number, keyAt = this.lits.length): void {
    // The op's own key bytes (time ops) were appended last; the literal before it ends where they begin.
    const litEnd = keyAt;
    this.ops.push(code, k, off, len, this.litStart, litEnd, litEnd + keyLen);
    this.litStart = this.lits.length;
    this.bound += maxBytes;
  }

  finish(closing: string): ByteLayout {
    const tail = this.litStart;
    this.lit(closing);
    // One buffer for the three arrays: a fleet of distinct templates keeps thousands of layouts,
    // and each buffer of its own costs an allocation and two objects besides its bytes.
    const nOps = this.ops.length;
    const nLens = this.fieldLens.length;
    const buf = new ArrayBuffer(4 * (nOps + nLens) + this.lits.length);
    const ops = new Int32Array(buf, 0, nOps);
    ops.set(this.ops);
    const fieldLens = new Int32Array(buf, 4 * nOps, nLens);
    fieldLens.set(this.fieldLens);
    const lits = new Uint8Array(buf, 4 * (nOps + nLens), this.lits.length);
    lits.set(this.lits);
    return {
      fixed: this.fixed,
      fieldLens,
      ops,
      lits,
      tail,
      bound: this.bound,
      sized: this.sized,
      view: this.view,
    };
  }
}

/** What the writers need from the formatter: its options and its non-inlined helpers. */
export interface ByteEnv {
  readonly unix: boolean;
  readonly octetsAsUint: boolean;
  readonly nonPrintable: boolean;
  readonly protoTable: W.TokenTable;
  /** Most bytes a protocol token takes (W.token stores at least 12). */
  readonly protoMax: number;
  /** The four v5/v7 header keys with their punctuation, e.g. `,"iana:samplingInterval":`. */
  readonly headerKeys: readonly Uint8Array[];
  list(b: FlowBatch, i: number, k: number, view: number): string;
  detailed(ctx: MessageContext, templateId: number): string;
}

/** Most bytes each value op writes beyond 6 per byte of the field's value. */
export function maxBytes(code: Op, len: number, env: ByteEnv): number {
  switch (code) {
    case Op.Octets:
      return 24;
    case Op.List:
      return 0;
    case Op.Proto:
      return len === 1 || len < 0 ? env.protoMax : 4;
    case Op.TcpFlags:
      return len < 0 || len === 1 || len === 2 ? 8 : 4;
    case Op.Uint:
      if (len === 1) return 4;
      if (len === 2) return 5;
      if (len === 4) return 10;
      if (len >= 0 && (len < 1 || len > 8)) return 4;
      return 20;
    case Op.Sint:
      return 21;
    case Op.Float:
      return 26;
    case Op.Bool:
      return 5;
    case Op.Mac:
      return 19;
    case Op.Ip:
      if (len === 4) return 17;
      if (len >= 0 && len !== 16) return 4;
      return 41;
    case Op.Str:
      return 2;
    default:
      return 32;
  }
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');

/** Writes a string of unknown size at p, growing the buffer as needed; returns the new end. */
export function writeStringAt(out: ByteOutput, p: number, text: string, B: number): number {
  out.len = p;
  out.ensure(text.length * 3 + B);
  return p + out.buf.write(text, p, 'utf8');
}

/** Scratch for the field positions of variable-length records: [offset, length] per field. */
let slots = new Int32Array(128);

/**
 * Formats records [from, to) of the batch by interpreting the layout: the same bytes as the
 * compiled code (test/format/byte-layout.test.ts holds the two to that).
 */
/** `R`: the sampling rates of the batch's records, for the Scaled and Rate ops (which write nothing without). */
export function runLayout(L: ByteLayout, env: ByteEnv, b: FlowBatch, from: number, to: number, out: ByteOutput, R?: BatchRates): void {
  const buf = b.buf;
  const st = b.starts;
  const ops = L.ops;
  const lits = L.lits;
  const nops = ops.length;
  if (!L.fixed && slots.length < 2 * L.fieldLens.length) slots = new Int32Array(2 * L.fieldLens.length);
  const sl = slots;
  for (let i = from; i < to; i++) {
    const s = st[i]!;
    const e = st[i + 1]!;
    const B = L.bound + 6 * (e - s);
    out.ensure(B);
    let d = out.buf;
    let dv = out.dv;
    let p = out.len;
    if (!L.fixed) {
      // As the generated code reads them: the decoder split the records, so every field fits.
      const lens = L.fieldLens;
      let q = s;
      for (let k = 0; k < lens.length; k++) {
        let l = lens[k]!;
        if (l < 0) {
          l = buf[q++]!;
          if (l === 255) {
            l = buf.readUInt16BE(q);
            q += 2;
          }
        }
        sl[2 * k] = q;
        sl[2 * k + 1] = l;
        q += l;
      }
    }
    for (let j = 0; j < nops; j += STRIDE) {
      for (let x = ops[j + LIT]!, end = ops[j + LIT_END]!; x < end; x++) d[p++] = lits[x]!;
      const code = ops[j + CODE]! as Op;
      const k = ops[j + FIELD]!;
      let at: number;
      let len: number;
      if (k < 0) {
        at = 0;
        len = 0;
      } else if (L.fixed) {
        at = s + ops[j + OFF]!;
        len = ops[j + LEN]!;
      } else {
        at = sl[2 * k]!;
        len = sl[2 * k + 1]!;
      }
      switch (code) {
        case Op.Octets:
          p = W.octets(d, p, buf, at, len, env.octetsAsUint);
          break;
        case Op.List:
          p = writeStringAt(out, p, env.list(b, i, k, L.view), B);
          d = out.buf;
          dv = out.dv;
          break;
        case Op.Proto:
          p = len === 1 ? W.token(d, dv, p, env.protoTable, buf[at]!) : W.nul(d, p);
          break;
        case Op.TcpFlags:
          p = len === 1 || len === 2 ? W.tcpFlagsd(dv, p, buf[at + len - 1]! & 63) : W.nul(d, p);
          break;
        case Op.Uint:
          p = len >= 1 && len <= 8 ? W.uintd(d, dv, p, buf, at, len) : W.nul(d, p);
          break;
        case Op.Sint:
          p = len >= 1 && len <= 8 ? W.sint(d, p, buf, at, len) : W.nul(d, p);
          break;
        case Op.Float:
          p = len === 8 ? W.float(d, p, buf.readDoubleBE(at), 15) : len === 4 ? W.float(d, p, buf.readFloatBE(at), 6) : W.nul(d, p);
          break;
        case Op.Bool:
          p = len !== 1 ? W.nul(d, p) : buf[at] === 1 ? W.bytes(d, p, TRUE) : buf[at] === 2 ? W.bytes(d, p, FALSE) : W.nul(d, p);
          break;
        case Op.Mac:
          p = len === 6 ? W.mac(d, p, buf, at) : W.nul(d, p);
          break;
        case Op.Ip:
          p = len === 4 ? W.ip4d(d, dv, p, buf, at) : len === 16 ? W.ip6(d, p, buf, at) : W.nul(d, p);
          break;
        case Op.Str:
          p = W.str(d, p, buf, at, len, env.nonPrintable);
          break;
        case Op.DateSec:
          p = len === 4 ? time(env, d, dv, p, buf.readUInt32BE(at) * 1000) : W.nul(d, p);
          break;
        case Op.DateMs:
          p = len === 8 ? time(env, d, dv, p, J.u64num(buf, at)) : W.nul(d, p);
          break;
        case Op.NtpMicro:
        case Op.NtpNano: {
          const micro = code === Op.NtpMicro;
          p = len === 8 ? time(env, d, dv, p, env.unix ? J.ntpMs(buf, at, micro) : J.ntpMsText(buf, at, micro)) : W.nul(d, p);
          break;
        }
        case Op.TimeStart:
        case Op.TimeEnd: {
          const v = code === Op.TimeStart ? b.startMs[i]! : b.endMs[i]!;
          if (v === v) {
            for (let x = ops[j + LIT_END]!, end = ops[j + KEY_END]!; x < end; x++) d[p++] = lits[x]!;
            p = time(env, d, dv, p, v);
          }
          break;
        }
        case Op.Header: {
          const h = b.ctx.header;
          if (h !== undefined) {
            const hv = [h.samplingInterval, h.samplingAlgorithm, h.engineType, h.engineId];
            for (let n = 0; n < 4; n++) {
              p = W.bytes(d, p, env.headerKeys[n]!);
              p = W.num(d, p, hv[n]!);
            }
          }
          break;
        }
        case Op.Detailed:
          p = writeStringAt(out, p, env.detailed(b.ctx, b.template.id), B);
          d = out.buf;
          dv = out.dv;
          break;
        case Op.Scaled:
        case Op.Rate:
          if (R !== undefined) {
            for (let x = ops[j + LIT_END]!, end = ops[j + KEY_END]!; x < end; x++) d[p++] = lits[x]!;
            p = code === Op.Scaled ? scaledAt(d, p, buf, at, len, rateAt(R, i)) : W.num(d, p, rateAt(R, i));
          }
          break;
      }
    }
    for (let x = L.tail; x < lits.length; x++) d[p++] = lits[x]!;
    out.len = p;
  }
}

/** An unsigned counter of 1..8 bytes times `rate`, as digits (null for any other length). */
function scaledAt(d: Buffer, p: number, buf: Buffer, at: number, len: number, rate: number): number {
  if (len < 1 || len > 8) return W.nul(d, p);
  const v = readUnsigned(buf, at, len);
  if (typeof v === 'bigint') return W.ascii(d, p, scaleCount(v, rate).toString());
  const x = scaleCount(v, rate);
  return x <= Number.MAX_SAFE_INTEGER ? W.num(d, p, x) : W.ascii(d, p, scaleCount(BigInt(v), rate).toString());
}

function time(env: ByteEnv, d: Buffer, dv: DataView, p: number, ms: number): number {
  return env.unix ? W.unixd(d, dv, p, ms) : W.isod(d, dv, p, ms);
}


/** Writes one record into out.buf at out.len and advances out.len; `B` is the room to make for it. */
export type ByteRecordFormatter = (buf: Buffer, s: number, e: number, b: FlowBatch, i: number, out: ByteOutput, B: number, R: BatchRates | undefined) => void;
/** Writes every record of a batch, as the record formatter called for each would. */
export type ByteBatchFormatter = (b: FlowBatch, out: ByteOutput, R: BatchRates | undefined) => void;

export interface CompiledLayout {
  readonly fn: ByteRecordFormatter;
  readonly batch: ByteBatchFormatter;
}

/** Literal byte runs up to this length are written as unrolled stores, longer ones by a copy. */
const UNROLL_MAX = 256;

const f64Scratch = new DataView(new ArrayBuffer(8));

/**
 * The 8 bytes at k as a little-endian float64 literal, or undefined when they are not a finite
 * number (a NaN's payload need not survive a store) or the literal does not give them back.
 */
function f64Literal(bytes: ArrayLike<number>, k: number): string | undefined {
  for (let j = 0; j < 8; j++) f64Scratch.setUint8(j, bytes[k + j]!);
  const x = f64Scratch.getFloat64(0, true);
  if (!Number.isFinite(x)) return undefined;
  const text = Object.is(x, -0) ? '-0' : String(x);
  f64Scratch.setFloat64(0, Number(text), true);
  for (let j = 0; j < 8; j++) if (f64Scratch.getUint8(j) !== bytes[k + j]) return undefined;
  return text;
}

/**
 * Statements storing `bytes` at p + 0.. through the DataView `dv`: 8 bytes per store as float64
 * (the text of a literal is a finite double), else two 32-bit words; the tail as one store that
 * overlaps the bytes before it. One bounds-checked store for eight bytes, not eight. Runs under
 * four bytes go byte by byte.
 */
function literalStores(bytes: ArrayLike<number>): string {
  const n = bytes.length;
  const at = (k: number) => `p${k ? ' + ' + k : ''}`;
  if (n < 4) return Array.from(bytes, (v, k) => `d[${at(k)}] = ${v};`).join(' ');
  const word = (k: number) => `dv.setUint32(${at(k)}, ${(bytes[k]! | (bytes[k + 1]! << 8) | (bytes[k + 2]! << 16) | (bytes[k + 3]! << 24)) >>> 0}, true);`;
  const eight = (k: number) => {
    const f = f64Literal(bytes, k);
    return f !== undefined ? `dv.setFloat64(${at(k)}, ${f}, true);` : `${word(k)} ${word(k + 4)}`;
  };
  if (n < 8) return n === 4 ? word(0) : `${word(0)} ${word(n - 4)}`;
  const parts: string[] = [];
  for (let k = 0; k + 8 <= n; k += 8) parts.push(eight(k));
  if (n % 8 !== 0) parts.push(n % 8 <= 4 ? word(n - 4) : eight(n - 8));
  return parts.join(' ');
}

/** Expression reading the big-endian unsigned integer of 1, 2 or 4 bytes at `at` (record bytes exist). */
function readExpr(at: string, len: 1 | 2 | 4): string {
  if (len === 1) return `buf[${at}]`;
  if (len === 2) return `((buf[${at}] << 8) | buf[${at} + 1])`;
  return `(buf[${at}] * 16777216 + ((buf[${at} + 1] << 16) | (buf[${at} + 2] << 8) | buf[${at} + 3]))`;
}

/** The statement writing op `code` of field k at p (`at`/`len`: expressions; `L`: the fixed length or -1). */
function valueCode(code: Op, k: number, at: string, len: string, L: number, view: number, ts: string, env: ByteEnv): string {
  const known = L >= 0;
  const nul = 'W.nul(d, p)';
  switch (code) {
    case Op.Octets:
      return `p = W.octets(d, p, buf, ${at}, ${len}, ${env.octetsAsUint});`;
    case Op.List:
      return `p = F.ws(out, p, F.list(b, i, ${k}, ${view}), B); d = out.buf; dv = out.dv;`;
    case Op.Proto:
      if (L === 1) return `p = W.token(d, dv, p, F.proto, buf[${at}]);`;
      if (known) return `p = ${nul};`;
      return `p = ${len} === 1 ? W.token(d, dv, p, F.proto, buf[${at}]) : ${nul};`;
    case Op.TcpFlags:
      if (L === 1 || L === 2) return `{ const x = 2 * (buf[${at} + ${L - 1}] & 63); dv.setUint32(p, TCPW[x], true); dv.setUint32(p + 4, TCPW[x + 1], true); p += 8; }`;
      if (known) return `p = ${nul};`;
      return `p = ${len} === 1 || ${len} === 2 ? W.tcpFlagsd(dv, p, buf[${at} + ${len} - 1] & 63) : ${nul};`;
    case Op.Uint:
      // one byte: its digits from a table, inline (one 4-byte store)
      if (L === 1) return `{ const x = buf[${at}]; dv.setUint32(p, U8W[x], true); p += U8N[x]; }`;
      if (L === 2 || L === 4) return `p = W.ud(d, dv, p, ${readExpr(at, L)});`;
      if (L === 8) return `p = W.u64d(d, dv, p, ${readExpr(at, 4)}, ${readExpr(`${at} + 4`, 4)});`;
      if (known && (L < 1 || L > 8)) return `p = ${nul};`;
      if (known) return `p = W.uintd(d, dv, p, buf, ${at}, ${L});`;
      return `p = ${len} >= 1 && ${len} <= 8 ? W.uintd(d, dv, p, buf, ${at}, ${len}) : ${nul};`;
    case Op.Sint:
      if (known && L >= 1 && L <= 8) return `p = W.sint(d, p, buf, ${at}, ${L});`;
      return `p = ${len} >= 1 && ${len} <= 8 ? W.sint(d, p, buf, ${at}, ${len}) : ${nul};`;
    case Op.Float:
      return `p = ${len} === 8 ? W.float(d, p, buf.readDoubleBE(${at}), 15) : ${len} === 4 ? W.float(d, p, buf.readFloatBE(${at}), 6) : ${nul};`;
    case Op.Bool:
      return `p = ${len} !== 1 ? ${nul} : buf[${at}] === 1 ? W.bytes(d, p, F.T) : buf[${at}] === 2 ? W.bytes(d, p, F.F) : ${nul};`;
    case Op.Mac:
      return `p = ${len} === 6 ? W.mac(d, p, buf, ${at}) : ${nul};`;
    case Op.Ip:
      if (L === 4) {
        // W.ip4d inline: calls past V8's inlining budget of the (large) generated function stay calls
        const oct = (n: number) => `x = buf[${at} + ${n}]; dv.setUint32(p, OCTW[x], true); p += OCTN[x];`;
        return `{ let x = 0; d[p++] = 34; ${oct(0)} ${oct(1)} ${oct(2)} ${oct(3)} d[p - 1] = 34; }`;
      }
      if (L === 16) return `p = W.ip6(d, p, buf, ${at});`;
      if (known) return `p = ${nul};`;
      return `p = ${len} === 4 ? W.ip4d(d, dv, p, buf, ${at}) : ${len} === 16 ? W.ip6(d, p, buf, ${at}) : ${nul};`;
    case Op.Str:
      return `p = W.str(d, p, buf, ${at}, ${len}, ${env.nonPrintable});`;
    case Op.DateSec:
      if (L === 4) return `p = ${ts}(d, dv, p, ${readExpr(at, 4)} * 1000);`;
      return `p = ${len} === 4 ? ${ts}(d, dv, p, buf.readUInt32BE(${at}) * 1000) : ${nul};`;
    case Op.DateMs:
      return `p = ${len} === 8 ? ${ts}(d, dv, p, J.u64num(buf, ${at})) : ${nul};`;
    case Op.NtpMicro:
    case Op.NtpNano:
      return `p = ${len} === 8 ? ${ts}(d, dv, p, J.${env.unix ? 'ntpMs' : 'ntpMsText'}(buf, ${at}, ${code === Op.NtpMicro})) : ${nul};`;
    default:
      throw new Error(`op ${code} is not a value op`);
  }
}

/**
 * Generates the per-record byte writer for a layout, and the same code in a loop over a batch,
 * which makes room for all records at once when their size is bounded by the layout (no call,
 * no ensure() per record).
 */
export function compileLayout(L: ByteLayout, env: ByteEnv): CompiledLayout {
  const code: string[] = [];
  const consts: Uint8Array[] = [];
  const ts = env.unix ? 'W.unixd' : 'W.isod';
  const emitLit = (from: number, to: number) => {
    const n = to - from;
    if (n === 0) return;
    const bytes = L.lits.subarray(from, to);
    if (n <= UNROLL_MAX) code.push(`${literalStores(bytes)} p += ${n};`);
    else {
      consts.push(bytes);
      code.push(`p = W.bytes(d, p, C[${consts.length - 1}]);`);
    }
  };
  const lens = L.fieldLens;
  const at: string[] = [];
  const len: string[] = [];
  if (!L.fixed) code.push('let q = s, l = 0;');
  let off = 0;
  for (let k = 0; k < lens.length; k++) {
    const fl = lens[k]!;
    if (L.fixed) {
      at.push(`(s + ${off})`);
      len.push(String(fl));
      off += fl;
    } else if (fl < 0) {
      code.push(`l = buf[q++]; if (l === 255) { l = buf.readUInt16BE(q); q += 2; } const o${k} = q, l${k} = l; q += l;`);
      at.push(`o${k}`);
      len.push(`l${k}`);
    } else {
      code.push(`const o${k} = q; q += ${fl};`);
      at.push(`o${k}`);
      len.push(String(fl));
    }
  }
  const ops = L.ops;
  for (let j = 0; j < ops.length; j += STRIDE) {
    emitLit(ops[j + LIT]!, ops[j + LIT_END]!);
    const op = ops[j + CODE]! as Op;
    const k = ops[j + FIELD]!;
    switch (op) {
      case Op.TimeStart:
      case Op.TimeEnd: {
        const arr = op === Op.TimeStart ? 'S' : 'E';
        code.push(`if (${arr}[i] === ${arr}[i]) {`);
        emitLit(ops[j + LIT_END]!, ops[j + KEY_END]!);
        code.push(`p = ${ts}(d, dv, p, ${arr}[i]); }`);
        break;
      }
      case Op.Header: {
        const hv = ['samplingInterval', 'samplingAlgorithm', 'engineType', 'engineId'];
        code.push('{ const h = b.ctx.header; if (h !== undefined) {');
        hv.forEach((name, n) => {
          const key = env.headerKeys[n]!;
          code.push(`${literalStores(key)} p += ${key.length};`);
          code.push(`p = W.num(d, p, h.${name});`);
        });
        code.push('} }');
        break;
      }
      case Op.Detailed:
        code.push('p = F.ws(out, p, F.detailed(b.ctx, b.template.id), B); d = out.buf; dv = out.dv;');
        break;
      case Op.Scaled:
      case Op.Rate: {
        code.push('if (R !== undefined) { const r = R.perRecord === undefined ? R.rate : R.perRecord[i];');
        emitLit(ops[j + LIT_END]!, ops[j + KEY_END]!);
        code.push(op === Op.Scaled ? `p = F.scaled(d, p, buf, ${at[k]!}, ${len[k]!}, r); }` : 'p = W.num(d, p, r); }');
        break;
      }
      default:
        code.push(valueCode(op, k, at[k]!, len[k]!, ops[j + LEN]!, L.view, ts, env));
    }
  }
  emitLit(L.tail, L.lits.length);
  const body = code.join('\n');
  const record =
    `function fmtBytes(buf, s, e, b, i, out, B, R) {\nout.ensure(B); let d = out.buf, dv = out.dv, p = out.len; const S = b.startMs, E = b.endMs;\n` +
    `${body}\nout.len = p;\n}`;
  const head = L.sized
    ? `out.ensure(n * ${L.bound} + 6 * (st[n] - st[0])); let d = out.buf, dv = out.dv, p = out.len;\nfor (let i = 0; i < n; i++) {\nconst s = st[i], e = st[i + 1];`
    : `let d = out.buf, dv = out.dv, p = out.len;\nfor (let i = 0; i < n; i++) {\nconst s = st[i], e = st[i + 1], B = ${L.bound} + 6 * (e - s);\nout.len = p; out.ensure(B); d = out.buf; dv = out.dv;`;
  const batch = `function fmtBytesBatch(b, out, R) {\nconst buf = b.buf, st = b.starts, n = b.count, S = b.startMs, E = b.endMs;\n${head}\n${body}\n}\nout.len = p;\n}`;
  const tables = 'const U8W = W.U8W, U8N = W.U8N, OCTW = W.OCTW, OCTN = W.OCTN, TCPW = W.TCPW;';
  const factory = new Function('W', 'J', 'C', 'F', `${tables}\nreturn [${record}, ${batch}];`) as (w: typeof W, j: typeof J, c: Uint8Array[], f: CompiledHelpers) => [ByteRecordFormatter, ByteBatchFormatter];
  const helpers: CompiledHelpers = {
    proto: env.protoTable,
    T: TRUE,
    F: FALSE,
    ws: writeStringAt,
    list: (b, i, k, view) => env.list(b, i, k, view),
    detailed: (ctx, id) => env.detailed(ctx, id),
    scaled: scaledAt,
  };
  const [fn, batchFn] = factory(BYTE_HELPERS, HELPERS, consts, helpers);
  return { fn, batch: batchFn };
}

interface CompiledHelpers {
  readonly proto: W.TokenTable;
  readonly T: Uint8Array;
  readonly F: Uint8Array;
  readonly ws: typeof writeStringAt;
  list(b: FlowBatch, i: number, k: number, view: number): string;
  detailed(ctx: MessageContext, id: number): string;
  scaled: typeof scaledAt;
}

/**
 * A plain-object copy of the helpers: a module namespace (as transpilers emit it) can turn every
 * `J.fn` in generated code into a getter call, which costs more than the helper itself.
 */
const HELPERS: typeof J = { ...J };
const BYTE_HELPERS: typeof W = { ...W };
