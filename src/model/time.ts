import type { FlowBatch } from '../wire/batch.js';
import { NETFLOW_PEN } from '../wire/ie/types.js';
import { VARLEN, type Template } from '../wire/template.js';
import { fieldSlices, readNtpMs, readUnsigned } from '../wire/values.js';

/** How a template expresses a time: the element kinds that can give an absolute start or end. */
type TimeKind = 'sec' | 'ms' | 'us' | 'ns' | 'deltaUs' | 'sysUp';

interface TimeField {
  readonly index: number;
  readonly kind: TimeKind;
  /** Constant offset inside the record for fixed-length templates, else -1. */
  readonly offset: number;
  readonly length: number;
}

/**
 * What the time module found in a template, computed once per template. `derived` is true when the
 * absolute times come from relative fields (sysUpTime, delta microseconds): outputs then add
 * flowStart/EndMilliseconds, because the wire carried no absolute time to show.
 */
export interface TimePlan {
  readonly start: TimeField | undefined;
  readonly end: TimeField | undefined;
  /** flowDurationMilliseconds (161) / Microseconds (162), to complete a missing start or end. */
  readonly duration: (TimeField & { readonly scale: number }) | undefined;
  readonly derived: boolean;
  /** True when the template has an absolute start/end element of its own (no need to add one). */
  readonly hasAbsolute: boolean;
}

// element id -> [kind, isStart]; preference order: most precise absolute first, relative last.
const START: ReadonlyArray<readonly [number, TimeKind]> = [
  [156, 'ns'],
  [154, 'us'],
  [152, 'ms'],
  [150, 'sec'],
  [158, 'deltaUs'],
  [22, 'sysUp'],
];
const END: ReadonlyArray<readonly [number, TimeKind]> = [
  [157, 'ns'],
  [155, 'us'],
  [153, 'ms'],
  [151, 'sec'],
  [159, 'deltaUs'],
  [21, 'sysUp'],
];

const plans = new Map<string, TimePlan>();

function fieldOffsets(t: Template): number[] {
  const offs: number[] = [];
  let p = 0;
  for (const f of t.fields) {
    offs.push(t.fixedLength >= 0 ? p : -1);
    p += f.length === VARLEN ? 0 : f.length;
  }
  return offs;
}

function find(t: Template, offs: number[], wanted: ReadonlyArray<readonly [number, TimeKind]>): TimeField | undefined {
  for (const [id, kind] of wanted) {
    const index = t.fields.findIndex((f) => f.id === id && (f.pen === 0 || f.pen === NETFLOW_PEN));
    if (index < 0) continue;
    const length = t.fields[index]!.length;
    const ok = kind === 'us' || kind === 'ns' ? length === 8 : length >= 1 && length <= 8;
    if (ok) return { index, kind, offset: offs[index]!, length };
  }
  return undefined;
}

export function timePlan(t: Template): TimePlan {
  let p = plans.get(t.signature);
  if (p !== undefined) return p;
  const offs = fieldOffsets(t);
  const start = find(t, offs, START);
  const end = find(t, offs, END);
  let duration: TimePlan['duration'];
  const dms = t.fields.findIndex((f) => f.id === 161 && f.pen === 0);
  const dus = t.fields.findIndex((f) => f.id === 162 && f.pen === 0);
  const okLen = (k: number) => k >= 0 && t.fields[k]!.length >= 1 && t.fields[k]!.length <= 8;
  if (okLen(dms)) duration = { index: dms, kind: 'ms', offset: offs[dms]!, length: t.fields[dms]!.length, scale: 1 };
  else if (okLen(dus)) duration = { index: dus, kind: 'us', offset: offs[dus]!, length: t.fields[dus]!.length, scale: 0.001 };
  const rel = (f: TimeField | undefined) => f !== undefined && (f.kind === 'sysUp' || f.kind === 'deltaUs');
  const abs = (f: TimeField | undefined) => f !== undefined && !rel(f);
  p = { start, end, duration, derived: rel(start) || rel(end), hasAbsolute: abs(start) || abs(end) };
  if (plans.size > 10_000) plans.clear(); // signatures from a template flood must not pile up
  plans.set(t.signature, p);
  return p;
}

/**
 * readUnsigned() as a number: the 4-, 2- and 1-byte sizes (the usual ones for times) by byte
 * arithmetic, which is what V8 does best; the others through readUnsigned. Callers pass offsets
 * inside the record, so the bytes exist.
 */
function unsignedAt(buf: Buffer, off: number, len: number): number {
  if (len === 4) return buf[off]! * 0x1000000 + ((buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!);
  if (len === 2) return (buf[off]! << 8) | buf[off + 1]!;
  if (len === 1) return buf[off]!;
  return Number(readUnsigned(buf, off, len));
}

function readTime(f: TimeField, b: FlowBatch, off: number, len: number): number {
  const buf = b.buf;
  const ctx = b.ctx;
  switch (f.kind) {
    case 'sec':
      return unsignedAt(buf, off, len) * 1000;
    case 'ms':
      return unsignedAt(buf, off, len);
    case 'us':
    case 'ns':
      return readNtpMs(buf, off, f.kind === 'us');
    case 'deltaUs':
      // RFC 7011 / IANA 158-159: microseconds before the export time of the message.
      return ctx.exportTimeMs - unsignedAt(buf, off, len) / 1000;
    case 'sysUp': {
      const v = unsignedAt(buf, off, len);
      if (ctx.sysUpTimeMs >= 0) {
        // Signed 32-bit difference: correct across the 2^32 ms uptime wrap, and for flows stamped
        // slightly after the header (clock skew), as long as |difference| < 24.8 days.
        return ctx.exportTimeMs - ((ctx.sysUpTimeMs - v) | 0);
      }
      const init = ctx.domain?.systemInitTimeMs ?? NaN;
      return init + v;
    }
  }
}

const scratch = { slices: new Int32Array(64) };

/**
 * readTime() of one field for every record of a fixed-length batch into T: a loop per field with
 * the message's constants read once (the sysUpTime case, softflowd's and most v9 exporters', has
 * its own loop).
 */
function fillFixed(f: TimeField, b: FlowBatch, T: Float64Array): void {
  const buf = b.buf;
  const st = b.starts;
  const n = b.count;
  const off = f.offset;
  const len = f.length;
  const ctx = b.ctx;
  if (f.kind === 'sysUp') {
    if (ctx.sysUpTimeMs >= 0) {
      const ex = ctx.exportTimeMs;
      const up = ctx.sysUpTimeMs;
      for (let i = 0; i < n; i++) T[i] = ex - ((up - unsignedAt(buf, st[i]! + off, len)) | 0);
    } else {
      const init = ctx.domain?.systemInitTimeMs ?? NaN;
      for (let i = 0; i < n; i++) T[i] = init + unsignedAt(buf, st[i]! + off, len);
    }
    return;
  }
  for (let i = 0; i < n; i++) T[i] = readTime(f, b, st[i]! + off, len);
}

/**
 * Fills batch.startMs / batch.endMs with absolute flow times in ms since the epoch (NaN where the
 * record carries no usable time). The one place that decides timestamps.
 */
export function deriveTimes(b: FlowBatch): TimePlan {
  const plan = timePlan(b.template);
  const { start, end, duration } = plan;
  const n = b.count;
  const S = b.startMs;
  const E = b.endMs;
  if (start === undefined && end === undefined) {
    S.fill(NaN);
    E.fill(NaN);
    return plan;
  }
  const fixed = b.template.fixedLength >= 0;
  if (fixed) {
    if (start) fillFixed(start, b, S);
    if (end) fillFixed(end, b, E);
    if (start === undefined || end === undefined) {
      // One of the two from the other and the duration, or NaN.
      const have = start === undefined ? E : S;
      const miss = start === undefined ? S : E;
      if (duration === undefined) miss.fill(NaN);
      else {
        for (let i = 0; i < n; i++) {
          const d = unsignedAt(b.buf, b.starts[i]! + duration.offset, duration.length) * duration.scale;
          miss[i] = start === undefined ? have[i]! - d : have[i]! + d;
        }
      }
    }
    return plan;
  }
  // Variable-length records: the field positions differ per record.
  let slices = scratch.slices;
  if (slices.length < b.template.fields.length * 2) slices = scratch.slices = new Int32Array(b.template.fields.length * 2);
  for (let i = 0; i < n; i++) {
    const base = b.starts[i]!;
    let s = NaN;
    let e = NaN;
    if (fieldSlices(b.template, b.buf, base, b.starts[i + 1]!, slices)) {
      if (start) s = readTime(start, b, slices[2 * start.index]!, slices[2 * start.index + 1]!);
      if (end) e = readTime(end, b, slices[2 * end.index]!, slices[2 * end.index + 1]!);
      if (duration && (start === undefined || end === undefined)) {
        const dl = slices[2 * duration.index + 1]!;
        const d = dl >= 1 && dl <= 8 ? Number(readUnsigned(b.buf, slices[2 * duration.index]!, dl)) * duration.scale : NaN;
        if (start === undefined) s = e - d;
        else e = s + d;
      }
    }
    S[i] = s;
    E[i] = e;
  }
  return plan;
}
