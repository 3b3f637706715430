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

/** `bytes[g]`: the JSON lines of group g (null or missing: none), written to each of its outputs. */
export function writeGroups(groups: readonly FormatGroup[], bytes: readonly (Uint8Array | null | undefined)[]): void {
  for (let g = 0; g < bytes.length; g++) {
    const b = bytes[g];
    if (b === null || b === undefined) continue;
    const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    for (const out of groups[g]!.outputs) out.write(buf);
  }
}
