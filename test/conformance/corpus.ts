/**
 * The copied corpus (test/fixtures/corpora/): where it is, what inventory.json says about each test
 * sequence, and how to read its files. Paths inside the corpus keep their upstream form
 * ("logstash-codec-netflow/spec/codecs/x.dat"), so everything here resolves against CORPUS_ROOT.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const CORPUS_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'corpora');

export type SourceName = 'logstash-codec-netflow' | 'elastic-flowbeat' | 'telegraf';
export const SOURCES: readonly SourceName[] = ['logstash-codec-netflow', 'elastic-flowbeat', 'telegraf'];

/** One test sequence of inventory.json: ordered input files fed through one decoder session. */
export interface Sequence {
  /** Unique and stable: "<source>/<test>" (logstash: "<source>/<golden base name>"). */
  readonly id: string;
  readonly source: SourceName;
  readonly test: string;
  readonly inputs: readonly string[];
  /** Golden file relative to the corpus root; null for the two flowbeat pcaps without one. */
  readonly golden: string | null;
  /** Protocol versions seen in the inputs, e.g. { nf9: 2 } or { sflow5: 1 }. */
  readonly versions: Readonly<Record<string, number>>;
  /** gzipped tshark JSON of the sequence, relative to the corpus root. */
  readonly tshark: string;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new TypeError(`inventory: ${what} is not a string`);
  return v;
}

function isSource(v: string): v is SourceName {
  return (SOURCES as readonly string[]).includes(v);
}

export function corpusPath(rel: string): string {
  return join(CORPUS_ROOT, rel);
}

export function readCorpusFile(rel: string): Buffer {
  return readFileSync(corpusPath(rel));
}

export function readCorpusJson(rel: string): unknown {
  const buf = readCorpusFile(rel);
  return JSON.parse((rel.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8'));
}

/**
 * All test sequences, in inventory order. _derived/tshark/index.json lists the same sequences in the
 * same order (checked here), which is the only reliable join: two logstash tests share name and inputs.
 */
export function loadSequences(): Sequence[] {
  const inv = readCorpusJson('inventory.json');
  const idx = readCorpusJson('_derived/tshark/index.json');
  if (!isRecord(inv) || !Array.isArray(inv['test_sequences'])) throw new TypeError('inventory.json: no test_sequences');
  if (!isRecord(idx) || !Array.isArray(idx['entries'])) throw new TypeError('_derived/tshark/index.json: no entries');
  const entries: unknown[] = idx['entries'];
  return inv['test_sequences'].map((s: unknown, i: number): Sequence => {
    const e = entries[i];
    if (!isRecord(s) || !isRecord(e)) throw new TypeError(`inventory: test_sequences[${i}] is not an object`);
    const source = str(s['source'], 'source');
    if (!isSource(source)) throw new TypeError(`inventory: unknown source ${source}`);
    const test = str(s['test'], 'test');
    const inputs = Array.isArray(s['inputs']) ? s['inputs'].map((x: unknown) => str(x, 'input')) : [];
    if (e['test'] !== test || JSON.stringify(e['inputs']) !== JSON.stringify(inputs)) throw new Error(`tshark index entry ${i} is not ${test}`);
    const golden = s['golden'] === null ? null : str(s['golden'], 'golden');
    const versions: Record<string, number> = {};
    if (isRecord(s['versions'])) for (const [k, v] of Object.entries(s['versions'])) if (typeof v === 'number') versions[k] = v;
    // Test names are unique per source except for two logstash tests, whose golden names differ.
    const id = source === 'logstash-codec-netflow' && golden !== null ? `${source}/${basename(golden, '.json')}` : `${source}/${test}`;
    return { id, source, test, inputs, golden, versions, tshark: str(e['tshark_json'], 'tshark_json') };
  });
}
