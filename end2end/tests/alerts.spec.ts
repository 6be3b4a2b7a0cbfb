import { hydrated, signUp, uniqueEmail } from './support';
import { test, expect } from '@playwright/test';

test('a rule created from a chart fires on the home page and in the bell, and is silenced', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signUp(page, 'Alma', uniqueEmail('alma'), 'Alert Team');

  // An ingest key, and slow traffic from one agent (3 s each).
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('alerts-e2e');
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();
  const now = Date.now();
  const traces = Array.from({ length: 12 }, (_, i) => ({
    trace_id: `alert-e2e-${now}-${i}`, agent_id: 'slow-bot', name: 'invoke_agent slow-bot',
    start_time: new Date(now - 20_000 + i * 100).toISOString(), latency_ms: 3_000,
  }));
  const sent = await page.request.post('/api/v1/traces', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify({ traces }),
  });
  expect(sent.status()).toBe(200);

  // From the latency chart: the editor opens with p95 latency and the chart's filters.
  await page.goto('/performance?agent=slow-bot');
  await hydrated(page);
  await page.getByTestId('alert-on-latency').click();
  await expect(page).toHaveURL(/\/alerts\?metric=latency_p95/);
  await hydrated(page);
  await expect(page.getByTestId('no-rules')).toBeVisible();
  await expect(page.getByTestId('rule-metric')).toHaveValue('latency_p95');
  await page.getByTestId('rule-name').fill('slow-bot p95');
  await page.getByTestId('rule-threshold').fill('1000');
  await page.getByTestId('rule-for').selectOption('0');
  await page.getByTestId('rule-backtest').click();
  await expect(page.getByTestId('backtest-result')).toContainText('Over the last 7 days this rule would have fired');
  await page.getByTestId('rule-save').click();
  const row = page.getByTestId('rule-row');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('p95 latency (ms) > 1000 over 5 minutes');
  await expect(row).toContainText('agent=slow-bot');

  // The evaluator runs every 30 s: the home page's card and the bell show it firing.
  await expect.poll(async () => {
    await page.goto('/');
    return page.getByTestId('home-alerts').count();
  }, { timeout: 75_000, intervals: [3_000] }).toBe(1);
  const card = page.getByTestId('home-alerts');
  await expect(card).toContainText('1 firing');
  await expect(card.getByTestId('alert-instance')).toContainText('slow-bot p95');
  await expect(card.getByTestId('alert-instance')).toContainText(/p95 latency [23],\d{3} ms > 1,000 ms/);
  await expect(page.getByTestId('alert-bell')).toHaveAttribute('data-firing', '1');
  // The firing alert links to the dashboard filtered to its window.
  const link = await card.getByTestId('alert-dashboard').getAttribute('href');
  expect(link).toMatch(/^\/\?from=.*&to=.*&agent=slow-bot$/);

  // Silence it from the alerts page.
  await page.goto('/alerts');
  await hydrated(page);
  const instance = page.getByTestId('alerts-now').getByTestId('alert-instance');
  await expect(instance).toHaveAttribute('data-state', 'firing');
  await instance.getByTestId('silence-1h').click();
  await expect.poll(async () => {
    await page.goto('/alerts');
    return page.locator('[data-testid="silence-row"][data-active="true"]').count();
  }, { timeout: 10_000 }).toBe(1);
  await expect(page.getByTestId('silence-row')).toContainText('slow-bot p95');
  await expect(page.getByTestId('history-row').first()).toContainText('firing');
  expect(errors).toEqual([]);
});
