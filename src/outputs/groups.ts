import { DEFAULT_JSON_OPTIONS, type JsonFormatOptions } from '../format/ipfixcol2-json.js';
import type { Output, OutputSpec } from './output.js';

/** Outputs whose JSON options are identical: formatted once, the bytes handed to each. */
export interface FormatGroup {
  readonly options: JsonFormatOptions;
  readonly specs: OutputSpec[];
  readonly outputs: Output[];
}

/** Groups output specs by their effective JSON options (the command's --format, overridden per output). */
export function formatGroups(specs: readonly OutputSpec[], base: Partial<JsonFormatOptions>): FormatGroup[] {
  const groups = new Map<string, FormatGroup>();
  for (const spec of specs) {
    const options: JsonFormatOptions = { ...DEFAULT_JSON_OPTIONS, ...base, ...spec.format };
    const key = JSON.stringify(options);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { options, specs: [], outputs: [] }));
    g.specs.push(spec);
  }
  return [...groups.values()];
}
