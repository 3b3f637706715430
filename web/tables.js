// The top-N table beside the chart, and the table of individual flows. Cells are filled with
// textContent only: flow data is never read as HTML.
import { colourOf, OTHER_COLOUR } from './chart.js';
import { count, localTime, percent, span } from './format.js';

/** An element with a class and text. */
export function el(tag, className = '', text = '') {
  const e = document.createElement(tag);
  if (className !== '') e.className = className;
  if (text !== '') e.textContent = text;
  return e;
}

/** Elements that count each flow under both its source and destination value: their shares add up to 200 %. */
const BOTH_SIDES = new Set(['ip', 'port', 'as', 'if']);

/** The counter of a unit, as named in the API's rows and totals. */
const MEASURE = { bps: 'bytes', pps: 'packets', flows: 'flows' };

/**
 * Fills `table` with /api/v1/top's answer: one row per value (its colour as in the chart), the
 * rest as "other", and the totals; a click on a row with a filter calls `onPick(row)`.
 */
export function renderTop(table, answer, unit, onPick) {
  const measure = MEASURE[unit];
  const head = el('thead');
  const hr = el('tr');
  for (const [text, cls] of [['', 'swatch'], [answer.dim, ''], ['share', 'num'], ['bytes', 'num'], ['packets', 'num'], ['flows', 'num']]) hr.append(el('th', cls, text));
  head.append(hr);
  const body = el('tbody');
  const row = (cells, colour) => {
    const tr = el('tr');
    const sw = el('td', 'swatch');
    if (colour !== null) {
      const dot = el('span', 'dot');
      dot.style.background = colour;
      sw.append(dot);
    }
    tr.append(sw, ...cells);
    return tr;
  };
  const numbers = (r) => [el('td', 'num', count(r.bytes, 'B')), el('td', 'num', count(r.packets)), el('td', 'num', count(r.flows))];
  answer.rows.forEach((r, i) => {
    const name = el('td', 'value', r.label);
    name.title = r.filter ?? 'flows that did not carry this element';
    const tr = row([name, shareCell(r.share), ...numbers(r)], colourOf(i));
    if (r.filter !== null) {
      tr.classList.add('pickable');
      tr.tabIndex = 0;
      tr.addEventListener('click', () => onPick(r));
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') onPick(r);
      });
    }
    body.append(tr);
  });
  const t = answer.totals;
  const foot = el('tfoot');
  if (!BOTH_SIDES.has(answer.dim)) {
    const rest = { bytes: t.bytes, packets: t.packets, flows: t.flows };
    for (const r of answer.rows) for (const k of Object.keys(rest)) rest[k] -= r[k];
    if (rest.flows > 0) foot.append(row([el('td', 'value', 'other'), shareCell(t[measure] > 0 ? rest[measure] / t[measure] : 0), ...numbers(rest)], OTHER_COLOUR));
  }
  foot.append(row([el('td', 'value', 'total'), el('td', 'num', t[measure] > 0 ? percent(1) : '-'), ...numbers(t)], null));
  table.replaceChildren(head, body, foot);
}

function shareCell(share) {
  const td = el('td', 'num share');
  const bar = el('span', 'bar');
  bar.style.width = `${Math.min(100, Math.max(0, share * 100)).toFixed(1)}%`;
  td.append(bar, el('span', '', percent(share)));
  return td;
}

/** A flow cell's text: times in the browser's zone, counters in units, the rest as stored. */
export function cellText(name, v) {
  if (v === null || v === undefined) return '';
  if (name.startsWith('time_')) return localTime(Date.parse(v), true);
  if (name === 'duration_ms') return span(v);
  if (name === 'bytes' || name === 'scaled_bytes') return count(v, 'B');
  if (name === 'packets' || name === 'scaled_packets') return count(v);
  return String(v);
}

/** Short headers for the flow columns the page shows by default. */
const HEADERS = {
  time_end: 'end', time_start: 'start', time_received: 'received', duration_ms: 'duration', proto_name: 'proto', src_addr: 'source', src_port: 'sport', dst_addr: 'destination',
  dst_port: 'dport', flags_text: 'flags', scaled_packets: 'packets', scaled_bytes: 'bytes', packets: 'packets (exported)', bytes: 'bytes (exported)',
};

/** Fills `table` with /api/v1/flows' rows, the columns `cols` (names of its fields). */
export function renderFlows(table, answer, cols) {
  const fields = new Map(answer.fields.map((f) => [f.name, f]));
  const shown = cols.filter((c) => fields.has(c));
  const hr = el('tr');
  for (const c of shown) {
    const th = el('th', '', HEADERS[c] ?? c);
    th.title = `${c}: ${fields.get(c).doc}`;
    hr.append(th);
  }
  const head = el('thead');
  head.append(hr);
  const body = el('tbody');
  for (const r of answer.rows) {
    const tr = el('tr');
    for (const c of shown) {
      const td = el('td', typeof r[c] === 'number' ? 'num' : '', cellText(c, r[c]));
      if (c === 'extra' && r[c] !== null) td.title = r[c];
      tr.append(td);
    }
    body.append(tr);
  }
  if (answer.rows.length === 0) {
    const tr = el('tr');
    const td = el('td', 'empty', 'No flows match.');
    td.colSpan = Math.max(1, shown.length);
    tr.append(td);
    body.append(tr);
  }
  table.replaceChildren(head, body);
}

/** The column chooser: a checkbox per field; `onChange(cols)` with the new list (a column checked goes last). */
export function renderColumnChooser(box, fields, cols, onChange) {
  const chosen = new Set(cols);
  box.replaceChildren(
    ...fields.map((f) => {
      const label = el('label');
      const cb = el('input');
      cb.type = 'checkbox';
      cb.value = f.name;
      cb.checked = chosen.has(f.name);
      cb.addEventListener('change', () => {
        const next = cb.checked ? [...cols.filter((n) => n !== f.name), f.name] : cols.filter((n) => n !== f.name);
        onChange(next.length > 0 ? next : [f.name]);
      });
      label.title = f.doc;
      label.append(cb, ` ${f.name}`);
      return label;
    }),
  );
}
