import type { DropReasonOf } from '../util/drop-reasons.js';
import type { TransportSession } from './batch.js';

/** Why input was not turned into records: the decode stage of the one vocabulary (util/drop-reasons.ts). */
export type DropReason = DropReasonOf<'decode'>;

/**
 * A message's (or an sFlow sample's) sequence number, for loss accounting
 * (src/pipeline/sequence.ts). One per message, never per record.
 */
export interface SequenceEvent {
  readonly protocol: 'ipfix' | 'netflow9' | 'netflow5' | 'netflow7' | 'sflow5' | 'sflow5-sample';
  readonly session: TransportSession;
  /** Observation domain / source id / v5 engine; sFlow: the sub-agent id. */
  readonly domainId: number;
  /** sFlow: the agent address from the datagram header. */
  readonly agent?: string;
  /** sFlow samples: the data source, and which of its sequences (flow, counter, discard samples). */
  readonly source?: { readonly type: number; readonly index: number; readonly kind: 'flow' | 'counter' | 'discard' };
  readonly sequence: number;
  /**
   * IPFIX: data records in the message; v5/v7: records the header announces; v9 and sFlow: 1.
   * 'unknown' when the message held data sets the collector could not count (no template yet).
   */
  readonly units: number | 'unknown';
  /** The message's export time (ms; sFlow: the receive time) and when it was received. */
  readonly exportTimeMs: number;
  readonly receivedMs: number;
}

export interface DropEvent {
  readonly reason: DropReason;
  readonly session: TransportSession;
  /** Units dropped: records where known, else sets or datagrams (see `unit`). */
  readonly count: number;
  readonly unit: 'datagram' | 'set' | 'record' | 'template' | 'bytes';
  /** Byte offset in the datagram where the problem was found. */
  readonly offset: number;
  readonly detail: string;
  /**
   * sFlow: the agent address from the datagram header. Counters key by it when set, since one
   * transport source (a relay, a router with several sub-agents behind one address) can speak for many agents.
   */
  readonly agent?: string;
}

/** Per-reason and per-exporter counters. Cheap enough to call per datagram, never per record. */
export class DropCounters {
  readonly byReason = new Map<DropReason, number>();
  readonly byExporter = new Map<string, Map<DropReason, number>>();

  add(ev: DropEvent): void {
    this.byReason.set(ev.reason, (this.byReason.get(ev.reason) ?? 0) + ev.count);
    const who = ev.agent ?? ev.session.address;
    let m = this.byExporter.get(who);
    if (m === undefined) {
      if (this.byExporter.size >= 10_000) return; // a spoofing flood must not grow this map without bound
      m = new Map();
      this.byExporter.set(who, m);
    }
    m.set(ev.reason, (m.get(ev.reason) ?? 0) + ev.count);
  }

  total(): number {
    let t = 0;
    for (const v of this.byReason.values()) t += v;
    return t;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.byReason.entries()].sort());
  }
}
