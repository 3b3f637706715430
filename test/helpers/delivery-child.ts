/**
 * The delivery pipeline in a child process, for kill -9 tests. Started as
 *   node --import tsx test/helpers/delivery-child.ts '<json config>'
 * it reads commands as JSON lines on stdin and reports events as JSON lines on stdout:
 *   {"op":"flows","offset":0,"n":300}   decode and push n distinct flows (real IPFIX encode + decode)
 *   {"op":"flush"}                       close the window; reply {"ev":"flushed"} once it is spooled
 *   {"op":"stop"}                        stop(); reply {"ev":"stopped"} and exit
 * Config `pauseOnWrite: n` makes the n-th spool file write stop half-way (after writing half the
 * bytes, before fsync and rename) and report {"ev":"paused"} so the test can kill it mid-spooling.
 */
import { createInterface } from 'node:readline';
import { Registry } from 'prom-client';
import { Delivery } from '../../src/outputs/upload/delivery.js';
import type { Log } from '../../src/model/contracts.js';
import { nodeSpoolIo, type SpoolIo } from '../../src/outputs/upload/spool.js';
import { Decoded, distinctFlows, feedFlows } from './flows.js';

interface ChildConfig {
  readonly dir: string;
  readonly url: string;
  readonly caFile: string;
  readonly keyId: string;
  readonly secret: string;
  readonly orgId: number;
  readonly maxLinesPerPost: number;
  readonly maxInFlight: number;
  readonly retryMinutes: number;
  readonly pauseOnWrite?: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const emit = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
const line = (level: string) => (obj: object, msg?: string) => void process.stderr.write(`${level} ${msg ?? ''} ${JSON.stringify(obj)}\n`);
const log: Log = { debug: () => undefined, info: line('info'), warn: line('warn'), error: line('error') };

let writes = 0;
const io: SpoolIo = {
  ...nodeSpoolIo,
  async writeDurable(path, data) {
    writes++;
    if (cfg.pauseOnWrite !== undefined && writes === cfg.pauseOnWrite) {
      const { open } = await import('node:fs/promises');
      const fh = await open(path, 'wx');
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
      await fh.write(buf, 0, Math.floor(buf.length / 2));
      emit({ ev: 'paused', path });
      await new Promise(() => undefined); // until SIGKILL
    }
    return nodeSpoolIo.writeDurable(path, data);
  },
};

const delivery = new Delivery(
  {
    dataDirectory: cfg.dir,
    aggregationMinutes: 60,
    dataDirectorySizeMb: 100,
    fileRetentionHours: 24,
    pce: { url: cfg.url, orgId: cfg.orgId, keyId: cfg.keyId, secret: cfg.secret, caFile: cfg.caFile, insecure: false, maxLinesPerPost: cfg.maxLinesPerPost, maxInFlight: cfg.maxInFlight, retryMinutes: cfg.retryMinutes },
    http: [],
    debug: false,
    log,
    metrics: new Registry(),
  },
  { io, requestTimeoutMs: 30_000, stopGraceMs: 5000 },
);

const dec = new Decoded();
await delivery.start();
emit({ ev: 'started', pid: process.pid });
for await (const text of createInterface({ input: process.stdin })) {
  if (text.trim() === '') continue;
  const cmd = JSON.parse(text) as { op: string; offset?: number; n?: number };
  if (cmd.op === 'flows') {
    feedFlows(dec, delivery, distinctFlows(cmd.n ?? 0, cmd.offset ?? 0), Date.now());
    emit({ ev: 'fed', n: cmd.n });
  } else if (cmd.op === 'flush') {
    await delivery.flushNow('window_end');
    emit({ ev: 'flushed' });
  } else if (cmd.op === 'stop') {
    await delivery.stop();
    emit({ ev: 'stopped' });
    process.exit(0);
  }
}
