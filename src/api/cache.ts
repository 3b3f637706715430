/**
 * A brief cache of API answers: the same request within `ttlMs` gets the answer already made
 * (a page, a reload and a second tab ask the same questions), and identical requests that arrive
 * while the first is still running wait for it instead of running the query again. Answers are
 * kept as JSON text, bounded in count and in characters; failures are not kept.
 */

/** An answer as made: its JSON text and how long the query took. */
export interface Answer {
  readonly json: string;
  readonly durationMs: number;
}

export interface CacheHit extends Answer {
  /** True when the answer was made for an earlier request. */
  readonly cached: boolean;
  /** How old the answer is (0 when made for this request). */
  readonly ageMs: number;
}

interface Entry {
  readonly madeMs: number;
  readonly answer: Promise<Answer>;
  /** False while the query runs. */
  settled: boolean;
  chars: number;
}

export interface CacheOptions {
  /** How long an answer is reused; 0: never (identical requests in flight still share one run). */
  readonly ttlMs: number;
  readonly maxEntries?: number;
  /** Characters of JSON kept at most, all entries together. */
  readonly maxChars?: number;
  readonly now?: () => number;
}

export class AnswerCache {
  readonly #o: Required<CacheOptions>;
  readonly #entries = new Map<string, Entry>();
  #chars = 0;

  constructor(o: CacheOptions) {
    this.#o = { maxEntries: 256, maxChars: 32 * 1024 * 1024, now: Date.now, ...o };
  }

  /** The answer for `key`: a fresh or in-flight one, else `make()`'s (kept when it succeeds). */
  async get(key: string, make: () => Promise<Answer>): Promise<CacheHit> {
    const now = this.#o.now();
    const old = this.#entries.get(key);
    if (old !== undefined && (!old.settled || now - old.madeMs <= this.#o.ttlMs)) {
      const a = await old.answer;
      return { ...a, cached: true, ageMs: Math.max(0, this.#o.now() - old.madeMs) };
    }
    if (old !== undefined) this.#remove(key, old);
    const entry: Entry = { madeMs: now, answer: make(), settled: false, chars: 0 };
    this.#entries.set(key, entry);
    let a: Answer;
    try {
      a = await entry.answer;
    } catch (e) {
      if (this.#entries.get(key) === entry) this.#remove(key, entry);
      throw e;
    } finally {
      entry.settled = true;
    }
    if (this.#entries.get(key) === entry) {
      entry.chars = a.json.length;
      this.#chars += entry.chars;
      this.#trim();
    }
    return { ...a, cached: false, ageMs: 0 };
  }

  get size(): number {
    return this.#entries.size;
  }

  #remove(key: string, e: Entry): void {
    this.#entries.delete(key);
    this.#chars -= e.chars;
  }

  /** Drops expired answers and, past the bounds, the oldest ones (Map order is the order they were made in). */
  #trim(): void {
    const now = this.#o.now();
    for (const [key, e] of this.#entries) {
      const over = this.#entries.size > this.#o.maxEntries || this.#chars > this.#o.maxChars;
      if (!over && now - e.madeMs <= this.#o.ttlMs) break;
      if (e.settled) this.#remove(key, e);
    }
  }
}
