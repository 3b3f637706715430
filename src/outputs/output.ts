import type { DropReasonOf } from '../util/drop-reasons.js';
import type { JsonFormatOptions } from '../format/ipfixcol2-json.js';

/**
 * An output transport: JSON lines in, somewhere out. Every output owns its backpressure: write()
 * never blocks and never throws, so a slow or dead output cannot stall decoding or the other
 * outputs. What an output cannot take is dropped and counted, by reason.
 *
 * "blocking" in a collector that cannot pause UDP: a blocking output buffers far more
 * (BLOCKING_BOUND_BYTES instead of NONBLOCKING_BOUND_BYTES) and so rides out long stalls without
 * losing a line; only past that bound does it drop, counted under the distinct reason
 * `blocking-bound` (memory is finite and the exporters do not wait).
 */
export interface Output {
  /** Human-readable name for logs, e.g. `file:/var/lib/sluice/%Y/`. */
  readonly name: string;
  /** Starts listening / connecting; resolves once the output can take writes. */
  open?(): Promise<void>;
  /** Newline-terminated JSON lines, whole lines only, already formatted for this output. */
  write(bytes: Buffer): void;
  /** Flushes everything and releases resources: files finished and renamed, sockets ended. */
  close(): Promise<void>;
  readonly counters: OutputCounters;
}

export interface OutputCounters {
  /** Lines handed on to the transport (file, socket, client). For a server: summed over clients. */
  written: number;
  /** Lines dropped, with `droppedBytes` their size and `dropReasons` the count per reason. */
  dropped: number;
  droppedBytes: number;
  dropReasons: Record<string, number>;
}

export type OutputLog = (level: 'info' | 'warn' | 'error', msg: string) => void;

/** Queued bytes past which a non-blocking output (or server client) drops. */
export const NONBLOCKING_BOUND_BYTES = 64 * 1024 * 1024;
/** Queued bytes past which a blocking output drops (reason `blocking-bound`). */
export const BLOCKING_BOUND_BYTES = 1024 * 1024 * 1024;

export type Compression = 'none' | 'gzip' | 'lz4' | 'zstd';

/** What the Kafka output needs: filled from `--output kafka://...` or, later, the config file. */
export interface KafkaOutputSpec {
  readonly brokers: string[];
  readonly topic: string;
  /** Fixed partition; undefined lets the partitioner choose. */
  readonly partition?: number;
  /** Extra librdkafka-style client properties, e.g. `compression.codec: gzip`, `acks: all`. */
  readonly properties: Record<string, string>;
  readonly blocking: boolean;
  /**
   * JSON lines per Kafka message, newline-separated (default 1: one record per message, as
   * IPFIXcol2 sends them and its consumers expect). More per message trades that shape for
   * throughput: the client's cost is per message, so 100 records per message move many times more.
   */
  readonly recordsPerMessage?: number;
}

/**
 * One configured output. Built by `--output` flags (src/cli/output-spec.ts) and, later, by the
 * config file loader: every field is plain data.
 */
export type OutputSpec = (
  | { readonly kind: 'print' }
  | {
      readonly kind: 'file';
      /** Directory pattern with strftime escapes (UTC): %Y %m %d %H %M %S %j %%. */
      readonly path: string;
      readonly prefix: string;
      /** Seconds per file. */
      readonly timeWindow: number;
      readonly timeAlignment: boolean;
      readonly compression: Compression;
    }
  | { readonly kind: 'server'; readonly host: string; readonly port: number; readonly blocking: boolean }
  | { readonly kind: 'send'; readonly protocol: 'tcp' | 'udp'; readonly host: string; readonly port: number; readonly blocking: boolean }
  | { readonly kind: 'kafka'; readonly kafka: KafkaOutputSpec }
) & {
  /** Where it came from, for logs and errors (the flag text or a config path). */
  readonly name: string;
  /** This output's JSON options, over the command's --format; undefined: the command's. */
  readonly format?: Partial<JsonFormatOptions>;
};

/** New zeroed counters. */
export function newCounters(): OutputCounters {
  return { written: 0, dropped: 0, droppedBytes: 0, dropReasons: {} };
}

/** Counts a drop of `bytes` under `reason`. */
export function countDrop(c: OutputCounters, bytes: Buffer, reason: DropReasonOf<'output'>): void {
  const n = countLines(bytes);
  c.dropped += n;
  c.droppedBytes += bytes.length;
  c.dropReasons[reason] = (c.dropReasons[reason] ?? 0) + n;
}

/** Number of newline-terminated lines in `b`. */
export function countLines(b: Buffer): number {
  let n = 0;
  let i = b.indexOf(10);
  while (i >= 0) {
    n++;
    i = b.indexOf(10, i + 1);
  }
  return n;
}

/** `written 10, dropped 2 (disconnected 2)` */
export function formatOutputCounters(c: OutputCounters): string {
  const reasons = Object.entries(c.dropReasons).map(([k, v]) => `${k} ${v}`).join(', ');
  return `written ${c.written}, dropped ${c.dropped}${reasons ? ` (${reasons})` : ''}`;
}
