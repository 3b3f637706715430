import { timePlan } from '../model/time.js';
import type { FlowBatch, MessageContext } from '../wire/batch.js';
import { REVERSE_PEN, type InfoElement } from '../wire/ie/types.js';
import { VARLEN, type FieldSpec, type Template } from '../wire/template.js';
import { semanticName, type FieldValue, type ListValue } from '../wire/values.js';
import type { ByteOutput } from './byte-output.js';
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
};

/** Protocol number -> JSON token; filled from the IANA protocol registry by the caller. */
export type ProtocolNames = ReadonlyMap<number, string> | ((n: number) => string | undefined);

/**
 * A plain-object copy of the helpers: a module namespace (as transpilers emit it) can turn every
 * `J.fn` in generated code into a getter call, which costs more than the helper itself.
 */
const HELPERS: typeof J = { ...J };
const BYTE_HELPERS: typeof W = { ...W };

/**
 * Writes one record into out.buf at out.len and advances out.len. `B` is the room the caller made
 * (ensure) for it: the compile-time bound of the layout plus 6 bytes per record byte.
 */
type ByteRecordFormatter = (buf: Buffer, s: number, e: number, b: FlowBatch, i: number, out: ByteOutput, B: number) => void;

interface CompiledBytes {
  readonly fn: ByteRecordFormatter;
  /** Upper bound of the output bytes of a record, apart from 6 bytes per record byte. */
  readonly bound: number;
}

/** Literal byte runs up to this length are written as unrolled stores, longer ones by a copy loop. */
const UNROLL_MAX = 48;

/** Writes a string of unknown size (lists, detailedInfo) at p, growing the buffer as needed. */
function writeStringAt(out: ByteOutput, p: number, text: string, B: number): number {
  out.len = p;
  out.ensure(text.length * 3 + B);
  return p + out.buf.write(text, p, 'utf8');
}

type RecordFormatter = (buf: Buffer, s: number, e: number, b: FlowBatch, i: number) => string;

/** JSON key for a field: "<scope>:<name>", or "enX:idY" when unknown or numericNames is set. */
export function fieldKey(f: FieldSpec, numeric: boolean): string {
  if (f.ie === undefined || numeric) return `en${f.pen}:id${f.id}`;
  return `${f.ie.scope}:${f.ie.name}`;
}

const isStructured = (ie: InfoElement | undefined) =>
  ie !== undefined && (ie.type === 'basicList' || ie.type === 'subTemplateList' || ie.type === 'subTemplateMultiList');

/**
 * Formats flow batches as IPFIXcol2 JSON lines. Each template layout is compiled once into a
 * function that reads the record bytes and concatenates precomputed keys with value text, so the
 * per-record path builds one string and touches no intermediate objects.
 */
export class Ipfixcol2JsonFormatter {
  readonly options: JsonFormatOptions;
  private readonly compiled = new Map<string, RecordFormatter>();
  private readonly compiledBytes = new Map<string, CompiledBytes>();
  private readonly protoTokens: string[];
  private readonly protoBytes: Uint8Array[];

  constructor(options: Partial<JsonFormatOptions> = {}, protocols?: ProtocolNames) {
    this.options = { ...DEFAULT_JSON_OPTIONS, ...options };
    const name = typeof protocols === 'function' ? protocols : (n: number) => protocols?.get(n);
    this.protoTokens = Array.from({ length: 256 }, (_, n) => {
      const p = name(n);
      return p !== undefined && p !== '' ? J.quote(p, true) : String(n);
    });
    this.protoBytes = this.protoTokens.map((tok) => Buffer.from(tok, 'utf8'));
  }

  /** Formats every record of the batch; returns newline-terminated JSON lines ('' if filtered). */
  formatBatch(b: FlowBatch): string {
    if (b.count === 0) return '';
    const t = b.template;
    if (t.isOptions && this.options.ignoreOptions) return '';
    const fn = this.formatterFor(t);
    const buf = b.buf;
    const starts = b.starts;
    let out = '';
    for (let i = 0; i < b.count; i++) out += fn(buf, starts[i]!, starts[i + 1]!, b, i) + '\n';
    return out;
  }

  /**
   * formatBatch() as UTF-8 bytes appended to `out`: the same lines, byte for byte, written without
   * building strings (test/format-bytes.test.ts holds the two paths to that).
   */
  formatBatchInto(b: FlowBatch, out: ByteOutput): void {
    if (b.count === 0) return;
    const t = b.template;
    if (t.isOptions && this.options.ignoreOptions) return;
    const c = this.byteFormatterFor(t);
    const fn = c.fn;
    const bound = c.bound;
    const buf = b.buf;
    const starts = b.starts;
    for (let i = 0; i < b.count; i++) {
      const s = starts[i]!;
      const e = starts[i + 1]!;
      fn(buf, s, e, b, i, out, bound + 6 * (e - s));
    }
  }

  /** Formats a template record (templateInfo) as IPFIXcol2 does. */
  formatTemplate(ctx: MessageContext, t: Template): string {
    let s = `{"@type":"${t.isOptions ? 'ipfix.optionsTemplate' : 'ipfix.template'}","ipfix:templateId":${t.id}`;
    if (t.isOptions) s += `,"ipfix:scopeCount":${t.scopeCount}`;
    s += ',"ipfix:fields":[';
    s += t.fields.map((f) => `{"ipfix:elementId":${f.id},"ipfix:enterpriseId":${f.pen},"ipfix:fieldLength":${f.length}}`).join(',');
    return s + ']' + this.detailed(ctx, t.id) + '}\n';
  }

  private detailed(ctx: MessageContext, templateId: number): string {
    if (!this.options.detailedInfo) return '';
    const exp = this.options.timestamp === 'unix' ? J.unixMs(ctx.exportTimeMs) : J.isoMs(ctx.exportTimeMs);
    return (
      `,"ipfix:exportTime":${exp},"ipfix:seqNumber":${ctx.sequence},"ipfix:odid":${ctx.domainId}` +
      `,"ipfix:templateId":${templateId},"ipfix:srcAddr":${J.quote(ctx.session.address, true)}` +
      `,"ipfix:srcPort":${ctx.session.port},"ipfix:dstPort":${ctx.session.localPort}`
    );
  }

  private formatterFor(t: Template): RecordFormatter {
    let fn = this.compiled.get(t.signature);
    if (fn === undefined) {
      fn = this.compile(t);
      if (this.compiled.size > 10_000) this.compiled.clear();
      this.compiled.set(t.signature, fn);
    }
    return fn;
  }

  private byteFormatterFor(t: Template): CompiledBytes {
    let c = this.compiledBytes.get(t.signature);
    if (c === undefined) {
      c = this.compileBytes(t);
      if (this.compiledBytes.size > 10_000) this.compiledBytes.clear();
      this.compiledBytes.set(t.signature, c);
    }
    return c;
  }

  /** Generates the per-record function for one template layout. */
  private compile(t: Template): RecordFormatter {
    const o = this.options;
    const fixed = t.fixedLength >= 0;
    const lines: string[] = [];
    const consts: unknown[] = [];
    const c = (v: unknown): string => {
      consts.push(v);
      return `C[${consts.length - 1}]`;
    };
    const ts = o.timestamp === 'unix' ? 'J.unixMs' : 'J.isoMs';

    // Group repeated elements under one key (IPFIXcol2 emits a JSON array for them).
    const keys = t.fields.map((f) => fieldKey(f, o.numericNames));
    // paddingOctets (210) carries no information; IPFIX readers do not expect it in records.
    const skip = t.fields.map((f) => (f.ie === undefined && o.ignoreUnknown) || (f.pen === 0 && f.id === 210));
    const occurrences = new Map<string, number[]>();
    t.fields.forEach((_, k) => {
      if (skip[k]) return;
      const list = occurrences.get(keys[k]!) ?? [];
      list.push(k);
      occurrences.set(keys[k]!, list);
    });

    const type = t.recordType ?? (t.isOptions ? 'ipfix.optionsEntry' : 'ipfix.entry');
    lines.push(`let r = ${JSON.stringify('{"@type":"' + type + '"')};`);
    if (!fixed) lines.push('let p = s, l = 0;');
    let off = 0;
    const valueVar: string[] = [];
    t.fields.forEach((f, k) => {
      // Position and length of this field's value.
      let at: string;
      let len: string;
      if (fixed) {
        at = `(s + ${off})`;
        len = String(f.length);
        off += f.length;
      } else if (f.length === VARLEN) {
        lines.push(`l = buf[p++]; if (l === 255) { l = buf.readUInt16BE(p); p += 2; } const o${k} = p, l${k} = l; p += l;`);
        at = `o${k}`;
        len = `l${k}`;
      } else {
        lines.push(`const o${k} = p; p += ${f.length};`);
        at = `o${k}`;
        len = String(f.length);
      }
      valueVar.push(skip[k] ? '' : this.valueExpr(f, at, len, k, c));
    });
    for (const [key, ks] of occurrences) {
      const k0 = ks[0]!;
      const prefix = JSON.stringify(',' + JSON.stringify(key) + ':');
      if (ks.length === 1) lines.push(`r += ${prefix} + ${valueVar[k0]};`);
      else lines.push(`r += ${prefix} + '[' + ${ks.map((k) => valueVar[k]).join(" + ',' + ")} + ']';`);
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
  private valueExpr(f: FieldSpec, at: string, len: string, k: number, c: (v: unknown) => string): string {
    const o = this.options;
    const ie = f.ie;
    const L = Number(len); // NaN for variable-length fields
    const known = !Number.isNaN(L);
    if (ie === undefined) return `J.octets(buf, ${at}, ${len}, ${o.octetArrayAsUint})`;
    if (isStructured(ie)) return `F_LIST(b, i, ${k})`.replace('F_LIST', c((b: FlowBatch, i: number, kk: number) => this.listJson(b.lists?.[i]?.[kk])));
    const iana = f.pen === 0 || f.pen === REVERSE_PEN;
    switch (ie.type) {
      case 'unsigned8':
      case 'unsigned16':
      case 'unsigned32':
      case 'unsigned64': {
        if (iana && f.id === 4 && o.protocol === 'formatted' && L === 1) return `${c(this.protoTokens)}[buf[${at}]]`;
        if (iana && f.id === 6 && o.tcpFlags === 'formatted' && (L === 1 || L === 2)) {
          return `J.TCP_FLAGS[buf[${at} + ${L - 1}] & 63]`;
        }
        if (L === 1) return `('' + buf[${at}])`;
        if (L === 2) return `('' + buf.readUInt16BE(${at}))`;
        if (L === 4) return `('' + buf.readUInt32BE(${at}))`;
        if (known && (L < 1 || L > 8)) return 'null';
        if (known) return `J.uint(buf, ${at}, ${L})`;
        return `(${len} >= 1 && ${len} <= 8 ? J.uint(buf, ${at}, ${len}) : 'null')`;
      }
      case 'signed8':
      case 'signed16':
      case 'signed32':
      case 'signed64':
        if (known && L >= 1 && L <= 8) return `J.sint(buf, ${at}, ${L})`;
        return `(${len} >= 1 && ${len} <= 8 ? J.sint(buf, ${at}, ${len}) : 'null')`;
      case 'float32':
      case 'float64':
        return `(${len} === 8 ? J.num(buf.readDoubleBE(${at})) : ${len} === 4 ? J.num(buf.readFloatBE(${at})) : 'null')`;
      case 'boolean':
        return `(${len} !== 1 ? 'null' : buf[${at}] === 1 ? 'true' : buf[${at}] === 2 ? 'false' : 'null')`;
      case 'macAddress':
        return `(${len} === 6 ? J.mac(buf, ${at}) : 'null')`;
      case 'ipv4Address':
        return `(${len} === 4 ? J.ip4(buf, ${at}) : 'null')`;
      case 'ipv6Address':
        return `(${len} === 16 ? J.ip6(buf, ${at}) : 'null')`;
      case 'string':
        return `J.str(buf, ${at}, ${len}, ${o.nonPrintableChar})`;
      case 'dateTimeSeconds': {
        const fn = o.timestamp === 'unix' ? 'J.unixMs' : 'J.isoMs';
        return `(${len} === 4 ? ${fn}(buf.readUInt32BE(${at}) * 1000) : 'null')`;
      }
      case 'dateTimeMilliseconds': {
        const fn = o.timestamp === 'unix' ? 'J.unixMs' : 'J.isoMs';
        return `(${len} === 8 ? ${fn}(J.u64num(buf, ${at})) : ${len} >= 1 && ${len} <= 6 ? ${fn}(buf.readUIntBE(${at}, ${len})) : 'null')`;
      }
      case 'dateTimeMicroseconds':
      case 'dateTimeNanoseconds': {
        const fn = o.timestamp === 'unix' ? 'J.unixMs' : 'J.isoMs';
        return `(${len} === 8 ? ${fn}(J.ntpMs(buf, ${at}, ${ie.type === 'dateTimeMicroseconds'})) : 'null')`;
      }
      default:
        return `J.octets(buf, ${at}, ${len}, ${o.octetArrayAsUint})`;
    }
  }

  /**
   * Generates the per-record byte writer for one template layout: the same decisions as compile(),
   * with literal bytes stored directly and values written by the json-bytes.ts writers.
   */
  private compileBytes(t: Template): CompiledBytes {
    const o = this.options;
    const fixed = t.fixedLength >= 0;
    const code: string[] = [];
    const consts: unknown[] = [];
    const c = (v: unknown): string => {
      consts.push(v);
      return `C[${consts.length - 1}]`;
    };
    let bound = 16;
    let pending: number[] = [];
    const flushLit = () => {
      const n = pending.length;
      if (n === 0) return;
      if (n <= UNROLL_MAX) {
        code.push(pending.map((v, k) => `d[p${k ? ' + ' + k : ''}] = ${v};`).join(' ') + ` p += ${n};`);
      } else code.push(`p = W.bytes(d, p, ${c(Uint8Array.from(pending))});`);
      pending = [];
    };
    const lit = (text: string) => {
      const bytes = Buffer.from(text, 'utf8');
      bound += bytes.length;
      for (const v of bytes) pending.push(v);
    };
    const stmt = (s: string, maxBytes: number) => {
      flushLit();
      bound += maxBytes;
      code.push(s);
    };
    const ts = o.timestamp === 'unix' ? 'W.unix' : 'W.iso';

    const keys = t.fields.map((f) => fieldKey(f, o.numericNames));
    const skip = t.fields.map((f) => (f.ie === undefined && o.ignoreUnknown) || (f.pen === 0 && f.id === 210));
    const occurrences = new Map<string, number[]>();
    t.fields.forEach((_, k) => {
      if (skip[k]) return;
      const list = occurrences.get(keys[k]!) ?? [];
      list.push(k);
      occurrences.set(keys[k]!, list);
    });

    const type = t.recordType ?? (t.isOptions ? 'ipfix.optionsEntry' : 'ipfix.entry');
    if (!fixed) code.push('let q = s, l = 0;');
    let off = 0;
    const at: string[] = [];
    const len: string[] = [];
    t.fields.forEach((f, k) => {
      if (fixed) {
        at.push(`(s + ${off})`);
        len.push(String(f.length));
        off += f.length;
      } else if (f.length === VARLEN) {
        code.push(`l = buf[q++]; if (l === 255) { l = buf.readUInt16BE(q); q += 2; } const o${k} = q, l${k} = l; q += l;`);
        at.push(`o${k}`);
        len.push(`l${k}`);
      } else {
        code.push(`const o${k} = q; q += ${f.length};`);
        at.push(`o${k}`);
        len.push(String(f.length));
      }
    });
    code.push('out.ensure(B); let d = out.buf, p = out.len;');
    lit('{"@type":"' + type + '"');
    for (const [key, ks] of occurrences) {
      lit(',' + JSON.stringify(key) + ':');
      if (ks.length > 1) lit('[');
      ks.forEach((k, n) => {
        if (n > 0) lit(',');
        const [s, max] = this.valueStmt(t.fields[k]!, at[k]!, len[k]!, k, c);
        stmt(s, max);
      });
      if (ks.length > 1) lit(']');
    }
    const plan = timePlan(t);
    if (plan.derived && !plan.hasAbsolute) {
      for (const [key, arr] of [['iana:flowStartMilliseconds', 'startMs'], ['iana:flowEndMilliseconds', 'endMs']] as const) {
        if (occurrences.has(key)) continue;
        flushLit();
        code.push(`if (b.${arr}[i] === b.${arr}[i]) {`);
        lit(`,"${key}":`);
        stmt(`p = ${ts}(d, p, b.${arr}[i]); }`, 32);
      }
    }
    if (t.origin === 'netflow5' || t.origin === 'netflow7') {
      const hk = o.numericNames
        ? ['en0:id34', 'en0:id35', 'en0:id38', 'en0:id39']
        : ['iana:samplingInterval', 'iana:samplingAlgorithm', 'iana:engineType', 'iana:engineId'];
      const hv = ['samplingInterval', 'samplingAlgorithm', 'engineType', 'engineId'];
      flushLit();
      code.push('{ const h = b.ctx.header; if (h !== undefined) {');
      hk.forEach((key, n) => {
        lit(`,"${key}":`);
        stmt(`p = W.num(d, p, h.${hv[n]});`, 32);
      });
      flushLit();
      code.push('} }');
    }
    if (o.detailedInfo) stmt('p = F.ws(out, p, F.detailed(b.ctx, b.template.id), B); d = out.buf;', 0);
    lit('}\n');
    flushLit();
    code.push('out.len = p;');
    const body = code.join('\n');
    const factory = new Function('W', 'J', 'C', 'F', `return function fmtBytes(buf, s, e, b, i, out, B) {\n${body}\n};`) as (
      w: typeof W,
      j: typeof J,
      c: unknown[],
      f: { detailed: (ctx: MessageContext, id: number) => string; ws: typeof writeStringAt },
    ) => ByteRecordFormatter;
    const fn = factory(BYTE_HELPERS, HELPERS, consts, { detailed: (ctx, id) => this.detailed(ctx, id), ws: writeStringAt });
    return { fn, bound };
  }

  /**
   * Statement writing the JSON token of one field at p, and the most bytes it writes beyond 6 per
   * byte of the field's value.
   */
  private valueStmt(f: FieldSpec, at: string, len: string, k: number, c: (v: unknown) => string): [string, number] {
    const o = this.options;
    const ie = f.ie;
    const L = Number(len); // NaN for variable-length fields
    const known = !Number.isNaN(L);
    const octets: [string, number] = [`p = W.octets(d, p, buf, ${at}, ${len}, ${o.octetArrayAsUint});`, 24];
    if (ie === undefined) return octets;
    if (isStructured(ie)) {
      const list = c((b: FlowBatch, i: number, kk: number) => this.listJson(b.lists?.[i]?.[kk]));
      return [`p = F.ws(out, p, ${list}(b, i, ${k}), B); d = out.buf;`, 0];
    }
    const iana = f.pen === 0 || f.pen === REVERSE_PEN;
    const nul = 'W.nul(d, p)';
    const ts = o.timestamp === 'unix' ? 'W.unix' : 'W.iso';
    switch (ie.type) {
      case 'unsigned8':
      case 'unsigned16':
      case 'unsigned32':
      case 'unsigned64': {
        if (iana && f.id === 4 && o.protocol === 'formatted' && L === 1) {
          const max = Math.max(...this.protoBytes.map((x) => x.length));
          return [`p = W.bytes(d, p, ${c(this.protoBytes)}[buf[${at}]]);`, max];
        }
        if (iana && f.id === 6 && o.tcpFlags === 'formatted' && (L === 1 || L === 2)) {
          return [`p = W.tcpFlags(d, p, buf[${at} + ${L - 1}] & 63);`, 8];
        }
        if (L === 1) return [`p = W.u(d, p, buf[${at}]);`, 3];
        if (L === 2) return [`p = W.u(d, p, buf.readUInt16BE(${at}));`, 5];
        if (L === 4) return [`p = W.u(d, p, buf.readUInt32BE(${at}));`, 10];
        if (known && (L < 1 || L > 8)) return [`p = ${nul};`, 4];
        if (known) return [`p = W.uint(d, p, buf, ${at}, ${L});`, 20];
        return [`p = ${len} >= 1 && ${len} <= 8 ? W.uint(d, p, buf, ${at}, ${len}) : ${nul};`, 20];
      }
      case 'signed8':
      case 'signed16':
      case 'signed32':
      case 'signed64':
        if (known && L >= 1 && L <= 8) return [`p = W.sint(d, p, buf, ${at}, ${L});`, 21];
        return [`p = ${len} >= 1 && ${len} <= 8 ? W.sint(d, p, buf, ${at}, ${len}) : ${nul};`, 21];
      case 'float32':
      case 'float64':
        return [`p = ${len} === 8 ? W.float(d, p, buf.readDoubleBE(${at})) : ${len} === 4 ? W.float(d, p, buf.readFloatBE(${at})) : ${nul};`, 26];
      case 'boolean': {
        const T = c(Buffer.from('true'));
        const F = c(Buffer.from('false'));
        return [`p = ${len} !== 1 ? ${nul} : buf[${at}] === 1 ? W.bytes(d, p, ${T}) : buf[${at}] === 2 ? W.bytes(d, p, ${F}) : ${nul};`, 5];
      }
      case 'macAddress':
        return [`p = ${len} === 6 ? W.mac(d, p, buf, ${at}) : ${nul};`, 19];
      case 'ipv4Address':
        return [`p = ${len} === 4 ? W.ip4(d, p, buf, ${at}) : ${nul};`, 17];
      case 'ipv6Address':
        return [`p = ${len} === 16 ? W.ip6(d, p, buf, ${at}) : ${nul};`, 41];
      case 'string':
        return [`p = W.str(d, p, buf, ${at}, ${len}, ${o.nonPrintableChar});`, 2];
      case 'dateTimeSeconds':
        return [`p = ${len} === 4 ? ${ts}(d, p, buf.readUInt32BE(${at}) * 1000) : ${nul};`, 32];
      case 'dateTimeMilliseconds':
        return [
          `p = ${len} === 8 ? ${ts}(d, p, J.u64num(buf, ${at})) : ${len} >= 1 && ${len} <= 6 ? ${ts}(d, p, buf.readUIntBE(${at}, ${len})) : ${nul};`,
          32,
        ];
      case 'dateTimeMicroseconds':
      case 'dateTimeNanoseconds':
        return [`p = ${len} === 8 ? ${ts}(d, p, J.ntpMs(buf, ${at}, ${ie.type === 'dateTimeMicroseconds'})) : ${nul};`, 32];
      default:
        return octets;
    }
  }

  /** RFC 6313 structured data in IPFIXcol2's shape. */
  private listJson(v: unknown): string {
    if (v === undefined || v === null || typeof v !== 'object' || !('kind' in v)) return 'null';
    const lv = v as ListValue;
    const sem = `"semantic":"${semanticName(lv.semantic)}"`;
    if (lv.kind === 'basicList') {
      const fid = JSON.stringify(fieldKey(lv.field, this.options.numericNames));
      return `{"@type":"basicList",${sem},"fieldID":${fid},"data":[${lv.values.map((x) => this.valueJson(x, lv.field)).join(',')}]}`;
    }
    const recs = (tpl: Template | undefined, records: FieldValue[][]) =>
      records.map((r) => this.objectJson(tpl, r)).join(',');
    if (lv.kind === 'subTemplateList') return `{"@type":"subTemplateList",${sem},"data":[${recs(lv.template, lv.records)}]}`;
    return `{"@type":"subTemplateMultiList",${sem},"data":[${lv.blocks.map((bl) => '[' + recs(bl.template, bl.records) + ']').join(',')}]}`;
  }

  private objectJson(t: Template | undefined, rec: FieldValue[]): string {
    if (t === undefined) return '{}';
    const parts: string[] = [];
    const seen = new Map<string, string[]>();
    t.fields.forEach((f, k) => {
      if (f.ie === undefined && this.options.ignoreUnknown) return;
      const key = fieldKey(f, this.options.numericNames);
      const val = this.valueJson(rec[k] ?? null, f);
      const arr = seen.get(key);
      if (arr) arr.push(val);
      else seen.set(key, [val]);
    });
    for (const [key, vals] of seen) parts.push(`${JSON.stringify(key)}:${vals.length === 1 ? vals[0] : '[' + vals.join(',') + ']'}`);
    return '{' + parts.join(',') + '}';
  }

  /** JSON for an already decoded value (lists and their members; not the hot path). */
  private valueJson(v: FieldValue, f: FieldSpec): string {
    if (v === null || v === undefined) return 'null';
    const ie = f.ie;
    if (typeof v === 'object' && !Buffer.isBuffer(v)) return this.listJson(v);
    if (Buffer.isBuffer(v)) return J.octets(v, 0, v.length, this.options.octetArrayAsUint);
    if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    if (typeof v === 'string') return J.quote(v, this.options.nonPrintableChar);
    if (ie !== undefined && ie.type.startsWith('dateTime')) return this.options.timestamp === 'unix' ? J.unixMs(v) : J.isoMs(v);
    if (ie !== undefined && (f.pen === 0 || f.pen === REVERSE_PEN)) {
      if (f.id === 4 && this.options.protocol === 'formatted') return this.protoTokens[v & 255] ?? String(v);
      if (f.id === 6 && this.options.tcpFlags === 'formatted') return J.TCP_FLAGS[v & 63]!;
    }
    return J.num(v);
  }
}
