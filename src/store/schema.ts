/**
 * The flow store's tables: one place that says which columns exist, their DuckDB/Parquet types
 * and what they mean. The writer, the query planner, the API and docs/store.md all follow this.
 *
 * Addresses (src_addr, dst_addr, exporter, next_hop) are 16-byte big-endian values: IPv6 as is,
 * IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d, RFC 4291 2.5.5.2). One form for both families, and
 * a prefix is one byte range, so `net 10.0.0.0/8` is a range comparison that Parquet's min/max
 * statistics can prune. They are held as DuckDB UUID, the 16-byte fixed-width type it appends by
 * plain copy and writes to Parquet as FIXED_LEN_BYTE_ARRAY(16); the bytes are the address
 * (DuckDB labels the column UUID; see docs/store.md for reading it elsewhere).
 */

/** DuckDB column types the store uses. */
export type ColumnType =
  | 'TIMESTAMP_MS'
  | 'UUID'
  | 'UTINYINT'
  | 'USMALLINT'
  | 'UINTEGER'
  | 'UBIGINT'
  | 'VARCHAR'
  | 'KIND';

export interface ColumnDef {
  readonly name: string;
  readonly type: ColumnType;
  /** False: every row has a value. True: NULL where the record did not carry the element. */
  readonly nullable: boolean;
  readonly doc: string;
}

/** Source kinds, in the order of the KIND enum (its stored index). */
export const KINDS = ['v5', 'v7', 'v9', 'ipfix', 'sflow', 'aws', 'text'] as const;
export type Kind = (typeof KINDS)[number];

/** The flows table: one row per flow record (ipfix.entry), whatever protocol it came in. */
export const FLOW_COLUMNS: readonly ColumnDef[] = [
  { name: 'time_received', type: 'TIMESTAMP_MS', nullable: false, doc: 'when sluice received the datagram (or the capture recorded it), UTC' },
  { name: 'time_start', type: 'TIMESTAMP_MS', nullable: true, doc: 'flow start, absolute, from the time module (src/model/time.ts)' },
  { name: 'time_end', type: 'TIMESTAMP_MS', nullable: true, doc: 'flow end, absolute, from the time module' },
  { name: 'exporter', type: 'UUID', nullable: false, doc: 'exporter address (sFlow: the agent address)' },
  { name: 'domain', type: 'UINTEGER', nullable: false, doc: 'IPFIX observation domain, NetFlow v9 source id, v5/v7 engine type << 8 | engine id, sFlow sub-agent id' },
  { name: 'kind', type: 'KIND', nullable: false, doc: `source kind: ${KINDS.join(', ')}` },
  { name: 'src_addr', type: 'UUID', nullable: true, doc: 'source address' },
  { name: 'dst_addr', type: 'UUID', nullable: true, doc: 'destination address' },
  { name: 'src_port', type: 'USMALLINT', nullable: true, doc: 'source transport port' },
  { name: 'dst_port', type: 'USMALLINT', nullable: true, doc: 'destination transport port' },
  { name: 'proto', type: 'UTINYINT', nullable: true, doc: 'IP protocol number' },
  { name: 'tcp_flags', type: 'USMALLINT', nullable: true, doc: 'TCP control bits (tcpControlBits)' },
  { name: 'tos', type: 'UTINYINT', nullable: true, doc: 'IP type of service / DSCP byte (ipClassOfService)' },
  { name: 'icmp_type', type: 'UTINYINT', nullable: true, doc: 'ICMP / ICMPv6 type' },
  { name: 'icmp_code', type: 'UTINYINT', nullable: true, doc: 'ICMP / ICMPv6 code' },
  { name: 'packets', type: 'UBIGINT', nullable: true, doc: 'packets as exported (not scaled by sampling)' },
  { name: 'bytes', type: 'UBIGINT', nullable: true, doc: 'octets as exported (not scaled by sampling)' },
  { name: 'sampling', type: 'UINTEGER', nullable: false, doc: 'sampling rate in force (1 in N; 1 when unsampled or unknown): scaled counts are packets * sampling' },
  { name: 'in_if', type: 'UINTEGER', nullable: true, doc: 'input interface (ingressInterface)' },
  { name: 'out_if', type: 'UINTEGER', nullable: true, doc: 'output interface (egressInterface)' },
  { name: 'src_as', type: 'UINTEGER', nullable: true, doc: 'source AS (bgpSourceAsNumber)' },
  { name: 'dst_as', type: 'UINTEGER', nullable: true, doc: 'destination AS (bgpDestinationAsNumber)' },
  { name: 'next_hop', type: 'UUID', nullable: true, doc: 'IP next hop (ipNextHopIPv4/IPv6Address)' },
  { name: 'src_mask', type: 'UTINYINT', nullable: true, doc: 'source prefix length' },
  { name: 'dst_mask', type: 'UTINYINT', nullable: true, doc: 'destination prefix length' },
  { name: 'vlan', type: 'USMALLINT', nullable: true, doc: 'VLAN id (vlanId, else dot1qVlanId)' },
  { name: 'direction', type: 'UTINYINT', nullable: true, doc: 'flowDirection: 0 ingress, 1 egress' },
  { name: 'end_reason', type: 'UTINYINT', nullable: true, doc: 'flowEndReason' },
  { name: 'src_mac', type: 'UBIGINT', nullable: true, doc: 'source MAC address as a 48-bit number' },
  { name: 'dst_mac', type: 'UBIGINT', nullable: true, doc: 'destination MAC address as a 48-bit number' },
  { name: 'extra', type: 'VARCHAR', nullable: true, doc: 'every other decoded element, as a JSON object with IPFIXcol2 keys ("iana:ipVersion": 4, ...); NULL when none' },
];

/** Options records and sFlow counter samples: not flows, kept whole as IPFIXcol2 JSON. */
export const RECORD_COLUMNS: readonly ColumnDef[] = [
  { name: 'time_received', type: 'TIMESTAMP_MS', nullable: false, doc: 'when sluice received the datagram, UTC' },
  { name: 'exporter', type: 'UUID', nullable: false, doc: 'exporter address (sFlow: the agent address)' },
  { name: 'domain', type: 'UINTEGER', nullable: false, doc: 'observation domain / source id / sub-agent id' },
  { name: 'kind', type: 'KIND', nullable: false, doc: 'source kind' },
  { name: 'template_id', type: 'UINTEGER', nullable: false, doc: 'template id (synthetic for sFlow)' },
  { name: 'record', type: 'VARCHAR', nullable: false, doc: 'the whole record as one IPFIXcol2 JSON object' },
];

/** Table name -> columns. `options`: options data records; `counters`: sFlow counter samples. */
export const TABLES = { flows: FLOW_COLUMNS, options: RECORD_COLUMNS, counters: RECORD_COLUMNS } as const;
export type TableName = keyof typeof TABLES;

/** SQL type text of a column (the KIND enum spelled out). */
export function sqlType(c: ColumnDef): string {
  return c.type === 'KIND' ? `ENUM(${KINDS.map((k) => `'${k}'`).join(', ')})` : c.type;
}
