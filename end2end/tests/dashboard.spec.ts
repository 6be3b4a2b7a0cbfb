import { signUp } from './support';
import { test, expect, Page } from '@playwright/test';

function email(who: string): string {
  return `${who}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

const kpi = (page: Page, key: string) => page.getByTestId(`kpi-${key}`).getByTestId('kpi-value');

function traces(n: number, department: string, agent: string, failed = 0) {
  return {
    traces: Array.from({ length: n }, (_, i) => ({
      trace_id: `${agent}-${Date.now()}-${i}-${Math.random()}`,
      agent_id: agent,
      department,
      environment: 'production',
      model: 'gpt-4o',
      input_tokens: 1000,
      output_tokens: 100,
      latency_ms: 500 + i * 100,
      status: i < failed ? 'error' : 'ok',
    })),
  };
}

test('the dashboard: filters in the URL, back and forward, memory, refresh, and no JavaScript', async ({ page, browser }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signUp(page, 'Dana', email('dana'), 'Dash Co');

  // An empty workspace shows how to send a trace.
  await expect(page.getByTestId('connect')).toBeVisible();

  // Ingest: 3 support traces (1 failed) and 1 sales trace.
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e');
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();
  for (const batch of [traces(3, 'support', 'support-bot', 1), traces(1, 'sales', 'sales-writer')]) {
    const res = await page.request.post('/api/v1/traces', {
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
      data: JSON.stringify(batch),
    });
    expect(res.status()).toBe(200);
  }

  await page.goto('/');
  await hydrated(page);
  await expect(kpi(page, 'requests')).toHaveText('4');
  await expect(kpi(page, 'error_rate')).toHaveText('25.0%');
  await expect(page.getByTestId('requests-chart')).toBeVisible();

  // Changing a filter updates the URL without a reload.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  await page.getByTestId('filter-dept').selectOption('support');
  await expect(page).toHaveURL(/\/\?dept=support$/);
  await expect(kpi(page, 'requests')).toHaveText('3');
  await page.getByTestId('filter-range').selectOption('7d');
  await expect(page).toHaveURL(/\/\?range=7d&dept=support$/);
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);

  // Back and forward restore the filters.
  await page.goBack();
  await expect(page).toHaveURL(/\/\?dept=support$/);
  await expect(page.getByTestId('filter-range')).toHaveValue('24h');
  await page.goBack();
  await expect(kpi(page, 'requests')).toHaveText('4');
  await page.goForward();
  await expect(kpi(page, 'requests')).toHaveText('3');

  // The last filters come back when the URL has none.
  await page.getByTestId('filter-dept').selectOption('sales');
  await expect(page).toHaveURL(/dept=sales/);
  await page.goto('/');
  await hydrated(page);
  await expect(page).toHaveURL(/\/\?dept=sales$/);
  await expect(kpi(page, 'requests')).toHaveText('1');

  // Refetch: with a 1-second interval, new data shows up without a reload.
  await page.goto('/?dept=sales&refresh=1');
  await hydrated(page);
  await expect(kpi(page, 'requests')).toHaveText('1');
  const res = await page.request.post('/api/v1/traces', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify(traces(2, 'sales', 'sales-writer')),
  });
  expect(res.status()).toBe(200);
  await expect(kpi(page, 'requests')).toHaveText('3', { timeout: 10_000 });

  // Usage: split by agent, sorted by a column, all in the URL.
  await page.getByRole('link', { name: 'Usage' }).click();
  await expect(page).toHaveURL(/\/usage/);
  await hydrated(page);
  await page.getByTestId('filter-dept').selectOption('');
  await page.getByTestId('by-agent').click();
  await expect(page).toHaveURL(/by=agent/);
  await expect(page.getByTestId('usage-row').first()).toContainText('sales-writer');
  await expect(page.getByTestId('usage-row')).toHaveCount(2);
  await page.getByTestId('sort-errors').click();
  await expect(page).toHaveURL(/sort=errors/);
  await expect(page.getByTestId('usage-row').first()).toContainText('support-bot');
  await expect(page.getByTestId('stacked-chart')).toBeVisible();

  // A shared link renders the filtered page without JavaScript.
  const noJs = await browser.newContext({
    javaScriptEnabled: false,
    storageState: await page.context().storageState(),
  });
  const plain = await noJs.newPage();
  await plain.goto('/?range=24h&dept=support');
  await expect(kpi(plain, 'requests')).toHaveText('3');
  await expect(plain.getByTestId('filter-dept')).toHaveValue('support');
  await plain.goto('/?range=nonsense');
  await expect(plain.getByTestId('filter-notice')).toContainText('Ignored range');
  await noJs.close();

  expect(errors).toEqual([]);
});

test('cost and performance: filters, an unpriced model priced from the cost page, chart and column preferences, and reuse of recent data', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signUp(page, 'Cory', email('cory'), 'Cost Co');

  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e');
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();
  const unpriced = traces(2, 'research', 'lab-bot');
  unpriced.traces.forEach((t) => (t.model = 'acme-llm-e2e'));
  for (const batch of [traces(3, 'support', 'support-bot', 1), traces(1, 'sales', 'sales-writer'), unpriced]) {
    const res = await page.request.post('/api/v1/traces', {
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
      data: JSON.stringify(batch),
    });
    expect(res.status()).toBe(200);
  }

  // Home shows what is new.
  await page.goto('/');
  await hydrated(page);
  await expect(page.locator('[data-testid=activity-event][data-kind=new_agent]')).toHaveCount(3);

  // Cost: totals, tables, the projection and its method.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cost', exact: true }).click();
  await expect(page).toHaveURL(/\/cost/);
  await hydrated(page);
  await expect(page.getByTestId('cost-requests').getByTestId('kpi-value')).toHaveText('6');
  await expect(page.getByTestId('cost-by-dept').getByTestId('cost-row')).toHaveCount(3);
  await expect(page.getByTestId('projection-method')).toContainText('last 7 complete days');
  await expect(page.getByTestId('cost-by-model')).toContainText('acme-llm-e2e');

  // Filtering by department, in the URL.
  await page.getByTestId('filter-dept').selectOption('support');
  await expect(page).toHaveURL(/\/cost\?dept=support$/);
  await expect(page.getByTestId('cost-requests').getByTestId('kpi-value')).toHaveText('3');

  // The chart type is a preference that survives a reload.
  await expect(page.getByTestId('stacked-chart')).toHaveAttribute('data-kind', 'stacked');
  await page.getByTestId('chart-lines').click();
  await expect(page.getByTestId('line-chart')).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('line-chart')).toBeVisible();
  await page.getByTestId('chart-stacked').click();
  await expect(page.getByTestId('stacked-chart')).toBeVisible();

  // The unpriced model: priced from the cost page, then re-priced in the background.
  const row = page.getByTestId('unpriced-row').filter({ hasText: 'acme-llm-e2e' });
  await row.getByRole('link', { name: 'Set a price' }).click();
  await expect(page).toHaveURL(/price_for=acme-llm-e2e/);
  await hydrated(page);
  await expect(page.locator('#set-price input[name=model]')).toHaveValue('acme-llm-e2e');
  await page.locator('#set-price input[name=input]').fill('1');
  await page.locator('#set-price input[name=output]').fill('2');
  await page.getByTestId('save-price').click();
  await expect(page.getByTestId('price-queued')).toContainText('acme-llm-e2e');
  // Re-pricing runs in the background and the caches follow within the invalidation window
  // (1 s here): reload until the page shows both the price and the cost it produced.
  await expect
    .poll(async () => {
      await page.goto('/cost?dept=research');
      const unpriced = await page.getByTestId('unpriced').textContent();
      const cost = await page.getByTestId('cost-total').getByTestId('kpi-value').textContent();
      return `${unpriced} | ${cost}`;
    }, { timeout: 15_000 })
    .toMatch(/Every model seen has a price.* \| (?!\$0\.0000$)/s);

  // Performance: percentiles for the filter, and a column hidden for good.
  await page.goto('/performance?dept=support');
  await hydrated(page);
  await expect(page.getByTestId('perf-requests').getByTestId('kpi-value')).toHaveText('3');
  await expect(page.getByTestId('perf-error_rate').getByTestId('kpi-value')).toHaveText('33.3%');
  await expect(page.getByTestId('latency-chart')).toBeVisible();
  await expect(page.getByTestId('bin-chart')).toBeVisible();
  const p99 = page.getByTestId('slowest-agent').locator('th[data-column=p99]');
  await expect(p99).toBeVisible();
  await page.getByTestId('columns-latency').locator('summary').click();
  await page.getByTestId('column-p99').uncheck();
  await expect(p99).toBeHidden();
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('slowest-agent').locator('th[data-column=p95]')).toBeVisible();
  await expect(p99).toBeHidden();

  // Recent data is reused when navigating back within five minutes: no second request.
  const costCalls: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/cost/breakdown')) costCalls.push(r.url());
  });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cost', exact: true }).click();
  await expect(page.getByTestId('cost-requests').getByTestId('kpi-value')).toHaveText('3');
  const first = costCalls.length;
  expect(first).toBeGreaterThan(0);
  await page.getByRole('link', { name: 'Performance', exact: true }).click();
  await expect(page.getByTestId('perf-requests').getByTestId('kpi-value')).toHaveText('3');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cost', exact: true }).click();
  await expect(page.getByTestId('cost-requests').getByTestId('kpi-value')).toHaveText('3');
  expect(costCalls.length).toBe(first);

  expect(errors).toEqual([]);
});
