// The page: reads its state from the URL, asks the API, draws. Every control changes the state
// and pushes a new URL (so back, forward, bookmarks and shared links all work); render() then
// draws whatever the state says.
import { get, isCancelled } from './api.js';
import { TrafficChart } from './chart.js';
import { renderExporters, sourceText } from './exporters.js';
import { check, FilterBox } from './filter-box.js';
import { count, localInputValue, span } from './format.js';
import { customRange, DIMENSIONS, narrowFilter, RANGES, rangeBounds, readState, TOPS, UNITS, writeState } from './state.js';
import { el, renderColumnChooser, renderFlows, renderTop } from './tables.js';

const $ = (id) => document.getElementById(id);

let state = readState(location.search);
// The address in its one spelling (defaults left out), so equal views have equal URLs.
history.replaceState(null, '', `${location.pathname}${writeState(state)}`);

/** Moves to a new state: a new history entry (or the current one replaced), then draws it. */
function go(change, replace = false) {
  state = { ...state, ...change };
  const url = `${location.pathname}${writeState(state)}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

window.addEventListener('popstate', () => {
  state = readState(location.search);
  render();
});

const filterBox = new FilterBox($('filter'), $('filter-error'));
const chart = new TrafficChart($('chart'), $('readout'), {
  onPick: (band) => drill(band.filter),
  onRange: (fromMs, toMs) => go({ t: customRange(fromMs, toMs), offset: 0 }),
});

/** Narrows the filter to one value and lists its flows: the drill-down. */
function drill(filter) {
  if (filter === null) {
    message('"other" is every value outside the top: narrow the filter or show more values to pick one.');
    return;
  }
  go({ filter: narrowFilter(state.filter, filter), flows: true, offset: 0 });
}

function message(text) {
  const m = $('message');
  m.textContent = text;
  m.hidden = text === '';
}

function fail(e) {
  if (isCancelled(e)) return;
  message(e.message);
}

// --- controls, built once from the lists in state.js -----------------------------------------

for (const r of RANGES) {
  const b = el('button', 'range', r.label);
  b.type = 'button';
  b.dataset.t = r.t;
  b.addEventListener('click', () => go({ t: r.t, offset: 0 }));
  $('ranges').append(b);
}
const custom = el('button', 'range', 'custom');
custom.type = 'button';
custom.dataset.t = 'custom';
custom.addEventListener('click', () => $('from').focus());
$('ranges').append(custom);

const fill = (select, items) => select.replaceChildren(...items.map(([value, label]) => Object.assign(el('option', '', label), { value: String(value) })));
fill($('dim'), DIMENSIONS.map((d) => [d.key, d.label]));
fill($('unit'), UNITS.map((u) => [u.key, u.label]));
fill($('top'), TOPS.map((n) => [n, String(n)]));

$('dim').addEventListener('change', () => go({ dim: $('dim').value }));
$('unit').addEventListener('change', () => go({ unit: $('unit').value }));
$('top').addEventListener('change', () => go({ top: Number($('top').value) }));
$('filter').addEventListener('input', () => filterBox.watch(() => state.t));
$('query').addEventListener('submit', (e) => {
  e.preventDefault();
  const filter = $('filter').value.trim();
  check(filter, state.t).then((p) => {
    filterBox.show(p, true);
    if (p === null) go({ filter, offset: 0 });
  }, fail);
});
$('custom').addEventListener('submit', (e) => {
  e.preventDefault();
  const from = Date.parse($('from').value);
  const to = Date.parse($('to').value);
  if (!(to > from)) {
    message('The end of a custom range must be after its start.');
    return;
  }
  go({ t: customRange(from, to), offset: 0 });
});
$('show-flows').addEventListener('click', () => go({ flows: !state.flows, offset: 0 }));
$('newer').addEventListener('click', () => go({ offset: Math.max(0, state.offset - state.limit) }));
$('older').addEventListener('click', () => go({ offset: state.offset + state.limit }));
for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => go({ view: tab.dataset.view }));

// --- drawing ------------------------------------------------------------------------------------

/** The controls as the state says. */
function syncControls() {
  for (const tab of document.querySelectorAll('.tab')) tab.setAttribute('aria-selected', String(tab.dataset.view === state.view));
  $('traffic').hidden = state.view !== 'traffic';
  $('exporters').hidden = state.view !== 'exporters';
  const bounds = rangeBounds(state.t);
  for (const b of $('ranges').children) b.setAttribute('aria-pressed', String(b.dataset.t === state.t || (b.dataset.t === 'custom' && bounds !== null)));
  if (bounds !== null) {
    $('from').value = localInputValue(bounds.fromMs);
    $('to').value = localInputValue(bounds.toMs);
  }
  if (document.activeElement !== $('filter')) $('filter').value = state.filter;
  $('dim').value = state.dim;
  $('unit').value = state.unit;
  $('top').value = String(state.top);
  $('show-flows').setAttribute('aria-pressed', String(state.flows));
  $('flows').hidden = !state.flows;
  const dim = DIMENSIONS.find((d) => d.key === state.dim)?.label ?? state.dim;
  const range = RANGES.find((r) => r.t === state.t)?.label ?? 'custom range';
  $('chart-title').textContent = `Top ${state.top} by ${dim}, in ${UNITS.find((u) => u.key === state.unit)?.label}`;
  document.title = `sluice: ${dim}, ${range}${state.filter === '' ? '' : `, ${state.filter}`}`;
}

const timings = new Map();
function timing(name, answer) {
  timings.set(name, `${name} ${span(answer.durationMs)}${answer.cached ? ' (cached)' : ''}`);
  $('timing').textContent = `queries: ${[...timings.values()].join(' · ')}`;
}

async function loadTraffic() {
  const problem = await check(state.filter, state.t);
  filterBox.show(problem);
  if (problem !== null) {
    message('');
    return;
  }
  const params = { t: state.t, filter: state.filter, dim: state.dim, unit: state.unit, top: state.top };
  const series = get('series', params).then((a) => {
    timing('series', a);
    chart.draw(a, state.unit);
    // A relative range shows where it is now in the custom inputs, ready to adjust.
    if (rangeBounds(state.t) === null && a.window.from !== null && a.window.to !== null) {
      $('from').value = localInputValue(Date.parse(a.window.from));
      $('to').value = localInputValue(Date.parse(a.window.to));
    }
  });
  const top = get('top', params).then((a) => {
    timing('top', a);
    renderTop($('top-table'), a, state.unit, (row) => drill(row.filter));
  });
  const jobs = [series, top];
  if (state.flows) jobs.push(loadFlows());
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r) => r.status === 'rejected' && !isCancelled(r.reason));
  message(failed === undefined ? '' : failed.reason.message);
}

async function loadFlows() {
  const a = await get('flows', { t: state.t, filter: state.filter, limit: state.limit, offset: state.offset });
  timing('flows', a);
  renderFlows($('flows-table'), a, state.cols);
  renderColumnChooser($('columns'), a.fields, state.cols, (cols) => go({ cols }, true));
  $('flows-filter').textContent = state.filter === '' ? '(every flow in the range)' : state.filter;
  const first = a.rows.length === 0 ? 0 : a.offset + 1;
  $('flows-range').textContent = `${count(first)}–${count(a.offset + a.rows.length)} of ${count(a.matched)}, newest first`;
  $('newer').disabled = a.offset === 0;
  $('older').disabled = !a.more;
}

async function loadExporters() {
  const a = await get('exporters');
  timing('exporters', a);
  $('exporters-source').textContent = sourceText(a);
  renderExporters($('exporters-table'), a);
}

async function loadHealth() {
  const h = await get('health');
  const parts = [`${count(h.segments)} segments`, `${count(h.bytes, 'B')}`];
  if (h.ingestRowsPerSec !== null) parts.push(`${count(h.ingestRowsPerSec)} rows/s in`);
  if (h.retention === null) parts.push('retention: as collect keeps it');
  else {
    const r = [h.retention.maxAgeMs === null ? '' : span(h.retention.maxAgeMs), h.retention.maxBytes === null ? '' : count(h.retention.maxBytes, 'B')].filter((x) => x !== '');
    parts.push(`retention: ${r.length > 0 ? r.join(', ') : 'none'}`);
  }
  $('health').textContent = parts.join(' · ');
  $('health').title = `store ${h.dir} (${h.source === 'writer' ? 'written by this process' : 'read from disk'})`;
}

function render() {
  syncControls();
  timings.clear();
  const shown = writeState(state);
  // body[data-shown] names the state on screen once its answers are drawn (for people's scripts and the tests).
  (state.view === 'traffic' ? loadTraffic() : loadExporters()).then(() => {
    if (writeState(state) === shown) document.body.dataset.shown = shown;
  }, fail);
  loadHealth().catch(fail);
}

// A relative range follows the clock: redrawn every minute while the page is looked at.
setInterval(() => {
  if (document.visibilityState === 'visible' && (rangeBounds(state.t) === null || state.view === 'exporters')) render();
}, 60_000);

render();
