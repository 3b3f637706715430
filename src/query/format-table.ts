/**
 * `--format table`: aligned columns with human units, percentages of the totals, and a summary
 * line, for people at a terminal.
 */
import { alignColumns, flagsText, human, intervalText, isoTime, keyText, percent, protocolText, seconds, sqlValueText } from './format-units.js';
import type { KeyName } from './keys.js';
import { scaledCounts, type FlowRecord } from './records.js';
import type { AggregateResult, Counters, SeriesResult, SqlResult, Totals } from './results.js';
import type { TimeWindow } from './window.js';

function windowText(w: TimeWindow): string {
  if (w.fromMs === undefined && w.toMs === undefined) return 'all';
  return `${w.fromMs === undefined ? '...' : isoTime(w.fromMs)} - ${w.toMs === undefined ? '...' : isoTime(w.toMs)}`;
}

/** The summary: totals with average rates, the window asked for, first and last seen. */
export function totalsTable(t: Totals): string {
  return (
    `Summary: flows ${human(t.flows)}, packets ${human(t.packets)}, bytes ${human(t.bytes)}, ` +
    `bps ${human(t.bps)}, pps ${human(t.pps)}, bpp ${human(t.bpp)}\n` +
    `Window: ${windowText(t.window)}; first seen ${isoTime(t.firstMs)}, last seen ${isoTime(t.lastMs)}`
  );
}

export function aggregateTable(r: AggregateResult, limit?: number): string {
  const t = r.totals;
  const title = `${limit === undefined ? 'All' : `Top ${limit}`} ${r.keys.join(', ')} ordered by ${r.order}:`;
  const header = ['first seen', 'duration', ...r.keys, 'flows', '%', 'packets', '%', 'bytes', '%', 'bps', 'pps', 'bpp'];
  const rows = r.rows.map((x) => [
    isoTime(x.firstMs),
    seconds(x.lastMs - x.firstMs),
    ...x.values.map((v, i) => keyText(r.keys[i]!, v)),
    human(x.flows),
    percent(x.flows, t.flows),
    human(x.packets),
    percent(x.packets, t.packets),
    human(x.bytes),
    percent(x.bytes, t.bytes),
    human(x.bps),
    human(x.pps),
    human(x.bpp),
  ]);
  const right = header.map((_, i) => i === 1 || i >= 2 + r.keys.length);
  return `${title}\n${alignColumns(header, rows, right)}\n\n${totalsTable(t)}\n`;
}

function counterCells(c: Counters, intervalMs: number): string[] {
  return [human(c.flows), human(c.packets), human(c.bytes), human((c.bytes * 8000) / intervalMs), human((c.packets * 1000) / intervalMs)];
}

export function seriesTable(s: SeriesResult): string {
  const key = s.key;
  if (key === undefined) {
    const header = ['time', 'flows', 'packets', 'bytes', 'bps', 'pps'];
    const rows = s.points.map((p) => [isoTime(p.startMs), ...counterCells(p, s.intervalMs)]);
    return `${alignColumns(header, rows, header.map((_, i) => i > 0))}\n\n${totalsTable(s.totals)}\n`;
  }
  const header = ['time', key, 'flows', 'packets', 'bytes', 'bps', 'pps'];
  const rows: string[][] = [];
  for (const p of s.points) {
    const time = isoTime(p.startMs);
    p.split?.forEach((c, i) => rows.push([time, keyText(key as KeyName, s.values![i]!.values[0]!), ...counterCells(c, s.intervalMs)]));
    if (p.other !== undefined) rows.push([time, 'other', ...counterCells(p.other, s.intervalMs)]);
  }
  const title = `Top ${s.values!.length} ${key} by ${s.order}, per ${intervalText(s.intervalMs)}:`;
  return `${title}\n${alignColumns(header, rows, header.map((_, i) => i > 1))}\n\n${totalsTable(s.totals)}\n`;
}

function endpoint(addr: unknown, port: unknown): string {
  const a = addr === null ? '-' : String(addr);
  if (port === null) return a;
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
}

const FLOW_HEADER = ['first seen', 'duration', 'proto', 'src', 'dst', 'flags', 'packets', 'bytes', 'exporter'];
const FLOW_RIGHT = [false, true, false, false, false, false, true, true, false];
/** Fixed widths, so batches streamed one after another line up (longer values just push on). */
const FLOW_WIDTHS = [24, 9, 5, 21, 21, 8, 8, 8, 15];

function fixed(cells: readonly string[]): string {
  return cells
    .map((c, i) => (FLOW_RIGHT[i] ? c.padStart(FLOW_WIDTHS[i]!) : i === cells.length - 1 ? c : c.padEnd(FLOW_WIDTHS[i]!)))
    .join('  ')
    .trimEnd();
}

/** The header line of raw flows. */
export function flowsTableHeader(): string {
  return `${fixed(FLOW_HEADER)}\n`;
}

/** Raw flows, one line each: counts scaled by sampling, as everywhere in the table format. */
export function flowsTableRows(rows: readonly FlowRecord[]): string {
  let out = '';
  for (const r of rows) {
    const start = (r.time_start ?? r.time_end ?? r.time_received) as number;
    const end = (r.time_end ?? r.time_received) as number;
    const c = scaledCounts(r);
    out +=
      fixed([
        isoTime(start),
        seconds(end - start),
        r.proto === null ? '-' : protocolText(r.proto as number),
        endpoint(r.src_addr, r.src_port),
        endpoint(r.dst_addr, r.dst_port),
        r.tcp_flags === null ? '-' : flagsText(r.tcp_flags as number),
        human(Number(c.packets)),
        human(Number(c.bytes)),
        String(r.exporter),
      ]) + '\n';
  }
  return out;
}

export function sqlTable(r: SqlResult): string {
  const header = r.columns.map((c) => c.name);
  const rows = r.rows.map((row) => row.map((v) => sqlValueText(v, 'NULL')));
  const right = r.columns.map((c) => /INT|DOUBLE|FLOAT|DECIMAL|REAL/i.test(c.type) && !c.type.endsWith('[]'));
  const note = r.truncated ? `\n(only the first ${r.rows.length} rows)` : '';
  return `${alignColumns(header, rows, right)}\n${note === '' ? '' : `${note}\n`}`;
}
