/**
 * The sampling rate in force: the one place that decides by how much a record's counters must be
 * multiplied to estimate the traffic it stands for (1 in N sampling: N).
 *
 * Sources, first that says something wins:
 * 1. `override`  configuration per exporter prefix: exporters lie;
 * 2. `record`    the record carries its rate: sFlow's sampling rate (samplingInterval 34 on every
 *                sFlow flow record), or a data template with samplingInterval 34 /
 *                samplerRandomInterval 50 / samplingPacketInterval 305 (+ 306);
 * 3. `header`    the NetFlow v5 header's sampling interval;
 * 4. `sampler`   options data of the record's (session, domain) for the sampler id the record names
 *                (flowSamplerId / samplerId 48, selectorId 302);
 * 5. `domain`    the rate the domain's options data announced last, for any record;
 * 6. `default`   configuration per exporter prefix, for exporters that never say;
 * 7. `unknown`   nothing said anything: 1, and the record is counted as rate unknown.
 * A value of 0 says nothing (v5 headers and H3C data records send 0 for "not configured").
 * Records that are complete by nature (AWS VPC and text/syslog lines, sFlow discard events) are
 * `unsampled` (1) unless an override says otherwise; options records and sFlow counter records are
 * not traffic and get no rate (`none`).
 *
 * Compiled per template: `planFor(template)` once (cached), then `rates(batch)` per batch returns
 * one rate for every record (the common case: no field of the template names a rate or a sampler)
 * or a rate per record.
 */
import type { BatchRates, RateSource } from '../model/rates.js';
import { SluiceError } from '../util/errors.js';
import type { FlowBatch, MessageContext } from '../wire/batch.js';
import { NETFLOW_PEN } from '../wire/ie/types.js';
import { packetIntervalRate } from '../wire/options.js';
import { parseIp } from '../wire/packet/addr.js';
import { VARLEN, type Template } from '../wire/template.js';
import { fieldSlices, readUnsigned } from '../wire/values.js';


/** A rate for the exporters whose address falls in `prefix` ("192.0.2.0/24", "2001:db8::/32", or one address). */
export interface PrefixRate {
  readonly prefix: string;
  /** 1 in `rate` packets sampled; at least 1. */
  readonly rate: number;
}

export interface SamplingConfig {
  /** Win over anything the exporter says. The longest matching prefix applies. */
  readonly overrides?: readonly PrefixRate[];
  /** Apply when the exporter says nothing. The longest matching prefix applies; "::/0" covers all. */
  readonly defaults?: readonly PrefixRate[];
}

/** A configuration entry that cannot be used; `path` names it ("overrides[2].prefix"). */
export class SamplingConfigError extends SluiceError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super('config', `${path}: ${message}`);
  }
}

/** What a template lets the tracker read, decided once per template. */
export interface SamplingPlan {
  /**
   * 'none': not traffic (options, sFlow counters); 'unsampled': complete by nature;
   * 'message': one rate per batch from the message and domain; 'record': a field of the
   * template names the rate or the sampler, read per record.
   */
  readonly kind: 'none' | 'unsampled' | 'message' | 'record';
  /** Field index of samplingInterval 34 / samplerRandomInterval 50 / samplingPacketInterval 305, or -1. */
  readonly rateField: number;
  /** Field index of samplingPacketSpace 306 (with 305), or -1. */
  readonly spaceField: number;
  /** Field index of samplerId 48 / selectorId 302, or -1. */
  readonly samplerField: number;
  /** Byte offsets of those fields in every record, or -1 where a variable-length field precedes. */
  readonly rateOffset: number;
  readonly spaceOffset: number;
  readonly samplerOffset: number;
}

const NONE: BatchRates = { rate: 1, source: 'none' };

interface PrefixRule {
  /** 16 bytes; IPv4 as IPv4-mapped IPv6. */
  readonly bytes: Buffer;
  /** Prefix length in the 128-bit space. */
  readonly bits: number;
  readonly rate: number;
}

/** Address bytes in one 128-bit space: IPv4 as ::ffff:a.b.c.d. */
function address16(text: string): Buffer | undefined {
  const b = parseIp(text);
  if (b === undefined) return undefined;
  if (b.length === 16) return b;
  const out = Buffer.alloc(16);
  out[10] = 0xff;
  out[11] = 0xff;
  b.copy(out, 12);
  return out;
}

function compileRules(list: readonly PrefixRate[] | undefined, name: string): PrefixRule[] {
  const rules: PrefixRule[] = [];
  (list ?? []).forEach((e, i) => {
    const slash = e.prefix.indexOf('/');
    const addr = slash < 0 ? e.prefix : e.prefix.slice(0, slash);
    const bytes = address16(addr);
    if (bytes === undefined) throw new SamplingConfigError(`${name}[${i}].prefix`, `"${e.prefix}" is not an address or prefix`);
    const v4 = !addr.includes(':');
    const max = v4 ? 32 : 128;
    const len = slash < 0 ? max : Number(e.prefix.slice(slash + 1));
    if (!Number.isInteger(len) || len < 0 || len > max || (slash >= 0 && !/^\d+$/.test(e.prefix.slice(slash + 1)))) {
      throw new SamplingConfigError(`${name}[${i}].prefix`, `prefix length in "${e.prefix}" must be 0..${max}`);
    }
    if (!(Number.isFinite(e.rate) && e.rate >= 1)) throw new SamplingConfigError(`${name}[${i}].rate`, `rate must be a number >= 1, got ${e.rate}`);
    rules.push({ bytes, bits: v4 ? 96 + len : len, rate: e.rate });
  });
  // Longest prefix first: the first match is the one that applies.
  return rules.sort((a, b) => b.bits - a.bits);
}

function matches(rule: PrefixRule, a: Buffer): boolean {
  const whole = rule.bits >>> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== rule.bytes[i]) return false;
  const rest = rule.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & mask) === (rule.bytes[whole]! & mask);
}

/** Exporter addresses remembered with their configured rates; cleared when it grows past this. */
const MAX_CACHED_EXPORTERS = 10_000;

/** A sampler id, interval or space read from the record; -1 when the field is missing or unreadable. */
function readField(buf: Buffer, start: number, end: number, offset: number, index: number, length: number, plan: CompiledPlan): number {
  let at: number;
  let len = length;
  if (offset >= 0) {
    at = start + offset;
  } else {
    // A variable-length field precedes: find the field by walking the record once.
    const n = 2 * plan.template.fields.length;
    if (slices.length < n) slices = new Int32Array(n);
    if (!fieldSlices(plan.template, buf, start, end, slices)) return -1;
    at = slices[2 * index]!;
    len = slices[2 * index + 1]!;
  }
  if (len < 1 || len > 8 || at + len > end) return -1;
  const v = readUnsigned(buf, at, len);
  return typeof v === 'bigint' ? Number(v) : v;
}

interface CompiledPlan extends SamplingPlan {
  readonly template: Template;
  readonly rateLength: number;
  readonly spaceLength: number;
  readonly samplerLength: number;
}

/** Scratch for fieldSlices when an offset is not fixed: one per thread, not one per template. */
let slices = new Int32Array(64);

/** Is this an element sluice reads as IANA's (IPFIX, or a v9 field type mapped to IANA)? */
function iana(pen: number): boolean {
  return pen === 0 || pen === NETFLOW_PEN;
}

function compilePlan(t: Template): CompiledPlan {
  let rateField = -1;
  let spaceField = -1;
  let samplerField = -1;
  for (let k = 0; k < t.fields.length; k++) {
    const f = t.fields[k]!;
    if (!iana(f.pen)) continue;
    if ((f.id === 34 || f.id === 50 || f.id === 305) && rateField < 0) rateField = k;
    else if (f.id === 306 && spaceField < 0) spaceField = k;
    else if ((f.id === 48 || f.id === 302) && samplerField < 0) samplerField = k;
  }
  if (spaceField >= 0 && (rateField < 0 || t.fields[rateField]!.id !== 305)) spaceField = -1; // 306 means something only beside 305
  const offsetOf = (index: number): number => {
    if (index < 0) return -1;
    let off = 0;
    for (let k = 0; k < index; k++) {
      const len = t.fields[k]!.length;
      if (len === VARLEN) return -1;
      off += len;
    }
    return off;
  };
  const lengthOf = (index: number): number => (index < 0 ? 0 : t.fields[index]!.length);
  let kind: SamplingPlan['kind'];
  if (t.isOptions || t.recordType !== undefined) kind = 'none';
  else if (t.origin === 'aws' || t.origin === 'text') kind = 'unsampled';
  else if (rateField >= 0 || samplerField >= 0) kind = 'record';
  // An sFlow flow record without a rate is a discard event (sflow_drops.txt): not a sample.
  else if (t.origin === 'sflow5') kind = 'unsampled';
  else kind = 'message';
  return {
    template: t,
    kind,
    rateField,
    spaceField,
    samplerField,
    rateOffset: offsetOf(rateField),
    spaceOffset: offsetOf(spaceField),
    samplerOffset: offsetOf(samplerField),
    rateLength: lengthOf(rateField),
    spaceLength: lengthOf(spaceField),
    samplerLength: lengthOf(samplerField),
  };
}

/**
 * Decides the sampling rate of records. One per decode thread: plans are cached per template, and
 * the counters (records per rate source) are this tracker's.
 */
export class SamplingTracker {
  private readonly overrides: PrefixRule[];
  private readonly defaults: PrefixRule[];
  private readonly plans = new WeakMap<Template, CompiledPlan>();
  /** Exporter address -> [override, default] (0 = none), so prefixes are matched once per exporter. */
  private readonly byExporter = new Map<string, readonly [number, number]>();
  /** Records per source of their rate (records of 'none' plans are not counted). */
  readonly counts: Record<RateSource, number> = { override: 0, record: 0, header: 0, sampler: 0, domain: 0, default: 0, unsampled: 0, unknown: 0 };

  /** Throws SamplingConfigError on an unusable entry: configuration is checked once, at the edge. */
  constructor(config: SamplingConfig = {}) {
    this.overrides = compileRules(config.overrides, 'overrides');
    this.defaults = compileRules(config.defaults, 'defaults');
  }

  /** What the tracker reads from records of `t`; compiled once per template. */
  planFor(t: Template): SamplingPlan {
    return this.compiled(t);
  }

  /** The rates of a batch's records. Allocates only when its records differ. */
  rates(b: FlowBatch): BatchRates {
    const plan = this.compiled(b.template);
    if (plan.kind === 'none' || b.count === 0) return NONE;
    const [override, fallback] = this.configured(b.ctx.session.address);
    if (override > 0) return this.uniform(override, 'override', b.count);
    if (plan.kind === 'unsampled') return this.uniform(1, 'unsampled', b.count);
    // What the message and its domain say, for records that say nothing themselves.
    let rate: number;
    let source: RateSource;
    const ctx = b.ctx;
    const dom = ctx.domain;
    if (ctx.header !== undefined && ctx.header.samplingInterval > 0) {
      rate = ctx.header.samplingInterval;
      source = 'header';
    } else if (dom !== undefined && dom.samplingInterval > 0) {
      rate = dom.samplingInterval;
      source = 'domain';
    } else if (fallback > 0) {
      rate = fallback;
      source = 'default';
    } else {
      rate = 1;
      source = 'unknown';
    }
    if (plan.kind === 'message') return this.uniform(rate, source, b.count);
    return this.perRecord(b, plan, ctx, rate, source);
  }

  private perRecord(b: FlowBatch, plan: CompiledPlan, ctx: MessageContext, rate: number, source: RateSource): BatchRates {
    const samplers = ctx.domain?.samplers;
    const c = this.counts;
    let out: Float64Array | undefined;
    let firstRate = NaN;
    let firstSource: RateSource = source;
    for (let i = 0; i < b.count; i++) {
      const start = b.starts[i]!;
      const end = b.starts[i + 1]!;
      let r = 0;
      let s: RateSource = source;
      if (plan.rateField >= 0) {
        const v = readField(b.buf, start, end, plan.rateOffset, plan.rateField, plan.rateLength, plan);
        if (plan.spaceField >= 0) {
          r = packetIntervalRate(v, readField(b.buf, start, end, plan.spaceOffset, plan.spaceField, plan.spaceLength, plan));
        } else if (v > 0) r = v;
        if (r > 0) s = 'record';
      }
      if (!(r > 0) && plan.samplerField >= 0 && samplers !== undefined && samplers.size > 0) {
        const id = readField(b.buf, start, end, plan.samplerOffset, plan.samplerField, plan.samplerLength, plan);
        const v = id >= 0 ? samplers.get(id) : undefined;
        if (v !== undefined && v > 0) {
          r = v;
          s = 'sampler';
        }
      }
      if (!(r > 0)) r = rate;
      c[s]++;
      if (i === 0) {
        firstRate = r;
        firstSource = s;
      } else if (out === undefined && (r !== firstRate || s !== firstSource)) {
        out = new Float64Array(b.count).fill(firstRate, 0, i);
      }
      if (out !== undefined) out[i] = r;
    }
    if (out === undefined) return { rate: firstRate, source: firstSource };
    return { rate: NaN, source: 'mixed', perRecord: out };
  }

  private uniform(rate: number, source: RateSource, count: number): BatchRates {
    this.counts[source] += count;
    return { rate, source };
  }

  private compiled(t: Template): CompiledPlan {
    let p = this.plans.get(t);
    if (p === undefined) {
      p = compilePlan(t);
      this.plans.set(t, p);
    }
    return p;
  }

  /** [override, default] rates for an exporter address; 0 where no prefix matches. */
  private configured(address: string): readonly [number, number] {
    if (this.overrides.length === 0 && this.defaults.length === 0) return NO_RULES;
    let hit = this.byExporter.get(address);
    if (hit === undefined) {
      const a = address16(address);
      const find = (rules: PrefixRule[]): number => (a === undefined ? 0 : (rules.find((r) => matches(r, a))?.rate ?? 0));
      hit = [find(this.overrides), find(this.defaults)];
      if (this.byExporter.size >= MAX_CACHED_EXPORTERS) this.byExporter.clear();
      this.byExporter.set(address, hit);
    }
    return hit;
  }
}

const NO_RULES: readonly [number, number] = [0, 0];
