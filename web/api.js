// Calls to sluice's HTTP API (/api/v1/, docs/api.md). Each kind of call cancels its previous one
// still in flight, so a quick series of clicks ends with the last view, not the slowest answer.

/** An answer that was not 200: the API's message and what it says about the position. */
export class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.body = body ?? {};
  }
}

const inFlight = new Map();

/** True for the rejection of a call a newer one replaced. */
export function isCancelled(e) {
  return e instanceof DOMException && e.name === 'AbortError';
}

/**
 * GET /api/v1/<name> with `params` (empty values left out); `slot` names the kind of call (a
 * newer call in the same slot cancels this one).
 */
export async function get(name, params = {}, slot = name) {
  inFlight.get(slot)?.abort();
  const ctl = new AbortController();
  inFlight.set(slot, ctl);
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const text = q.toString();
  try {
    const res = await fetch(`/api/v1/${name}${text === '' ? '' : `?${text}`}`, { signal: ctl.signal, headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => undefined);
    if (!res.ok) throw new ApiFailure(res.status, body);
    return body;
  } finally {
    if (inFlight.get(slot) === ctl) inFlight.delete(slot);
  }
}
