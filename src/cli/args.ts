/** Argument parsers shared by the commands: each throws commander's InvalidArgumentError with what was expected. */
import { InvalidArgumentError } from 'commander';
import { parseDurationMs, parseSizeBytes } from '../util/units.js';

/** A repeatable option's values, in order. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n)) throw new InvalidArgumentError('must be an integer >= 0');
  return n;
}

export function intIn(min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`must be a whole number ${min}-${max}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`must be ${min}-${max}`);
    return n;
  };
}

/** A duration: `90s`, `5m`, `2h`, `7d`, `500ms`, or a plain number of `defaultUnit`s; returns milliseconds. */
export function duration(defaultUnit: 'ms' | 's' | 'm' | 'h' | 'd') {
  return (v: string): number => {
    const ms = parseDurationMs(v, defaultUnit);
    if (!(ms > 0)) throw new InvalidArgumentError(`must be a duration such as 30s, 5m, 2h or 7d (a plain number means ${defaultUnit})`);
    return ms;
  };
}

/** A size: `500M`, `20G`, `1T`, or bytes. */
export function byteSize(v: string): number {
  const n = parseSizeBytes(v);
  if (!(n > 0)) throw new InvalidArgumentError('must be a size such as 500M, 20G or 1T (or a number of bytes)');
  return n;
}
