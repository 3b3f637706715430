import type { MessageContext, TransportSession } from './batch.js';
import type { Template } from './template.js';

/** Limits that keep a misbehaving or hostile exporter from exhausting memory. */
export interface TemplateStoreLimits {
  /** UDP template lifetime (RFC 7011 8.4); templates not refreshed within it expire. Default 30 min. */
  readonly udpTemplateLifetimeMs: number;
  /** Templates per transport session (all domains together). */
  readonly maxTemplatesPerSession: number;
  /** Templates over all sessions. */
  readonly maxTemplatesTotal: number;
  /** Transport sessions tracked at once; the least recently seen is evicted past this. */
  readonly maxSessions: number;
  /** Data sets held per session while their template is missing. */
  readonly maxPendingSetsPerSession: number;
  /** Bytes held per session while templates are missing. */
  readonly maxPendingBytesPerSession: number;
  /** How long a data set waits for its template. */
  readonly pendingTimeoutMs: number;
}

export const DEFAULT_LIMITS: TemplateStoreLimits = {
  udpTemplateLifetimeMs: 30 * 60_000,
  maxTemplatesPerSession: 4096,
  maxTemplatesTotal: 262_144,
  maxSessions: 65_536,
  maxPendingSetsPerSession: 256,
  maxPendingBytesPerSession: 1 << 20,
  pendingTimeoutMs: 60_000,
};

interface TemplateEntry {
  template: Template;
  lastSeenMs: number;
}

/** Values learned from options data, per (session, domain); read by the record model. */
export interface DomainInfo {
  /** systemInitTimeMilliseconds (IE 160): the exporter's boot time, for flowStart/EndSysUpTime. */
  systemInitTimeMs: number;
  /** Most recent sampling interval announced for the whole domain (IE 34, 305, 50), 0 if none. */
  samplingInterval: number;
  samplingAlgorithm: number;
  /** Sampler id (IE 48/302) -> interval, for records that name their sampler. */
  readonly samplers: Map<number, number>;
  /** Last options values by element name, for inspection. */
  readonly optionValues: Map<string, unknown>;
}

/** A data set held until its template arrives. */
export interface PendingSet {
  readonly ctx: MessageContext;
  readonly templateId: number;
  readonly buf: Buffer;
  readonly pos: number;
  readonly end: number;
  readonly heldAtMs: number;
}

export class DomainState implements DomainInfo {
  systemInitTimeMs = NaN;
  samplingInterval = 0;
  samplingAlgorithm = 0;
  /** When an options record last taught this domain something (receive time), NaN if never. */
  optionsSeenMs = NaN;
  readonly samplers = new Map<number, number>();
  readonly optionValues = new Map<string, unknown>();
  readonly templates = new Map<number, TemplateEntry>();
  constructor(readonly id: number) {}
}

export class SessionState {
  readonly domains = new Map<number, DomainState>();
  templateCount = 0;
  pending: PendingSet[] = [];
  pendingBytes = 0;
  lastSeenMs = 0;
  constructor(readonly session: TransportSession) {}

  domain(id: number): DomainState {
    let d = this.domains.get(id);
    if (d === undefined) {
      d = new DomainState(id);
      this.domains.set(id, d);
    }
    return d;
  }
}

export type AddResult = 'added' | 'refreshed' | 'replaced' | 'limit';

/**
 * Templates keyed by transport session + observation domain (source id) + template id.
 * The one place that decides template lifetime, bounds and pending data.
 */
export class TemplateStore {
  private readonly sessions = new Map<string, SessionState>();
  private total = 0;
  readonly limits: TemplateStoreLimits;

  constructor(limits: Partial<TemplateStoreLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  get templateCount(): number {
    return this.total;
  }
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** The state of a session, created on first sight; evicts the stalest session past the bound. */
  session(s: TransportSession, nowMs: number): SessionState {
    let st = this.sessions.get(s.key);
    if (st === undefined) {
      if (this.sessions.size >= this.limits.maxSessions) this.evictStalest();
      st = new SessionState(s);
      this.sessions.set(s.key, st);
    } else if (nowMs - st.lastSeenMs > 1000) {
      // Keep map order roughly by recency (re-inserting at most once a second per session) so
      // eviction can take the first entry cheaply.
      this.sessions.delete(s.key);
      this.sessions.set(s.key, st);
    }
    st.lastSeenMs = nowMs;
    return st;
  }

  private evictStalest(): void {
    const first = this.sessions.keys().next();
    if (!first.done) this.closeSession(first.value);
  }

  /** Forgets a session (TCP close): its templates end with it (RFC 7011 8.1). Returns held sets. */
  closeSession(key: string): PendingSet[] {
    const st = this.sessions.get(key);
    if (st === undefined) return [];
    this.total -= st.templateCount;
    this.sessions.delete(key);
    return st.pending;
  }

  /** Looks up a template; a UDP template past its lifetime is removed and reported as 'expired'. */
  lookup(st: SessionState, d: DomainState, id: number, nowMs: number): Template | 'expired' | undefined {
    const e = d.templates.get(id);
    if (e === undefined) return undefined;
    if (st.session.transport !== 'tcp' && nowMs - e.lastSeenMs > this.limits.udpTemplateLifetimeMs) {
      d.templates.delete(id);
      st.templateCount--;
      this.total--;
      return 'expired';
    }
    return e.template;
  }

  add(st: SessionState, d: DomainState, t: Template, nowMs: number): AddResult {
    const e = d.templates.get(t.id);
    if (e !== undefined) {
      const same = e.template.signature === t.signature;
      if (same) {
        e.lastSeenMs = nowMs;
        return 'refreshed';
      }
      e.template = t;
      e.lastSeenMs = nowMs;
      return 'replaced';
    }
    if (st.templateCount >= this.limits.maxTemplatesPerSession || this.total >= this.limits.maxTemplatesTotal) {
      return 'limit';
    }
    d.templates.set(t.id, { template: t, lastSeenMs: nowMs });
    st.templateCount++;
    this.total++;
    return 'added';
  }

  /** Withdraws one template, or all (options) templates with `all`. Returns how many went. */
  withdraw(st: SessionState, d: DomainState, id: number, all: 'none' | 'data' | 'options'): number {
    if (all === 'none') {
      if (!d.templates.delete(id)) return 0;
      st.templateCount--;
      this.total--;
      return 1;
    }
    let n = 0;
    for (const [tid, e] of d.templates) {
      if (e.template.isOptions === (all === 'options')) {
        d.templates.delete(tid);
        n++;
      }
    }
    st.templateCount -= n;
    this.total -= n;
    return n;
  }

  /** Holds a data set for later; returns false when the session's pending bound is reached. */
  hold(st: SessionState, p: PendingSet): boolean {
    const bytes = p.end - p.pos;
    if (st.pending.length >= this.limits.maxPendingSetsPerSession || st.pendingBytes + bytes > this.limits.maxPendingBytesPerSession) {
      return false;
    }
    st.pending.push(p);
    st.pendingBytes += bytes;
    return true;
  }

  /** Removes and returns the held sets of (domain, template id), oldest first. */
  takePending(st: SessionState, domainId: number, templateId: number): PendingSet[] {
    if (st.pending.length === 0) return [];
    const hit: PendingSet[] = [];
    const keep: PendingSet[] = [];
    for (const p of st.pending) {
      if (p.templateId === templateId && p.ctx.domainId === domainId) hit.push(p);
      else keep.push(p);
    }
    if (hit.length > 0) {
      st.pending = keep;
      for (const p of hit) st.pendingBytes -= p.end - p.pos;
    }
    return hit;
  }

  /** Removes held sets older than the timeout (or all with `everything`) and returns them. */
  expirePending(nowMs: number, everything = false): PendingSet[] {
    const out: PendingSet[] = [];
    for (const st of this.sessions.values()) {
      if (st.pending.length === 0) continue;
      const keep: PendingSet[] = [];
      for (const p of st.pending) {
        if (everything || nowMs - p.heldAtMs > this.limits.pendingTimeoutMs) {
          out.push(p);
          st.pendingBytes -= p.end - p.pos;
        } else keep.push(p);
      }
      st.pending = keep;
    }
    return out;
  }

  /** Drops UDP templates past their lifetime; returns how many. Called from a periodic tick. */
  expireTemplates(nowMs: number): number {
    let n = 0;
    for (const st of this.sessions.values()) {
      if (st.session.transport === 'tcp') continue;
      for (const d of st.domains.values()) {
        for (const [tid, e] of d.templates) {
          if (nowMs - e.lastSeenMs > this.limits.udpTemplateLifetimeMs) {
            d.templates.delete(tid);
            st.templateCount--;
            this.total--;
            n++;
          }
        }
      }
    }
    return n;
  }
}
