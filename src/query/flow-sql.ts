/**
 * The SQL expressions every query shares over the flows columns (src/store/schema.ts): one place
 * that says how a flow's time, scaled counters, duration and rates are computed.
 *
 * Counters are scaled by the stored sampling rate (packets * sampling) everywhere: in filters, in
 * statistics and in totals, since sluice shows scaled values everywhere. HUGEINT keeps the
 * product exact whatever an exporter put in a 64-bit counter.
 */
import { FLOW_COLUMNS, sqlType, type ColumnDef } from '../store/schema.js';

/** The time a flow belongs to a window by: its end, or when it was received when the end is unknown. */
export const FLOW_TIME = 'coalesce(time_end, time_received)';
/** First seen: the flow start, else its end, else its reception. */
export const FIRST_SEEN = 'coalesce(time_start, time_end, time_received)';

export const SCALED_PACKETS = '(coalesce(packets, 0)::HUGEINT * sampling)';
export const SCALED_BYTES = '(coalesce(bytes, 0)::HUGEINT * sampling)';

/**
 * Ports as nfdump sees them, for filters and statistics: 0 when the flow carries none, and for
 * ICMP and ICMPv6 the type and code as the destination port (type * 256 + code), so `-s dstport`
 * and `port` filters count such flows as nfdump does. Raw flows keep the stored columns.
 */
const PORT_VALUES: Readonly<Record<string, string>> = {
  src_port: 'coalesce(src_port, 0)',
  dst_port: '(CASE WHEN proto IN (1, 58) AND icmp_type IS NOT NULL THEN icmp_type * 256 + coalesce(icmp_code, 0) ELSE coalesce(dst_port, 0) END)',
};

/** The SQL of a flows column's value for filters and statistics: the column, or its nfdump view (ports). */
export function valueSql(column: string): string {
  return PORT_VALUES[column] ?? column;
}

/** Whether valueSql(column) can be NULL. */
export function valueNullable(column: string): boolean {
  return PORT_VALUES[column] === undefined && flowColumn(column).nullable;
}

/** Flow duration in ms; 0 when the start or the end is unknown. */
export const DURATION_MS = 'coalesce(epoch_ms(time_end) - epoch_ms(time_start), 0)';

/** bits/s, packets/s and bytes/packet of `bytes` and `packets` over `ms` (0 when there is no time, or no packet), as DOUBLE. */
export function rateSql(bytes: string, packets: string, ms: string): { bps: string; pps: string; bpp: string } {
  return {
    bps: `(CASE WHEN ${ms} > 0 THEN CAST(${bytes} AS DOUBLE) * 8000 / (${ms}) ELSE 0 END)`,
    pps: `(CASE WHEN ${ms} > 0 THEN CAST(${packets} AS DOUBLE) * 1000 / (${ms}) ELSE 0 END)`,
    bpp: `(CASE WHEN ${packets} > 0 THEN CAST(${bytes} AS DOUBLE) / CAST(${packets} AS DOUBLE) ELSE 0 END)`,
  };
}

/** Per-flow rates (nfdump's: 0 when the duration, or the packet count, is 0). */
export const FLOW_RATES = rateSql(SCALED_BYTES, SCALED_PACKETS, DURATION_MS);

const BY_NAME: ReadonlyMap<string, ColumnDef> = new Map(FLOW_COLUMNS.map((c) => [c.name, c]));

/** A flows column by name; throws on a name the schema does not have (a programming error). */
export function flowColumn(name: string): ColumnDef {
  const c = BY_NAME.get(name);
  if (c === undefined) throw new Error(`the flows table has no column ${name}`);
  return c;
}

/** Largest value of an unsigned integer column type (for validating literals before they are cast). */
export function columnMax(c: ColumnDef): number {
  switch (c.type) {
    case 'UTINYINT':
      return 0xff;
    case 'USMALLINT':
      return 0xffff;
    case 'UINTEGER':
      return 0xffffffff;
    case 'UBIGINT':
      return Number.MAX_SAFE_INTEGER;
    default:
      throw new Error(`column ${c.name} is not an unsigned integer`);
  }
}

/** A relation with a table's columns and no rows: what a table without segments reads as. */
export function emptyRelation(columns: readonly ColumnDef[]): string {
  // KIND comes back from Parquet as VARCHAR, so the empty relation says VARCHAR too.
  const cols = columns.map((c) => `CAST(NULL AS ${c.type === 'KIND' ? 'VARCHAR' : sqlType(c)}) AS ${c.name}`);
  return `(SELECT ${cols.join(', ')} LIMIT 0)`;
}
