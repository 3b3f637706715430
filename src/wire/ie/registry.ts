/**
 * The Information Element registry: the one place that decides an element's name, type and scope.
 *
 * Built-in data comes from the generated tables (scripts/gen-ie-registry.ts over data/ie/). It is indexed once per
 * process and shared read-only by every IeRegistry; each instance keeps its own overlay of user definitions, so
 * `IeRegistry.builtin()` is cheap and instances never see each other's additions.
 *
 * Conventions (libfds / IPFIXcol2, so JSON keys match that ecosystem):
 * - Every IANA element (PEN 0) has a reverse twin under PEN 29305 (RFC 5103) with the same id, named
 *   `<name>@reverse` in scope "iana@reverse". Elements that have no reverse meaning (templateId, padding, ...)
 *   get one too: a named key serves a JSON consumer better than "en29305:id148".
 * - CERT (PEN 6871) marks reverse elements with bit 0x4000 of the id, in the same PEN and scope.
 * - NetFlow v9 field types above 127 live under pseudo-PENs: 128–32767 under NETFLOW_PEN with the same id,
 *   32768–65535 under NETFLOW_EXTRA_PEN with id − 32768 (see netflowFieldPen / netflowFieldId).
 */
import { DATA_TYPES, SCOPES, SEMANTICS, UNITS } from './generated/elements.js';
import { PROTOCOL_KEYWORDS } from './generated/protocols.js';
import { FIREWALL_EVENT, FLOW_END_REASON, FORWARDING_STATUS, FORWARDING_STATUS_REASON, NAT_EVENT } from './generated/values.js';
import { SLUICE_ELEMENTS, SLUICE_PEN, SLUICE_SCOPE } from './sluice-elements.js';
import { NETFLOW_EXTRA_PEN, NETFLOW_PEN, REVERSE_PEN, type BiflowRule, type DataType, type InfoElement } from './types.js';
import { SluiceError } from '../../util/errors.js';

const MAX_PEN = 0xffffffff;
const MAX_ID = 0x7fff; // the top bit of an IPFIX field id is the enterprise bit, not part of the id

/** One number per (PEN, id): PENs are 32-bit and ids 15-bit, so pen * 2^16 + id stays a safe integer. */
function keyOf(pen: number, id: number): number {
  return pen * 0x10000 + id;
}

const TYPE_BY_LOWER: ReadonlyMap<string, DataType> = new Map(DATA_TYPES.map((t) => [t.toLowerCase(), t]));

/** The IPFIX abstract type for a name in any letter case ("ipv6address" → "ipv6Address"), or undefined. */
export function parseDataType(name: string): DataType | undefined {
  return TYPE_BY_LOWER.get(name.toLowerCase());
}

/** PEN under which a NetFlow v9 field type lives in the IPFIX model (0 for the RFC 3954 types 1–127). */
export function netflowFieldPen(fieldType: number): number {
  return fieldType < 128 ? 0 : fieldType < 0x8000 ? NETFLOW_PEN : NETFLOW_EXTRA_PEN;
}

/** Element id of a NetFlow v9 field type under netflowFieldPen(fieldType). */
export function netflowFieldId(fieldType: number): number {
  return fieldType < 0x8000 ? fieldType : fieldType - 0x8000;
}

/** IANA keyword of an IP protocol number (6 → "TCP", 58 → "IPv6-ICMP"), or undefined when unassigned. */
export function protocolKeyword(protocol: number): string | undefined {
  return PROTOCOL_KEYWORDS[protocol];
}

/**
 * Name of a value of an enumerated IANA element: flowEndReason (136), forwardingStatus (89, as
 * "Dropped: ACL deny"), natEvent (230), firewallEvent (233). Reverse twins (PEN 29305) share the meaning.
 */
export function valueName(pen: number, id: number, value: number): string | undefined {
  if (pen !== 0 && pen !== REVERSE_PEN) return undefined;
  switch (id) {
    case 136:
      return FLOW_END_REASON[value];
    case 230:
      return NAT_EVENT[value];
    case 233:
      return FIREWALL_EVENT[value];
    case 89: {
      const status = FORWARDING_STATUS[(value >> 6) & 3];
      const reason = FORWARDING_STATUS_REASON[value];
      return status === undefined ? undefined : reason === undefined ? status : `${status}: ${reason}`;
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The shared built-in index.

interface Index {
  readonly elements: ReadonlyMap<number, InfoElement>;
  readonly scopes: ReadonlyMap<number, string>;
  readonly biflow: ReadonlyMap<number, BiflowRule>;
}

/** Every element object has the same property set, so code that reads them stays monomorphic. */
function element(pen: number, id: number, name: string, type: DataType, scope: string, semantics: string | undefined, units: string | undefined, reverse: boolean): InfoElement {
  return Object.freeze({ pen, id, name, type, semantics, units, scope, reverse });
}

/** The reverse twin of a forward element under a biflow rule, or undefined when the rule has none for it. */
function reverseTwin(fwd: InfoElement, rule: BiflowRule): InfoElement | undefined {
  if (rule.mode === 'pen') return element(rule.pen, fwd.id, `${fwd.name}@reverse`, fwd.type, rule.scope, fwd.semantics, fwd.units, true);
  if ((fwd.id & rule.bit) !== 0) return undefined;
  return element(fwd.pen, fwd.id | rule.bit, `${fwd.name}@reverse`, fwd.type, fwd.scope, fwd.semantics, fwd.units, true);
}

let builtinIndex: Index | undefined;

function buildIndex(): Index {
  const elements = new Map<number, InfoElement>();
  const scopes = new Map<number, string>();
  const biflow = new Map<number, BiflowRule>();
  const twins: InfoElement[] = [];
  for (const s of SCOPES) {
    scopes.set(s.pen, s.scope);
    if (s.biflow !== undefined) {
      biflow.set(s.pen, s.biflow);
      if (s.biflow.mode === 'pen') scopes.set(s.biflow.pen, s.biflow.scope);
    }
    for (const [id, name, type, sem = 0, units = 0] of s.rows) {
      const ie = element(s.pen, id, name, DATA_TYPES[type] ?? 'octetArray', s.scope, SEMANTICS[sem] || undefined, UNITS[units] || undefined, false);
      elements.set(keyOf(s.pen, id), ie);
      if (s.biflow !== undefined) {
        const twin = reverseTwin(ie, s.biflow);
        if (twin !== undefined) twins.push(twin);
      }
    }
  }
  scopes.set(SLUICE_PEN, SLUICE_SCOPE);
  for (const e of SLUICE_ELEMENTS) elements.set(keyOf(e.pen, e.id), e);
  // Twins last: a real element that happens to sit on a twin's id (none today) keeps its place.
  for (const t of twins) {
    const k = keyOf(t.pen, t.id);
    if (!elements.has(k)) elements.set(k, t);
  }
  return { elements, scopes, biflow };
}

// ---------------------------------------------------------------------------------------------------------------
// User definitions.

/** A definition as given to IeRegistry.add. */
export interface IeDefinition {
  pen: number;
  id: number;
  name: string;
  type: DataType;
  scope?: string;
  semantics?: string;
  units?: string;
}

/** A bad line in an IE definitions file; the message starts with "file:line:column:" like a compiler's. */
export class IeDefinitionError extends SluiceError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super('ie-definition', `${file}:${line}:${column}: ${reason}`, { file, line, column });
  }
}

/** Names and scopes end up in JSON keys "scope:name", so they may not contain separators or ':'. */
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.@-]*$/;
const DECIMAL_RE = /^[0-9]+$/;
const FIELDS = ['enterprise number', 'element id', 'name', 'data type'] as const;

interface Token {
  readonly text: string;
  readonly column: number;
}

/** Fields of one line: runs of whitespace and commas separate them, '#' starts a comment. Columns are 1-based. */
function tokenize(line: string): Token[] {
  const hash = line.indexOf('#');
  const body = hash < 0 ? line : line.slice(0, hash);
  const out: Token[] = [];
  for (const m of body.matchAll(/[^\s,]+/g)) out.push({ text: m[0], column: (m.index ?? 0) + 1 });
  return out;
}

function parseDefinitionLine(tokens: readonly Token[], fail: (column: number, reason: string) => never): IeDefinition {
  if (tokens.length < FIELDS.length) {
    const last = tokens[tokens.length - 1];
    const column = last === undefined ? 1 : last.column + last.text.length;
    fail(column, `missing ${FIELDS[tokens.length]} (expected: enterprise id name type [scope])`);
  }
  const [penTok, idTok, nameTok, typeTok, scopeTok, extra] = tokens as [Token, Token, Token, Token, Token?, Token?];
  if (extra !== undefined) fail(extra.column, `unexpected field "${extra.text}" (expected: enterprise id name type [scope])`);

  const pen = Number(penTok.text);
  if (!DECIMAL_RE.test(penTok.text) || pen > MAX_PEN) fail(penTok.column, `bad enterprise number "${penTok.text}" (a decimal from 0 to ${MAX_PEN})`);
  const id = Number(idTok.text);
  if (!DECIMAL_RE.test(idTok.text)) fail(idTok.column, `bad element id "${idTok.text}" (a decimal from 0 to ${MAX_ID})`);
  if (id > MAX_ID) fail(idTok.column, `element id ${idTok.text} is above ${MAX_ID} (the enterprise bit is not part of the id)`);
  if (!NAME_RE.test(nameTok.text)) fail(nameTok.column, `bad element name "${nameTok.text}" (letters, digits, _ . @ -, not starting with a digit)`);
  const type = parseDataType(typeTok.text);
  if (type === undefined) fail(typeTok.column, `unknown data type "${typeTok.text}" (an IPFIX abstract type such as unsigned32, string, ipv4Address)`);
  if (scopeTok !== undefined && !NAME_RE.test(scopeTok.text)) fail(scopeTok.column, `bad scope name "${scopeTok.text}"`);
  return { pen, id, name: nameTok.text, type, scope: scopeTok?.text };
}

// ---------------------------------------------------------------------------------------------------------------

export class IeRegistry {
  readonly #base: Index;
  /** User definitions and the reverse twins derived from them; consulted before the built-in index. */
  readonly #own = new Map<number, InfoElement>();
  /** Keys the user defined directly, which a derived twin must not replace. */
  readonly #explicit = new Set<number>();
  readonly #ownScopes = new Map<number, string>();
  /** pen -> name -> element, built on first name lookup and dropped by add(). */
  #names: Map<number, Map<string, InfoElement>> | undefined;

  private constructor(base: Index) {
    this.#base = base;
  }

  /** A new registry with the generated data. The data is indexed once per process; later calls are O(1). */
  static builtin(): IeRegistry {
    builtinIndex ??= buildIndex();
    return new IeRegistry(builtinIndex);
  }

  /** A registry without any built-in element, for tests and for tools that bring their own definitions. */
  static empty(): IeRegistry {
    return new IeRegistry({ elements: new Map(), scopes: new Map(), biflow: new Map() });
  }

  get(pen: number, id: number): InfoElement | undefined {
    const k = keyOf(pen, id);
    if (this.#own.size !== 0) {
      const own = this.#own.get(k);
      if (own !== undefined) return own;
    }
    return this.#base.elements.get(k);
  }

  /** The element a NetFlow v9 field type stands for (IPFIXcol2's mapping onto pseudo-PENs above 127). */
  getNetflow(fieldType: number): InfoElement | undefined {
    return this.get(netflowFieldPen(fieldType), netflowFieldId(fieldType));
  }

  scopeName(pen: number): string | undefined {
    return this.#ownScopes.get(pen) ?? this.#base.scopes.get(pen);
  }

  /** The element named `name` in `pen` (exact case), or undefined. */
  byName(pen: number, name: string): InfoElement | undefined {
    return this.#nameIndex().get(pen)?.get(name);
  }

  /**
   * Resolves a JSON-style key: "scope:name" ("iana:octetDeltaCount", "iana@reverse:octetDeltaCount@reverse",
   * "cisco:clientBytesNetwork"), a bare name (taken as IANA), or IPFIXcol2's form for unknown elements
   * "en<pen>:id<id>".
   */
  lookup(key: string): InfoElement | undefined {
    const colon = key.indexOf(':');
    if (colon < 0) return this.byName(0, key);
    const scope = key.slice(0, colon);
    const rest = key.slice(colon + 1);
    const raw = /^en(\d+)$/.exec(scope);
    const rawId = /^id(\d+)$/.exec(rest);
    if (raw?.[1] !== undefined) {
      const pen = Number(raw[1]);
      return rawId?.[1] !== undefined ? this.get(pen, Number(rawId[1])) : this.byName(pen, rest);
    }
    for (const pen of this.#pensOfScope(scope)) {
      const ie = this.byName(pen, rest);
      if (ie !== undefined && ie.scope === scope) return ie;
    }
    // A user definition may carry a scope of its own that differs from its PEN's.
    for (const ie of this.#own.values()) if (ie.scope === scope && ie.name === rest) return ie;
    return undefined;
  }

  /**
   * Adds or replaces a definition; user definitions take precedence over built-in ones. An IANA (PEN 0) or CERT
   * definition also defines its reverse twin, unless the user defined that twin explicitly.
   */
  add(def: IeDefinition): void {
    const { pen, id, name, type } = def;
    if (!Number.isInteger(pen) || pen < 0 || pen > MAX_PEN) throw new RangeError(`IE definition ${name}: bad enterprise number ${pen}`);
    if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new RangeError(`IE definition ${name}: bad element id ${id} (0 to ${MAX_ID})`);
    if (!NAME_RE.test(name)) throw new TypeError(`IE definition ${pen}/${id}: bad name ${JSON.stringify(name)}`);
    if (parseDataType(String(type)) !== type) throw new TypeError(`IE definition ${name}: unknown data type ${JSON.stringify(type)}`);
    if (def.scope !== undefined && !NAME_RE.test(def.scope)) throw new TypeError(`IE definition ${name}: bad scope ${JSON.stringify(def.scope)}`);

    const known = this.scopeName(pen);
    if (known === undefined && def.scope !== undefined) this.#ownScopes.set(pen, def.scope);
    const scope = def.scope ?? known ?? `en${pen}`;
    const ie = element(pen, id, name, type, scope, def.semantics, def.units, false);
    const k = keyOf(pen, id);
    this.#own.set(k, ie);
    this.#explicit.add(k);

    const rule = this.#base.biflow.get(pen);
    const twin = rule === undefined ? undefined : reverseTwin(ie, rule);
    if (twin !== undefined && !this.#explicit.has(keyOf(twin.pen, twin.id))) this.#own.set(keyOf(twin.pen, twin.id), twin);
    this.#names = undefined;
  }

  /**
   * Loads definitions in the `--ie-file` format: one per line, `enterprise id name type [scope]`, fields separated
   * by whitespace or commas, '#' comments and blank lines ignored, types case-insensitive. The whole text is
   * checked before anything is added, so a bad file changes nothing. Returns the number of definitions added.
   * @throws IeDefinitionError pointing at the first bad field.
   */
  loadDefinitionsText(text: string, fileName: string): number {
    const defs: IeDefinition[] = [];
    const seen = new Map<number, number>();
    const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
    lines.forEach((line, i) => {
      const lineNo = i + 1;
      const fail = (column: number, reason: string): never => {
        throw new IeDefinitionError(fileName, lineNo, column, reason);
      };
      const tokens = tokenize(line);
      if (tokens.length === 0) return;
      const def = parseDefinitionLine(tokens, fail);
      const k = keyOf(def.pen, def.id);
      const first = seen.get(k);
      if (first !== undefined) fail(tokens[0]?.column ?? 1, `element ${def.pen}/${def.id} is already defined on line ${first}`);
      seen.set(k, lineNo);
      defs.push(def);
    });
    for (const def of defs) this.add(def);
    return defs.length;
  }

  #nameIndex(): Map<number, Map<string, InfoElement>> {
    if (this.#names !== undefined) return this.#names;
    const index = new Map<number, Map<string, InfoElement>>();
    const put = (ie: InfoElement): void => {
      let byName = index.get(ie.pen);
      if (byName === undefined) index.set(ie.pen, (byName = new Map()));
      byName.set(ie.name, ie);
    };
    for (const [k, ie] of this.#base.elements) if (!this.#own.has(k)) put(ie);
    for (const ie of this.#own.values()) put(ie); // user names win over a built-in element of the same name
    this.#names = index;
    return index;
  }

  #pensOfScope(scope: string): number[] {
    const pens: number[] = [];
    for (const [pen, s] of this.#ownScopes) if (s === scope) pens.push(pen);
    for (const [pen, s] of this.#base.scopes) if (s === scope && !this.#ownScopes.has(pen)) pens.push(pen);
    return pens;
  }
}
