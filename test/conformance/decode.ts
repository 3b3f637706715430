/**
 * Runs a test sequence through sluice's real decode path (DecodeStage + IPFIXcol2 JSON formatter)
 * and parses the JSON lines back, so the conformance test checks what a user of `sluice decode` sees.
 */
import { DecodeStage } from '../../src/pipeline/decode.js';
import { Ipfixcol2JsonFormatter } from '../../src/format/ipfixcol2-json.js';
import { makeSession, type FlowProtocol, type TransportSession } from '../../src/wire/batch.js';
import { splitDatagrams } from '../../src/wire/framing.js';
import { IeRegistry, protocolKeyword } from '../../src/wire/ie/registry.js';
import { udpFromFrame } from '../../src/wire/packet/parse.js';
import { IpReassembler } from '../../src/wire/packet/reassemble.js';
import { captureKind, readCapture } from '../../src/wire/pcap/read.js';
import type { DropEvent } from '../../src/wire/stats.js';
import { isRecord, readCorpusFile, type Sequence } from './corpus.js';

/** One record as sluice printed it, with what the decoder knew about its message. */
export interface SluiceRecord {
  /** The JSON object: keys ("iana:octetDeltaCount") to parsed values. */
  readonly json: Readonly<Record<string, unknown>>;
  readonly protocol: FlowProtocol;
  readonly isOptions: boolean;
  /** Where the record came from, to line it up with tshark's packet / set / record tree. */
  readonly at: RecordLocator;
}

/**
 * Position of a record on the wire as tshark numbers it: the n-th flow datagram of the sequence (counting only
 * datagrams with a NetFlow/IPFIX version, as tshark's `cflow` filter does), the template of its set (from the
 * decoder, not the JSON), the ordinal of that set among the sets of the same template in the datagram, and the
 * record's position in its set.
 */
export interface RecordLocator {
  readonly datagram: number;
  readonly templateId: number;
  readonly set: number;
  readonly record: number;
}

export interface SluiceRun {
  /** Data and options records, in the order sluice emitted them. */
  readonly records: readonly SluiceRecord[];
  readonly drops: readonly DropEvent[];
  readonly datagrams: number;
}

/**
 * 'first': only the first datagram of each raw payload file, as the upstream harnesses decode a file (one
 * datagram, whatever follows is ignored); 'all': every datagram, as tshark saw them in the wrapped pcaps.
 */
export type DatagramSelection = 'first' | 'all';

export const registry = IeRegistry.builtin();

// Raw names and numbers: the comparison maps goldens onto wire values, not onto sluice's display forms.
const formatter = new Ipfixcol2JsonFormatter(
  {
    ignoreUnknown: false,
    ignoreOptions: false,
    timestamp: 'unix',
    protocol: 'raw',
    tcpFlags: 'raw',
    detailedInfo: true,
    octetArrayAsUint: false,
    nonPrintableChar: false,
  },
  protocolKeyword,
);

/**
 * JSON.parse loses integers above 2^53 (uint64 counters, NetScaler flags). Quote every integer
 * token of 16 or more digits outside strings first, so such values reach the comparison exactly.
 */
export function parseJsonLossless(text: string): unknown {
  let out = '';
  let i = 0;
  let last = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // skip a string, honouring escapes
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
      continue;
    }
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j]!)) j++;
      const tok = text.slice(i, j);
      if (/^-?\d{16,}$/.test(tok) && !Number.isSafeInteger(Number(tok))) {
        out += text.slice(last, i) + '"' + tok + '"';
        last = j;
      }
      i = j;
      continue;
    }
    i++;
  }
  return JSON.parse(out + text.slice(last));
}

/** Decodes every input of the sequence in order: raw payload files through one session, pcaps per UDP source. */
export function runSluice(seq: Sequence, datagrams: DatagramSelection = 'all'): SluiceRun {
  const records: SluiceRecord[] = [];
  const drops: DropEvent[] = [];
  // Batches are emitted synchronously inside handle(), so the datagram being handled is the one they came
  // from (data held for a late template would be credited to the datagram that released it).
  let datagram = -1;
  const setsSeen = new Map<number, number>();
  const pipeline = new DecodeStage({
    registry,
    onBatch: (b) => {
      const tid = b.template.id;
      const set = setsSeen.get(tid) ?? 0;
      setsSeen.set(tid, set + 1);
      let record = 0;
      for (const line of formatter.formatBatch(b).split('\n')) {
        if (line === '') continue;
        const json = parseJsonLossless(line);
        if (!isRecord(json)) continue;
        // sluice prints the header export time in whole seconds, as IPFIXcol2 does; compare the decoded time
        // (milliseconds, with v5/v7 nanoseconds) that the goldens carry.
        if ('ipfix:exportTime' in json) json['ipfix:exportTime'] = b.ctx.exportTimeMs;
        records.push({ json, protocol: b.ctx.protocol, isOptions: b.template.isOptions, at: { datagram, templateId: tid, set, record: record++ } });
      }
    },
    onDrop: (ev) => drops.push(ev),
  });
  // The exporter every upstream harness uses for raw payload files (flowbeat's dat tests).
  const rawSession = makeSession('file', '192.0.2.1', 4444);
  const sessions = new Map<string, TransportSession>();
  const reasm = new IpReassembler();
  // A fixed clock keeps template lifetimes out of play: the inputs are decoded as if they arrived at once.
  const now = Date.UTC(2020, 0, 1);
  const handle = (d: Buffer, session: TransportSession, ts: number) => {
    const version = d.length >= 2 ? d.readUInt16BE(0) : -1;
    if (version === 5 || version === 7 || version === 9 || version === 10) datagram++;
    setsSeen.clear();
    pipeline.handle(d, session, ts);
  };
  for (const file of seq.inputs) {
    const buf = readCorpusFile(file);
    if (captureKind(buf) === undefined) {
      const all = splitDatagrams(buf);
      for (const d of datagrams === 'first' ? all.slice(0, 1) : all) handle(d, rawSession, now);
      continue;
    }
    for (const frame of readCapture(buf)) {
      const udp = udpFromFrame(frame.linkType, frame.data, reasm, frame.tsMs);
      if (udp === undefined) continue;
      const key = `${udp.srcAddr}|${udp.srcPort}|${udp.dstPort}`;
      let s = sessions.get(key);
      if (s === undefined) sessions.set(key, (s = makeSession('file', udp.srcAddr, udp.srcPort, udp.dstPort)));
      handle(udp.payload, s, frame.tsMs);
    }
  }
  pipeline.decoder.flush();
  return { records, drops, datagrams: pipeline.counters.datagrams };
}
