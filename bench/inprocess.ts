/**
 * sluice's decode + JSON path in-process on one core: DecodeStage (decoder, template store,
 * time derivation) and the IPFIXcol2 JSON formatter with `sluice collect`'s default options, over
 * the softflowd-style IPFIX stream. Only the loop is timed; the JSON text is produced in full and
 * its length summed, but not written anywhere (no I/O in this number).
 *
 * Standalone, for profiling:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/inprocess.ts
 *   node --import tsx bench/profile.ts /tmp/prof/<file>.cpuprofile
 * or simply `node --import tsx bench/profile.ts`, which does both.
 */
import { fileURLToPath } from 'node:url';
import { ByteOutput } from '../src/format/byte-output.js';
import { Ipfixcol2JsonFormatter } from '../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession } from '../src/wire/batch.js';
import { IeRegistry, protocolKeyword } from '../src/wire/ie/registry.js';
import { buildIpfixStream, type IpfixStream } from './ipfix-stream.js';

export interface InProcessResult {
  /** Best run. */
  readonly recordsPerSec: number;
  readonly datagramsPerSec: number;
  readonly jsonMBPerSec: number;
  /** All runs, records/s, in order. */
  readonly runs: readonly number[];
  /** All runs, process CPU time (user + system) per flow record in ns, in order. */
  readonly cpuNsPerRecord: readonly number[];
  readonly recordsPerRun: number;
  readonly jsonBytesPerRecord: number;
  readonly drops: number;
}

export interface InProcessOptions {
  /** Passes over the stream per run; sized so one run takes about a second. */
  readonly passes?: number;
  /**
   * Encode each batch's JSON text to UTF-8 bytes (into a reused buffer), as any output must. Without
   * it the text stays a V8 rope (concatenations never flattened), which a real sink never sees.
   */
  readonly encode?: boolean;
  /**
   * Use the byte formatter (formatBatchInto) instead: UTF-8 JSON written straight into a reused
   * output buffer, which is what the collector writes. Implies the encoding above.
   */
  readonly bytes?: boolean;
  readonly runs?: number;
  readonly warmupRuns?: number;
}

/**
 * Runs the stream through one pipeline and formatter `runs` times after `warmupRuns` untimed runs,
 * as a long-running collector would see it (templates learned once, formatters compiled once).
 */
export function benchInProcess(stream: IpfixStream, o: InProcessOptions = {}): InProcessResult {
  const passes = o.passes ?? 10;
  const formatter = new Ipfixcol2JsonFormatter({}, protocolKeyword);
  let jsonChars = 0;
  let records = 0;
  let drops = 0;
  const encode = o.encode ?? true;
  const scratch = Buffer.allocUnsafe(8 << 20);
  const out = new ByteOutput(1 << 20);
  const pipeline = new DecodeStage({
    registry: IeRegistry.builtin(),
    onBatch: o.bytes
      ? (b) => {
          // As the collector's writer does: append, and hand off (here: drop) a chunk every 256 KB.
          formatter.formatBatchInto(b, out);
          if (out.len >= 256 * 1024) {
            jsonChars += out.len;
            out.reset();
          }
          records += b.count;
        }
      : (b) => {
          const text = formatter.formatBatch(b);
          // Batches are a few KB; write() flattens the rope and encodes it, as stream.write() would.
          jsonChars += encode ? scratch.write(text, 0, 'utf8') : text.length;
          records += b.count;
        },
    onDrop: () => drops++,
  });
  const session = makeSession('udp', '127.0.0.1', 40000, 4739);
  const datagrams = stream.datagrams;
  const now = Date.now();

  const run = (): { ms: number; cpuUs: number; records: number; chars: number } => {
    const r0 = records;
    const c0 = jsonChars;
    const u0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let p = 0; p < passes; p++) {
      for (let i = 0; i < datagrams.length; i++) pipeline.handle(datagrams[i]!, session, now);
    }
    jsonChars += out.len;
    out.reset();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    // CPU time is less disturbed than wall time by other work on a shared machine (A/B runs).
    const u = process.cpuUsage(u0);
    return { ms, cpuUs: u.user + u.system, records: records - r0, chars: jsonChars - c0 };
  };

  for (let w = 0; w < (o.warmupRuns ?? 2); w++) run();
  const results = Array.from({ length: o.runs ?? 5 }, run);
  const rate = (r: { ms: number; records: number }) => (r.records / r.ms) * 1000;
  const best = results.reduce((a, b) => (rate(b) > rate(a) ? b : a));
  // Options records count as records for the pipeline; the rate counts flow records only.
  const flowRecords = stream.records * passes;
  return {
    recordsPerSec: (flowRecords / best.ms) * 1000,
    datagramsPerSec: ((datagrams.length * passes) / best.ms) * 1000,
    jsonMBPerSec: best.chars / best.ms / 1000,
    runs: results.map((r) => (flowRecords / r.ms) * 1000),
    cpuNsPerRecord: results.map((r) => (r.cpuUs * 1000) / flowRecords),
    recordsPerRun: flowRecords,
    jsonBytesPerRecord: best.chars / best.records,
    drops,
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const stream = buildIpfixStream();
  // BENCH_VARIANT=formatter|bytes|text limits the run to one variant (the profiler uses bytes).
  const variant = process.env.BENCH_VARIANT;
  const variants = [
    { name: 'formatter', label: ' (byte formatter)', o: { bytes: true } },
    { name: 'bytes', label: ' (UTF-8 bytes)   ', o: { encode: true } },
    { name: 'text', label: ' (text only)     ', o: { encode: false } },
  ].filter((v) => variant === undefined || variant === '' || v.name === variant);
  for (const v of variants) {
    const r = benchInProcess(stream, { runs: Number(process.env.BENCH_RUNS ?? 5), ...v.o });
    // BENCH_JSON=1: one JSON line per variant, for bench/ab.ts.
    if (process.env.BENCH_JSON === '1') {
      console.log(JSON.stringify({ variant: v.name, runs: r.runs, cpuNsPerRecord: r.cpuNsPerRecord, jsonBytesPerRecord: r.jsonBytesPerRecord, drops: r.drops }));
      continue;
    }
    console.log(
      `in-process decode + JSON${v.label}: ${(r.recordsPerSec / 1e6).toFixed(3)} M records/s ` +
        `(best of ${r.runs.length}: ${r.runs.map((x) => (x / 1e6).toFixed(3)).join(', ')}), ${r.jsonMBPerSec.toFixed(1)} MB/s JSON, ${r.jsonBytesPerRecord.toFixed(0)} bytes/record`,
    );
  }
}
