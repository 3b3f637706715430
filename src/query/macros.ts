/**
 * SQL macros the query engine and `--sql` sessions define. Addresses are DuckDB UUIDs whose text
 * is the 32 hex digits of the 16 stored bytes ("00000000-0000-0000-0000-ffff0a000001" is
 * 10.0.0.1), so the macros work on that text.
 *
 * For users (documented in docs/query.md):
 *   ip_text(addr)        address as text: dotted quad for IPv4, RFC 5952 for IPv6
 *   mac_text(mac)        a 48-bit MAC number as aa:bb:cc:dd:ee:ff
 *   tcp_flags_text(f)    TCP flags as eight letters CEUAPRSF, "." for a clear bit
 * Internal (sluice_ prefix): the 64-bit halves of an address and a network of it, for srcnet/dstnet.
 */

/** The UUID text of an address. */
const T = 'CAST(a AS VARCHAR)';

/** Hex group i (0..7) of an IPv6 address without leading zeros. */
function group(i: number): string {
  // UUID text: 8 hex, "-", 4, "-", 4, "-", 4, "-", 12: characters of group i start here (1-based).
  const start = [1, 5, 10, 15, 20, 25, 29, 33][i]!;
  return `coalesce(nullif(ltrim(substr(${T}, ${start}, 4), '0'), ''), '0')`;
}

/** Longest run of zero groups first, the leftmost on a tie (RFC 5952 4.2): regexp_replace replaces the first match only. */
function compressZeros(s: string): string {
  let expr = s;
  for (let n = 2; n <= 8; n++) {
    const run = `${':0'.repeat(n)}:`;
    expr = `CASE WHEN contains(${s}, '${run}') THEN regexp_replace(${s}, '${run}', '::') ELSE ${expr} END`;
  }
  return expr;
}

/** Drop the colon added at each end of the joined groups, unless it is part of a "::". */
function trimColons(c: string): string {
  return `CASE WHEN starts_with(${c}, '::') AND ends_with(${c}, '::') THEN ${c} WHEN starts_with(${c}, '::') THEN substr(${c}, 1, length(${c}) - 1) WHEN ends_with(${c}, '::') THEN substr(${c}, 2) ELSE substr(${c}, 2, length(${c}) - 2) END`;
}

const MACROS: readonly string[] = [
  `CREATE OR REPLACE MACRO sluice_is_v4(a) AS starts_with(${T}, '00000000-0000-0000-0000-ffff')`,
  `CREATE OR REPLACE MACRO sluice_addr_hi(a) AS ('0x' || substr(${T}, 1, 8) || substr(${T}, 10, 4) || substr(${T}, 15, 4))::UBIGINT`,
  `CREATE OR REPLACE MACRO sluice_addr_lo(a) AS ('0x' || substr(${T}, 20, 4) || substr(${T}, 25, 12))::UBIGINT`,
  // Prefix length over all 128 bits: IPv4 lengths count from bit 96 of the mapped form.
  `CREATE OR REPLACE MACRO sluice_net_bits(a, v4, v6) AS CASE WHEN a IS NULL THEN NULL WHEN sluice_is_v4(a) THEN 96 + least(greatest(v4, 0), 32) ELSE least(greatest(v6, 0), 128) END`,
  `CREATE OR REPLACE MACRO sluice_net_hi(a, bits) AS CASE WHEN a IS NULL THEN NULL WHEN bits >= 64 THEN sluice_addr_hi(a) WHEN bits <= 0 THEN 0::UBIGINT ELSE CAST((sluice_addr_hi(a) >> (64 - bits)) << (64 - bits) AS UBIGINT) END`,
  `CREATE OR REPLACE MACRO sluice_net_lo(a, bits) AS CASE WHEN a IS NULL THEN NULL WHEN bits >= 128 THEN sluice_addr_lo(a) WHEN bits <= 64 THEN 0::UBIGINT ELSE CAST((sluice_addr_lo(a) >> (128 - bits)) << (128 - bits) AS UBIGINT) END`,
  `CREATE OR REPLACE MACRO sluice_ip6_groups(a) AS ':' || ${[0, 1, 2, 3, 4, 5, 6, 7].map(group).join(" || ':' || ")} || ':'`,
  // The lambdas bind each intermediate text once (a macro argument would be expanded at every use).
  `CREATE OR REPLACE MACRO sluice_ip6_text(a) AS list_transform([sluice_ip6_groups(a)], lambda s: list_transform([${compressZeros('s')}], lambda c: ${trimColons('c')})[1])[1]`,
  `CREATE OR REPLACE MACRO ip_text(a) AS CASE WHEN a IS NULL THEN NULL WHEN sluice_is_v4(a) THEN concat_ws('.', ${[29, 31, 33, 35].map((p) => `('0x' || substr(${T}, ${p}, 2))::INTEGER`).join(', ')}) ELSE sluice_ip6_text(a) END`,
  `CREATE OR REPLACE MACRO mac_text(m) AS CASE WHEN m IS NULL THEN NULL ELSE lower(${[1, 3, 5, 7, 9, 11].map((p) => `substr(lpad(to_hex(m), 12, '0'), ${p}, 2)`).join(" || ':' || ")}) END`,
  `CREATE OR REPLACE MACRO tcp_flags_text(f) AS CASE WHEN f IS NULL THEN NULL ELSE ${[...'CEUAPRSF'].map((l, i) => `CASE WHEN (f & ${0x80 >> i}) <> 0 THEN '${l}' ELSE '.' END`).join(' || ')} END`,
];

/** Statements that define the macros in a DuckDB database. */
export function macroStatements(): readonly string[] {
  return MACROS;
}
