/** Durations and sizes as people write them in flags and files: one parser each for every room. */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `5m`, `2h`, `7d`, `2w`, `500ms`; a plain number is `defaultUnit`s. Milliseconds; NaN when unreadable. */
export function parseDurationMs(text: string, defaultUnit: keyof typeof DURATION_UNITS = 's'): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (m === null) return NaN;
  return Number(m[1]) * DURATION_UNITS[m[2] ?? defaultUnit]!;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `500M`, `20G`, `1T`, `64KiB`, or bytes. NaN when unreadable. */
export function parseSizeBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (m === null) return NaN;
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}
