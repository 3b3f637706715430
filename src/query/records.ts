/**
 * Raw flows as plain data: one object per flow with every stored column (src/store/schema.ts),
 * keyed by column name, in forms any front end can print:
 *   timestamps   number, ms since the epoch
 *   addresses    text (dotted quad for IPv4, RFC 5952 for IPv6)
 *   64-bit       bigint (packets, bytes, MACs: exact whatever their size)
 *   other ints   number; kind, extra: string
 * NULL (the record did not carry the element) is null.
 */
import type { JS } from '@duckdb/node-api';
import { FLOW_COLUMNS, type ColumnDef } from '../store/schema.js';
import { uuidAddressText } from './address.js';

export type FlowValue = string | number | bigint | null;
export type FlowRecord = Readonly<Record<string, FlowValue>>;

/** The select list that reads every flows column in the form flowRecord() takes. */
export function flowSelectList(): string {
  return FLOW_COLUMNS.map((c) => (c.type === 'TIMESTAMP_MS' ? `epoch_ms(${c.name}) AS ${c.name}` : c.name)).join(', ');
}

function convert(c: ColumnDef, v: JS | undefined): FlowValue {
  if (v === null || v === undefined) return null;
  switch (c.type) {
    case 'TIMESTAMP_MS':
    case 'UTINYINT':
    case 'USMALLINT':
    case 'UINTEGER':
      return Number(v);
    case 'UBIGINT':
      return typeof v === 'bigint' ? v : BigInt(v as number);
    case 'UUID':
      return uuidAddressText(String(v));
    case 'KIND':
    case 'VARCHAR':
      return String(v);
  }
}

/** A row read with flowSelectList(), values in FLOW_COLUMNS order. */
export function flowRecord(row: readonly JS[]): FlowRecord {
  const out: Record<string, FlowValue> = {};
  FLOW_COLUMNS.forEach((c, i) => (out[c.name] = convert(c, row[i])));
  return out;
}

/** A flow's packets and bytes scaled by its sampling rate (0 when not carried). */
export function scaledCounts(r: FlowRecord): { packets: bigint; bytes: bigint } {
  const s = BigInt(typeof r.sampling === 'number' ? r.sampling : 1);
  const p = typeof r.packets === 'bigint' ? r.packets : 0n;
  const b = typeof r.bytes === 'bigint' ? r.bytes : 0n;
  return { packets: p * s, bytes: b * s };
}
