/**
 * Every documented disagreement between sluice and a reference, with the reason it is not a test failure.
 * Each one was checked against the bytes and, where it has the field, against tshark.
 *
 * - KNOWN_SLUICE_BUGS: sluice is wrong. The test stays green but prints these loudly; when sluice is fixed the
 *   entry stops matching and the summary says so, so it can be deleted.
 * - KNOWN_GOLDEN_ERRATA: the reference is wrong (a decoder bug of its own, a naming slip in the golden file).
 * - KNOWN_CONVENTION_DIFFERENCES: both sides are defensible readings of input that is malformed or ambiguous;
 *   sluice's choice is deliberate (and IPFIXcol2's where IPFIXcol2 has one).
 *
 * Matching: `ref`, `seq` (sequence id, or a pattern), `field` (the reference's own field name, or
 * "(record count)" / "(record)" / the defect note name) and optionally the record label; `check` narrows an
 * entry to the exact relation it documents (e.g. "exactly 1000 ms later"), so a different error in the same
 * field is not excused.
 */
import type { Disagreement, Reference } from './model.js';

export interface KnownDisagreement {
  /** The reference(s) the disagreement shows up against. */
  readonly ref: Reference | readonly Reference[];
  readonly seq: string | RegExp;
  readonly field: string | RegExp;
  readonly record?: RegExp;
  readonly check?: (d: Disagreement) => boolean;
  /** Short form for tables: "expected X, sluice Y". */
  readonly summary: string;
  readonly reason: string;
}

const ms = (d: Disagreement): [number, number] => [Number(d.want), Number(d.have)];

/** logstash's FIRST/LAST_SWITCHED arithmetic lands exactly one second late unless the ms part is 0. */
const oneSecondLate = (d: Disagreement): boolean => {
  const [want, have] = ms(d);
  return want - have === 1000;
};

// Empty: the template-id bug (VMware templates 264/266 sharing a compiled formatter) was fixed in
// src/format/ipfixcol2-json.ts by reading the id per batch.
export const KNOWN_SLUICE_BUGS: readonly KnownDisagreement[] = [];

export const KNOWN_GOLDEN_ERRATA: readonly KnownDisagreement[] = [
  // ---- logstash
  {
    ref: 'logstash',
    seq: /^logstash-codec-netflow\/(Netflow-9-|Netflow5-|Netflow-5-valid-01)/,
    field: /^(first|last)_switched$/,
    check: oneSecondLate,
    summary: 'first/last_switched exactly 1 s later than sluice',
    reason:
      'logstash computes export time − (sysUpTime − FIRST/LAST_SWITCHED) with the second and millisecond parts ' +
      'split and lands exactly 1 s late whenever the ms part is not 0. The raw values give sluice\'s instant: ' +
      'e.g. Netflow 9 valid 01: unix_secs 1444331070 − (45.076 s − 1.217 s) = 19:03:46.141, as flowbeat also has ' +
      '(SOURCES.md, "Known disagreements"; tshark timestart/timeend agree with sluice\'s raw sysUpTime fields).',
  },
  {
    ref: 'logstash',
    seq: 'logstash-codec-netflow/Netflow-5-valid-01',
    field: 'first_switched',
    check: (d) => d.expected.startsWith('"2015-06-21'),
    summary: 'first_switched 2015-06-21T11:40:52.194 expected, sluice 2015-05-02T18:38:04.898',
    reason:
      'softflowd wrote FIRST_SWITCHED 0xFFFFFFFF (1 ms before the uptime origin; sysUpTime 3381 ms). logstash ' +
      'subtracts without 32-bit wrap and lands 49.7 days after the export time. sluice takes the signed 32-bit ' +
      'difference (3382 ms before the export time 18:38:08.280): 18:38:04.898.',
  },
  // ---- flowbeat
  {
    ref: 'flowbeat',
    seq: /^elastic-flowbeat\/IPFIX (Netscaler with variable length fields|configured with include_flowset_id)$/,
    field: /^flow(Start|End)Microseconds$/,
    summary: 'flowStart/EndMicroseconds in the year 1762 expected, sluice 2016-11-11T12:09:19.000',
    reason:
      'flowbeat misreads dateTimeMicroseconds (NTP format, RFC 7011 6.1.9) and prints 1762-11-10. The NTP seconds ' +
      'give 2016-11-11T12:09:19, which logstash (…19.000128468Z) and sluice agree on.',
  },
  {
    ref: 'flowbeat',
    seq: 'elastic-flowbeat/IPFIX YAF basic with applabel',
    field: 'silkAppLabel',
    record: /^event 0$/,
    summary: 'silkAppLabel 0 expected, sluice 53',
    reason:
      'The record (UDP 172.16.32.201:46086 → 172.16.32.100:53) carries CERT silkAppLabel 0x0035 = 53: tshark shows ' +
      'the enterprise entry 00:35 and logstash asserts 53. flowbeat prints 0.',
  },
  {
    ref: 'flowbeat',
    seq: 'elastic-flowbeat/Netflow 9 Cisco ASR 9000 series template 260',
    field: 'samplerId',
    summary: 'samplerId 0 expected, sluice 1 (21 records)',
    reason: 'FLOW_SAMPLER_ID (48) is 1 on the wire: tshark shows cflow.sampler_id 1 and logstash flow_sampler_id 1. flowbeat prints 0.',
  },
  {
    ref: 'flowbeat',
    seq: /^elastic-flowbeat\/Netflow 9 (Fortigate FortiOS 5\.2\.1|nprobe DPI L7)$/,
    field: /^event\.(start|end)$/,
    record: /^event 0$/,
    check: (d) => Number(d.have) > Number(d.want),
    summary: 'event.start/end = export time expected, sluice later than the export time',
    reason:
      'These exporters stamp FIRST/LAST_SWITCHED after the header sysUpTime (FortiOS: timestart 621761.7 s vs ' +
      'sysUpTime 20412.178 s; nProbe: 101 s vs 91 s, per tshark), so the flow times fall after the export time. ' +
      'sluice (and logstash, 1 s apart as usual) compute them as they are; flowbeat replaces them with the export ' +
      'time, and its own flowStart/EndSysUpTime fields still hold the raw values sluice used.',
  },
  {
    ref: 'flowbeat',
    seq: 'elastic-flowbeat/Netflow 9 nprobe DPI L7',
    field: /^\(record( count)?\)$/,
    summary: '2 events expected, sluice 1 record',
    reason:
      'The data set holds one 83-byte record and 17 bytes after it ("6c 00 00 00 11 …", shown by tshark as ' +
      'padding). flowbeat decodes those bytes as a second record (flowStartSysUpTime 1811939328 = 0x6C000000); ' +
      'logstash expects 1 event, as sluice has (which reports the 17 bytes as a truncated record).',
  },
  {
    ref: 'flowbeat',
    seq: 'elastic-flowbeat/Netflow 9 H3C Netstream with varstring',
    field: 'VRFname',
    summary: 'VRFname "\\u00ff\\u0000\\u0001…" (the length prefix and beyond) expected, sluice ""',
    reason:
      'H3C declares VRFname (236) with length 65535, the IPFIX variable-length marker, in a v9 template. The value ' +
      'is written in the long form (0xFF, length 0x0001) and is one NUL byte: an empty string. flowbeat takes 65535 ' +
      'as a fixed length and returns the bytes from the length prefix on ("\\u00ff\\u0000\\u0001…"), past the end of ' +
      'the record; logstash asserts "" as sluice has.',
  },
  {
    ref: 'flowbeat',
    seq: 'elastic-flowbeat/Netflow 9 invalid 01',
    field: '(record count)',
    summary: '0 events expected, sluice 2 data records',
    reason:
      'The packet has templates 1024/2048, an options template flowset of length 22 (not padded to 4 bytes), ' +
      'then an options record and the data sets 2048 and 1024, whose records are plausible flows (192.168.0.1 → ' +
      '192.168.0.105 UDP 53, an IPv6 flow). flowbeat drops the whole packet without an error; logstash only ' +
      'asserts that decoding does not raise.',
  },
  {
    ref: 'flowbeat',
    seq: 'elastic-flowbeat/ipfix_cisco.pcap',
    field: '(keys)',
    summary: '12 keys with a trailing space ("artCountResponses ")',
    reason: 'A slip in flowbeat\'s Cisco field table (SOURCES.md caveat); the values are compared under the trimmed names.',
  },
  // ---- telegraf
  {
    ref: 'telegraf',
    seq: 'telegraf/ipfix_example',
    field: '(type_<PEN>_<id> names)',
    summary: 'type_6871_32868 … instead of type_6871_100 …',
    reason:
      'In options records goflow2 (telegraf\'s decoder) keeps the enterprise bit 0x8000 in the element id ' +
      '(32868 = 0x8000 | 100). The values match CERT elements 100–105 and 550/551/554 once the bit is removed.',
  },
  {
    ref: 'telegraf',
    seq: 'telegraf/netflow_v9_options',
    field: 'in_bytes',
    summary: 'in_bytes 169952189 expected; sluice has the value as iana:exportingProcessId',
    reason:
      'The v9 options template\'s scope field is scope type 1 (System, 4 bytes = 0x0a2143bd). telegraf looks scope ' +
      'types up in the field-type table and calls it IN_BYTES; scope types are their own namespace (RFC 3954 6.1) ' +
      'and sluice maps System to exportingProcessId as IPFIXcol2 does.',
  },
  {
    ref: 'telegraf',
    seq: 'telegraf/sflow_issue_15918',
    field: 'in_snmp',
    summary: 'in_snmp = the sample\'s data source index expected, sluice the sample\'s input ifIndex',
    reason:
      'telegraf writes the flow sample\'s data source index (sflowDataSourceIndex) into in_snmp; the sample\'s ' +
      'own input field (sFlow v5 flow_sample.input) is what ingressInterface means and is what sluice shows. ' +
      'The two differ for samples taken on the egress side (e.g. source 60, input 101, output 60).',
  },
  {
    ref: 'telegraf',
    seq: 'telegraf/sflow_issue_15918',
    field: 'protocol',
    summary: 'protocol "hopopt" expected, sluice 58 (ICMPv6)',
    reason:
      'The sampled IPv6 packet starts with a hop-by-hop options header (next header 0) followed by ICMPv6. ' +
      'telegraf reports the first next-header value; sluice walks the extension headers to the upper-layer ' +
      'protocol, which is what protocolIdentifier means for a flow.',
  },
  // ---- tshark
  {
    ref: 'tshark',
    seq: /Netflow.9.invalid.01$/,
    field: '(record count)',
    summary: '0 records expected, sluice 3 (1 options, 2 data)',
    reason:
      'Wireshark lists the two templates and stops at the options template flowset of length 22 (not a multiple ' +
      'of 4); nothing after it is shown. The sets after it decode cleanly (see the flowbeat entry for this packet).',
  },
];

export const KNOWN_CONVENTION_DIFFERENCES: readonly KnownDisagreement[] = [
  {
    ref: 'flowbeat',
    seq: /^elastic-flowbeat\/Netflow 9 H3C( Netstream with varstring)?$/,
    field: 'ipv4RouterSc',
    summary: 'ipv4RouterSc "AAA=" (2 bytes) expected, sluice null',
    reason:
      'H3C sends field type 43 (ipv4RouterSc, an ipv4Address) with length 2. An address of 2 bytes has no text ' +
      'form; sluice prints null, as IPFIXcol2 does for a length its type does not allow, flowbeat the raw bytes ' +
      '(and tshark reports the field as malformed).',
  },
  {
    ref: ['telegraf', 'tshark'],
    seq: 'telegraf/issue_14370',
    field: /^\(record( count)?\)$/,
    summary: '2 records expected, sluice 1 (set 257 dropped)',
    reason:
      'The message header says 290 bytes but set 257 (84 bytes, at offset 208) ends at 292, the end of the file. ' +
      'sluice keeps to the message length (RFC 7011 3.1, 3.3.1) and drops the set as malformed; telegraf and ' +
      'tshark read the set from the datagram anyway. The case is malformed on purpose (telegraf issue 14370).',
  },
  {
    ref: 'telegraf',
    seq: 'telegraf/issue_14370',
    field: /^flow_(start|end)$/,
    summary: 'flow_start/flow_end 0 expected, sluice null',
    reason:
      'Template 256 gives flowStartSeconds/flowEndSeconds a length of 0. A zero-length field has no value; sluice ' +
      'prints null (IPFIXcol2 does the same), telegraf 0.',
  },
  {
    ref: 'telegraf',
    seq: 'telegraf/sflow_issue_15918',
    field: 'vlan_src_priority',
    summary: 'vlan_src_priority 4294967295 expected, sluice leaves dot1qPriority out',
    reason:
      'The agent fills the extended switch record\'s src_priority with 0xFFFFFFFF, its "unknown". An 802.1p ' +
      'priority is 3 bits; sluice omits values outside 0–7 (src/wire/sflow/decode.ts), telegraf prints the raw word.',
  },
];

export type Category = 'sluice-bug' | 'golden-erratum' | 'convention';

export const ALL_KNOWN: ReadonlyArray<{ readonly category: Category; readonly entries: readonly KnownDisagreement[] }> = [
  { category: 'sluice-bug', entries: KNOWN_SLUICE_BUGS },
  { category: 'golden-erratum', entries: KNOWN_GOLDEN_ERRATA },
  { category: 'convention', entries: KNOWN_CONVENTION_DIFFERENCES },
];

function matches(k: KnownDisagreement, d: Disagreement): boolean {
  if (typeof k.ref === 'string' ? k.ref !== d.ref : !k.ref.includes(d.ref)) return false;
  if (typeof k.seq === 'string' ? k.seq !== d.seq : !k.seq.test(d.seq)) return false;
  if (typeof k.field === 'string' ? k.field !== d.field : !k.field.test(d.field)) return false;
  if (k.record !== undefined && !k.record.test(d.record)) return false;
  return k.check === undefined || k.check(d);
}

/** The documented entry that explains a disagreement, if any (sluice bugs first). */
export function explain(d: Disagreement): { category: Category; entry: KnownDisagreement } | undefined {
  for (const { category, entries } of ALL_KNOWN) {
    for (const entry of entries) if (matches(entry, d)) return { category, entry };
  }
  return undefined;
}
