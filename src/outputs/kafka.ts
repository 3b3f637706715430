import { SluiceError } from '../util/errors.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import {
  loadKafkaClient,
  RdKafkaCode,
  type RdKafkaConfig,
  type RdKafkaDeliveryReport,
  type RdKafkaError,
  type RdKafkaProducer,
} from './kafka-client.js';
import {
  BLOCKING_BOUND_BYTES,
  NONBLOCKING_BOUND_BYTES,
  newCounters,
  type KafkaOutputSpec,
  type Output,
  type OutputCounters,
  type OutputLog,
} from './output.js';

/**
 * `kafka`: JSON records to a Kafka topic, one record per Kafka message (the line without its
 * newline), as IPFIXcol2's json-kafka output does and as consumers expect; `recordsPerMessage` N > 1
 * packs up to N consecutive lines of one write into a message, newline-separated.
 *
 * The client is librdkafka (kafka-client.ts): write() hands each record to librdkafka's queue
 * (one native call per record, no JS queue), and librdkafka batches, compresses, sends and
 * retries on its own threads. Order per partition: with acks=all the producer is idempotent (up to
 * 5 requests in flight, the broker rejects anything out of sequence and librdkafka resends in
 * order); with acks 0/1 idempotence is impossible, so one request in flight per broker.
 *
 * Bounds and drops: librdkafka's queue is bounded by the output's bound (64 MiB, 1 GiB with
 * `blocking`, or queue.buffering.max.kbytes); a record that does not fit is dropped as `overflow`
 * / `blocking-bound`. A queued record waits for the broker at most message.timeout.ms: 300 s by
 * default, for ever with `blocking` (so nothing is lost within the bound); past it, it is dropped
 * as `message-timeout`. Before the first connection records wait in a JS queue under the same bound;
 * a failed first connect is retried every reconnect.backoff.max.ms, later outages are librdkafka's
 * to ride out (it reconnects by itself). close() flushes within `closeTimeoutMs` and counts what is
 * left as `close-timeout`.
 *
 * Counting: librdkafka reports only failed deliveries (a report per record would cost more than
 * the record), so `written` = records handed over − failed − still queued, the last from
 * librdkafka's statistics (every statistics.interval.ms, 1 s); exact once close() has flushed.
 */

/** The properties we take (librdkafka names, passed to librdkafka after checking), with what they do. */
export const KAFKA_PROPERTIES: Readonly<Record<string, string>> = {
  'client.id': 'client id sent to the brokers (default sluice)',
  acks: 'all|-1, 0 or 1 (default all; all makes the producer idempotent)',
  'request.required.acks': 'alias of acks',
  'compression.codec': 'none, gzip, snappy, lz4 or zstd (default none)',
  'compression.type': 'alias of compression.codec',
  'compression.level': 'codec level, -1 (the codec default) to 12',
  'linger.ms': 'ms to wait for more records before sending a partial batch (default 5)',
  'queue.buffering.max.ms': 'alias of linger.ms',
  'batch.num.messages': 'max messages per batch (default 10000)',
  'batch.size': 'max bytes per batch (librdkafka default 1000000)',
  'message.max.bytes': 'max bytes of one message and of one request (default 1000000)',
  'queue.buffering.max.kbytes': 'queue bound in KiB (default: the output bound, 64 MiB or 1 GiB with blocking)',
  'message.timeout.ms': 'how long a record may wait for the broker, 0 = for ever (default 300000; 0 with blocking)',
  'request.timeout.ms': 'broker acknowledgement timeout (librdkafka default 30000)',
  'socket.timeout.ms': 'network request timeout (librdkafka default 60000)',
  'socket.connection.setup.timeout.ms': 'TCP connect timeout (librdkafka default 30000)',
  retries: 'resends of a failed batch before its records fail (librdkafka default: unlimited within message.timeout.ms)',
  'message.send.max.retries': 'alias of retries',
  'retry.backoff.ms': 'initial wait before a resend (librdkafka default 100)',
  'reconnect.backoff.ms': 'initial wait before reconnecting to a broker (librdkafka default 100)',
  'reconnect.backoff.max.ms': 'longest wait between reconnects, and between first-connect attempts (default 5000)',
  'sticky.partitioning.linger.ms': 'ms records without a fixed partition stay on one partition (librdkafka default 10; 0: random per record)',
  'statistics.interval.ms': 'how often the written counter is brought up to date (default 1000)',
};

/** Managed by the output: setting them could break per-partition order or the counters. */
const MANAGED = new Set([
  'enable.idempotence',
  'max.in.flight.requests.per.connection',
  'max.in.flight',
  'queue.buffering.max.messages',
  'delivery.report.only.error',
  'dr_cb',
  'dr_msg_cb',
  'bootstrap.servers',
  'metadata.broker.list',
]);

const ALIASES: Readonly<Record<string, string>> = {
  'request.required.acks': 'acks',
  'compression.type': 'compression.codec',
  'queue.buffering.max.ms': 'linger.ms',
  'message.send.max.retries': 'retries',
};

const INT_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  'compression.level': [-1, 12],
  'linger.ms': [0, 900_000],
  'batch.num.messages': [1, 1_000_000],
  'batch.size': [1, 2_147_483_647],
  'message.max.bytes': [1000, 1_000_000_000],
  'queue.buffering.max.kbytes': [1, 2_147_483_647],
  'message.timeout.ms': [0, 2_147_483_647],
  'request.timeout.ms': [1, 900_000],
  'socket.timeout.ms': [10, 300_000],
  'socket.connection.setup.timeout.ms': [1000, 2_147_483_647],
  retries: [0, 2_147_483_647],
  'retry.backoff.ms': [1, 300_000],
  'reconnect.backoff.ms': [0, 3_600_000],
  'reconnect.backoff.max.ms': [0, 3_600_000],
  'sticky.partitioning.linger.ms': [0, 900_000],
  'statistics.interval.ms': [100, 86_400_000],
};

/** librdkafka counts a record's largest framing (varints, attributes) against message.max.bytes. */
const RECORD_V2_MAX_OVERHEAD = 36;

export interface KafkaOutputOptions {
  /** How long close() may take to flush (default 5000 ms, IPFIXcol2's flush timeout). */
  closeTimeoutMs?: number;
}

/** What the output runs with: librdkafka's configuration and the facts the output itself uses. */
export interface KafkaSettings {
  /** librdkafka configuration (without brokers and callbacks). */
  readonly client: Readonly<RdKafkaConfig>;
  readonly acks: -1 | 0 | 1;
  readonly maxMessageBytes: number;
  /** Bytes queued before records are dropped. */
  readonly boundBytes: number;
  readonly statsIntervalMs: number;
  readonly connectRetryMs: number;
}

function intProp(name: string, v: string): number {
  const [min, max] = INT_RANGES[name]!;
  const n = Number(v.trim());
  if (!/^\s*-?\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new SluiceError('usage', `kafka output: property ${name}=${JSON.stringify(v)}: expected an integer in ${min}..${max}`);
  }
  return n;
}

/**
 * Checks librdkafka-style properties and builds the client configuration; throws on unknown names,
 * properties the output manages, and bad values.
 */
export function parseKafkaProperties(props: Readonly<Record<string, string>>, blocking = false): KafkaSettings {
  const given: Record<string, string | number> = {};
  for (const [raw, value] of Object.entries(props)) {
    if (MANAGED.has(raw)) {
      throw new SluiceError('usage', `kafka output: property ${raw} is set by sluice (per-partition order, bounds and counters depend on it)`);
    }
    if (KAFKA_PROPERTIES[raw] === undefined) {
      throw new SluiceError('usage', `kafka output: unknown property ${JSON.stringify(raw)}; supported: ${Object.keys(KAFKA_PROPERTIES).join(', ')}`);
    }
    const name = ALIASES[raw] ?? raw;
    if (name === 'client.id') {
      if (value === '') throw new SluiceError('usage', 'kafka output: property client.id must not be empty');
      given[name] = value;
    } else if (name === 'acks') {
      const v = value.trim().toLowerCase();
      if (v === 'all' || v === '-1') given[name] = -1;
      else if (v === '0' || v === '1') given[name] = Number(v);
      else throw new SluiceError('usage', `kafka output: property ${raw}=${JSON.stringify(value)}: expected all, -1, 0 or 1`);
    } else if (name === 'compression.codec') {
      const v = value.trim().toLowerCase();
      if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(v)) {
        throw new SluiceError('usage', `kafka output: property ${raw}=${JSON.stringify(value)}: expected none, gzip, snappy, lz4 or zstd`);
      }
      given[name] = v;
    } else {
      given[name] = intProp(name, value);
    }
  }
  const acks = (given['acks'] ?? -1) as -1 | 0 | 1;
  const boundBytes = given['queue.buffering.max.kbytes'] !== undefined ? (given['queue.buffering.max.kbytes'] as number) * 1024 : blocking ? BLOCKING_BOUND_BYTES : NONBLOCKING_BOUND_BYTES;
  const connectRetryMs = (given['reconnect.backoff.max.ms'] as number | undefined) ?? 5_000;
  const client: RdKafkaConfig = {
    'client.id': 'sluice',
    'linger.ms': 5,
    'batch.num.messages': 10_000,
    'message.max.bytes': 1_000_000,
    'statistics.interval.ms': 1_000,
    'reconnect.backoff.max.ms': connectRetryMs,
    // A blocking output holds records for as long as the broker is away (the bound still applies).
    ...(blocking ? { 'message.timeout.ms': 0 } : {}),
    ...given,
    acks,
    // Order per partition: idempotence (acks=all only), else one request in flight.
    'enable.idempotence': acks === -1,
    'max.in.flight.requests.per.connection': acks === -1 ? 5 : 1,
    'queue.buffering.max.kbytes': Math.max(1, Math.floor(boundBytes / 1024)),
    'queue.buffering.max.messages': 2_147_483_647,
  };
  return {
    client,
    acks,
    maxMessageBytes: client['message.max.bytes'] as number,
    boundBytes,
    statsIntervalMs: client['statistics.interval.ms'] as number,
    connectRetryMs,
  };
}

export function createKafkaOutput(spec: KafkaOutputSpec, log: OutputLog, opts: KafkaOutputOptions = {}): KafkaOutput {
  return new KafkaOutput(spec, log, opts);
}

interface LibrdkafkaStats {
  msg_cnt?: number;
  brokers?: Record<string, { state?: string; nodeid?: number }>;
}

export class KafkaOutput implements Output {
  readonly name: string;
  readonly counters: OutputCounters = newCounters();
  /** librdkafka version in use, for the start line. */
  readonly librdkafkaVersion: string;
  private readonly settings: KafkaSettings;
  private readonly overflowReason: string;
  private readonly perMessage: number;
  private readonly partition: number | null;
  private readonly producer: RdKafkaProducer;
  private readonly closeTimeoutMs: number;
  private readonly limited: RateLimitedLog;

  private state: 'connecting' | 'waiting' | 'ready' | 'closed' = 'connecting';
  /** Chunks written before the first connection (copies), with their size. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** With recordsPerMessage > 1: the lines of an unfinished pack (a copy), sent with the next write or after linger.ms. */
  private carry: Buffer | undefined;
  private carryTimer: NodeJS.Timeout | undefined;
  private firstConnect: Promise<void>;
  private closing = false;

  /** Handed to librdkafka, and failed after that (delivery reports). */
  private acceptedRecords = 0;
  private acceptedMessages = 0;
  private failedRecords = 0;
  /** Messages librdkafka still holds, from its last statistics. */
  private outstanding = 0;
  private statsSeen = 0;
  private reachable: boolean | undefined;
  /** Cumulative [messages, records] after each write, for records per message when packing. */
  private ledger: Array<readonly [number, number]> = [];

  constructor(
    private readonly spec: KafkaOutputSpec,
    private readonly log: OutputLog,
    opts: KafkaOutputOptions,
  ) {
    if (spec.brokers.length === 0) throw new SluiceError('usage', 'kafka output: no brokers');
    if (spec.topic === '') throw new SluiceError('usage', 'kafka output: no topic');
    if (spec.partition !== undefined && (!Number.isInteger(spec.partition) || spec.partition < 0)) {
      throw new SluiceError('usage', `kafka output: partition ${spec.partition}: expected a non-negative integer`);
    }
    this.settings = parseKafkaProperties(spec.properties, spec.blocking);
    const per = spec.recordsPerMessage ?? 1;
    if (!Number.isInteger(per) || per < 1 || per > 1_000_000) {
      throw new SluiceError('usage', `kafka output: recordsPerMessage ${per}: expected an integer in 1..1000000`);
    }
    this.perMessage = per;
    this.partition = spec.partition ?? null;
    this.name = `kafka://${spec.brokers.join(',')}/${spec.topic}${spec.partition !== undefined ? `#${spec.partition}` : ''}`;
    this.overflowReason = spec.blocking ? 'blocking-bound' : 'overflow';
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5_000;
    this.limited = new RateLimitedLog((msg, suppressed) => {
      this.log('warn', suppressed > 0 ? `${msg} (${suppressed} more like it)` : msg);
    });
    const client = loadKafkaClient();
    this.librdkafkaVersion = client.librdkafkaVersion;
    try {
      this.producer = new client.Producer({
        ...this.settings.client,
        'metadata.broker.list': spec.brokers.join(','),
        // Delivery reports for failures only; with packing, the failed message's value tells its record count.
        ...(per > 1 ? { dr_msg_cb: true } : { dr_cb: true }),
        'delivery.report.only.error': true,
      });
    } catch (err) {
      throw new Error(`kafka output: ${errText(err)}`);
    }
    this.producer.on('delivery-report', (err, report) => this.onFailure(err, report));
    this.producer.on('event.stats', (ev) => this.onStats(ev.message));
    this.producer.on('event.error', (err) => {
      if (this.state === 'closed') return;
      this.limited.log(`error:${err.code}`, `${this.name}: ${errText(err)}`);
    });
    this.firstConnect = this.connect();
  }

  /** Resolves after the first connection attempt (writes are taken before and regardless). */
  open(): Promise<void> {
    return this.firstConnect;
  }

  /** Records taken and not yet acknowledged or dropped (as of librdkafka's last statistics). */
  get queued(): number {
    return this.pendingRecords() + (this.carry === undefined ? 0 : countLinesFrom(this.carry, 0)) + this.acceptedRecords - this.failedRecords - this.counters.written;
  }

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.closing) return this.dropLines(bytes, 0, 'closed');
    if (this.state !== 'ready') {
      if (this.pendingBytes + bytes.length > this.settings.boundBytes) return this.dropLines(bytes, 0, this.overflowReason);
      // The caller may reuse its buffer.
      this.pending.push(Buffer.from(bytes));
      this.pendingBytes += bytes.length;
      return;
    }
    this.produceChunk(bytes);
  }

  /** Packs span writes: an unfinished pack waits for the next write, at most linger.ms. */
  private produceChunk(bytes: Buffer): void {
    if (this.perMessage === 1) {
      this.produceLines(bytes, true);
      return;
    }
    const chunk = this.carry === undefined ? bytes : Buffer.concat([this.carry, bytes]);
    this.carry = undefined;
    const tail = this.produceLines(chunk, false);
    if (tail < chunk.length) {
      this.carry = Buffer.from(chunk.subarray(tail));
      if (this.carryTimer === undefined) {
        this.carryTimer = setTimeout(() => {
          this.carryTimer = undefined;
          this.flushCarry();
        }, Math.max(1, this.settings.client['linger.ms'] as number));
      }
    }
  }

  private flushCarry(): void {
    if (this.carryTimer !== undefined) clearTimeout(this.carryTimer);
    this.carryTimer = undefined;
    const c = this.carry;
    this.carry = undefined;
    if (c !== undefined && this.state === 'ready') this.produceLines(c, true);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const deadline = Date.now() + this.closeTimeoutMs;
    const remaining = () => Math.max(0, deadline - Date.now());
    if (this.state !== 'ready') await raceTimeout(this.firstConnectOrReady(), remaining());
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.pending.length > 0) {
      // Never connected: what waited for the broker is lost.
      const n = this.pendingRecords();
      this.countDrop(n, this.pendingBytes, 'close-timeout');
      this.log('warn', `${this.name}: ${n} records not delivered within ${this.closeTimeoutMs} ms of closing (never connected), dropped`);
      this.pending = [];
      this.pendingBytes = 0;
    }
    if (this.state === 'ready') {
      this.flushCarry();
      const flushed = await new Promise<boolean>((resolve) => this.producer.flush(remaining(), (err) => resolve(err === null || err === undefined)));
      // Failure reports of the last records may still be on their way from librdkafka's thread.
      await settle();
      if (flushed) this.outstanding = 0;
      else {
        // What librdkafka still holds, from statistics taken after the flush gave up.
        const seen = this.statsSeen;
        for (let t = 0; this.statsSeen === seen && t < 20; t++) await sleep(this.settings.statsIntervalMs / 10 + 5);
      }
      const left = this.recordsInNewest(this.outstanding);
      this.counters.written = this.acceptedRecords - this.failedRecords - left;
      if (left > 0) {
        this.countDrop(left, 0, 'close-timeout');
        this.log('warn', `${this.name}: ${left} records not delivered within ${this.closeTimeoutMs} ms of closing, dropped`);
      }
      this.state = 'closed';
      this.producer.setPollInterval(0);
      await raceTimeout(new Promise<void>((resolve) => this.producer.disconnect(0, () => resolve())), Math.max(remaining(), 1000));
    }
    // Late reports and statistics are ignored from here on (every handler checks the state).
    this.state = 'closed';
  }

  // ---- internals -----------------------------------------------------------------------------

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      this.producer.connect({ timeout: Math.max(1000, Math.min(this.settings.connectRetryMs, 10_000)) }, (err) => {
        if (this.state === 'closed' || (this.closing && err)) {
          // Closed meanwhile: release the connection if it came up.
          if (!err) this.producer.disconnect(0, () => undefined);
          resolve();
          return;
        }
        if (err) {
          this.state = 'waiting';
          this.limited.log(
            'connect',
            `${this.name}: cannot connect (${errText(err)}); ${this.pendingRecords()} records waiting, retrying every ${this.settings.connectRetryMs} ms`,
          );
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.state = 'connecting';
            void this.connect();
          }, this.settings.connectRetryMs);
          resolve();
          return;
        }
        this.state = 'ready';
        this.reachable = true;
        this.producer.setPollInterval(20);
        this.log('info', `${this.name}: connected (librdkafka ${this.librdkafkaVersion}${this.settings.acks === -1 ? ', idempotent' : ''})`);
        const chunks = this.pending;
        this.pending = [];
        this.pendingBytes = 0;
        for (const c of chunks) this.produceChunk(c);
        resolve();
      });
    });
  }

  private async firstConnectOrReady(): Promise<void> {
    while (this.state !== 'ready' && this.state !== 'closed') {
      if (this.state === 'connecting') await this.firstConnect;
      if (this.state === 'waiting') await sleep(50);
      else if (this.state === 'connecting') await sleep(20);
    }
  }

  /**
   * Hands each line (or pack of lines) of `chunk` to librdkafka. Unless `complete`, a last pack
   * short of recordsPerMessage is left: returns where it starts (chunk.length when none is left).
   */
  private produceLines(chunk: Buffer, complete: boolean): number {
    const max = this.settings.maxMessageBytes - RECORD_V2_MAX_OVERHEAD;
    const per = this.perMessage;
    const topic = this.spec.topic;
    let messages = 0;
    let records = 0;
    let start = 0;
    while (start < chunk.length) {
      let end = chunk.indexOf(10, start);
      if (end < 0) end = chunk.length;
      if (end === start) {
        start++;
        continue;
      }
      if (end - start > max) {
        this.countDrop(1, end - start + 1, 'too-large');
        this.limited.log('too-large', `${this.name}: record of ${end - start} bytes over message.max.bytes ${this.settings.maxMessageBytes} (less ${RECORD_V2_MAX_OVERHEAD} of framing), dropped`);
        start = end + 1;
        continue;
      }
      let n = 1;
      if (per > 1) {
        // Whole consecutive lines: the message is the slice of the chunk, newlines included between them.
        let full = false;
        while (n < per && end + 1 < chunk.length && chunk[end + 1] !== 10) {
          let next = chunk.indexOf(10, end + 1);
          if (next < 0) next = chunk.length;
          if (next - start > max) {
            full = true;
            break;
          }
          end = next;
          n++;
        }
        if (!complete && n < per && !full && end + 1 >= chunk.length) break;
      }
      try {
        this.producer.produce(topic, this.partition, chunk.subarray(start, end));
      } catch (err) {
        const code = (err as RdKafkaError).code;
        if (code === RdKafkaCode.QUEUE_FULL) {
          // librdkafka's bound is reached: the rest of this chunk cannot fit either.
          this.dropLines(chunk, start, this.overflowReason);
          start = chunk.length;
          break;
        }
        this.countDrop(n, end - start + 1, code === RdKafkaCode.MSG_SIZE_TOO_LARGE ? 'too-large' : 'rejected');
        this.limited.log(`produce:${code}`, `${this.name}: librdkafka refused a record (${errText(err)}), dropped`);
        start = end + 1;
        continue;
      }
      messages++;
      records += n;
      start = end + 1;
    }
    this.acceptedMessages += messages;
    this.acceptedRecords += records;
    if (per > 1 && messages > 0) this.ledger.push([this.acceptedMessages, this.acceptedRecords]);
    return Math.min(start, chunk.length);
  }

  private onFailure(err: RdKafkaError | null, report: RdKafkaDeliveryReport): void {
    if (err === null || err === undefined || this.state === 'closed') return;
    const n = this.perMessage > 1 && report.value !== undefined ? countRecords(report.value) : 1;
    this.failedRecords += n;
    const reason = err.code === RdKafkaCode.MSG_TIMED_OUT ? 'message-timeout' : 'rejected';
    this.countDrop(n, report.size + n, reason);
    this.limited.log(`dr:${err.code}`, `${this.name}: delivery to partition ${report.partition} failed (${errText(err)}), dropped`);
  }

  private onStats(json: string): void {
    if (this.state === 'closed') return;
    let s: LibrdkafkaStats;
    try {
      s = JSON.parse(json) as LibrdkafkaStats;
    } catch {
      return;
    }
    this.statsSeen++;
    if (typeof s.msg_cnt === 'number') this.outstanding = s.msg_cnt;
    const w = this.acceptedRecords - this.failedRecords - this.recordsInNewest(this.outstanding);
    // Monotonic: a statistics snapshot may predate records produced since.
    if (w > this.counters.written) this.counters.written = w;
    this.trimLedger();
    const up = Object.values(s.brokers ?? {}).some((b) => b.state === 'UP' && (b.nodeid ?? -1) >= 0);
    if (this.reachable === true && !up) {
      this.log('warn', `${this.name}: no broker reachable; ${this.outstanding} messages held by librdkafka, reconnecting`);
    } else if (this.reachable === false && up) {
      this.log('info', `${this.name}: broker reachable again; ${this.outstanding} messages still queued`);
    }
    this.reachable = up;
  }

  /** Records in the newest `n` messages handed to librdkafka. */
  private recordsInNewest(n: number): number {
    if (n <= 0) return 0;
    if (this.perMessage === 1) return n;
    const before = this.acceptedMessages - n;
    // Records before the newest n messages: the last write wholly before, plus a share of the one across.
    let lo = 0;
    let hi = this.ledger.length - 1;
    let idx = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.ledger[mid]![0] <= before) {
        idx = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const [m0, r0] = idx >= 0 ? this.ledger[idx]! : [this.ledgerBase[0], this.ledgerBase[1]];
    const next = this.ledger[idx + 1];
    const recsBefore = next === undefined || next[0] === m0 ? r0 : r0 + Math.round(((before - m0) * (next[1] - r0)) / (next[0] - m0));
    return this.acceptedRecords - recsBefore;
  }

  private ledgerBase: readonly [number, number] = [0, 0];

  private trimLedger(): void {
    if (this.ledger.length < 1024) return;
    const done = this.acceptedMessages - this.outstanding;
    let k = 0;
    while (k + 1 < this.ledger.length && this.ledger[k + 1]![0] <= done) k++;
    if (k > 0) {
      this.ledgerBase = this.ledger[k - 1]!;
      this.ledger = this.ledger.slice(k);
    }
  }

  private pendingRecords(): number {
    let n = 0;
    for (const c of this.pending) n += countLinesFrom(c, 0);
    return n;
  }

  /** Drops the lines of `bytes` from `from` on. */
  private dropLines(bytes: Buffer, from: number, reason: string): void {
    this.countDrop(countLinesFrom(bytes, from), bytes.length - from, reason);
  }

  private countDrop(n: number, bytes: number, reason: string): void {
    if (n <= 0) return;
    const c = this.counters;
    c.dropped += n;
    c.droppedBytes += bytes;
    c.dropReasons[reason] = (c.dropReasons[reason] ?? 0) + n;
  }
}

/** Non-empty lines in `b` from `from` (the last one may lack its newline). */
function countLinesFrom(b: Buffer, from: number): number {
  let n = 0;
  let start = from;
  while (start < b.length) {
    let nl = b.indexOf(10, start);
    if (nl < 0) nl = b.length;
    if (nl > start) n++;
    start = nl + 1;
  }
  return n;
}

/** Records in one packed message: its lines. */
function countRecords(value: Buffer): number {
  return countLinesFrom(value, 0);
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Lets callbacks already queued by librdkafka's threads reach JS. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await sleep(10);
}

function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    t = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
