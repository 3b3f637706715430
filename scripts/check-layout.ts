/**
 * The one-way house, checked: every import between top-level folders of src/ runs down the
 * order below, nothing imports cli/, wire/ imports only wire/ and util/, and no two folders import
 * each other (directly or around a cycle). Prints the arrows that run back up and exits 1 when
 * there are any; `npm test` runs it through test/house/layout.test.ts.
 *
 *   node --import tsx scripts/check-layout.ts [--graph]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Rooms from the bottom up: a room may import its own and those before it. */
export const ORDER = ['util', 'wire', 'model', 'format', 'parsers', 'pipeline', 'sources', 'outputs', 'store', 'query', 'api', 'relay', 'probe', 'collect', 'service', 'cli'] as const;

export interface Import {
  readonly from: string;
  readonly to: string;
  /** Import specifier as written. */
  readonly spec: string;
  readonly line: number;
}

export interface Violation {
  readonly rule: 'unknown-room' | 'imports-cli' | 'wire-outside' | 'upward' | 'cycle';
  readonly text: string;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*(?:new URL\(\s*)?['"](\.{1,2}\/[^'"]+)['"]/g;

/** Relative imports of every .ts file under src/, as repository paths. */
export function importGraph(root: string): Import[] {
  const src = join(root, 'src');
  const out: Import[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts')) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(IMPORT_RE)) {
          const spec = (m[1] ?? m[2])!;
          const target = resolve(dirname(p), spec).replace(/\.js$/, '.ts');
          const line = text.slice(0, m.index).split('\n').length + (text[m.index] === '\n' ? 1 : 0);
          out.push({ from: relative(root, p), to: relative(root, target), spec, line });
        }
      }
    }
  };
  walk(src);
  return out;
}

/** The top-level folder of src/ a path is in ('' for files outside src/). */
export function roomOf(path: string): string {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1]! : '';
}

export function checkLayout(imports: readonly Import[]): Violation[] {
  const rank = new Map<string, number>(ORDER.map((r, i) => [r, i]));
  const v: Violation[] = [];
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    const a = roomOf(i.from);
    const b = roomOf(i.to);
    const where = `${i.from}:${i.line} imports ${i.spec}`;
    if (a === '' || b === '') continue;
    if (!rank.has(a) || !rank.has(b)) {
      v.push({ rule: 'unknown-room', text: `${where}: ${!rank.has(a) ? a : b}/ is not a room of the layout (docs/design.md); add it to the order` });
      continue;
    }
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
    if (b === 'cli') v.push({ rule: 'imports-cli', text: `${where}: nothing imports cli/` });
    else if (a === 'wire' && b !== 'util') v.push({ rule: 'wire-outside', text: `${where}: wire/ imports only wire/ and util/` });
    else if (rank.get(b)! > rank.get(a)!) v.push({ rule: 'upward', text: `${where}: ${a}/ sits below ${b}/ (${ORDER.join(' < ')})` });
  }
  // Cycles between rooms (any length), reported once each.
  const seen = new Set<string>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (r: string): void => {
    stack.push(r);
    onStack.add(r);
    for (const n of edges.get(r) ?? []) {
      if (onStack.has(n)) {
        const cyc = [...stack.slice(stack.indexOf(n)), n].join(' -> ');
        if (!seen.has(cyc)) {
          seen.add(cyc);
          v.push({ rule: 'cycle', text: `folder cycle: ${cyc}` });
        }
      } else if (!seen.has(`done:${n}`)) visit(n);
    }
    stack.pop();
    onStack.delete(r);
    seen.add(`done:${r}`);
  };
  for (const r of edges.keys()) if (!seen.has(`done:${r}`)) visit(r);
  return v;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const imports = importGraph(root);
  if (process.argv.includes('--graph')) {
    const counts = new Map<string, number>();
    for (const i of imports) {
      const a = roomOf(i.from);
      const b = roomOf(i.to);
      if (a !== b && a !== '' && b !== '') counts.set(`${a} -> ${b}`, (counts.get(`${a} -> ${b}`) ?? 0) + 1);
    }
    for (const [k, n] of [...counts].sort()) console.log(`${k} (${n})`);
  }
  const v = checkLayout(imports);
  for (const x of v) console.log(`${x.rule}: ${x.text}`);
  console.log(`${imports.length} imports, ${v.length} against the layout`);
  process.exitCode = v.length > 0 ? 1 : 0;
}
