/**
 * Values as people read them in `--format table`: human units, percentages, times, protocols,
 * TCP flags, key values.
 */
import { protocolKeyword } from '../wire/ie/registry.js';
import { TCP_FLAG_BITS } from './filter-parse.js';
import type { KeyName, KeyValue } from './keys.js';
import type { SqlValue } from './results.js';

const UNITS = ['', ' K', ' M', ' G', ' T', ' P', ' E'];

/** 1234 -> "1.2 K", 340_000_000 -> "340 M", 12 -> "12", 2.5 -> "2.5", 0.033 -> "0.033" (1000-based units). */
export function human(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  let v = Math.abs(n);
  let u = 0;
  while (v >= 999.5 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  const sign = n < 0 ? '-' : '';
  if (u === 0) return sign + (Number.isInteger(v) ? String(v) : v >= 99.95 ? String(Math.round(v)) : v >= 1 ? v.toFixed(1) : String(Number(v.toPrecision(2))));
  return sign + (v >= 99.95 ? String(Math.round(v)) : v.toFixed(1)) + UNITS[u];
}

/** "45.0%" of a total; "-" when the total is 0. */
export function percent(part: number, total: number): string {
  return total > 0 ? `${((part * 100) / total).toFixed(1)}%` : '-';
}

/** ISO 8601 UTC with milliseconds; "-" for null. */
export function isoTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

/** Seconds with milliseconds: "20.000". */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** An interval as the shortest unit that divides it: "5m", "1h", "90s". */
export function intervalText(ms: number): string {
  for (const [unit, size] of [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A 48-bit MAC number as aa:bb:cc:dd:ee:ff. */
export function macText(n: bigint): string {
  return n.toString(16).padStart(12, '0').match(/../g)!.join(':');
}

/** IANA keyword of a protocol number, else the number. */
export function protocolText(p: number): string {
  return protocolKeyword(p) ?? String(p);
}

const FLAG_ORDER = 'CEUAPRSF';

/** TCP flags as eight letters CEUAPRSF, "." for a clear bit (the order of tcp_flags_text in SQL). */
export function flagsText(f: number): string {
  let s = '';
  for (const l of FLAG_ORDER) s += f & TCP_FLAG_BITS[l]! ? l : '.';
  return s;
}

/** A key value for a table: protocols by name, null as "-". */
export function keyText(key: KeyName, v: KeyValue): string {
  if (v === null) return '-';
  if (key === 'proto' && typeof v === 'number') return protocolText(v);
  return String(v);
}

/**
 * Rows of cells as aligned columns separated by two spaces; `right[i]` aligns column i to the
 * right (numbers). The last column is not padded.
 */
export function alignColumns(header: readonly string[], rows: readonly (readonly string[])[], right: readonly boolean[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return all.map(line).join('\n');
}

/** A --sql value as text: NULL as `nullText` (CSV: empty, table: NULL), lists and structs as JSON. */
export function sqlValueText(v: SqlValue, nullText: string): string {
  if (v === null) return nullText;
  if (typeof v === 'object') return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return String(v);
}
