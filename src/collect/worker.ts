import { parentPort, workerData } from 'node:worker_threads';
import { loadRegistry } from '../model/registry.js';
import { dropLogger } from '../pipeline/drop-log.js';
import { makeSession, type TransportSession } from '../wire/batch.js';
import { restoredText } from '../wire/template-store.js';
import { transferables, type EncodedPart } from './encoders.js';
import { Fanout } from './fanout.js';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js';
import { laneOf } from './worker-pool.js';

/**
 * A decode worker: datagrams in, encoded parts out. Each transport session is pinned to one worker
 * by the receiving thread, so template state never has to be shared between threads.
 */
const port = parentPort;
if (port === null) throw new Error('collect/worker.ts must run in a worker thread');
const cfg = workerData as WorkerConfig;
const send = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []);

const registry = loadRegistry(cfg.ieFiles);
const fanout = new Fanout({
  registry,
  limits: cfg.limits,
  encoders: cfg.encoders,
  sampling: cfg.sampling,
  onDrop: dropLogger((msg) => send({ t: 'log', level: 'warn', msg })),
});
const sessions = new Map<number, TransportSession>();
if (cfg.restore !== undefined) {
  const r = fanout.restore(cfg.restore, Date.now(), (s) => laneOf(s.key, cfg.workers) === cfg.worker);
  if (r.templates > 0) send({ t: 'log', level: 'info', msg: `decode worker ${cfg.worker}: ${restoredText(r)}` });
}

function flush(datagrams: number, all: boolean): void {
  const parts = fanout.take(all).map((p) => p ?? null);
  if (parts.every((p) => p === null)) {
    if (datagrams > 0) send({ t: 'out', parts, datagrams });
    return;
  }
  send({ t: 'out', parts, datagrams }, parts.flatMap((p: EncodedPart | null) => (p === null ? [] : transferables(p))));
}

const tick = setInterval(() => fanout.tick(Date.now()), 5000);
// Partly filled store blocks leave at least once a second, so stored rows lag the wire by little.
const drain = setInterval(() => flush(0, true), 1000);

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'data': {
      // The receiving thread forgets its session ids past a bound and announces new ones; follow it.
      if (sessions.size > 250_000) sessions.clear();
      for (const s of m.sessions) sessions.set(s.id, makeSession(s.transport, s.address, s.port, s.localPort));
      const all = Buffer.from(m.data);
      const ix = m.index;
      const n = ix.length / 4;
      for (let i = 0; i < n; i++) {
        const s = sessions.get(ix[4 * i + 2]!);
        if (s === undefined) continue;
        const off = ix[4 * i]!;
        fanout.handle(all.subarray(off, off + ix[4 * i + 1]!), s, ix[4 * i + 3]!);
      }
      flush(n, false);
      break;
    }
    case 'close': {
      const s = sessions.get(m.sessionId);
      if (s !== undefined) {
        fanout.closeSession(s);
        sessions.delete(m.sessionId);
      }
      break;
    }
    case 'snapshot':
      send({ t: 'snapshot', id: m.id, snapshot: fanout.stage.decoder.store.snapshot(Date.now()) });
      break;
    case 'stop': {
      clearInterval(tick);
      clearInterval(drain);
      fanout.flush();
      flush(0, true);
      send({ t: 'stopped', counters: fanout.counters() });
      port.close();
      break;
    }
  }
});
