/**
 * Mutation fuzzing of the decoding path: DecodeStage (v5/v7/v9/IPFIX decoder, template store,
 * time derivation, options absorption) and the IPFIXcol2 JSON formatter, fed with captured export
 * packets and encoder-generated messages that are bit-flipped, overwritten, cut, extended, given
 * lying lengths, reordered and spliced.
 *
 * It asserts that nothing throws out of decode() or formatBatch(), that the decoder never had to
 * swallow an exception of its own (an "internal decoder error" drop is a caught bug), that every
 * JSON line parses, and that memory and template-store state stay within their bounds.
 *
 * Reproduce a failure with the printed seed: SLUICE_FUZZ_SEED=<seed> SLUICE_FUZZ_N=<n> npm test -- test/fuzz.test.ts
 * (SLUICE_FUZZ_SEED=random draws a new seed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Ipfixcol2JsonFormatter, type JsonFormatOptions } from '../src/format/ipfixcol2-json.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession, type FlowBatch, type TransportSession } from '../src/wire/batch.js';
import { splitDatagrams } from '../src/wire/framing.js';
import { IeRegistry, protocolKeyword } from '../src/wire/ie/registry.js';
import { udpFromFrame } from '../src/wire/packet/parse.js';
import { IpReassembler } from '../src/wire/packet/reassemble.js';
import { readCapture } from '../src/wire/pcap/read.js';
import type { SessionState, TemplateStoreLimits } from '../src/wire/template-store.js';
import { IpfixMessageBuilder, type EncTemplate } from '../src/wire/encode/ipfix.js';
import { VARLEN } from '../src/wire/template.js';
import { generateMessages } from './helpers/messages.js';
import { Prng } from './helpers/prng.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const DEFAULT_SEED = 0x5eed_f00d;
const DEFAULT_N = 100_000;
const HEAP_LIMIT_BYTES = 300 * 1024 * 1024;
/** Examples kept per distinct failure; the rest are only counted. */
const EXAMPLES_PER_FAILURE = 2;

function fuzzSeed(): number {
  const env = process.env.SLUICE_FUZZ_SEED;
  if (env === undefined || env === '') return DEFAULT_SEED;
  if (env === 'random') return (Date.now() ^ (process.pid << 16)) >>> 0;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`SLUICE_FUZZ_SEED must be a 32-bit unsigned integer or "random", not ${env}`);
  return n;
}

function fuzzCount(): number {
  const env = process.env.SLUICE_FUZZ_N;
  if (env === undefined || env === '') return DEFAULT_N;
  const n = Number(env);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`SLUICE_FUZZ_N must be a positive integer, not ${env}`);
  return n;
}

// ---- seed corpus ------------------------------------------------------------------------------

/** Datagrams in file order: templates come before the data that needs them. */
interface SeedStream {
  readonly name: string;
  readonly datagrams: readonly Buffer[];
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** The export datagrams in a raw payload file or a capture (UDP payloads; fragments reassembled). */
function datagramsOf(path: string): Buffer[] {
  const buf = readFileSync(path);
  if (/\.(dat|bin)$/.test(path)) return splitDatagrams(buf).filter((d) => d.length > 0);
  const out: Buffer[] = [];
  const reasm = new IpReassembler();
  try {
    for (const fr of readCapture(buf)) {
      const u = udpFromFrame(fr.linkType, fr.data, reasm, fr.tsMs);
      if (u !== undefined && u.payload.length > 0) out.push(Buffer.from(u.payload));
    }
  } catch {
    // A corrupt capture still gave its good frames; that is all a seed needs.
  }
  return out;
}

/**
 * Captured corpora shipped in the repository (test/fixtures/corpora, test/fixtures/pcap) when
 * present. The encoder-generated messages are always added, so the fuzzer has seeds even in a
 * checkout without fixtures and never reads outside the repository.
 */
function loadSeeds(reg: IeRegistry, seed: number): { streams: SeedStream[]; fromFiles: number } {
  const streams: SeedStream[] = [];
  for (const sub of ['corpora', 'pcap']) {
    const dir = join(FIXTURES, sub);
    if (!existsSync(dir)) continue;
    for (const p of walk(dir, [])) {
      if (!/\.(dat|bin|pcap|pcapng|cap)$/.test(p)) continue;
      const datagrams = datagramsOf(p);
      if (datagrams.length > 0) streams.push({ name: p.slice(FIXTURES.length), datagrams });
    }
  }
  const fromFiles = streams.length;
  const g = generateMessages(reg, seed);
  streams.push({ name: 'generated/ipfix', datagrams: g.ipfix }, { name: 'generated/netflow9', datagrams: g.netflow9 }, { name: 'generated/netflow5', datagrams: g.netflow5 });
  return { streams, fromFiles };
}

// ---- mutations ------------------------------------------------------------------------------

const INTERESTING16 = [0, 1, 2, 3, 4, 5, 15, 16, 255, 256, 257, 0x7fff, 0x8000, 0xfffe, 0xffff];

interface Span {
  readonly start: number;
  readonly end: number;
}

function headerLength(buf: Buffer): number {
  if (buf.length < 4) return -1;
  const v = buf.readUInt16BE(0);
  return v === 10 ? 16 : v === 9 ? 20 : -1;
}

/** The well-formed (flow)sets of a v9 / IPFIX message, as far as they can be walked. */
function setSpans(buf: Buffer): Span[] {
  const h = headerLength(buf);
  const spans: Span[] = [];
  if (h < 0) return spans;
  for (let p = h; p + 4 <= buf.length; ) {
    const len = buf.readUInt16BE(p + 2);
    if (len < 4 || p + len > buf.length) break;
    spans.push({ start: p, end: p + len });
    p += len;
  }
  return spans;
}

/** Rebuilds a message from its header and a new list of sets, with a truthful IPFIX length. */
function withSets(buf: Buffer, sets: readonly Buffer[]): Buffer {
  const h = headerLength(buf);
  const out = Buffer.concat([buf.subarray(0, h), ...sets]);
  if (out.readUInt16BE(0) === 10 && out.length <= 0xffff) out.writeUInt16BE(out.length, 2);
  return out;
}

function fixIpfixLength(buf: Buffer): Buffer {
  if (buf.length >= 4 && buf.readUInt16BE(0) === 10 && buf.length <= 0xffff) buf.writeUInt16BE(buf.length, 2);
  return buf;
}

type Mutator = (rng: Prng, buf: Buffer, other: () => Buffer) => Buffer;

const MUTATORS: ReadonlyArray<readonly [string, Mutator]> = [
  ['bit flips', (rng, buf) => {
    const b = Buffer.from(buf);
    if (b.length === 0) return b;
    for (let k = rng.int(1, 8); k > 0; k--) b[rng.int(0, b.length - 1)]! ^= 1 << rng.int(0, 7);
    return b;
  }],
  ['byte overwrite', (rng, buf) => {
    const b = Buffer.from(buf);
    if (b.length === 0) return b;
    for (let k = rng.int(1, 4); k > 0; k--) b[rng.int(0, b.length - 1)] = rng.pick([0x00, 0xff, rng.int(0, 255)]);
    return b;
  }],
  ['interesting 16-bit value', (rng, buf) => {
    const b = Buffer.from(buf);
    if (b.length < 2) return b;
    b.writeUInt16BE(rng.pick(INTERESTING16), rng.chance(0.7) ? rng.int(0, (b.length >> 1) - 1) * 2 : rng.int(0, b.length - 2));
    return b;
  }],
  ['truncation', (rng, buf) => buf.subarray(0, rng.int(0, buf.length))],
  ['extension', (rng, buf) => {
    const n = rng.int(1, 64);
    return Buffer.concat([buf, rng.chance(0.5) ? Buffer.alloc(n) : rng.bytes(n)]);
  }],
  ['message length lie', (rng, buf) => {
    const b = Buffer.from(buf);
    if (b.length < 4) return b;
    b.writeUInt16BE(rng.pick([...INTERESTING16, b.length - 1, b.length + 1, b.length + 4, b.length - 4, rng.int(0, 0xffff)]) & 0xffff, 2);
    return b;
  }],
  ['set length lie', (rng, buf) => {
    const spans = setSpans(buf);
    if (spans.length === 0) return buf;
    const s = rng.pick(spans);
    const b = Buffer.from(buf);
    const len = s.end - s.start;
    b.writeUInt16BE(rng.pick([0, 1, 3, 4, 5, len - 1, len + 1, len + 4, len - 4, 0xffff, rng.int(0, 0xffff)]) & 0xffff, s.start + 2);
    return b;
  }],
  ['set id change', (rng, buf) => {
    const spans = setSpans(buf);
    if (spans.length === 0) return buf;
    const b = Buffer.from(buf);
    b.writeUInt16BE(rng.pick([0, 1, 2, 3, 4, 255, 256, 257, 258, 260, 300, 0xffff, rng.int(0, 0xffff)]), rng.pick(spans).start);
    return b;
  }],
  ['duplicated set', (rng, buf) => {
    const spans = setSpans(buf);
    if (spans.length === 0) return buf;
    const sets = spans.map((s) => buf.subarray(s.start, s.end));
    const k = rng.int(0, sets.length - 1);
    sets.splice(rng.int(0, sets.length), 0, sets[k]!);
    return withSets(buf, sets);
  }],
  ['shuffled sets', (rng, buf) => {
    const sets = setSpans(buf).map((s) => buf.subarray(s.start, s.end));
    for (let i = sets.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [sets[i], sets[j]] = [sets[j]!, sets[i]!];
    }
    return sets.length > 0 ? withSets(buf, sets) : buf;
  }],
  ['dropped set', (rng, buf) => {
    const sets = setSpans(buf).map((s) => buf.subarray(s.start, s.end));
    if (sets.length === 0) return buf;
    sets.splice(rng.int(0, sets.length - 1), 1);
    return withSets(buf, sets);
  }],
  ['splice', (rng, buf, other) => {
    const o = other();
    return Buffer.concat([buf.subarray(0, rng.int(0, buf.length)), o.subarray(rng.int(0, o.length))]);
  }],
  ['set from another message', (rng, buf, other) => {
    const foreign = setSpans(other());
    const spans = setSpans(buf);
    if (foreign.length === 0 || spans.length === 0) return buf;
    const o = other();
    const fs = setSpans(o);
    if (fs.length === 0) return buf;
    const sets = spans.map((s) => buf.subarray(s.start, s.end));
    const f = rng.pick(fs);
    sets.splice(rng.int(0, sets.length), 0, o.subarray(f.start, f.end));
    return withSets(buf, sets);
  }],
  ['version swap', (rng, buf) => {
    const b = Buffer.from(buf);
    if (b.length >= 2) b.writeUInt16BE(rng.pick([5, 7, 9, 10, 0, 1, 6, 8, 11]), 0);
    return b;
  }],
];

// ---- known bugs ------------------------------------------------------------------------------

/**
 * Bugs the fuzzer has found that are not fixed yet. Their failures are counted and shown, and each
 * has a minimal reproduction below marked `todo`, so the suite stays green for everyone else while
 * the bug is visible in every run. Delete the entry when the fix lands: its repro then passes, and
 * any recurrence fails the fuzz test again.
 */
interface KnownBug {
  readonly id: string;
  readonly summary: string;
  /** Matches the failure message of this bug (an 'internal decoder error' drop detail). */
  readonly match: RegExp;
  /** A datagram that triggers it alone, with a fresh pipeline. */
  readonly repro: () => Buffer;
}

/** Open fuzz findings. Empty now; the fixed ones live on in REGRESSIONS. */
const KNOWN_BUGS: readonly KnownBug[] = [];

/** Findings that were fixed; their minimal datagrams stay as regression tests. */
const REGRESSIONS: readonly KnownBug[] = [
  {
    id: 'options-record-with-bad-list',
    summary:
      'src/wire/options.ts absorbOptions() decodes options records with decodeRecord() and does not catch ListDecodeError, ' +
      'so an options template with a malformed RFC 6313 list field (basicList/subTemplateList/subTemplateMultiList) throws out of ' +
      'decodeData(): the set is already counted as bad-list, then the whole datagram is dropped as an internal decoder error ' +
      '(the options batch and every later set of the message are lost)',
    match: /internal decoder error: (empty list header|short basicList header|short basicList enterprise number|(variable-length )?(element|field) runs past the list|short subTemplateList header|bad subTemplateMultiList block length|lists nested too deeply)/,
    repro: () => {
      // Options template 300: scope ingressInterface, basicList; its list holds one and a half unsigned16.
      const t: EncTemplate = { id: 300, scopeCount: 1, fields: [{ id: 10, length: 4 }, { id: 291, length: VARLEN }] };
      const list = Buffer.from([0x03, 0x00, 0x07, 0x00, 0x02, 0x00, 0x50, 0x01]);
      return new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_704_067_200, sequence: 0 }).templates([t]).data(t, [[1, list]]).build();
    },
  },
  {
    id: 'fixed-template-long-duration',
    summary:
      'src/model/time.ts deriveTimes(): for fixed-length templates that have a start or an end time but not both, the ' +
      'flowDurationMilliseconds/Microseconds (161/162) field is read with readUnsigned() without checking its length ' +
      '(the variable-length branch checks 1..8); a duration field longer than 8 bytes throws RangeError from Buffer.readUIntBE, ' +
      'which the decoder reports as an internal decoder error and the whole datagram is lost',
    match: /internal decoder error: The value of "byteLength" is out of range/,
    repro: () => {
      // flowStartMilliseconds (8 bytes) + flowDurationMilliseconds encoded in 12 bytes, no end time.
      const t: EncTemplate = { id: 300, fields: [{ id: 152, length: 8 }, { id: 161, length: 12 }] };
      return new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_704_067_200, sequence: 0 })
        .templates([t])
        .data(t, [[1_704_067_200_000n, Buffer.alloc(12, 1)]])
        .build();
    },
  },
];

function knownBugOf(message: string): KnownBug | undefined {
  return KNOWN_BUGS.find((b) => b.match.test(message));
}

/** Failures of the last fuzz run that matched a known bug, by bug id (for the todo tests' output). */
const knownBugHits = new Map<string, FailureLog>();

// ---- the run --------------------------------------------------------------------------------

interface Failure {
  readonly kind: string;
  readonly iteration: number;
  readonly message: string;
  readonly datagram: Buffer;
}

/** Failures grouped by what went wrong (numbers blanked), so one frequent bug does not hide others. */
class FailureLog {
  readonly groups = new Map<string, { count: number; examples: Failure[] }>();

  add(f: Failure): void {
    const sig = `${f.kind}: ${f.message.split('\n')[0]!.replace(/\d+/g, 'N')}`;
    let g = this.groups.get(sig);
    if (g === undefined) {
      if (this.groups.size >= 50) return;
      g = { count: 0, examples: [] };
      this.groups.set(sig, g);
    }
    g.count++;
    if (g.examples.length < EXAMPLES_PER_FAILURE) g.examples.push({ ...f, datagram: Buffer.from(f.datagram) });
  }

  get total(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.count;
    return n;
  }

  report(): string {
    const out: string[] = [];
    for (const [sig, g] of this.groups) {
      out.push(`== ${g.count} x ${sig}`);
      for (const f of g.examples) {
        out.push(`  iteration ${f.iteration}: ${f.message}`);
        out.push(`  datagram (${f.datagram.length} bytes): ${f.datagram.subarray(0, 4096).toString('hex')}`);
      }
    }
    return out.join('\n');
  }
}

/** A forced full GC where the runtime lets us have one; `--expose-gc` is not among the runner's flags. */
function gcFunction(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn: unknown = vm.runInNewContext('gc');
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks the template store against its limits and its own bookkeeping; returns problems found. */
function storeProblems(p: DecodeStage, limits: TemplateStoreLimits): string[] {
  const store = p.decoder.store;
  const out: string[] = [];
  if (store.sessionCount > limits.maxSessions) out.push(`${store.sessionCount} sessions > ${limits.maxSessions}`);
  if (store.templateCount > limits.maxTemplatesTotal) out.push(`${store.templateCount} templates > ${limits.maxTemplatesTotal}`);
  // The store exposes no session iterator; its bookkeeping is checked through the private map
  // (compile-time privacy only). If a refactor renames it, only the deep checks are skipped.
  const sessions = (store as unknown as { sessions?: Map<string, SessionState> }).sessions;
  if (!(sessions instanceof Map)) return out;
  let total = 0;
  for (const st of sessions.values()) {
    let n = 0;
    for (const d of st.domains.values()) n += d.templates.size;
    total += st.templateCount;
    if (n !== st.templateCount) out.push(`session ${st.session.key}: counts ${st.templateCount} templates, holds ${n}`);
    if (st.templateCount > limits.maxTemplatesPerSession) out.push(`session ${st.session.key}: ${st.templateCount} templates > ${limits.maxTemplatesPerSession}`);
    if (st.pending.length > limits.maxPendingSetsPerSession) out.push(`session ${st.session.key}: ${st.pending.length} held sets`);
    const bytes = st.pending.reduce((a, s) => a + s.end - s.pos, 0);
    if (bytes !== st.pendingBytes || bytes > limits.maxPendingBytesPerSession) out.push(`session ${st.session.key}: held bytes ${bytes}, counted ${st.pendingBytes}`);
  }
  if (total !== store.templateCount) out.push(`store counts ${store.templateCount} templates, sessions count ${total}`);
  return out;
}

test('fuzz: mutated datagrams through DecodeStage and the JSON formatter', (t) => {
  const seed = fuzzSeed();
  const n = fuzzCount();
  const reg = IeRegistry.builtin();
  const { streams, fromFiles } = loadSeeds(reg, seed);
  const pool: Buffer[] = streams.flatMap((s) => [...s.datagrams]);
  t.diagnostic(`seed ${seed} (SLUICE_FUZZ_SEED), ${n} datagrams (SLUICE_FUZZ_N); ${pool.length} seed datagrams from ${fromFiles} corpus files + generated`);
  console.log(`# fuzz seed ${seed}, datagrams ${n}`);
  assert.ok(pool.length > 0, 'no seed datagrams');

  const rng = new Prng(seed);
  const limits: TemplateStoreLimits = {
    // Small limits so the fuzz run reaches every bound, eviction and expiry path.
    udpTemplateLifetimeMs: 5 * 60_000,
    maxTemplatesPerSession: 256,
    maxTemplatesTotal: 1024,
    maxSessions: 48,
    maxPendingSetsPerSession: 32,
    maxPendingBytesPerSession: 256 * 1024,
    pendingTimeoutMs: 30_000,
  };
  // Two formatters with opposite options, so both sides of every formatting branch run.
  const plain = new Ipfixcol2JsonFormatter({}, protocolKeyword);
  const allOpts: Partial<JsonFormatOptions> = {
    tcpFlags: 'raw',
    timestamp: 'unix',
    protocol: 'raw',
    ignoreUnknown: false,
    ignoreOptions: false,
    nonPrintableChar: false,
    octetArrayAsUint: false,
    numericNames: false,
    detailedInfo: true,
    templateInfo: true,
  };
  const detailed = new Ipfixcol2JsonFormatter(allOpts, protocolKeyword);
  const numeric = new Ipfixcol2JsonFormatter({ ...allOpts, numericNames: true }, protocolKeyword);

  const failures = new FailureLog();
  let iteration = 0;
  let current: Buffer = Buffer.alloc(0);
  const fail = (kind: string, message: string, datagram = current) => {
    const known = knownBugOf(message);
    let log = failures;
    if (known !== undefined) {
      log = knownBugHits.get(known.id) ?? new FailureLog();
      knownBugHits.set(known.id, log);
    }
    log.add({ kind, iteration, message, datagram });
  };

  const stats = { lines: 0, batches: 0, records: 0, templateLines: 0, maxHeap: 0 };
  /** Every line of a formatter's output must be a JSON object. One parse per batch keeps this cheap. */
  const checkJson = (text: string, what: string, b?: FlowBatch) => {
    if (text === '') return;
    if (!text.endsWith('\n')) {
      fail('json', `${what}: output does not end with a newline`, b?.buf);
      return;
    }
    const body = text.slice(0, -1);
    let parsed: unknown;
    try {
      parsed = JSON.parse('[' + body.replaceAll('\n', ',') + ']');
    } catch {
      for (const line of body.split('\n')) {
        try {
          JSON.parse(line);
        } catch (err) {
          fail('json', `${what}: invalid JSON line (${(err as Error).message}): ${line.slice(0, 2000)}`, b?.buf);
          return;
        }
      }
      fail('json', `${what}: lines parse one by one but not as a list (a line holds several values?)`, b?.buf);
      return;
    }
    const arr = parsed as unknown[];
    for (const v of arr) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        fail('json', `${what}: line is not a JSON object: ${JSON.stringify(v).slice(0, 200)}`, b?.buf);
        return;
      }
    }
    stats.lines += arr.length;
  };

  const pipeline = new DecodeStage({
    registry: reg,
    limits,
    onBatch: (b) => {
      stats.batches++;
      stats.records += b.count;
      // Formatter exceptions are caught here: thrown into the decoder they would be reported as
      // its own internal error and blamed on the wrong component.
      for (const [name, fmt] of [['plain', plain], ['detailed', detailed], ['numeric', numeric]] as const) {
        if (name === 'numeric' && (stats.batches & 7) !== 0) continue; // numeric keys: a sample suffices
        let text: string;
        try {
          text = fmt.formatBatch(b);
        } catch (err) {
          fail('formatBatch', `${name} formatter threw on template ${b.template.id} (${b.template.signature}): ${(err as Error).stack ?? String(err)}`, b.buf);
          continue;
        }
        checkJson(text, `${name} formatBatch, template ${b.template.id} (${b.template.signature})`, b);
      }
    },
    onTemplate: (ev) => {
      try {
        const text = detailed.formatTemplate(ev.ctx, ev.template);
        stats.templateLines++;
        checkJson(text, `formatTemplate ${ev.template.id}`);
      } catch (err) {
        fail('formatTemplate', `formatTemplate threw: ${(err as Error).stack ?? String(err)}`);
      }
    },
    onDrop: (ev) => {
      if (ev.detail.startsWith('internal decoder error')) fail('internal decoder error', `${ev.reason} at offset ${ev.offset}: ${ev.detail}`);
    },
  });

  // A few busy exporters plus a crowd of occasional ones (more than maxSessions, so eviction runs);
  // one TCP session, where withdrawals and redefinitions mean something, and one offline 'file' session.
  const main: TransportSession[] = [
    makeSession('udp', '192.0.2.1', 50000, 4739),
    makeSession('udp', '192.0.2.2', 50001, 2055),
    makeSession('udp', '2001:db8::1', 50002, 4739),
    makeSession('tcp', '192.0.2.3', 40000, 4739),
    makeSession('file', '0.0.0.0', 0, 0),
  ];
  const crowd = Array.from({ length: 80 }, (_, i) => makeSession('udp', `198.51.100.${i + 1}`, 10000 + i, 2055));

  const gc = gcFunction();
  const heapNow = () => {
    gc?.();
    const used = gc !== undefined ? process.memoryUsage().heapUsed : v8.getHeapStatistics().used_heap_size;
    stats.maxHeap = Math.max(stats.maxHeap, used);
    return used;
  };
  const heapAtStart = heapNow();
  const mutationUse = new Map<string, number>();

  let now = 1_704_067_300_000;
  const feed = (buf: Buffer, session: TransportSession) => {
    current = buf;
    try {
      pipeline.handle(buf, session, now);
    } catch (err) {
      fail('decode threw', (err as Error).stack ?? String(err), buf);
    }
  };

  while (iteration < n) {
    now += rng.int(0, 40);
    const session = rng.chance(0.85) ? rng.pick(main) : rng.pick(crowd);
    if (rng.chance(0.02)) {
      // Replay a stream unmutated, in order: templates first, so data sets find them and the
      // formatter sees real records, not only drops.
      const s = rng.pick(streams);
      for (const d of s.datagrams) {
        if (iteration >= n) break;
        feed(d, session);
        iteration++;
      }
      continue;
    }
    let buf = rng.pick(pool);
    if (rng.chance(0.9)) {
      for (let k = rng.int(1, 3); k > 0; k--) {
        const [name, m] = rng.pick(MUTATORS);
        mutationUse.set(name, (mutationUse.get(name) ?? 0) + 1);
        buf = m(rng, buf, () => rng.pick(pool));
      }
      // Often keep the header length truthful, so the mutation reaches the sets behind it.
      if (rng.chance(0.4)) buf = fixIpfixLength(Buffer.from(buf));
    }
    feed(buf, session);
    iteration++;

    if (iteration % 1000 === 0) {
      // Housekeeping as the collector's timer does it, and now and then a long silence that lets
      // held sets and UDP templates expire, or a TCP connection that ends.
      if (rng.chance(0.1)) now += rng.pick([31_000, 6 * 60_000, 61 * 60_000]);
      try {
        pipeline.decoder.tick(now);
        if (rng.chance(0.2)) pipeline.decoder.closeSession(main[3]!);
      } catch (err) {
        fail('housekeeping threw', (err as Error).stack ?? String(err));
      }
      for (const p of storeProblems(pipeline, limits)) fail('template store', p);
    }
    if (iteration % 20_000 === 0) heapNow();
  }
  try {
    pipeline.decoder.flush();
  } catch (err) {
    fail('flush threw', (err as Error).stack ?? String(err));
  }
  const heapAtEnd = heapNow();

  const c = pipeline.counters;
  t.diagnostic(
    `${iteration} datagrams: ${c.records} records, ${c.optionsRecords} options records, ${stats.batches} batches, ${stats.lines} JSON lines checked, ${stats.templateLines} template lines`,
  );
  t.diagnostic(`drops: ${JSON.stringify(c.drops.toJSON())}`);
  t.diagnostic(`mutations: ${JSON.stringify(Object.fromEntries([...mutationUse].sort()))}`);
  t.diagnostic(
    `heap ${gc ? 'after forced GC' : '(no forced GC)'}: start ${(heapAtStart / 2 ** 20).toFixed(1)} MB, end ${(heapAtEnd / 2 ** 20).toFixed(1)} MB, max ${(stats.maxHeap / 2 ** 20).toFixed(1)} MB; ` +
      `templates ${pipeline.decoder.store.templateCount}, sessions ${pipeline.decoder.store.sessionCount}`,
  );

  for (const [id, log] of knownBugHits) t.diagnostic(`known bug ${id}: ${log.total} hits (see its todo test)`);
  const report = failures.report();
  if (failures.total > 0) console.log(`# fuzz failures (seed ${seed}):\n${report}`);
  assert.equal(failures.total, 0, `fuzz found ${failures.total} problems of ${failures.groups.size} kinds (seed ${seed}):\n${report}`);
  assert.ok(c.records > 0, 'no record was ever decoded: the seeds or the replay are broken');
  assert.ok(stats.lines > 0, 'no JSON line was ever produced');
  assert.ok(heapAtEnd < HEAP_LIMIT_BYTES, `heap ${heapAtEnd} bytes after the run exceeds ${HEAP_LIMIT_BYTES}`);
  assert.ok(stats.maxHeap < HEAP_LIMIT_BYTES * 1.5, `heap peaked at ${stats.maxHeap} bytes`);
});

for (const bug of [...KNOWN_BUGS, ...REGRESSIONS]) {
  const open = KNOWN_BUGS.includes(bug);
  test(open ? `known bug ${bug.id}` : `fuzz regression ${bug.id}`, open ? { todo: 'found by the fuzzer, not fixed yet' } : {}, (t) => {
    t.diagnostic(bug.summary);
    const dgram = bug.repro();
    const hits = knownBugHits.get(bug.id);
    if (hits !== undefined) {
      t.diagnostic(`fuzz run: ${hits.total} datagrams hit it`);
      console.log(`# known bug ${bug.id}, fuzz examples:\n${hits.report()}`);
    }
    t.diagnostic(`minimal datagram (${dgram.length} bytes): ${dgram.toString('hex')}`);
    const drops: string[] = [];
    let records = 0;
    const reg = IeRegistry.builtin();
    const fmt = new Ipfixcol2JsonFormatter({ ignoreOptions: false }, protocolKeyword);
    const p = new DecodeStage({
      registry: reg,
      onBatch: (b) => {
        records += b.count;
        for (const line of fmt.formatBatch(b).split('\n')) if (line !== '') JSON.parse(line);
      },
      onDrop: (ev) => drops.push(`${ev.reason}: ${ev.detail}`),
    });
    p.handle(dgram, makeSession('udp', '192.0.2.1', 50000, 4739), 1_704_067_300_000);
    assert.deepEqual(drops.filter((d) => d.includes('internal decoder error')), [], 'the decoder swallowed an exception');
    assert.equal(records, 1, 'the record was lost');
  });
}
