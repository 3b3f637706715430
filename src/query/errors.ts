import { SluiceError, type ErrorCode } from '../util/errors.js';

/**
 * Errors of the query room. Syntax errors (filter, -t window, intervals) carry the 1-based column
 * of the text they point into, so every front end can show the operator where the problem is.
 */

/** An error in a piece of query text: `input` is the text, `column` the 1-based position in it. */
export class QuerySyntaxError extends SluiceError {
  readonly input: string;
  readonly column: number;
  /** What was wrong, without the position (message adds "at column N"). */
  readonly reason: string;

  constructor(what: string, input: string, column: number, reason: string, code: ErrorCode = 'query') {
    super(code, `${what}: ${reason} at column ${column}`, { column });
    this.input = input;
    this.column = column;
    this.reason = reason;
  }

  /** The input with a caret under the column, and the reason. */
  render(): string {
    return renderCaret(this.input, this.column, this.reason);
  }
}

/** A filter that does not parse. */
export class FilterError extends QuerySyntaxError {
  constructor(input: string, column: number, reason: string) {
    super('filter', input, column, reason, 'filter');
  }
}

/** A -t time window (or, with `what` = "interval", a --series interval) that does not parse. */
export class WindowError extends QuerySyntaxError {
  constructor(input: string, column: number, reason: string, what = 'time window') {
    super(what, input, column, reason);
  }
}

/** A query option that makes no sense (an unknown element, order, or a combination): a usage error. */
export class QueryUsageError extends SluiceError {
  constructor(message: string) {
    super('query', message);
  }
}

/** `--sql` text that is not one read-only statement. */
export class SqlRefusedError extends SluiceError {
  constructor(message: string) {
    super('query', message);
  }
}

/** A query stopped by the time limit (the connection was interrupted). */
export class QueryTimeoutError extends SluiceError {
  readonly limitMs: number;
  constructor(limitMs: number) {
    super('query', `query stopped: time limit of ${limitMs / 1000} s reached`);
    this.limitMs = limitMs;
  }
}

/**
 * `input` on one line and a caret under `column` (1-based; one past the end points after the last
 * character), followed by the reason when given:
 *
 *     src ip 10.0.0.300
 *            ^ expected an IPv4 or IPv6 address
 */
export function renderCaret(input: string, column: number, reason?: string): string {
  // Tabs and newlines would shift the caret; the shown line keeps one cell per character.
  const line = input.replace(/[\t\r\n]/g, ' ');
  const at = Math.max(1, Math.min(column, line.length + 1));
  const caret = `${' '.repeat(at - 1)}^`;
  return reason === undefined ? `${line}\n${caret}` : `${line}\n${caret} ${reason}`;
}
