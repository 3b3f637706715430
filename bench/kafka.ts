/**
 * Records/s through the Kafka output to a real broker: librdkafka's mock cluster (Debian's kcat,
 * see test/helpers/kafka-mock.ts), one broker, topic `bench` with 4 partitions. Input: the
 * softflowd-style IPFIX stream (bench/ipfix-stream.ts) decoded and formatted once up front, as
 * 256 KB chunks of JSON lines, the way the collector hands them to an output.
 *
 * Timed: from the first write() until close() resolves, i.e. until the broker has acknowledged
 * every record (acks=all). Also reported: the cost of write() alone (queueing, on the caller's
 * thread). Rows: default properties, compression.codec=gzip, a fixed partition, 100 records per
 * message; and the peer, librdkafka's producer (kcat -P) with the same lines, for the ratio.
 *
 *   node --import tsx bench/kafka.ts          (RECORDS=500000 to change the amount)
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
}

/** JSON lines for about `records` flow records, in chunks of whole lines. */
function jsonChunks(records: number): { chunks: Buffer[]; records: number; bytes: number } {
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

export async function benchKafka(records = Number(process.env.RECORDS ?? 300_000)): Promise<KafkaBenchRow[]> {
  if (!haveKcat()) throw new Error('bench/kafka.ts needs kcat (apt-get install kcat)');
  const input = jsonChunks(records);
  const cluster = await startMockCluster('bench');
  const rows: KafkaBenchRow[] = [];
  try {
    const variants: Array<{ name: string; properties: Record<string, string>; partition?: number; recordsPerMessage?: number }> = [
      { name: 'kafka (defaults, acks=all)', properties: {} },
      { name: 'kafka compression.codec=gzip', properties: { 'compression.codec': 'gzip' } },
      { name: 'kafka partition=0', properties: {}, partition: 0 },
      { name: 'kafka recordsPerMessage=100', properties: {}, recordsPerMessage: 100 },
    ];
    for (const v of variants) {
      const out = createKafkaOutput(
        { brokers: [cluster.bootstrap], topic: 'bench', partition: v.partition, recordsPerMessage: v.recordsPerMessage, properties: v.properties, blocking: true },
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
      rows.push({
        name: v.name,
        records: out.counters.written,
        recordsPerSec: (out.counters.written / ms) * 1000,
        mbPerSec: input.bytes / ms / 1000,
        enqueueRecordsPerSec: (input.records / (tw - t0)) * 1000,
        dropped: out.counters.dropped,
      });
    }
    rows.push(await benchKcatProducer(cluster.bootstrap, input));
  } finally {
    await cluster.stop();
  }
  return rows;
}

/**
 * The peer: librdkafka's own producer (`kcat -P`, one record per message, acks=all) sending the
 * same JSON lines to the same mock broker, timed from the first byte until kcat exits (it flushes
 * and waits for every acknowledgement before exiting).
 */
async function benchKcatProducer(bootstrap: string, input: { chunks: Buffer[]; records: number; bytes: number }): Promise<KafkaBenchRow> {
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

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await benchKafka();
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(32)} ${Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(10)} records/s` +
        `  ${r.mbPerSec.toFixed(1).padStart(6)} MB/s JSON  (write() alone ${Math.round(r.enqueueRecordsPerSec).toLocaleString('en-US')} records/s;` +
        ` ${r.records} written, ${r.dropped} dropped)`,
    );
  }
}
