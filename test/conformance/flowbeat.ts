/**
 * elastic-flowbeat goldens (elastic-flowbeat/testdata/golden/*.golden.json): every event flowbeat's 2018
 * decoder produced, data records only (it dropped options records).
 *
 * The "netflow" object uses IANA IPFIX names, NetFlow v9 fields included under the IANA name of the same
 * number, so a name is turned into an IANA number and found in sluice's record by number (in v9 records,
 * numbers above 127 sit under sluice's NetFlow pseudo-PENs). Enterprise names flowbeat shares with logstash
 * (netscaler…, CERT's silkAppLabel, RFC 5103 reverse…) come from logstash's ipfix.yaml; Cisco AVC elements,
 * which flowbeat names after Cisco's "art…" counters, from a table below.
 */
import { isRecord, readCorpusJson, type Sequence } from './corpus.js';
import { registry } from './decode.js';
import { ipfixNames } from './logstash-yaml.js';
import type { Expectation, ExpectedField, ExpectedRecord, Target } from './model.js';
import type { GoldenDialect } from './values.js';

export const FLOWBEAT_DIALECT: GoldenDialect = { bytes: 'base64', timeNumbers: 'element' };

/** flowbeat's names for Cisco (PEN 9) AVC elements → libfds' names for the same elements (by meaning). */
const CISCO_ART: Readonly<Record<string, string>> = {
  artClientNetworkTimeSum: 'sumClientNwkTime',
  artCountLateResponses: 'numLateRespsCountDelta',
  artCountResponses: 'numRespsCountDelta',
  artCountRetransmissions: 'clientRetransPackets',
  artCountTransactions: 'transactionCountDelta',
  artNetworkTimeSum: 'sumNwkTime',
  artResponseTimeSum: 'sumRespTime',
  artServerNetworkTimeSum: 'sumServerNwkTime',
  artServerResponseTimeMaximum: 'maxServerRespTime',
  artServerResponseTimeSum: 'sumServerRespTime',
  artTotalResponseTimeSum: 'sumTotalRespTime',
  artTotalTransactionTimeSum: 'sumTransactionTime',
  'waas optimizationSegment': 'servicesWaasSegment',
};

const EVENT_TYPES: Readonly<Record<string, number>> = { 'NetFlow V5': 5, 'NetFlow V9': 9, IPFIX: 10 };

/** Top-level event fields that repeat netflow fields, or are flowbeat's own enrichment. */
const NOT_COMPARED: Readonly<Record<string, string>> = {
  Timestamp: 'time the golden was recorded (flowbeat receive time)',
  'event.duration': 'end - start, derived from fields compared on their own',
  'source.ip': 'copy of the netflow source address field',
  'source.port': 'copy of the netflow source port field',
  'destination.ip': 'copy of the netflow destination address field',
  'destination.port': 'copy of the netflow destination port field',
  'source.locality': 'flowbeat enrichment (private/public)',
  'destination.locality': 'flowbeat enrichment (private/public)',
  'flow.locality': 'flowbeat enrichment (private/public)',
  'flow.id': 'flowbeat hash of the five-tuple',
  'flow.five_tuple': 'flowbeat text of the five-tuple',
  'network.protocol': 'name of the protocol field',
  'network.total.bytes': 'copy of the byte counter field',
  'network.total.packets': 'copy of the packet counter field',
  'network.direction': 'copy of the flowDirection field, as text',
  'network.tcp.flags': 'copy of the tcpControlBits field, as text',
  'source.mac': 'copy of the netflow source MAC field',
  'destination.mac': 'copy of the netflow destination MAC field',
  'source.vlan': 'copy of the netflow VLAN field',
};

/** netflow fields left out, with the reason. */
const NETFLOW_NOT_COMPARED: Readonly<Record<string, string>> = {
  paddingOctets: "sluice's JSON formatter leaves padding out by design (it carries no information)",
  subTemplateMultiList: 'RFC 6313 list: flowbeat shows the raw bytes, sluice the decoded records; no common form',
  subTemplateList: 'RFC 6313 list: flowbeat shows the raw bytes, sluice the decoded records; no common form',
  basicList: 'RFC 6313 list: flowbeat shows the raw bytes, sluice the decoded values; no common form',
};

const UNKNOWN_TIME = '0001-01-01T00:00:00Z';

function netflowField(name: string, value: unknown, skipped: Map<string, string>, defects: Set<string>): ExpectedField | undefined {
  // ipfix_cisco.pcap's golden has keys with a trailing space ("artCountResponses "): a golden defect, noted once.
  const clean = name.trim();
  if (clean !== name) defects.add(name);
  const why = NETFLOW_NOT_COMPARED[clean];
  if (why !== undefined) {
    skipped.set(clean, why);
    return undefined;
  }
  if (clean === 'template_id') return { name, targets: [{ key: 'ipfix:templateId', kind: 'uint' }], value };
  if (clean === 'observation_domain_id') return { name, targets: [{ key: 'ipfix:odid', kind: 'uint' }], value };
  const cisco = CISCO_ART[clean];
  if (cisco !== undefined) {
    const ie = registry.byName(9, cisco);
    if (ie !== undefined) return { name, targets: [{ ie: ie.id, pen: 9 }], value };
  }
  const iana = registry.byName(0, clean);
  if (iana !== undefined) return { name, targets: [{ ie: iana.id }], value };
  const ls = ipfixNames().get(clean);
  if (ls !== undefined) return { name, targets: ls.map((d): Target => ({ ie: d.id, pen: d.pen })), value };
  skipped.set(name, 'no IANA, libfds or logstash element of that name');
  return undefined;
}

function flatten(o: Record<string, unknown>, prefix: string, out: Map<string, unknown>): void {
  for (const [k, v] of Object.entries(o)) {
    if (isRecord(v)) flatten(v, `${prefix}${k}.`, out);
    else out.set(prefix + k, v);
  }
}

function eventRecord(index: number, fields: Record<string, unknown>, skipped: Map<string, string>, defects: Set<string>): ExpectedRecord {
  const out: ExpectedField[] = [];
  const flat = new Map<string, unknown>();
  const { netflow, ...rest } = fields;
  flatten(rest, '', flat);
  for (const [name, value] of flat) {
    const why = NOT_COMPARED[name];
    if (why !== undefined) {
      skipped.set(name, why);
      continue;
    }
    switch (name) {
      case 'event.created':
        out.push({ name, targets: [{ key: 'ipfix:exportTime', kind: 'time' }], value });
        break;
      case 'event.start':
      case 'event.end': {
        if (value === UNKNOWN_TIME) break; // flowbeat found no time in the record
        const s = name === 'event.start' ? 'Start' : 'End';
        // Derived from sysUpTime (sluice adds flow…Milliseconds) or an absolute element of any precision.
        const targets: Target[] = [{ key: `iana:flow${s}Milliseconds`, kind: 'time' }, ...(s === 'Start' ? [150, 154, 156] : [151, 155, 157]).map((ie) => ({ ie, pen: 0 }))];
        out.push({ name, targets, value, kind: 'time' });
        break;
      }
      case 'event.type':
        out.push({ name, targets: [{ meta: 'version' }], value: EVENT_TYPES[String(value)] ?? value });
        break;
      case 'flow.sequence_num':
        out.push({ name, targets: [{ key: 'ipfix:seqNumber', kind: 'uint' }], value });
        break;
      case 'device.ip':
        out.push({ name, targets: [{ key: 'ipfix:srcAddr', kind: 'ip' }], value });
        break;
      default:
        skipped.set(name, 'flowbeat event field without a counterpart');
    }
  }
  if (isRecord(netflow)) {
    for (const [name, value] of Object.entries(netflow)) {
      const f = netflowField(name, value, skipped, defects);
      if (f !== undefined) out.push(f);
    }
  }
  return { label: `event ${index}`, index, fields: out };
}

/** null when the golden holds only an error (the sequence then falls back to tshark). */
export function loadFlowbeat(seq: Sequence): Expectation | null {
  if (seq.golden === null) return null;
  const g = readCorpusJson(seq.golden);
  if (!isRecord(g)) throw new TypeError(`${seq.golden}: not an object`);
  if (typeof g['error'] === 'string') return null;
  const skipped = new Map<string, string>();
  const defects = new Set<string>();
  const events = Array.isArray(g['events']) ? g['events'] : [];
  const records = events.map((e: unknown, i: number) => {
    const fields = isRecord(e) && isRecord(e['Fields']) ? e['Fields'] : {};
    return eventRecord(i, fields, skipped, defects);
  });
  return {
    ref: 'flowbeat',
    file: seq.golden,
    records,
    matching: 'index',
    select: 'data',
    // The dat tests hand each file to the decoder as one datagram; pcaps are replayed packet by packet.
    datagrams: 'first',
    expectedCount: events.length,
    skipped,
    goldenDefects:
      defects.size === 0 ? [] : [{ field: '(keys)', detail: `${defects.size} keys with a trailing space, compared without it: ${[...defects].map((d) => JSON.stringify(d)).join(', ')}` }],
  };
}

/** The golden's error text, for sequences whose golden recorded only a decode error. */
export function flowbeatError(seq: Sequence): string | undefined {
  if (seq.golden === null) return undefined;
  const g = readCorpusJson(seq.golden);
  return isRecord(g) && typeof g['error'] === 'string' ? g['error'] : undefined;
}
