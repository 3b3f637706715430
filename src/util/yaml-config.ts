import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { SluiceError } from './errors.js';

/**
 * YAML configuration files validated by a zod schema, shared by `collect --config` and the
 * service (`sluice run/start/check-config`). Every problem names the key path and the
 * file:line:column of the node it concerns (a missing key: its parent), and all problems are
 * listed at once, so a user fixes the file in one pass. Nothing runs while there is one.
 */
export class ConfigError extends SluiceError {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super('config', `${file}: invalid configuration:\n  ${problems.join('\n  ')}`, { file });
  }
}

export type KeyPath = ReadonlyArray<string | number>;

/** A parsed, validated document, and a way to point at any key path in it (for checks made later). */
export interface ValidatedYaml<T> {
  readonly data: T;
  /** `file:line:column: key.path` of the deepest existing node on `path`. */
  at(path: KeyPath): string;
}

function locator(doc: Document, lines: LineCounter, file: string): (path: KeyPath) => string {
  return (path) => {
    let node: unknown;
    for (let n = path.length; n >= 0 && !isNode(node); n--) node = doc.getIn(path.slice(0, n), true);
    const range = isNode(node) ? node.range : undefined;
    const p = range ? lines.linePos(range[0]) : undefined;
    const key = path.length > 0 ? path.join('.') : '(top level)';
    return `${p ? `${file}:${p.line}:${p.col}` : file}: ${key}`;
  };
}

/** `file:line:column: path.key` of the key `key` of the map at `path`, if it is there. */
function keyAt(doc: Document, lines: LineCounter, file: string, path: KeyPath, key: string): string | undefined {
  const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (!isMap(map)) return undefined;
  for (const item of map.items) {
    if (isScalar(item.key) && String(item.key.value) === key && item.key.range) {
      const p = lines.linePos(item.key.range[0]);
      return `${file}:${p.line}:${p.col}: ${[...path, key].join('.')}`;
    }
  }
  return undefined;
}

/** Parses YAML text and validates it; throws ConfigError listing every problem. */
export function parseYamlConfig<S extends z.ZodType>(text: string, file: string, schema: S): ValidatedYaml<z.output<S>> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const p = lines.linePos(e.pos[0]);
        return `${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const at = locator(doc, lines, file);
  const raw: unknown = doc.toJS() ?? {};
  const r = schema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.flatMap((iss) => {
      const path = iss.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      if (iss.code === 'unrecognized_keys') {
        // Point at each unknown key itself, so a typo is found by its own line.
        return iss.keys.map((k) => `${keyAt(doc, lines, file, path, k) ?? at(path)}: unknown key "${k}"`);
      }
      return [`${at(path)}: ${iss.message}`];
    });
    throw new ConfigError(file, problems);
  }
  return { data: r.data as z.output<S>, at };
}
