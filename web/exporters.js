// The exporters view: every exporter and observation domain collect has heard, with records/s,
// last seen, sampling, templates, drops by reason and sequence loss (/api/v1/exporters).
import { ago, count, span } from './format.js';
import { el } from './tables.js';

/** Drops by reason: "no-template 3, malformed 1", or "none". */
function byReason(map) {
  const parts = Object.entries(map ?? {}).filter(([, n]) => n > 0).map(([reason, n]) => `${reason} ${count(n)}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** Units lost: "12 records, 1 packets", or "none". */
function lostText(map) {
  const parts = Object.entries(map ?? {}).filter(([, n]) => n > 0).map(([unit, n]) => `${count(n)} ${unit}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

const anyOf = (map) => Object.values(map ?? {}).some((n) => n > 0);

/** "1:1000 (header)", distinct rates of the samplers. */
function sampling(map) {
  const parts = Object.entries(map ?? {}).map(([label, r]) => `1:${r} (${label})`);
  return parts.length > 0 ? parts.join(', ') : 'unsampled';
}

/** Units lost, all domains together: { records: 12 }. */
function lostOf(domains) {
  const out = {};
  for (const d of domains) for (const [u, n] of Object.entries(d.sequenceLost ?? {})) out[u] = (out[u] ?? 0) + n;
  return out;
}

/** Where the rows come from, and how old they are. */
export function sourceText(answer) {
  if (answer.source === 'collect') return 'Live, from this collect process.';
  if (answer.source === 'file') {
    const age = (answer.takenAgeMs ?? 0) + (answer.ageMs ?? 0);
    return `From collect's exporters.json (written every 5 s), ${ago(age)}${age > 30_000 ? ': is sluice collect still running on this store?' : '.'}`;
  }
  return 'No exporters.json beside the store yet: sluice collect writes it every 5 s while it runs (with --store, or --state).';
}

/** Fills `table` with the exporters answer. */
export function renderExporters(table, answer) {
  const head = el('thead');
  const hr = el('tr');
  for (const [text, cls] of [['exporter / domain', ''], ['records/s', 'num'], ['records', 'num'], ['last seen', ''], ['sampling', ''], ['templates', 'num'], ['drops', ''], ['sequence loss', ''], ['clock skew', 'num']]) hr.append(el('th', cls, text));
  head.append(hr);
  const body = el('tbody');
  // "Last seen" on the server's clock: from the rows' time to when they were taken, plus the answer's age since.
  const takenMs = answer.taken === null ? 0 : Date.parse(answer.taken);
  const since = (answer.takenAgeMs ?? 0) + (answer.ageMs ?? 0);
  const rows = [...answer.exporters].sort((a, b) => b.recordsPerSecond - a.recordsPerSecond || (a.exporter < b.exporter ? -1 : 1));
  for (const x of rows) {
    const tr = el('tr', 'exporter');
    const lost = lostOf(x.domains);
    tr.append(
      el('td', 'value', x.exporter),
      el('td', 'num', count(x.recordsPerSecond)),
      el('td', 'num', count(x.records)),
      el('td', '', x.lastSeenMs > 0 ? ago(Math.max(0, takenMs - x.lastSeenMs) + since) : '-'),
      el('td', '', x.domains.length === 1 ? sampling(x.domains[0].sampling) : `${x.domains.length} domains`),
      el('td', 'num', String(x.domains.reduce((n, d) => n + d.templates, 0))),
      el('td', anyOf(x.drops) ? 'bad' : '', byReason(x.drops)),
      el('td', anyOf(lost) ? 'bad' : '', lostText(lost)),
      el('td', 'num', x.clockSkewSeconds === null ? '-' : span(Math.abs(x.clockSkewSeconds) * 1000)),
    );
    body.append(tr);
    for (const d of x.domains) {
      const dr = el('tr', 'domain');
      dr.append(
        el('td', 'value', `domain ${d.domain}`),
        el('td', 'num', ''),
        el('td', 'num', count(d.records)),
        el('td', '', ''),
        el('td', '', sampling(d.sampling)),
        el('td', 'num', String(d.templates)),
        el('td', '', ''),
        el('td', anyOf(d.sequenceLost) ? 'bad' : '', `${lostText(d.sequenceLost)}${d.sequenceResets > 0 ? `; ${d.sequenceResets} resets` : ''}`),
        el('td', 'num', ''),
      );
      body.append(dr);
    }
  }
  if (rows.length === 0) {
    const tr = el('tr');
    const td = el('td', 'empty', 'No exporter heard from yet.');
    td.colSpan = 9;
    tr.append(td);
    body.append(tr);
  }
  table.replaceChildren(head, body);
}
