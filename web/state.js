// The page's whole state, and its one home: the URL's query string. A view is bookmarked or
// shared by its address; back and forward walk through the views. No DOM here (tested in Node).

/** Time ranges of the picker, in `sluice query -t` syntax (the API's `t`). */
export const RANGES = [
  { t: '-15m', label: '15 min' },
  { t: '-1h', label: '1 h' },
  { t: '-6h', label: '6 h' },
  { t: '-24h', label: '24 h' },
  { t: '-7d', label: '7 d' },
];

/** Dimensions of the picker: the API's `dim` (sluice query -s elements) with what people call them. */
export const DIMENSIONS = [
  { key: 'srcip', label: 'source address' },
  { key: 'dstip', label: 'destination address' },
  { key: 'srcport', label: 'source port' },
  { key: 'dstport', label: 'destination port' },
  { key: 'proto', label: 'protocol' },
  { key: 'srcas', label: 'source AS' },
  { key: 'dstas', label: 'destination AS' },
  { key: 'inif', label: 'input interface' },
  { key: 'outif', label: 'output interface' },
  { key: 'exporter', label: 'exporter' },
];

export const UNITS = [
  { key: 'bps', label: 'bits/s' },
  { key: 'pps', label: 'packets/s' },
  { key: 'flows', label: 'flows/s' },
];

export const TOPS = [5, 10, 20];
export const VIEWS = ['traffic', 'exporters'];
export const PAGE_SIZES = [25, 50, 100, 200];

/** The flow columns shown until the operator picks others. */
export const DEFAULT_COLUMNS = ['time_end', 'duration_ms', 'proto_name', 'src_addr', 'src_port', 'dst_addr', 'dst_port', 'flags_text', 'scaled_packets', 'scaled_bytes', 'exporter'];

export const DEFAULTS = Object.freeze({
  view: 'traffic',
  t: '-1h',
  filter: '',
  dim: 'srcip',
  unit: 'bps',
  top: 10,
  flows: false,
  offset: 0,
  limit: 50,
  cols: DEFAULT_COLUMNS,
});

const oneOf = (v, list, dflt) => (list.includes(v) ? v : dflt);
const whole = (v, min, max, dflt) => (/^\d+$/.test(v ?? '') && Number(v) >= min && Number(v) <= max ? Number(v) : dflt);

/** The state a query string says; anything missing or unknown takes its default. */
export function readState(search) {
  const q = new URLSearchParams(search);
  const cols = (q.get('cols') ?? '').split(',').filter((c) => /^[a-z_]+$/.test(c));
  return {
    view: oneOf(q.get('view'), VIEWS, DEFAULTS.view),
    t: q.get('t') || DEFAULTS.t,
    filter: q.get('filter') ?? DEFAULTS.filter,
    dim: oneOf(q.get('dim'), DIMENSIONS.map((d) => d.key), DEFAULTS.dim),
    unit: oneOf(q.get('unit'), UNITS.map((u) => u.key), DEFAULTS.unit),
    top: whole(q.get('top'), 1, 50, DEFAULTS.top),
    flows: q.get('flows') === '1',
    offset: whole(q.get('offset'), 0, 1e9, DEFAULTS.offset),
    limit: oneOf(whole(q.get('limit'), 1, 1000, DEFAULTS.limit), PAGE_SIZES, DEFAULTS.limit),
    cols: cols.length > 0 ? cols : DEFAULTS.cols,
  };
}

/** The query string of a state: only what differs from the defaults, in a fixed order. */
export function writeState(s) {
  const q = new URLSearchParams();
  if (s.view !== DEFAULTS.view) q.set('view', s.view);
  if (s.t !== DEFAULTS.t) q.set('t', s.t);
  if (s.filter !== '') q.set('filter', s.filter);
  if (s.dim !== DEFAULTS.dim) q.set('dim', s.dim);
  if (s.unit !== DEFAULTS.unit) q.set('unit', s.unit);
  if (s.top !== DEFAULTS.top) q.set('top', String(s.top));
  if (s.flows) q.set('flows', '1');
  if (s.offset !== 0) q.set('offset', String(s.offset));
  if (s.limit !== DEFAULTS.limit) q.set('limit', String(s.limit));
  if (s.cols.join(',') !== DEFAULTS.cols.join(',')) q.set('cols', s.cols.join(','));
  const text = q.toString();
  return text === '' ? '' : `?${text}`;
}

/** `base` narrowed by `extra` (both filter texts): what a drill-down click makes. */
export function narrowFilter(base, extra) {
  const b = base.trim();
  if (b === '') return extra;
  // `and` binds tighter than `or`: a base with an `or` in it goes in parentheses.
  return /\bor\b|\|\|/i.test(b) ? `(${b}) and ${extra}` : `${b} and ${extra}`;
}

/** A custom range as `t`: two instants (ms) as ISO 8601 START/END. */
export function customRange(fromMs, toMs) {
  return `${new Date(fromMs).toISOString()}/${new Date(toMs).toISOString()}`;
}

/** The two instants of a custom `t` (ISO START/END), or null for a relative one. */
export function rangeBounds(t) {
  const m = /^(\d{4}-\d\d-\d\dT[^/]+)\/(\d{4}-\d\d-\d\dT[^/]+)$/.exec(t);
  if (m === null) return null;
  const from = Date.parse(m[1]);
  const to = Date.parse(m[2]);
  return Number.isFinite(from) && Number.isFinite(to) ? { fromMs: from, toMs: to } : null;
}
