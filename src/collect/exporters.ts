/**
 * The exporters as collect sees them: the per-exporter accounts of every decode worker
 * (src/pipeline/exporters.ts) merged into one table, exposed as Prometheus metrics (the names are
 * an interface: docs/metrics.md), as rows for the API's exporters view, and as text for SIGUSR1
 * and the stop summary.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import type { DomainRow, ExporterRow } from '../model/exporter-rows.js';
import { DELAY_BUCKETS, HEALTH_CHECKS, type ExporterDelta, type HealthCheck } from '../pipeline/exporters.js';

export type { DomainRow, ExporterRow };

interface DomainState {
  records: number;
  optionsRecords: number;
  counterRecords: number;
  /** Per worker: the template count it last reported. */
  templates: Map<number, number>;
  sampling: Map<string, number>;
  lost: Map<string, number>;
  resets: number;
  reordered: number;
}

interface ExporterState {
  datagrams: number;
  records: number;
  lastSeenMs: number;
  drops: Map<string, number>;
  health: Map<string, number>;
  rateUnknown: number;
  skew: number;
  domains: Map<number, DomainState>;
  /** (time, records so far) at each merge, for the rate over the last minute. */
  history: Array<[number, number]>;
}

export interface ExporterTableOptions {
  /** Exporters that get label values of their own; the rest are folded into exporter="other". Default 1000. */
  readonly maxLabeledExporters?: number;
  readonly now?: () => number;
}

/** Exporters remembered at most (a spoofed flood must not grow the table without bound). */
const MAX_EXPORTERS = 10_000;

export class ExporterTable {
  readonly registry = new Registry();
  readonly #e = new Map<string, ExporterState>();
  readonly #labeled = new Set<string>();
  readonly #maxLabeled: number;
  readonly #now: () => number;
  readonly #delayBuckets = new Array<number>(DELAY_BUCKETS.length + 1).fill(0);
  #delaySum = 0;
  #delayCount = 0;
  readonly #m: {
    datagrams: Counter<'exporter' | 'protocol'>;
    records: Counter<'exporter' | 'domain' | 'kind'>;
    drops: Counter<'exporter' | 'reason'>;
    lost: Counter<'exporter' | 'domain' | 'unit'>;
    resets: Counter<'exporter' | 'domain'>;
    reordered: Counter<'exporter' | 'domain' | 'unit'>;
    health: Counter<'exporter' | 'check'>;
    rateUnknown: Counter<'exporter'>;
    folded: Counter;
  };

  constructor(o: ExporterTableOptions = {}) {
    this.#maxLabeled = o.maxLabeledExporters ?? 1000;
    this.#now = o.now ?? Date.now;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#m = {
      datagrams: new Counter({ name: 'sluice_datagrams_total', help: 'datagrams received, per exporter (the sender address) and protocol', labelNames: ['exporter', 'protocol'], registers }),
      records: new Counter({ name: 'sluice_records_total', help: 'records decoded, per exporter, observation domain and kind (flow, options, counters)', labelNames: ['exporter', 'domain', 'kind'], registers }),
      drops: new Counter({ name: 'sluice_drops_total', help: 'input that did not become records, per exporter and reason (docs/metrics.md)', labelNames: ['exporter', 'reason'], registers }),
      lost: new Counter({ name: 'sluice_sequence_lost_total', help: 'units the exporter sent that never arrived, by its sequence numbers (unit: records, packets, datagrams or samples)', labelNames: ['exporter', 'domain', 'unit'], registers }),
      resets: new Counter({ name: 'sluice_sequence_resets_total', help: 'sequence restarts (exporter restart or new session), counted instead of loss', labelNames: ['exporter', 'domain'], registers }),
      reordered: new Counter({ name: 'sluice_sequence_reordered_total', help: 'messages that arrived late into a gap (counted as lost until they came)', labelNames: ['exporter', 'domain', 'unit'], registers }),
      health: new Counter({ name: 'sluice_exporter_health_total', help: 'records failing a content check, per exporter and check (missing-*, ports-missing, icmp-type-missing, longer-than-active-timeout, exported-late)', labelNames: ['exporter', 'check'], registers }),
      rateUnknown: new Counter({ name: 'sluice_sampling_rate_unknown_total', help: 'flow records whose sampling rate nothing stated (counted at rate 1)', labelNames: ['exporter'], registers }),
      folded: new Counter({ name: 'sluice_exporter_labels_folded_total', help: 'updates of exporters beyond the label limit, counted under exporter="other"', registers }),
    };
    const table = this;
    new Gauge({
      name: 'sluice_templates',
      help: 'templates held, per exporter and observation domain',
      labelNames: ['exporter', 'domain'],
      registers,
      collect() {
        this.reset();
        for (const [ex, s] of table.#e) for (const [dom, d] of s.domains) if (d.templates.size > 0) this.set({ exporter: table.#label(ex, false), domain: String(dom) }, sum(d.templates));
      },
    });
    new Gauge({
      name: 'sluice_sampling_rate',
      help: 'sampling rate in force (1 in N), per exporter, observation domain and sampler (header, record, domain, id:N, override, default)',
      labelNames: ['exporter', 'domain', 'sampler'],
      registers,
      collect() {
        this.reset();
        for (const [ex, s] of table.#e) for (const [dom, d] of s.domains) for (const [sampler, rate] of d.sampling) this.set({ exporter: table.#label(ex, false), domain: String(dom), sampler }, rate);
      },
    });
    new Gauge({
      name: 'sluice_exporter_clock_skew_seconds',
      help: "exporter's export time minus sluice's receive time (positive: its clock is ahead)",
      labelNames: ['exporter'],
      registers,
      collect() {
        this.reset();
        for (const [ex, s] of table.#e) if (Number.isFinite(s.skew)) this.set({ exporter: table.#label(ex, false) }, s.skew);
      },
    });
    new Gauge({
      name: 'sluice_exporter_last_seen_seconds',
      help: 'when the exporter was last heard from (unix seconds)',
      labelNames: ['exporter'],
      registers,
      collect() {
        this.reset();
        for (const [ex, s] of table.#e) if (s.lastSeenMs > 0) this.set({ exporter: table.#label(ex, false) }, s.lastSeenMs / 1000);
      },
    });
    // A histogram merged from the workers' bucket counts: prom-client's Histogram only observes values.
    this.registry.registerMetric({
      name: 'sluice_export_delay_seconds',
      help: 'receive time minus flow end, per flow record',
      type: 'histogram',
      aggregator: 'sum',
      get: async (): Promise<MetricObjectWithValues<MetricValueWithName<string>>> => {
        const name = 'sluice_export_delay_seconds';
        const values: MetricValueWithName<string>[] = [];
        let acc = 0;
        DELAY_BUCKETS.forEach((le, k) => {
          acc += this.#delayBuckets[k]!;
          values.push({ metricName: `${name}_bucket`, labels: { le }, value: acc });
        });
        acc += this.#delayBuckets[DELAY_BUCKETS.length]!;
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: acc });
        values.push({ metricName: `${name}_sum`, labels: {}, value: this.#delaySum });
        values.push({ metricName: `${name}_count`, labels: {}, value: this.#delayCount });
        return { name, help: 'receive time minus flow end, per flow record', type: 'histogram' as never, aggregator: 'sum', values } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
      },
    } as never);
  }

  /** The exporter's label value: its address, or "other" past the label limit. */
  #label(exporter: string, count: boolean): string {
    if (this.#labeled.has(exporter)) return exporter;
    if (this.#labeled.size < this.#maxLabeled) {
      this.#labeled.add(exporter);
      return exporter;
    }
    if (count) this.#m.folded.inc();
    return 'other';
  }

  #state(exporter: string): ExporterState | undefined {
    let s = this.#e.get(exporter);
    if (s === undefined) {
      if (this.#e.size >= MAX_EXPORTERS) return undefined;
      s = { datagrams: 0, records: 0, lastSeenMs: 0, drops: new Map(), health: new Map(), rateUnknown: 0, skew: NaN, domains: new Map(), history: [] };
      this.#e.set(exporter, s);
    }
    return s;
  }

  #domain(s: ExporterState, id: number): DomainState {
    let d = s.domains.get(id);
    if (d === undefined) {
      if (s.domains.size >= 4096) d = s.domains.values().next().value!;
      else {
        d = { records: 0, optionsRecords: 0, counterRecords: 0, templates: new Map(), sampling: new Map(), lost: new Map(), resets: 0, reordered: 0 };
        s.domains.set(id, d);
      }
    }
    return d;
  }

  /** Folds one worker's deltas in. */
  merge(worker: number, deltas: readonly ExporterDelta[]): void {
    const now = this.#now();
    for (const d of deltas) {
      const s = this.#state(d.exporter);
      const ex = this.#label(d.exporter, true);
      for (const [p, n] of Object.entries(d.datagrams)) {
        this.#m.datagrams.inc({ exporter: ex, protocol: p }, n);
        if (s) s.datagrams += n;
      }
      for (const [dom, kind, n] of d.records) {
        this.#m.records.inc({ exporter: ex, domain: String(dom), kind }, n);
        if (!s) continue;
        const ds = this.#domain(s, dom);
        if (kind === 'flow') (ds.records += n), (s.records += n);
        else if (kind === 'options') ds.optionsRecords += n;
        else ds.counterRecords += n;
      }
      for (const [reason, n] of Object.entries(d.drops)) {
        this.#m.drops.inc({ exporter: ex, reason }, n);
        if (s) s.drops.set(reason, (s.drops.get(reason) ?? 0) + n);
      }
      for (const [dom, unit, lost, resets, reordered] of d.sequence) {
        if (lost > 0) this.#m.lost.inc({ exporter: ex, domain: String(dom), unit }, lost);
        if (resets > 0) this.#m.resets.inc({ exporter: ex, domain: String(dom) }, resets);
        if (reordered > 0) this.#m.reordered.inc({ exporter: ex, domain: String(dom), unit }, reordered);
        if (!s) continue;
        const ds = this.#domain(s, dom);
        ds.lost.set(unit, (ds.lost.get(unit) ?? 0) + lost);
        ds.resets += resets;
        ds.reordered += reordered;
      }
      for (const [check, n] of Object.entries(d.health)) {
        this.#m.health.inc({ exporter: ex, check }, n);
        if (s) s.health.set(check, (s.health.get(check) ?? 0) + n);
      }
      if (d.rateUnknown > 0) {
        this.#m.rateUnknown.inc({ exporter: ex }, d.rateUnknown);
        if (s) s.rateUnknown += d.rateUnknown;
      }
      for (let k = 0; k < d.delay.buckets.length; k++) this.#delayBuckets[k]! += d.delay.buckets[k]!;
      this.#delaySum += d.delay.sum;
      this.#delayCount += d.delay.count;
      if (!s) continue;
      if (Number.isFinite(d.clockSkew)) s.skew = d.clockSkew;
      if (d.lastSeenMs > s.lastSeenMs) s.lastSeenMs = d.lastSeenMs;
      for (const [dom, n] of d.templates) this.#domain(s, dom).templates.set(worker, n);
      for (const [dom, sampler, rate] of d.sampling) this.#domain(s, dom).sampling.set(sampler, rate);
      s.history.push([now, s.records]);
      while (s.history.length > 2 && s.history[0]![0] < now - 60_000) s.history.shift();
    }
  }

  /** Every exporter, busiest first. */
  rows(): ExporterRow[] {
    const now = this.#now();
    const rows: ExporterRow[] = [];
    for (const [exporter, s] of this.#e) {
      const h = s.history;
      const first = h.find(([t]) => t >= now - 60_000) ?? h[0];
      const span = first === undefined ? 0 : (now - first[0]) / 1000;
      const rps = first === undefined || span <= 0 ? 0 : (s.records - first[1]) / Math.max(span, 1);
      rows.push({
        exporter,
        datagrams: s.datagrams,
        records: s.records,
        recordsPerSecond: Math.max(0, rps),
        lastSeenMs: s.lastSeenMs,
        drops: Object.fromEntries(s.drops),
        health: Object.fromEntries(s.health),
        rateUnknown: s.rateUnknown,
        clockSkewSeconds: Number.isFinite(s.skew) ? s.skew : null,
        domains: [...s.domains].map(([domain, d]) => ({
          domain,
          records: d.records,
          optionsRecords: d.optionsRecords,
          counterRecords: d.counterRecords,
          templates: sum(d.templates),
          sampling: Object.fromEntries(d.sampling),
          sequenceLost: Object.fromEntries(d.lost),
          sequenceResets: d.resets,
          sequenceReordered: d.reordered,
        })),
      });
    }
    return rows.sort((a, b) => b.records - a.records || a.exporter.localeCompare(b.exporter));
  }

  /** One line per exporter: what it sent, what was lost or dropped, which checks its records fail. */
  report(): string[] {
    return this.rows().map((r) => {
      const lost = r.domains.flatMap((d) => Object.entries(d.sequenceLost).filter(([, n]) => n > 0).map(([u, n]) => `${n} ${u} lost in domain ${d.domain}`));
      const resets = r.domains.reduce((a, d) => a + d.sequenceResets, 0);
      const drops = Object.entries(r.drops).map(([k, n]) => `${k} ${n}`);
      const health = HEALTH_CHECKS.filter((c: HealthCheck) => (r.health[c] ?? 0) > 0).map((c) => `${c} ${r.health[c]}`);
      const rates = [...new Set(r.domains.flatMap((d) => Object.entries(d.sampling).map(([k, v]) => `${k}=1:${v}`)))];
      return (
        `exporter ${r.exporter}: ${r.datagrams} datagrams, ${r.records} flow records` +
        (lost.length ? `; ${lost.join(', ')}` : '; no sequence loss') +
        (resets ? `, ${resets} resets` : '') +
        (drops.length ? `; dropped: ${drops.join(', ')}` : '') +
        (rates.length ? `; sampling ${rates.join(' ')}` : r.rateUnknown ? `; sampling unknown for ${r.rateUnknown} records` : '') +
        (health.length ? `; checks: ${health.join(', ')}` : '') +
        (r.clockSkewSeconds !== null ? `; clock skew ${r.clockSkewSeconds.toFixed(1)} s` : '')
      );
    });
  }
}

function sum(m: ReadonlyMap<number, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}
