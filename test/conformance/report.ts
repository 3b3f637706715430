/**
 * Classifies the outcomes against the documented lists and renders them: the console summary the test prints
 * and test/conformance/REPORT.md. Output is deterministic (no dates, stable order) so a regenerated report
 * only changes when results do.
 */
import type { Outcome, Tally } from './compare.js';
import { SOURCES, type SourceName } from './corpus.js';
import { ALL_KNOWN, explain, type Category, type KnownDisagreement } from './errata.js';
import type { Disagreement, Reference } from './model.js';
import type { SequenceResult } from './run.js';

export interface Classified {
  readonly d: Disagreement;
  readonly category?: Category;
  readonly entry?: KnownDisagreement;
}

export type SequenceStatus = 'pass' | 'documented' | 'fail' | 'unsupported';

export interface SequenceVerdict {
  readonly result: SequenceResult;
  readonly status: SequenceStatus;
  readonly classified: readonly Classified[];
}

export function classify(result: SequenceResult): SequenceVerdict {
  const classified: Classified[] = result.outcomes.flatMap((o) => o.disagreements.map((d) => ({ d, ...explain(d) })));
  const status: SequenceStatus = result.unsupported
    ? 'unsupported'
    : classified.some((c) => c.category === undefined)
      ? 'fail'
      : classified.length > 0
        ? 'documented'
        : 'pass';
  return { result, status, classified };
}

const add = (a: Tally, b: Tally): void => {
  a.compared += b.compared;
  a.matched += b.matched;
};
const frac = (t: Tally): string => `${t.matched}/${t.compared}`;

interface SourceRow {
  readonly source: SourceName;
  sequences: number;
  pass: number;
  documented: number;
  fail: number;
  unsupported: number;
  readonly golden: { records: Tally; fields: Tally };
  readonly tshark: { records: Tally; fields: Tally };
  readonly byCategory: Record<Category, number>;
}

function sourceRows(verdicts: readonly SequenceVerdict[]): SourceRow[] {
  return SOURCES.map((source) => {
    const row: SourceRow = {
      source,
      sequences: 0,
      pass: 0,
      documented: 0,
      fail: 0,
      unsupported: 0,
      golden: { records: { compared: 0, matched: 0 }, fields: { compared: 0, matched: 0 } },
      tshark: { records: { compared: 0, matched: 0 }, fields: { compared: 0, matched: 0 } },
      byCategory: { 'sluice-bug': 0, 'golden-erratum': 0, convention: 0 },
    };
    for (const v of verdicts) {
      if (v.result.seq.source !== source) continue;
      row.sequences++;
      row[v.status]++;
      for (const o of v.result.outcomes) {
        const side = o.ref === 'tshark' ? row.tshark : row.golden;
        add(side.records, o.records);
        add(side.fields, o.fields);
      }
      for (const c of v.classified) if (c.category !== undefined) row.byCategory[c.category]++;
    }
    return row;
  });
}

/** Entries of the documented lists that matched nothing in this run (fixed bugs, outdated errata). */
export function staleEntries(verdicts: readonly SequenceVerdict[]): Array<{ category: Category; entry: KnownDisagreement }> {
  const used = new Set<KnownDisagreement>();
  for (const v of verdicts) for (const c of v.classified) if (c.entry !== undefined) used.add(c.entry);
  const ran = new Set(verdicts.filter((v) => v.status !== 'unsupported').map((v) => v.result.seq.id));
  const out: Array<{ category: Category; entry: KnownDisagreement }> = [];
  for (const { category, entries } of ALL_KNOWN) {
    for (const entry of entries) {
      // An entry about a sequence that was not compared this run (sFlow without a decoder) is not stale.
      const applies = [...ran].some((id) => (typeof entry.seq === 'string' ? entry.seq === id : entry.seq.test(id)));
      if (applies && !used.has(entry)) out.push({ category, entry });
    }
  }
  return out;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
}

function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [pad(head, widths), pad(widths.map((w) => '-'.repeat(w)), widths), ...rows.map((r) => pad(r, widths))].join('\n');
}

function mdTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [`| ${head.map(esc).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

const SUMMARY_HEAD = ['source', 'sequences', 'pass', 'documented', 'FAIL', 'not supported', 'golden records', 'golden fields', 'tshark records', 'tshark fields', 'bugs/errata/conv.'];

function summaryRows(verdicts: readonly SequenceVerdict[]): string[][] {
  return sourceRows(verdicts).map((r) => [
    r.source,
    String(r.sequences),
    String(r.pass),
    String(r.documented),
    String(r.fail),
    r.unsupported === 0 ? '0' : `${r.unsupported} (sFlow)`,
    frac(r.golden.records),
    frac(r.golden.fields),
    frac(r.tshark.records),
    frac(r.tshark.fields),
    `${r.byCategory['sluice-bug']}/${r.byCategory['golden-erratum']}/${r.byCategory.convention}`,
  ]);
}

function occurrences(verdicts: readonly SequenceVerdict[], category: Category): Map<KnownDisagreement, Classified[]> {
  const m = new Map<KnownDisagreement, Classified[]>();
  for (const v of verdicts) {
    for (const c of v.classified) {
      if (c.category !== category || c.entry === undefined) continue;
      const list = m.get(c.entry) ?? [];
      list.push(c);
      m.set(c.entry, list);
    }
  }
  return m;
}

function describe(d: Disagreement): string {
  const key = d.key === '' ? '' : ` [${d.key}]`;
  return `${d.ref} ${d.seq} ${d.record} ${d.field}${key}: expected ${d.expected}, sluice ${d.got}`;
}

/** The console summary: per-source table, loud list of known sluice bugs, every undocumented disagreement. */
export function consoleSummary(verdicts: readonly SequenceVerdict[]): string {
  const lines: string[] = ['', 'Corpus conformance (sluice vs logstash-codec-netflow, elastic-flowbeat, telegraf goldens and tshark)', ''];
  lines.push(textTable(SUMMARY_HEAD, summaryRows(verdicts)));
  lines.push('', 'records/fields: matched/compared; documented disagreements are not counted as matched.');
  const bugs = occurrences(verdicts, 'sluice-bug');
  if (bugs.size > 0) {
    lines.push('', '!!!!!!!! KNOWN SLUICE BUGS (documented in test/conformance/errata.ts, not failing the test) !!!!!!!!');
    for (const [entry, list] of bugs) {
      lines.push(`!! ${entry.summary} — ${list.length} occurrence(s) in ${[...new Set(list.map((c) => c.d.seq))].join(', ')}`);
      lines.push(`!!   ${entry.reason}`);
    }
  }
  const other = [...occurrences(verdicts, 'golden-erratum'), ...occurrences(verdicts, 'convention')];
  lines.push('', `Documented reference errata and convention differences: ${other.length} entries, ${other.reduce((n, [, l]) => n + l.length, 0)} occurrences (see REPORT.md).`);
  const stale = staleEntries(verdicts);
  for (const { category, entry } of stale) {
    lines.push(`${category === 'sluice-bug' ? '!! FIXED? ' : 'note: '}${category} entry matched nothing this run, remove it from errata.ts: ${String(entry.ref)} ${String(entry.seq)} ${String(entry.field)}`);
  }
  const unexplained = verdicts.flatMap((v) => v.classified.filter((c) => c.category === undefined));
  if (unexplained.length > 0) {
    lines.push('', `UNDOCUMENTED DISAGREEMENTS (${unexplained.length}):`);
    for (const c of unexplained) lines.push(`  ${describe(c.d)}`);
  }
  return lines.join('\n');
}

function skippedByRef(verdicts: readonly SequenceVerdict[]): Map<Reference, Map<string, { reason: string; seqs: number }>> {
  const out = new Map<Reference, Map<string, { reason: string; seqs: number }>>();
  for (const v of verdicts) {
    for (const o of v.result.outcomes) {
      const m = out.get(o.ref) ?? new Map<string, { reason: string; seqs: number }>();
      out.set(o.ref, m);
      for (const [name, reason] of o.skipped) {
        const e = m.get(name);
        if (e === undefined) m.set(name, { reason, seqs: 1 });
        else e.seqs++;
      }
    }
  }
  return out;
}

function outcomeCell(o: Outcome | undefined): string {
  return o === undefined ? '—' : `${frac(o.records)} rec, ${frac(o.fields)} fields`;
}

/** test/conformance/REPORT.md. */
export function markdownReport(verdicts: readonly SequenceVerdict[]): string {
  const out: string[] = [];
  out.push('# Corpus conformance report');
  out.push('');
  out.push(
    'Generated by `node --import tsx test/conformance.test.ts --write-report` (or `CONFORMANCE_WRITE_REPORT=1 npm test`) ' +
      'from the corpus copy in `test/fixtures/corpora/`. Do not edit by hand: change `test/conformance/errata.ts` or the ' +
      'loaders and regenerate.',
  );
  out.push('');
  out.push(
    'Every test sequence of `inventory.json` is decoded by sluice (`DecodeStage` and the IPFIXcol2 JSON formatter) and ' +
      'compared field by field with its source\'s golden and with the tshark decode. Upstream harnesses feed each raw ' +
      'payload file as one datagram, so the golden comparisons see only the first datagram of a netcat dump; the tshark ' +
      'comparison sees them all. "documented" = every disagreement is listed below; "pass" = none at all.',
  );
  out.push('');
  out.push('## Per source');
  out.push('');
  out.push(mdTable(SUMMARY_HEAD, summaryRows(verdicts)));
  out.push('');
  out.push('records / fields: matched / compared. A record matches when all its compared fields do; documented disagreements are not counted as matched.');

  const section = (title: string, category: Category, intro: string) => {
    const occ = occurrences(verdicts, category);
    out.push('', `## ${title}`, '', intro, '');
    if (occ.size === 0) {
      out.push('None.');
      return;
    }
    for (const [entry, list] of occ) {
      const seqs = [...new Set(list.map((c) => c.d.seq))];
      out.push(`### ${typeof entry.ref === 'string' ? entry.ref : entry.ref.join(', ')}: ${entry.summary}`, '');
      out.push(`Sequences: ${seqs.map((s) => `\`${s}\``).join(', ')}; ${list.length} occurrence(s).`, '');
      out.push(entry.reason, '');
      out.push(mdTable(['sequence', 'record', 'field', 'sluice key', 'expected', 'sluice'], list.slice(0, 8).map((c) => [c.d.seq, c.d.record, c.d.field, c.d.key, c.d.expected, c.d.got])));
      if (list.length > 8) out.push('', `… and ${list.length - 8} more of the same.`);
      out.push('');
    }
  };
  section('Known sluice bugs', 'sluice-bug', 'Sluice is wrong here (`KNOWN_SLUICE_BUGS`); the decoder owners should fix these.');
  section('Golden errata', 'golden-erratum', 'The reference is wrong here (`KNOWN_GOLDEN_ERRATA`), checked against the bytes and tshark.');
  section('Convention differences', 'convention', 'Malformed or ambiguous input, read differently on purpose (`KNOWN_CONVENTION_DIFFERENCES`).');

  const unexplained = verdicts.flatMap((v) => v.classified.filter((c) => c.category === undefined));
  out.push('', '## Undocumented disagreements', '');
  out.push(unexplained.length === 0 ? 'None.' : mdTable(['reference', 'sequence', 'record', 'field', 'sluice key', 'expected', 'sluice'], unexplained.map((c) => [c.d.ref, c.d.seq, c.d.record, c.d.field, c.d.key, c.d.expected, c.d.got])));

  out.push('', '## Fields not compared', '');
  out.push('Golden fields the comparison leaves out on purpose, with the reason and the number of sequences where they occur.', '');
  for (const [ref, m] of [...skippedByRef(verdicts)].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (m.size === 0) continue;
    out.push(`### ${ref}`, '');
    out.push(mdTable(['field', 'sequences', 'reason'], [...m].sort((a, b) => a[0].localeCompare(b[0])).map(([name, e]) => [name, String(e.seqs), e.reason])));
    out.push('');
  }

  out.push('## Per sequence', '');
  out.push(
    mdTable(
      ['sequence', 'status', 'sluice records', 'golden', 'tshark', 'note'],
      verdicts.map((v) => {
        const golden = v.result.outcomes.find((o) => o.ref !== 'tshark');
        const ts = v.result.outcomes.find((o) => o.ref === 'tshark');
        return [v.result.seq.id, v.status, String(v.result.sluiceRecords), outcomeCell(golden), outcomeCell(ts), v.result.unsupported ?? v.result.goldenNote ?? ''];
      }),
    ),
  );
  out.push('');
  return out.join('\n');
}
