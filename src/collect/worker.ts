import { parentPort, workerData } from 'node:worker_threads';
import { loadRegistry } from '../model/registry.js';
import { dropLogger } from '../pipeline/drop-log.js';
import { Ipfixcol2JsonFormatter } from '../format/ipfixcol2-json.js';
import { ByteOutput } from '../format/byte-output.js';
import { DecodeStage } from '../pipeline/decode.js';
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

// One formatter and buffer per format group: outputs sharing options share one formatting pass.
const formatters = cfg.formats.map((f) => new Ipfixcol2JsonFormatter(f));
// JSON is formatted straight into UTF-8 bytes, which keeps that work off the receiving thread.
const outs = formatters.map(() => new ByteOutput(256 * 1024));
const withTemplates = formatters.map((f, i) => [f, outs[i]!] as const).filter(([f]) => f.options.templateInfo);
const pipeline = new DecodeStage({
  registry: loadRegistry(cfg.ieFiles),
  limits: cfg.limits,
  onBatch: (b) => {
    for (let i = 0; i < formatters.length; i++) formatters[i]!.formatBatchInto(b, outs[i]!);
  },
  onTemplate:
    withTemplates.length > 0
      ? (ev) => {
          for (const [f, o] of withTemplates) o.writeString(f.formatTemplate(ev.ctx, ev.template, ev.withdrawn));
        }
      : undefined,
  onDrop: dropLogger((msg) => send({ t: 'log', level: 'warn', msg })),
});
const sessions = new Map<number, TransportSession>();

function flush(datagrams: number): void {
  if (outs.every((o) => o.len === 0)) {
    if (datagrams > 0) send({ t: 'out', data: [], datagrams });
    return;
  }
  // Copies in buffers of their own, transferred: the output buffers stay here for the next batch.
  const data = outs.map((out) => {
    if (out.len === 0) return new ArrayBuffer(0);
    const b = out.take();
    return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer as ArrayBuffer) : new Uint8Array(b).buffer;
  });
  send({ t: 'out', data, datagrams }, data.filter((ab) => ab.byteLength > 0));
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
