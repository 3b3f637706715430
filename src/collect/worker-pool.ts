import { Worker } from 'node:worker_threads';
import type { TransportSession } from '../wire/batch.js';
import type { EncodedPart } from './encoders.js';
import type { TemplateSnapshot } from '../wire/template-store.js';
import type { FromWorker, SessionDef, ToWorker, WorkerConfig, WorkerCounters } from './protocol.js';

export interface WorkerPoolHooks {
  /** What encoder `encoder` (index into WorkerConfig.encoders) produced in a worker. */
  readonly onPart: (encoder: number, part: EncodedPart, worker: number) => void;
  readonly onLog: (level: 'warn' | 'error' | 'info', msg: string) => void;
}

interface Lane {
  readonly worker: Worker;
  /** Datagrams packed for the next post. */
  parts: Buffer[];
  index: number[];
  bytes: number;
  newSessions: SessionDef[];
  /** Posted but not yet reported back as processed: the bound on queued work. */
  inFlight: number;
  stopped: Promise<WorkerCounters>;
}

/** Young generation of a decode worker (V8's default is 16 MiB a semi-space on 64-bit machines). */
const YOUNG_GENERATION_MB = Number(process.env.SLUICE_WORKER_YOUNG_MB ?? 8);

/** Datagrams queued for one worker beyond which new ones are dropped (and counted) instead of buffered. */
const MAX_IN_FLIGHT = 100_000;

/**
 * Spreads datagrams over decode workers. A transport session always goes to the same worker, so
 * each worker owns the templates of its sessions outright. Datagrams are packed per worker and
 * posted once per event-loop turn.
 */
export class WorkerPool {
  private readonly lanes: Lane[] = [];
  private readonly ids = new Map<string, { id: number; lane: number }>();
  private nextId = 1;
  private scheduled = false;
  /** Datagrams dropped because a worker fell too far behind. */
  overflow = 0;

  /** Snapshot requests waiting for their workers' answers. */
  readonly #snapshots = new Map<number, { left: number; got: TemplateSnapshot[]; done: (s: TemplateSnapshot[]) => void }>();
  #snapshotId = 0;
  /** Datagrams dropped per sender because its worker fell behind (bounded), for the metrics. */
  readonly overflowBy = new Map<string, number>();

  constructor(
    size: number,
    config: Omit<WorkerConfig, 'worker' | 'workers'>,
    hooks: WorkerPoolHooks,
  ) {
    const script = workerScript();
    for (let i = 0; i < size; i++) {
      // A small young generation: a decode worker's garbage is short-lived batches, and each MiB of semi-space is RSS.
      const worker = new Worker(script, { workerData: { ...config, worker: i, workers: size } satisfies WorkerConfig, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
      const lane: Lane = { worker, parts: [], index: [], bytes: 0, newSessions: [], inFlight: 0, stopped: Promise.resolve({ datagrams: 0, records: 0, optionsRecords: 0, drops: {} }) };
      lane.stopped = new Promise<WorkerCounters>((resolve, reject) => {
        worker.on('message', (m: FromWorker) => {
          if (m.t === 'out') {
            lane.inFlight -= m.datagrams;
            for (let k = 0; k < m.parts.length; k++) {
              const p = m.parts[k];
              if (p !== null && p !== undefined) hooks.onPart(k, p, i);
            }
          } else if (m.t === 'log') hooks.onLog(m.level, m.msg);
          else if (m.t === 'snapshot') {
            const w = this.#snapshots.get(m.id);
            if (w !== undefined) {
              w.got.push(m.snapshot);
              if (--w.left === 0) {
                this.#snapshots.delete(m.id);
                w.done(w.got);
              }
            }
          }
          else if (m.t === 'stopped') resolve(m.counters);
        });
        worker.on('error', (err) => {
          hooks.onLog('error', `decode worker ${i} failed: ${err.message}`);
          reject(err);
        });
      });
      this.lanes.push(lane);
    }
  }

  handle(buf: Buffer, session: TransportSession, nowMs: number): void {
    let e = this.ids.get(session.key);
    if (e === undefined) {
      if (this.ids.size > 200_000) this.ids.clear(); // bounded under address floods; sessions are re-announced
      e = { id: this.nextId++, lane: laneOf(session.key, this.lanes.length) };
      this.ids.set(session.key, e);
      this.lanes[e.lane]!.newSessions.push({ id: e.id, transport: session.transport, address: session.address, port: session.port, localPort: session.localPort });
    }
    const lane = this.lanes[e.lane]!;
    if (lane.inFlight + lane.index.length / 4 >= MAX_IN_FLIGHT) {
      this.overflow++;
      if (this.overflowBy.size < 10_000 || this.overflowBy.has(session.address)) this.overflowBy.set(session.address, (this.overflowBy.get(session.address) ?? 0) + 1);
      return;
    }
    lane.index.push(lane.bytes, buf.length, e.id, nowMs);
    lane.parts.push(buf);
    lane.bytes += buf.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.post());
    }
  }

  /** A TCP session ended. */
  close(session: TransportSession): void {
    const e = this.ids.get(session.key);
    if (e === undefined) return;
    this.post();
    this.ids.delete(session.key);
    this.lanes[e.lane]!.worker.postMessage({ t: 'close', sessionId: e.id } satisfies ToWorker);
  }

  private post(): void {
    this.scheduled = false;
    for (const lane of this.lanes) {
      if (lane.index.length === 0) continue;
      const data = Buffer.concat(lane.parts, lane.bytes);
      const ab = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? (data.buffer as ArrayBuffer) : new Uint8Array(data).buffer;
      const index = Float64Array.from(lane.index);
      const msg: ToWorker = { t: 'data', data: ab, index, sessions: lane.newSessions };
      lane.worker.postMessage(msg, [ab, index.buffer]);
      lane.inFlight += lane.index.length / 4;
      lane.parts = [];
      lane.index = [];
      lane.bytes = 0;
      lane.newSessions = [];
    }
  }

  /** Datagrams posted and not yet processed, over all workers. */
  get inFlight(): number {
    let n = 0;
    for (const l of this.lanes) n += l.inFlight + l.index.length / 4;
    return n;
  }

  /**
   * Resolves once fewer than `max` datagrams wait for the workers: a reader that can wait (an
   * import) waits here instead of meeting the bound at which live traffic is dropped.
   */
  async waitForRoom(max: number): Promise<void> {
    this.post();
    while (this.inFlight >= max) await new Promise((r) => setTimeout(r, 1));
  }

  /** Every worker's templates (datagrams posted before are decoded first: the messages keep their order). */
  snapshot(): Promise<TemplateSnapshot[]> {
    this.post();
    const id = ++this.#snapshotId;
    return new Promise((done) => {
      this.#snapshots.set(id, { left: this.lanes.length, got: [], done });
      for (const lane of this.lanes) lane.worker.postMessage({ t: 'snapshot', id } satisfies ToWorker);
    });
  }

  /** Drains, stops every worker and returns their summed counters. */
  async stop(): Promise<WorkerCounters> {
    this.post();
    for (const lane of this.lanes) lane.worker.postMessage({ t: 'stop' } satisfies ToWorker);
    const all = await Promise.all(this.lanes.map((l) => l.stopped));
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
    const sum: WorkerCounters = { datagrams: 0, records: 0, optionsRecords: 0, drops: {} };
    for (const c of all) {
      sum.datagrams += c.datagrams;
      sum.records += c.records;
      sum.optionsRecords += c.optionsRecords;
      for (const [k, v] of Object.entries(c.drops)) sum.drops[k] = (sum.drops[k] ?? 0) + v;
    }
    return sum;
  }
}

/**
 * The worker entry. From dist/ it is the compiled file. Under tsx (npm start, tests) Node 20 does not
 * carry the parent's --import loader hooks into workers, so a tiny bootstrap registers tsx first.
 */
function workerScript(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./worker.js', import.meta.url);
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code = `const { register } = await import(${JSON.stringify(api)}); register(); await import(${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** The worker a transport session is pinned to: the same in the pool and in each worker (restore). */
export function laneOf(sessionKey: string, workers: number): number {
  return hash(sessionKey) % workers;
}

/** FNV-1a over the session key: stable, cheap, evenly spread. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
