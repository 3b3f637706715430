/**
 * `-t` time windows and `--series` intervals.
 *
 *   -1h, -30m, -7d, -90s, -2w       the last hour, ... (relative to now)
 *   START/END  START-END  START      each ISO 8601 (2024-05-01T10:00:00Z, offsets allowed) or
 *                                    nfdump's yyyy/MM/dd.hh:mm:ss (or a shorter prefix of it)
 *
 * Times are UTC unless ISO text carries an offset. A flow belongs to [fromMs, toMs) by its end
 * time (see FLOW_TIME in flow-sql.ts); a missing bound is open.
 */
import { WindowError } from './errors.js';

export interface TimeWindow {
  /** Inclusive start, ms since the epoch; undefined: from the first flow. */
  readonly fromMs?: number;
  /** Exclusive end; undefined: to the last flow. */
  readonly toMs?: number;
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

interface Problem {
  readonly column: number;
  readonly reason: string;
}

/** Reads one time written in `text` from `start` to `end` (exclusive); columns in the errors are 1-based over `text`. */
class TimeScanner {
  #pos: number;
  constructor(
    readonly text: string,
    start: number,
    readonly end: number,
  ) {
    this.#pos = start;
  }

  #fail(reason: string, at = this.#pos): never {
    throw { column: at + 1, reason } satisfies Problem;
  }

  #done(): boolean {
    return this.#pos >= this.end;
  }

  #digits(min: number, max: number, what: string): number {
    const at = this.#pos;
    let n = 0;
    while (n < max && at + n < this.end && /\d/.test(this.text[at + n]!)) n++;
    if (n < min) this.#fail(`expected ${what}`, at);
    this.#pos += n;
    return Number(this.text.slice(at, at + n));
  }

  #expect(chars: string, what: string): string {
    const c = this.text[this.#pos];
    if (this.#done() || c === undefined || !chars.includes(c)) this.#fail(`expected ${what}`);
    this.#pos++;
    return c;
  }

  #range(v: number, lo: number, hi: number, what: string, at: number): void {
    if (v < lo || v > hi) this.#fail(`${what} must be from ${lo} to ${hi}`, at);
  }

  /** ms since the epoch. */
  scan(): number {
    const year = this.#digits(4, 4, 'a 4-digit year (2024-05-01T10:00:00Z or 2024/05/01.10:00:00)');
    const sep = this.#expect('-/', '"-" (ISO 8601) or "/" (nfdump) after the year');
    const iso = sep === '-';
    let at = this.#pos;
    const month = this.#digits(iso ? 2 : 1, 2, 'the month');
    this.#range(month, 1, 12, 'the month', at);
    this.#expect(sep, `"${sep}" after the month`);
    at = this.#pos;
    const day = this.#digits(iso ? 2 : 1, 2, 'the day');
    this.#range(day, 1, new Date(Date.UTC(year, month, 0)).getUTCDate(), 'the day', at);
    let hour = 0;
    let minute = 0;
    let second = 0;
    let ms = 0;
    let offsetMin = 0;
    if (!this.#done()) {
      this.#expect(iso ? 'T ' : '.', iso ? '"T" before the time of day' : '"." before the time of day');
      at = this.#pos;
      hour = this.#digits(iso ? 2 : 1, 2, 'the hour');
      this.#range(hour, 0, 23, 'the hour', at);
      if (!this.#done() && this.text[this.#pos] === ':') {
        this.#pos++;
        at = this.#pos;
        minute = this.#digits(iso ? 2 : 1, 2, 'the minutes');
        this.#range(minute, 0, 59, 'the minutes', at);
        if (!this.#done() && this.text[this.#pos] === ':') {
          this.#pos++;
          at = this.#pos;
          second = this.#digits(iso ? 2 : 1, 2, 'the seconds');
          this.#range(second, 0, 59, 'the seconds', at);
          if (iso && !this.#done() && this.text[this.#pos] === '.') {
            this.#pos++;
            const fracAt = this.#pos;
            this.#digits(1, 9, 'digits of a fraction of a second');
            ms = Math.floor(Number(`0.${this.text.slice(fracAt, this.#pos)}`) * 1000);
          }
        }
      }
      if (iso && !this.#done()) offsetMin = this.#offset();
    }
    if (!this.#done()) this.#fail(`unexpected "${this.text[this.#pos]}"`);
    return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
  }

  /** "Z", "+hh:mm", "+hhmm", "+hh" (minutes east of UTC). */
  #offset(): number {
    const c = this.#expect('Zz+-', 'an offset (Z, +hh:mm or -hh:mm) or the end of the time');
    if (c === 'Z' || c === 'z') return 0;
    let at = this.#pos;
    const h = this.#digits(2, 2, 'the offset hours');
    this.#range(h, 0, 23, 'the offset hours', at);
    let m = 0;
    if (!this.#done()) {
      if (this.text[this.#pos] === ':') this.#pos++;
      at = this.#pos;
      m = this.#digits(2, 2, 'the offset minutes');
      this.#range(m, 0, 59, 'the offset minutes', at);
    }
    return (c === '-' ? -1 : 1) * (h * 60 + m);
  }
}

function scanTime(text: string, start: number, end: number): number | Problem {
  try {
    return new TimeScanner(text, start, end).scan();
  } catch (e) {
    if (typeof e === 'object' && e !== null && 'reason' in e) return e as Problem;
    throw e;
  }
}

function isProblem(v: number | Problem): v is Problem {
  return typeof v !== 'number';
}

/** Parses a -t window; `nowMs` anchors relative windows. Throws WindowError. */
export function parseWindow(text: string, nowMs: number = Date.now()): TimeWindow {
  if (text.startsWith('-')) {
    const m = /^-(\d+)([smhdw])$/i.exec(text);
    if (m === null) {
      const bad = /^-\d*/.exec(text)![0].length;
      const reason = bad === 1 ? 'expected a number after "-" (as in -1h, -30m, -7d)' : 'expected a unit s, m, h, d or w (as in -1h, -30m, -7d)';
      throw new WindowError(text, bad + 1, reason);
    }
    const span = Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
    if (span === 0) throw new WindowError(text, 2, 'a relative window must be longer than 0');
    return { fromMs: nowMs - span, toMs: nowMs };
  }
  if (text.length === 0) throw new WindowError(text, 1, 'expected a time window such as -1h or 2024-05-01T10:00:00Z/2024-05-01T11:00:00Z');
  const whole = scanTime(text, 0, text.length);
  if (!isProblem(whole)) return { fromMs: whole };
  // START/END or START-END: try each "/" and "-" as the separator; ISO and nfdump times contain
  // both, so the split is the one where both sides read as times.
  let worst: Problem = whole;
  for (let i = 1; i < text.length - 1; i++) {
    if (text[i] !== '/' && text[i] !== '-') continue;
    const from = scanTime(text, 0, i);
    const to = isProblem(from) ? from : scanTime(text, i + 1, text.length);
    if (!isProblem(from) && !isProblem(to)) {
      if (to <= from) throw new WindowError(text, i + 2, 'the end of the window is not after its start');
      return { fromMs: from, toMs: to };
    }
    const p = isProblem(from) ? from : (to as Problem);
    if (p.column > worst.column) worst = p;
  }
  throw new WindowError(text, worst.column, worst.reason);
}

/** "1m", "5m", "1h", "30s", "1d", "1w" -> ms. Throws WindowError. */
export function parseInterval(text: string): number {
  const m = /^(\d+)([smhdw])$/i.exec(text);
  if (m === null) {
    const digits = /^\d*/.exec(text)![0].length;
    throw new WindowError(text, digits + 1, digits === 0 ? 'expected an interval such as 1m, 5m, 1h or 1d' : 'expected a unit s, m, h, d or w', 'interval');
  }
  const ms = Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
  if (ms === 0) throw new WindowError(text, 1, 'the interval must be longer than 0', 'interval');
  return ms;
}
