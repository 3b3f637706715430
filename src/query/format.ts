/**
 * Engine results as text in one of the output formats: `table` (people), `csv`, `json`
 * (programs; raw flows as IPFIXcol2 JSON lines).
 */
import { aggregateCsv, flowsCsvHeader, flowsCsvRows, seriesCsv, sqlCsv, totalsCsv } from './format-csv.js';
import { aggregateJson, flowsJsonLines, seriesJson, sqlJson, totalsJson } from './format-json.js';
import { aggregateTable, flowsTableHeader, flowsTableRows, seriesTable, sqlTable, totalsTable } from './format-table.js';
import type { FlowRecord } from './records.js';
import type { AggregateResult, SeriesResult, SqlResult, Totals } from './results.js';

export const OUTPUT_FORMATS = ['table', 'csv', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function formatTotals(t: Totals, f: OutputFormat): string {
  return f === 'table' ? `${totalsTable(t)}\n` : f === 'csv' ? totalsCsv(t) : totalsJson(t);
}

/** `limit`: the N of "Top N" in the table title (absent: all groups). */
export function formatAggregate(r: AggregateResult, f: OutputFormat, limit?: number): string {
  return f === 'table' ? aggregateTable(r, limit) : f === 'csv' ? aggregateCsv(r) : aggregateJson(r);
}

export function formatSeries(s: SeriesResult, f: OutputFormat): string {
  return f === 'table' ? seriesTable(s) : f === 'csv' ? seriesCsv(s) : seriesJson(s);
}

export function formatSql(r: SqlResult, f: OutputFormat): string {
  return f === 'table' ? sqlTable(r) : f === 'csv' ? sqlCsv(r) : sqlJson(r);
}

/** Raw flows in batches: the text before the first batch, and each batch's text. */
export interface FlowsText {
  readonly header: string;
  rows(batch: readonly FlowRecord[]): string;
}

export function flowsText(f: OutputFormat): FlowsText {
  switch (f) {
    case 'table':
      return { header: flowsTableHeader(), rows: flowsTableRows };
    case 'csv':
      return { header: flowsCsvHeader(), rows: flowsCsvRows };
    case 'json':
      return { header: '', rows: flowsJsonLines };
  }
}
