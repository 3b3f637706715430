/**
 * The comparison engine: lines up a reference's expected records with sluice's records and compares field by
 * field through the targets each loader chose. It knows nothing about any golden format.
 */
import { netflowFieldId, netflowFieldPen } from '../../src/wire/ie/registry.js';
import type { DataType } from '../../src/wire/ie/types.js';
import type { Sequence } from './corpus.js';
import { registry, type SluiceRecord, type SluiceRun } from './decode.js';
import type { Disagreement, Expectation, ExpectedField, Reference, Target } from './model.js';
import { canonGolden, canonSluice, kindOfType, show, type GoldenDialect, type ValueKind } from './values.js';

export interface Tally {
  compared: number;
  matched: number;
}

export interface Outcome {
  readonly seq: Sequence;
  readonly ref: Reference;
  readonly file: string;
  readonly records: Tally;
  readonly fields: Tally;
  readonly disagreements: Disagreement[];
  /** Golden field names left out, with reasons (from the loader). */
  readonly skipped: ReadonlyMap<string, string>;
}

// ---------------------------------------------------------------------------------------------------------------
// Sluice side: a record's JSON keys resolved to (PEN, element id) once.

interface Slot {
  readonly key: string;
  readonly value: unknown;
  readonly type: DataType | undefined;
}

const keyCache = new Map<string, { pen: number; id: number } | null>();

function resolveKey(key: string): { pen: number; id: number } | null {
  let r = keyCache.get(key);
  if (r !== undefined) return r;
  const raw = /^en(\d+):id(\d+)$/.exec(key);
  if (raw !== null) r = { pen: Number(raw[1]), id: Number(raw[2]) };
  else if (key.startsWith('ipfix:') || key.startsWith('@')) r = null; // message facts, not elements
  else {
    const ie = registry.lookup(key);
    r = ie === undefined ? null : { pen: ie.pen, id: ie.id };
  }
  keyCache.set(key, r);
  return r;
}

const indexes = new WeakMap<SluiceRecord, Map<string, Slot>>();

function elementIndex(rec: SluiceRecord): Map<string, Slot> {
  let m = indexes.get(rec);
  if (m !== undefined) return m;
  m = new Map();
  for (const [key, value] of Object.entries(rec.json)) {
    const pid = resolveKey(key);
    if (pid === null) continue;
    m.set(`${pid.pen}:${pid.id}`, { key, value, type: registry.get(pid.pen, pid.id)?.type });
  }
  indexes.set(rec, m);
  return m;
}

const VERSION: Record<string, number> = { netflow5: 5, netflow7: 7, netflow9: 9, ipfix: 10, sflow5: 5 };

/** The value a target points at in a record, with the data type that says how to read it. */
function locate(rec: SluiceRecord, t: Target): (Slot & { kind: ValueKind }) | undefined {
  if ('meta' in t) {
    if (t.meta === 'options') return { key: '@type', value: rec.isOptions, type: undefined, kind: 'bool' };
    return { key: '(protocol version)', value: VERSION[rec.protocol], type: undefined, kind: 'uint' };
  }
  if ('key' in t) {
    const v = rec.json[t.key];
    return v === undefined ? undefined : { key: t.key, value: v, type: undefined, kind: t.kind };
  }
  const v9 = rec.protocol === 'netflow9' && t.pen === undefined;
  const pen = t.pen ?? (v9 ? netflowFieldPen(t.ie) : 0);
  const id = v9 ? netflowFieldId(t.ie) : t.ie;
  const slot = elementIndex(rec).get(`${pen}:${id}`);
  return slot === undefined ? undefined : { ...slot, kind: kindOfType(slot.type) };
}

// ---------------------------------------------------------------------------------------------------------------
// One field.

type FieldResult = { ok: true } | { ok: false; key: string; expected: string; got: string; want?: string; have?: string };

/** Sluice prints repeated elements as a JSON array; a golden shows one of them. */
function candidatesOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

function compareField(rec: SluiceRecord, f: ExpectedField, dialect: GoldenDialect): FieldResult {
  let slot: ReturnType<typeof locate>;
  for (const t of f.targets) if ((slot = locate(rec, t)) !== undefined) break;
  if (slot === undefined) return { ok: false, key: '', expected: show(f.value), got: '(absent)' };
  const got = slot;
  if (f.render !== undefined) {
    const want = String(f.value);
    const render = f.render;
    const ok = candidatesOf(got.value).some((v) => render(v, got.key) === want);
    return ok ? { ok: true } : { ok: false, key: got.key, expected: show(f.value), got: `${show(got.value)} = ${show(render(got.value, got.key))}` };
  }
  const kind = f.kind ?? got.kind;
  let want = canonGolden(kind, f.value, dialect, got.type);
  let have: string | undefined;
  for (const v of candidatesOf(got.value)) {
    have = canonSluice(kind, v);
    // A golden number for an element sluice shows as an octet array (an enterprise element sluice has no
    // type for, or a v9 field of a non-standard length): compare the bytes as a big-endian unsigned number.
    if (kind === 'bytes' && (typeof f.value === 'number' || typeof f.value === 'bigint') && have !== undefined) {
      have = have === '' ? undefined : BigInt('0x' + have).toString();
      want = canonGolden('uint', f.value, dialect);
    }
    if (have !== undefined && have === want) return { ok: true };
  }
  return {
    ok: false,
    key: got.key,
    expected: want === undefined ? `${show(f.value)} (not readable as ${kind})` : show(f.value),
    got: show(got.value),
    want,
    have,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Records.

function agreeing(rec: SluiceRecord, fields: readonly ExpectedField[], dialect: GoldenDialect): number {
  let n = 0;
  for (const f of fields) {
    if (compareField(rec, f, dialect).ok) n++;
  }
  return n;
}

export function compareExpectation(seq: Sequence, exp: Expectation, run: SluiceRun, dialect: GoldenDialect): Outcome {
  const view = exp.select === 'data' ? run.records.filter((r) => !r.isOptions) : run.records;
  const out: Outcome = {
    seq,
    ref: exp.ref,
    file: exp.file,
    records: { compared: 0, matched: 0 },
    fields: { compared: 0, matched: 0 },
    disagreements: [],
    skipped: exp.skipped,
  };
  const disagree = (record: string, field: string, key: string, expected: string, got: string, want?: string, have?: string) =>
    out.disagreements.push({ seq: seq.id, ref: exp.ref, record, field, key, expected, got, want, have });

  for (const d of exp.goldenDefects ?? []) disagree('(golden)', d.field, '', d.detail, '');

  if (exp.expectedCount !== undefined && exp.expectedCount !== view.length) {
    disagree('(sequence)', '(record count)', '', String(exp.expectedCount), String(view.length));
  }
  const used = new Set<number>();
  exp.records.forEach((er, pos) => {
    out.records.compared++;
    let at: number | undefined;
    if (exp.matching === 'index') {
      at = er.index ?? pos;
      if (at >= view.length) at = undefined;
    } else if (exp.matching === 'wire') {
      const w = er.at;
      const i = w === undefined ? -1 : view.findIndex((r) => r.at.datagram === w.datagram && (w.templateId < 0 || r.at.templateId === w.templateId) && r.at.set === w.set && r.at.record === w.record);
      at = i < 0 ? undefined : i;
    } else {
      let best = -1;
      for (let i = 0; i < view.length; i++) {
        if (used.has(i)) continue;
        const score = agreeing(view[i]!, er.fields, dialect);
        if (at === undefined || score > best) {
          at = i;
          best = score;
        }
      }
    }
    if (at === undefined) {
      out.fields.compared += er.fields.length;
      disagree(er.label, '(record)', '', 'a record', '(no sluice record)');
      return;
    }
    used.add(at);
    const rec = view[at]!;
    let all = true;
    for (const f of er.fields) {
      const r = compareField(rec, f, dialect);
      out.fields.compared++;
      if (r.ok) out.fields.matched++;
      else {
        all = false;
        disagree(er.label, f.name, r.key, r.expected, r.got, r.want, r.have);
      }
    }
    if (all) out.records.matched++;
  });
  return out;
}
