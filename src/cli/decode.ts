import { readFileSync } from 'node:fs';
import { DecodeStage } from '../pipeline/decode.js';
import { LineWriter } from '../outputs/line-writer.js';
import { makeSession, type TransportSession } from '../wire/batch.js';
import { splitDatagrams } from '../wire/framing.js';
import { udpFromFrame } from '../wire/packet/parse.js';
import { IpReassembler } from '../wire/packet/reassemble.js';
import { CaptureFormatError, captureKind, readCapture } from '../wire/pcap/read.js';
import type { TemplateStoreLimits } from '../wire/template-store.js';
import { parseFormatSpec } from '../format/spec.js';
import { loadRegistry } from '../model/registry.js';
import { dropLogger } from '../pipeline/drop-log.js';
import { Ipfixcol2JsonFormatter } from '../format/ipfixcol2-json.js';

export interface DecodeCommandOptions {
  readonly format: string;
  readonly ieFile: string[];
  /** Exporter address[:port] assumed for raw payload files, which carry none. */
  readonly exporter: string;
  readonly templateLifetime?: number;
  readonly quiet?: boolean;
}

function parseExporter(text: string): { address: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (m === null) return { address: text, port: 0 };
  return { address: m[1]!, port: m[2] !== undefined ? Number(m[2]) : 0 };
}

/** `sluice decode FILE...`: offline decoding of captures and raw payload files, in order. */
export async function runDecode(files: string[], opts: DecodeCommandOptions): Promise<number> {
  const registry = loadRegistry(opts.ieFile);
  const formatter = new Ipfixcol2JsonFormatter(parseFormatSpec(opts.format));
  const out = new LineWriter(process.stdout, Number.MAX_SAFE_INTEGER);
  const logDrop = dropLogger((line) => process.stderr.write(`sluice decode: ${line}\n`));
  const limits: Partial<TemplateStoreLimits> =
    opts.templateLifetime !== undefined ? { udpTemplateLifetimeMs: opts.templateLifetime * 1000 } : {};
  const pipeline = new DecodeStage({
    registry,
    limits,
    onBatch: (b) => {
        // UTF-8 straight into the writer's buffer: no JSON strings to build, flatten and encode.
        formatter.formatBatchInto(b, out.bytes);
        out.commit();
      },
    onTemplate: formatter.options.templateInfo ? (ev) => out.write(formatter.formatTemplate(ev.ctx, ev.template, ev.withdrawn)) : undefined,
    onDrop: opts.quiet ? undefined : logDrop,
  });
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
      for (const d of splitDatagrams(buf)) pipeline.handle(d, rawSession, lastTs);
      await out.drain();
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
        if (++n % 256 === 0) await out.drain();
      }
    } catch (err) {
      if (!(err instanceof CaptureFormatError)) throw err;
      process.stderr.write(`sluice decode: ${file}: ${err.message}; the frames before it were decoded\n`);
      errors++;
    }
    await out.drain();
  }
  pipeline.decoder.flush();
  await out.drain();
  const c = pipeline.counters;
  const drops = Object.entries(c.drops.toJSON())
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stderr.write(
    `sluice decode: ${files.length} file(s), ${c.datagrams} datagrams, ${c.records} records, ${c.optionsRecords} options records` +
      `${skippedFrames ? `, ${skippedFrames} non-UDP or fragment frames skipped` : ''}` +
      `, dropped: ${drops || 'none'}${errors ? `, ${errors} damaged capture(s)` : ''}${unreadable ? `, ${unreadable} unreadable file(s)` : ''}\n`,
  );
  // Bad input is reported, not fatal; only files that could not be read at all fail the run.
  return unreadable > 0 ? 1 : 0;
}
