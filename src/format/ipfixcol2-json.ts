import type { BatchRates } from '../model/rates.js';
import { timePlan } from '../model/time.js';
import type { FlowBatch, MessageContext } from '../wire/batch.js';
import { ScaleIe, SLUICE_PEN } from '../wire/ie/sluice-elements.js';
import { REVERSE_PEN, type InfoElement } from '../wire/ie/types.js';
import { VARLEN, type FieldSpec, type Template } from '../wire/template.js';
import { LIST_SEMANTICS, type FieldValue, type ListValue } from '../wire/values.js';
import { IeRegistry, protocolKeyword } from '../wire/ie/registry.js';
import { isIP } from 'node:net';
import { ByteOutput } from './byte-output.js';
import { compileLayout, LayoutBuilder, maxBytes, Op, runLayout, type ByteEnv, type ByteLayout, type CompiledLayout } from './byte-layout.js';
import * as W from './json-bytes.js';
import * as J from './json-values.js';

/** The IPFIXcol2 JSON output plugin's formatting options, with its defaults. */
export interface JsonFormatOptions {
  readonly tcpFlags: 'formatted' | 'raw';
  readonly timestamp: 'formatted' | 'unix';
  readonly protocol: 'formatted' | 'raw';
  readonly ignoreUnknown: boolean;
  readonly ignoreOptions: boolean;
  readonly nonPrintableChar: boolean;
  readonly octetArrayAsUint: boolean;
  readonly numericNames: boolean;
  readonly detailedInfo: boolean;
  readonly templateInfo: boolean;
  /** Biflow records (with reverse elements) become two records, forward and reverse view. */
  readonly splitBiflow: boolean;
  /**
   * sluice's own, not IPFIXcol2's: flow records with octetDeltaCount/packetDeltaCount also carry
   * sluice:scaledOctetDeltaCount/scaledPacketDeltaCount (the count times the sampling rate in
   * force) and sluice:samplingRate, the rate used (1 when unsampled or unknown, as in the store).
   * sFlow records carry scaled counts already and get none added.
   */
  readonly scaledCounters: boolean;
}

export const DEFAULT_JSON_OPTIONS: JsonFormatOptions = {
  tcpFlags: 'formatted',
  timestamp: 'formatted',
  protocol: 'formatted',
  ignoreUnknown: true,
  ignoreOptions: true,
  nonPrintableChar: true,
  octetArrayAsUint: true,
  numericNames: false,
  detailedInfo: false,
  templateInfo: false,
  splitBiflow: false,
  scaledCounters: false,
};

/** Which fields formatFieldsInto() writes; `id` names the selection in the compiled-code cache. */
export interface FieldSelection {
  readonly id: string;
  /** `index`: the field's position in the template. */
  keep(f: FieldSpec, index: number): boolean;
}

/** Protocol number -> JSON token; filled from the IANA protocol registry by the caller. */
export type ProtocolNames = ReadonlyMap<number, string> | ((n: number) => string | undefined);

/**
 * A plain-object copy of the helpers: a module namespace (as transpilers emit it) can turn every
 * `J.fn` in generated code into a getter call, which costs more than the helper itself.
 */
const HELPERS: typeof J = { ...J };

/** Layout cache bounds. */
export interface FormatterLimits {
  /** Layouts kept compiled at once; past it the least recently used one goes back to being interpreted. */
  readonly compiledLayouts: number;
  /** Records a layout formats interpreted before it is compiled. */
  readonly hotRecords: number;
  /** Layouts (interpreted descriptions, a few hundred bytes each) kept by shape; past it the oldest is forgotten. */
  readonly layouts: number;
}

export const DEFAULT_FORMATTER_LIMITS: FormatterLimits = { compiledLayouts: 512, hotRecords: 512, layouts: 16_384 };

/** What the layout cache did: for metrics (a compile or an eviction is a rare event worth counting). */
export interface FormatterCacheStats {
  /** Layouts known, and how many of them are compiled now. */
  readonly layouts: number;
  readonly compiled: number;
  /** Layouts compiled since start (a layout evicted and hot again counts again). */
  readonly compiles: number;
  /** Compiled layouts dropped back to interpretation to stay within compiledLayouts. */
  readonly compiledEvictions: number;
  /** Layouts forgotten to stay within `layouts` (rebuilt if a template of that shape comes back). */
  readonly layoutEvictions: number;
}

/** One layout under one view and field selection, shared by every template of its shape. */
interface LayoutEntry {
  readonly key: string;
  readonly layout: ByteLayout;
  compiled: CompiledLayout | undefined;
  /** Records formatted interpreted since the layout was built or evicted. */
  heat: number;
  /** Clock of the last batch formatted compiled (least recently used goes first). */
  used: number;
}

type RecordFormatter = (buf: Buffer, s: number, e: number, b: FlowBatch, i: number) => string;

/** JSON key for a field: "<scope>:<name>", or "enX:idY" when unknown or numericNames is set. */
export function fieldKey(f: FieldSpec, numeric: boolean): string {
  if (f.ie === undefined || numeric) return `en${f.pen}:id${f.id}`;
  return `${f.ie.scope}:${f.ie.name}`;
}

/**
 * How a record is viewed (libfds fds_drec_iter flags): PLAIN every field as is; FORWARD skips
 * reverse elements (FDS_DREC_REVERSE_SKIP); REVERSE shows the reverse view of a biflow
 * (FDS_DREC_BIFLOW_REV | FDS_DREC_REVERSE_SKIP, template.c template_ies_biflow()).
 */
type View = 0 | 1 | 2;
const PLAIN: View = 0;
const FORWARD: View = 1;
const REVERSE: View = 2;

/** One output member: a key and the template fields (indexes) whose values it holds, as specs. */
interface Column {
  readonly key: string;
  readonly ks: number[];
  readonly specs: FieldSpec[];
}

/** libfds template.c template_ies_biflow_src2dst(): IANA source/destination pairs. */
const SRC_DST_PAIRS: readonly (readonly [number, number])[] = [
  [7, 11], [8, 12], [9, 13], [10, 14], [16, 17], [27, 28], [29, 30], [44, 45], [56, 80], [58, 59], [81, 57],
  [92, 93], [128, 129], [170, 169], [180, 181], [182, 183], [225, 226], [227, 228], [234, 235], [281, 282],
  [368, 369], [414, 415], [484, 485], [487, 488], [490, 491],
];
const SRC_DST = new Map<number, number>();
for (const [a, b] of SRC_DST_PAIRS) {
  SRC_DST.set(a, b);
  SRC_DST.set(b, a);
}

let builtinRegistry: IeRegistry | undefined;
const registry = () => (builtinRegistry ??= IeRegistry.builtin());

/** CERT-style ("split") reverse elements carry this bit in the id. */
const SPLIT_REVERSE_BIT = 0x4000;

/** The forward twin of a reverse element. */
function forwardOf(f: FieldSpec): FieldSpec {
  const ie = f.ie!;
  const pen = f.pen === REVERSE_PEN ? 0 : f.pen;
  const id = f.pen === REVERSE_PEN ? f.id : f.id & ~SPLIT_REVERSE_BIT;
  const strip = (x: string) => (x.endsWith('@reverse') ? x.slice(0, -8) : x);
  const fwd = registry().get(pen, id) ?? { ...ie, pen, id, name: strip(ie.name), scope: strip(ie.scope), reverse: false };
  return { id, pen, length: f.length, ie: fwd };
}

/** True when the template has reverse elements (libfds FDS_TEMPLATE_BIFLOW). */
export function isBiflow(t: Template): boolean {
  return t.fields.some((f) => f.ie?.reverse === true);
}

/**
 * The field as a view shows it, or undefined when the view leaves it out. REVERSE: reverse
 * elements under their forward name; forward elements whose reverse twin is in the template left
 * out; other (key) fields kept, source/destination ones swapped (sourceIPv4Address shows as
 * destinationIPv4Address and back, IANA only, as libfds does).
 */
function viewField(t: Template, f: FieldSpec, view: View): FieldSpec | undefined {
  if (view === PLAIN || f.ie === undefined) return f;
  if (view === FORWARD) return f.ie.reverse === true ? undefined : f;
  if (f.ie.reverse === true) return forwardOf(f);
  const hasTwin = t.fields.some((g) => {
    if (g.ie?.reverse !== true) return false;
    const fw = g.pen === REVERSE_PEN ? [0, g.id] : [g.pen, g.id & ~SPLIT_REVERSE_BIT];
    return fw[0] === f.pen && fw[1] === f.id;
  });
  if (hasTwin) return undefined;
  if (f.pen !== 0) return f;
  let id = SRC_DST.get(f.id);
  let ie: InfoElement | undefined;
  if (id !== undefined) ie = registry().get(0, id);
  else {
    const n = f.ie.name;
    let other: string | undefined;
    if (n.slice(0, 6).toLowerCase() === 'source') other = 'destination' + n.slice(6);
    else if (n.slice(0, 11).toLowerCase() === 'destination') other = 'source' + n.slice(11);
    ie = other === undefined ? undefined : registry().byName(0, other);
    if (ie === undefined) return f;
    id = ie.id;
  }
  return { id, pen: 0, length: f.length, ie };
}

const isStructured = (ie: InfoElement | undefined) =>
  ie !== undefined && (ie.type === 'basicList' || ie.type === 'subTemplateList' || ie.type === 'subTemplateMultiList');

/**
 * What a field's value is written as: the one element-type table. Both back ends (JSON text and
 * UTF-8 bytes) switch on this, never on element types, so a new type or a special element changes
 * this function only.
 */
type ValueKind =
  | { readonly k: 'octets' }
  | { readonly k: 'list' }
  | { readonly k: 'proto' }
  | { readonly k: 'tcpFlags' }
  | { readonly k: 'uint' }
  | { readonly k: 'sint' }
  | { readonly k: 'float' }
  | { readonly k: 'bool' }
  | { readonly k: 'mac' }
  | { readonly k: 'ip' }
  | { readonly k: 'string' }
  | { readonly k: 'dateSec' }
  | { readonly k: 'dateMs' }
  | { readonly k: 'dateNtp'; readonly micro: boolean };

function valueKind(f: FieldSpec, o: JsonFormatOptions): ValueKind {
  const ie = f.ie;
  if (ie === undefined) return { k: 'octets' };
  if (isStructured(ie)) return { k: 'list' };
  const iana = f.pen === 0 || f.pen === REVERSE_PEN;
  switch (ie.type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
      // libfds to_proto()/to_flags(): any other size cannot be converted -> null
      if (iana && f.id === 4 && o.protocol === 'formatted') return { k: 'proto' };
      if (iana && f.id === 6 && o.tcpFlags === 'formatted') return { k: 'tcpFlags' };
      return { k: 'uint' };
    case 'signed8':
    case 'signed16':
    case 'signed32':
    case 'signed64':
      return { k: 'sint' };
    case 'float32':
    case 'float64':
      return { k: 'float' };
    case 'boolean':
      return { k: 'bool' };
    case 'macAddress':
      return { k: 'mac' };
    case 'ipv4Address':
    case 'ipv6Address':
      // libfds fds_ip2str() goes by the size, not the type
      return { k: 'ip' };
    case 'string':
      return { k: 'string' };
    case 'dateTimeSeconds':
      return { k: 'dateSec' };
    case 'dateTimeMilliseconds':
      // libfds fds_get_datetime_*_be(): 4 bytes for seconds, 8 for the others; any other size is null
      return { k: 'dateMs' };
    case 'dateTimeMicroseconds':
    case 'dateTimeNanoseconds':
      return { k: 'dateNtp', micro: ie.type === 'dateTimeMicroseconds' };
    default:
      return { k: 'octets' };
  }
}

/** The byte layout's writer of a value kind. */
function opOf(kind: ValueKind): Op {
  switch (kind.k) {
    case 'octets':
      return Op.Octets;
    case 'list':
      return Op.List;
    case 'proto':
      return Op.Proto;
    case 'tcpFlags':
      return Op.TcpFlags;
    case 'uint':
      return Op.Uint;
    case 'sint':
      return Op.Sint;
    case 'float':
      return Op.Float;
    case 'bool':
      return Op.Bool;
    case 'mac':
      return Op.Mac;
    case 'ip':
      return Op.Ip;
    case 'string':
      return Op.Str;
    case 'dateSec':
      return Op.DateSec;
    case 'dateMs':
      return Op.DateMs;
    case 'dateNtp':
      return kind.micro ? Op.NtpMicro : Op.NtpNano;
  }
}

/**
 * Formats flow batches as IPFIXcol2 JSON lines. Each template layout is compiled once into a
 * function that reads the record bytes and concatenates precomputed keys with value text, so the
 * per-record path builds one string and touches no intermediate objects.
 */
export class Ipfixcol2JsonFormatter {
  readonly options: JsonFormatOptions;
  private readonly compiled = new Map<string, RecordFormatter>();
  private readonly stringsByTemplate = [new WeakMap<Template, RecordFormatter>(), new WeakMap<Template, RecordFormatter>(), new WeakMap<Template, RecordFormatter>()] as const;
  /**
   * Byte layouts by view, field selection and template signature (insertion order: oldest first),
   * and by template identity (building the signature key per batch is measurable at a million
   * records per second). A template's WeakMap entry lives as long as the template does.
   */
  private readonly layouts = new Map<string, LayoutEntry>();
  private readonly layoutsByTemplate = [new WeakMap<Template, LayoutEntry>(), new WeakMap<Template, LayoutEntry>(), new WeakMap<Template, LayoutEntry>()] as const;
  private readonly partsByTemplate = new WeakMap<FieldSelection, WeakMap<Template, LayoutEntry | null>>();
  /** The entries compiled now (at most limits.compiledLayouts). */
  private readonly hot = new Set<LayoutEntry>();
  private clock = 0;
  private readonly stats = { compiles: 0, compiledEvictions: 0, layoutEvictions: 0 };
  private readonly limits: FormatterLimits;
  private readonly env: ByteEnv;
  private readonly protoTokens: string[];

  constructor(options: Partial<JsonFormatOptions> = {}, protocols: ProtocolNames = protocolKeyword, limits: Partial<FormatterLimits> = {}) {
    this.options = { ...DEFAULT_JSON_OPTIONS, ...options };
    this.limits = { ...DEFAULT_FORMATTER_LIMITS, ...limits };
    const name = typeof protocols === 'function' ? protocols : (n: number) => protocols?.get(n);
    this.protoTokens = Array.from({ length: 256 }, (_, n) => {
      const p = name(n);
      // libfds protocols[] (generate_protocols.awk): the name, or the number as a string when unnamed
      return J.quote(p !== undefined && p !== '' ? p : String(n), true);
    });
    const protoBytes = this.protoTokens.map((tok) => Buffer.from(tok, 'utf8'));
    const o = this.options;
    const hk = o.numericNames ? ['en0:id34', 'en0:id35', 'en0:id38', 'en0:id39'] : ['iana:samplingInterval', 'iana:samplingAlgorithm', 'iana:engineType', 'iana:engineId'];
    this.env = {
      unix: o.timestamp === 'unix',
      octetsAsUint: o.octetArrayAsUint,
      nonPrintable: o.nonPrintableChar,
      protoTable: W.tokenTable(protoBytes),
      // W.token stores 12 bytes of short tokens
      protoMax: Math.max(12, ...protoBytes.map((x) => x.length)),
      headerKeys: hk.map((k) => Buffer.from(`,"${k}":`, 'utf8')),
      list: (b, i, k, view) => this.listJson(b.lists?.[i]?.[k], view as View),
      detailed: (ctx, id) => this.detailed(ctx, id),
    };
  }

  /** What the layout cache holds and did (compiles, evictions), for metrics. */
  get cacheStats(): FormatterCacheStats {
    return { layouts: this.layouts.size, compiled: this.hot.size, ...this.stats };
  }

  /**
   * Formats every record of the batch; returns newline-terminated JSON lines ('' if filtered).
   * With scaledCounters and `rates`, through the byte path (the one that writes scaled counts).
   */
  formatBatch(b: FlowBatch, rates?: BatchRates): string {
    if (b.count === 0) return '';
    const t = b.template;
    if (t.isOptions && this.options.ignoreOptions) return '';
    if (this.options.scaledCounters && rates !== undefined) {
      const out = new ByteOutput(4096);
      this.formatBatchInto(b, out, rates);
      return out.buf.toString('utf8', 0, out.len);
    }
    const buf = b.buf;
    const starts = b.starts;
    let out = '';
    if (this.options.splitBiflow && isBiflow(t)) {
      const fwd = this.formatterFor(t, FORWARD);
      const rev = this.formatterFor(t, REVERSE);
      for (let i = 0; i < b.count; i++) {
        out += fwd(buf, starts[i]!, starts[i + 1]!, b, i) + '\n';
        out += rev(buf, starts[i]!, starts[i + 1]!, b, i) + '\n';
      }
      return out;
    }
    const fn = this.formatterFor(t, PLAIN);
    for (let i = 0; i < b.count; i++) out += fn(buf, starts[i]!, starts[i + 1]!, b, i) + '\n';
    return out;
  }

  /**
   * formatBatch() as UTF-8 bytes appended to `out`: the same lines, byte for byte, written without
   * building strings (test/format-bytes.test.ts holds the two paths to that).
   */
  formatBatchInto(b: FlowBatch, out: ByteOutput, rates?: BatchRates): void {
    if (b.count === 0) return;
    const t = b.template;
    if (t.isOptions && this.options.ignoreOptions) return;
    // Rates reach the layout only when it writes scaled counts, and never for records that are not traffic.
    const R = this.options.scaledCounters && rates !== undefined && rates.source !== 'none' ? rates : undefined;
    if (this.options.splitBiflow && isBiflow(t)) {
      const fwd = this.layoutFor(t, FORWARD);
      const rev = this.layoutFor(t, REVERSE);
      this.warm(fwd, b.count);
      this.warm(rev, b.count);
      const buf = b.buf;
      const starts = b.starts;
      for (let i = 0; i < b.count; i++) {
        const s = starts[i]!;
        const e = starts[i + 1]!;
        this.record(fwd, buf, s, e, b, i, out, R);
        this.record(rev, buf, s, e, b, i, out, R);
      }
      return;
    }
    const en = this.layoutFor(t, PLAIN);
    let c = en.compiled;
    if (c === undefined) {
      c = this.warm(en, b.count);
      if (c === undefined) return runLayout(en.layout, this.env, b, 0, b.count, out, R);
    }
    en.used = ++this.clock;
    c.batch(b, out, R);
  }

  /**
   * Record `i` of the batch as one bare JSON object of the fields `part` selects (no "@type", no
   * derived times or header facts, no newline), appended to `out`: the store's column of elements
   * it has no column for. Returns false, writing nothing, when the part selects no field.
   */
  formatFieldsInto(b: FlowBatch, i: number, part: FieldSelection, out: ByteOutput): boolean {
    const t = b.template;
    let byT = this.partsByTemplate.get(part);
    if (byT === undefined) this.partsByTemplate.set(part, (byT = new WeakMap()));
    let en = byT.get(t);
    if (en === undefined) {
      en = this.columns(t, PLAIN, part).length === 0 ? null : this.entry(`${PLAIN}|${part.id}|${t.signature}`, () => this.buildLayout(t, PLAIN, part));
      byT.set(t, en);
    }
    if (en === null) return false;
    this.warm(en, 1);
    this.record(en, b.buf, b.starts[i]!, b.starts[i + 1]!, b, i, out, undefined);
    return true;
  }

  /** One record through the compiled code when there is some, else interpreted. */
  private record(en: LayoutEntry, buf: Buffer, s: number, e: number, b: FlowBatch, i: number, out: ByteOutput, R: BatchRates | undefined): void {
    const c = en.compiled;
    if (c !== undefined) {
      en.used = ++this.clock;
      c.fn(buf, s, e, b, i, out, en.layout.bound + 6 * (e - s), R);
    } else runLayout(en.layout, this.env, b, i, i + 1, out, R);
  }

  /**
   * Counts `records` towards compiling the layout and compiles it once it is hot, evicting the
   * least recently used compiled layout past the bound. Returns the compiled code, if any.
   */
  private warm(en: LayoutEntry, records: number): CompiledLayout | undefined {
    if (en.compiled !== undefined) return en.compiled;
    en.heat += records;
    if (en.heat < this.limits.hotRecords || this.limits.compiledLayouts <= 0) return undefined;
    if (this.hot.size >= this.limits.compiledLayouts) {
      let coldest: LayoutEntry | undefined;
      for (const h of this.hot) if (coldest === undefined || h.used < coldest.used) coldest = h;
      if (coldest !== undefined) {
        this.cool(coldest);
        this.stats.compiledEvictions++;
      }
    }
    en.compiled = compileLayout(en.layout, this.env);
    en.used = ++this.clock;
    this.hot.add(en);
    this.stats.compiles++;
    return en.compiled;
  }

  /** Back to interpretation: the generated code is no longer referenced and is collected. */
  private cool(en: LayoutEntry): void {
    en.compiled = undefined;
    en.heat = 0;
    this.hot.delete(en);
  }

  /** The layout entry of `key`, built on first sight; the oldest is forgotten past the bound. */
  private entry(key: string, build: () => ByteLayout): LayoutEntry {
    let en = this.layouts.get(key);
    if (en !== undefined) return en;
    if (this.layouts.size >= this.limits.layouts) {
      const first = this.layouts.values().next();
      if (!first.done) {
        this.cool(first.value);
        this.layouts.delete(first.value.key);
        this.stats.layoutEvictions++;
      }
    }
    en = { key, layout: build(), compiled: undefined, heat: 0, used: 0 };
    this.layouts.set(key, en);
    return en;
  }

  private layoutFor(t: Template, view: View): LayoutEntry {
    const byT = this.layoutsByTemplate[view];
    let en = byT.get(t);
    if (en === undefined) {
      en = this.entry(`${view}||${t.signature}`, () => this.buildLayout(t, view));
      byT.set(t, en);
    }
    return en;
  }

  /**
   * The byte layout of a template under a view (and field selection): the same decisions as
   * compile() makes for text, as literal bytes and field writers.
   */
  private buildLayout(t: Template, view: View, part?: FieldSelection): ByteLayout {
    const o = this.options;
    const fixed = t.fixedLength >= 0;
    const lens = t.fields.map((f) => (f.length === VARLEN ? -1 : f.length));
    const offs: number[] = [];
    let off = 0;
    for (const f of t.fields) {
      offs.push(fixed ? off : -1);
      off += f.length;
    }
    const lb = new LayoutBuilder(fixed, lens, view);
    const cols = this.columns(t, view, part);
    const type = t.recordType ?? (t.isOptions ? 'ipfix.optionsEntry' : 'ipfix.entry');
    // A part (formatFieldsInto) is a bare object of the selected members, without a newline.
    lb.lit(part === undefined ? '{"@type":"' + type + '"' : '{');
    let comma = part === undefined;
    for (const col of cols) {
      const ks = col.ks;
      lb.lit((comma ? ',' : '') + JSON.stringify(col.key) + ':');
      comma = true;
      if (ks.length > 1) lb.lit('[');
      ks.forEach((k, n) => {
        if (n > 0) lb.lit(',');
        const code = opOf(valueKind(col.specs[n]!, o));
        lb.value(code, k, offs[k]!, lens[k]!, maxBytes(code, lens[k]!, this.env));
      });
      if (ks.length > 1) lb.lit(']');
    }
    if (part === undefined) {
      const plan = timePlan(t);
      if (plan.derived && !plan.hasAbsolute) {
        const occurrences = new Set(cols.map((col) => col.key));
        if (!occurrences.has('iana:flowStartMilliseconds')) lb.time(Op.TimeStart, ',"iana:flowStartMilliseconds":');
        if (!occurrences.has('iana:flowEndMilliseconds')) lb.time(Op.TimeEnd, ',"iana:flowEndMilliseconds":');
      }
      if (t.origin === 'netflow5' || t.origin === 'netflow7') lb.header(this.env.headerKeys.reduce((n, k) => n + k.length, 0));
      if (o.scaledCounters) this.scaledOps(lb, t, view, offs, lens);
      if (o.detailedInfo) lb.detailed();
    }
    return lb.finish(part === undefined ? '}\n' : '}');
  }

  /**
   * scaledCounters: the rate and the scaled counts of a flow record's octetDeltaCount and
   * packetDeltaCount as the view shows them (a reverse view scales the reverse counts). Nothing for
   * options and non-flow records, nor for sFlow's, which carry scaled counts of their own.
   */
  private scaledOps(lb: LayoutBuilder, t: Template, view: View, offs: readonly number[], lens: readonly number[]): void {
    if (t.isOptions || t.recordType !== undefined) return;
    if (t.fields.some((f) => f.pen === SLUICE_PEN && (f.id === ScaleIe.scaledOctetDeltaCount || f.id === ScaleIe.scaledPacketDeltaCount))) return;
    const counters: [number, number][] = [];
    for (const [id, scaled] of [[1, ScaleIe.scaledOctetDeltaCount], [2, ScaleIe.scaledPacketDeltaCount]] as const) {
      const k = t.fields.findIndex((f) => {
        const v = viewField(t, f, view);
        return v !== undefined && v.pen === 0 && v.id === id && f.length >= 1 && f.length <= 8;
      });
      if (k >= 0) counters.push([k, scaled]);
    }
    if (counters.length === 0) return;
    const key = (id: number) => `,${JSON.stringify(fieldKey({ id, pen: SLUICE_PEN, length: 8, ie: registry().get(SLUICE_PEN, id) }, this.options.numericNames))}:`;
    lb.rate(key(ScaleIe.samplingRate));
    for (const [k, id] of counters) lb.scaled(k, offs[k]!, lens[k]!, key(id));
  }

  /**
   * Formats a template record (templateInfo) as IPFIXcol2 does (Storage.cpp convert_tmplt_rec):
   * id, scope count (options templates), detailed info without the template id, then the fields.
   * A withdrawal (no fields) prints with an empty "ipfix:fields" list, as libfds parses it.
   */
  formatTemplate(ctx: MessageContext, t: Template, withdrawn = false): string {
    let s = `{"@type":"${t.isOptions ? 'ipfix.optionsTemplate' : 'ipfix.template'}","ipfix:templateId":${t.id}`;
    if (t.isOptions) s += `,"ipfix:scopeCount":${t.scopeCount}`;
    if (this.options.detailedInfo) s += this.detailedHeader(ctx);
    s += ',"ipfix:fields":[';
    if (!withdrawn) s += t.fields.map((f) => `{"ipfix:elementId":${f.id},"ipfix:enterpriseId":${f.pen},"ipfix:fieldLength":${f.length}}`).join(',');
    return s + ']}\n';
  }

  /**
   * Storage.cpp addDetailedInfo(): export time in seconds as in the message header (the timestamp
   * option does not apply), sequence number, observation domain id, message length when the
   * decoder passed it on, and the exporter's address when the session has one (no port fields).
   */
  private detailedHeader(ctx: MessageContext): string {
    let s = `,"ipfix:exportTime":${Math.floor(ctx.exportTimeMs / 1000)},"ipfix:seqNumber":${ctx.sequence},"ipfix:odid":${ctx.domainId}`;
    if (ctx.messageLength !== undefined) s += `,"ipfix:msgLength":${ctx.messageLength}`;
    if (isIP(ctx.session.address) !== 0) s += `,"ipfix:srcAddr":"${ctx.session.address}"`;
    return s;
  }

  /** Detailed info of a data record: the header fields, then the template id (Storage.cpp convert()). */
  private detailed(ctx: MessageContext, templateId: number): string {
    if (!this.options.detailedInfo) return '';
    return this.detailedHeader(ctx) + `,"ipfix:templateId":${templateId}`;
  }

  /**
   * The members of a record under a view, in libfds' order: template order, and a repeated element
   * as one array at the position of its last occurrence (FDS_TFIELD_LAST_IE). Unknown elements go
   * with ignoreUnknown, paddingOctets always.
   */
  private columns(t: Template, view: View, part?: FieldSelection): Column[] {
    const o = this.options;
    const groups = new Map<string, { ks: number[]; specs: FieldSpec[]; last: number }>();
    t.fields.forEach((f, k) => {
      if (f.pen === 0 && f.id === 210) return;
      if (part !== undefined && !part.keep(f, k)) return;
      const spec = viewField(t, f, view);
      if (spec === undefined || (spec.ie === undefined && o.ignoreUnknown)) return;
      const key = fieldKey(spec, o.numericNames);
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { ks: [k], specs: [spec], last: k });
      else {
        g.ks.push(k);
        g.specs.push(spec);
        g.last = k;
      }
    });
    return [...groups.entries()].sort((x, y) => x[1].last - y[1].last).map(([key, g]) => ({ key, ks: g.ks, specs: g.specs }));
  }

  private formatterFor(t: Template, view: View): RecordFormatter {
    const byId = this.stringsByTemplate[view];
    let fn = byId.get(t);
    if (fn !== undefined) return fn;
    const key = view + t.signature;
    fn = this.compiled.get(key);
    if (fn === undefined) {
      fn = this.compile(t, view);
      if (this.compiled.size > 10_000) this.compiled.clear();
      this.compiled.set(key, fn);
    }
    byId.set(t, fn);
    return fn;
  }

  /** Generates the per-record function for one template layout. */
  private compile(t: Template, view: View): RecordFormatter {
    const o = this.options;
    const fixed = t.fixedLength >= 0;
    const lines: string[] = [];
    const consts: unknown[] = [];
    const c = (v: unknown): string => {
      consts.push(v);
      return `C[${consts.length - 1}]`;
    };
    const ts = o.timestamp === 'unix' ? 'J.unixMs' : 'J.isoMs';
    const cols = this.columns(t, view);
    const occurrences = new Set(cols.map((col) => col.key));

    const type = t.recordType ?? (t.isOptions ? 'ipfix.optionsEntry' : 'ipfix.entry');
    lines.push(`let r = ${JSON.stringify('{"@type":"' + type + '"')};`);
    if (!fixed) lines.push('let p = s, l = 0;');
    let off = 0;
    const at: string[] = [];
    const len: string[] = [];
    t.fields.forEach((f, k) => {
      // Position and length of this field's value.
      if (fixed) {
        at.push(`(s + ${off})`);
        len.push(String(f.length));
        off += f.length;
      } else if (f.length === VARLEN) {
        lines.push(`l = buf[p++]; if (l === 255) { l = buf.readUInt16BE(p); p += 2; } const o${k} = p, l${k} = l; p += l;`);
        at.push(`o${k}`);
        len.push(`l${k}`);
      } else {
        lines.push(`const o${k} = p; p += ${f.length};`);
        at.push(`o${k}`);
        len.push(String(f.length));
      }
    });
    for (const col of cols) {
      const prefix = JSON.stringify(',' + JSON.stringify(col.key) + ':');
      const vals = col.ks.map((k, n) => this.valueExpr(col.specs[n]!, at[k]!, len[k]!, k, c, view));
      if (vals.length === 1) lines.push(`r += ${prefix} + ${vals[0]};`);
      else lines.push(`r += ${prefix} + '[' + ${vals.join(" + ',' + ")} + ']';`);
    }
    // Times derived from relative fields: show them as the absolute elements a reader expects.
    const plan = timePlan(t);
    if (plan.derived && !plan.hasAbsolute) {
      const sk = JSON.stringify(',"iana:flowStartMilliseconds":');
      const ek = JSON.stringify(',"iana:flowEndMilliseconds":');
      if (!occurrences.has('iana:flowStartMilliseconds')) lines.push(`if (b.startMs[i] === b.startMs[i]) r += ${sk} + ${ts}(b.startMs[i]);`);
      if (!occurrences.has('iana:flowEndMilliseconds')) lines.push(`if (b.endMs[i] === b.endMs[i]) r += ${ek} + ${ts}(b.endMs[i]);`);
    }
    if (t.origin === 'netflow5' || t.origin === 'netflow7') {
      const hk = o.numericNames
        ? ['en0:id34', 'en0:id35', 'en0:id38', 'en0:id39']
        : ['iana:samplingInterval', 'iana:samplingAlgorithm', 'iana:engineType', 'iana:engineId'];
      lines.push(
        `{ const h = b.ctx.header; if (h !== undefined) r += ${JSON.stringify(`,"${hk[0]}":`)} + h.samplingInterval + ${JSON.stringify(`,"${hk[1]}":`)} + h.samplingAlgorithm + ${JSON.stringify(`,"${hk[2]}":`)} + h.engineType + ${JSON.stringify(`,"${hk[3]}":`)} + h.engineId; }`,
      );
    }
    if (o.detailedInfo) lines.push("r += F.detailed(b.ctx, b.template.id);");
    lines.push("return r + '}';");
    const body = lines.join('\n');
    const factory = new Function('J', 'C', 'F', `return function fmt(buf, s, e, b, i) {\n${body}\n};`) as (
      j: typeof J,
      c: unknown[],
      f: { detailed: (ctx: MessageContext, id: number) => string },
    ) => RecordFormatter;
    return factory(HELPERS, consts, { detailed: (ctx, id) => this.detailed(ctx, id) });
  }

  /** JavaScript expression producing the JSON token of one field. */
  private valueExpr(f: FieldSpec, at: string, len: string, k: number, c: (v: unknown) => string, view: View): string {
    const o = this.options;
    const L = Number(len); // NaN for variable-length fields
    const known = !Number.isNaN(L);
    const kind = valueKind(f, o);
    const ts = o.timestamp === 'unix' ? 'J.unixMs' : 'J.isoMs';
    switch (kind.k) {
      case 'octets':
        return `J.octets(buf, ${at}, ${len}, ${o.octetArrayAsUint})`;
      case 'list':
        return `F_LIST(b, i, ${k})`.replace('F_LIST', c((b: FlowBatch, i: number, kk: number) => this.listJson(b.lists?.[i]?.[kk], view)));
      case 'proto':
        if (L === 1) return `${c(this.protoTokens)}[buf[${at}]]`;
        return known ? 'null' : `(${len} === 1 ? ${c(this.protoTokens)}[buf[${at}]] : 'null')`;
      case 'tcpFlags':
        if (L === 1 || L === 2) return `J.TCP_FLAGS[buf[${at} + ${L - 1}] & 63]`;
        return known ? 'null' : `(${len} === 1 || ${len} === 2 ? J.TCP_FLAGS[buf[${at} + ${len} - 1] & 63] : 'null')`;
      case 'uint':
        if (L === 1) return `('' + buf[${at}])`;
        if (L === 2) return `('' + buf.readUInt16BE(${at}))`;
        if (L === 4) return `('' + buf.readUInt32BE(${at}))`;
        if (known && (L < 1 || L > 8)) return 'null';
        if (known) return `J.uint(buf, ${at}, ${L})`;
        return `(${len} >= 1 && ${len} <= 8 ? J.uint(buf, ${at}, ${len}) : 'null')`;
      case 'sint':
        if (known && L >= 1 && L <= 8) return `J.sint(buf, ${at}, ${L})`;
        return `(${len} >= 1 && ${len} <= 8 ? J.sint(buf, ${at}, ${len}) : 'null')`;
      case 'float':
        return `(${len} === 8 ? J.float(buf.readDoubleBE(${at}), 15) : ${len} === 4 ? J.float(buf.readFloatBE(${at}), 6) : 'null')`;
      case 'bool':
        return `(${len} !== 1 ? 'null' : buf[${at}] === 1 ? 'true' : buf[${at}] === 2 ? 'false' : 'null')`;
      case 'mac':
        return `(${len} === 6 ? J.mac(buf, ${at}) : 'null')`;
      case 'ip':
        return `(${len} === 4 ? J.ip4(buf, ${at}) : ${len} === 16 ? J.ip6(buf, ${at}) : 'null')`;
      case 'string':
        return `J.str(buf, ${at}, ${len}, ${o.nonPrintableChar})`;
      case 'dateSec':
        return `(${len} === 4 ? ${ts}(buf.readUInt32BE(${at}) * 1000) : 'null')`;
      case 'dateMs':
        return `(${len} === 8 ? ${ts}(J.u64num(buf, ${at})) : 'null')`;
      case 'dateNtp': {
        const ntp = o.timestamp === 'unix' ? 'J.ntpMs' : 'J.ntpMsText';
        return `(${len} === 8 ? ${ts}(${ntp}(buf, ${at}, ${kind.micro})) : 'null')`;
      }
    }
  }

  /**
   * RFC 6313 structured data in IPFIXcol2's shape. Nested records are viewed like the record that
   * holds them (libfds passes the iterator flags down; the direction only applies to a nested
   * template that has reverse elements itself).
   */
  private listJson(v: unknown, view: View = PLAIN): string {
    if (v === undefined || v === null || typeof v !== 'object' || !('kind' in v)) return 'null';
    const lv = v as ListValue;
    // libfds add_sematic(): the five RFC 6313 names, anything else "undefined"
    const sem = `"semantic":"${LIST_SEMANTICS[lv.semantic] ?? 'undefined'}"`;
    if (lv.kind === 'basicList') {
      // libfds to_blist(): data first, then semantic and fieldID
      const fid = JSON.stringify(fieldKey(lv.field, this.options.numericNames));
      return `{"@type":"basicList","data":[${lv.values.map((x) => this.valueJson(x, lv.field, view)).join(',')}],${sem},"fieldID":${fid}}`;
    }
    const recs = (tpl: Template | undefined, records: FieldValue[][]) =>
      records.map((r) => this.objectJson(tpl, r, view)).join(',');
    if (lv.kind === 'subTemplateList') return `{"@type":"subTemplateList",${sem},"data":[${recs(lv.template, lv.records)}]}`;
    return `{"@type":"subTemplateMultiList",${sem},"data":[${lv.blocks.map((bl) => '[' + recs(bl.template, bl.records) + ']').join(',')}]}`;
  }

  private objectJson(t: Template | undefined, rec: FieldValue[], view: View): string {
    if (t === undefined) return '{}';
    const parts: string[] = [];
    for (const col of this.columns(t, isBiflow(t) ? view : PLAIN)) {
      const vals = col.ks.map((k, n) => this.valueJson(rec[k] ?? null, col.specs[n]!, view));
      parts.push(`${JSON.stringify(col.key)}:${vals.length === 1 ? vals[0] : '[' + vals.join(',') + ']'}`);
    }
    return '{' + parts.join(',') + '}';
  }

  /** JSON for an already decoded value (lists and their members; not the hot path). */
  private valueJson(v: FieldValue, f: FieldSpec, view: View): string {
    if (v === null || v === undefined) return 'null';
    const ie = f.ie;
    if (typeof v === 'object' && !Buffer.isBuffer(v)) return this.listJson(v, view);
    if (Buffer.isBuffer(v)) return J.octets(v, 0, v.length, this.options.octetArrayAsUint);
    if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    if (typeof v === 'string') return J.quote(v, this.options.nonPrintableChar);
    if (ie !== undefined && (ie.type === 'float32' || ie.type === 'float64')) return J.float(v, ie.type === 'float32' ? 6 : 15);
    if (ie !== undefined && ie.type.startsWith('dateTime')) return this.options.timestamp === 'unix' ? J.unixMs(v) : J.isoMs(v);
    if (ie !== undefined && (f.pen === 0 || f.pen === REVERSE_PEN)) {
      if (f.id === 4 && this.options.protocol === 'formatted') return this.protoTokens[v & 255] ?? String(v);
      if (f.id === 6 && this.options.tcpFlags === 'formatted') return J.TCP_FLAGS[v & 63]!;
    }
    return J.num(v);
  }
}
