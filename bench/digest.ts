/**
 * SHA-256 of everything the in-process benchmark path writes (byte formatter) and of the string
 * formatter's text, over the benchmark stream, under a few option sets. Performance changes must
 * leave these digests unchanged: run it in the old and the new checkout and compare.
 *
 *   node --import tsx bench/digest.ts
 */
import { createHash } from 'node:crypto';
import { ByteOutput } from '../src/format/byte-output.js';
import { Ipfixcol2JsonFormatter, type JsonFormatOptions } from '../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession } from '../src/wire/batch.js';
import { IeRegistry, protocolKeyword } from '../src/wire/ie/registry.js';
import { buildIpfixStream } from './ipfix-stream.js';

const OPTION_SETS: Partial<JsonFormatOptions>[] = [
  {},
  { timestamp: 'unix', tcpFlags: 'raw', protocol: 'raw' },
  { numericNames: true, detailedInfo: true, ignoreOptions: false },
];

const stream = buildIpfixStream(1000, 25, 0x5eed);
const session = makeSession('udp', '127.0.0.1', 40000, 4739);
for (const opts of OPTION_SETS) {
  const f = new Ipfixcol2JsonFormatter(opts, protocolKeyword);
  const hb = createHash('sha256');
  const ht = createHash('sha256');
  const out = new ByteOutput(1 << 16);
  let n = 0;
  const p = new DecodeStage({
    registry: IeRegistry.builtin(),
    onBatch: (b) => {
      f.formatBatchInto(b, out);
      if (out.len > 1 << 15) {
        hb.update(out.view());
        out.reset();
      }
      ht.update(f.formatBatch(b), 'utf8');
      n += b.count;
    },
  });
  // Twice over the stream: the second pass runs the optimised code.
  for (let pass = 0; pass < 2; pass++) for (const d of stream.datagrams) p.handle(d, session, 1_704_067_300_000);
  hb.update(out.view());
  const bytes = hb.digest('hex');
  const text = ht.digest('hex');
  console.log(`${JSON.stringify(opts)} records ${n} bytes ${bytes.slice(0, 16)} text ${text.slice(0, 16)}${bytes === text ? '' : ' MISMATCH'}`);
}
