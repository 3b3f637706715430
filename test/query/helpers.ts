import { HOUR_MS, partitionParts, segmentFileName } from '../../src/store/layout.js';
import { join } from 'node:path';
/**
 * Test stores: flows written as real Parquet segments by DuckDB itself (the store's types from
 * src/store/schema.ts), and the same rows as an in-memory table for filter tests.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { FLOW_COLUMNS, sqlType, type Kind } from '../../src/store/schema.js';
import { addressUuid } from '../../src/store/columns.js';
import { parseStoredAddress } from '../../src/query/address.js';

type Num = number | bigint | null;

/** A flow as tests write it: addresses as text, times in ms; absent columns are NULL. */
export interface FlowInput {
  readonly id?: number;
  readonly time_received: number;
  readonly time_start?: number | null;
  readonly time_end?: number | null;
  readonly exporter?: string;
  readonly domain?: number;
  readonly kind?: Kind;
  readonly src_addr?: string | null;
  readonly dst_addr?: string | null;
  readonly src_port?: Num;
  readonly dst_port?: Num;
  readonly proto?: Num;
  readonly tcp_flags?: Num;
  readonly tos?: Num;
  readonly icmp_type?: Num;
  readonly icmp_code?: Num;
  readonly packets?: Num;
  readonly bytes?: Num;
  readonly sampling?: number;
  readonly in_if?: Num;
  readonly out_if?: Num;
  readonly src_as?: Num;
  readonly dst_as?: Num;
  readonly next_hop?: string | null;
  readonly src_mask?: Num;
  readonly dst_mask?: Num;
  readonly vlan?: Num;
  readonly direction?: Num;
  readonly end_reason?: Num;
  readonly src_mac?: Num;
  readonly dst_mac?: Num;
  readonly extra?: string | null;
}

const DEFAULTS: Partial<Record<string, unknown>> = { exporter: '192.0.2.1', domain: 0, kind: 'ipfix', sampling: 1 };

function uuid(text: string): string {
  const b = parseStoredAddress(text);
  if (b === undefined) throw new Error(`bad test address ${text}`);
  return addressUuid(b);
}

/** The INSERT of one flow: every schema column (plus `id` when withId), values as parameters. */
function insert(table: string, f: FlowInput, withId: boolean): { sql: string; params: DuckDBValue[] } {
  const params: DuckDBValue[] = [];
  const exprs: string[] = [];
  const rec = f as unknown as Record<string, unknown>;
  for (const c of FLOW_COLUMNS) {
    const v = rec[c.name] !== undefined ? rec[c.name] : DEFAULTS[c.name];
    if (v === undefined || v === null) {
      exprs.push('NULL');
      continue;
    }
    params.push(c.type === 'UUID' ? uuid(String(v)) : String(v));
    const p = `$${params.length}`;
    exprs.push(c.type === 'TIMESTAMP_MS' ? `epoch_ms(${p}::BIGINT)` : c.type === 'KIND' ? `${p}::VARCHAR` : `${p}::${sqlType(c)}`);
  }
  if (withId) {
    params.push(f.id ?? 0);
    exprs.push(`$${params.length}::INTEGER`);
  }
  return { sql: `INSERT INTO ${table} VALUES (${exprs.join(', ')})`, params };
}

function createSql(table: string, withId: boolean): string {
  const cols = FLOW_COLUMNS.map((c) => `${c.name} ${sqlType(c)}`);
  if (withId) cols.push('id INTEGER');
  return `CREATE TABLE ${table} (${cols.join(', ')})`;
}

/** Writes one Parquet segment (zstd) holding `flows`. */
export async function writeSegment(path: string, flows: readonly FlowInput[]): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const db = await DuckDBInstance.create(':memory:');
  try {
    const conn = await db.connect();
    await conn.run(createSql('t', false));
    for (const f of flows) {
      const st = insert('t', f, false);
      await conn.run(st.sql, st.params);
    }
    if (/'/.test(path)) throw new Error('test paths must not hold quotes');
    await conn.run(`COPY t TO '${path}' (FORMAT parquet, COMPRESSION zstd)`);
    conn.closeSync();
  } finally {
    db.closeSync();
  }
}

/** An in-memory DuckDB with table `flows` (schema columns plus `id`) holding `flows`. */
export async function memoryFlows(flows: readonly FlowInput[]): Promise<{ conn: DuckDBConnection; close: () => void }> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(createSql('flows', true));
  for (const f of flows) {
    const st = insert('flows', f, true);
    await conn.run(st.sql, st.params);
  }
  return {
    conn,
    close: () => {
      conn.closeSync();
      db.closeSync();
    },
  };
}

export const T0 = Date.UTC(2024, 4, 1, 10, 0, 0); // 2024-05-01T10:00:00Z

/**
 * Where the store would keep a flushed segment of these flows: the partition of their hour and a
 * name the store's listing takes (src/store/layout.ts), so `sluice query --store` finds it.
 */
export function storeSegmentPath(storeDir: string, hourOfMs: number, sequence: number): string {
  const hour = Math.floor(hourOfMs / HOUR_MS);
  const { day, hh } = partitionParts(hour);
  return join(storeDir, 'flows', day, hh, segmentFileName({ first: sequence, last: sequence, writtenMs: Date.now() }));
}
