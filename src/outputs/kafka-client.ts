import { createRequire } from 'node:module';

/**
 * The Kafka output's client: librdkafka through @confluentinc/kafka-javascript, chosen by
 * measurement (bench/kafka.ts --clients; docs/outputs-kafka.md). It is an optional dependency
 * built from source at `npm ci` against Debian's zlib/zstd/lz4 headers, so a machine without them
 * still installs; this module loads it on first use and turns its absence into one clear reason.
 *
 * Only the part of its classic (node-rdkafka style) producer API that the output calls is typed
 * here, so type checking never depends on whether the optional package is installed.
 */

export const KAFKA_CLIENT_PACKAGE = '@confluentinc/kafka-javascript';

/** librdkafka error codes the output tells apart (rdkafka.h). */
export const RdKafkaCode = {
  QUEUE_FULL: -184,
  MSG_TIMED_OUT: -192,
  TRANSPORT: -195,
  ALL_BROKERS_DOWN: -187,
  MSG_SIZE_TOO_LARGE: 10,
} as const;

export interface RdKafkaError extends Error {
  readonly code: number;
}

export interface RdKafkaDeliveryReport {
  readonly topic: string;
  readonly partition: number;
  /** Present with dr_msg_cb. */
  readonly value?: Buffer;
  readonly size: number;
}

export type RdKafkaConfig = Record<string, string | number | boolean>;

export interface RdKafkaProducer {
  connect(metadataOptions: { timeout?: number }, cb: (err: RdKafkaError | null) => void): void;
  /** Queues one message; throws an RdKafkaError (QUEUE_FULL, MSG_SIZE_TOO_LARGE...) when librdkafka refuses it. */
  produce(topic: string, partition: number | null, value: Buffer): boolean;
  setPollInterval(ms: number): void;
  flush(timeoutMs: number, cb: (err: RdKafkaError | null) => void): void;
  disconnect(timeoutMs: number, cb: () => void): void;
  isConnected(): boolean;
  on(ev: 'delivery-report', cb: (err: RdKafkaError | null, report: RdKafkaDeliveryReport) => void): void;
  on(ev: 'event.error', cb: (err: RdKafkaError) => void): void;
  on(ev: 'event.stats', cb: (ev: { message: string }) => void): void;
  on(ev: 'event.log', cb: (ev: { severity: number; fac: string; message: string }) => void): void;
}

export interface RdKafkaModule {
  readonly Producer: new (conf: RdKafkaConfig) => RdKafkaProducer;
  readonly librdkafkaVersion: string;
}

let loaded: RdKafkaModule | undefined;
let failure: string | undefined;

/** The client module, or throws with why it is unavailable and how to get it. */
export function loadKafkaClient(): RdKafkaModule {
  if (loaded !== undefined) return loaded;
  if (failure === undefined) {
    try {
      const mod = createRequire(import.meta.url)(KAFKA_CLIENT_PACKAGE) as Partial<RdKafkaModule>;
      if (typeof mod.Producer !== 'function') throw new Error('it has no Producer');
      loaded = mod as RdKafkaModule;
      return loaded;
    } catch (err) {
      failure = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
    }
  }
  throw new Error(
    `the Kafka output is unavailable: its client ${KAFKA_CLIENT_PACKAGE} (librdkafka) is not installed or did not build (${failure}). ` +
      'It is an optional dependency compiled at npm ci: install g++ make python3 zlib1g-dev libzstd-dev liblz4-dev, ' +
      `then run CKJS_LINKING=dynamic npm_config_build_from_source=${KAFKA_CLIENT_PACKAGE} npm ci (see docs/outputs-kafka.md)`,
  );
}
