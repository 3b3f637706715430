/**
 * `sluice decode FILE...`: captures and raw payload files decoded offline, in order, through the
 * same decoder and encoders as collect (src/collect/fanout.ts).
 */
import { readFileSync, statSync } from 'node:fs';
import { Command } from 'commander';
import type { EncodedPart, EncoderSpec } from '../collect/encoders.js';
import { Fanout } from '../collect/fanout.js';
import type { WorkerCounters } from '../collect/protocol.js';
import { WorkerPool } from '../collect/worker-pool.js';
import type { DropEvent } from '../wire/stats.js';
import { DEFAULT_JSON_OPTIONS } from '../format/ipfixcol2-json.js';
import { parseFormatSpec } from '../format/spec.js';
import { loadRegistry } from '../model/registry.js';
import { LineWriter } from '../outputs/line-writer.js';
import { openStoreWriter } from '../store/open-writer.js';
import type { StoreWriter } from '../store/writer.js';
import { dropLogger } from '../pipeline/drop-log.js';
import { makeSession, type TransportSession } from '../wire/batch.js';
import { splitDatagrams } from '../wire/framing.js';
import { udpFromFrame } from '../wire/packet/parse.js';
import { IpReassembler } from '../wire/packet/reassemble.js';
import { CaptureFormatError, captureKind, readCapture } from '../wire/pcap/read.js';
import { collectList, positiveInt } from './args.js';
import { FORMAT_HELP } from './format-help.js';

interface DecodeFlags {
  readonly format: string;
  readonly ieFile: string[];
  /** Exporter address[:port] assumed for raw payload files, which carry none. */
  readonly exporter: string;
  readonly templateLifetime?: number;
  readonly quiet?: boolean;
  readonly store?: string;
  readonly print?: boolean;
}

export function decodeCommand(): Command {
  return new Command('decode')
    .description('decode pcap/pcapng captures or raw export payload files offline, in order, to JSON lines on stdout')
    .argument('<files...>', 'pcap, pcapng, or raw payload files (one or several concatenated datagrams)')
    .option('-f, --format <spec>', FORMAT_HELP, 'json')
    .option('--ie-file <path>', 'extra Information Element definitions; repeatable', collectList, [])
    .option('--exporter <addr[:port]>', 'exporter address assumed for raw payload files', '0.0.0.0')
    .option('--template-lifetime <seconds>', 'UDP template lifetime, measured in capture time', positiveInt)
    .option('-q, --quiet', 'do not log individual drops (the summary still counts them)')
    .option('--store <dir>', 'import the records into the flow store under DIR instead of printing them (sluice query --store DIR); a progress line on a terminal')
    .option('--print', 'with --store: print the JSON lines too')
    .addHelpText(
      'after',
      `
Templates carry over from file to file, so pass a template capture before its data.
A summary (datagrams, records, drops by reason) is printed on stderr; the exit code is 0 even
when input was bad, and 1 only when a file could not be read.

Examples:
  sluice decode capture.pcapng
  sluice decode templates.bin data1.bin data2.bin -f json,timestamp=unix
  sluice decode --store /var/lib/sluice captures/*.pcap      # import, then: sluice query --store /var/lib/sluice -s srcip/bytes

An imported capture keeps its flows' own times; retention counts from the import.`,
    )
    .action(async (files: string[], o: DecodeFlags) => {
      process.exitCode = await runDecode(files, o);
    });
}

/** Where decode's datagrams are decoded: here, or in a worker thread; parts go to `receive` in order. */
interface DecodeUnit {
  handle(d: Buffer, s: TransportSession, nowMs: number): void;
  /** Hands what was decoded so far to `receive`. */
  deliver(): void;
  waitForRoom(): Promise<void>;
  records(): number;
  /** End of input: held sets dropped and counted, everything delivered; the counters. */
  finish(): Promise<WorkerCounters>;
}

function inlineUnit(encoders: EncoderSpec[], opts: DecodeFlags, limits: object, receive: (p: EncodedPart) => void, onDrop: ((ev: DropEvent) => void) | undefined): DecodeUnit {
  const fanout = new Fanout({ registry: loadRegistry(opts.ieFile), limits, encoders, onDrop });
  const deliver = (all: boolean) => {
    for (const p of fanout.take(all)) if (p !== undefined) receive(p);
  };
  return {
    handle: (d, s, now) => fanout.handle(d, s, now),
    deliver: () => deliver(false),
    waitForRoom: async () => {},
    records: () => fanout.stage.counters.records,
    finish: async () => {
      fanout.flush();
      deliver(true);
      return fanout.counters();
    },
  };
}

function workerUnit(encoders: EncoderSpec[], opts: DecodeFlags, limits: object, receive: (p: EncodedPart) => void): DecodeUnit {
  let records = 0;
  const pool = new WorkerPool(1, { encoders, ieFiles: opts.ieFile, limits }, {
    onPart: (_k, p) => {
      if (p.kind === 'store') for (const b of p.blocks) records += b.table === 'flows' ? b.count : 0;
      receive(p);
    },
    onLog: (_level, msg) => {
      if (!opts.quiet) process.stderr.write(`sluice decode: ${msg}\n`);
    },
  });
  return {
    handle: (d, s, now) => pool.handle(d, s, now),
    deliver: () => {},
    // Far below the bound where live traffic would be dropped.
    waitForRoom: () => pool.waitForRoom(20_000),
    records: () => records,
    finish: () => pool.stop(),
  };
}

function statSafe(f: string): { size: number } | undefined {
  try {
    return statSync(f);
  } catch {
    return undefined;
  }
}

/** Where the store's writer logs: stderr lines, as the rest of decode's messages. */
const decodeLog = {
  debug: () => {},
  info: () => {},
  warn: (_o: object, msg?: string) => process.stderr.write(`sluice decode: ${msg ?? ''}\n`),
  error: (_o: object, msg?: string) => process.stderr.write(`sluice decode: ${msg ?? ''}\n`),
};

/** A progress line on a terminal: share of the input read, records, records/s, time left. */
class Progress {
  readonly #start = Date.now();
  #last = 0;

  constructor(
    private readonly tty: boolean,
    private readonly done: () => number,
    private readonly total: number,
  ) {}

  update(records: number): void {
    const now = Date.now();
    if (!this.tty || now - this.#last < 250) return;
    this.#last = now;
    const share = this.total > 0 ? Math.min(1, this.done() / this.total) : 0;
    const secs = (now - this.#start) / 1000;
    const eta = share > 0.01 ? (secs / share) * (1 - share) : NaN;
    const width = 24;
    const bar = '='.repeat(Math.round(share * width)).padEnd(width, ' ');
    process.stderr.write(`\r[${bar}] ${(share * 100).toFixed(0).padStart(3)}%  ${human(records)} records  ${human(records / Math.max(secs, 0.001))}/s  ETA ${Number.isFinite(eta) ? clock(eta) : '--:--'} `);
  }

  end(): void {
    if (this.tty && this.#last > 0) process.stderr.write('\n');
  }

  rateText(records: number): string {
    const secs = (Date.now() - this.#start) / 1000;
    return `${secs.toFixed(1)} s, ${human(records / Math.max(secs, 0.001))} records/s`;
  }
}

function human(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);
}

function clock(secs: number): string {
  const s = Math.round(secs);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function parseExporter(text: string): { address: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (m === null) return { address: text, port: 0 };
  return { address: m[1]!, port: m[2] !== undefined ? Number(m[2]) : 0 };
}

/** `sluice decode FILE...`: offline decoding of captures and raw payload files, in order. */
async function runDecode(files: string[], opts: DecodeFlags): Promise<number> {
  const out = new LineWriter(process.stdout, Number.MAX_SAFE_INTEGER);
  const logDrop = dropLogger((line) => process.stderr.write(`sluice decode: ${line}\n`));
  const format = { ...DEFAULT_JSON_OPTIONS, ...parseFormatSpec(opts.format) };
  const printing = opts.store === undefined || opts.print === true;
  let store: StoreWriter | undefined;
  if (opts.store !== undefined) {
    try {
      store = await openStoreWriter({ dir: opts.store }, decodeLog);
    } catch (err) {
      process.stderr.write(`sluice decode: cannot open the store ${opts.store}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const encoders: EncoderSpec[] = [...(printing ? [{ kind: 'json' as const, formats: [format] }] : []), ...(store !== undefined ? [{ kind: 'store' as const }] : [])];
  const limits = opts.templateLifetime !== undefined ? { udpTemplateLifetimeMs: opts.templateLifetime * 1000 } : {};
  const receive = (p: EncodedPart) => {
    if (p.kind === 'json' && p.groups[0]) out.writeBytes(Buffer.from(p.groups[0].buffer, p.groups[0].byteOffset, p.groups[0].byteLength));
    else if (p.kind === 'store') for (const b of p.blocks) store!.append(b);
  };
  // An import decodes in a worker thread while this one reads the files and feeds the store
  // (one worker: records stay in file order). Printing alone decodes here.
  const unit = store !== undefined ? workerUnit(encoders, opts, limits, receive) : inlineUnit(encoders, opts, limits, receive, opts.quiet ? undefined : logDrop);
  const pipeline = { handle: (d: Buffer, s: TransportSession, now: number) => unit.handle(d, s, now) };
  const deliver = (_all: boolean) => unit.deliver();
  /** An import waits for the store rather than outrunning it: nothing read is dropped. */
  const drain = async () => {
    await unit.waitForRoom();
    await out.drain();
    if (store !== undefined && store.stats().rowsBuffered > 2_000_000) await store.flush();
    progress.update(unit.records());
  };
  const totalBytes = files.reduce((n, f) => n + (statSafe(f)?.size ?? 0), 0);
  let doneBytes = 0;
  const progress = new Progress(store !== undefined && process.stderr.isTTY === true, () => doneBytes, totalBytes);
  const exporter = parseExporter(opts.exporter);
  // Raw files have no addresses: they share one session so templates carry from file to file.
  const rawSession = makeSession('file', exporter.address, exporter.port);
  const sessions = new Map<string, TransportSession>();
  const reasm = new IpReassembler();
  let errors = 0;
  let unreadable = 0;
  let lastTs = Date.now();
  let skippedFrames = 0;

  for (const file of files) {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (err) {
      process.stderr.write(`sluice decode: cannot read ${file}: ${(err as Error).message}\n`);
      unreadable++;
      continue;
    }
    const kind = captureKind(buf);
    if (kind === undefined) {
      let k = 0;
      for (const d of splitDatagrams(buf)) {
        pipeline.handle(d, rawSession, lastTs);
        // Written out as it goes: a big file's JSON (or rows) must not gather in memory first.
        if (++k % 256 === 0) {
          deliver(false);
          await drain();
        }
      }
      deliver(false);
      doneBytes += buf.length;
      await drain();
      continue;
    }
    try {
      let n = 0;
      for (const frame of readCapture(buf)) {
        const udp = udpFromFrame(frame.linkType, frame.data, reasm, frame.tsMs);
        if (udp === undefined) {
          skippedFrames++;
          continue;
        }
        const key = `${udp.srcAddr}|${udp.srcPort}|${udp.dstPort}`;
        let s = sessions.get(key);
        if (s === undefined) {
          s = makeSession('file', udp.srcAddr, udp.srcPort, udp.dstPort);
          sessions.set(key, s);
        }
        lastTs = frame.tsMs;
        pipeline.handle(udp.payload, s, frame.tsMs);
        if (++n % 256 === 0) {
          deliver(false);
          await drain();
        }
      }
    } catch (err) {
      if (!(err instanceof CaptureFormatError)) throw err;
      process.stderr.write(`sluice decode: ${file}: ${err.message}; the frames before it were decoded\n`);
      errors++;
    }
    deliver(false);
    doneBytes += buf.length;
    await drain();
  }
  const c = await unit.finish();
  out.flush();
  await out.drain();
  progress.end();
  let stored = '';
  if (store !== undefined) {
    await store.close();
    const s = store.stats();
    const dropped = Object.entries(s.rowsDropped).filter(([, n]) => n > 0);
    stored = `; stored ${s.rowsWritten} rows in ${opts.store}${dropped.length ? ` (not kept: ${dropped.map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`;
  }
  const drops = Object.entries(c.drops)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stderr.write(
    `sluice decode: ${files.length} file(s), ${c.datagrams} datagrams, ${c.records} records, ${c.optionsRecords} options records` +
      `${skippedFrames ? `, ${skippedFrames} non-UDP or fragment frames skipped` : ''}` +
      `, dropped: ${drops || 'none'}${errors ? `, ${errors} damaged capture(s)` : ''}${unreadable ? `, ${unreadable} unreadable file(s)` : ''}${stored}` +
      `, ${progress.rateText(c.records)}\n`,
  );
  // Bad input is reported, not fatal; only files that could not be read at all fail the run.
  return unreadable > 0 ? 1 : 0;
}
