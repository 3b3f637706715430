/**
 * What statistics group flows by (`-s KEY[/ORDER]`, `-A KEY,KEY`, a split series) and what they
 * order by. Names follow nfdump's -s elements. `ip`, `port`, `as` and `if` count each flow under
 * its source and under its destination value, as nfdump does; so do their directed mates when
 * mixed with them in one -A (the row then pairs the flow's source values, and separately its
 * destination values).
 */
import { networkText, uuidAddressText } from './address.js';
import { QueryUsageError } from './errors.js';
import { valueSql } from './flow-sql.js';
import type { SqlParams } from './sql-params.js';

export const KEY_NAMES = [
  'srcip', 'dstip', 'ip', 'srcport', 'dstport', 'port', 'proto', 'srcas', 'dstas', 'as',
  'inif', 'outif', 'if', 'exporter', 'srcnet', 'dstnet',
] as const;
export type KeyName = (typeof KEY_NAMES)[number];

export const ORDERS = ['flows', 'packets', 'bytes', 'bps', 'pps', 'bpp'] as const;
export type Order = (typeof ORDERS)[number];

/** A key's value in a result row: address or network text, a number, or null (not carried). */
export type KeyValue = string | number | null;

/** Prefix lengths for srcnet/dstnet; undefined: the flow's own src_mask/dst_mask (else the full length). */
export interface NetMasks {
  readonly v4?: number;
  readonly v6?: number;
}

type KeyKind = 'address' | 'number' | 'net';

interface KeyDef {
  readonly kind: KeyKind;
  /** The source-side and destination-side column; the same column twice for undirected keys. */
  readonly src: string;
  readonly dst: string;
  /** True: each flow counts once per side (ip, port, as, if). */
  readonly bothSides: boolean;
  /** For nets: the flow's own prefix length column. */
  readonly maskColumn?: string;
}

const KEYS: Readonly<Record<KeyName, KeyDef>> = {
  srcip: { kind: 'address', src: 'src_addr', dst: 'src_addr', bothSides: false },
  dstip: { kind: 'address', src: 'dst_addr', dst: 'dst_addr', bothSides: false },
  ip: { kind: 'address', src: 'src_addr', dst: 'dst_addr', bothSides: true },
  srcport: { kind: 'number', src: 'src_port', dst: 'src_port', bothSides: false },
  dstport: { kind: 'number', src: 'dst_port', dst: 'dst_port', bothSides: false },
  port: { kind: 'number', src: 'src_port', dst: 'dst_port', bothSides: true },
  proto: { kind: 'number', src: 'proto', dst: 'proto', bothSides: false },
  srcas: { kind: 'number', src: 'src_as', dst: 'src_as', bothSides: false },
  dstas: { kind: 'number', src: 'dst_as', dst: 'dst_as', bothSides: false },
  as: { kind: 'number', src: 'src_as', dst: 'dst_as', bothSides: true },
  inif: { kind: 'number', src: 'in_if', dst: 'in_if', bothSides: false },
  outif: { kind: 'number', src: 'out_if', dst: 'out_if', bothSides: false },
  if: { kind: 'number', src: 'in_if', dst: 'out_if', bothSides: true },
  exporter: { kind: 'address', src: 'exporter', dst: 'exporter', bothSides: false },
  srcnet: { kind: 'net', src: 'src_addr', dst: 'src_addr', bothSides: false, maskColumn: 'src_mask' },
  dstnet: { kind: 'net', src: 'dst_addr', dst: 'dst_addr', bothSides: false, maskColumn: 'dst_mask' },
};

export function isKeyName(s: string): s is KeyName {
  return (KEY_NAMES as readonly string[]).includes(s);
}

export function isOrder(s: string): s is Order {
  return (ORDERS as readonly string[]).includes(s);
}

/** "bytes" -> the order. Throws QueryUsageError. */
export function parseOrder(text: string): Order {
  const o = text.toLowerCase();
  if (!isOrder(o)) throw new QueryUsageError(`unknown order "${text}" (expected one of ${ORDERS.join(', ')})`);
  return o;
}

/** Splits "WHAT[/ORDER]"; the order defaults to flows. */
function withOrder(text: string, what: string): { head: string; order: Order } {
  const parts = text.split('/');
  if (parts.length > 2) throw new QueryUsageError(`${what} takes one "/ORDER", got "${text}"`);
  return { head: parts[0]!, order: parts[1] === undefined ? 'flows' : parseOrder(parts[1]) };
}

/** -s "srcip/bytes" -> key and order. Throws QueryUsageError. */
export function parseStat(text: string): { key: KeyName; order: Order } {
  const { head, order } = withOrder(text, '-s');
  const k = head.toLowerCase();
  if (!isKeyName(k)) throw new QueryUsageError(`unknown statistic element "${head}" (expected one of ${KEY_NAMES.join(', ')})`);
  return { key: k, order };
}

/** -A "srcip,dstport/bytes" -> keys and order. Throws QueryUsageError. */
export function parseAggregation(text: string): { keys: KeyName[]; order: Order } {
  const { head, order } = withOrder(text, '-A');
  const keys = head.split(',').map((s) => s.trim().toLowerCase());
  for (const k of keys) {
    if (!isKeyName(k)) throw new QueryUsageError(`unknown aggregation key "${k}" (expected one of ${KEY_NAMES.join(', ')})`);
  }
  if (new Set(keys).size !== keys.length) throw new QueryUsageError(`aggregation key given twice in "${text}"`);
  return { keys: keys as KeyName[], order };
}

/** Whether any of the keys counts a flow on both sides (the query then reads each flow twice). */
export function countsBothSides(keys: readonly KeyName[]): boolean {
  return keys.some((k) => KEYS[k].bothSides);
}

/** What a key reads on one side (0 source, 1 destination): the value (valueSql: ports as nfdump sees them), and for nets the flow's prefix length. */
export function keySource(key: KeyName, side: 0 | 1): { readonly column: string; readonly mask?: string } {
  const d = KEYS[key];
  const column = valueSql(side === 0 || !d.bothSides ? d.src : d.dst);
  return d.maskColumn === undefined ? { column } : { column, mask: d.maskColumn };
}

/**
 * SQL expressions of a key's value over `value` (and `mask`, for nets) as keySource read them:
 * the value itself, or for nets three expressions (high and low 64 bits of the masked address,
 * the prefix length in bits of 128). The net macros are defined in macros.ts.
 */
export function keySql(key: KeyName, value: string, mask: string | undefined, masks: NetMasks, params: SqlParams): string[] {
  if (KEYS[key].kind !== 'net') return [value];
  const v4 = masks.v4 !== undefined ? params.add(masks.v4, 'INTEGER') : `coalesce(${mask}, 32)`;
  const v6 = masks.v6 !== undefined ? params.add(masks.v6, 'INTEGER') : `coalesce(${mask}, 128)`;
  const bits = `sluice_net_bits(${value}, ${v4}, ${v6})`;
  return [`sluice_net_hi(${value}, ${bits})`, `sluice_net_lo(${value}, ${bits})`, bits];
}

/** How many SQL columns keySql gives for a key. */
export function keyWidth(key: KeyName): number {
  return KEYS[key].kind === 'net' ? 3 : 1;
}

/** A key's SQL column values (keyWidth of them) as its result value. */
export function keyValue(key: KeyName, values: readonly unknown[]): KeyValue {
  const d = KEYS[key];
  const v = values[0];
  if (v === null || v === undefined) return null;
  switch (d.kind) {
    case 'address':
      return uuidAddressText(String(v));
    case 'number':
      return Number(v);
    case 'net':
      return networkText(BigInt(v as bigint), BigInt(values[1] as bigint), Number(values[2]));
  }
}
