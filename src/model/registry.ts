import { readFileSync } from 'node:fs';
import { IeRegistry } from '../wire/ie/registry.js';

/** The built-in registry (IANA, vendors, sluice's own) plus the user's definition files (--ie-file). */
export function loadRegistry(ieFiles: readonly string[]): IeRegistry {
  const reg = IeRegistry.builtin();
  for (const f of ieFiles) reg.loadDefinitionsText(readFileSync(f, 'utf8'), f);
  return reg;
}
