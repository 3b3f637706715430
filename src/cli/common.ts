import { readFileSync } from 'node:fs';
import { Ipfixcol2JsonFormatter, type JsonFormatOptions } from '../format/ipfixcol2-json.js';
import { protocolKeyword, IeRegistry } from '../wire/ie/registry.js';
import type { DropEvent } from '../wire/stats.js';
import { PROBE_ELEMENTS } from '../probe/elements.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';

/** Loads the built-in registry plus the user's definition files (--ie-file). */
export function loadRegistry(ieFiles: readonly string[]): IeRegistry {
  const reg = IeRegistry.builtin();
  // The probe's own elements (src/probe/elements.ts), so their records print with names; a user file may redefine them.
  for (const e of PROBE_ELEMENTS) reg.add(e);
  for (const f of ieFiles) reg.loadDefinitionsText(readFileSync(f, 'utf8'), f);
  return reg;
}

export function makeFormatter(opts: Partial<JsonFormatOptions>): Ipfixcol2JsonFormatter {
  return new Ipfixcol2JsonFormatter(opts, protocolKeyword);
}

/** One log line per (reason, exporter) every 10 s, with the number held back. */
export function dropLogger(write: (line: string) => void): (ev: DropEvent) => void {
  const rl = new RateLimitedLog((msg, suppressed) => write(suppressed > 0 ? `${msg} (${suppressed} similar suppressed)` : msg));
  return (ev) => {
    const who = `${ev.session.address}:${ev.session.port}`;
    rl.log(`${ev.reason}|${who}`, `drop ${ev.reason} from ${who} at offset ${ev.offset}: ${ev.detail}`);
  };
}

export function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
