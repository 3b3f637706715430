/**
 * nfdump's filter language, the part operators use, parsed to a small tree (filter-sql.ts turns
 * the tree into SQL). Keywords are case-insensitive; `not` binds tighter than `and`, `and` tighter
 * than `or`. Every error names the 1-based column of the word it is about.
 *
 *   expr      := and (("or" | "||") and)*
 *   and       := not (("and" | "&&") not)*
 *   not       := ("not" | "!") not | "(" expr ")" | primitive
 *   primitive := any | ipv4 | inet | ipv6 | inet6
 *              | [dir] (ip | host) ADDR | [dir] (ip | host) in [ ADDR|PREFIX ... ]
 *              | [dir] net PREFIX | [dir] net A.B.C.D M.M.M.M | [dir] net in [ ... ]
 *              | [dir] port NUMTEST | [dir] as NUMTEST
 *              | proto (NAME | N | in [ ... ]) | [in | out] if NUMTEST
 *              | router ip ADDR | exporter [ip] ADDR
 *              | flags LETTERS | tos NUMTEST | vlan NUMTEST
 *              | (packets | bytes | duration | bps | pps | bpp) [CMP] N[k|m|g]
 *   dir       := src | dst | src or dst | src and dst
 *   NUMTEST   := [CMP] N | in [ N ... ]
 *   CMP       := = | == | eq | > | gt | < | lt | >= | ge | <= | le
 */
import { protocolKeyword } from '../wire/ie/registry.js';
import { exactRange, isProblem, maskedRange, parsePrefix, parseStoredAddress, type AddressRange } from './address.js';
import { FilterError } from './errors.js';
import { columnMax, flowColumn } from './flow-sql.js';

export type Comparison = '=' | '>' | '<' | '>=' | '<=';

/** Per-flow quantities a filter can compare (counters scaled by sampling; duration in ms). */
export type Measure = 'packets' | 'bytes' | 'duration' | 'bps' | 'pps' | 'bpp';

export type NumberTest = { readonly cmp: Comparison; readonly value: number } | { readonly list: readonly number[] };

export type FilterNode =
  | { readonly type: 'and' | 'or'; readonly items: readonly FilterNode[] }
  | { readonly type: 'not'; readonly item: FilterNode }
  | { readonly type: 'any' }
  | { readonly type: 'family'; readonly family: 4 | 6 }
  /** Any (all, when `every`) of the columns holds an address in one of the ranges. */
  | { readonly type: 'address'; readonly columns: readonly string[]; readonly every: boolean; readonly ranges: readonly AddressRange[] }
  /** Any (all, when `every`) of the columns passes the test. */
  | { readonly type: 'number'; readonly columns: readonly string[]; readonly every: boolean; readonly test: NumberTest }
  /** Every TCP flag bit of `mask` is set. */
  | { readonly type: 'flags'; readonly mask: number }
  | { readonly type: 'measure'; readonly measure: Measure; readonly cmp: Comparison; readonly value: number };

/** TCP control bits by nfdump's letters. */
export const TCP_FLAG_BITS: Readonly<Record<string, number>> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10, U: 0x20, E: 0x40, C: 0x80 };

const COMPARISONS: Readonly<Record<string, Comparison>> = {
  '=': '=', '==': '=', eq: '=', '>': '>', gt: '>', '<': '<', lt: '<', '>=': '>=', ge: '>=', '<=': '<=', le: '<=',
};

const MEASURES: ReadonlySet<string> = new Set<Measure>(['packets', 'bytes', 'duration', 'bps', 'pps', 'bpp']);
const SUFFIX: Readonly<Record<string, number>> = { k: 1e3, m: 1e6, g: 1e9 };

/** IANA protocol keywords (lowercase) -> number, plus the short names operators type. */
const PROTOCOLS: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (let n = 0; n <= 255; n++) {
    const k = protocolKeyword(n);
    if (k !== undefined && !m.has(k.toLowerCase())) m.set(k.toLowerCase(), n);
  }
  m.set('icmp6', 58); // IANA's keyword is "IPv6-ICMP"
  m.set('icmpv6', 58);
  return m;
})();

interface Token {
  readonly text: string;
  /** Lowercase text, for keyword comparison. */
  readonly word: string;
  /** 1-based column of the first character. */
  readonly column: number;
}

const PUNCT = ['&&', '||', '==', '>=', '<=', '(', ')', '[', ']', ',', '!', '=', '>', '<', '&', '|'];
const WORD_END = /[\s()[\],!&|=<>]/;

function tokenize(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const p = PUNCT.find((x) => input.startsWith(x, i));
    if (p !== undefined) {
      out.push({ text: p, word: p, column: i + 1 });
      i += p.length;
      continue;
    }
    let j = i;
    while (j < input.length && !WORD_END.test(input[j]!)) j++;
    const text = input.slice(i, j);
    out.push({ text, word: text.toLowerCase(), column: i + 1 });
    i = j;
  }
  return out;
}

type Direction = 'src' | 'dst' | 'either' | 'both';

class Parser {
  readonly #input: string;
  readonly #tokens: Token[];
  #at = 0;

  constructor(input: string) {
    this.#input = input;
    this.#tokens = tokenize(input);
  }

  parse(): FilterNode {
    if (this.#tokens.length === 0) return { type: 'any' };
    const node = this.#or();
    const t = this.#peek();
    if (t !== undefined) {
      throw this.#error(t, t.text === ')' ? 'unmatched ")"' : `expected "and", "or" or the end of the filter, found "${t.text}"`);
    }
    return node;
  }

  #peek(offset = 0): Token | undefined {
    return this.#tokens[this.#at + offset];
  }

  #next(expected: string): Token {
    const t = this.#tokens[this.#at];
    if (t === undefined) throw new FilterError(this.#input, this.#input.length + 1, `expected ${expected}, but the filter ended`);
    this.#at++;
    return t;
  }

  #error(t: Token, reason: string, offset = 0): FilterError {
    return new FilterError(this.#input, t.column + offset, reason);
  }

  #accept(...words: string[]): Token | undefined {
    const t = this.#peek();
    if (t !== undefined && words.includes(t.word)) {
      this.#at++;
      return t;
    }
    return undefined;
  }

  #or(): FilterNode {
    const items = [this.#and()];
    while (this.#accept('or', '||') !== undefined) items.push(this.#and());
    return items.length === 1 ? items[0]! : { type: 'or', items };
  }

  #and(): FilterNode {
    const items = [this.#not()];
    while (this.#accept('and', '&&') !== undefined) items.push(this.#not());
    return items.length === 1 ? items[0]! : { type: 'and', items };
  }

  #not(): FilterNode {
    if (this.#accept('not', '!') !== undefined) return { type: 'not', item: this.#not() };
    const open = this.#accept('(');
    if (open !== undefined) {
      const inner = this.#or();
      const close = this.#peek();
      if (close === undefined) throw new FilterError(this.#input, this.#input.length + 1, `expected ")" to close the "(" at column ${open.column}, but the filter ended`);
      if (close.text !== ')') throw this.#error(close, `expected ")" to close the "(" at column ${open.column}, found "${close.text}"`);
      this.#at++;
      return inner;
    }
    return this.#primitive();
  }

  #primitive(): FilterNode {
    const t = this.#next('a filter primitive such as "ip 10.0.0.1", "port 443" or "proto tcp"');
    switch (t.word) {
      case 'any':
        return { type: 'any' };
      case 'ipv4':
      case 'inet':
        return { type: 'family', family: 4 };
      case 'ipv6':
      case 'inet6':
        return { type: 'family', family: 6 };
      case 'src':
      case 'dst':
        return this.#directed(this.#direction(t));
      case 'ip':
      case 'host':
      case 'net':
      case 'port':
      case 'as':
        this.#at--;
        return this.#directed('either');
      case 'proto':
        return this.#proto();
      case 'in':
      case 'out': {
        const t2 = this.#next(`"if" after "${t.text}"`);
        if (t2.word !== 'if') throw this.#error(t2, `expected "if" after "${t.text}", found "${t2.text}"`);
        return this.#numberNode([t.word === 'in' ? 'in_if' : 'out_if'], false, 'an interface index', 'interface indexes');
      }
      case 'if':
        return this.#numberNode(['in_if', 'out_if'], false, 'an interface index', 'interface indexes');
      case 'router': {
        const t2 = this.#next('"ip" after "router"');
        if (t2.word !== 'ip') throw this.#error(t2, `expected "ip" after "router", found "${t2.text}"`);
        return this.#addressNode(['exporter'], false, false);
      }
      case 'exporter':
        this.#accept('ip');
        return this.#addressNode(['exporter'], false, false);
      case 'flags':
        return this.#flags();
      case 'tos':
        return this.#numberNode(['tos'], false, 'a type of service value', 'type of service values');
      case 'vlan':
        return this.#numberNode(['vlan'], false, 'a VLAN id', 'VLAN ids');
      default:
        if (MEASURES.has(t.word)) return this.#measure(t.word as Measure);
        if (t.text === ')') throw this.#error(t, 'unmatched ")"');
        throw this.#error(t, `unknown filter primitive "${t.text}" (expected ip, net, port, proto, as, if, flags, packets, bytes, ...)`);
    }
  }

  /** After "src"/"dst": also "src or dst", "src and dst". */
  #direction(first: Token): Direction {
    const conj = this.#peek();
    const other = this.#peek(1);
    const otherWord = first.word === 'src' ? 'dst' : 'src';
    if (conj !== undefined && other?.word === otherWord && (conj.word === 'or' || conj.word === 'and')) {
      this.#at += 2;
      return conj.word === 'or' ? 'either' : 'both';
    }
    return first.word as Direction;
  }

  #directed(dir: Direction): FilterNode {
    const t = this.#next('ip, host, net, port or as');
    const cols = (src: string, dst: string): string[] => (dir === 'src' ? [src] : dir === 'dst' ? [dst] : [src, dst]);
    const every = dir === 'both';
    switch (t.word) {
      case 'ip':
      case 'host':
        return this.#addressNode(cols('src_addr', 'dst_addr'), every, false);
      case 'net':
        return this.#addressNode(cols('src_addr', 'dst_addr'), every, true);
      case 'port':
        return this.#numberNode(cols('src_port', 'dst_port'), every, 'a port number', 'port numbers');
      case 'as':
        return this.#numberNode(cols('src_as', 'dst_as'), every, 'an AS number', 'AS numbers');
      default:
        throw this.#error(t, `expected ip, host, net, port or as, found "${t.text}"`);
    }
  }

  #addressNode(columns: string[], every: boolean, net: boolean): FilterNode {
    if (this.#accept('in') !== undefined) {
      const ranges = this.#list('addresses or prefixes', (t) => this.#addressOrPrefix(t));
      return { type: 'address', columns, every, ranges };
    }
    const t = this.#next(net ? 'a prefix such as 10.0.0.0/8' : 'an IPv4 or IPv6 address');
    if (!net) {
      const b = parseStoredAddress(t.text);
      if (b === undefined) throw this.#error(t, `expected an IPv4 or IPv6 address, found "${t.text}"`);
      return { type: 'address', columns, every, ranges: [exactRange(b)] };
    }
    if (t.text.includes('/')) return { type: 'address', columns, every, ranges: [this.#prefix(t)] };
    // "net 10.0.0.0 255.0.0.0"
    const m = this.#peek();
    if (m === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(m.text) || !/^\d+\.\d+\.\d+\.\d+$/.test(t.text)) {
      throw this.#error(t, `expected a prefix such as 10.0.0.0/8 or "10.0.0.0 255.0.0.0", found "${t.text}"`);
    }
    this.#at++;
    const r = maskedRange(t.text, m.text);
    if (isProblem(r)) throw this.#error(r.offset > t.text.length ? m : t, r.reason);
    return { type: 'address', columns, every, ranges: [r] };
  }

  #prefix(t: Token): AddressRange {
    const r = parsePrefix(t.text);
    if (isProblem(r)) throw this.#error(t, `${r.reason}, found "${t.text}"`, r.offset);
    return r;
  }

  #addressOrPrefix(t: Token): AddressRange {
    if (t.text.includes('/')) return this.#prefix(t);
    const b = parseStoredAddress(t.text);
    if (b === undefined) throw this.#error(t, `expected an IPv4 or IPv6 address or prefix, found "${t.text}"`);
    return exactRange(b);
  }

  /** "[ item item, item ]" */
  #list<T>(what: string, item: (t: Token) => T): T[] {
    const open = this.#next(`"[" to start a list of ${what}`);
    if (open.text !== '[') throw this.#error(open, `expected "[" to start a list of ${what}, found "${open.text}"`);
    const out: T[] = [];
    for (;;) {
      const t = this.#next(`${what} or "]"`);
      if (t.text === ']') break;
      if (t.text === ',') continue;
      if (t.text === '[' || t.text === '(' || t.text === ')') throw this.#error(t, `expected ${what} or "]", found "${t.text}"`);
      out.push(item(t));
    }
    if (out.length === 0) throw this.#error(open, `the list of ${what} is empty`);
    return out;
  }

  #comparison(): Comparison {
    const t = this.#peek();
    const cmp = t === undefined ? undefined : COMPARISONS[t.word];
    if (cmp === undefined) return '=';
    this.#at++;
    return cmp;
  }

  #integer(t: Token, what: string, max: number): number {
    if (!/^\d+$/.test(t.text)) throw this.#error(t, `expected ${what}, found "${t.text}"`);
    const v = Number(t.text);
    if (v > max) throw this.#error(t, `expected ${what} from 0 to ${max}, found ${t.text}`);
    return v;
  }

  /** `what`: "a port number"; `plural`: "port numbers". */
  #numberNode(columns: string[], every: boolean, what: string, plural: string): FilterNode {
    const max = Math.min(...columns.map((c) => columnMax(flowColumn(c))));
    if (this.#accept('in') !== undefined) {
      const list = this.#list(plural, (t) => this.#integer(t, what, max));
      return { type: 'number', columns, every, test: { list } };
    }
    const cmp = this.#comparison();
    const value = this.#integer(this.#next(what), what, max);
    return { type: 'number', columns, every, test: { cmp, value } };
  }

  #protocolNumber(t: Token): number {
    if (/^\d+$/.test(t.text)) return this.#integer(t, 'a protocol number', 255);
    const n = PROTOCOLS.get(t.word);
    if (n === undefined) throw this.#error(t, `unknown protocol "${t.text}" (expected a number or an IANA keyword such as tcp, udp, icmp, icmp6, gre, esp)`);
    return n;
  }

  #proto(): FilterNode {
    if (this.#accept('in') !== undefined) {
      const list = this.#list('protocols', (t) => this.#protocolNumber(t));
      return { type: 'number', columns: ['proto'], every: false, test: { list } };
    }
    const t = this.#next('a protocol (tcp, udp, icmp, icmp6, gre, esp or a number)');
    return { type: 'number', columns: ['proto'], every: false, test: { cmp: '=', value: this.#protocolNumber(t) } };
  }

  #flags(): FilterNode {
    const t = this.#next(`TCP flag letters (${Object.keys(TCP_FLAG_BITS).join('')})`);
    let mask = 0;
    for (let i = 0; i < t.text.length; i++) {
      const bit = TCP_FLAG_BITS[t.text[i]!.toUpperCase()];
      if (bit === undefined) throw this.#error(t, `unknown TCP flag "${t.text[i]}" (expected letters of ${Object.keys(TCP_FLAG_BITS).join('')})`, i);
      mask |= bit;
    }
    return { type: 'flags', mask };
  }

  #measure(measure: Measure): FilterNode {
    const cmp = this.#comparison();
    const t = this.#next(`a number for ${measure}`);
    const m = /^(\d+(?:\.\d+)?)([kmg])?$/i.exec(t.text);
    if (m === null) throw this.#error(t, `expected a number for ${measure} (with an optional k, m or g), found "${t.text}"`);
    const value = Number(m[1]) * (m[2] === undefined ? 1 : SUFFIX[m[2].toLowerCase()]!);
    return { type: 'measure', measure, cmp, value };
  }
}

/** Parses a filter; an empty (or blank) filter matches every flow. Throws FilterError. */
export function parseFilter(input: string): FilterNode {
  return new Parser(input).parse();
}
