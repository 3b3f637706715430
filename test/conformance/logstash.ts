/**
 * logstash-codec-netflow goldens (logstash-codec-netflow/expected/*.json, the expectations of upstream's rspec
 * pulled out into JSON): asserted events and single-field assertions become expected records.
 *
 * Names: v5/v9 events use netflow.yaml names (in_bytes → field type 1), IPFIX events ipfix.yaml names
 * (octetDeltaCount → 0/1, netscalerHttpReqUrl → 5951/…); both are read back to field numbers with
 * logstash-yaml.ts and then found in sluice's record by number. Header facts logstash adds to each event
 * map onto sluice's detailedInfo keys.
 */
import { isRecord, readCorpusJson, type Sequence } from './corpus.js';
import { ipfixNames, netflowNames, type LogstashField } from './logstash-yaml.js';
import type { Expectation, ExpectedField, ExpectedRecord, Target } from './model.js';
import type { GoldenDialect } from './values.js';

export const LOGSTASH_DIALECT: GoldenDialect = { bytes: 'hex', timeNumbers: 'element' };

const EXPORT_TIME: Target = { key: 'ipfix:exportTime', kind: 'time' };

/** Event fields that are not flow data, or that sluice's record model has no place for. */
const NOT_COMPARED: Readonly<Record<string, string>> = {
  '@version': 'logstash event schema version, not flow data',
  '@host': 'exporter address as the logstash input saw it; the corpus harness has no real exporter address',
  flow_records: 'v5 header record count: sluice keeps no per-message count in its records (the count is checked as a whole)',
};

/** Names logstash gives NetFlow v9 options scope fields (its own table, not netflow.yaml); sluice maps them as IPFIXcol2 does. */
const V9_SCOPES: Readonly<Record<string, number>> = {
  scope_system: 144,
  scope_interface: 10,
  scope_linecard: 141,
  scope_line_card: 141,
  scope_netflow_cache: 143,
  scope_template: 145,
};

/** Fields logstash fills from the message header (or derives) for every event. */
function headerField(name: string, value: unknown, v5: boolean): ExpectedField | undefined {
  switch (name) {
    case '@timestamp':
      return { name, targets: [EXPORT_TIME], value };
    case 'version':
      return { name, targets: [{ meta: 'version' }], value };
    case 'flow_seq_num':
      return { name, targets: [{ key: 'ipfix:seqNumber', kind: 'uint' }], value };
    case 'flowset_id':
      return { name, targets: [{ key: 'ipfix:templateId', kind: 'uint' }], value };
    // logstash turns FIRST/LAST_SWITCHED (sysUpTime ms) into absolute times; sluice derives the same instants.
    case 'first_switched':
      return { name, targets: [{ key: 'iana:flowStartMilliseconds', kind: 'time' }], value };
    case 'last_switched':
      return { name, targets: [{ key: 'iana:flowEndMilliseconds', kind: 'time' }], value };
  }
  if (v5) {
    const v5Header: Record<string, number> = { engine_type: 38, engine_id: 39, sampling_algorithm: 35, sampling_interval: 34 };
    const id = v5Header[name];
    if (id !== undefined) return { name, targets: [{ ie: id, pen: 0 }], value };
  }
  const scope = V9_SCOPES[name];
  if (scope !== undefined) return { name, targets: [{ ie: scope, pen: 0 }], value };
  return undefined;
}

/** logstash's structured renderings of some v9 fields, turned back into the wire number or bytes. */
function special(f: LogstashField, name: string, value: unknown): ExpectedField | undefined {
  const targets: Target[] = [{ ie: f.id }];
  switch (f.type) {
    case 'forwarding_status': // {status, reason}: status in the top two bits (RFC 7270)
      if (isRecord(value) && typeof value['status'] === 'number' && typeof value['reason'] === 'number') {
        return { name, targets, value: (value['status'] << 6) | value['reason'], kind: 'uint' };
      }
      return undefined;
    case 'mpls_label_stack_octets': // {label, experimental, bottom_of_stack, ttl}: one 32-bit label stack entry
      if (isRecord(value)) {
        const n = (k: string) => (typeof value[k] === 'number' ? (value[k] as number) : 0);
        return { name, targets, value: n('label') * 4096 + n('experimental') * 512 + n('bottom_of_stack') * 256 + n('ttl'), kind: 'uint' };
      }
      return undefined;
    case 'acl_id_asa': // "xxxxxxxx-xxxxxxxx-xxxxxxxx": the 12 bytes in three hex groups
      return typeof value === 'string' ? { name, targets, value: value.replace(/-/g, ''), kind: 'bytes' } : undefined;
    // "<classification engine id>..<selector id>" (RFC 6759); for 9-byte ids logstash splits the selector
    // into two 32-bit numbers ("20..12356..36660").
    case 'application_id':
      return {
        name,
        targets,
        value,
        render: (v) => {
          if (typeof v !== 'string' || !/^0x([0-9a-fA-F]{2})+$/.test(v) || v.length < 6) return undefined;
          const engine = parseInt(v.slice(2, 4), 16);
          const sel = v.slice(4);
          if (sel.length === 16) return `${engine}..${parseInt(sel.slice(0, 8), 16)}..${parseInt(sel.slice(8), 16)}`;
          return `${engine}..${BigInt('0x' + sel).toString()}`;
        },
      };
  }
  return undefined;
}

function fieldFor(name: string, value: unknown, ipfix: boolean, skipped: Map<string, string>): ExpectedField | undefined {
  const v5v9 = !ipfix;
  const reason = NOT_COMPARED[name];
  if (reason !== undefined) {
    skipped.set(name, reason);
    return undefined;
  }
  const h = headerField(name, value, v5v9);
  if (h !== undefined) return h;
  const dict = ipfix ? ipfixNames() : netflowNames();
  const defs = dict.get(name);
  if (defs === undefined || defs.length === 0) {
    skipped.set(name, `not a name in logstash's ${ipfix ? 'ipfix' : 'netflow'}.yaml`);
    return undefined;
  }
  if (v5v9) {
    const s = special(defs[0]!, name, value);
    if (s !== undefined) return s;
  }
  // v9 names carry field types in v9 numbering (no PEN); ipfix.yaml names carry their PEN.
  const targets: Target[] = defs.map((d) => (v5v9 ? { ie: d.id } : { ie: d.id, pen: d.pen }));
  return { name, targets, value };
}

/** Replaces the "#{nanos}" placeholders some upstream expectations keep, with the logstash ≥ 8 digits. */
function interpolate(value: unknown, note: unknown): unknown {
  if (typeof value !== 'string' || typeof note !== 'string' || !value.includes('#{')) return value;
  const m = /Interpolated values: (\{.*\})$/.exec(note);
  if (m === null) return value;
  const vars: unknown = JSON.parse(m[1]!);
  if (!isRecord(vars)) return value;
  return value.replace(/#\{(\w+)\}/g, (all, k: string) => {
    const v = vars[k];
    return isRecord(v) && typeof v['logstash>=8'] === 'string' ? v['logstash>=8'] : all;
  });
}

export function loadLogstash(seq: Sequence): Expectation {
  if (seq.golden === null) throw new Error(`${seq.id}: logstash test without golden`);
  const g = readCorpusJson(seq.golden);
  if (!isRecord(g)) throw new TypeError(`${seq.golden}: not an object`);
  const ipfix = 'ipfix' in seq.versions;
  const skipped = new Map<string, string>();
  const byIndex = new Map<number, { label: string; fields: ExpectedField[] }>();
  const recordAt = (i: number) => {
    let r = byIndex.get(i);
    if (r === undefined) byIndex.set(i, (r = { label: `event ${i}`, fields: [] }));
    return r;
  };

  for (const e of Array.isArray(g['expected_events']) ? g['expected_events'] : []) {
    if (!isRecord(e) || typeof e['event_index'] !== 'number') continue;
    const event = e['event'];
    if (!isRecord(event)) continue;
    if (e['asserted'] !== true) {
      skipped.set(`event ${e['event_index']} (heredoc)`, 'defined in the spec but never compared by it');
      continue;
    }
    const rec = recordAt(e['event_index']);
    for (const [name, value] of Object.entries(event)) {
      if (name === 'netflow') continue;
      const f = fieldFor(name, value, ipfix, skipped);
      if (f !== undefined) rec.fields.push(f);
    }
    const nf = event['netflow'];
    if (isRecord(nf)) {
      for (const [name, value] of Object.entries(nf)) {
        const f = fieldFor(name, interpolate(value, g['timestamp_precision_note']), ipfix, skipped);
        if (f !== undefined) rec.fields.push(f);
      }
    }
  }
  for (const a of Array.isArray(g['field_assertions']) ? g['field_assertions'] : []) {
    if (!isRecord(a) || typeof a['event_index'] !== 'number' || typeof a['field'] !== 'string') continue;
    // Version-dependent assertions: the corpus's expectations follow logstash ≥ 8 (see timestamp_precision_note).
    if (typeof a['condition'] === 'string' && a['condition'] !== 'logstash>=8') {
      skipped.set(`${a['field']} (${a['condition']})`, 'assertion for another logstash version');
      continue;
    }
    const m = /^\[netflow\]\[([^\]]+)\]$/.exec(a['field']);
    if (m === null) {
      skipped.set(a['field'], 'not a [netflow] field');
      continue;
    }
    const f = fieldFor(m[1]!, interpolate(a['value'], g['timestamp_precision_note']), ipfix, skipped);
    if (f === undefined) continue;
    const rec = recordAt(a['event_index']);
    // An assertion repeats a field of an asserted event most of the time; keep each (name, value) once.
    if (!rec.fields.some((x) => x.name === f.name && JSON.stringify(x.value) === JSON.stringify(f.value))) rec.fields.push(f);
  }
  const records: ExpectedRecord[] = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([index, r]) => ({ label: r.label, index, fields: r.fields }));
  const count = g['expected_event_count'];
  return {
    ref: 'logstash',
    file: seq.golden,
    records,
    matching: 'index',
    select: 'all',
    datagrams: 'first',
    expectedCount: typeof count === 'number' ? count : undefined,
    skipped,
  };
}
