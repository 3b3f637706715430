/**
 * Golden JSON text: every capture of the logstash-codec-netflow and telegraf corpora (the
 * elastic-flowbeat sequences repeat the logstash captures) decoded and formatted under every
 * IPFIXcol2 JSON option set, compared byte for byte with test/fixtures/json-golden/<capture>.jsonl,
 * through both the string path (formatBatch) and the byte path (formatBatchInto).
 *
 * Regenerate after a reviewed change: node --import tsx test/format-golden.test.ts --update
 * (see test/fixtures/json-golden/README.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByteOutput } from '../src/format/byte-output.js';
import { Ipfixcol2JsonFormatter, type JsonFormatOptions } from '../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession, type TransportSession } from '../src/wire/batch.js';
import { splitDatagrams } from '../src/wire/framing.js';
import { IeRegistry, protocolKeyword } from '../src/wire/ie/registry.js';
import { udpFromFrame } from '../src/wire/packet/parse.js';
import { IpReassembler } from '../src/wire/packet/reassemble.js';
import { readCapture } from '../src/wire/pcap/read.js';
import { corpusPath, loadSequences, type Sequence } from './conformance/corpus.js';

const GOLDEN = fileURLToPath(new URL('./fixtures/json-golden/', import.meta.url));
const UPDATE = process.argv.includes('--update');
/** Arrival time of datagrams read from .dat/.bin files (pcaps carry their own). */
const NOW = 1_704_067_300_000;

/** The option sets: defaults, each option away from its default alone, and all of them at once. */
const FLIPPED: Partial<JsonFormatOptions> = {
  tcpFlags: 'raw',
  timestamp: 'unix',
  protocol: 'raw',
  ignoreUnknown: false,
  ignoreOptions: false,
  nonPrintableChar: false,
  octetArrayAsUint: false,
  numericNames: true,
  splitBiflow: true,
  detailedInfo: true,
  templateInfo: true,
};
const OPTION_SETS: Partial<JsonFormatOptions>[] = [
  {},
  ...Object.entries(FLIPPED).map(([k, v]) => ({ [k]: v }) as Partial<JsonFormatOptions>),
  { ...FLIPPED },
];

function datagramsOf(path: string): Array<{ payload: Buffer; src: string; sport: number; dport: number; ts: number }> {
  const buf = readFileSync(path);
  if (/\.(dat|bin)$/.test(path)) return splitDatagrams(buf).map((payload) => ({ payload, src: '192.0.2.1', sport: 4444, dport: 4739, ts: NOW }));
  const out: Array<{ payload: Buffer; src: string; sport: number; dport: number; ts: number }> = [];
  const reasm = new IpReassembler();
  try {
    for (const fr of readCapture(buf)) {
      const u = udpFromFrame(fr.linkType, fr.data, reasm, fr.tsMs);
      if (u !== undefined) out.push({ payload: Buffer.from(u.payload), src: u.srcAddr, sport: u.srcPort, dport: u.dstPort, ts: fr.tsMs });
    }
  } catch {
    // the frames before the damage
  }
  return out;
}

/** The golden text of one capture sequence: per option set a "# options" line, then the JSON lines. */
function render(seq: Sequence, registry: IeRegistry): { text: string; bytes: Buffer } {
  let text = '';
  const chunks: Buffer[] = [];
  for (const opts of OPTION_SETS) {
    const head = `# options ${JSON.stringify(opts)}\n`;
    text += head;
    chunks.push(Buffer.from(head, 'utf8'));
    const f = new Ipfixcol2JsonFormatter(opts, protocolKeyword);
    const out = new ByteOutput(1024);
    const pipeline = new DecodeStage({
      registry,
      onBatch: (b) => {
        text += f.formatBatch(b);
        f.formatBatchInto(b, out);
      },
      onTemplate: f.options.templateInfo
        ? (ev) => {
            if (ev.withdrawn) return;
            const t = f.formatTemplate(ev.ctx, ev.template);
            text += t;
            out.writeString(t);
          }
        : undefined,
    });
    const sessions = new Map<string, TransportSession>();
    for (const input of seq.inputs) {
      for (const g of datagramsOf(corpusPath(input))) {
        const key = `${g.src}|${g.sport}|${g.dport}`;
        let s = sessions.get(key);
        if (s === undefined) sessions.set(key, (s = makeSession('udp', g.src, g.sport, g.dport)));
        pipeline.handle(g.payload, s, g.ts);
      }
    }
    pipeline.decoder.flush();
    chunks.push(Buffer.from(out.view()));
  }
  return { text, bytes: Buffer.concat(chunks) };
}

const fileName = (seq: Sequence) => seq.id.replace(/[^A-Za-z0-9._-]+/g, '_') + '.jsonl';

const sequences = existsSync(corpusPath('inventory.json')) ? loadSequences().filter((s) => s.source !== 'elastic-flowbeat') : [];

if (UPDATE) {
  const registry = IeRegistry.builtin();
  mkdirSync(GOLDEN, { recursive: true });
  for (const f of readdirSync(GOLDEN)) if (f.endsWith('.jsonl')) rmSync(join(GOLDEN, f));
  for (const seq of sequences) writeFileSync(join(GOLDEN, fileName(seq)), render(seq, registry).text);
  console.log(`wrote ${sequences.length} golden files to ${GOLDEN}`);
}

test('golden JSON: corpus captures under every option set, string and byte path', (t) => {
  if (sequences.length === 0) {
    t.skip('no corpora in this checkout');
    return;
  }
  const registry = IeRegistry.builtin();
  let lines = 0;
  for (const seq of sequences) {
    const path = join(GOLDEN, fileName(seq));
    assert.ok(existsSync(path), `${path} missing (node --import tsx test/format-golden.test.ts --update)`);
    const golden = readFileSync(path);
    const { text, bytes } = render(seq, registry);
    if (text !== golden.toString('utf8')) {
      const a = text.split('\n');
      const b = golden.toString('utf8').split('\n');
      const i = a.findIndex((l, k) => l !== b[k]);
      assert.fail(`${seq.id}: line ${i + 1} differs from ${path}\n  sluice: ${a[i]}\n  golden: ${b[i]}`);
    }
    assert.ok(bytes.equals(golden), `${seq.id}: byte path differs from ${path}`);
    lines += text.split('\n').length - 1;
  }
  t.diagnostic(`${sequences.length} captures x ${OPTION_SETS.length} option sets, ${lines} lines`);
});
