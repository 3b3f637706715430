// The filter box: nfdump's filter language, checked by the API as it is typed; a mistake is shown
// under the box with the character at its column marked, as `sluice query` puts a caret under it.
import { get, isCancelled } from './api.js';
import { el } from './tables.js';

/**
 * Checks filter and time window text; resolves to null when both are good, else the API's account
 * of the problem. `slot`: checks in one slot cancel each other (typing, applying).
 */
export async function check(filter, t, slot = 'check') {
  const a = await get('filter', { filter, t }, slot);
  return a.valid ? null : a;
}

export class FilterBox {
  /** `input` the text box, `box` where a mistake is shown. */
  constructor(input, box) {
    this.input = input;
    this.box = box;
    this.timer = undefined;
  }

  /** Checks the text after a pause in typing (and the range `t` with it); shows or clears the mistake. */
  watch(t) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      check(this.input.value, t(), 'typing').then(
        (p) => this.show(p),
        (e) => {
          if (!isCancelled(e)) this.show({ parameter: 'filter', error: e.message, reason: e.message, input: this.input.value });
        },
      );
    }, 300);
  }

  /** Shows a problem from /api/v1/filter (null: none); a filter mistake also selects its column in the box. */
  show(problem, select = false) {
    if (problem === null) {
      this.box.hidden = true;
      this.box.replaceChildren();
      this.input.removeAttribute('aria-invalid');
      return;
    }
    const col = problem.column ?? 1;
    const text = problem.input ?? '';
    const at = Math.max(0, Math.min(col - 1, text.length));
    const code = el('code', 'where');
    // The character at the column, or a space after the end when the text ended too soon.
    const mark = el('mark', '', text.slice(at, at + 1) || ' ');
    code.append(text.slice(0, at), mark, text.slice(at + 1));
    const what = problem.parameter === 't' ? 'time range' : problem.parameter === 'filter' ? 'filter' : problem.parameter;
    const reason = el('span', 'reason', `${what}, column ${col}: ${problem.reason ?? problem.error}`);
    this.box.replaceChildren(code, reason);
    this.box.dataset.column = String(col);
    this.box.dataset.parameter = problem.parameter ?? '';
    this.box.hidden = false;
    if (problem.parameter === 'filter') {
      this.input.setAttribute('aria-invalid', 'true');
      if (select) {
        this.input.focus();
        this.input.setSelectionRange(at, Math.min(text.length, at + 1));
      }
    }
  }
}
