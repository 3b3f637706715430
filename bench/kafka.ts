/**
 * Records/s through the Kafka output to a real broker: librdkafka's mock cluster (Debian's kcat,
 * see test/helpers/kafka-mock.ts), one broker, topic `bench` with 4 partitions. Input: the
 * softflowd-style IPFIX stream (bench/ipfix-stream.ts) decoded and formatted once up front, as
 * 256 KB chunks of JSON lines, the way the collector hands them to an output.
 *
 * Timed: from the first write() until close() resolves, i.e. until the broker has acknowledged
 * every record (acks=all). Also reported: the cost of write() alone (handing records to
 * librdkafka, on the caller's thread). Rows: default properties, gzip, lz4, a fixed partition,
 * 100 records per message; and the peer, librdkafka's producer (kcat -P) with the same lines, with
 * each row's ratio to it.
 *
 *   node --import tsx bench/kafka.ts             (RECORDS=500000 to change the amount)
 *   node --import tsx bench/kafka.ts --clients   the client libraries alone, side by side with kcat -P
 *                                                (how the output's client was chosen; candidates that
 *                                                are not installed are listed as such)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ByteOutput } from '../src/format/byte-output.js';
import { Ipfixcol2JsonFormatter } from '../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { createKafkaOutput } from '../src/outputs/kafka.js';
import { makeSession } from '../src/wire/batch.js';
import { IeRegistry, protocolKeyword } from '../src/wire/ie/registry.js';
import { haveKcat, startMockCluster } from '../test/helpers/kafka-mock.js';
import { buildIpfixStream } from './ipfix-stream.js';

export interface KafkaBenchRow {
  readonly name: string;
  readonly records: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  /** write() calls only: records/s the caller can hand over. */
  readonly enqueueRecordsPerSec: number;
  readonly dropped: number;
  /** Records/s of each round when the row is a median of several. */
  readonly rounds?: readonly number[];
}

/** JSON lines for about `records` flow records, in chunks of whole lines. */
export function jsonChunks(records: number): { chunks: Buffer[]; records: number; bytes: number } {
  const stream = buildIpfixStream();
  const fmt = new Ipfixcol2JsonFormatter({}, protocolKeyword);
  const out = new ByteOutput(1 << 20);
  const chunks: Buffer[] = [];
  let n = 0;
  let bytes = 0;
  const pipe = new DecodeStage({
    registry: IeRegistry.builtin(),
    onBatch: (b) => {
      fmt.formatBatchInto(b, out);
      if (out.len >= 256 * 1024) {
        const c = out.take();
        chunks.push(c);
        bytes += c.length;
      }
    },
  });
  const session = makeSession('udp', '127.0.0.1', 40000, 4739);
  while (n < records) {
    for (const d of stream.datagrams) pipe.handle(d, session, Date.now());
    n = chunks.reduce((a, c) => a + lineCount(c), 0);
  }
  if (out.len > 0) {
    const c = out.take();
    chunks.push(c);
    bytes += c.length;
    n += lineCount(c);
  }
  return { chunks, records: n, bytes };
}

function lineCount(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

export interface KafkaBenchOptions {
  /**
   * Rounds of the headline pair (defaults vs kcat -P), alternating, each row the median of its
   * rounds: one short run of either moves by 2x on a shared 2-core machine (the broker, the
   * producer and librdkafka's threads share it), alternation spreads that over both.
   */
  readonly rounds?: number;
}

interface Variant {
  readonly name: string;
  readonly properties: Record<string, string>;
  readonly partition?: number;
  readonly recordsPerMessage?: number;
}

export const DEFAULTS_ROW = 'kafka (defaults, acks=all)';

export async function benchKafka(records = Number(process.env.RECORDS ?? 300_000), o: KafkaBenchOptions = {}): Promise<KafkaBenchRow[]> {
  if (!haveKcat()) throw new Error('bench/kafka.ts needs kcat (apt-get install kcat)');
  const input = jsonChunks(records);
  const cluster = await startMockCluster('bench');
  const rows: KafkaBenchRow[] = [];
  try {
    const variants: Variant[] = [
      { name: 'kafka compression.codec=gzip', properties: { 'compression.codec': 'gzip' } },
      { name: 'kafka compression.codec=lz4', properties: { 'compression.codec': 'lz4' } },
      { name: 'kafka partition=0', properties: {}, partition: 0 },
      { name: 'kafka recordsPerMessage=100', properties: {}, recordsPerMessage: 100 },
    ];
    // A first round of each warms the broker's partitions and this process's code; not counted.
    await runOutput(cluster.bootstrap, input, { name: DEFAULTS_ROW, properties: {} });
    await benchKcatProducer(cluster.bootstrap, input);
    const ours: KafkaBenchRow[] = [];
    const peers: KafkaBenchRow[] = [];
    for (let r = 0; r < Math.max(1, o.rounds ?? 3); r++) {
      peers.push(await benchKcatProducer(cluster.bootstrap, input));
      ours.push(await runOutput(cluster.bootstrap, input, { name: DEFAULTS_ROW, properties: {} }));
    }
    rows.push(median(ours));
    for (const v of variants) rows.push(await runOutput(cluster.bootstrap, input, v));
    rows.push(median(peers));
  } finally {
    await cluster.stop();
  }
  return rows;
}

/** ", median of rounds at 512 k, 498 k, 610 k records/s" when the row is a median. */
export function roundsText(r: KafkaBenchRow): string {
  return r.rounds === undefined ? '' : `, median of rounds at ${r.rounds.map((x) => `${Math.round(x / 1000)} k`).join(', ')} records/s`;
}

/** The row of the median rate, with every round's rate kept for the spread. */
function median(rounds: readonly KafkaBenchRow[]): KafkaBenchRow {
  const sorted = [...rounds].sort((a, b) => a.recordsPerSec - b.recordsPerSec);
  return { ...sorted[Math.floor(sorted.length / 2)]!, rounds: rounds.map((r) => r.recordsPerSec) };
}

/** The Kafka output as collect runs it, timed from the first write() until close() has every acknowledgement. */
async function runOutput(bootstrap: string, input: Input, v: Variant): Promise<KafkaBenchRow> {
  const out = createKafkaOutput(
    { brokers: [bootstrap], topic: 'bench', partition: v.partition, recordsPerMessage: v.recordsPerMessage, properties: v.properties, blocking: true },
    (level, msg) => {
      if (level !== 'info') console.error(`${level}: ${msg}`);
    },
    { closeTimeoutMs: 120_000 },
  );
  await out.open();
  const t0 = performance.now();
  for (const c of input.chunks) out.write(c);
  const tw = performance.now();
  await out.close();
  const ms = performance.now() - t0;
  return {
    name: v.name,
    records: out.counters.written,
    recordsPerSec: (out.counters.written / ms) * 1000,
    mbPerSec: input.bytes / ms / 1000,
    enqueueRecordsPerSec: (input.records / (tw - t0)) * 1000,
    dropped: out.counters.dropped,
  };
}

/**
 * The peer: librdkafka's own producer (`kcat -P`, one record per message, acks=all) sending the
 * same JSON lines to the same mock broker, timed from the first byte until kcat exits (it flushes
 * and waits for every acknowledgement before exiting).
 */
async function benchKcatProducer(bootstrap: string, input: Input): Promise<KafkaBenchRow> {
  const t0 = performance.now();
  const p = spawn('kcat', ['-b', bootstrap, '-P', '-t', 'bench', '-X', 'acks=all', '-X', 'queue.buffering.max.messages=1000000'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => p.on('exit', resolve));
  for (const c of input.chunks) if (!p.stdin!.write(c)) await new Promise((r) => p.stdin!.once('drain', r));
  const tw = performance.now();
  p.stdin!.end();
  const code = await exited;
  if (code !== 0) throw new Error(`kcat -P exited ${code}: ${err}`);
  const ms = performance.now() - t0;
  return {
    name: 'peer: kcat -P (librdkafka)',
    records: input.records,
    recordsPerSec: (input.records / ms) * 1000,
    mbPerSec: input.bytes / ms / 1000,
    enqueueRecordsPerSec: (input.records / (tw - t0)) * 1000,
    dropped: 0,
  };
}

/** The JSON lines of the bench input, each as a view (no copy), in order. */
function forEachLine(chunks: readonly Buffer[], fn: (line: Buffer) => void): void {
  for (const c of chunks) {
    let start = 0;
    for (let nl = c.indexOf(10); nl >= 0; nl = c.indexOf(10, start)) {
      if (nl > start) fn(c.subarray(start, nl));
      start = nl + 1;
    }
  }
}

type Input = { chunks: Buffer[]; records: number; bytes: number };

/**
 * A client library sending every line as its own message (acks=all, the partition left to the
 * client), timed from the first line handed over until every message is acknowledged. Each
 * candidate is loaded by name at run time, so the bench runs with whichever are installed.
 */
interface ClientCandidate {
  readonly name: string;
  readonly module: string;
  /** Resolves with the number of messages the broker acknowledged. */
  run(mod: unknown, bootstrap: string, topic: string, input: Input): Promise<number>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * kafkajs tuned: up to 5 produce requests in flight on the broker connection, 10 000 messages per
 * send(). Idempotent when asked (the order-safe form; kafkajs then asks the controller for a
 * producer id, which librdkafka's mock cluster does not name, so it fails there), else pipelined
 * in order on one connection, which keeps order until a request is retried.
 */
const kafkajsTuned = (idempotent: boolean): ClientCandidate => ({
  name: `kafkajs 2 tuned (${idempotent ? 'idempotent' : 'pipelined'}, 5 in flight)`,
  module: 'kafkajs',
  async run(mod, bootstrap, topic, input) {
    const k = ((mod as { default?: unknown }).default ?? mod) as typeof import('kafkajs');
    const kafka = new k.Kafka({ brokers: [bootstrap], clientId: 'bench', logLevel: k.logLevel.NOTHING });
    const producer = kafka.producer({ idempotent, maxInFlightRequests: 5, createPartitioner: k.Partitioners.DefaultPartitioner });
    await producer.connect();
    const inFlight = new Set<Promise<void>>();
    let acked = 0;
    let failure: unknown;
    let batch: { value: Buffer }[] = [];
    const flush = async () => {
      const messages = batch;
      batch = [];
      while (inFlight.size >= 5) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
      const p: Promise<void> = producer.send({ topic, messages, acks: -1 }).then(
        () => {
          acked += messages.length;
        },
        (err: unknown) => {
          failure = err;
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    };
    const pending: Buffer[] = [];
    forEachLine(input.chunks, (l) => pending.push(l));
    for (const l of pending) {
      batch.push({ value: l });
      if (batch.length >= 10_000) await flush();
    }
    if (batch.length > 0) await flush();
    await Promise.all(inFlight);
    await producer.disconnect();
    if (failure !== undefined) throw failure;
    return acked;
  },
});

interface PlatformaticModule {
  Producer: new (opts: Record<string, unknown>) => {
    send(o: { messages: Array<{ topic: string; value: Buffer }> }): Promise<unknown>;
    close(): Promise<void>;
  };
}

/** @platformatic/kafka (pure JS): idempotent, its default 5 requests in flight, 10 000 messages per send(). */
const platformatic: ClientCandidate = {
  name: '@platformatic/kafka (idempotent)',
  module: '@platformatic/kafka',
  async run(mod, bootstrap, topic, input) {
    const { Producer } = mod as PlatformaticModule;
    const producer = new Producer({ clientId: 'bench', bootstrapBrokers: [bootstrap], acks: -1, idempotent: true, autocreateTopics: false });
    const inFlight = new Set<Promise<void>>();
    let acked = 0;
    let failure: unknown;
    let batch: Array<{ topic: string; value: Buffer }> = [];
    const flush = async () => {
      const messages = batch;
      batch = [];
      while (inFlight.size >= 5) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
      const p = producer.send({ messages }).then(
        () => {
          acked += messages.length;
        },
        (err: unknown) => {
          failure = err;
        },
      );
      const tracked: Promise<void> = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    };
    const pending: Buffer[] = [];
    forEachLine(input.chunks, (l) => pending.push(l));
    for (const l of pending) {
      batch.push({ topic, value: l });
      if (batch.length >= 10_000) await flush();
    }
    if (batch.length > 0) await flush();
    await Promise.all(inFlight);
    await producer.close();
    if (failure !== undefined) throw failure;
    return acked;
  },
};

interface RdkafkaProducer {
  connect(o: object, cb: (err: unknown) => void): void;
  setPollInterval(ms: number): void;
  produce(topic: string, partition: number | null, value: Buffer): boolean;
  poll(): void;
  flush(timeoutMs: number, cb: (err: unknown) => void): void;
  disconnect(cb: () => void): void;
  on(ev: 'delivery-report', cb: (err: unknown, report: unknown) => void): void;
}
interface ConfluentModule {
  Producer: new (conf: Record<string, unknown>) => RdkafkaProducer;
}

/** @confluentinc/kafka-javascript (librdkafka): idempotent, linger 5 ms, a delivery report per message or per failure only. */
function confluent(reports: 'all' | 'errors'): ClientCandidate {
  return {
    name: `@confluentinc/kafka-javascript (dr ${reports})`,
    module: '@confluentinc/kafka-javascript',
    async run(mod, bootstrap, topic, input) {
      const { Producer } = ((mod as { default?: unknown }).default ?? mod) as ConfluentModule;
      const producer = new Producer({
        'metadata.broker.list': bootstrap,
        'client.id': 'bench',
        'enable.idempotence': true,
        'linger.ms': 5,
        'batch.num.messages': 10_000,
        'queue.buffering.max.messages': 2_000_000,
        'queue.buffering.max.kbytes': 1_048_576,
        dr_cb: true,
        'delivery.report.only.error': reports === 'errors',
      });
      let delivered = 0;
      let failed = 0;
      producer.on('delivery-report', (err) => {
        if (err) failed++;
        else delivered++;
      });
      await new Promise<void>((resolve, reject) => producer.connect({}, (err) => (err ? reject(err as Error) : resolve())));
      producer.setPollInterval(5);
      let produced = 0;
      const pending: Buffer[] = [];
      forEachLine(input.chunks, (l) => pending.push(l));
      for (let i = 0; i < pending.length; ) {
        try {
          producer.produce(topic, null, pending[i]!);
          produced++;
          i++;
        } catch {
          // queue full: let deliveries drain
          producer.poll();
          await sleep(1);
        }
      }
      await new Promise<void>((resolve, reject) => producer.flush(120_000, (err) => (err ? reject(err as Error) : resolve())));
      if (reports === 'all') for (let t = 0; delivered + failed < produced && t < 10_000; t++) await sleep(1);
      await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
      if (failed > 0) throw new Error(`${failed} messages failed`);
      return reports === 'all' ? delivered : produced;
    },
  };
}

export const CLIENT_CANDIDATES: readonly ClientCandidate[] = [kafkajsTuned(true), kafkajsTuned(false), platformatic, confluent('all'), confluent('errors')];

export interface ClientBenchRow {
  readonly name: string;
  readonly recordsPerSec: number;
  readonly acked: number;
  /** Why the candidate did not run (not installed, failed). */
  readonly note?: string;
}

/**
 * The mock cluster of the librdkafka that @confluentinc/kafka-javascript builds (newer than
 * Debian's, which kcat uses: it answers ApiVersions v3, which @platformatic/kafka requires), held
 * by a producer in a child process; the topic is created by asking for its metadata.
 */
function startBindingMockCluster(topic: string): Promise<{ bootstrap: string; stop(): Promise<void> }> {
  const script = `
    const K = require('@confluentinc/kafka-javascript');
    const p = new K.Producer({ 'metadata.broker.list': 'x:9092', 'test.mock.num.brokers': 1, event_cb: true, log_level: 6 });
    let addr;
    p.on('event.log', (e) => { const m = /replaced with (\\S+)/.exec(e.message); if (m) addr = m[1]; });
    p.connect({}, (err) => {
      if (err) { console.error(String(err)); process.exit(1); }
      p.getMetadata({ topic: ${JSON.stringify(topic)}, allTopics: false, timeout: 5000 }, () => console.log('MOCK ' + addr));
    });
    process.stdin.on('end', () => p.disconnect(() => process.exit(0)));
    process.stdin.resume();`;
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.stdin!.end();
      setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
    });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      out += d;
      const m = /MOCK (\S+)/.exec(out);
      if (m !== null) resolve({ bootstrap: m[1]!, stop });
    });
    proc.on('exit', (code) => reject(new Error(`binding mock cluster exited ${code}: ${out}`)));
  });
}

/**
 * The client libraries side by side with `kcat -P`, in one run, on the same lines and the same mock
 * broker; each measured `rounds` times, best kept (the machine is shared).
 */
export async function benchKafkaClients(records = Number(process.env.RECORDS ?? 300_000), rounds = 2, mock: 'kcat' | 'binding' = 'kcat'): Promise<ClientBenchRow[]> {
  if (!haveKcat()) throw new Error('bench/kafka.ts needs kcat (apt-get install kcat)');
  const input = jsonChunks(records);
  const cluster = mock === 'kcat' ? await startMockCluster('bench') : await startBindingMockCluster('bench');
  const best = new Map<string, ClientBenchRow>();
  const keep = (row: ClientBenchRow) => {
    const b = best.get(row.name);
    if (b === undefined || (b.note !== undefined && row.note === undefined) || row.recordsPerSec > b.recordsPerSec) best.set(row.name, row);
  };
  try {
    for (let r = 0; r < rounds; r++) {
      const peer = await benchKcatProducer(cluster.bootstrap, input);
      keep({ name: peer.name, recordsPerSec: peer.recordsPerSec, acked: peer.records });
      for (const c of CLIENT_CANDIDATES) {
        let mod: unknown;
        try {
          mod = await import(c.module);
        } catch (err) {
          keep({ name: c.name, recordsPerSec: 0, acked: 0, note: `not installed (${(err as Error).message.split('\n')[0]})` });
          continue;
        }
        const t0 = performance.now();
        try {
          const acked = await c.run(mod, cluster.bootstrap, 'bench', input);
          const ms = performance.now() - t0;
          keep({ name: c.name, recordsPerSec: (acked / ms) * 1000, acked });
        } catch (err) {
          keep({ name: c.name, recordsPerSec: 0, acked: 0, note: `failed: ${(err as Error).message}` });
        }
      }
    }
  } finally {
    await cluster.stop();
  }
  return [...best.values()];
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--clients')) {
    const rows = await benchKafkaClients(undefined, undefined, process.argv.includes('--binding-mock') ? 'binding' : 'kcat');
    const peer = rows.find((r) => r.name.startsWith('peer:'));
    for (const r of rows) {
      const ratio = peer !== undefined && r.note === undefined ? `  ${(r.recordsPerSec / peer.recordsPerSec).toFixed(2)}x kcat -P` : '';
      console.log(`${r.name.padEnd(44)} ${Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(10)} records/s${ratio}${r.note !== undefined ? `  (${r.note})` : ''}`);
    }
    process.exit(0);
  }
  const rows = await benchKafka();
  const peer = rows.find((r) => r.name.startsWith('peer:'));
  for (const r of rows) {
    const ratio = peer !== undefined ? ` ${(r.recordsPerSec / peer.recordsPerSec).toFixed(2)}x kcat -P` : '';
    console.log(
      `${r.name.padEnd(32)} ${Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(10)} records/s${ratio}` +
        `  ${r.mbPerSec.toFixed(1).padStart(6)} MB/s JSON  (write() alone ${Math.round(r.enqueueRecordsPerSec).toLocaleString('en-US')} records/s;` +
        ` ${r.records} written, ${r.dropped} dropped)${roundsText(r)}`,
    );
  }
}
