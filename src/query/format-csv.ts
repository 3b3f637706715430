/**
 * `--format csv`: a header line, then raw values (no units): numbers as numbers, addresses as
 * text, times ISO 8601, NULL as an empty field. Fields are quoted (RFC 4180) only when needed.
 */
import { FLOW_COLUMNS } from '../store/schema.js';
import { isoTime, macText, sqlValueText } from './format-units.js';
import type { KeyValue } from './keys.js';
import { scaledCounts, type FlowRecord, type FlowValue } from './records.js';
import type { AggregateResult, Counters, SeriesResult, SqlResult, Totals } from './results.js';

function field(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function line(cells: readonly string[]): string {
  return `${cells.map(field).join(',')}\n`;
}

function value(v: KeyValue | FlowValue): string {
  return v === null ? '' : String(v);
}

export function totalsCsv(t: Totals): string {
  return (
    line(['flows', 'packets', 'bytes', 'bps', 'pps', 'bpp', 'first', 'last']) +
    line([t.flows, t.packets, t.bytes, t.bps, t.pps, t.bpp].map(String).concat(t.firstMs === null ? '' : isoTime(t.firstMs), t.lastMs === null ? '' : isoTime(t.lastMs)))
  );
}

/** The keys first, then flows,packets,bytes,bps,pps,bpp. */
export function aggregateCsv(r: AggregateResult): string {
  let out = line([...r.keys, 'flows', 'packets', 'bytes', 'bps', 'pps', 'bpp']);
  for (const x of r.rows) out += line([...x.values.map(value), ...[x.flows, x.packets, x.bytes, x.bps, x.pps, x.bpp].map(String)]);
  return out;
}

function counterCells(c: Counters, intervalMs: number): string[] {
  return [c.flows, c.packets, c.bytes, (c.bytes * 8000) / intervalMs, (c.packets * 1000) / intervalMs].map(String);
}

/** time,flows,packets,bytes,bps,pps; split: time,KEY,... with "other" for the rest. */
export function seriesCsv(s: SeriesResult): string {
  if (s.key === undefined) {
    let out = line(['time', 'flows', 'packets', 'bytes', 'bps', 'pps']);
    for (const p of s.points) out += line([isoTime(p.startMs), ...counterCells(p, s.intervalMs)]);
    return out;
  }
  let out = line(['time', s.key, 'flows', 'packets', 'bytes', 'bps', 'pps']);
  for (const p of s.points) {
    const t = isoTime(p.startMs);
    p.split?.forEach((c, i) => (out += line([t, value(s.values![i]!.values[0]!), ...counterCells(c, s.intervalMs)])));
    if (p.other !== undefined) out += line([t, 'other', ...counterCells(p.other, s.intervalMs)]);
  }
  return out;
}

const TIME_COLUMNS = new Set(FLOW_COLUMNS.filter((c) => c.type === 'TIMESTAMP_MS').map((c) => c.name));
const MAC_COLUMNS = new Set(['src_mac', 'dst_mac']);

/**
 * Every stored column (packets and bytes as exported), then the counts scaled by sampling. Times
 * are ISO 8601, MACs aa:bb:cc:dd:ee:ff.
 */
export function flowsCsvHeader(): string {
  return line([...FLOW_COLUMNS.map((c) => c.name), 'scaled_packets', 'scaled_bytes']);
}

export function flowsCsvRows(rows: readonly FlowRecord[]): string {
  let out = '';
  for (const r of rows) {
    const cells = FLOW_COLUMNS.map((c) => {
      const v = r[c.name] ?? null;
      if (v !== null && TIME_COLUMNS.has(c.name)) return isoTime(v as number);
      if (typeof v === 'bigint' && MAC_COLUMNS.has(c.name)) return macText(v);
      return value(v);
    });
    const s = scaledCounts(r);
    out += line([...cells, String(s.packets), String(s.bytes)]);
  }
  return out;
}

export function sqlCsv(r: SqlResult): string {
  return line(r.columns.map((c) => c.name)) + r.rows.map((row) => line(row.map((v) => sqlValueText(v, '')))).join('');
}
