/**
 * The flow cache: flows by key, expired by inactive timeout, active timeout, FIN/RST and the size
 * bound, all measured on the caller's clock (packet time for captures, so a pcap expires the same
 * way however fast it is read).
 *
 * Three orders make every check cheap:
 * - a linked list by last activity (a packet moves its flow to the newest end), so idle flows are
 *   found at the oldest end without a scan;
 * - the Map's insertion order, which is creation order, so flows past the active timeout are found
 *   at the Map's start (a flow that expires is deleted; its next packet creates a new entry);
 * - a small set of flows that saw FIN, waiting out the FIN timeout.
 */
import { Flow, FlowEndReason, type FlowEndReasonCode } from './flow.js';

export interface CacheOptions {
  /** A flow is exported this long after its first packet even if it is still active (ms). */
  readonly activeTimeoutMs: number;
  /** A flow is exported after this long without packets (ms). */
  readonly inactiveTimeoutMs: number;
  /** After FIN (both directions in biflow mode), a flow is exported once idle this long (ms); 0 = at the FIN. */
  readonly finTimeoutMs: number;
  /** Most flows held; a new flow beyond it expires the least recently active ones first. */
  readonly maxFlows: number;
}

export const DEFAULT_CACHE_OPTIONS: CacheOptions = {
  activeTimeoutMs: 300_000,
  inactiveTimeoutMs: 30_000,
  finTimeoutMs: 2_000,
  maxFlows: 262_144,
};

export class CacheCounters {
  created = 0;
  expiredIdle = 0;
  expiredActive = 0;
  expiredEndOfFlow = 0;
  expiredForced = 0;
  /** Flows expired early because the cache was full (flowEndReason lackOfResources). */
  expiredEmergency = 0;
}

export type ExpireSink = (flow: Flow) => void;

export class FlowCache {
  readonly counters = new CacheCounters();
  private readonly flows = new Map<string, Flow>();
  private oldest: Flow | undefined = undefined;
  private newest: Flow | undefined = undefined;
  private readonly closing = new Set<Flow>();
  private nextSweepMs = -Infinity;

  constructor(
    readonly options: CacheOptions,
    private readonly sink: ExpireSink,
  ) {}

  get size(): number {
    return this.flows.size;
  }

  get(key: string): Flow | undefined {
    return this.flows.get(key);
  }

  /** Adds a new flow, first making room when the cache is full. */
  insert(flow: Flow): void {
    if (this.flows.size >= this.options.maxFlows) {
      // Free a slice at once, so a flood of new flows does not pay a list walk per packet.
      const n = Math.max(1, this.options.maxFlows >>> 6);
      for (let i = 0; i < n && this.oldest !== undefined; i++) this.expire(this.oldest, FlowEndReason.LACK_OF_RESOURCES);
    }
    this.flows.set(flow.key, flow);
    this.counters.created++;
    this.linkNewest(flow);
  }

  /** Marks `flow` active now: it moves to the newest end of the idle order. */
  touch(flow: Flow): void {
    if (this.newest === flow) return;
    this.unlink(flow);
    this.linkNewest(flow);
  }

  /** The flow ended (RST, or FIN with a zero FIN timeout): export it now. */
  endNow(flow: Flow): void {
    this.expire(flow, FlowEndReason.END_OF_FLOW);
  }

  /** The flow saw its closing FIN(s): export it once idle for the FIN timeout. */
  closeSoon(flow: Flow): void {
    if (this.options.finTimeoutMs <= 0) {
      this.expire(flow, FlowEndReason.END_OF_FLOW);
      return;
    }
    if (!flow.closing) {
      flow.closing = true;
      this.closing.add(flow);
    }
  }

  /**
   * Expires what the clock says is due. Idle flows are checked on every call (a look at the list's
   * oldest end); active and FIN timeouts on a 250 ms grid of the clock, which bounds how late they
   * fire.
   */
  advance(nowMs: number): void {
    const idle = this.options.inactiveTimeoutMs;
    while (this.oldest !== undefined && nowMs - this.oldest.endMs >= idle) this.expire(this.oldest, FlowEndReason.IDLE_TIMEOUT);
    if (nowMs < this.nextSweepMs) return;
    this.nextSweepMs = nowMs + 250;
    const active = this.options.activeTimeoutMs;
    for (const f of this.flows.values()) {
      if (nowMs - f.startMs < active) break;
      this.expire(f, FlowEndReason.ACTIVE_TIMEOUT);
    }
    if (this.closing.size > 0) {
      const fin = this.options.finTimeoutMs;
      for (const f of this.closing) if (nowMs - f.endMs >= fin) this.expire(f, FlowEndReason.END_OF_FLOW);
    }
  }

  /** Exports every flow (stop, end of capture), oldest activity first. */
  flushAll(reason: FlowEndReasonCode = FlowEndReason.FORCED_END): void {
    while (this.oldest !== undefined) this.expire(this.oldest, reason);
  }

  private expire(flow: Flow, reason: FlowEndReasonCode): void {
    if (this.flows.get(flow.key) !== flow) return;
    this.flows.delete(flow.key);
    this.unlink(flow);
    if (flow.closing) {
      this.closing.delete(flow);
      flow.closing = false;
    }
    flow.endReason = reason;
    const c = this.counters;
    if (reason === FlowEndReason.IDLE_TIMEOUT) c.expiredIdle++;
    else if (reason === FlowEndReason.ACTIVE_TIMEOUT) c.expiredActive++;
    else if (reason === FlowEndReason.END_OF_FLOW) c.expiredEndOfFlow++;
    else if (reason === FlowEndReason.LACK_OF_RESOURCES) c.expiredEmergency++;
    else c.expiredForced++;
    this.sink(flow);
  }

  private linkNewest(f: Flow): void {
    f.older = this.newest;
    f.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = f;
    else this.oldest = f;
    this.newest = f;
  }

  private unlink(f: Flow): void {
    if (f.older !== undefined) f.older.newer = f.newer;
    else if (this.oldest === f) this.oldest = f.newer;
    if (f.newer !== undefined) f.newer.older = f.older;
    else if (this.newest === f) this.newest = f.older;
    f.older = undefined;
    f.newer = undefined;
  }
}
