import type { DropReasonOf } from '../util/drop-reasons.js';
import type { FlowBatch, TransportSession } from '../wire/batch.js';

/** What a text-line parser counts: per line, reasons for lines it could not use. */
export class LineCounters {
  lines = 0;
  records = 0;
  /** Lines that did not parse, by reason. */
  readonly unparsed = new Map<string, number>();
  /** Lines that parsed but carry no flow (AWS NODATA / SKIPDATA, header lines), by kind. */
  readonly skipped = new Map<string, number>();

  bad(reason: DropReasonOf<'parse'>): void {
    this.unparsed.set(reason, (this.unparsed.get(reason) ?? 0) + 1);
  }

  skip(kind: string): void {
    this.skipped.set(kind, (this.skipped.get(kind) ?? 0) + 1);
  }

  get unparsedTotal(): number {
    let n = 0;
    for (const v of this.unparsed.values()) n += v;
    return n;
  }
}

export interface LineParserHooks {
  readonly onBatch: (b: FlowBatch) => void;
  /** A line that did not parse (already counted); the runtime samples these into the debug log. */
  readonly onBad?: (reason: DropReasonOf<'parse'>, line: string, session: TransportSession) => void;
}

/** Lines in, FlowBatch records out. Never throws on input. */
export interface LineParser {
  readonly counters: LineCounters;
  /** Parses the lines of one datagram / message batch / log page and flushes their records. */
  parseLines(lines: readonly string[], session: TransportSession, nowMs: number): void;
}
