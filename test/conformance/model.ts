/**
 * The shape every reference (golden file or tshark decode) is loaded into, so one comparison engine serves them
 * all: expected records made of fields, each field naming where its value lives in sluice's output.
 */
import type { ValueKind } from './values.js';

export type Reference = 'logstash' | 'flowbeat' | 'telegraf' | 'tshark';

/**
 * Where a golden field's value is found in a sluice record.
 * - `ie` without `pen`: an element in IANA numbering as the reference uses it. In NetFlow v9 records, numbers
 *   above 127 are looked up under sluice's NetFlow pseudo-PENs (IPFIXcol2's convention), since a v9 field type
 *   of that number is what the reference decoded.
 * - `ie` with `pen`: exactly that element (enterprise elements, v9 scope fields already mapped by sluice).
 * - `key`: a JSON key of sluice's output that is not a wire element: message header facts from detailedInfo
 *   (ipfix:exportTime, ipfix:seqNumber, ipfix:templateId, ipfix:odid, ipfix:srcAddr) and the derived times
 *   (iana:flowStartMilliseconds / flowEndMilliseconds added for sysUpTime-based records).
 * - `meta`: what sluice's decoder said about the record that the JSON does not carry as a value: the protocol
 *   version of its message, and whether it is an options record (telegraf's netflow_options measurement).
 */
export type Target =
  | { readonly ie: number; readonly pen?: number }
  | { readonly key: string; readonly kind: ValueKind }
  | { readonly meta: 'version' | 'options' };

export interface ExpectedField {
  /** The reference's own name for the field ("in_bytes", "cflow.octets", "event.start"). */
  readonly name: string;
  /** Candidates in order of preference; the first one present in the sluice record is compared. */
  readonly targets: readonly Target[];
  /** The reference's value as written there. */
  readonly value: unknown;
  /** How to read both sides; by default the kind of the target element's data type. */
  readonly kind?: ValueKind;
  /**
   * For golden renderings that cannot be turned back into a wire value (telegraf's "...AP..." flags, names of
   * protocols): renders sluice's value the golden's way; the two texts must then be equal.
   */
  readonly render?: (sluice: unknown, key: string) => string | undefined;
}

export interface ExpectedRecord {
  /** Human label: "event 3", "line 12", "packet 2 / FlowSet 3 / Flow 1". */
  readonly label: string;
  /** Position in sluice's record stream (after `select`), when the reference fixes it. */
  readonly index?: number;
  /** Position on the wire (tshark): matched against SluiceRecord.at; templateId -1 = any (v5). */
  readonly at?: { readonly datagram: number; readonly templateId: number; readonly set: number; readonly record: number };
  readonly fields: readonly ExpectedField[];
}

export interface Expectation {
  readonly ref: Reference;
  /** File the expectation came from, relative to the corpus root. */
  readonly file: string;
  readonly records: readonly ExpectedRecord[];
  /**
   * 'index': records are matched by position in sluice's stream; 'wire': by their position on the wire (`at`);
   * 'best': by most agreeing fields (telegraf ignores order).
   */
  readonly matching: 'index' | 'wire' | 'best';
  /** Which sluice records the reference would show: all, or data records only (flowbeat drops options). */
  readonly select: 'all' | 'data';
  /**
   * Which datagrams of a raw payload file the reference decoded: upstream harnesses hand a whole file to the
   * decoder as one datagram and so decode only the first of several concatenated ones; tshark saw them all.
   */
  readonly datagrams: 'first' | 'all';
  /** Number of records the reference has (or asserts), when it makes a claim about it. */
  readonly expectedCount?: number;
  /** Golden field names left out of the comparison, with the reason (reported, never silent). */
  readonly skipped: ReadonlyMap<string, string>;
  /** Defects of the golden file itself that the loader worked around (reported as disagreements). */
  readonly goldenDefects?: ReadonlyArray<{ readonly field: string; readonly detail: string }>;
}

/** A comparison that did not agree, before it is checked against the documented lists. */
export interface Disagreement {
  readonly seq: string;
  readonly ref: Reference;
  /** Record label, or "(sequence)" for count disagreements. */
  readonly record: string;
  readonly field: string;
  /** The sluice JSON key compared ("" when none was found). */
  readonly key: string;
  readonly expected: string;
  readonly got: string;
  /** Canonical forms (values.ts) of both sides when they could be read, for errata that check a relation. */
  readonly want?: string;
  readonly have?: string;
}
