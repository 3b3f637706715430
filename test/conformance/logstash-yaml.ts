/**
 * logstash-codec-netflow's field dictionaries (data/ie/logstash-codec-netflow/{netflow,ipfix}.yaml, unmodified
 * upstream copies) read backwards: from the names logstash writes into events to the field numbers on the wire.
 *
 * The files use a small YAML subset — numeric keys (one or two levels) whose values are two-item lists
 * `[decoder type, :name]`, or `[:skip]` — so a line reader is enough and the tests need no YAML library.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'data', 'ie', 'logstash-codec-netflow');

interface Entry {
  readonly pen: number;
  readonly id: number;
  readonly type: string;
  readonly name: string;
}

/** Entries of a logstash dictionary; `nested` = ipfix.yaml's PEN → id → entry layout. */
function readDictionary(file: string, nested: boolean): Entry[] {
  const out: Entry[] = [];
  let pen = 0;
  let id = -1;
  let items: string[] = [];
  const flush = () => {
    // [type, name]; a lone item is :skip. Names and types are Ruby symbols with a leading ':'.
    if (id >= 0 && items.length === 2) out.push({ pen, id, type: items[0]!.replace(/^:/, ''), name: items[1]!.replace(/^:/, '') });
    items = [];
  };
  for (const raw of readFileSync(join(DIR, file), 'utf8').split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (line === '' || line.startsWith('#') || line === '---') continue;
    let m: RegExpExecArray | null;
    if (nested && (m = /^(\d+):$/.exec(line)) !== null) {
      flush();
      pen = Number(m[1]);
      id = -1;
    } else if ((m = (nested ? /^ {2}(\d+):$/ : /^(\d+):$/).exec(line)) !== null) {
      flush();
      id = Number(m[1]);
    } else if ((m = /^\s*- (.+)$/.exec(line)) !== null) {
      items.push(m[1]!.trim());
    } else {
      throw new Error(`${file}: unexpected line ${JSON.stringify(raw)}`);
    }
  }
  flush();
  return out;
}

/** Where a logstash name can come from; several when the dictionaries reuse a name. */
export interface LogstashField {
  readonly pen: number;
  readonly id: number;
  /** logstash's decoder type (uint32, ip4_addr, acl_id_asa, forwarding_status, ...). */
  readonly type: string;
}

function index(entries: Entry[]): Map<string, LogstashField[]> {
  const m = new Map<string, LogstashField[]>();
  for (const e of entries) {
    const list = m.get(e.name) ?? [];
    list.push({ pen: e.pen, id: e.id, type: e.type });
    m.set(e.name, list);
  }
  return m;
}

let v9: Map<string, LogstashField[]> | undefined;
let ipfix: Map<string, LogstashField[]> | undefined;

/** NetFlow v5/v9 event names (netflow.yaml): name → v9 field types (pen 0 in the result means "v9 numbering"). */
export function netflowNames(): ReadonlyMap<string, readonly LogstashField[]> {
  v9 ??= index(readDictionary('netflow.yaml', false));
  return v9;
}

/** IPFIX event names (ipfix.yaml): name → (PEN, element id); IANA elements first. */
export function ipfixNames(): ReadonlyMap<string, readonly LogstashField[]> {
  ipfix ??= index(readDictionary('ipfix.yaml', true));
  return ipfix;
}
