/**
 * `--format json`: statistics as a JSON array of objects, totals as one object, and raw flows as
 * IPFIXcol2 JSON lines (one `ipfix.entry` object per line, as `sluice collect` writes them), the
 * stored columns under their IANA element names and merged with the `extra` column's elements.
 *
 * 64-bit values are written as exact JSON numbers (bigint digits), as IPFIXcol2 does.
 */
import { isoTime, macText } from './format-units.js';
import { scaledCounts, type FlowRecord } from './records.js';
import type { AggregateResult, Counters, SeriesResult, SqlResult, SqlValue, Totals } from './results.js';
import type { TimeWindow } from './window.js';

/** JSON text of a value; bigints as bare digits, non-finite numbers as null. */
export function jsonText(v: SqlValue): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${(v as readonly SqlValue[]).map(jsonText).join(',')}]`;
  const o = v as { readonly [k: string]: SqlValue };
  return `{${Object.keys(o)
    .map((k) => `${JSON.stringify(k)}:${jsonText(o[k]!)}`)
    .join(',')}}`;
}

function windowJson(w: TimeWindow): SqlValue {
  return { from: w.fromMs === undefined ? null : isoTime(w.fromMs), to: w.toMs === undefined ? null : isoTime(w.toMs) };
}

function totalsObject(t: Totals): { [k: string]: SqlValue } {
  return {
    flows: t.flows, packets: t.packets, bytes: t.bytes, bps: t.bps, pps: t.pps, bpp: t.bpp,
    first: t.firstMs === null ? null : isoTime(t.firstMs), last: t.lastMs === null ? null : isoTime(t.lastMs),
    window: windowJson(t.window),
  };
}

export function totalsJson(t: Totals): string {
  return `${jsonText(totalsObject(t))}\n`;
}

/** [{"srcip": "10.0.0.1", "flows": 2, ..., "first": ISO, "last": ISO}, ...] */
export function aggregateJson(r: AggregateResult): string {
  const rows = r.rows.map((x) => {
    const o: { [k: string]: SqlValue } = {};
    r.keys.forEach((k, i) => (o[k] = x.values[i]!));
    Object.assign(o, { flows: x.flows, packets: x.packets, bytes: x.bytes, bps: x.bps, pps: x.pps, bpp: x.bpp, first: isoTime(x.firstMs), last: isoTime(x.lastMs) });
    return o;
  });
  return `${jsonText(rows)}\n`;
}

function counters(c: Counters): { [k: string]: SqlValue } {
  return { flows: c.flows, packets: c.packets, bytes: c.bytes };
}

/** [{"time": ISO, "flows", "packets", "bytes", "bps", "pps", "split": [{KEY: v, ...counters}], "other": {...}}] */
export function seriesJson(s: SeriesResult): string {
  const key = s.key;
  const points = s.points.map((p) => {
    const o: { [k: string]: SqlValue } = { time: isoTime(p.startMs), flows: p.flows, packets: p.packets, bytes: p.bytes, bps: p.bps, pps: p.pps };
    if (key !== undefined && p.split !== undefined) {
      o.split = p.split.map((c, i) => ({ [key]: s.values![i]!.values[0]!, ...counters(c) }));
      o.other = counters(p.other ?? { flows: 0, packets: 0, bytes: 0 });
    }
    return o;
  });
  return `${jsonText(points)}\n`;
}

/** Rows as objects keyed by column name. */
export function sqlJson(r: SqlResult): string {
  const rows = r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c.name, row[i]!])) as { [k: string]: SqlValue });
  return `${jsonText(rows)}\n`;
}

function isV6(text: unknown): boolean {
  return typeof text === 'string' && text.includes(':');
}

/** One raw flow as an IPFIXcol2 `ipfix.entry` object. */
export function ipfixEntry(r: FlowRecord): { [k: string]: SqlValue } {
  const o: { [k: string]: SqlValue } = { '@type': 'ipfix.entry' };
  const put = (key: string, v: SqlValue | undefined): void => {
    if (v !== null && v !== undefined) o[key] = v;
  };
  const fam = isV6(r.src_addr ?? r.dst_addr) ? 'IPv6' : 'IPv4';
  put(`iana:source${isV6(r.src_addr) ? 'IPv6' : 'IPv4'}Address`, r.src_addr);
  put(`iana:destination${isV6(r.dst_addr) ? 'IPv6' : 'IPv4'}Address`, r.dst_addr);
  put('iana:sourceTransportPort', r.src_port);
  put('iana:destinationTransportPort', r.dst_port);
  put('iana:protocolIdentifier', r.proto);
  put('iana:tcpControlBits', r.tcp_flags);
  put('iana:ipClassOfService', r.tos);
  put(`iana:icmpType${fam}`, r.icmp_type);
  put(`iana:icmpCode${fam}`, r.icmp_code);
  put('iana:octetDeltaCount', r.bytes);
  put('iana:packetDeltaCount', r.packets);
  if (typeof r.sampling === 'number' && r.sampling > 1) {
    const s = scaledCounts(r);
    put('iana:samplingInterval', r.sampling);
    put('sluice:scaledOctetDeltaCount', s.bytes);
    put('sluice:scaledPacketDeltaCount', s.packets);
  }
  put('iana:flowStartMilliseconds', r.time_start === null ? null : isoTime(r.time_start as number));
  put('iana:flowEndMilliseconds', r.time_end === null ? null : isoTime(r.time_end as number));
  put('iana:ingressInterface', r.in_if);
  put('iana:egressInterface', r.out_if);
  put('iana:bgpSourceAsNumber', r.src_as);
  put('iana:bgpDestinationAsNumber', r.dst_as);
  put(`iana:ipNextHop${isV6(r.next_hop) ? 'IPv6' : 'IPv4'}Address`, r.next_hop);
  put(`iana:source${fam}PrefixLength`, r.src_mask);
  put(`iana:destination${fam}PrefixLength`, r.dst_mask);
  put('iana:vlanId', r.vlan);
  put('iana:flowDirection', r.direction);
  put('iana:flowEndReason', r.end_reason);
  put('iana:sourceMacAddress', typeof r.src_mac === 'bigint' ? macText(r.src_mac) : null);
  put('iana:destinationMacAddress', typeof r.dst_mac === 'bigint' ? macText(r.dst_mac) : null);
  put(`iana:exporter${isV6(r.exporter) ? 'IPv6' : 'IPv4'}Address`, r.exporter);
  put('iana:collectionTimeMilliseconds', isoTime(r.time_received as number));
  put('ipfix:odid', r.domain);
  // Every other element the record carried; the columns above are authoritative for theirs.
  if (typeof r.extra === 'string') {
    let extra: unknown;
    try {
      extra = JSON.parse(r.extra);
    } catch {
      extra = undefined; // a damaged extra column loses only itself
    }
    if (typeof extra === 'object' && extra !== null && !Array.isArray(extra)) {
      for (const [k, v] of Object.entries(extra as Record<string, SqlValue>)) if (!(k in o)) o[k] = v;
    }
  }
  return o;
}

/** Raw flows as IPFIXcol2 JSON lines. */
export function flowsJsonLines(rows: readonly FlowRecord[]): string {
  let out = '';
  for (const r of rows) out += `${jsonText(ipfixEntry(r))}\n`;
  return out;
}
