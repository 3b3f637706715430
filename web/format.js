// Numbers, rates and times as the page shows them (1000-based units, as `sluice query` prints).

const PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** 1234 -> "1.23 k", 0.5 -> "0.5"; three significant digits. */
export function si(n) {
  if (!Number.isFinite(n)) return '-';
  let v = Math.abs(n);
  let p = 0;
  while (v >= 999.5 && p < PREFIXES.length - 1) {
    v /= 1000;
    p++;
  }
  const digits = v >= 100 || (p === 0 && Number.isInteger(v)) ? 0 : v >= 10 ? 1 : 2;
  const text = v.toFixed(digits);
  return `${n < 0 ? '-' : ''}${text}${PREFIXES[p] === '' ? '' : ` ${PREFIXES[p]}`}`;
}

const RATE_UNITS = { bps: 'b/s', pps: 'p/s', flows: 'flows/s' };

/** A rate in the page's unit: "1.23 Mb/s", "12.0 kp/s", "3 flows/s". */
export function rate(n, unit) {
  const text = si(n);
  const u = RATE_UNITS[unit] ?? unit;
  return /[a-zA-Z]$/.test(text) ? `${text}${u}` : `${text} ${u}`;
}

/** A count: "1.23 M"; bytes: "1.23 MB". */
export function count(n, suffix = '') {
  const text = si(n);
  return suffix === '' ? text : /[a-zA-Z]$/.test(text) ? `${text}${suffix}` : `${text} ${suffix}`;
}

/** "45.1 %" of a share from 0 to 1. */
export function percent(share) {
  return `${(share * 100).toFixed(1)} %`;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** A time in the browser's zone: "2024-05-01 10:00:00" (with ".123" when `ms`). */
export function localTime(ms, withMs = false) {
  const d = new Date(ms);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMs ? `${text}.${pad(d.getMilliseconds(), 3)}` : text;
}

/** How long ago: "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

/** A length of time: "850 ms", "12.3 s", "4 min", "30 d". */
export function span(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

/** The value `datetime-local` inputs take for an instant, in the browser's zone. */
export function localInputValue(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
