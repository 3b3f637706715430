/**
 * Corpus conformance: every test sequence of test/fixtures/corpora/inventory.json (logstash-codec-netflow,
 * elastic-flowbeat, telegraf) decoded by sluice and compared field by field with the upstream goldens and with
 * Wireshark's decode. One test per source, one subtest per sequence; a subtest fails only on a disagreement
 * that test/conformance/errata.ts does not document. A summary table is printed at the end.
 *
 * Regenerate test/conformance/REPORT.md with
 *   node --import tsx test/conformance.test.ts --write-report
 * (or CONFORMANCE_WRITE_REPORT=1 with any runner).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOURCES } from './conformance/corpus.js';
import { classify, consoleSummary, markdownReport, type SequenceVerdict } from './conformance/report.js';
import { runAll } from './conformance/run.js';

const verdicts: SequenceVerdict[] = runAll().map(classify);

for (const source of SOURCES) {
  test(`corpus conformance: ${source}`, async (t) => {
    for (const v of verdicts.filter((x) => x.result.seq.source === source)) {
      await t.test(v.result.seq.id, (st) => {
        if (v.status === 'unsupported') {
          st.skip(v.result.unsupported);
          return;
        }
        const open = v.classified.filter((c) => c.category === undefined);
        const files = new Map(v.result.outcomes.map((o) => [o.ref, o.file]));
        const lines = open.map((c) => `${c.d.ref} (${files.get(c.d.ref) ?? ''}) ${c.d.record} ${c.d.field}${c.d.key ? ` [${c.d.key}]` : ''}: expected ${c.d.expected}, sluice ${c.d.got}`);
        assert.equal(open.length, 0, `undocumented disagreements:\n  ${lines.join('\n  ')}`);
      });
    }
  });
}

test('corpus conformance: every sequence was looked at', () => {
  assert.equal(verdicts.length, 112);
  for (const v of verdicts) {
    if (v.status === 'unsupported') continue;
    assert.ok(v.result.outcomes.length > 0, `${v.result.seq.id}: no reference compared`);
  }
});

// Last test, so the summary follows the per-sequence results in the runner's output.
test('corpus conformance: summary', () => {
  console.log(consoleSummary(verdicts));
  if (process.argv.includes('--write-report') || process.env['CONFORMANCE_WRITE_REPORT'] === '1') {
    const file = join(dirname(fileURLToPath(import.meta.url)), 'conformance', 'REPORT.md');
    writeFileSync(file, markdownReport(verdicts));
    console.log(`wrote ${file}`);
  }
});
