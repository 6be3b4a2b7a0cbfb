import { test, expect, Page } from '@playwright/test';
import { DEMO_EMAIL, DEMO_PASSWORD, hydrated, logIn, logInDemo } from './support';

// Issue 18, point 3: Grafana-grade time controls — drag across a time chart to zoom (URL
// updated, Back returns), step back and forward by one range, absolute from/to with calendar
// and time inputs, and a time zone (UTC or the browser's) that is remembered.

function period(page: Page): { from: Date | null; to: Date | null; range: string | null } {
  const q = new URL(page.url()).searchParams;
  const at = (k: string) => (q.get(k) ? new Date(q.get(k)!) : null);
  return { from: at('from'), to: at('to'), range: q.get('range') };
}

test('dragging across the requests chart zooms into that range; Back returns', async ({ page }) => {
  await logInDemo(page);
  await page.goto('/?range=24h');
  await hydrated(page);
  const chart = page.getByTestId('requests-chart');
  await expect(chart).toBeVisible();
  await chart.scrollIntoViewIfNeeded();
  const box = (await chart.boundingBox())!;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.3, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.45, y, { steps: 4 });
  await expect(page.getByTestId('zoom-selection')).toBeVisible();
  await page.mouse.move(box.x + box.width * 0.6, y, { steps: 4 });
  await page.mouse.up();
  // The page stays the home page (the bar under the pointer is not followed)...
  await expect(page).toHaveURL(/^[^?]*\/\?from=[^&]+&to=/);
  const p = period(page);
  expect(p.range).toBeNull();
  const hours = (p.to!.getTime() - p.from!.getTime()) / 3_600_000;
  // ...over about 30 % of the 24 hours (the plot starts after the y axis: a little less).
  expect(hours).toBeGreaterThan(5);
  expect(hours).toBeLessThan(9);
  await hydrated(page);
  await expect(page.getByTestId('filter-range')).toHaveValue('');
  // The zoomed range is drawn (or says it is empty: the demo data need not cover it).
  await expect(page.getByTestId('requests-chart').or(page.getByTestId('chart-empty')).first()).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/\?range=24h$/);
  await expect(page.getByTestId('filter-range')).toHaveValue('24h');
  // A click without a drag still opens the traces of its bar.
  await page.locator('[data-testid="chart-bar-link"]:not([aria-label*=": 0 requests"])').last().click({ force: true });
  await expect(page).toHaveURL(/\/traces\?from=/);
});

test('the period steps back and forward by its own length', async ({ page }) => {
  await logInDemo(page);
  await page.goto('/cost?range=24h&by=model');
  await hydrated(page);
  // Nothing is later than a period that ends now.
  await expect(page.getByTestId('step-later')).toHaveAttribute('aria-disabled', 'true');
  await page.getByTestId('step-earlier').click();
  await expect(page).toHaveURL(/\/cost\?from=.*&to=.*&by=model$/);
  const back = period(page);
  expect((back.to!.getTime() - back.from!.getTime()) / 3_600_000).toBeCloseTo(24, 1);
  expect(Date.now() - back.to!.getTime()).toBeGreaterThan(23 * 3_600_000);
  await hydrated(page);
  await page.getByTestId('step-earlier').click();
  await expect.poll(() => period(page).to?.getTime()).toBe(back.from!.getTime());
  await hydrated(page);
  await page.getByTestId('step-later').click();
  await expect.poll(() => period(page).to?.getTime()).toBe(back.to!.getTime());
  // One more step reaches now: the preset again.
  await hydrated(page);
  await page.getByTestId('step-later').click();
  await expect(page).toHaveURL(/\/cost\?range=24h&by=model$/);
});

test('absolute from/to in the chosen time zone, which is remembered', async ({ browser }) => {
  const context = await browser.newContext({ timezoneId: 'Asia/Kolkata' });
  const page = await context.newPage();
  await logInDemo(page);
  await page.goto('/?from=2026-11-20T10%3A00%3A00Z&to=2026-11-21T10%3A00%3A00Z');
  await hydrated(page);
  const from = page.getByTestId('filter-from');
  const to = page.getByTestId('filter-to');
  // UTC by default (what the server renders).
  await expect(from).toHaveValue('2026-11-20T10:00');
  await expect(to).toHaveValue('2026-11-21T10:00');
  await expect(page.getByTestId('filter-range')).toHaveValue('');
  // The browser's zone (India, UTC+05:30): the same instants on its clock.
  await page.getByTestId('time-zone').selectOption('browser');
  await expect(page.getByTestId('time-zone')).toContainText(/Asia\/(Kolkata|Calcutta)/);
  await expect(from).toHaveValue('2026-11-20T15:30');
  // A time typed in is read on that clock.
  await from.fill('2026-11-20T12:00');
  await expect(page).toHaveURL(/from=2026-11-20T06%3A30%3A00Z&to=2026-11-21T10%3A00%3A00Z/);
  // A "to" before "from" is refused in words, and the URL stays.
  await to.fill('2026-11-19T12:00');
  await expect(page.getByTestId('period-error')).toContainText('must be after from');
  await expect(page).toHaveURL(/to=2026-11-21T10%3A00%3A00Z/);
  // Remembered: a reload shows the browser's clock again, and so do the chart's times.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('time-zone')).toHaveValue('browser');
  await expect(from).toHaveValue('2026-11-20T12:00');
  await context.close();
});

test('without JavaScript the form sends from/to as UTC', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/login');
  await logIn(page, DEMO_EMAIL, DEMO_PASSWORD);
  await expect(page).toHaveURL(/\/$/);
  await page.goto('/performance?range=7d');
  await page.getByTestId('filter-from').fill('2026-11-20T08:15');
  await page.getByTestId('filter-to').fill('2026-11-22T08:15');
  await page.getByTestId('filter-bar').getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/\/performance\?/);
  await expect(page.getByTestId('filter-from')).toHaveValue('2026-11-20T08:15');
  await expect(page.getByTestId('last-updated')).toContainText('2026-11-20 08:00');
  await context.close();
});
