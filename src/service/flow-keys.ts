/**
 * Reads the flow key (addresses, ports, protocol) of records in a batch, for `--debug` lines and
 * tests. Not a hot path: --debug is for looking at a few records.
 */
import type { FlowBatch } from '../wire/batch.js';
import { ipToString } from '../wire/packet/addr.js';
import { fieldSlices } from '../wire/values.js';

export interface FlowKey {
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  protocol?: number;
}

const IDS = { 8: 'src', 12: 'dst', 27: 'src', 28: 'dst', 7: 'srcPort', 11: 'dstPort', 4: 'protocol' } as const;

export function flowKeys(b: FlowBatch): FlowKey[] {
  const t = b.template;
  const slices = new Int32Array(t.fields.length * 2);
  const out: FlowKey[] = [];
  for (let i = 0; i < b.count; i++) {
    const k: FlowKey = {};
    if (fieldSlices(t, b.buf, b.starts[i]!, b.starts[i + 1]!, slices)) {
      t.fields.forEach((f, j) => {
        if (f.pen !== 0) return;
        const name = IDS[f.id as keyof typeof IDS];
        if (name === undefined) return;
        const off = slices[2 * j]!;
        const len = slices[2 * j + 1]!;
        if (name === 'src' || name === 'dst') {
          if (len === 4 || len === 16) k[name] = ipToString(b.buf, off, len);
        } else if (len > 0 && len <= 4) k[name] = b.buf.readUIntBE(off, len);
      });
    }
    out.push(k);
  }
  return out;
}
