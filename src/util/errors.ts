/**
 * One error base class for everything sluice reports to a person or a program: a stable `code`
 * (scripts and the API match on it, never on message text) and, where the input has one, the
 * position of the problem (file:line:column, byte offset, filter column). Programming errors stay
 * plain Errors: they are bugs, not input problems.
 */
export const ERROR_CODES = {
  config: 'a configuration file is invalid: every problem with its file:line:column and key path',
  usage: 'a command-line argument is invalid',
  'capture-format': 'a pcap or pcapng file is damaged at a byte offset',
  'ie-definition': 'an Information Element definition line is invalid at file:line:column',
  'list-decode': 'RFC 6313 structured data is malformed at a byte offset',
  'sflow-sample': 'an sFlow sample is malformed at a byte offset',
  'relay-config': 'a samplicator-style relay configuration line is invalid at line:column',
  'receiver-syntax': 'a relay receiver argument is invalid at a column',
  'spoof-unavailable': 'source spoofing cannot work here (no addon, no privilege, or no support)',
  filter: 'a query filter is invalid at a column',
  query: 'a query cannot be run (bad window, element, SQL, or a time limit reached)',
  store: 'the flow store cannot be opened or written',
  state: 'a state file (templates, exporters) is not one this version reads: the path inside it says where',
  api: 'an HTTP API request is refused (its status and the parameter at fault go with it)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where in the input the problem is; only what applies is set. */
export interface Position {
  readonly file?: string;
  readonly line?: number;
  /** 1-based. */
  readonly column?: number;
  /** Byte offset in a datagram or file. */
  readonly offset?: number;
}

export class SluiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly position: Position = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}
