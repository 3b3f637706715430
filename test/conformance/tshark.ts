/**
 * Wireshark's decodes (_derived/tshark/<source>/<test>.tshark.json.gz, `tshark -T json --no-duplicate-keys`)
 * as a second, independent reference. Every flow record tshark decoded becomes an expected record, in packet,
 * set and record order — the order sluice emits them in.
 *
 * Only a small, unambiguous part of Wireshark's `cflow.*` vocabulary is mapped: the five-tuple, counters,
 * interfaces, next hops, masks, AS numbers, ToS, TCP flags, raw and absolute times, NAT translations, MACs, and
 * per-message facts (export time, sequence, observation domain, template id). Vendor fields (cflow.pie.*) are
 * left to the goldens. Records of sets tshark had no template for carry no data and are not expected.
 */
import { isRecord, readCorpusJson, type Sequence } from './corpus.js';
import type { Expectation, ExpectedField, ExpectedRecord, Target } from './model.js';
import type { GoldenDialect, ValueKind } from './values.js';

export const TSHARK_DIALECT: GoldenDialect = { bytes: 'colon-hex', timeNumbers: 'ms' };

interface Mapping {
  readonly targets: readonly Target[];
  readonly kind?: ValueKind;
  /** Converts tshark's text to the value compared (seconds → ms, Wireshark dates → ISO). */
  readonly convert?: (text: string) => unknown;
}

const ie = (...ids: number[]): Target[] => ids.map((id) => ({ ie: id }));

/** "1.216000000" (seconds since exporter boot) → 1216 ms, the raw sysUpTime value on the wire. */
const secondsToMs = (t: string): unknown => (/^\d+(\.\d+)?$/.test(t) ? Math.round(Number(t) * 1000) : t);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Wireshark's absolute time text "Jul 21, 2016 13:50:32.955000000 UTC" → ISO 8601. */
export function wiresharkDate(t: string): unknown {
  const m = /^([A-Z][a-z]{2})\s+(\d{1,2}), (\d{4}) (\d{2}:\d{2}:\d{2})(\.\d+)? UTC$/.exec(t);
  if (m === null) return t;
  const mo = MONTHS.indexOf(m[1]!) + 1;
  return `${m[3]}-${String(mo).padStart(2, '0')}-${m[2]!.padStart(2, '0')}T${m[4]}${m[5] ?? ''}Z`;
}

const FIELDS: Readonly<Record<string, Mapping>> = {
  'cflow.srcaddr': { targets: ie(8) },
  'cflow.dstaddr': { targets: ie(12) },
  'cflow.srcaddrv6': { targets: ie(27) },
  'cflow.dstaddrv6': { targets: ie(28) },
  'cflow.srcport': { targets: ie(7, 180, 182) },
  'cflow.dstport': { targets: ie(11, 181, 183) },
  'cflow.protocol': { targets: ie(4) },
  'cflow.octets': { targets: ie(1) },
  'cflow.packets': { targets: ie(2) },
  'cflow.flows': { targets: ie(3) },
  'cflow.post_octets': { targets: ie(23) },
  'cflow.post_packets': { targets: ie(24) },
  'cflow.permanent_octets': { targets: ie(85) },
  'cflow.permanent_packets': { targets: ie(86) },
  'cflow.inputint': { targets: ie(10) },
  'cflow.outputint': { targets: ie(14) },
  'cflow.nexthop': { targets: ie(15) },
  'cflow.nexthopv6': { targets: ie(62) },
  'cflow.bgpnexthop': { targets: ie(18) },
  'cflow.srcmask': { targets: ie(9) },
  'cflow.dstmask': { targets: ie(13) },
  'cflow.srcas': { targets: ie(16) },
  'cflow.dstas': { targets: ie(17) },
  'cflow.tos': { targets: ie(5), kind: 'uint' },
  'cflow.tcpflags': { targets: ie(6), kind: 'uint' },
  'cflow.ip_version': { targets: ie(60) },
  'cflow.direction': { targets: ie(61) },
  'cflow.srcmac': { targets: ie(56) },
  'cflow.dstmac': { targets: ie(80) },
  'cflow.post_srcmac': { targets: ie(81) },
  'cflow.post_dstmac': { targets: ie(57) },
  'cflow.vlanid': { targets: ie(58) },
  // Cisco ASA sends the NAT fields as v9 types 40001-40004; Wireshark shows them under the IANA names.
  'cflow.post_natsource_ipv4_address': { targets: ie(225, 40001) },
  'cflow.post_natdestination_ipv4_address': { targets: ie(226, 40002) },
  'cflow.post_naptsource_transport_port': { targets: ie(227, 40003) },
  'cflow.post_naptdestination_transport_port': { targets: ie(228, 40004) },
  'cflow.flow_id': { targets: ie(148) },
  'cflow.timestart': { targets: ie(22), kind: 'uint', convert: secondsToMs },
  'cflow.timeend': { targets: ie(21), kind: 'uint', convert: secondsToMs },
  'cflow.abstimestart': { targets: ie(152, 150, 154, 156), kind: 'time', convert: wiresharkDate },
  'cflow.abstimeend': { targets: ie(153, 151, 155, 157), kind: 'time', convert: wiresharkDate },
};

const EPOCH = 'Jan  1, 1970 00:00:00.000000000 UTC';

/** Leaf fields of a flow record; `*_tree` objects hold the parts of their parent (timestart/timeend live there). */
function leaves(o: Record<string, unknown>, out: Map<string, unknown>): void {
  for (const [k, v] of Object.entries(o)) {
    if (isRecord(v)) leaves(v, out);
    else if (!out.has(k)) out.set(k, v);
    else out.set(k, [out.get(k), v]); // the same name twice in one record: ambiguous, dropped below
  }
}

function flowRecord(label: string, at: NonNullable<ExpectedRecord['at']>, flow: Record<string, unknown>, header: ExpectedField[], templateId: number | undefined, skipped: Map<string, string>): ExpectedRecord {
  const fields: ExpectedField[] = [...header];
  if (templateId !== undefined) fields.push({ name: 'cflow.flowset_id', targets: [{ key: 'ipfix:templateId', kind: 'uint' }], value: templateId });
  const flat = new Map<string, unknown>();
  leaves(flow, flat);
  for (const [name, value] of flat) {
    const m = FIELDS[name];
    if (m === undefined) continue;
    if (typeof value !== 'string') {
      // --no-duplicate-keys merges repeated names (RFC 5103 reverse twins, repeated elements) into an array.
      skipped.set(name, 'repeated in one record (tshark merges them into an array), ambiguous');
      continue;
    }
    // Wireshark shows a FIRST/LAST_SWITCHED (sysUpTime) of 0 as the absolute time 1970-01-01 instead of
    // "0 s since boot": compare it as the raw sysUpTime 0 it is on the wire.
    if (value === EPOCH && (name === 'cflow.abstimestart' || name === 'cflow.abstimeend')) {
      fields.push({ name, targets: ie(name === 'cflow.abstimestart' ? 22 : 21), value: 0, kind: 'uint' });
      continue;
    }
    fields.push({ name, targets: m.targets, value: m.convert ? m.convert(value) : value, kind: m.kind });
  }
  return { label, at, fields };
}

function headerFields(cf: Record<string, unknown>): ExpectedField[] {
  const out: ExpectedField[] = [];
  const version = Number(cf['cflow.version']);
  out.push({ name: 'cflow.version', targets: [{ meta: 'version' }], value: version });
  const tree = isRecord(cf['cflow.timestamp_tree']) ? cf['cflow.timestamp_tree'] : {};
  const secs = tree['cflow.unix_secs'];
  if (typeof secs === 'string') {
    const nsecs = typeof tree['cflow.unix_nsecs'] === 'string' ? Number(tree['cflow.unix_nsecs']) : 0;
    out.push({ name: 'cflow.unix_secs', targets: [{ key: 'ipfix:exportTime', kind: 'time' }], value: Number(secs) * 1000 + Math.floor(nsecs / 1e6) });
  }
  if (typeof cf['cflow.sequence'] === 'string') out.push({ name: 'cflow.sequence', targets: [{ key: 'ipfix:seqNumber', kind: 'uint' }], value: cf['cflow.sequence'] });
  const domain = cf['cflow.source_id'] ?? cf['cflow.od_id'];
  if (typeof domain === 'string') out.push({ name: cf['cflow.source_id'] !== undefined ? 'cflow.source_id' : 'cflow.od_id', targets: [{ key: 'ipfix:odid', kind: 'uint' }], value: domain });
  return out;
}

/** null when tshark decoded no NetFlow/IPFIX (sFlow sequences). */
export function loadTshark(seq: Sequence): Expectation | null {
  const doc = readCorpusJson(seq.tshark);
  if (!Array.isArray(doc)) throw new TypeError(`${seq.tshark}: not a JSON array`);
  const records: ExpectedRecord[] = [];
  const skipped = new Map<string, string>();
  let packets = 0;
  let malformed = false;
  for (const pkt of doc) {
    const layers = isRecord(pkt) && isRecord(pkt['_source']) && isRecord(pkt['_source']['layers']) ? pkt['_source']['layers'] : undefined;
    const cf = layers?.['cflow'];
    if (!isRecord(cf)) continue;
    const datagram = packets++;
    const header = headerFields(cf);
    const setsSeen = new Map<number, number>();
    let pdu = 0;
    for (const [k, v] of Object.entries(cf)) {
      if (!isRecord(v)) continue;
      // v5: "pdu 3/30" (template id: any).
      if (/^pdu \d+\/\d+$/.test(k)) {
        records.push(flowRecord(`packet ${datagram + 1} / ${k}`, { datagram, templateId: -1, set: 0, record: pdu++ }, v, header, undefined, skipped));
        continue;
      }
      // v9/IPFIX data: "FlowSet 3 [id=1024] (6 flows)", "Set 2 [id=256] (1 flows)"; a set tshark stopped
      // in (malformed field) lacks the "(n flows)" but keeps the records before the fault.
      const m = /^(?:Flow)?Set \d+ \[id=(\d+)\]/.exec(k);
      if (m === null || Number(m[1]) < 256) continue;
      const tid = Number(m[1]);
      const set = setsSeen.get(tid) ?? 0;
      setsSeen.set(tid, set + 1);
      let record = 0;
      for (const [fk, flow] of Object.entries(v)) {
        if (!/^Flow \d+( \(.*\))?$/.test(fk) || !isRecord(flow)) continue;
        if (JSON.stringify(flow).includes('"_ws.malformed"')) malformed = true;
        records.push(flowRecord(`packet ${datagram + 1} / ${k.replace(/ \(.*$/, '')} / ${fk}`, { datagram, templateId: tid, set, record: record++ }, flow, header, tid, skipped));
      }
    }
  }
  if (packets === 0) return null;
  // After a malformed field Wireshark drops the rest of the packet, so its record count says nothing.
  if (malformed) skipped.set('(record count)', 'tshark stopped at a malformed field; it shows fewer records than the packet holds');
  return {
    ref: 'tshark',
    file: seq.tshark,
    records,
    matching: 'wire',
    select: 'all',
    datagrams: 'all',
    expectedCount: malformed ? undefined : records.length,
    skipped,
  };
}
