import { parentPort, workerData } from 'node:worker_threads';
import { dropLogger, loadRegistry, makeFormatter } from '../cli/common.js';
import { ByteOutput } from '../format/byte-output.js';
import { DecodePipeline } from '../model/decode-pipeline.js';
import { makeSession, type TransportSession } from '../wire/batch.js';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js';

/**
 * A decode worker: datagrams in, JSON bytes out. Each transport session is pinned to one worker by
 * the receiving thread, so template state never has to be shared between threads.
 */
const port = parentPort;
if (port === null) throw new Error('decode-worker must run in a worker thread');
const cfg = workerData as WorkerConfig;
const send = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []);

const formatter = makeFormatter(cfg.format);
// JSON is formatted straight into UTF-8 bytes, which keeps that work off the receiving thread.
const out = new ByteOutput(256 * 1024);
const pipeline = new DecodePipeline({
  registry: loadRegistry(cfg.ieFiles),
  limits: cfg.limits,
  onBatch: (b) => formatter.formatBatchInto(b, out),
  onTemplate: formatter.options.templateInfo ? (ev) => !ev.withdrawn && out.writeString(formatter.formatTemplate(ev.ctx, ev.template)) : undefined,
  onDrop: dropLogger((msg) => send({ t: 'log', level: 'warn', msg })),
});
const sessions = new Map<number, TransportSession>();

function flush(datagrams: number): void {
  if (out.len === 0) {
    if (datagrams > 0) send({ t: 'out', data: new ArrayBuffer(0), datagrams });
    return;
  }
  // A copy in a buffer of its own, transferred: the output buffer stays here for the next batch.
  const b = out.take();
  const ab = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer as ArrayBuffer) : new Uint8Array(b).buffer;
  send({ t: 'out', data: ab, datagrams }, [ab]);
}

const tick = setInterval(() => pipeline.decoder.tick(Date.now()), 5000);

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
        pipeline.handle(all.subarray(off, off + ix[4 * i + 1]!), s, ix[4 * i + 3]!);
      }
      flush(n);
      break;
    }
    case 'close': {
      const s = sessions.get(m.sessionId);
      if (s !== undefined) {
        pipeline.decoder.closeSession(s);
        sessions.delete(m.sessionId);
      }
      break;
    }
    case 'stop': {
      clearInterval(tick);
      pipeline.decoder.flush();
      flush(0);
      const c = pipeline.counters;
      send({ t: 'stopped', counters: { datagrams: c.datagrams, records: c.records, optionsRecords: c.optionsRecords, drops: c.drops.toJSON() } });
      port.close();
      break;
    }
  }
});
