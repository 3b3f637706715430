/** IPFIX abstract data types (RFC 7012 section 3.1, RFC 6313, IANA "Data Types" sub-registry). */
export type DataType =
  | 'octetArray'
  | 'unsigned8'
  | 'unsigned16'
  | 'unsigned32'
  | 'unsigned64'
  | 'signed8'
  | 'signed16'
  | 'signed32'
  | 'signed64'
  | 'float32'
  | 'float64'
  | 'boolean'
  | 'macAddress'
  | 'string'
  | 'dateTimeSeconds'
  | 'dateTimeMilliseconds'
  | 'dateTimeMicroseconds'
  | 'dateTimeNanoseconds'
  | 'ipv4Address'
  | 'ipv6Address'
  | 'basicList'
  | 'subTemplateList'
  | 'subTemplateMultiList'
  | 'unsigned256';

/** One Information Element definition. `scope` is the JSON key prefix (IPFIXcol2 style: "iana", "cisco"). */
export interface InfoElement {
  readonly pen: number;
  readonly id: number;
  readonly name: string;
  readonly type: DataType;
  readonly semantics?: string;
  readonly units?: string;
  readonly scope: string;
  /** True for RFC 5103 reverse elements (PEN 29305) and enterprise-specific reverse twins. */
  readonly reverse?: boolean;
}

/** IANA reverse-direction PEN (RFC 5103). */
export const REVERSE_PEN = 29305;
/** IPFIXcol2/libfds pseudo-PENs for NetFlow v9 field types above 127. */
export const NETFLOW_PEN = 4294967294;
export const NETFLOW_EXTRA_PEN = 4294967295;

/**
 * One generated element, kept as a tuple so the generated module stays small (thousands of rows):
 * [id, name, data type (IANA data type number = index into DATA_TYPES), semantics index, units index].
 * Index 0 of the semantics and units tables means "none"; trailing zeros are left out.
 */
export type ElementRow = readonly [id: number, name: string, type: number, semantics?: number, units?: number];

/**
 * How a scope exports reverse (RFC 5103 biflow) elements, after libfds' <biflow> modes:
 * 'pen'   — the reverse twin has the same id under another PEN (IANA: 29305, scope "iana@reverse");
 * 'split' — the reverse twin is id | bit in the same PEN (CERT: bit 0x4000).
 */
export type BiflowRule =
  | { readonly mode: 'pen'; readonly pen: number; readonly scope: string }
  | { readonly mode: 'split'; readonly bit: number };

/** All elements of one PEN as generated from data/ie/. */
export interface ScopeData {
  readonly pen: number;
  readonly scope: string;
  readonly biflow?: BiflowRule;
  readonly rows: readonly ElementRow[];
}
