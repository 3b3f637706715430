import type { TransportSession } from './batch.js';

/** Why input was not turned into records. Stable strings: they become metric label values. */
export type DropReason =
  | 'truncated' // datagram shorter than its header or than a length it declares
  | 'bad-version' // unknown protocol version
  | 'bad-length' // header length field disagrees with the datagram
  | 'bad-set' // set header with a length below 4 or past the message end
  | 'bad-template' // malformed (options) template record
  | 'template-limit' // per-session or total template bound reached
  | 'template-redefined' // TCP template redefined without withdrawal (RFC 7011 8.1)
  | 'withdrawal-ignored' // template withdrawal over UDP or for an unknown id
  | 'missing-template' // data set held for its template, which never came (timed out or session end)
  | 'pending-overflow' // data set could not be held: per-session pending bound reached
  | 'template-expired' // data set whose UDP template outlived its lifetime
  | 'truncated-record' // bytes at the end of a data set that are a cut record, not padding
  | 'bad-list' // malformed RFC 6313 structured data
  | 'unsupported' // well-formed input of a kind sluice does not decode (sFlow sample formats other than 1-5)
  | 'bad-record'; // record that cannot be decoded for another reason

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
