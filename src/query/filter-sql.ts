/**
 * A parsed filter as a SQL boolean expression over the flows columns. Every value is a positional
 * parameter; the SQL text holds only column names, operators and casts from this file.
 *
 * Logic is two-valued, as in nfdump: a test on a column the flow does not carry (NULL) is false,
 * so `not port 80` matches flows without ports.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { prefixRange, type AddressRange } from './address.js';
import { parseFilter, type Comparison, type FilterNode, type Measure } from './filter-parse.js';
import { DURATION_MS, FLOW_RATES, SCALED_BYTES, SCALED_PACKETS, flowColumn, valueNullable, valueSql } from './flow-sql.js';
import { SqlParams } from './sql-params.js';
import { sqlType } from '../store/schema.js';

export interface CompiledFilter {
  /** A boolean SQL expression. */
  readonly sql: string;
  /** The values of its placeholders, in order. */
  readonly params: readonly DuckDBValue[];
}

/** Per-flow measures; rates in whole units, as nfdump's integer arithmetic gives them (20.9 pps is not > 20). */
const MEASURE_SQL: Readonly<Record<Measure, string>> = {
  packets: SCALED_PACKETS,
  bytes: SCALED_BYTES,
  duration: DURATION_MS,
  bps: `floor(${FLOW_RATES.bps})`,
  pps: `floor(${FLOW_RATES.pps})`,
  bpp: `floor(${FLOW_RATES.bpp})`,
};

/** The IPv4-mapped range ::ffff:0.0.0.0/96: IPv4 flows. */
const IPV4_RANGE: AddressRange = prefixRange(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]), 96);

const SQL_CMP: Readonly<Record<Comparison, string>> = { '=': '=', '>': '>', '<': '<', '>=': '>=', '<=': '<=' };

/** Two-valued: NULL (the column is missing) reads as false. */
function definite(column: string, expr: string): string {
  return valueNullable(column) ? `coalesce(${expr}, false)` : expr;
}

function rangeSql(column: string, ranges: readonly AddressRange[], params: SqlParams): string {
  const exact = ranges.filter((r) => r.lo === r.hi);
  const parts: string[] = [];
  if (exact.length === 1) parts.push(`${column} = ${params.add(exact[0]!.lo, 'UUID')}`);
  else if (exact.length > 1) parts.push(`${column} IN (${exact.map((r) => params.add(r.lo, 'UUID')).join(', ')})`);
  for (const r of ranges) {
    if (r.lo !== r.hi) parts.push(`${column} BETWEEN ${params.add(r.lo, 'UUID')} AND ${params.add(r.hi, 'UUID')}`);
  }
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

function numberSql(column: string, node: Extract<FilterNode, { type: 'number' }>, params: SqlParams): string {
  const type = sqlType(flowColumn(column));
  const value = valueSql(column);
  const t = node.test;
  if ('list' in t) return `${value} IN (${t.list.map((v) => params.add(v, type)).join(', ')})`;
  return `${value} ${SQL_CMP[t.cmp]} ${params.add(t.value, type)}`;
}

function join(parts: string[], op: 'AND' | 'OR'): string {
  return parts.length === 1 ? parts[0]! : `(${parts.join(` ${op} `)})`;
}

/** SQL for a parsed filter, its values added to `params`. */
export function filterSql(node: FilterNode, params: SqlParams): string {
  switch (node.type) {
    case 'and':
    case 'or':
      return join(node.items.map((n) => filterSql(n, params)), node.type === 'and' ? 'AND' : 'OR');
    case 'not':
      return `(NOT ${filterSql(node.item, params)})`;
    case 'any':
      return 'true';
    case 'family': {
      const v4 = (c: string): string => definite(c, `${c} BETWEEN ${params.add(IPV4_RANGE.lo, 'UUID')} AND ${params.add(IPV4_RANGE.hi, 'UUID')}`);
      const v6 = (c: string): string => definite(c, `${c} NOT BETWEEN ${params.add(IPV4_RANGE.lo, 'UUID')} AND ${params.add(IPV4_RANGE.hi, 'UUID')}`);
      const test = node.family === 4 ? v4 : v6;
      return `(${test('src_addr')} OR ${test('dst_addr')})`;
    }
    case 'address':
      return join(node.columns.map((c) => definite(c, rangeSql(c, node.ranges, params))), node.every ? 'AND' : 'OR');
    case 'number':
      return join(node.columns.map((c) => definite(c, numberSql(c, node, params))), node.every ? 'AND' : 'OR');
    case 'flags': {
      const mask = params.add(node.mask, 'USMALLINT');
      return `((coalesce(tcp_flags, 0) & ${mask}) = ${mask})`;
    }
    case 'measure':
      return `(CAST(${MEASURE_SQL[node.measure]} AS DOUBLE) ${SQL_CMP[node.cmp]} ${params.add(node.value, 'DOUBLE')})`;
  }
}

/**
 * Compiles filter text (nfdump syntax, see filter-parse.ts) to SQL. Give `params` to append to the
 * parameters of a larger statement; the returned `params` are then all of that statement's so far.
 * Throws FilterError.
 */
export function compileFilter(text: string, params: SqlParams = new SqlParams()): CompiledFilter {
  const sql = filterSql(parseFilter(text), params);
  return { sql, params: params.values };
}
