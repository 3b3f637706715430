import type { FlowBatch, MessageContext, TemplateEvent, TransportSession } from './batch.js';
import { netflow5Template, netflow7Template, V5_RECORD_LENGTH, V7_RECORD_LENGTH, type IeResolver } from './fixed-formats.js';
import { NETFLOW_EXTRA_PEN, NETFLOW_PEN } from './ie/types.js';
import { absorbOptions } from './options.js';
import type { DropEvent, DropReason, SequenceEvent } from './stats.js';
import { makeTemplate, splitRecords, VARLEN, type FieldSpec, type Template } from './template.js';
import { float64s } from './typed-slab.js';
import { TemplateStore, type DomainState, type SessionState, type TemplateStoreLimits } from './template-store.js';
import { decodeRecord, ListDecodeError, type FieldValue } from './values.js';
import { SflowDecoder } from './sflow/decode.js';

/** Where decoded output goes. Called synchronously from decode(). */
export interface DecodeSink {
  /** Records of one data set (or options set). */
  batch(b: FlowBatch): void;
  /** A template defined, refreshed with a change, or withdrawn. */
  template?(ev: TemplateEvent): void;
  /** Input that did not become records. */
  drop(ev: DropEvent): void;
  /** A message's sequence number and how many units it carried. */
  message?(ev: SequenceEvent): void;
}

/**
 * A decoder for a protocol with its own datagram format (sFlow). It reports through the same
 * sink, so its records flow through the same model and outputs. It must not throw on bad input.
 */
export interface VersionDecoder {
  decode(buf: Buffer, session: TransportSession, nowMs: number, sink: DecodeSink): void;
}

export interface DecoderOptions {
  readonly registry: IeResolver;
  readonly limits?: Partial<TemplateStoreLimits>;
}

/**
 * NetFlow v9 options scope field types (RFC 3954 6.1) live in their own namespace; IPFIXcol2 maps
 * them onto these IANA elements, and so does sluice. Cache (4) has no exact IANA counterpart;
 * meteringProcessId (143) is the nearest meaning.
 */
const V9_SCOPE_MAP: Record<number, number> = { 1: 144, 2: 10, 3: 141, 4: 143, 5: 145 };

/** Distinct field specifiers a decoder shares between templates (a few hundred in practice). */
const MAX_INTERNED_SPECS = 65_536;

/**
 * Decodes NetFlow v5/v7/v9, IPFIX and sFlow v5 datagrams. Pure: no I/O, no timers; time comes in as `nowMs`.
 * decode() never throws on bad input: everything that is not a record is reported to sink.drop.
 */
export class FlowDecoder {
  readonly store: TemplateStore;
  private readonly reg: IeResolver;
  private readonly v5: Template;
  private readonly v7: Template;
  /** The message being walked, and the data records it held (NaN once a set could not be counted). */
  private msg: MessageContext | undefined;
  private msgUnits = 0;
  /** sFlow v5: its datagrams open with the 32-bit version 5, whose upper 16 bits read as NetFlow/IPFIX version 0. */
  private readonly sflow: SflowDecoder;
  /** Interned field specifiers by enterprise number, then id * 65536 + length. */
  private readonly specs = new Map<number, Map<number, FieldSpec>>();
  private specCount = 0;
  /** Templates of the current template set refused by the store's bounds, and where the first was. */
  private refused = 0;
  private refusedAt = 0;

  constructor(
    opts: DecoderOptions,
    private readonly sink: DecodeSink,
  ) {
    this.reg = opts.registry;
    this.store = new TemplateStore(opts.limits);
    this.v5 = netflow5Template(this.reg);
    this.v7 = netflow7Template(this.reg);
    this.sflow = new SflowDecoder(this.reg);
  }

  decode(buf: Buffer, session: TransportSession, nowMs: number): void {
    try {
      this.decodeUnsafe(buf, session, nowMs);
    } catch (err) {
      // A decoder bug must cost one datagram, not the process.
      this.drop('bad-record', session, 1, 'datagram', 0, `internal decoder error: ${(err as Error).message}`);
    }
  }

  private decodeUnsafe(buf: Buffer, session: TransportSession, nowMs: number): void {
    if (buf.length < 4) {
      this.drop('truncated', session, 1, 'datagram', 0, `datagram of ${buf.length} bytes is shorter than any header`);
      return;
    }
    const version = buf.readUInt16BE(0);
    switch (version) {
      case 10:
        return this.ipfix(buf, session, nowMs);
      case 9:
        return this.netflow9(buf, session, nowMs);
      case 5:
        return this.fixed(buf, session, nowMs, 5);
      case 7:
        return this.fixed(buf, session, nowMs, 7);
      case 0:
        if (buf.readUInt32BE(0) === 5) return this.sflow.decode(buf, session, nowMs, this.sink);
        break;
    }
    this.drop('bad-version', session, 1, 'datagram', 0, `unknown version ${version === 0 ? buf.readUInt32BE(0) : version}`);
  }

  /** End of input (offline decode) or shutdown: held sets can no longer be decoded. */
  flush(): void {
    this.reportExpired(this.store.expirePending(0, true));
  }

  /** Periodic housekeeping: expire held sets and UDP templates. */
  tick(nowMs: number): void {
    this.reportExpired(this.store.expirePending(nowMs));
    this.store.expireTemplates(nowMs);
  }

  /** A TCP connection ended: its templates end with it (RFC 7011 8.1). */
  closeSession(session: TransportSession): void {
    this.reportExpired(this.store.closeSession(session.key));
  }

  private reportExpired(sets: { ctx: MessageContext; templateId: number; pos: number; end: number }[]): void {
    for (const p of sets) {
      this.drop('missing-template', p.ctx.session, 1, 'set', p.pos, `data set for template ${p.templateId} (domain ${p.ctx.domainId}, ${p.end - p.pos} bytes) never got its template`);
    }
  }

  private drop(reason: DropReason, session: TransportSession, count: number, unit: DropEvent['unit'], offset: number, detail: string): void {
    this.sink.drop({ reason, session, count, unit, offset, detail });
  }

  // ---- NetFlow v5 / v7 ---------------------------------------------------------------------

  private fixed(buf: Buffer, session: TransportSession, nowMs: number, version: 5 | 7): void {
    const recLen = version === 5 ? V5_RECORD_LENGTH : V7_RECORD_LENGTH;
    if (buf.length < 24) {
      this.drop('truncated', session, 1, 'datagram', 0, `v${version} header needs 24 bytes, datagram has ${buf.length}`);
      return;
    }
    const count = buf.readUInt16BE(2);
    const sysUp = buf.readUInt32BE(4);
    const secs = buf.readUInt32BE(8);
    const nsecs = buf.readUInt32BE(12);
    const seq = buf.readUInt32BE(16);
    let engineType = 0;
    let engineId = 0;
    let sampling = 0;
    if (version === 5) {
      engineType = buf[20]!;
      engineId = buf[21]!;
      sampling = buf.readUInt16BE(22);
    }
    const avail = Math.floor((buf.length - 24) / recLen);
    const n = Math.min(count, avail);
    if (count > avail) {
      this.drop('truncated', session, count - avail, 'record', 24 + avail * recLen, `v${version} header announces ${count} records, datagram holds ${avail}`);
    }
    if (n === 0) return;
    const ctx: MessageContext = {
      protocol: version === 5 ? 'netflow5' : 'netflow7',
      session,
      messageLength: 24 + n * recLen,
      domainId: (engineType << 8) | engineId,
      exportTimeMs: secs * 1000 + Math.floor(nsecs / 1e6),
      sequence: seq,
      sysUpTimeMs: sysUp,
      receivedMs: nowMs,
      header: { engineType, engineId, samplingAlgorithm: sampling >>> 14, samplingInterval: sampling & 0x3fff },
    };
    const template = version === 5 ? this.v5 : this.v7;
    this.sink.batch(makeBatch(ctx, template, buf, splitRecords(template, buf, 24, 24 + n * recLen)));
    // flow_sequence counts flows: the header's count, which the exporter sent whatever arrived.
    this.sink.message?.({ protocol: ctx.protocol as 'netflow5' | 'netflow7', session, domainId: ctx.domainId, sequence: seq, units: count, exportTimeMs: ctx.exportTimeMs, receivedMs: nowMs });
  }

  // ---- NetFlow v9 (RFC 3954) ---------------------------------------------------------------

  private netflow9(buf: Buffer, session: TransportSession, nowMs: number): void {
    if (buf.length < 20) {
      this.drop('truncated', session, 1, 'datagram', 0, `v9 header needs 20 bytes, datagram has ${buf.length}`);
      return;
    }
    const st = this.store.session(session, nowMs);
    const dom = st.domain(buf.readUInt32BE(16));
    const ctx: MessageContext = {
      protocol: 'netflow9',
      session,
      messageLength: buf.length,
      domain: dom,
      domainId: dom.id,
      exportTimeMs: buf.readUInt32BE(8) * 1000,
      sequence: buf.readUInt32BE(12),
      sysUpTimeMs: buf.readUInt32BE(4),
      receivedMs: nowMs,
    };
    this.walkMessage(buf, 20, buf.length, ctx, st, dom, nowMs);
  }

  // ---- IPFIX (RFC 7011) --------------------------------------------------------------------

  private ipfix(buf: Buffer, session: TransportSession, nowMs: number): void {
    if (buf.length < 16) {
      this.drop('truncated', session, 1, 'datagram', 0, `IPFIX header needs 16 bytes, datagram has ${buf.length}`);
      return;
    }
    const length = buf.readUInt16BE(2);
    if (length < 16) {
      this.drop('bad-length', session, 1, 'datagram', 2, `IPFIX message length ${length} is below the header size`);
      return;
    }
    let end = length;
    if (length > buf.length) {
      this.drop('truncated', session, 1, 'datagram', buf.length, `IPFIX message length ${length} exceeds the ${buf.length} bytes received; decoding the complete sets`);
      end = buf.length;
    } else if (length < buf.length) {
      this.drop('bad-length', session, buf.length - length, 'bytes', length, `${buf.length - length} bytes after the IPFIX message end ignored`);
    }
    const st = this.store.session(session, nowMs);
    const dom = st.domain(buf.readUInt32BE(12));
    const ctx: MessageContext = {
      protocol: 'ipfix',
      session,
      messageLength: end,
      domain: dom,
      domainId: dom.id,
      exportTimeMs: buf.readUInt32BE(4) * 1000,
      sequence: buf.readUInt32BE(8),
      sysUpTimeMs: -1,
      receivedMs: nowMs,
    };
    this.walkMessage(buf, 16, end, ctx, st, dom, nowMs);
  }

  /** Walks a v9/IPFIX message's sets, then reports its sequence number and the units it held. */
  private walkMessage(buf: Buffer, pos: number, end: number, ctx: MessageContext, st: SessionState, dom: DomainState, nowMs: number): void {
    this.msg = ctx;
    this.msgUnits = 0;
    try {
      this.walkSets(buf, pos, end, ctx, st, dom, nowMs);
    } finally {
      this.msg = undefined;
    }
    const sink = this.sink;
    if (sink.message === undefined) return;
    // v9 counts export packets; IPFIX counts data records (RFC 7011 3.1), which a held set hides.
    const units = ctx.protocol === 'netflow9' ? 1 : this.msgUnits === this.msgUnits ? this.msgUnits : 'unknown';
    sink.message({ protocol: ctx.protocol as 'ipfix' | 'netflow9', session: ctx.session, domainId: ctx.domainId, sequence: ctx.sequence, units, exportTimeMs: ctx.exportTimeMs, receivedMs: nowMs });
  }

  /** Walks the (flow)sets of a v9 or IPFIX message. */
  private walkSets(buf: Buffer, pos: number, end: number, ctx: MessageContext, st: SessionState, dom: DomainState, nowMs: number): void {
    const v9 = ctx.protocol === 'netflow9';
    while (pos + 4 <= end) {
      const setId = buf.readUInt16BE(pos);
      const setLen = buf.readUInt16BE(pos + 2);
      if (setLen < 4 || pos + setLen > end) {
        // v9 exporters pad the datagram; four zero bytes or fewer at the end are not an error.
        if (setLen === 0 && setId === 0 && isZero(buf, pos, end)) return;
        this.drop('bad-set', ctx.session, 1, 'set', pos, `set ${setId} length ${setLen} invalid (${end - pos} bytes left in the message)`);
        return;
      }
      const body = pos + 4;
      const setEnd = pos + setLen;
      if (v9) {
        if (setId === 0) this.templateSet(buf, body, setEnd, ctx, st, dom, nowMs, 'v9');
        else if (setId === 1) this.templateSet(buf, body, setEnd, ctx, st, dom, nowMs, 'v9opt');
        else if (setId >= 256) this.dataSet(buf, body, setEnd, setId, ctx, st, dom, nowMs);
        else this.drop('bad-set', ctx.session, 1, 'set', pos, `reserved v9 flowset id ${setId}`);
      } else {
        if (setId === 2) this.templateSet(buf, body, setEnd, ctx, st, dom, nowMs, 'ipfix');
        else if (setId === 3) this.templateSet(buf, body, setEnd, ctx, st, dom, nowMs, 'ipfixopt');
        else if (setId >= 256) this.dataSet(buf, body, setEnd, setId, ctx, st, dom, nowMs);
        else this.drop('bad-set', ctx.session, 1, 'set', pos, `reserved IPFIX set id ${setId}`);
      }
      pos = setEnd;
    }
    if (pos < end && !isZero(buf, pos, end)) {
      this.drop('bad-set', ctx.session, end - pos, 'bytes', pos, `${end - pos} stray bytes after the last set`);
    }
  }

  private resolve(pen: number, id: number): FieldSpec['ie'] {
    return this.reg.get(pen, id);
  }

  /**
   * The field specifier (pen, id, length), one object for all templates that use it: a template
   * then costs an array of references, not an object per field. Bounded: past the bound, fresh objects.
   */
  private spec(pen: number, id: number, length: number): FieldSpec {
    let byPen = this.specs.get(pen);
    if (byPen === undefined) {
      if (this.specCount >= MAX_INTERNED_SPECS) return { id, pen, length, ie: this.resolve(pen, id) };
      byPen = new Map();
      this.specs.set(pen, byPen);
    }
    const key = id * 65536 + length;
    let f = byPen.get(key);
    if (f === undefined) {
      f = { id, pen, length, ie: this.resolve(pen, id) };
      if (this.specCount < MAX_INTERNED_SPECS) {
        byPen.set(key, f);
        this.specCount++;
      }
    }
    return f;
  }

  private templateSet(
    buf: Buffer,
    pos: number,
    end: number,
    ctx: MessageContext,
    st: SessionState,
    dom: DomainState,
    nowMs: number,
    kind: 'v9' | 'v9opt' | 'ipfix' | 'ipfixopt',
  ): void {
    this.refused = 0;
    try {
      this.templateRecords(buf, pos, end, ctx, st, dom, nowMs, kind);
    } finally {
      // One drop event for the set's refused templates: a flood costs one event per set, not per template.
      if (this.refused > 0) {
        this.drop('template-limit', ctx.session, this.refused, 'template', this.refusedAt, `${this.refused} template(s) refused, the first at offset ${this.refusedAt}: ${st.templateCount} templates in this session, ${this.store.templateCount} in total`);
      }
    }
  }

  private templateRecords(
    buf: Buffer,
    pos: number,
    end: number,
    ctx: MessageContext,
    st: SessionState,
    dom: DomainState,
    nowMs: number,
    kind: 'v9' | 'v9opt' | 'ipfix' | 'ipfixopt',
  ): void {
    while (end - pos >= 4) {
      const tid = buf.readUInt16BE(pos);
      const start = pos;
      if (tid === 0 && isZero(buf, pos, end)) return; // padding
      let fieldCount: number;
      let scopeCount = 0;
      let fields: FieldSpec[];
      if (kind === 'v9opt') {
        // RFC 3954 6.1: lengths in bytes of the scope and option field lists
        if (end - pos < 6) break;
        const scopeBytes = buf.readUInt16BE(pos + 2);
        const optBytes = buf.readUInt16BE(pos + 4);
        pos += 6;
        if (scopeBytes % 4 !== 0 || optBytes % 4 !== 0 || pos + scopeBytes + optBytes > end) {
          this.drop('bad-template', ctx.session, 1, 'template', start, `v9 options template ${tid}: scope ${scopeBytes} / option ${optBytes} bytes do not fit the flowset`);
          return;
        }
        scopeCount = scopeBytes / 4;
        fieldCount = scopeCount + optBytes / 4;
        fields = [];
        for (let k = 0; k < fieldCount; k++, pos += 4) {
          const type = buf.readUInt16BE(pos);
          const length = buf.readUInt16BE(pos + 2);
          if (k < scopeCount) {
            const id = V9_SCOPE_MAP[type];
            fields.push(id !== undefined ? this.spec(0, id, length) : { id: type, pen: NETFLOW_PEN, length, ie: undefined });
          } else fields.push(this.v9Field(type, length));
        }
      } else {
        fieldCount = buf.readUInt16BE(pos + 2);
        pos += 4;
        if (kind === 'ipfixopt' && fieldCount > 0) {
          if (end - pos < 2) {
            this.drop('bad-template', ctx.session, 1, 'template', start, `options template ${tid} header cut`);
            return;
          }
          scopeCount = buf.readUInt16BE(pos);
          pos += 2;
          if (scopeCount === 0 || scopeCount > fieldCount) {
            this.drop('bad-template', ctx.session, 1, 'template', start, `options template ${tid}: scope field count ${scopeCount} of ${fieldCount}`);
            return;
          }
        }
        if (fieldCount === 0) {
          this.withdraw(ctx, st, dom, tid, kind === 'ipfixopt', start);
          continue;
        }
        fields = [];
        for (let k = 0; k < fieldCount; k++) {
          if (end - pos < 4) {
            this.drop('bad-template', ctx.session, 1, 'template', start, `template ${tid} declares ${fieldCount} fields, set ends after ${k}`);
            return;
          }
          const rawId = buf.readUInt16BE(pos);
          const length = buf.readUInt16BE(pos + 2);
          pos += 4;
          if (kind === 'v9') {
            fields.push(this.v9Field(rawId, length));
            continue;
          }
          let pen = 0;
          if (rawId & 0x8000) {
            if (end - pos < 4) {
              this.drop('bad-template', ctx.session, 1, 'template', start, `template ${tid}: enterprise number cut`);
              return;
            }
            pen = buf.readUInt32BE(pos);
            pos += 4;
          }
          const id = rawId & 0x7fff;
          fields.push(this.spec(pen, id, length));
        }
      }
      if (tid < 256) {
        this.drop('bad-template', ctx.session, 1, 'template', start, `template id ${tid} is below 256`);
        continue;
      }
      if (kind === 'v9' && fields.some((f) => f.length === VARLEN)) {
        // v9 has no variable-length encoding; 65535 would be read as a real length otherwise.
      }
      if (!this.store.canAdd(st, dom, tid)) {
        // Refused before it is built: a flood past the bounds makes no templates to collect.
        if (this.refused++ === 0) this.refusedAt = start;
        continue;
      }
      const isOptions = kind === 'v9opt' || kind === 'ipfixopt';
      const t = makeTemplate(tid, kind === 'v9' || kind === 'v9opt' ? 'netflow9' : 'ipfix', fields, scopeCount, isOptions);
      const r = this.store.add(st, dom, t, nowMs);
      if (r === 'limit') {
        this.drop('template-limit', ctx.session, 1, 'template', start, `template ${tid} refused: ${st.templateCount} templates in this session, ${this.store.templateCount} in total`);
        continue;
      }
      if (r === 'replaced' && ctx.session.transport === 'tcp') {
        this.drop('template-redefined', ctx.session, 1, 'template', start, `template ${tid} redefined without withdrawal on TCP (RFC 7011 8.1); using the new definition`);
      }
      if (r !== 'refreshed') this.sink.template?.({ ctx, template: t, withdrawn: false });
      for (const p of this.store.takePending(st, ctx.domainId, tid)) this.decodeData(p.buf, p.pos, p.end, t, p.ctx, dom);
    }
  }

  /** v9 field types 1-127 are IANA elements; higher ones follow IPFIXcol2's pseudo-enterprise convention. */
  private v9Field(type: number, length: number): FieldSpec {
    if (type < 128) return this.spec(0, type, length);
    if (type < 32768) return this.spec(NETFLOW_PEN, type, length);
    return this.spec(NETFLOW_EXTRA_PEN, type - 32768, length);
  }

  private withdraw(ctx: MessageContext, st: SessionState, dom: DomainState, tid: number, options: boolean, offset: number): void {
    if (ctx.session.transport === 'udp') {
      // RFC 7011 8.4: withdrawals are not used over UDP; templates there simply expire.
      this.drop('withdrawal-ignored', ctx.session, 1, 'template', offset, `template withdrawal for ${tid} over UDP ignored`);
      return;
    }
    const all = tid === 2 ? 'data' : tid === 3 ? 'options' : 'none';
    const old = all === 'none' ? dom.templates.get(tid)?.template : undefined;
    const n = this.store.withdraw(st, dom, tid, all);
    if (n === 0 && all === 'none') {
      this.drop('withdrawal-ignored', ctx.session, 1, 'template', offset, `withdrawal of unknown ${options ? 'options ' : ''}template ${tid}`);
      return;
    }
    if (old !== undefined) this.sink.template?.({ ctx, template: old, withdrawn: true });
  }

  private dataSet(buf: Buffer, pos: number, end: number, tid: number, ctx: MessageContext, st: SessionState, dom: DomainState, nowMs: number): void {
    const t = this.store.lookup(st, dom, tid, nowMs);
    if (t === undefined || t === 'expired') {
      if (t === 'expired') {
        this.drop('template-expired', ctx.session, 0, 'set', pos - 4, `template ${tid} expired (not refreshed within ${this.store.limits.udpTemplateLifetimeMs} ms); holding the set for a refresh`);
      }
      if (ctx === this.msg) this.msgUnits = NaN; // records we cannot count yet: the sequence resynchronises
      if (!this.store.hold(st, { ctx, templateId: tid, buf, pos, end, heldAtMs: nowMs })) {
        this.drop('pending-overflow', ctx.session, 1, 'set', pos - 4, `no template ${tid} (domain ${ctx.domainId}) and the hold queue is full`);
      }
      return;
    }
    this.decodeData(buf, pos, end, t, ctx, dom);
  }

  private decodeData(buf: Buffer, pos: number, end: number, t: Template, ctx: MessageContext, dom: DomainState): void {
    const starts = splitRecords(t, buf, pos, end);
    const count = starts.length - 1;
    // Sets held for their template and decoded later belong to an earlier message, already reported.
    if (ctx === this.msg) this.msgUnits += count;
    const tail = end - starts[count]!;
    if (tail > 0 && (t.fixedLength < 0 ? tail >= t.minLength : tail >= 4 || tail >= t.fixedLength) && !isZero(buf, starts[count]!, end)) {
      this.drop('truncated-record', ctx.session, 1, 'record', starts[count]!, `${tail} bytes at the end of the data set for template ${t.id} are not a whole record`);
    }
    if (count === 0) return;
    let lists: FieldValue[][] | undefined;
    if (t.structured) {
      lists = [];
      const lookup = (id: number) => dom.templates.get(id)?.template;
      const resolve = (pen: number, id: number) => this.resolve(pen, id);
      for (let i = 0; i < count; i++) {
        try {
          lists.push(decodeRecord(t, buf, starts[i]!, starts[i + 1]!, lookup, resolve) ?? []);
        } catch (err) {
          if (!(err instanceof ListDecodeError)) throw err;
          this.drop('bad-list', ctx.session, 1, 'record', err.offset, err.message);
          lists.push([]);
        }
      }
    }
    const b = makeBatch(ctx, t, buf, starts, lists);
    if (t.isOptions) absorbOptions(b, dom);
    this.sink.batch(b);
  }
}

function makeBatch(ctx: MessageContext, template: Template, buf: Buffer, starts: Int32Array, lists?: FieldValue[][]): FlowBatch {
  const count = starts.length - 1;
  return { ctx, template, buf, starts, count, startMs: float64s(count), endMs: float64s(count), lists };
}

function isZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}
