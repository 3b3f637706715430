// The stacked series: the top N values of a dimension plus "other", one band each, drawn with
// uPlot (served from node_modules by sluice). uPlot draws lines, not stacks, so each band is drawn
// as the running sum of the bands below it, filled down to the previous one. Clicking a band picks
// its value; dragging across the time axis picks a range.
import uPlot from '/vendor/uplot.js';
import { localTime, rate } from './format.js';

/** Band colours, in the order of the top table's rows; "other" is grey. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#86bcb6', '#8cd17d', '#d37295', '#fabfd2', '#79706e', '#d4a6c8', '#a0cbe8', '#ffbe7d', '#b6992d', '#499894', '#e49444'];
export const OTHER_COLOUR = '#bab0ac';

export function colourOf(i) {
  return PALETTE[i % PALETTE.length];
}

/** The bands of a series answer, bottom up: the top values, then "other" when it has traffic. */
function bandsOf(answer) {
  const bands = answer.series.map((s, i) => ({ label: s.label, filter: s.filter, rates: s.rates, colour: colourOf(i) }));
  if (answer.other.rates.some((r) => r > 0)) bands.push({ label: 'other', filter: null, rates: answer.other.rates, colour: OTHER_COLOUR });
  return bands;
}

export class TrafficChart {
  /**
   * `onPick(band)` when a band is clicked; `onRange(fromMs, toMs)` when a range is dragged;
   * `readout` is the element that says what is under the cursor.
   */
  constructor(el, readout, { onPick, onRange }) {
    this.el = el;
    this.readout = readout;
    this.onPick = onPick;
    this.onRange = onRange;
    this.plot = null;
    this.bands = [];
    this.sums = [];
    this.unit = 'bps';
    this.down = null;
    new ResizeObserver(() => this.plot?.setSize(this.#size())).observe(el);
  }

  #size() {
    const width = Math.max(200, this.el.clientWidth);
    return { width, height: width < 600 ? 220 : 320 };
  }

  /** Draws a series answer of /api/v1/series in `unit`. */
  draw(answer, unit) {
    this.unit = unit;
    this.bands = bandsOf(answer);
    const xs = answer.times.map((t) => t / 1000);
    let below = xs.map(() => 0);
    this.sums = this.bands.map((b) => (below = below.map((v, i) => v + b.rates[i])));
    this.plot?.destroy();
    this.plot = null;
    this.el.replaceChildren();
    if (xs.length === 0) {
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent = 'No flows in this range.';
      this.el.append(p);
      return;
    }
    const series = [{}, ...this.bands.map((b) => ({ label: b.label, stroke: b.colour, fill: `${b.colour}cc`, width: 1, points: { show: false } }))];
    const opts = {
      ...this.#size(),
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      select: { show: true },
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } },
      axes: [{ space: 80 }, { size: 90, values: (_u, ticks) => ticks.map((v) => rate(v, unit)) }],
      // Each band fills down to the one below it (the first to zero).
      bands: this.bands.slice(1).map((_, i) => ({ series: [i + 2, i + 1] })),
      series,
      hooks: {
        setSelect: [(u) => this.#selected(u)],
        setCursor: [(u) => this.#hover(u)],
      },
    };
    this.plot = new uPlot(opts, [xs, ...this.sums], this.el);
    const over = this.plot.over;
    over.addEventListener('mousedown', (e) => (this.down = { x: e.clientX, y: e.clientY }));
    over.addEventListener('click', (e) => {
      const moved = this.down !== null && Math.abs(e.clientX - this.down.x) + Math.abs(e.clientY - this.down.y) > 4;
      this.down = null;
      if (!moved) this.#click();
    });
    over.classList.add('pickable');
  }

  /** The band under the cursor (index into this.bands), or -1: the stack as drawn, between the points either side. */
  #bandAt(u) {
    const { left, top } = u.cursor;
    if (left === undefined || top === undefined || left < 0 || top < 0) return -1;
    const xs = u.data[0];
    const x = u.posToVal(left, 'x');
    const y = u.posToVal(top, 'y');
    if (y < 0 || x < xs[0] || x > xs[xs.length - 1]) return -1;
    let i = 0;
    while (i < xs.length - 2 && xs[i + 1] <= x) i++;
    const f = xs[i + 1] === undefined || xs[i + 1] === xs[i] ? 0 : (x - xs[i]) / (xs[i + 1] - xs[i]);
    return this.sums.findIndex((s) => y <= s[i] + f * ((s[i + 1] ?? s[i]) - s[i]));
  }

  #hover(u) {
    const idx = u.cursor.idx;
    if (idx === null || idx === undefined) {
      this.readout.textContent = '';
      return;
    }
    const when = localTime(u.data[0][idx] * 1000);
    const total = this.sums.length > 0 ? this.sums[this.sums.length - 1][idx] : 0;
    const b = this.#bandAt(u);
    this.readout.textContent = b < 0 ? `${when}  total ${rate(total, this.unit)}` : `${when}  ${this.bands[b].label}: ${rate(this.bands[b].rates[idx], this.unit)} of ${rate(total, this.unit)}`;
  }

  #click() {
    const u = this.plot;
    if (u === null) return;
    const b = this.#bandAt(u);
    if (b >= 0) this.onPick(this.bands[b]);
  }

  #selected(u) {
    const { left, width } = u.select;
    if (width < 5) return;
    const from = u.posToVal(left, 'x') * 1000;
    const to = u.posToVal(left + width, 'x') * 1000;
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    this.onRange(Math.floor(from), Math.ceil(to));
  }
}
