/**
 * What collect knows of each exporter, as plain rows: the shape the API's exporters view, the
 * SIGUSR1 report and `DIR/state/exporters.json` (for `sluice serve` in another process) share.
 */
export interface DomainRow {
  readonly domain: number;
  readonly records: number;
  readonly optionsRecords: number;
  readonly counterRecords: number;
  readonly templates: number;
  /** Sampler label (header, record, domain, id:N, ...) -> rate. */
  readonly sampling: Readonly<Record<string, number>>;
  /** Units lost per unit kind (records, packets, datagrams, samples). */
  readonly sequenceLost: Readonly<Record<string, number>>;
  readonly sequenceResets: number;
  readonly sequenceReordered: number;
}

export interface ExporterRow {
  readonly exporter: string;
  readonly datagrams: number;
  readonly records: number;
  /** Records per second over the last minute. */
  readonly recordsPerSecond: number;
  readonly lastSeenMs: number;
  readonly drops: Readonly<Record<string, number>>;
  readonly health: Readonly<Record<string, number>>;
  readonly rateUnknown: number;
  readonly clockSkewSeconds: number | null;
  readonly domains: readonly DomainRow[];
}

