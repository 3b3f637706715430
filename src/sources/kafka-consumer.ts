/**
 * FlowLink's kafka connector: a consumer-group member (kafkajs) reading text lines from topics.
 * Each message value is one line, or several separated by newlines. Offsets are committed by
 * kafkajs after each batch has been handed to the parser (at-least-once: a restart may re-read
 * the last uncommitted batch, never skips one). `version` is accepted for FlowLink files and only
 * logged: the client negotiates the protocol version with the broker.
 */
import kafkajs from 'kafkajs';
import type { Consumer, LogEntry } from 'kafkajs';
import type { LineHandler, LineSource } from '../model/contracts.js';
import type { Log } from '../model/contracts.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { makeSession, type TransportSession } from '../wire/batch.js';

/** The connector as the service file describes it (validated by src/service/config.ts). */
export interface KafkaConnector {
  readonly type: 'kafka';
  readonly version?: string;
  readonly brokers: readonly string[];
  readonly group: string;
  readonly topics: readonly string[];
  readonly clientId: string;
  readonly fromBeginning: boolean;
}

const { Kafka, logLevel } = kafkajs;

export class KafkaLineSource implements LineSource {
  private consumer: Consumer | undefined;
  private readonly sessions = new Map<string, TransportSession>();
  private readonly limited: RateLimitedLog;
  messages = 0;

  constructor(
    private readonly spec: KafkaConnector,
    private readonly consumerName: string,
    private readonly sink: LineHandler,
    private readonly log: Log,
  ) {
    this.limited = new RateLimitedLog((msg, n) => this.log.warn({ consumer: consumerName, suppressed: n }, msg), 30_000);
  }

  get description(): string {
    return `kafka consumer of ${this.spec.topics.join(',')} in group ${this.spec.group} at ${this.spec.brokers.join(',')}${this.spec.version ? ` (broker version ${this.spec.version})` : ''}`;
  }

  async start(): Promise<void> {
    const kafka = new Kafka({
      clientId: this.spec.clientId,
      brokers: [...this.spec.brokers],
      logLevel: logLevel.WARN,
      logCreator: () => (e: LogEntry) => this.limited.log(`${e.namespace}:${e.log.message}`, `kafka ${this.consumerName}: [${e.namespace}] ${e.log.message}`),
    });
    const consumer = kafka.consumer({ groupId: this.spec.group, allowAutoTopicCreation: false });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.spec.topics], fromBeginning: this.spec.fromBeginning });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}|${batch.partition}`;
        let session = this.sessions.get(key);
        if (session === undefined) this.sessions.set(key, (session = makeSession('kafka', batch.topic, batch.partition)));
        const lines: string[] = [];
        for (const m of batch.messages) {
          if (m.value === null) continue;
          for (const l of m.value.toString('utf8').split('\n')) {
            const t = l.endsWith('\r') ? l.slice(0, -1) : l;
            if (t.length > 0) lines.push(t);
          }
        }
        this.messages += batch.messages.length;
        if (lines.length > 0) this.sink(lines, session, Date.now());
      },
    });
  }

  async stop(): Promise<void> {
    // disconnect() waits for the batch in hand and commits its offsets.
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }
}
