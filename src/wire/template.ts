import type { InfoElement } from './ie/types.js';
import { int32s } from './typed-slab.js';

/** Field length meaning "variable length" in a template (RFC 7011 section 7). */
export const VARLEN = 0xffff;

/** One field specifier of a (options) template, resolved against the IE registry. */
export interface FieldSpec {
  /** Element id without the enterprise bit. */
  readonly id: number;
  /** Enterprise number; 0 for IANA. */
  readonly pen: number;
  /** Length on the wire; VARLEN for variable-length encoding. */
  readonly length: number;
  /** Definition from the registry, undefined when the element is unknown. */
  readonly ie: InfoElement | undefined;
}

export type TemplateOrigin = 'netflow5' | 'netflow7' | 'netflow9' | 'ipfix' | 'sflow5' | 'aws' | 'text';

/** A (options) template. Immutable: a redefinition creates a new Template object. */
export interface Template {
  readonly id: number;
  readonly origin: TemplateOrigin;
  /** Number of leading scope fields; > 0 marks an options template. */
  readonly scopeCount: number;
  readonly isOptions: boolean;
  readonly fields: readonly FieldSpec[];
  /** Record length when every field has a fixed length, else -1. */
  readonly fixedLength: number;
  /** Smallest possible record length (variable fields counted as 1 length byte). */
  readonly minLength: number;
  /** True when a field is a basicList / subTemplateList / subTemplateMultiList. */
  readonly structured: boolean;
  /**
   * A string that identifies the layout (ids, pens, lengths). Templates with the same signature
   * share compiled decoders and formatters, so an exporter that refreshes its templates every
   * minute does not recompile anything.
   */
  readonly signature: string;
  /** Monotonic per-store counter; changes whenever a template id is (re)defined. */
  readonly generation: number;
  /**
   * JSON "@type" for records of synthetic templates that are neither flow nor options records
   * (e.g. "sflow.counters"); undefined means ipfix.entry / ipfix.optionsEntry.
   */
  readonly recordType?: string;
}

let generationCounter = 0;

export function makeTemplate(
  id: number,
  origin: TemplateOrigin,
  fields: FieldSpec[],
  scopeCount: number,
  isOptions = scopeCount > 0,
  recordType?: string,
): Template {
  let fixed = 0;
  let min = 0;
  let variable = false;
  let structured = false;
  // Built as parts and joined: `+=` would leave a tree of a few dozen string pieces per template
  // (about a kilobyte) until something flattens it, and a template that sees no data never does.
  const sig: string[] = [`${origin === 'netflow9' ? 'n' : origin === 'ipfix' ? 'i' : origin}${recordType ?? ''}${scopeCount}:`];
  for (const f of fields) {
    if (f.length === VARLEN) {
      variable = true;
      min += 1;
    } else {
      fixed += f.length;
      min += f.length;
    }
    const t = f.ie?.type;
    if (t === 'basicList' || t === 'subTemplateList' || t === 'subTemplateMultiList') structured = true;
    sig.push(f.pen === 0 ? `${f.id}.${f.length}` : `${f.pen}.${f.id}.${f.length}`);
  }
  return {
    id,
    origin,
    scopeCount,
    isOptions,
    fields,
    fixedLength: variable ? -1 : fixed,
    minLength: min,
    structured,
    signature: sig.join(','),
    generation: ++generationCounter,
    recordType,
  };
}

/**
 * Finds record boundaries in a data set body. Writes start offsets into `starts` (length count+1:
 * starts[count] is the end of the last record) and returns the record count. Stops where the
 * remaining bytes cannot hold another record: RFC 7011 padding, or a truncated tail that the caller
 * reports by comparing starts[count] with `end`.
 */
export function splitRecords(t: Template, buf: Buffer, pos: number, end: number): Int32Array {
  if (t.fixedLength > 0) {
    const len = t.fixedLength;
    const n = Math.floor((end - pos) / len);
    const starts = int32s(n + 1);
    for (let i = 0, at = pos; i <= n; i++, at += len) starts[i] = at;
    return starts;
  }
  if (t.fixedLength === 0) return int32s(1);
  // Variable-length: walk each record once, reading the length prefixes.
  const acc: number[] = [];
  const fields = t.fields;
  outer: while (end - pos >= t.minLength) {
    let p = pos;
    for (let k = 0; k < fields.length; k++) {
      const len = fields[k]!.length;
      if (len !== VARLEN) {
        p += len;
        continue;
      }
      if (p >= end) break outer;
      let l = buf[p]!;
      p += 1;
      if (l === 255) {
        if (p + 2 > end) break outer;
        l = buf.readUInt16BE(p);
        p += 2;
      }
      p += l;
    }
    if (p > end) break;
    acc.push(pos);
    pos = p;
  }
  const starts = int32s(acc.length + 1);
  for (let i = 0; i < acc.length; i++) starts[i] = acc[i]!;
  starts[acc.length] = pos;
  return starts;
}
