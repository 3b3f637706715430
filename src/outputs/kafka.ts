import kafkajs from 'kafkajs';
import type { Message, Producer, LogEntry } from 'kafkajs';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { registerKafkaCodecs } from './kafka-codecs.js';
import {
  BLOCKING_BOUND_BYTES,
  NONBLOCKING_BOUND_BYTES,
  newCounters,
  type KafkaOutputSpec,
  type Output,
  type OutputCounters,
  type OutputLog,
} from './output.js';

const { Kafka, CompressionTypes, Partitioners, logLevel } = kafkajs;

/**
 * `kafka`: JSON records to a Kafka topic, one record per Kafka message (the line without its
 * newline), as IPFIXcol2's json-kafka output does and as consumers expect. Throughput comes from
 * batching at the producer: many messages per produce request (kafkajs `send`), at most one
 * request in flight so records stay in order per partition. kafkajs spends its time per message
 * (30-40k messages/s on one core here, against librdkafka's 450k), so `recordsPerMessage` N > 1
 * packs up to N consecutive queued records into one message, newline-separated, for consumers
 * that split them; packing happens when a request is built, so it spans write() calls.
 *
 * write() only queues and returns; a slow or dead broker never stalls the caller. Records wait in
 * a bounded queue (NONBLOCKING_BOUND_BYTES, or BLOCKING_BOUND_BYTES when `blocking`); past it new
 * records are dropped and counted (`overflow` / `blocking-bound`). A failed request is retried
 * (its records stay at the head of the queue) and kafkajs reconnects to the cluster by itself; a
 * producer that could not connect at all is retried every `reconnectMs`. close() flushes what is
 * queued within `closeTimeoutMs` and counts the rest as dropped (`close-timeout`).
 *
 * Client properties use librdkafka's names (as in IPFIXcol2's `<property>` pairs); only those
 * with a kafkajs equivalent are accepted, anything else is rejected when the output is created.
 */

/** The properties we understand, with what they do. */
export const KAFKA_PROPERTIES: Readonly<Record<string, string>> = {
  'client.id': 'client id sent to the brokers (default sluice)',
  acks: 'all|-1, 0 or 1 (default all)',
  'compression.codec': 'none, gzip, lz4 or zstd (snappy is not offered)',
  'compression.type': 'alias of compression.codec',
  'linger.ms': 'ms to wait for more records before sending a partial batch (default 5)',
  'queue.buffering.max.ms': 'alias of linger.ms',
  'batch.num.messages': 'max records per produce request (default 10000)',
  'message.max.bytes': 'max bytes of one record and of one produce request (default 1000000)',
  'queue.buffering.max.kbytes': 'queue bound in KiB (default: the output bound for blocking / non-blocking)',
  'request.timeout.ms': 'broker request timeout (default 30000)',
  'socket.connection.setup.timeout.ms': 'TCP connect timeout (default 1000)',
  'retries': 'retries of one request inside the client before sluice requeues it (default 5)',
  'retry.backoff.ms': 'initial retry backoff (default 300)',
  'reconnect.backoff.ms': 'wait before connecting again after a failed connect (default 5000)',
};

export interface KafkaOutputOptions {
  /** How long close() may take to flush (default 5000 ms, IPFIXcol2's flush timeout). */
  closeTimeoutMs?: number;
}

interface Settings {
  clientId: string;
  acks: number;
  compression: kafkajs.CompressionTypes;
  lingerMs: number;
  batchMessages: number;
  maxMessageBytes: number;
  boundBytes: number | undefined;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  reconnectMs: number;
}

function intProp(name: string, v: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v.trim());
  if (!/^\s*-?\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`kafka output: property ${name}=${JSON.stringify(v)}: expected an integer in ${min}..${max}`);
  }
  return n;
}

/** Parses librdkafka-style properties; throws on unknown names or bad values. */
export function parseKafkaProperties(props: Record<string, string>): Settings {
  const s: Settings = {
    clientId: 'sluice',
    acks: -1,
    compression: CompressionTypes.None,
    lingerMs: 5,
    batchMessages: 10_000,
    maxMessageBytes: 1_000_000,
    boundBytes: undefined,
    requestTimeoutMs: 30_000,
    connectTimeoutMs: 1_000,
    retries: 5,
    retryBackoffMs: 300,
    reconnectMs: 5_000,
  };
  for (const [name, value] of Object.entries(props)) {
    switch (name) {
      case 'client.id':
        if (value === '') throw new Error('kafka output: property client.id must not be empty');
        s.clientId = value;
        break;
      case 'acks': {
        const v = value.trim().toLowerCase();
        if (v === 'all' || v === '-1') s.acks = -1;
        else if (v === '0' || v === '1') s.acks = Number(v);
        else throw new Error(`kafka output: property acks=${JSON.stringify(value)}: expected all, -1, 0 or 1`);
        break;
      }
      case 'compression.codec':
      case 'compression.type': {
        const v = value.trim().toLowerCase();
        if (v === 'none') s.compression = CompressionTypes.None;
        else if (v === 'gzip') s.compression = CompressionTypes.GZIP;
        else if (v === 'lz4' || v === 'zstd') {
          try {
            registerKafkaCodecs(v);
          } catch (err) {
            throw new Error(`kafka output: property ${name}=${value}: the ${v} codec cannot load here (${errText(err)})`);
          }
          s.compression = v === 'lz4' ? CompressionTypes.LZ4 : CompressionTypes.ZSTD;
        } else if (v === 'snappy') {
          throw new Error(`kafka output: property ${name}=snappy: not supported (sluice ships gzip, lz4 and zstd codecs). Use none, gzip, lz4 or zstd.`);
        } else throw new Error(`kafka output: property ${name}=${JSON.stringify(value)}: expected none, gzip, lz4 or zstd`);
        break;
      }
      case 'linger.ms':
      case 'queue.buffering.max.ms':
        s.lingerMs = intProp(name, value, 0, 900_000);
        break;
      case 'batch.num.messages':
        s.batchMessages = intProp(name, value, 1, 1_000_000);
        break;
      case 'message.max.bytes':
        s.maxMessageBytes = intProp(name, value, 1000, 1_000_000_000);
        break;
      case 'queue.buffering.max.kbytes':
        s.boundBytes = intProp(name, value, 1, 2_147_483_647) * 1024;
        break;
      case 'request.timeout.ms':
        s.requestTimeoutMs = intProp(name, value, 1, 900_000);
        break;
      case 'socket.connection.setup.timeout.ms':
        s.connectTimeoutMs = intProp(name, value, 1, 900_000);
        break;
      case 'retries':
        s.retries = intProp(name, value, 0, 1000);
        break;
      case 'retry.backoff.ms':
        s.retryBackoffMs = intProp(name, value, 1, 300_000);
        break;
      case 'reconnect.backoff.ms':
        s.reconnectMs = intProp(name, value, 1, 3_600_000);
        break;
      default:
        throw new Error(
          `kafka output: unknown property ${JSON.stringify(name)}; supported: ${Object.keys(KAFKA_PROPERTIES).join(', ')}`,
        );
    }
  }
  return s;
}

export function createKafkaOutput(spec: KafkaOutputSpec, log: OutputLog, opts: KafkaOutputOptions = {}): KafkaOutput {
  return new KafkaOutput(spec, log, opts);
}

export class KafkaOutput implements Output {
  readonly name: string;
  readonly counters: OutputCounters = newCounters();
  private readonly settings: Settings;
  private readonly bound: number;
  private readonly overflowReason: string;
  private readonly producer: Producer;
  private readonly closeTimeoutMs: number;
  private readonly limited: RateLimitedLog;

  /** Records (without newline), oldest first, from `head`. */
  private queue: Buffer[] = [];
  private head = 0;
  private queuedBytes = 0;
  private readonly perMessage: number;
  /** Records of the request in flight (still at the head of the queue until it succeeds). */
  private inFlight = 0;
  private inFlightBytes = 0;
  private connected = false;
  private connecting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerForce = false;
  private closing = false;
  /** Set once close() has given up or finished: late completions change nothing. */
  private finished = false;
  private idleWaiters: Array<() => void> = [];
  private firstConnect: Promise<void>;

  constructor(
    private readonly spec: KafkaOutputSpec,
    private readonly log: OutputLog,
    opts: KafkaOutputOptions,
  ) {
    if (spec.brokers.length === 0) throw new Error('kafka output: no brokers');
    if (spec.topic === '') throw new Error('kafka output: no topic');
    if (spec.partition !== undefined && (!Number.isInteger(spec.partition) || spec.partition < 0)) {
      throw new Error(`kafka output: partition ${spec.partition}: expected a non-negative integer`);
    }
    this.settings = parseKafkaProperties(spec.properties);
    const per = spec.recordsPerMessage ?? 1;
    if (!Number.isInteger(per) || per < 1 || per > 1_000_000) {
      throw new Error(`kafka output: recordsPerMessage ${per}: expected an integer in 1..1000000`);
    }
    this.perMessage = per;
    this.name = `kafka://${spec.brokers.join(',')}/${spec.topic}${spec.partition !== undefined ? `#${spec.partition}` : ''}`;
    this.bound = this.settings.boundBytes ?? (spec.blocking ? BLOCKING_BOUND_BYTES : NONBLOCKING_BOUND_BYTES);
    this.overflowReason = spec.blocking ? 'blocking-bound' : 'overflow';
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5_000;
    this.limited = new RateLimitedLog((msg, suppressed) => {
      this.log('warn', suppressed > 0 ? `${msg} (${suppressed} more like it)` : msg);
    });
    const name = this.name;
    const kafka = new Kafka({
      brokers: spec.brokers,
      clientId: this.settings.clientId,
      connectionTimeout: this.settings.connectTimeoutMs,
      requestTimeout: this.settings.requestTimeoutMs,
      retry: { retries: this.settings.retries, initialRetryTime: this.settings.retryBackoffMs, maxRetryTime: 30_000 },
      logLevel: logLevel.WARN,
      logCreator: () => (e: LogEntry) => {
        if (this.finished) return;
        const text = `${name}: ${e.namespace ? `[${e.namespace}] ` : ''}${e.log.message}`;
        this.limited.log(`kafkajs:${e.namespace}:${e.log.message}`, text);
      },
    });
    this.producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: true,
      maxInFlightRequests: 1,
      retry: { retries: this.settings.retries, initialRetryTime: this.settings.retryBackoffMs, maxRetryTime: 30_000 },
    });
    this.firstConnect = this.connect();
  }

  /** Resolves after the first connection attempt (writes are taken before and regardless). */
  open(): Promise<void> {
    return this.firstConnect;
  }

  /** Records queued and not yet acknowledged by the broker. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.closing) return this.drop(bytes, 'closed');
    if (this.queuedBytes + bytes.length > this.bound) return this.drop(bytes, this.overflowReason);
    // One copy: the caller may reuse its buffer; the records are views into the copy.
    const copy = Buffer.from(bytes);
    let start = 0;
    const max = this.settings.maxMessageBytes;
    while (start < copy.length) {
      let nl = copy.indexOf(10, start);
      if (nl < 0) nl = copy.length;
      const len = nl - start;
      if (len > max) {
        this.countDrop(1, len + 1, 'too-large');
        this.limited.log('too-large', `${this.name}: record of ${len} bytes over message.max.bytes ${max}, dropped`);
      } else if (len > 0) {
        this.queue.push(copy.subarray(start, nl));
        this.queuedBytes += len + 1;
      }
      start = nl + 1;
    }
    this.schedule();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const deadline = Date.now() + this.closeTimeoutMs;
    const remaining = () => Math.max(0, deadline - Date.now());
    // Flush: send what is queued now, without lingering.
    this.schedule(true);
    await raceTimeout(this.idle(), remaining());
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const left = this.queued;
    if (left > 0) {
      this.countDrop(left, this.queuedBytes, 'close-timeout');
      this.log('warn', `${this.name}: ${left} records not delivered within ${this.closeTimeoutMs} ms of closing, dropped`);
      this.queue = [];
      this.head = 0;
      this.queuedBytes = 0;
    }
    for (const w of this.idleWaiters.splice(0)) w();
    await raceTimeout(
      this.producer.disconnect().catch(() => undefined),
      Math.max(remaining(), 200),
    );
  }

  // ---- internals -----------------------------------------------------------------------------

  private drop(bytes: Buffer, reason: string): void {
    let n = 0;
    for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) n++;
    if (bytes[bytes.length - 1] !== 10) n++;
    this.countDrop(n, bytes.length, reason);
  }

  private countDrop(n: number, bytes: number, reason: string): void {
    const c = this.counters;
    c.dropped += n;
    c.droppedBytes += bytes;
    c.dropReasons[reason] = (c.dropReasons[reason] ?? 0) + n;
  }

  private connect(): Promise<void> {
    if (this.connecting !== undefined) return this.connecting;
    const p = this.producer
      .connect()
      .then(() => {
        this.connected = true;
        if (!this.finished) this.log('info', `${this.name}: connected`);
      })
      .catch((err: unknown) => {
        if (this.finished) return;
        this.limited.log('connect', `${this.name}: cannot connect (${errText(err)}); retrying every ${this.settings.reconnectMs} ms`);
        this.setTimer(this.settings.reconnectMs, false);
      })
      .finally(() => {
        this.connecting = undefined;
        this.schedule();
      });
    this.connecting = p;
    return p;
  }

  /** Arranges for pump() to run: now if a batch is full or we are flushing, else after linger.ms. */
  private schedule(force = false): void {
    if (this.finished) return;
    if (this.inFlight > 0 || this.connecting !== undefined) return;
    // Waiting out reconnect.backoff.ms after a failed connect: the timer will try again.
    if (!this.connected && this.timer !== undefined && !this.timerForce && !this.closing) return;
    if (this.queued === 0) {
      this.notifyIdle();
      return;
    }
    if (force || this.closing || this.queued >= this.settings.batchMessages * this.perMessage) {
      if (this.timer !== undefined && this.timerForce) return;
      this.setTimer(0, true);
    } else if (this.timer === undefined) {
      this.setTimer(this.settings.lingerMs, true);
    }
  }

  private setTimer(ms: number, pumpAfter: boolean): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerForce = ms === 0;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerForce = false;
      if (pumpAfter) this.pump();
      else if (!this.connected) void this.connect();
      else this.pump();
    }, ms);
  }

  private pump(): void {
    if (this.finished || this.inFlight > 0 || this.queued === 0) {
      if (this.queued === 0) this.notifyIdle();
      return;
    }
    if (!this.connected) {
      void this.connect();
      return;
    }
    const s = this.settings;
    const messages: Message[] = [];
    let bytes = 0;
    const partition = this.spec.partition;
    const per = this.perMessage;
    let i = this.head;
    while (i < this.queue.length && messages.length < s.batchMessages) {
      const v = this.queue[i]!;
      if (messages.length > 0 && bytes + v.length + 1 > s.maxMessageBytes) break;
      let value = v;
      let j = i + 1;
      if (per > 1) {
        // Pack the records that follow while the message stays within recordsPerMessage and message.max.bytes.
        let len = v.length;
        while (j < this.queue.length && j - i < per && len + 1 + this.queue[j]!.length <= s.maxMessageBytes) len += 1 + this.queue[j++]!.length;
        if (messages.length > 0 && bytes + len + 1 > s.maxMessageBytes) break;
        if (j > i + 1) value = joinLines(this.queue, i, j, len);
      }
      messages.push(partition === undefined ? { value } : { value, partition });
      bytes += value.length + 1;
      i = j;
    }
    this.inFlight = i - this.head;
    this.inFlightBytes = bytes;
    this.producer
      .send({ topic: this.spec.topic, messages, acks: s.acks, compression: s.compression })
      .then(
        () => {
          if (this.finished) return;
          this.counters.written += this.inFlight;
          this.head += this.inFlight;
          this.queuedBytes -= this.inFlightBytes;
          this.compact();
          this.inFlight = 0;
          this.inFlightBytes = 0;
          this.schedule();
        },
        (err: unknown) => {
          if (this.finished) return;
          this.inFlight = 0;
          this.inFlightBytes = 0;
          this.limited.log('send', `${this.name}: produce failed (${errText(err)}); ${this.queued} records queued, retrying`);
          if (errText(err).includes('disconnected')) this.connected = false;
          // Back off before the next attempt; the records stay queued (the bound still applies).
          this.setTimer(s.retryBackoffMs, true);
        },
      );
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 65_536 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private idle(): Promise<void> {
    if (this.queued === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    if (this.inFlight === 0 && this.queued === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** records[from, to) joined by newlines into one buffer of `len` bytes. */
function joinLines(records: readonly Buffer[], from: number, to: number, len: number): Buffer {
  const out = Buffer.allocUnsafe(len);
  let p = 0;
  for (let k = from; k < to; k++) {
    if (k > from) out[p++] = 10;
    p += records[k]!.copy(out, p);
  }
  return out;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    t = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
