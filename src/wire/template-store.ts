import { SluiceError } from '../util/errors.js';
import { makeSession, type MessageContext, type TransportSession } from './batch.js';
import type { IeResolver } from './fixed-formats.js';
import { makeTemplate, type FieldSpec, type Template } from './template.js';

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
  /** Every session's state, for the per-exporter gauges (templates, samplers); read, never written. */
  sessionStates(): IterableIterator<SessionState> {
    return this.sessions.values();
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

  /** Whether add() of template `id` would be taken (a definition of a known id always is). */
  canAdd(st: SessionState, d: DomainState, id: number): boolean {
    return d.templates.has(id) || (st.templateCount < this.limits.maxTemplatesPerSession && this.total < this.limits.maxTemplatesTotal);
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

  /**
   * The UDP and file sessions' templates and options facts that are still alive at `nowMs`, with
   * the time each was last seen. Pure: the caller writes it where it likes (collect/template-state).
   */
  snapshot(nowMs: number): TemplateSnapshot {
    const lifetime = this.limits.udpTemplateLifetimeMs;
    const sessions: SessionSnapshot[] = [];
    for (const st of this.sessions.values()) {
      const s = st.session;
      if (s.transport !== 'udp' && s.transport !== 'file') continue;
      const domains: DomainSnapshot[] = [];
      for (const d of st.domains.values()) {
        const templates: TemplateSnapshotEntry[] = [];
        for (const e of d.templates.values()) {
          if (nowMs - e.lastSeenMs > lifetime) continue;
          const t = e.template;
          const fields: number[] = [];
          for (const f of t.fields) fields.push(f.id, f.pen, f.length);
          templates.push({ id: t.id, origin: t.origin === 'netflow9' ? 'netflow9' : 'ipfix', scopeCount: t.scopeCount, isOptions: t.isOptions, fields, seenMs: e.lastSeenMs });
        }
        const facts = nowMs - d.optionsSeenMs <= lifetime;
        if (templates.length === 0 && !facts) continue;
        domains.push({
          id: d.id,
          systemInitTimeMs: facts ? nullable(d.systemInitTimeMs) : null,
          samplingInterval: facts && d.samplingInterval > 0 && Number.isFinite(d.samplingInterval) ? d.samplingInterval : 0,
          samplingAlgorithm: facts ? u32(d.samplingAlgorithm) : 0,
          samplers: facts ? [...d.samplers] : [],
          optionsSeenMs: facts ? d.optionsSeenMs : null,
          templates,
        });
      }
      if (domains.length > 0) sessions.push({ transport: s.transport, address: s.address, port: s.port, localPort: s.localPort, seenMs: st.lastSeenMs, domains });
    }
    return { format: 'sluice.templates', version: 1, takenMs: nowMs, sessions };
  }

  /**
   * Brings back what snapshot() saved: templates re-resolved against `registry`, last-seen times
   * kept, so the UDP lifetime goes on counting through the downtime (expired ones stay out).
   * What the live store already has wins. The store's bounds apply as to any template. `accept`
   * picks sessions (e.g. the ones a decode worker owns). Throws TemplateSnapshotError, before
   * changing anything, when `value` is not a snapshot.
   */
  restore(value: unknown, registry: IeResolver, nowMs: number, accept?: (s: TransportSession) => boolean): RestoreResult {
    const snap = parseTemplateSnapshot(value);
    const lifetime = this.limits.udpTemplateLifetimeMs;
    const r = { sessions: 0, templates: 0, facts: 0, expired: 0, kept: 0, refused: 0 };
    // Oldest first, so map order stays recency order; past the session bound only the newest count.
    const order = [...snap.sessions].sort((a, b) => a.seenMs - b.seenMs).slice(-this.limits.maxSessions);
    for (const ss of order) {
      const session = makeSession(ss.transport, ss.address, ss.port, ss.localPort);
      if (accept !== undefined && !accept(session)) continue;
      let st: SessionState | undefined;
      for (const ds of ss.domains) {
        const facts = ds.optionsSeenMs !== null && nowMs - ds.optionsSeenMs <= lifetime;
        if (!facts && ds.optionsSeenMs !== null) r.expired++;
        const live = ds.templates.filter((t) => {
          if (nowMs - t.seenMs <= lifetime) return true;
          r.expired++;
          return false;
        });
        if (live.length === 0 && !facts) continue;
        st ??= this.session(session, nowMs);
        const d = st.domain(ds.id);
        if (facts && Number.isNaN(d.optionsSeenMs)) {
          if (ds.systemInitTimeMs !== null) d.systemInitTimeMs = ds.systemInitTimeMs;
          d.samplingInterval = ds.samplingInterval;
          d.samplingAlgorithm = ds.samplingAlgorithm;
          for (const [id, interval] of ds.samplers) if (d.samplers.size < 4096) d.samplers.set(id, interval);
          d.optionsSeenMs = ds.optionsSeenMs!;
          r.facts++;
        }
        for (const ts of live) {
          if (d.templates.has(ts.id)) {
            r.kept++;
            continue;
          }
          const fields: FieldSpec[] = [];
          for (let k = 0; k < ts.fields.length; k += 3) {
            const id = ts.fields[k]!;
            const pen = ts.fields[k + 1]!;
            fields.push({ id, pen, length: ts.fields[k + 2]!, ie: registry.get(pen, id) });
          }
          const t = makeTemplate(ts.id, ts.origin, fields, ts.scopeCount, ts.isOptions);
          if (this.add(st, d, t, nowMs) === 'limit') {
            r.refused++;
            continue;
          }
          d.templates.get(ts.id)!.lastSeenMs = ts.seenMs;
          r.templates++;
        }
      }
      if (st !== undefined) {
        st.lastSeenMs = ss.seenMs;
        r.sessions++;
      }
    }
    return r;
  }
}

// ---- snapshots: templates that survive a restart ------------------------------------------------

/**
 * The JSON form of the store's UDP and file sessions: templates and options facts with the time
 * each was last seen, on the clock the caller passes as `nowMs` (wall clock for a collector,
 * capture time for offline decoding). TCP sessions are left out: their templates end with their
 * connection (RFC 7011 8.1).
 */
export interface TemplateSnapshot {
  readonly format: 'sluice.templates';
  readonly version: 1;
  readonly takenMs: number;
  readonly sessions: readonly SessionSnapshot[];
}

export interface SessionSnapshot {
  readonly transport: 'udp' | 'file';
  readonly address: string;
  readonly port: number;
  readonly localPort: number;
  readonly seenMs: number;
  readonly domains: readonly DomainSnapshot[];
}

export interface DomainSnapshot {
  /** Observation domain id (IPFIX) / source id (v9). */
  readonly id: number;
  /** systemInitTimeMilliseconds; null when never announced. */
  readonly systemInitTimeMs: number | null;
  readonly samplingInterval: number;
  readonly samplingAlgorithm: number;
  /** [sampler id, interval] pairs. */
  readonly samplers: readonly (readonly [number, number])[];
  /** When options last taught the domain something; null when never. */
  readonly optionsSeenMs: number | null;
  readonly templates: readonly TemplateSnapshotEntry[];
}

export interface TemplateSnapshotEntry {
  readonly id: number;
  readonly origin: 'netflow9' | 'ipfix';
  readonly scopeCount: number;
  readonly isOptions: boolean;
  /** Field specifiers as flat [element id, enterprise number, length] triples. */
  readonly fields: readonly number[];
  readonly seenMs: number;
}

/** "restored 3 templates of 2 sessions (1 expired)": restore()'s result as every restorer logs it. */
export function restoredText(r: RestoreResult): string {
  return `restored ${r.templates} templates of ${r.sessions} sessions (${r.expired} expired)`;
}

/** What restore() did. */
export interface RestoreResult {
  readonly sessions: number;
  readonly templates: number;
  /** Domains whose options facts (systemInitTime, sampling) were restored. */
  readonly facts: number;
  /** Templates (and domains' facts) past the UDP lifetime: left out. */
  readonly expired: number;
  /** Templates the live store already had: the live definition wins. */
  readonly kept: number;
  /** Templates refused by the store's bounds. */
  readonly refused: number;
}

/** A snapshot that is not one, or not one this version reads; `path` says where (JSONPath-like). */
export class TemplateSnapshotError extends SluiceError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super('state', `${path}: ${message}`);
  }
}

const MAX_U32 = 0xffffffff;
const nullable = (v: number): number | null => (Number.isFinite(v) ? v : null);
/** An options value as the snapshot keeps it: what a malformed record left (NaN, a fraction) becomes 0. */
const u32 = (v: number): number => (Number.isInteger(v) && v >= 0 && v <= MAX_U32 ? v : 0);

function fail(path: string, message: string): never {
  throw new TemplateSnapshotError(path, message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `expected an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function time(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, `expected a time in ms, got ${JSON.stringify(v)}`);
  return v;
}

function list(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) fail(path, 'expected an array');
  if (v.length > max) fail(path, `${v.length} entries, at most ${max} expected`);
  return v;
}


/**
 * Checks that `value` (parsed JSON) is a template snapshot this version reads, and returns it typed.
 * Throws TemplateSnapshotError naming the first bad spot, e.g. `$.sessions[3].domains[0].templates[2].fields`.
 */
export function parseTemplateSnapshot(value: unknown): TemplateSnapshot {
  if (!isObject(value) || value.format !== 'sluice.templates') fail('$.format', 'not a sluice template snapshot');
  if (value.version !== 1) fail('$.version', `version ${JSON.stringify(value.version)} is not one this sluice reads (1)`);
  time(value.takenMs, '$.takenMs');
  const sessions = list(value.sessions, '$.sessions', 1 << 20);
  sessions.forEach((ss, i) => {
    const p = `$.sessions[${i}]`;
    if (!isObject(ss)) fail(p, 'expected an object');
    if (ss.transport !== 'udp' && ss.transport !== 'file') fail(`${p}.transport`, `expected "udp" or "file", got ${JSON.stringify(ss.transport)}`);
    if (typeof ss.address !== 'string' || ss.address.length > 255) fail(`${p}.address`, 'expected an address string');
    int(ss.port, `${p}.port`, 0, 65535);
    int(ss.localPort, `${p}.localPort`, 0, 65535);
    time(ss.seenMs, `${p}.seenMs`);
    list(ss.domains, `${p}.domains`, 1 << 16).forEach((ds, j) => {
      const q = `${p}.domains[${j}]`;
      if (!isObject(ds)) fail(q, 'expected an object');
      int(ds.id, `${q}.id`, 0, MAX_U32);
      if (ds.systemInitTimeMs !== null) time(ds.systemInitTimeMs, `${q}.systemInitTimeMs`);
      if (typeof ds.samplingInterval !== 'number' || !(ds.samplingInterval >= 0) || !Number.isFinite(ds.samplingInterval)) fail(`${q}.samplingInterval`, 'expected a number >= 0');
      int(ds.samplingAlgorithm, `${q}.samplingAlgorithm`, 0, MAX_U32);
      if (ds.optionsSeenMs !== null) time(ds.optionsSeenMs, `${q}.optionsSeenMs`);
      list(ds.samplers, `${q}.samplers`, 4096).forEach((pair, k) => {
        const a = list(pair, `${q}.samplers[${k}]`, 2);
        int(a[0], `${q}.samplers[${k}][0]`, 0, Number.MAX_SAFE_INTEGER);
        if (typeof a[1] !== 'number' || !(a[1] > 0) || !Number.isFinite(a[1])) fail(`${q}.samplers[${k}][1]`, 'expected an interval > 0');
      });
      list(ds.templates, `${q}.templates`, 65536).forEach((ts, k) => {
        const r = `${q}.templates[${k}]`;
        if (!isObject(ts)) fail(r, 'expected an object');
        int(ts.id, `${r}.id`, 256, 65535);
        if (ts.origin !== 'netflow9' && ts.origin !== 'ipfix') fail(`${r}.origin`, `expected "netflow9" or "ipfix", got ${JSON.stringify(ts.origin)}`);
        if (typeof ts.isOptions !== 'boolean') fail(`${r}.isOptions`, 'expected true or false');
        time(ts.seenMs, `${r}.seenMs`);
        // A template fits one set of at most 65535 bytes: 4 bytes per field at least.
        const fields = list(ts.fields, `${r}.fields`, 3 * 16383);
        if (fields.length % 3 !== 0) fail(`${r}.fields`, `expected [id, enterprise, length] triples, got ${fields.length} numbers`);
        for (let f = 0; f < fields.length; f += 3) {
          int(fields[f], `${r}.fields[${f}]`, 0, 65535);
          int(fields[f + 1], `${r}.fields[${f + 1}]`, 0, MAX_U32);
          int(fields[f + 2], `${r}.fields[${f + 2}]`, 0, 65535);
        }
        int(ts.scopeCount, `${r}.scopeCount`, 0, fields.length / 3);
      });
    });
  });
  return value as unknown as TemplateSnapshot;
}

/**
 * One snapshot from several (one per decode worker: each owns its sessions). A session found in
 * more than one keeps the most recently seen copy.
 */
export function mergeSnapshots(snaps: readonly TemplateSnapshot[]): TemplateSnapshot {
  const byKey = new Map<string, SessionSnapshot>();
  let takenMs = 0;
  for (const s of snaps) {
    takenMs = Math.max(takenMs, s.takenMs);
    for (const ss of s.sessions) {
      const key = makeSession(ss.transport, ss.address, ss.port, ss.localPort).key;
      const had = byKey.get(key);
      if (had === undefined || had.seenMs < ss.seenMs) byKey.set(key, ss);
    }
  }
  return { format: 'sluice.templates', version: 1, takenMs, sessions: [...byKey.values()] };
}
