/**
 * Every reason sluice drops something, in one vocabulary: the decoders, the line parsers, the
 * service's allowlist, the relay's sends, the outputs and the store count under these names, and
 * they become metric label values (`sluice_drops_total{reason}`, docs/metrics.md). Stable: a
 * name, once shipped, keeps its meaning.
 */
export const DROP_REASONS = {
  // decode: input that did not become records (wire/, per exporter)
  truncated: { stages: ['decode'], doc: 'datagram shorter than its header or than a length it declares' },
  'bad-version': { stages: ['decode', 'parse'], doc: 'unknown protocol version (of a datagram, or of an AWS flow log line)' },
  'bad-length': { stages: ['decode'], doc: 'header length field disagrees with the datagram' },
  'bad-set': { stages: ['decode'], doc: 'set header with a length below 4 or past the message end' },
  'bad-template': { stages: ['decode'], doc: 'malformed (options) template record' },
  'template-limit': { stages: ['decode'], doc: 'per-session or total template bound reached' },
  'template-redefined': { stages: ['decode'], doc: 'TCP template redefined without withdrawal (RFC 7011 8.1)' },
  'withdrawal-ignored': { stages: ['decode'], doc: 'template withdrawal over UDP or for an unknown id' },
  'missing-template': { stages: ['decode'], doc: 'data set held for its template, which never came (timed out or session end)' },
  'pending-overflow': { stages: ['decode'], doc: 'data set could not be held: per-session pending bound reached' },
  'template-expired': { stages: ['decode'], doc: 'data set whose UDP template outlived its lifetime' },
  'truncated-record': { stages: ['decode'], doc: 'bytes at the end of a data set that are a cut record, not padding' },
  'bad-list': { stages: ['decode'], doc: 'malformed RFC 6313 structured data' },
  unsupported: { stages: ['decode'], doc: 'well-formed input of a kind sluice does not decode (sFlow sample formats other than 1-5)' },
  'bad-record': { stages: ['decode'], doc: 'record that cannot be decoded for another reason' },
  // input: before decoding
  'not-allowed': { stages: ['input'], doc: 'sender outside the connector remote_addrs' },
  'workers-behind': { stages: ['input'], doc: 'datagram dropped at the bounded queue of a decode worker that fell behind' },
  // parse: text and AWS lines (counted as unparsed-<reason> where lines and datagrams share a counter)
  header: { stages: ['parse'], doc: 'an AWS header line (counted, not an error)' },
  'field-count': { stages: ['parse'], doc: 'line with another number of fields than the format' },
  'mixed-address-families': { stages: ['parse'], doc: 'source and destination of different families' },
  'bad-address': { stages: ['parse'], doc: 'address field that is not an IP address' },
  'missing-address': { stages: ['parse'], doc: 'no source or destination address' },
  'bad-flow-direction': { stages: ['parse'], doc: 'AWS flow-direction neither ingress nor egress' },
  'missing-protocol': { stages: ['parse'], doc: 'no protocol field' },
  'bad-protocol': { stages: ['parse'], doc: 'protocol neither a number below 256 nor a known keyword' },
  'bad-port': { stages: ['parse'], doc: 'port not a number below 65536' },
  'missing-port': { stages: ['parse'], doc: 'no destination port for a protocol that has ports' },
  'bad-icmp': { stages: ['parse'], doc: 'ICMP type or code not a number below 256' },
  'bad-counter': { stages: ['parse'], doc: 'packets or bytes not a whole number' },
  'missing-timestamp': { stages: ['parse'], doc: 'no timestamp field' },
  'bad-timestamp': { stages: ['parse'], doc: 'timestamp that does not match timestamp_format' },
  'bad-start': { stages: ['parse'], doc: 'AWS start time not a number of seconds' },
  'bad-end': { stages: ['parse'], doc: 'AWS end time not a number of seconds' },
  'bad-srcport': { stages: ['parse'], doc: 'AWS source port not a number below 65536' },
  'bad-dstport': { stages: ['parse'], doc: 'AWS destination port not a number below 65536' },
  'bad-tcp-flags': { stages: ['parse'], doc: 'AWS tcp-flags not a number' },
  'bad-traffic-path': { stages: ['parse'], doc: 'AWS traffic-path not a number' },
  'bad-bytes': { stages: ['parse'], doc: 'AWS bytes not a whole number' },
  'bad-packets': { stages: ['parse'], doc: 'AWS packets not a whole number' },
  NODATA: { stages: ['parse'], doc: 'AWS log-status NODATA: no traffic in the window (counted, not an error)' },
  SKIPDATA: { stages: ['parse'], doc: 'AWS log-status SKIPDATA: records AWS skipped (counted, not an error)' },
  // relay: copies not delivered to a receiver
  unreachable: { stages: ['relay'], doc: 'ICMP port/host/network unreachable reported for the receiver, or no route' },
  'too-big': { stages: ['relay'], doc: 'larger than IP can carry to the receiver' },
  'queue-full': { stages: ['relay'], doc: 'too many datagrams already waiting for the receiver socket' },
  'buffer-full': { stages: ['relay'], doc: 'the kernel send buffer was full (raw sends never wait)' },
  'family-mismatch': { stages: ['relay'], doc: 'spoofing needs the same address family on both sides' },
  'send-error': { stages: ['relay', 'output'], doc: 'any other send error (the errno is in the log line)' },
  // output: JSON lines an output could not take
  overflow: { stages: ['output'], doc: 'the output queue bound of a non-blocking output was reached' },
  'blocking-bound': { stages: ['output'], doc: 'even a blocking output bound (1 GiB) was reached' },
  'slow-client': { stages: ['output'], doc: 'a TCP server client fell behind its bound' },
  disconnected: { stages: ['output'], doc: 'a send target was down and the output is not blocking' },
  closed: { stages: ['output', 'store'], doc: 'written after the output or store was closed' },
  'open-error': { stages: ['output'], doc: 'an output file could not be opened' },
  'write-error': { stages: ['output'], doc: 'an output file or stream write failed' },
  'stream-error': { stages: ['output'], doc: 'stdout broke (a closed pipe)' },
  'too-large': { stages: ['output'], doc: 'a record larger than the transport carries (UDP datagram, Kafka message)' },
  'close-timeout': { stages: ['output'], doc: 'still queued when the output had to stop' },
  'output-error': { stages: ['output'], doc: 'the output client refused the records (Kafka errors)' },
  // store: rows not kept
  'store-full': { stages: ['store'], doc: 'rows beyond the store memory bound (maxBufferedRows) while segments could not be written, e.g. a full disk' },
  'invalid-block': { stages: ['store'], doc: 'a block of rows that does not fit its table layout (a bug, counted, never thrown)' },
  'unwritten-at-close': { stages: ['store'], doc: 'rows still unwritten when the store had to close (its disk full)' },
} as const satisfies Record<string, { readonly stages: readonly string[]; readonly doc: string }>;

type Table = typeof DROP_REASONS;
export type DropReason = keyof Table;
export type DropStage = Table[DropReason]['stages'][number];
/** The reasons of one stage. */
export type DropReasonOf<S extends DropStage> = { [K in DropReason]: S extends Table[K]['stages'][number] ? K : never }[DropReason];

/** The reasons of a stage, in table order (for tests and docs). */
export function dropReasonsOf<S extends DropStage>(stage: S): DropReasonOf<S>[] {
  return (Object.keys(DROP_REASONS) as DropReason[]).filter((k) => (DROP_REASONS[k].stages as readonly string[]).includes(stage)) as DropReasonOf<S>[];
}
