/**
 * samplicator's configuration file: one rule per line,
 *
 *   a.b.c.d[/mask]: receiver receiver ...      # mask dotted (255.255.255.0) or a length (24)
 *   [2001:db8::]/32: receiver ...              # IPv6 in brackets, prefix length only
 *
 * A datagram goes to the receivers of every rule its source address matches (and to those given
 * on the command line). No mask means the whole address (/32, /128); 0.0.0.0 matches every source,
 * as in samplicator. "#" starts a comment. Receivers take the command-line syntax, /S and /P
 * included. Pure: the caller reads the file.
 */
import { parseAddress, prefixFromLength, prefixFromMask, type IpPrefix } from '../wire/packet/addr.js';
import { parseReceiver, ReceiverSyntaxError, type ReceiverSpec } from './receiver.js';
import { SluiceError } from '../util/errors.js';

export interface SourceRule {
  /** undefined = every source (0.0.0.0 in the file). */
  readonly prefix?: IpPrefix;
  readonly receivers: readonly ReceiverSpec[];
  /** Where the rule was written: "file:line". */
  readonly where: string;
}

export interface ConfigProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export class RelayConfigError extends SluiceError {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super('relay-config', problems.map((p) => `${file}:${p.line}:${p.column}: ${p.message}`).join('\n'), { file, line: problems[0]?.line, column: problems[0]?.column });
  }
}

function parseSource(text: string, column: number, problem: (col: number, msg: string) => void): { prefix?: IpPrefix } | undefined {
  let addrText: string;
  let maskText: string | undefined;
  let maskAt = 0;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return problem(column, 'missing "]" after the IPv6 source address'), undefined;
    addrText = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== '' && !after.startsWith('/')) return problem(column + close + 1, 'expected "/length" or ":" after "]"'), undefined;
    if (after !== '') {
      maskText = after.slice(1);
      maskAt = column + close + 2;
    }
  } else {
    const slash = text.indexOf('/');
    addrText = slash < 0 ? text : text.slice(0, slash);
    if (slash >= 0) {
      maskText = text.slice(slash + 1);
      maskAt = column + slash + 1;
    }
  }
  const addr = parseAddress(addrText);
  if (addr === undefined) {
    problem(column, addrText.includes(':') && !text.startsWith('[') ? `IPv6 sources go in brackets: [${addrText}]` : `"${addrText}" is not an IP address`);
    return undefined;
  }
  const bits = addr.family === 4 ? 32 : 128;
  if (addr.family === 4 && addr.bytes.every((b) => b === 0)) return {};
  if (maskText === undefined) return { prefix: prefixFromLength(addr, bits) };
  if (/^\d+$/.test(maskText)) {
    const n = Number(maskText);
    if (n > bits) return problem(maskAt, `prefix length ${n} is longer than ${bits}`), undefined;
    return { prefix: prefixFromLength(addr, n) };
  }
  const mask = addr.family === 4 ? parseAddress(maskText) : undefined;
  if (mask === undefined || mask.family !== 4) {
    problem(maskAt, addr.family === 4 ? `mask "${maskText}" is neither a prefix length nor a dotted mask` : `IPv6 sources take a prefix length, not "${maskText}"`);
    return undefined;
  }
  return { prefix: prefixFromMask(addr, mask.bytes, `${addr.text}/${mask.text}`) };
}

/** Parses a configuration file's text; throws RelayConfigError listing every problem. */
export function parseRelayConfig(text: string, file = '<config>'): SourceRule[] {
  const rules: SourceRule[] = [];
  const problems: ConfigProblem[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    const hash = raw.indexOf('#');
    const line = hash < 0 ? raw : raw.slice(0, hash);
    if (line.trim() === '') continue;
    const problem = (column: number, message: string) => problems.push({ line: lineNo, column, message });
    const start = line.length - line.trimStart().length;
    // The colon that ends the source: after "]" for IPv6, else the first one.
    let colon: number;
    if (line[start] === '[') {
      const close = line.indexOf(']', start);
      colon = close < 0 ? -1 : line.indexOf(':', close);
    } else {
      colon = line.indexOf(':', start);
      const token = line.slice(start).split(/\s/, 1)[0]!;
      if ((token.match(/:/g)?.length ?? 0) > 1) {
        const bare = token.replace(/:$/, '');
        const slash = bare.lastIndexOf('/');
        const hint = slash < 0 ? `[${bare}]` : `[${bare.slice(0, slash)}]${bare.slice(slash)}`;
        problem(start + 1, `IPv6 sources go in brackets, e.g. ${hint}: ...`);
        continue;
      }
    }
    if (colon < 0) {
      problem(start + 1, 'missing ":" after the source address (expected "a.b.c.d[/mask]: receiver ...")');
      continue;
    }
    const sourceText = line.slice(start, colon).trimEnd();
    const source = parseSource(sourceText, start + 1, problem);
    if (source === undefined) continue; // the receivers of a line whose source is wrong would only add noise
    const receivers: ReceiverSpec[] = [];
    const re = /\S+/g;
    const rhs = line.slice(colon + 1);
    let m: RegExpExecArray | null;
    while ((m = re.exec(rhs)) !== null) {
      const column = colon + 2 + m.index;
      try {
        receivers.push(parseReceiver(m[0]));
      } catch (err) {
        if (err instanceof ReceiverSyntaxError) problem(column + err.column - 1, `receiver "${m[0]}": ${err.message}`);
        else throw err;
      }
    }
    if (source !== undefined) rules.push({ ...source, receivers, where: `${file}:${lineNo}` });
  }
  if (problems.length > 0) throw new RelayConfigError(file, problems);
  return rules;
}
