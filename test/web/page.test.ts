/**
 * The page in a real browser: Debian's chromium, headless, driven by playwright-core, against the
 * API over a store imported from known captures. The page loads with no console error, the chart
 * draws, the capture's top talker is in the table, a click on its band (and on its row) drills
 * down to its flows, a mistyped filter shows the mistake at its column, the URL round-trips the
 * state (reload, back), the exporters view shows collect's file, and a phone-sized screen does not
 * scroll sideways. Screenshots go to a temporary folder (their paths are printed);
 * SLUICE_UPDATE_SCREENSHOT=1 also copies the desktop one to docs/images/page.png.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { writeExporterRows } from '../../src/model/exporter-file.js';
import { ROOT } from '../helpers/cli.js';
import { captureStore, startApi, type TestApi } from '../api/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
/** The v5 capture's busy minutes: its flows end from 20:14:57 to 20:16:10 UTC. */
const WINDOW = '2018-11-08T20:14:30.000Z/2018-11-08T20:16:30.000Z';

let dir: string;
let store: string;
let api: TestApi;
let browser: BrowserContext;
const shots: string[] = [];
/** What the page must never say: console errors and warnings, uncaught exceptions, failed requests. */
const problems: string[] = [];

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed: this test needs it (apt-get install chromium); CI's .ci/run installs it`);
  dir = mkdtempSync(join(tmpdir(), 'sluice-web-'));
  store = await captureStore(dir);
  api = await startApi(store);
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timezoneId: 'UTC',
    locale: 'en-GB',
    viewport: { width: 1280, height: 860 },
  });
});

after(async () => {
  await browser?.close();
  await api?.stop();
  if (shots.length > 0) process.stdout.write(`screenshots:\n${shots.map((s) => `  ${s}\n`).join('')}`);
  // The screenshots stay for a person to look at; the store and the browser profile go.
  if (dir !== undefined) for (const d of ['store', 'profile']) rmSync(join(dir, d), { recursive: true, force: true });
});

/** A page that records every problem it reports. */
async function open(path: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A newer view cancels the answers an older one still waits for: not a failure.
    if (!/ERR_ABORTED/.test(r.failure()?.errorText ?? '')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(`${api.url}${path}`);
  return page;
}

async function shot(page: Page, name: string): Promise<string> {
  const file = join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
  return file;
}

const search = (page: Page) => new URL(page.url()).searchParams;

/** Waits until the page has drawn the answers of the state in its URL. */
async function drawn(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.shown === location.search);
}

/**
 * Page coordinates of a point inside a band of colour `rgb` on the chart: a pixel of its fill
 * (80 % opaque) whose neighbours 2 px around are fill too, the middle one of those; null if none.
 */
async function bandPoint(page: Page, rgb: [number, number, number]): Promise<{ x: number; y: number } | null> {
  // Text, not a function: tsx would wrap the inner functions in a helper the page does not have.
  return page.evaluate(`(() => {
    const want = ${JSON.stringify(rgb)};
    const canvas = document.querySelector('#chart canvas');
    const width = canvas.width, height = canvas.height;
    const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    const fill = (x, y) => {
      if (x < 0 || y < 0 || x >= width || y >= height) return false;
      const i = (y * width + x) * 4;
      return Math.abs(data[i] - want[0]) + Math.abs(data[i + 1] - want[1]) + Math.abs(data[i + 2] - want[2]) < 24 && Math.abs(data[i + 3] - 204) < 20;
    };
    const inside = [];
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (fill(x, y) && fill(x - 2, y) && fill(x + 2, y) && fill(x, y - 2) && fill(x, y + 2)) inside.push([x, y]);
    if (inside.length === 0) return null;
    const [x, y] = inside[Math.floor(inside.length / 2)];
    const box = canvas.getBoundingClientRect();
    return { x: box.left + ((x + 0.5) * box.width) / width, y: box.top + ((y + 0.5) * box.height) / height };
  })()`);
}

/** The first band's colour (#4e79a7): its fill (80 % opaque) and line on the chart's transparent canvas. */
const FIRST_BAND: [number, number, number] = [0x4e, 0x79, 0xa7];

test('the page loads without a console error, draws the chart, and shows the top talker of the capture', async () => {
  const page = await open(`/?t=${encodeURIComponent(WINDOW)}&limit=25`);
  await drawn(page);
  const firstRow = await page.locator('#top-table tbody tr').first().locator('td.value').textContent();
  assert.equal(firstRow, '127.0.0.1', 'the v5 capture sends 95 % of its bytes from 127.0.0.1');
  assert.match((await page.locator('#top-table tbody tr').first().textContent()) ?? '', /95\.3 %3\.03 MB2\.05 k23/);
  assert.match((await page.locator('#top-table tfoot').textContent()) ?? '', /total100\.0 %3\.18 MB2\.33 k60/);
  // The chart drew its bands: pixels of the first band's colour on the canvas.
  assert.notEqual(await bandPoint(page, FIRST_BAND), null, 'the first band is drawn');
  assert.match((await page.locator('#health').textContent()) ?? '', /segments/);
  // The flows of the whole view, for the screenshot docs/web.md shows.
  await page.click('#show-flows');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('flows') === '1');
  await drawn(page);
  await shot(page, 'traffic');
  await page.close();
  assert.deepEqual(problems, []);
});

test('a click on the top band drills down to its flows; so does a click on a table row', async () => {
  const page = await open(`/?t=${encodeURIComponent(WINDOW)}`);
  await drawn(page);
  const at = await bandPoint(page, FIRST_BAND);
  assert.notEqual(at, null);
  await page.mouse.move(at!.x, at!.y);
  await page.mouse.click(at!.x, at!.y);
  await page.waitForFunction(() => new URL(location.href).searchParams.get('filter') === 'src ip 127.0.0.1');
  assert.equal(search(page).get('flows'), '1');
  await page.waitForSelector('#flows:not([hidden]) #flows-table tbody tr');
  await page.waitForFunction(() => /of 23,/.test(document.querySelector('#flows-range')?.textContent ?? ''));
  const sources = await page.locator('#flows-table tbody tr td:nth-child(4)').allTextContents();
  assert.equal(sources.length, 23);
  assert.ok(sources.every((s) => s === '127.0.0.1'), sources.join(' '));
  // Newest first: end times never increase down the table.
  const ends = await page.locator('#flows-table tbody tr td:nth-child(1)').allTextContents();
  assert.deepEqual([...ends].sort().reverse(), ends);
  await shot(page, 'drilled');

  // Second drill from the table: the destination port of the narrowed view.
  await page.selectOption('#dim', 'dstport');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('dim') === 'dstport');
  await drawn(page);
  await page.waitForFunction(() => document.querySelector('#top-table thead')?.textContent?.includes('dstport'));
  const row = page.locator('#top-table tbody tr.pickable').first();
  const port = await row.locator('td.value').textContent();
  await row.click();
  await page.waitForFunction((p) => new URL(location.href).searchParams.get('filter') === `src ip 127.0.0.1 and dst port ${p}`, port);
  await page.waitForFunction((p) => [...document.querySelectorAll('#flows-table tbody tr td:nth-child(7)')].every((td) => td.textContent === p), port);
  // Every stored column can be shown: the chooser lists them, and a checked one becomes a column.
  await page.click('.columns summary');
  await page.check('#columns input[value="next_hop"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('cols')?.endsWith(',next_hop'));
  await page.waitForFunction(() => [...document.querySelectorAll('#flows-table thead th')].some((th) => th.textContent === 'next_hop'));
  assert.equal(await page.locator('#columns input').count(), 36, '31 stored columns and 5 derived ones');
  await page.close();
  assert.deepEqual(problems, []);
});

test('a filter typed with a mistake shows it at its column, and is not applied', async () => {
  const page = await open(`/?t=${encodeURIComponent(WINDOW)}`);
  await drawn(page);
  const before = page.url();
  await page.fill('#filter', 'proto tcp and port eighty');
  const box = page.locator('#filter-error');
  await box.waitFor({ state: 'visible' });
  assert.equal(await box.getAttribute('data-column'), '20');
  assert.equal(await box.locator('mark').textContent(), 'e', 'the marked character is the one at column 20');
  assert.match((await box.textContent()) ?? '', /filter, column 20: expected a port number/);
  assert.equal(await page.getAttribute('#filter', 'aria-invalid'), 'true');
  await page.press('#filter', 'Enter');
  await page.waitForTimeout(300);
  assert.equal(page.url(), before, 'a filter with a mistake is not applied');
  assert.deepEqual(await page.evaluate(() => { const i = document.querySelector('#filter') as HTMLInputElement; return [i.selectionStart, i.selectionEnd]; }), [19, 20], 'Enter selects the character at the column');
  await shot(page, 'filter-mistake');
  // Mended, it applies.
  await page.fill('#filter', 'proto tcp and port 443');
  await page.press('#filter', 'Enter');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('filter') === 'proto tcp and port 443');
  await box.waitFor({ state: 'hidden' });
  await page.close();
  assert.deepEqual(problems, []);
});

test('the URL round-trips the state: controls, reload, back and forward', async () => {
  const state = `?t=${encodeURIComponent(WINDOW)}&filter=${encodeURIComponent('not proto icmp')}&dim=dstip&unit=pps&top=5&flows=1&limit=25`;
  const page = await open(`/${state}`);
  await drawn(page);
  assert.deepEqual(
    await page.evaluate(() => ['#filter', '#dim', '#unit', '#top'].map((s) => (document.querySelector(s) as HTMLInputElement).value)),
    ['not proto icmp', 'dstip', 'pps', '5'],
  );
  assert.equal(await page.getAttribute('[data-t="custom"]', 'aria-pressed'), 'true');
  assert.equal(await page.locator('#top-table tbody tr').count(), 5);
  await page.waitForSelector('#flows-table tbody tr');
  assert.equal(await page.locator('#flows-table tbody tr').count(), 25);
  const sorted = (u: string) => [...new URL(u).searchParams.entries()].sort().map((e) => e.join('='));
  assert.deepEqual(sorted(page.url()), sorted(`${api.url}/${state}`), 'loading a state leaves its URL saying the same');
  // A change is a new URL; reload shows the same view; back returns to the one before.
  await page.selectOption('#unit', 'flows');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('unit') === 'flows');
  await page.click('#older');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('offset') === '25');
  await page.reload();
  await drawn(page);
  assert.equal(await page.inputValue('#unit'), 'flows');
  await page.waitForFunction(() => /^26–/.test(document.querySelector('#flows-range')?.textContent ?? ''));
  await page.goBack();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('offset') === null);
  await page.goBack();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('unit') === 'pps');
  assert.equal(await page.inputValue('#unit'), 'pps');
  // A preset range is a relative window in the URL.
  await page.click('[data-t="-6h"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('t') === '-6h');
  await page.close();
  assert.deepEqual(problems, []);
});

test('the exporters view: collect\'s file, its age, drops and sequence loss', async () => {
  // As collect leaves it in STORE/state every 5 s.
  await writeExporterRows(join(store, 'state'), [
    {
      exporter: '192.168.1.1', datagrams: 2, records: 60, recordsPerSecond: 1, lastSeenMs: Date.now() - 3000, drops: { 'no-template': 4 }, health: {}, rateUnknown: 0, clockSkewSeconds: 0.2,
      domains: [{ domain: 0, records: 60, optionsRecords: 0, counterRecords: 0, templates: 0, sampling: { header: 1 }, sequenceLost: { records: 7 }, sequenceResets: 0, sequenceReordered: 0 }],
    },
  ]);
  const page = await open('/');
  await page.click('button.tab[data-view="exporters"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('view') === 'exporters');
  await page.waitForSelector('#exporters-table tbody tr.exporter');
  const text = (await page.locator('#exporters-table').textContent()) ?? '';
  assert.match(text, /192\.168\.1\.1/);
  assert.match(text, /no-template 4/);
  assert.match(text, /7 records/);
  assert.match(text, /domain 0/);
  assert.match((await page.locator('#exporters-source').textContent()) ?? '', /From collect's exporters\.json \(written every 5 s\), \d+ s ago\./);
  await shot(page, 'exporters');
  await page.close();
  assert.deepEqual(problems, []);
});

test('readable on a phone: nothing scrolls the page sideways', async () => {
  const page = await open(`/?t=${encodeURIComponent(WINDOW)}&flows=1`);
  await page.setViewportSize({ width: 390, height: 844 });
  await drawn(page);
  await page.waitForSelector('#flows-table tbody tr');
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client + 1, `page ${scroll} px wide on a ${client} px screen`);
  const chartWidth = await page.evaluate(() => document.querySelector('#chart canvas')!.getBoundingClientRect().width);
  assert.ok(chartWidth <= client && chartWidth > 200, `chart ${chartWidth} px`);
  await shot(page, 'phone');
  await page.close();
  assert.deepEqual(problems, []);
  if (process.env.SLUICE_UPDATE_SCREENSHOT === '1') copyFileSync(shots.find((s) => s.endsWith('traffic.png'))!, join(ROOT, 'docs/images/page.png'));
});
