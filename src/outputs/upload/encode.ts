/**
 * What an upload batch looks like on the wire, per kind of target.
 *
 * PCE (`bulk_traffic_flows`): CSV without a header line, one `src_ip,dst_ip,dst_port,proto` line
 * per flow, `proto` as the IANA protocol number — the form the Illumio REST API guide's Bulk
 * Traffic Loader describes and its examples send. The PCE line has no ICMP type/code column, so
 * ICMP flows are written with dst_port 0 (ICMP has no ports) and ICMP aggregates that differ only
 * in type/code become one line.
 *
 * Generic HTTP: NDJSON, one object per aggregated flow with every aggregate field; or CSV with a
 * header line naming the same fields.
 */
import type { AggregatedFlow } from '../../pipeline/aggregate.js';

export interface WindowInfo {
  readonly startMs: number;
  readonly endMs: number;
}

/** One batch body (text) and the number of lines (flows) in it. */
export interface BatchText {
  readonly text: string;
  readonly flows: number;
}

function chunk(lines: readonly string[], max: number, header?: string): BatchText[] {
  const out: BatchText[] = [];
  for (let i = 0; i < lines.length; i += max) {
    const part = lines.slice(i, i + max);
    out.push({ text: (header === undefined ? '' : header + '\n') + part.join('\n') + '\n', flows: part.length });
  }
  return out;
}

export function pceLine(f: AggregatedFlow): string {
  return `${f.srcIp},${f.dstIp},${f.icmpType >= 0 ? 0 : f.dstPort},${f.proto}`;
}

export function encodePce(flows: readonly AggregatedFlow[], maxLines: number): BatchText[] {
  const seen = new Set<string>();
  for (const f of flows) seen.add(pceLine(f));
  return chunk([...seen], maxLines);
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function ndjsonLine(f: AggregatedFlow, w: WindowInfo): string {
  const icmp = f.icmpType >= 0 ? `,"icmp_type":${f.icmpType},"icmp_code":${f.icmpCode}` : '';
  return (
    `{"src_ip":"${f.srcIp}","dst_ip":"${f.dstIp}","dst_port":${f.dstPort},"proto":${f.proto}${icmp}` +
    `,"flows":${f.flows},"packets":${f.packets},"bytes":${f.bytes}` +
    `,"first_seen":"${iso(f.firstMs)}","last_seen":"${iso(f.lastMs)}","window_start":"${iso(w.startMs)}","window_end":"${iso(w.endMs)}"}`
  );
}

export const HTTP_CSV_HEADER = 'src_ip,dst_ip,dst_port,proto,icmp_type,icmp_code,flows,packets,bytes,first_seen,last_seen,window_start,window_end';

export function csvLine(f: AggregatedFlow, w: WindowInfo): string {
  const icmp = f.icmpType >= 0 ? `${f.icmpType},${f.icmpCode}` : ',';
  return `${f.srcIp},${f.dstIp},${f.dstPort},${f.proto},${icmp},${f.flows},${f.packets},${f.bytes},${iso(f.firstMs)},${iso(f.lastMs)},${iso(w.startMs)},${iso(w.endMs)}`;
}

export function encodeHttp(flows: readonly AggregatedFlow[], w: WindowInfo, format: 'ndjson' | 'csv', maxLines: number): BatchText[] {
  if (format === 'ndjson') return chunk(flows.map((f) => ndjsonLine(f, w)), maxLines);
  return chunk(flows.map((f) => csvLine(f, w)), maxLines, HTTP_CSV_HEADER);
}

/** The PCE's reply to bulk_traffic_flows (Illumio REST API): counts and the lines it could not take. */
export interface PceReply {
  readonly received: number;
  readonly failed: number;
  readonly failedFlows: readonly string[];
}

export function parsePceReply(body: string): PceReply | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const received = typeof o['num_flows_received'] === 'number' ? o['num_flows_received'] : undefined;
  const failed = typeof o['num_flows_failed'] === 'number' ? o['num_flows_failed'] : 0;
  if (received === undefined) return undefined;
  const ff = Array.isArray(o['failed_flows']) ? o['failed_flows'].map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [];
  return { received, failed, failedFlows: ff };
}
