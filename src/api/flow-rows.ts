/**
 * Raw flows as the API gives them: every stored column under its name (src/store/schema.ts), in
 * the forms of `sluice query --format csv` (times ISO 8601, MACs aa:bb:.., 64-bit counters exact),
 * then what a reader computes from them: the counts scaled by sampling, the duration, the protocol's
 * name and the TCP flags as letters.
 */
import { flagsText, isoTime, macText, protocolText } from '../query/format-units.js';
import { scaledCounts, type FlowRecord } from '../query/records.js';
import type { SqlValue } from '../query/results.js';
import { FLOW_COLUMNS } from '../store/schema.js';

/** A column of the API's flow rows: the stored ones, then the derived ones. */
export interface FlowField {
  readonly name: string;
  readonly doc: string;
  /** True for the stored columns, false for what the API derives from them. */
  readonly stored: boolean;
}

export const FLOW_FIELDS: readonly FlowField[] = [
  ...FLOW_COLUMNS.map((c) => ({ name: c.name, doc: c.doc, stored: true })),
  { name: 'scaled_packets', doc: 'packets × sampling: what the totals and statistics count', stored: false },
  { name: 'scaled_bytes', doc: 'bytes × sampling', stored: false },
  { name: 'duration_ms', doc: 'time_end - time_start in ms (null when either is unknown)', stored: false },
  { name: 'proto_name', doc: 'IANA keyword of proto', stored: false },
  { name: 'flags_text', doc: 'tcp_flags as CEUAPRSF letters, "." for a clear bit', stored: false },
];

const TIMES = new Set(FLOW_COLUMNS.filter((c) => c.type === 'TIMESTAMP_MS').map((c) => c.name));
const MACS = new Set(['src_mac', 'dst_mac']);

export function flowRow(r: FlowRecord): { [name: string]: SqlValue } {
  const o: { [name: string]: SqlValue } = {};
  for (const c of FLOW_COLUMNS) {
    const v = r[c.name] ?? null;
    if (v !== null && TIMES.has(c.name)) o[c.name] = isoTime(v as number);
    else if (typeof v === 'bigint' && MACS.has(c.name)) o[c.name] = macText(v);
    else o[c.name] = v;
  }
  const s = scaledCounts(r);
  o.scaled_packets = s.packets;
  o.scaled_bytes = s.bytes;
  o.duration_ms = typeof r.time_start === 'number' && typeof r.time_end === 'number' ? r.time_end - r.time_start : null;
  o.proto_name = typeof r.proto === 'number' ? protocolText(r.proto) : null;
  o.flags_text = typeof r.tcp_flags === 'number' ? flagsText(r.tcp_flags) : null;
  return o;
}
