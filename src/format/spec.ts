import { DEFAULT_JSON_OPTIONS, type JsonFormatOptions } from './ipfixcol2-json.js';
import { SluiceError } from '../util/errors.js';

const ENUMS: Partial<Record<keyof JsonFormatOptions, readonly string[]>> = {
  tcpFlags: ['formatted', 'raw'],
  timestamp: ['formatted', 'unix'],
  protocol: ['formatted', 'raw'],
};

const NAMES = Object.keys(DEFAULT_JSON_OPTIONS) as (keyof JsonFormatOptions)[];

/**
 * Parses `--format json[,option=value...]`, e.g. `json,timestamp=unix,ignoreUnknown=false,splitBiflow`.
 * Option names and values are those of the IPFIXcol2 JSON output plugin (tcpFlags, timestamp,
 * protocol, ignoreUnknown, ignoreOptions, nonPrintableChar, octetArrayAsUint, numericNames,
 * splitBiflow, detailedInfo, templateInfo), and sluice's scaledCounters; a boolean option alone means true.
 */
export function parseFormatSpec(spec: string): Partial<JsonFormatOptions> {
  const [name, ...opts] = spec.split(',').map((s) => s.trim());
  if (name !== 'json') throw new SluiceError('usage', `--format: unknown format "${name}" (available: json)`);
  const out: Record<string, string | boolean> = {};
  for (const kv of opts) {
    if (kv === '') continue;
    const eq = kv.indexOf('=');
    const key = (eq < 0 ? kv : kv.slice(0, eq)).trim() as keyof JsonFormatOptions;
    const raw = eq < 0 ? 'true' : kv.slice(eq + 1).trim();
    if (!NAMES.includes(key)) {
      const near = NAMES.find((n) => n.toLowerCase() === key.toLowerCase());
      const hint = near !== undefined ? ` (did you mean "${near}"?)` : '';
      throw new SluiceError('usage', `--format: unknown option "${key}"${hint} (known: ${NAMES.join(', ')})`);
    }
    if (key in out) throw new SluiceError('usage', `--format: ${key} given twice`);
    const allowed = ENUMS[key];
    if (allowed !== undefined) {
      if (!allowed.includes(raw)) throw new SluiceError('usage', `--format: ${key} must be one of ${allowed.join('|')}, not "${raw}"`);
      out[key] = raw;
    } else {
      const v = raw.toLowerCase();
      if (!['true', 'false', 'yes', 'no', '1', '0'].includes(v)) throw new SluiceError('usage', `--format: ${key} takes true|false, not "${raw}"`);
      out[key] = v === 'true' || v === 'yes' || v === '1';
    }
  }
  return out as Partial<JsonFormatOptions>;
}
