/**
 * Per-exporter accounting: what each exporter sent, what sluice could not use, what never
 * arrived, and whether its records carry what a consumer needs. Runs beside the decoder (one per
 * decode worker), fed batches, drops and sequence events; take() hands over what changed since the
 * last take as plain data, which the collect engine merges across workers into metrics, the API's
 * exporters view and the stop summary.
 *
 * Cheap by construction: per batch a few map lookups; per record only the checks that depend on
 * the record (protocol, times), on typed arrays, without allocation.
 */
import { flowPlan, type FlowPlan } from '../model/flow-plan.js';
import { timePlan } from '../model/time.js';
import type { DropReasonOf } from '../util/drop-reasons.js';
import type { FlowBatch, FlowProtocol } from '../wire/batch.js';
import { ipv4ToString, ipv6ToString } from '../wire/packet/addr.js';
import type { DropEvent, SequenceEvent } from '../wire/stats.js';
import type { TemplateStore } from '../wire/template-store.js';
import type { BatchRates } from '../model/rates.js';
import { sequenceKeys, SequenceTracker, type SequenceCounts, type SequenceProtocol } from './sequence.js';

/** The Skylight-style checks of a record's content, counted per exporter. */
export const HEALTH_CHECKS = [
  'missing-times',
  'missing-interfaces',
  'missing-protocol',
  'missing-tos',
  'missing-addresses',
  'missing-bytes',
  'missing-packets',
  'ports-missing',
  'icmp-type-missing',
  'longer-than-active-timeout',
  'exported-late',
] as const;
export type HealthCheck = (typeof HEALTH_CHECKS)[number];

/** Upper bounds (seconds) of the export-delay histogram: receive time minus flow end. */
export const DELAY_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;

/** Sequence units per protocol: what a lost count counts. */
export const SEQUENCE_UNIT: Record<SequenceProtocol, 'records' | 'packets' | 'datagrams' | 'samples'> = {
  ipfix: 'records',
  netflow9: 'packets',
  netflow5: 'records',
  netflow7: 'records',
  sflow5: 'datagrams',
  'sflow5-sample': 'samples',
};

export type RecordKind = 'flow' | 'options' | 'counters';

/** What changed for one exporter since the last take(); counters are deltas, gauges current values. */
export interface ExporterDelta {
  readonly exporter: string;
  /** Datagrams by protocol (counted by the sender's address); `unknown` when the version word is none sluice decodes. */
  readonly datagrams: Partial<Record<FlowProtocol | 'unknown', number>>;
  /** [domain, kind, records]. */
  readonly records: Array<[number, RecordKind, number]>;
  readonly drops: Partial<Record<DropReasonOf<'decode' | 'input'>, number>>;
  /** [domain, unit, lost, resets, reordered, duplicates, received]. */
  readonly sequence: Array<[number, string, number, number, number, number, number]>;
  /** [domain, sampler, rate]: gauges. */
  readonly sampling: Array<[number, string, number]>;
  /** Records whose sampling rate nothing stated (taken as 1). */
  readonly rateUnknown: number;
  /** [domain, templates]: gauges (sent with every take that read the template store). */
  readonly templates: Array<[number, number]>;
  readonly health: Partial<Record<HealthCheck, number>>;
  /** Export delay histogram deltas: counts per DELAY_BUCKETS bound plus +Inf, and the sum in seconds. */
  readonly delay: { readonly buckets: number[]; readonly sum: number; readonly count: number };
  /** Mean export time minus receive time over this period, seconds; NaN when nothing said. */
  readonly clockSkew: number;
  readonly lastSeenMs: number;
}

/** What one (exporter, domain) did since the last take: numbers only, no string keys on the hot path. */
interface DomainAcc {
  readonly domain: number;
  flow: number;
  options: number;
  counters: number;
  /** Rate per source index (RATE_SOURCES), 0 when not seen. */
  readonly rates: Float64Array;
  /** Counts per HEALTH_CHECKS index. */
  readonly health: Float64Array;
}

interface Acc {
  datagrams: Partial<Record<FlowProtocol | 'unknown', number>>;
  readonly domains: Map<number, DomainAcc>;
  drops: Partial<Record<DropReasonOf<'decode' | 'input'>, number>>;
  rateUnknown: number;
  readonly delayBuckets: Float64Array;
  delaySum: number;
  delayCount: number;
  skewSum: number;
  skewCount: number;
  lastSeenMs: number;
}

/** Rate sources kept as sampler labels, by index. */
const RATE_SOURCES = ['override', 'record', 'header', 'sampler', 'domain', 'default'] as const;
const RATE_INDEX = new Map<string, number>(RATE_SOURCES.map((s, i) => [s, i]));
const HEALTH_INDEX = new Map<HealthCheck, number>(HEALTH_CHECKS.map((c, i) => [c, i]));
const H_PORTS = HEALTH_CHECKS.indexOf('ports-missing');
const H_ICMP = HEALTH_CHECKS.indexOf('icmp-type-missing');
const H_LONG = HEALTH_CHECKS.indexOf('longer-than-active-timeout');
const H_LATE = HEALTH_CHECKS.indexOf('exported-late');

export interface ExporterOptions {
  /** Flows longer than this are counted (ms). Default 30 min. */
  readonly activeTimeoutMs?: number;
  /** Exports later than this after the flow ended are counted (ms). Default 60 s. */
  readonly lateExportMs?: number;
}

const PROTOCOL_OF: Record<number, FlowProtocol> = { 5: 'netflow5', 7: 'netflow7', 9: 'netflow9', 10: 'ipfix' };

/** The checks a template fails for every record, decided once per layout. */
interface TemplateHealth {
  /** HEALTH_CHECKS indexes every record of the template fails. */
  readonly missing: readonly number[];
  readonly plan: FlowPlan;
  readonly hasPorts: boolean;
  readonly hasIcmp: boolean;
}

const healthByPlan = new WeakMap<FlowPlan, TemplateHealth>();

function templateHealth(b: FlowBatch): TemplateHealth {
  const plan = flowPlan(b.template);
  let h = healthByPlan.get(plan);
  if (h !== undefined) return h;
  const tp = timePlan(b.template);
  const missing: HealthCheck[] = [];
  if (tp.start === undefined || tp.end === undefined) missing.push('missing-times');
  if (plan.inIf === undefined || plan.outIf === undefined) missing.push('missing-interfaces');
  if (plan.proto === undefined) missing.push('missing-protocol');
  if (plan.tos === undefined) missing.push('missing-tos');
  if ((plan.src4 === undefined && plan.src6 === undefined) || (plan.dst4 === undefined && plan.dst6 === undefined)) missing.push('missing-addresses');
  if (plan.bytes === undefined) missing.push('missing-bytes');
  if (plan.packets === undefined) missing.push('missing-packets');
  h = {
    missing: missing.map((m) => HEALTH_INDEX.get(m)!),
    plan,
    hasPorts: plan.srcPort !== undefined && plan.dstPort !== undefined,
    // v5 and many exporters carry ICMP type * 256 + code in the destination port.
    hasIcmp: plan.icmpTypeCode !== undefined || plan.icmpType !== undefined || plan.dstPort !== undefined,
  };
  healthByPlan.set(plan, h);
  return h;
}

/** Bounded: exporters beyond this are not tracked apart (their counts go to `other`). */
const MAX_EXPORTERS = 10_000;

export class ExporterAccount {
  readonly #acc = new Map<string, Acc>();
  readonly #sequence = new SequenceTracker();
  /** Sequence counts at the last take, per stream key, to hand over deltas. */
  readonly #sentSeq = new Map<string, { lost: number; resets: number; reordered: number; duplicates: number; received: number }>();
  /** Stream key -> [exporter, domain, unit]. */
  readonly #seqKeys = new Map<string, [string, number, string]>();
  readonly #activeMs: number;
  readonly #lateMs: number;
  /** The agent text of the last sFlow batch's datagram, formatted once per datagram. */
  #agentBuf: Buffer | undefined;
  #agentOff = -1;
  #agentText = '';
  /** The last (exporter, domain) a batch went to: consecutive batches mostly share it. */
  #lastExporter = '';
  #lastDomain = -1;
  #lastAcc: Acc | undefined;
  #lastDom: DomainAcc | undefined;
  /** The last message's stream: consecutive messages mostly share it. */
  #lastSession: object | undefined;
  #lastSeqDomain = -1;
  #lastSeqKey = '';
  /** sFlow data source keys per agent and sub-agent (see #sourceKey), and the last agent's. */
  readonly #srcKeys = new Map<string, Map<number, string>>();
  #srcAgent = '';
  #srcSubAgent = -1;
  #srcLast: Map<number, string> | undefined;

  constructor(o: ExporterOptions = {}) {
    this.#activeMs = o.activeTimeoutMs ?? 30 * 60_000;
    this.#lateMs = o.lateExportMs ?? 60_000;
  }

  #get(exporter: string): Acc {
    let a = this.#acc.get(exporter);
    if (a === undefined) {
      if (this.#acc.size >= MAX_EXPORTERS && exporter !== 'other') return this.#get('other');
      a = { datagrams: {}, domains: new Map(), drops: {}, rateUnknown: 0, delayBuckets: new Float64Array(DELAY_BUCKETS.length + 1), delaySum: 0, delayCount: 0, skewSum: 0, skewCount: 0, lastSeenMs: 0 };
      this.#acc.set(exporter, a);
    }
    return a;
  }

  #domain(exporter: string, domain: number): DomainAcc {
    if (this.#lastDom !== undefined && exporter === this.#lastExporter && domain === this.#lastDomain) return this.#lastDom;
    const a = this.#get(exporter);
    let d = a.domains.get(domain);
    if (d === undefined) {
      d = { domain, flow: 0, options: 0, counters: 0, rates: new Float64Array(RATE_SOURCES.length), health: new Float64Array(HEALTH_CHECKS.length) };
      if (a.domains.size < 4096) a.domains.set(domain, d);
    }
    this.#lastExporter = exporter;
    this.#lastDomain = domain;
    this.#lastAcc = a;
    this.#lastDom = d;
    return d;
  }

  /** A datagram arrived from `address` (counted by the sender: the protocol from its version word). */
  datagram(buf: Buffer, address: string, nowMs: number): void {
    let p: FlowProtocol | 'unknown' = 'unknown';
    if (buf.length >= 4) p = (buf[0] === 0 && buf[1] === 0 ? (buf.readUInt32BE(0) === 5 ? 'sflow5' : undefined) : PROTOCOL_OF[buf.readUInt16BE(0)]) ?? 'unknown';
    const a = address === this.#lastExporter && this.#lastAcc !== undefined ? this.#lastAcc : this.#get(address);
    a.datagrams[p] = (a.datagrams[p] ?? 0) + 1;
    a.lastSeenMs = nowMs;
  }

  drop(ev: DropEvent): void {
    const a = this.#get(ev.agent ?? ev.session.address);
    a.drops[ev.reason] = (a.drops[ev.reason] ?? 0) + ev.count;
  }

  message(ev: SequenceEvent): void {
    const exporter = ev.agent ?? ev.session.address;
    let key: string;
    if (ev.protocol === 'sflow5-sample') key = this.#sourceKey(exporter, ev.domainId, ev.source!);
    else if (ev.protocol === 'sflow5') key = sequenceKeys.agent(exporter, ev.domainId);
    else if (ev.session === this.#lastSession && ev.domainId === this.#lastSeqDomain) key = this.#lastSeqKey;
    else {
      key = sequenceKeys.domain(ev.session.key, ev.domainId);
      this.#lastSession = ev.session;
      this.#lastSeqDomain = ev.domainId;
      this.#lastSeqKey = key;
    }
    if (!this.#seqKeys.has(key)) {
      if (this.#seqKeys.size > 200_000) this.#seqKeys.clear();
      this.#seqKeys.set(key, [exporter, ev.domainId, SEQUENCE_UNIT[ev.protocol]]);
    }
    this.#sequence.observe({ protocol: ev.protocol, key, sequence: ev.sequence, units: ev.units });
    if (ev.protocol !== 'sflow5' && ev.protocol !== 'sflow5-sample') {
      const a = exporter === this.#lastExporter && this.#lastAcc !== undefined ? this.#lastAcc : this.#get(exporter);
      a.skewSum += (ev.exportTimeMs - ev.receivedMs) / 1000;
      a.skewCount++;
    }
  }

  /**
   * The stream key of an sFlow data source, built once and then found by numbers: every sample
   * has one, and building the text per sample (then hashing it anew in the tracker's map) was a
   * tenth of a decode worker's time under sFlow.
   */
  #sourceKey(agent: string, subAgent: number, src: NonNullable<SequenceEvent['source']>): string {
    let keys: Map<number, string> | undefined;
    if (agent === this.#srcAgent && subAgent === this.#srcSubAgent) keys = this.#srcLast;
    else {
      const agentKey = sequenceKeys.agent(agent, subAgent);
      keys = this.#srcKeys.get(agentKey);
      if (keys === undefined) {
        if (this.#srcKeys.size >= 50_000) this.#srcKeys.clear();
        keys = new Map();
        this.#srcKeys.set(agentKey, keys);
      }
      this.#srcAgent = agent;
      this.#srcSubAgent = subAgent;
      this.#srcLast = keys;
    }
    // Source type (8 bits) and index (24 bits), times the three sequences of a source.
    const id = (((src.type & 0xff) * 0x1000000 + (src.index & 0xffffff)) * 3) + (src.kind === 'flow' ? 0 : src.kind === 'counter' ? 1 : 2);
    let key = keys!.get(id);
    if (key === undefined) {
      if (keys!.size >= 10_000) keys!.clear();
      key = sequenceKeys.source(agent, subAgent, src.type, src.index, src.kind);
      keys!.set(id, key);
    }
    return key;
  }

  /** The exporter a batch speaks for: the sFlow agent, else the sender. */
  #exporterOf(b: FlowBatch, plan: FlowPlan): string {
    const slot = plan.agent4 ?? plan.agent6;
    if (slot === undefined || b.count === 0 || slot.offset < 0) return b.ctx.session.address;
    const at = b.starts[0]! + slot.offset;
    if (this.#agentBuf !== b.buf || this.#agentOff !== at) {
      this.#agentBuf = b.buf;
      this.#agentOff = at;
      this.#agentText = slot.length === 4 ? ipv4ToString(b.buf, at) : ipv6ToString(b.buf, at);
    }
    return this.#agentText;
  }

  batch(b: FlowBatch, rates: BatchRates): void {
    const n = b.count;
    if (n === 0) return;
    const t = b.template;
    const kind: RecordKind = t.isOptions ? 'options' : t.recordType !== undefined ? 'counters' : 'flow';
    const h = kind === 'flow' ? templateHealth(b) : undefined;
    const exporter = h !== undefined ? this.#exporterOf(b, h.plan) : b.ctx.session.address;
    const d = this.#domain(exporter, b.ctx.domainId >>> 0);
    const a = this.#lastAcc!;
    a.lastSeenMs = b.ctx.receivedMs;
    if (h === undefined) {
      if (kind === 'options') d.options += n;
      else d.counters += n;
      return;
    }
    d.flow += n;
    // Sampling: the rate in force, per the source that stated it.
    const src = rates.source;
    if (src === 'unknown') a.rateUnknown += n;
    else {
      const ri = RATE_INDEX.get(src);
      if (ri !== undefined) d.rates[ri] = rates.rate;
    }
    const health = d.health;
    for (let k = 0; k < h.missing.length; k++) health[h.missing[k]!]! += n;
    // Per record: ports / ICMP by protocol, duration, export delay.
    const plan = h.plan;
    const protoSlot = plan.proto;
    const fixed = plan.fixed && protoSlot !== undefined;
    const protoOff = fixed ? protoSlot.offset : 0;
    const buf = b.buf;
    const st = b.starts;
    const S = b.startMs;
    const E = b.endMs;
    const recv = b.ctx.receivedMs;
    const active = this.#activeMs;
    const lateMs = this.#lateMs;
    const hasPorts = h.hasPorts;
    const hasIcmp = h.hasIcmp;
    let noPorts = 0;
    let noIcmp = 0;
    let long = 0;
    let late = 0;
    let sum = 0;
    let count = 0;
    const buckets = a.delayBuckets;
    const NB = DELAY_BUCKETS.length;
    // Ports and ICMP type/code by protocol: only templates that lack them need a look per record.
    if (fixed && !(hasPorts && hasIcmp)) {
      for (let i = 0; i < n; i++) {
        const p = buf[st[i]! + protoOff]!;
        if (p === 6 || p === 17) {
          if (!hasPorts) noPorts++;
        } else if ((p === 1 || p === 58) && !hasIcmp) noIcmp++;
      }
    }
    for (let i = 0; i < n; i++) {
      const e = E[i]!;
      if (e !== e) continue;
      if (e - S[i]! > active) long++;
      const dms = recv - e;
      if (dms > lateMs) late++;
      const sec = dms > 0 ? dms / 1000 : 0;
      sum += sec;
      count++;
      // The first bound the delay is within (most exports are seconds late: a few comparisons), else +Inf.
      let k = 0;
      while (k < NB && sec > DELAY_BUCKETS[k]!) k++;
      buckets[k]!++;
    }
    a.delaySum += sum;
    a.delayCount += count;
    if (noPorts) health[H_PORTS]! += noPorts;
    if (noIcmp) health[H_ICMP]! += noIcmp;
    if (long) health[H_LONG]! += long;
    if (late) health[H_LATE]! += late;
  }

  /**
   * What changed since the last take, per exporter. With a template store, the template counts and
   * options-learned sampler rates of every (exporter, domain) it holds are added as gauges.
   */
  take(store?: TemplateStore): ExporterDelta[] {
    const out = new Map<string, ExporterDelta>();
    const delta = (exporter: string): ExporterDelta => {
      let d = out.get(exporter);
      if (d === undefined) {
        const a = this.#acc.get(exporter);
        const records: ExporterDelta['records'] = [];
        const sampling: ExporterDelta['sampling'] = [];
        const health: Partial<Record<HealthCheck, number>> = {};
        for (const dom of a?.domains.values() ?? []) {
          if (dom.flow > 0) records.push([dom.domain, 'flow', dom.flow]);
          if (dom.options > 0) records.push([dom.domain, 'options', dom.options]);
          if (dom.counters > 0) records.push([dom.domain, 'counters', dom.counters]);
          dom.rates.forEach((r, i) => {
            if (r > 0) sampling.push([dom.domain, RATE_SOURCES[i]!, r]);
          });
          dom.health.forEach((c, i) => {
            if (c > 0) health[HEALTH_CHECKS[i]!] = (health[HEALTH_CHECKS[i]!] ?? 0) + c;
          });
        }
        d = {
          exporter,
          datagrams: a?.datagrams ?? {},
          records,
          drops: a?.drops ?? {},
          sequence: [],
          sampling,
          rateUnknown: a?.rateUnknown ?? 0,
          templates: [],
          health,
          delay: { buckets: a ? [...a.delayBuckets] : new Array<number>(DELAY_BUCKETS.length + 1).fill(0), sum: a?.delaySum ?? 0, count: a?.delayCount ?? 0 },
          clockSkew: a && a.skewCount > 0 ? a.skewSum / a.skewCount : NaN,
          lastSeenMs: a?.lastSeenMs ?? 0,
        };
        out.set(exporter, d);
      }
      return d;
    };
    for (const exporter of this.#acc.keys()) delta(exporter);
    this.#acc.clear();
    this.#lastAcc = undefined;
    this.#lastDom = undefined;
    this.#lastExporter = '';
    for (const [key, c] of this.#sequence.entries()) {
      const who = this.#seqKeys.get(key);
      if (who === undefined) continue;
      const prev = this.#sentSeq.get(key) ?? { lost: 0, resets: 0, reordered: 0, duplicates: 0, received: 0 };
      const d = { lost: c.lost - prev.lost, resets: c.resets - prev.resets, reordered: c.reordered - prev.reordered, duplicates: c.duplicates - prev.duplicates, received: c.received - prev.received };
      if (d.lost === 0 && d.resets === 0 && d.reordered === 0 && d.duplicates === 0 && d.received === 0) continue;
      this.#sentSeq.set(key, { lost: c.lost, resets: c.resets, reordered: c.reordered, duplicates: c.duplicates, received: c.received });
      if (this.#sentSeq.size > 200_000) this.#sentSeq.clear();
      delta(who[0]).sequence.push([who[1], who[2], d.lost, d.resets, d.reordered, d.duplicates, d.received]);
    }
    if (store !== undefined) {
      for (const s of store.sessionStates()) {
        for (const dom of s.domains.values()) {
          const d = delta(s.session.address);
          d.templates.push([dom.id, dom.templates.size]);
          for (const [id, rate] of dom.samplers) d.sampling.push([dom.id, `id:${id}`, rate]);
          if (dom.samplingInterval > 0) d.sampling.push([dom.id, 'domain', dom.samplingInterval]);
        }
      }
    }
    return [...out.values()];
  }

  /** Sequence counts per stream so far (for tests and the stop summary). */
  sequenceCounts(): Map<string, SequenceCounts> {
    return new Map(this.#sequence.entries());
  }
}
