/**
 * Sequence accounting: how much an exporter sent that never arrived, per stream, by each
 * protocol's own counting rule (modulo 2^32):
 *
 * | protocol        | the header's sequence counts                        | next expected        |
 * |-----------------|-----------------------------------------------------|----------------------|
 * | `ipfix`         | data records sent before this message (RFC 7011 3.1) | seq + data records   |
 * | `netflow9`      | export packets of this source id (RFC 3954 5.1)      | seq + 1              |
 * | `netflow5/7`    | flows sent before this packet                       | seq + header count   |
 * | `sflow5`        | datagrams of this agent / sub-agent                 | seq + 1              |
 * | `sflow5-sample` | samples of one data source (and sample kind)        | seq + 1              |
 *
 * The caller feeds one plain fact per message (and per sFlow sample): a SequenceFact. Everything
 * here is O(1) per call (a gap list of at most MAX_GAPS entries aside), never per record.
 *
 * Rules, in units of the protocol (records for IPFIX and v5/v7, messages for the others):
 * - the first message of a stream sets the baseline; nothing before it counts as lost;
 * - a forward jump is a gap: its units are lost until a late message fills it;
 * - a message behind the expected sequence, by at most `windowMessages` messages' worth of units,
 *   is late: the part of it that falls in a gap is taken back from lost (reordered), a message that
 *   falls in no gap was already received (duplicate);
 * - anything farther (backwards beyond the window, or forwards by more than `maxGapMessages`
 *   messages' worth of units) is far off. One far-off message is held, not believed: if the next
 *   message continues from it, the exporter restarted (reset, new baseline, nothing lost); if the
 *   next one continues the old stream, the held message was a stray and is ignored;
 * - a message whose units the collector could not count (a data set whose template is unknown)
 *   is `unknown`: the gap before it still counts, and the next message sets the baseline again.
 */

/** Which counting rule applies; `sflow5-sample` is the per-data-source sample sequence. */
export type SequenceProtocol = 'ipfix' | 'netflow9' | 'netflow5' | 'netflow7' | 'sflow5' | 'sflow5-sample';

/** One message (or one sFlow sample), as the decoder saw it. */
export interface SequenceFact {
  readonly protocol: SequenceProtocol;
  /** The stream: build it with `sequenceKeys` so every caller spells it the same way. */
  readonly key: string;
  /** The sequence number from the header (or sample), 0 .. 2^32-1. */
  readonly sequence: number;
  /**
   * IPFIX: data records in this message (options data records included, template records not);
   * v5/v7: the header's record count. Ignored by the protocols that count messages (v9, sFlow),
   * which always advance by 1. 'unknown' when the message held data the collector could not count.
   */
  readonly units: number | 'unknown';
}

/** Counters of one stream. Units are the protocol's (see the module comment); the rest are messages. */
export interface SequenceCounts {
  readonly protocol: SequenceProtocol;
  /** Messages seen, whatever became of them. */
  readonly messages: number;
  /** Units the exporter sent from the first message on: received + lost. */
  readonly expected: number;
  /** Units that arrived (in order, or late into a gap). */
  readonly received: number;
  /** Units in gaps that no late message filled. */
  readonly lost: number;
  /** Late messages that filled (part of) a gap. */
  readonly reordered: number;
  /** Late messages that fell in no gap: already received. */
  readonly duplicates: number;
  /** Restarts: a far-off sequence confirmed by the message after it. */
  readonly resets: number;
  /** Messages whose units could not be counted; the next message set the baseline again. */
  readonly unknown: number;
  /** Far-off messages that the next message did not confirm; ignored. */
  readonly strays: number;
}

export interface SequenceOptions {
  /** Streams tracked at once; past this, the least recently seen sixteenth is forgotten. Default 65536. */
  readonly maxKeys?: number;
  /** How far back (in messages) a late message still counts as reordered. Default 64. */
  readonly windowMessages?: number;
  /** Forward jumps beyond this many messages' worth of units are a restart, not loss. Default 65536. */
  readonly maxGapMessages?: number;
}

/** Stream keys, one spelling for every caller. */
export const sequenceKeys = {
  /** IPFIX, v9, v5/v7: transport session (TransportSession.key) and observation domain / source id / engine. */
  domain: (sessionKey: string, domainId: number): string => `${sessionKey}|${domainId}`,
  /** sFlow datagrams: the agent address and sub-agent id from the datagram header. */
  agent: (agent: string, subAgent: number): string => `sflow|${agent}|${subAgent}`,
  /**
   * sFlow samples: each data source numbers its flow samples, counter samples and discard samples
   * separately, so the kind is part of the key.
   */
  source: (agent: string, subAgent: number, sourceType: number, sourceIndex: number, kind: 'flow' | 'counter' | 'discard'): string =>
    `sflow|${agent}|${subAgent}|${sourceType}:${sourceIndex}|${kind}`,
};

/** Gaps remembered per stream; older ones stay lost. */
const MAX_GAPS = 16;
/** Weight of a new message in the running mean of units per message. */
const MEAN_WEIGHT = 1 / 16;

/** True for the protocols whose sequence counts messages, not records. */
function countsMessages(p: SequenceProtocol): boolean {
  return p === 'netflow9' || p === 'sflow5' || p === 'sflow5-sample';
}

type MutableCounts = { -readonly [K in keyof SequenceCounts]: SequenceCounts[K] };

const ZERO = (protocol: SequenceProtocol): MutableCounts => ({
  protocol,
  messages: 0,
  expected: 0,
  received: 0,
  lost: 0,
  reordered: 0,
  duplicates: 0,
  resets: 0,
  unknown: 0,
  strays: 0,
});

class Stream {
  readonly c: MutableCounts;
  /** Expected next sequence number, modulo 2^32. */
  next = 0;
  /** `next` unwrapped (it never wraps): the frame the gaps are kept in. */
  pos = 0;
  /** The last message had uncounted units: the next message sets `next` again. */
  resync = false;
  /** Running mean of units per message, to turn message windows into units. */
  meanUnits = 1;
  /** Unfilled gaps as [start, end) pairs in the `pos` frame, oldest first. */
  gaps: number[] = [];
  /** A far-off message held until the next one says whether it was a restart; -1 when none. */
  heldSeq = -1;
  /** Its units, -1 when unknown. */
  heldUnits = 0;
  /** The tracker's tick when the stream last saw a message: the least recent is evicted first. */
  seen = 0;

  constructor(protocol: SequenceProtocol) {
    this.c = ZERO(protocol);
  }
}


/** Adds `c` into `into`; `expected` is always derived as received + lost. */
function addInto(into: MutableCounts, c: MutableCounts): void {
  into.messages += c.messages;
  into.received += c.received;
  into.lost += c.lost;
  into.expected += c.received + c.lost;
  into.reordered += c.reordered;
  into.duplicates += c.duplicates;
  into.resets += c.resets;
  into.unknown += c.unknown;
  into.strays += c.strays;
}

/** Sequence accounting for every stream the collector sees. Pure: no I/O, no timers. */
export class SequenceTracker {
  private readonly streams = new Map<string, Stream>();
  /** Counters of forgotten streams, per protocol, so totals never go backwards. */
  private readonly retired = new Map<SequenceProtocol, MutableCounts>();
  private readonly maxKeys: number;
  private readonly windowMessages: number;
  private readonly maxGapMessages: number;
  /** Streams forgotten because of `maxKeys`. */
  evicted = 0;
  /** Messages observed: the clock of Stream.seen. */
  private tick = 0;

  constructor(opts: SequenceOptions = {}) {
    this.maxKeys = positive(opts.maxKeys ?? 65_536, 'maxKeys');
    this.windowMessages = positive(opts.windowMessages ?? 64, 'windowMessages');
    this.maxGapMessages = positive(opts.maxGapMessages ?? 65_536, 'maxGapMessages');
  }

  get size(): number {
    return this.streams.size;
  }

  /** Accounts one message. Never throws on odd input: a sequence outside 0..2^32-1 is taken modulo 2^32. */
  observe(f: SequenceFact): void {
    let s = this.streams.get(f.key);
    if (s === undefined || s.c.protocol !== f.protocol) {
      if (s !== undefined) this.retire(f.key, s); // same key, another protocol: a new stream
      else if (this.streams.size >= this.maxKeys) this.evictOldest();
      s = new Stream(f.protocol);
      this.streams.set(f.key, s);
    }
    // Recency as a stamp, not as Map order: re-inserting the key on every message (sFlow: every
    // sample) cost a delete and a set, and the map's compaction, for an eviction that is rare.
    s.seen = ++this.tick;
    const seq = f.sequence >>> 0;
    const units = countsMessages(f.protocol) ? 1 : f.units === 'unknown' || !(f.units >= 0) ? -1 : Math.floor(f.units);
    s.c.messages++;
    if (s.c.messages === 1) {
      s.next = seq;
      if (units > 0) s.meanUnits = units;
      this.inOrder(s, seq, units);
      return;
    }
    this.place(s, seq, units);
  }

  /** Counters of one stream, or undefined when it is not (or no longer) tracked. */
  get(key: string): SequenceCounts | undefined {
    const s = this.streams.get(key);
    return s === undefined ? undefined : { ...s.c, expected: s.c.received + s.c.lost };
  }

  /** Every tracked stream, in the order they were first seen. */
  *entries(): IterableIterator<[string, SequenceCounts]> {
    for (const [k, s] of this.streams) yield [k, { ...s.c, expected: s.c.received + s.c.lost }];
  }

  /** Sums per protocol over tracked and forgotten streams: monotonic, for metrics. */
  totals(): Map<SequenceProtocol, SequenceCounts> {
    const out = new Map<SequenceProtocol, MutableCounts>();
    const into = (p: SequenceProtocol): MutableCounts => {
      let t = out.get(p);
      if (t === undefined) out.set(p, (t = ZERO(p)));
      return t;
    };
    for (const [p, c] of this.retired) addInto(into(p), c);
    for (const s of this.streams.values()) addInto(into(s.c.protocol), s.c);
    return out;
  }

  /** Forgets one stream (e.g. a TCP session that ended); its counts stay in the totals. */
  forget(key: string): void {
    const s = this.streams.get(key);
    if (s !== undefined) this.retire(key, s);
  }

  // ---- the rules ------------------------------------------------------------------------------

  private windowUnits(s: Stream): number {
    return Math.ceil(this.windowMessages * Math.max(1, s.meanUnits));
  }

  private maxGapUnits(s: Stream): number {
    return Math.min(0x7fffffff, Math.ceil(this.maxGapMessages * Math.max(1, s.meanUnits)));
  }

  /** Classifies a message against the stream's expected sequence. */
  private place(s: Stream, seq: number, units: number): void {
    // Signed distance modulo 2^32: ToInt32 of the difference.
    let d = (seq - s.next) | 0;
    const maxGap = this.maxGapUnits(s);
    if (s.resync && d >= 0 && d <= maxGap) {
      // The units of the message before were unknown: this one starts the count again.
      s.pos += d;
      s.next = seq;
      s.resync = false;
      d = 0;
    }
    if (d >= 0 && d <= maxGap) {
      this.dropHeld(s);
      if (d > 0) this.gap(s, d);
      this.inOrder(s, seq, units);
    } else if (d < 0 && -d <= this.windowUnits(s)) {
      this.dropHeld(s);
      this.late(s, s.pos + d, units);
    } else {
      this.far(s, seq, units);
    }
  }

  private inOrder(s: Stream, seq: number, units: number): void {
    if (units < 0) {
      s.c.unknown++;
      s.resync = true;
      s.next = seq;
      return;
    }
    s.c.received += units;
    s.pos += units;
    s.next = (seq + units) >>> 0;
    s.meanUnits += (units - s.meanUnits) * MEAN_WEIGHT;
  }

  private gap(s: Stream, d: number): void {
    s.c.lost += d;
    const g = s.gaps;
    g.push(s.pos, s.pos + d);
    s.pos += d;
    s.next = (s.next + d) >>> 0;
    // Gaps no late message can reach any more, or past the bound, stay lost for good.
    const horizon = s.pos - this.windowUnits(s);
    let drop = 0;
    while (drop < g.length && (g[drop + 1]! <= horizon || g.length - drop > 2 * MAX_GAPS)) drop += 2;
    if (drop > 0) g.splice(0, drop);
  }

  /** A message behind `next`, within the window, starting at `start` in the `pos` frame. */
  private late(s: Stream, start: number, units: number): void {
    if (units < 0) {
      s.c.unknown++; // its size is unknown, so nothing can be taken back
      return;
    }
    const end = start + units;
    let back = 0;
    const kept: number[] = [];
    const g = s.gaps;
    for (let i = 0; i < g.length; i += 2) {
      const gs = g[i]!;
      const ge = g[i + 1]!;
      const from = Math.max(gs, start);
      const to = Math.min(ge, end);
      if (to <= from) {
        kept.push(gs, ge);
        continue;
      }
      back += to - from;
      // What is left of the gap on either side of the late message stays lost.
      if (from > gs) kept.push(gs, from);
      if (to < ge) kept.push(to, ge);
    }
    if (back > 0) {
      s.gaps = kept;
      s.c.reordered++;
      s.c.received += back;
      s.c.lost -= back;
    } else {
      s.c.duplicates++;
    }
  }

  /** A message too far from `next` to belong to the stream: held until the next one decides. */
  private far(s: Stream, seq: number, units: number): void {
    if (s.heldSeq >= 0) {
      const heldNext = s.heldUnits >= 0 ? (s.heldSeq + s.heldUnits) >>> 0 : s.heldSeq;
      const d = (seq - heldNext) | 0;
      if (d >= 0 && d <= this.maxGapUnits(s)) {
        // Two messages agree: the exporter restarted (or a new session took the key).
        s.c.resets++;
        s.gaps = [];
        s.pos = 0;
        s.resync = false;
        s.next = s.heldSeq;
        const heldUnits = s.heldUnits;
        s.heldSeq = -1;
        this.inOrder(s, s.next, heldUnits);
        this.place(s, seq, units);
        return;
      }
      s.c.strays++;
    }
    s.heldSeq = seq;
    s.heldUnits = units;
  }

  private dropHeld(s: Stream): void {
    if (s.heldSeq < 0) return;
    s.c.strays++;
    s.heldSeq = -1;
  }

  /**
   * Forgets the least recently seen sixteenth of the streams (at least one) at once, so a flood of
   * new keys sorts the streams once per maxKeys/16 of them, not once per key.
   */
  private evictOldest(): void {
    const n = Math.max(1, Math.floor(this.streams.size / 16));
    const oldest = [...this.streams].sort((a, b) => a[1].seen - b[1].seen).slice(0, n);
    for (const [key, s] of oldest) {
      this.retire(key, s);
      this.evicted++;
    }
  }

  private retire(key: string, s: Stream): void {
    this.streams.delete(key);
    let t = this.retired.get(s.c.protocol);
    if (t === undefined) this.retired.set(s.c.protocol, (t = ZERO(s.c.protocol)));
    addInto(t, s.c);
  }
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${n}`);
  return n;
}
