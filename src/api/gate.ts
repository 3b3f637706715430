/**
 * How many queries run at once: DuckDB already spreads one query over every core, so more at once
 * only makes each slower (and in `collect --http` takes CPU from decoding). Queries past the limit
 * wait in line; past the line's bound they are refused (503) rather than piling up.
 */
import { ApiError } from './params.js';

export class QueryGate {
  readonly #max: number;
  readonly #maxWaiting: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(max: number, maxWaiting: number) {
    this.#max = Math.max(1, max);
    this.#maxWaiting = Math.max(0, maxWaiting);
  }

  async run<T>(body: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#max) {
      if (this.#waiting.length >= this.#maxWaiting) throw new ApiError(503, `busy: ${this.#running} queries running and ${this.#waiting.length} waiting; try again shortly`, { code: 'query' });
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#running++;
    try {
      return await body();
    } finally {
      // The next in line takes this slot over (the count stays); otherwise it is freed.
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#running--;
    }
  }
}
