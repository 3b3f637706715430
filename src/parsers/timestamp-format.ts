/**
 * The timestamp_format grammar of FlowLink's text parser, compiled once into a matcher.
 *
 *   yyyy yy          year (4 digits; 2 digits = 20yy)
 *   mmmm mmm mm      month: full name, 3-letter name (any case), 2-digit number
 *   dd _d            day of month: 2 digits; space-padded or unpadded (" 5", "5", "15")
 *   dddd ddd         weekday: full or 3-letter name (checked to be a weekday, otherwise ignored)
 *   HH MM SS         hour, minute, second; SS.000… takes as many fraction digits as zeros
 *                    (a ',' before them matches too)
 *   ZZZ              zone abbreviation (UTC, GMT, Z, and the North American and central European ones)
 *   -HH -HH:MM -HHMM numeric offset, signed + or -
 *   ZHH ZHH:MM ZHHMM the same, or a literal Z for UTC (ISO 8601)
 *   unix             seconds since the epoch, optionally with a fraction (13+ digits: milliseconds)
 *
 * Any other character matches itself; a space matches one or more blanks. Without a year the
 * current year is assumed (the one that does not put the time more than a day into the future, as
 * syslog readers do); without a zone, UTC.
 */
import { SluiceError } from '../util/errors.js';

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
/** Offsets in minutes of the zone abbreviations accepted by ZZZ. */
const ZONES: Readonly<Record<string, number>> = {
  UTC: 0, GMT: 0, UT: 0, Z: 0,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420, AKST: -540, AKDT: -480, HST: -600,
  WET: 0, WEST: 60, BST: 60, CET: 60, CEST: 120, EET: 120, EEST: 180, IST: 330, JST: 540, AEST: 600, AEDT: 660,
};

type Tok =
  | { t: 'lit'; s: string }
  | { t: 'space' }
  | { t: 'year4' | 'year2' | 'monthName' | 'month2' | 'day2' | 'dayPad' | 'weekday' | 'hour' | 'minute' | 'zoneName' | 'unix' }
  | { t: 'second'; frac: number }
  | { t: 'offset'; z: boolean; colon: 'yes' | 'no' | 'hours' };

/** Format tokens, longest first so `mmmm` wins over `mmm` and `mm`. */
const TOKENS: ReadonlyArray<readonly [string, Tok]> = [
  ['yyyy', { t: 'year4' }],
  ['yy', { t: 'year2' }],
  ['mmmm', { t: 'monthName' }],
  ['mmm', { t: 'monthName' }],
  ['mm', { t: 'month2' }],
  ['dddd', { t: 'weekday' }],
  ['ddd', { t: 'weekday' }],
  ['dd', { t: 'day2' }],
  ['_d', { t: 'dayPad' }],
  ['HH', { t: 'hour' }],
  ['MM', { t: 'minute' }],
  ['ZZZ', { t: 'zoneName' }],
  ['ZHH:MM', { t: 'offset', z: true, colon: 'yes' }],
  ['ZHHMM', { t: 'offset', z: true, colon: 'no' }],
  ['ZHH', { t: 'offset', z: true, colon: 'hours' }],
  ['-HH:MM', { t: 'offset', z: false, colon: 'yes' }],
  ['-HHMM', { t: 'offset', z: false, colon: 'no' }],
  ['-HH', { t: 'offset', z: false, colon: 'hours' }],
  ['unix', { t: 'unix' }],
];

export interface TimestampFormat {
  readonly text: string;
  /** ms since the epoch, or NaN when `s` does not match. `nowMs` decides the year when the format has none. */
  parse(s: string, nowMs?: number): number;
}

/** Compiles a format; throws an Error naming the position of anything it cannot use. */
export function compileTimestampFormat(format: string): TimestampFormat {
  const toks: Tok[] = [];
  let i = 0;
  const seen = new Set<string>();
  while (i < format.length) {
    if (format.startsWith('SS', i)) {
      i += 2;
      let frac = 0;
      if ((format[i] === '.' || format[i] === ',') && format[i + 1] === '0') {
        i++;
        while (format[i] === '0') (frac++, i++);
      }
      toks.push({ t: 'second', frac });
      seen.add('second');
      continue;
    }
    const hit = TOKENS.find(([k]) => format.startsWith(k, i));
    if (hit !== undefined) {
      toks.push(hit[1]);
      seen.add(hit[1].t);
      i += hit[0].length;
      continue;
    }
    const c = format[i]!;
    if (c === ' ' || c === '\t') {
      while (format[i] === ' ' || format[i] === '\t') i++;
      toks.push({ t: 'space' });
      continue;
    }
    if (/[A-Za-z]/.test(c) && c !== 'T' && c !== 'Z') {
      throw new SluiceError('config', `timestamp_format "${format}": "${format.slice(i)}" at position ${i + 1} is not a format token (yyyy yy mmmm mmm mm dd _d dddd ddd HH MM SS[.000] ZZZ -HH[:MM] -HHMM ZHH[:MM] ZHHMM unix)`);
    }
    const last = toks[toks.length - 1];
    if (last?.t === 'lit') last.s += c;
    else toks.push({ t: 'lit', s: c });
    i++;
  }
  if (seen.has('unix') && toks.some((t) => t.t !== 'unix' && t.t !== 'space' && t.t !== 'lit')) {
    throw new SluiceError('config', `timestamp_format "${format}": unix stands alone`);
  }
  if (!seen.has('unix') && !(seen.has('day2') || seen.has('dayPad')) && !seen.has('hour')) {
    throw new SluiceError('config', `timestamp_format "${format}": needs at least a day (dd or _d) and an hour (HH), or unix`);
  }
  const frozen = Object.freeze(toks);
  return { text: format, parse: (s, nowMs) => match(frozen, s, nowMs ?? Date.now()) };
}

function digits(s: string, p: number, n: number): number {
  if (p + n > s.length) return -1;
  let v = 0;
  for (let k = 0; k < n; k++) {
    const d = s.charCodeAt(p + k) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function word(s: string, p: number): string {
  let e = p;
  while (e < s.length && /[A-Za-z]/.test(s[e]!)) e++;
  return s.slice(p, e);
}

function nameIndex(names: readonly string[], w: string): number {
  const l = w.toLowerCase();
  if (l.length < 3) return -1;
  return names.findIndex((n) => n === l || (l.length === 3 && n.startsWith(l)));
}

function match(toks: readonly Tok[], s: string, nowMs: number): number {
  let p = 0;
  let year = -1;
  let month = 0;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let ms = 0;
  let offset = 0;
  for (const tok of toks) {
    switch (tok.t) {
      case 'lit':
        if (!s.startsWith(tok.s, p)) return NaN;
        p += tok.s.length;
        break;
      case 'space': {
        const p0 = p;
        while (s[p] === ' ' || s[p] === '\t') p++;
        if (p === p0) return NaN;
        break;
      }
      case 'year4':
        if ((year = digits(s, p, 4)) < 0) return NaN;
        p += 4;
        break;
      case 'year2': {
        const y = digits(s, p, 2);
        if (y < 0) return NaN;
        year = 2000 + y;
        p += 2;
        break;
      }
      case 'monthName': {
        const w = word(s, p);
        const m = nameIndex(MONTHS, w);
        if (m < 0) return NaN;
        month = m;
        p += w.length;
        break;
      }
      case 'month2': {
        const m = digits(s, p, 2);
        if (m < 1 || m > 12) return NaN;
        month = m - 1;
        p += 2;
        break;
      }
      case 'weekday': {
        const w = word(s, p);
        if (nameIndex(WEEKDAYS, w) < 0) return NaN;
        p += w.length;
        break;
      }
      case 'day2':
        if ((day = digits(s, p, 2)) < 1 || day > 31) return NaN;
        p += 2;
        break;
      case 'dayPad': {
        if (s[p] === ' ') p++;
        let d = digits(s, p, 2);
        if (d >= 0) p += 2;
        else if ((d = digits(s, p, 1)) >= 0) p += 1;
        if (d < 1 || d > 31) return NaN;
        day = d;
        break;
      }
      case 'hour':
        if ((hour = digits(s, p, 2)) < 0 || hour > 23) return NaN;
        p += 2;
        break;
      case 'minute':
        if ((minute = digits(s, p, 2)) < 0 || minute > 59) return NaN;
        p += 2;
        break;
      case 'second': {
        if ((second = digits(s, p, 2)) < 0 || second > 60) return NaN;
        p += 2;
        if (tok.frac > 0) {
          if (s[p] !== '.' && s[p] !== ',') return NaN;
          const f = digits(s, p + 1, tok.frac);
          if (f < 0) return NaN;
          ms = f / 10 ** (tok.frac - 3);
          p += 1 + tok.frac;
        }
        break;
      }
      case 'zoneName': {
        let e = p;
        while (e < s.length && /[A-Za-z]/.test(s[e]!)) e++;
        const z = ZONES[s.slice(p, e).toUpperCase()];
        if (z === undefined) return NaN;
        offset = z;
        p = e;
        break;
      }
      case 'offset': {
        if (tok.z && s[p] === 'Z') {
          p++;
          offset = 0;
          break;
        }
        const sign = s[p] === '+' ? 1 : s[p] === '-' ? -1 : 0;
        if (sign === 0) return NaN;
        const h = digits(s, p + 1, 2);
        if (h < 0 || h > 23) return NaN;
        p += 3;
        let m = 0;
        if (tok.colon === 'yes' || (tok.colon === 'hours' && s[p] === ':')) {
          // -HH[:MM]: the minutes are optional
          if (s[p] === ':') {
            if ((m = digits(s, p + 1, 2)) < 0) return NaN;
            p += 3;
          }
        } else if (tok.colon === 'no') {
          if ((m = digits(s, p, 2)) < 0) return NaN;
          p += 2;
        }
        offset = sign * (h * 60 + m);
        break;
      }
      case 'unix': {
        const m = /^(\d+)(?:\.(\d+))?/.exec(s.slice(p));
        if (m === null) return NaN;
        p += m[0].length;
        const whole = Number(m[1]);
        if (m[1]!.length >= 13) return whole; // milliseconds
        return whole * 1000 + (m[2] ? Math.round(Number(`0.${m[2]}`) * 1000) : 0);
      }
    }
  }
  let y = year;
  if (y < 0) {
    // Syslog (RFC 3164) has no year: take the one that does not put the time in the future.
    y = new Date(nowMs).getUTCFullYear();
    const t = Date.UTC(y, month, day, hour, minute, second) + ms - offset * 60_000;
    if (t > nowMs + 86_400_000) y--;
  }
  const t = Date.UTC(y, month, day, hour, minute, second) + ms;
  // Reject dates that rolled over (31 Feb).
  if (new Date(t).getUTCDate() !== day) return NaN;
  return t - offset * 60_000;
}
