/**
 * The flow cache: flows by key, expired by inactive timeout, active timeout, FIN/RST and the size
 * bound, all measured on the caller's clock (packet time for captures, so a pcap expires the same
 * way however fast it is read).
 *
 * Flows are found by the 32-bit hash of their key bytes (a Map of small integers, chained on
 * collision), so a lookup allocates nothing. Three orders make every check cheap:
 * - a linked list by last activity (a packet moves its flow to the newest end), so idle flows are
 *   found at the oldest end without a scan;
 * - a linked list by creation, so flows past the active timeout are found at its start (a flow
 *   that expires is removed; its next packet creates a new one);
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
  private readonly buckets = new Map<number, Flow>();
  private count = 0;
  private oldest: Flow | undefined = undefined;
  private newest: Flow | undefined = undefined;
  private firstCreated: Flow | undefined = undefined;
  private lastCreated: Flow | undefined = undefined;
  private readonly closing = new Set<Flow>();
  private nextSweepMs = -Infinity;

  constructor(
    readonly options: CacheOptions,
    private readonly sink: ExpireSink,
  ) {}

  get size(): number {
    return this.count;
  }

  /** The flow whose key is key[0, length), with that key's hash. */
  get(hash: number, key: Buffer, length: number): Flow | undefined {
    for (let f = this.buckets.get(hash); f !== undefined; f = f.sameHash) {
      const k = f.bytes;
      if (f.keyLength !== length) continue;
      let i = 0;
      while (i < length && k[i] === key[i]) i++;
      if (i === length) return f;
    }
    return undefined;
  }

  /** Adds a new flow, first making room when the cache is full. */
  insert(flow: Flow): void {
    if (this.count >= this.options.maxFlows) {
      // Free a slice at once, so a flood of new flows does not pay a list walk per packet.
      const n = Math.max(1, this.options.maxFlows >>> 6);
      for (let i = 0; i < n && this.oldest !== undefined; i++) this.expire(this.oldest, FlowEndReason.LACK_OF_RESOURCES);
    }
    flow.sameHash = this.buckets.get(flow.hash);
    this.buckets.set(flow.hash, flow);
    this.count++;
    this.counters.created++;
    this.linkNewest(flow);
    flow.createdBefore = this.lastCreated;
    if (this.lastCreated !== undefined) this.lastCreated.createdAfter = flow;
    else this.firstCreated = flow;
    this.lastCreated = flow;
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
   * Expires what the clock says is due. Idle and active timeouts are checked on every call (a look
   * at the two lists' oldest ends); FIN timeouts on a 250 ms grid of the clock, which bounds how
   * late they fire.
   */
  advance(nowMs: number): void {
    const idle = this.options.inactiveTimeoutMs;
    while (this.oldest !== undefined && nowMs - this.oldest.endMs >= idle) this.expire(this.oldest, FlowEndReason.IDLE_TIMEOUT);
    const active = this.options.activeTimeoutMs;
    while (this.firstCreated !== undefined && nowMs - this.firstCreated.startMs >= active) this.expire(this.firstCreated, FlowEndReason.ACTIVE_TIMEOUT);
    if (this.closing.size === 0 || nowMs < this.nextSweepMs) return;
    this.nextSweepMs = nowMs + 250;
    const fin = this.options.finTimeoutMs;
    for (const f of this.closing) if (nowMs - f.endMs >= fin) this.expire(f, FlowEndReason.END_OF_FLOW);
  }

  /** Exports every flow (stop, end of capture), oldest activity first. */
  flushAll(reason: FlowEndReasonCode = FlowEndReason.FORCED_END): void {
    while (this.oldest !== undefined) this.expire(this.oldest, reason);
  }

  private expire(flow: Flow, reason: FlowEndReasonCode): void {
    if (!this.removeFromBucket(flow)) return;
    this.count--;
    this.unlink(flow);
    if (flow.createdBefore !== undefined) flow.createdBefore.createdAfter = flow.createdAfter;
    else this.firstCreated = flow.createdAfter;
    if (flow.createdAfter !== undefined) flow.createdAfter.createdBefore = flow.createdBefore;
    else this.lastCreated = flow.createdBefore;
    flow.createdBefore = undefined;
    flow.createdAfter = undefined;
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

  /** Takes `flow` out of its hash chain; false when it is not in the cache. */
  private removeFromBucket(flow: Flow): boolean {
    const head = this.buckets.get(flow.hash);
    if (head === flow) {
      if (flow.sameHash !== undefined) this.buckets.set(flow.hash, flow.sameHash);
      else this.buckets.delete(flow.hash);
      flow.sameHash = undefined;
      return true;
    }
    for (let f = head; f !== undefined; f = f.sameHash) {
      if (f.sameHash === flow) {
        f.sameHash = flow.sameHash;
        flow.sameHash = undefined;
        return true;
      }
    }
    return false;
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
