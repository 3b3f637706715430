/**
 * Raw flows as plain data: one object per flow with every stored column (src/store/schema.ts),
 * keyed by column name, in forms any front end can print:
 *   timestamps   number, ms since the epoch
 *   addresses    text (dotted quad for IPv4, RFC 5952 for IPv6)
 *   64-bit       bigint (packets, bytes, MACs: exact whatever their size)
 *   other ints   number; kind, extra: string
 * NULL (the record did not carry the element) is null.
 */
import type { DuckDBDataChunk, DuckDBValue } from '@duckdb/node-api';
import { FLOW_COLUMNS, type ColumnDef } from '../store/schema.js';
import { uuidAddressText } from './address.js';

export type FlowValue = string | number | bigint | null;
export type FlowRecord = Readonly<Record<string, FlowValue>>;

/** The select list that reads every flows column in the form flowRecords() takes. */
export function flowSelectList(): string {
  // Milliseconds as DOUBLE arrive as JS numbers (exact: they are far below 2^53).
  return FLOW_COLUMNS.map((c) => (c.type === 'TIMESTAMP_MS' ? `epoch_ms(${c.name})::DOUBLE AS ${c.name}` : c.name)).join(', ');
}

type Convert = (v: DuckDBValue) => FlowValue;

function converter(c: ColumnDef): Convert {
  switch (c.type) {
    case 'UUID':
      return (v) => uuidAddressText(String(v));
    case 'UBIGINT':
      return (v) => (typeof v === 'bigint' ? v : BigInt(v as number));
    case 'KIND':
    case 'VARCHAR':
      return (v) => String(v);
    default:
      return (v) => Number(v);
  }
}

const CONVERTERS: readonly Convert[] = FLOW_COLUMNS.map(converter);
/** Every record starts as a copy of this, so all share one shape (and one hidden class). */
const TEMPLATE: Readonly<Record<string, FlowValue>> = Object.fromEntries(FLOW_COLUMNS.map((c) => [c.name, null]));

/** The rows of a chunk read with flowSelectList(), column by column (values in FLOW_COLUMNS order). */
export function flowRecords(chunk: DuckDBDataChunk): FlowRecord[] {
  const n = chunk.rowCount; // a native call: read once
  const rows: Record<string, FlowValue>[] = [];
  for (let k = 0; k < n; k++) rows.push({ ...TEMPLATE });
  FLOW_COLUMNS.forEach((c, i) => {
    const vector = chunk.getColumnVector(i);
    const convert = CONVERTERS[i]!;
    const name = c.name;
    for (let k = 0; k < n; k++) {
      const v = vector.getItem(k);
      if (v !== null) rows[k]![name] = convert(v);
    }
  });
  return rows;
}

/** A flow's packets and bytes scaled by its sampling rate (0 when not carried). */
export function scaledCounts(r: FlowRecord): { packets: bigint; bytes: bigint } {
  const s = BigInt(typeof r.sampling === 'number' ? r.sampling : 1);
  const p = typeof r.packets === 'bigint' ? r.packets : 0n;
  const b = typeof r.bytes === 'bigint' ? r.bytes : 0n;
  return { packets: p * s, bytes: b * s };
}
