/**
 * Runs every test sequence of the corpus through sluice and compares it with each reference that applies:
 * its source's golden (logstash, flowbeat, telegraf) and the tshark decode. Classification against the
 * documented lists happens in report.ts; this module only produces the raw outcomes.
 */
import { compareExpectation, type Outcome } from './compare.js';
import { loadSequences, type Sequence } from './corpus.js';
import { runSluice, type SluiceRun } from './decode.js';
import { FLOWBEAT_DIALECT, flowbeatError, loadFlowbeat } from './flowbeat.js';
import { LOGSTASH_DIALECT, loadLogstash } from './logstash.js';
import type { Expectation } from './model.js';
import { loadTelegraf, TELEGRAF_DIALECT } from './telegraf.js';
import { loadTshark, TSHARK_DIALECT } from './tshark.js';
import type { GoldenDialect } from './values.js';

export interface SequenceResult {
  readonly seq: Sequence;
  readonly outcomes: readonly Outcome[];
  /** Why the sequence's own golden is not among the outcomes (missing, only an error), if so. */
  readonly goldenNote?: string;
  /** The sequence needs a decoder sluice does not have (sFlow before it existed): nothing was compared. */
  readonly unsupported?: string;
  /** Records sluice produced for the whole sequence (every datagram). */
  readonly sluiceRecords: number;
}

function compareWith(seq: Sequence, exp: Expectation, dialect: GoldenDialect, runs: Map<string, SluiceRun>): Outcome {
  let run = runs.get(exp.datagrams);
  if (run === undefined) runs.set(exp.datagrams, (run = runSluice(seq, exp.datagrams)));
  return compareExpectation(seq, exp, run, dialect);
}

export function runSequence(seq: Sequence): SequenceResult {
  const runs = new Map<string, SluiceRun>();
  const full = runSluice(seq, 'all');
  runs.set('all', full);
  // sFlow: while sluice has no sFlow decoder, these datagrams are dropped as an unknown version.
  if ('sflow5' in seq.versions && full.records.length === 0) {
    return { seq, outcomes: [], unsupported: 'not yet supported (sFlow)', sluiceRecords: 0 };
  }
  const outcomes: Outcome[] = [];
  let goldenNote: string | undefined;
  switch (seq.source) {
    case 'logstash-codec-netflow':
      outcomes.push(compareWith(seq, loadLogstash(seq), LOGSTASH_DIALECT, runs));
      break;
    case 'elastic-flowbeat': {
      const exp = loadFlowbeat(seq);
      if (exp !== null) outcomes.push(compareWith(seq, exp, FLOWBEAT_DIALECT, runs));
      else goldenNote = seq.golden === null ? 'no golden upstream; tshark only' : `golden is only an error (${flowbeatError(seq) ?? '?'}); tshark only`;
      break;
    }
    case 'telegraf':
      outcomes.push(compareWith(seq, loadTelegraf(seq), TELEGRAF_DIALECT, runs));
      break;
  }
  const ts = loadTshark(seq);
  if (ts !== null) outcomes.push(compareWith(seq, ts, TSHARK_DIALECT, runs));
  else goldenNote = goldenNote ?? 'tshark decoded no NetFlow/IPFIX here (sFlow is not mapped from tshark)';
  return { seq, outcomes, goldenNote, sluiceRecords: full.records.length };
}

export function runAll(): SequenceResult[] {
  return loadSequences().map(runSequence);
}
