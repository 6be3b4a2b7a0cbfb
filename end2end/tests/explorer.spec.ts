import { signUp } from './support';
import { test, expect, Page } from '@playwright/test';

function email(who: string): string {
  return `${who}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** 60 traces of one agent in one session; every 10th fails in its tool span. */
function conversation(stamp: number) {
  const now = Date.now() - 5_000;
  return {
    traces: Array.from({ length: 60 }, (_, i) => {
      const start = new Date(now - i * 1000).toISOString();
      const spans: object[] = [
        {
          span_id: `chat-${stamp}-${i}`, name: 'chat gpt-4o', model: 'gpt-4o',
          input_tokens: 300, output_tokens: 40, start_time: start, latency_ms: 80,
          input: [{ role: 'user', parts: [{ type: 'text', content: `Where is order ${i}?` }] }],
          output: [{ role: 'assistant', parts: [{ type: 'text', content: `Order ${i} ships today.` }] }],
        },
      ];
      if (i % 10 === 3) {
        spans.push({
          span_id: `tool-${stamp}-${i}`, name: 'orders lookup', operation: 'execute_tool',
          start_time: start, latency_ms: 30, status: 'error', error: 'orders API timed out',
        });
      }
      return {
        trace_id: `trace-${stamp}-${i}`, agent_id: 'support-bot', department: 'support',
        session_id: `chat-${stamp}`, user_id: 'customer-1', name: `answer ${i}`,
        start_time: start, latency_ms: 120 + i, spans,
      };
    }),
  };
}

test('dashboard → failed traces → trace → failing span → session, and the column chooser survives a reload', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signUp(page, 'Tess', email('tess'), 'Trace Co');

  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e');
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();
  const stamp = Date.now();
  const res = await page.request.post('/api/v1/traces', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify(conversation(stamp)),
  });
  expect(res.status()).toBe(200);

  // A bar of the requests chart opens its step's traces.
  await page.goto('/');
  await hydrated(page);
  await page.locator('[data-testid="chart-bar-link"]:not([aria-label*=": 0 requests"])').last().click({ force: true });
  await expect(page).toHaveURL(/\/traces\?from=.*&to=/);
  await expect(page.getByTestId('trace-row').first()).toBeVisible();

  // 1. The error-rate KPI opens the failed traces.
  await page.goto('/');
  await hydrated(page);
  await page.getByTestId('kpi-error_rate').getByTestId('kpi-traces').click();
  await expect(page).toHaveURL(/\/traces\?status=error/);
  await hydrated(page);
  const rows = page.getByTestId('trace-row');
  await expect(rows).toHaveCount(6);

  // 2. A failed trace: its failing span is selected, with the error and the messages.
  await rows.first().getByTestId('trace-link').click();
  await expect(page).toHaveURL(/\/traces\/[0-9a-f]{32}/);
  await expect(page.getByTestId('waterfall').getByTestId('span-row')).toHaveCount(3);
  await expect(page.getByTestId('span-title')).toHaveText('orders lookup');
  await expect(page.getByTestId('span-error')).toContainText('orders API timed out');

  // 3. Another span by its row; its messages read as text.
  await page.getByTestId('span-row').filter({ hasText: 'chat gpt-4o' }).locator('a').click();
  await expect(page.getByTestId('span-title')).toHaveText('chat gpt-4o');
  await expect(page.getByTestId('span-panel')).toContainText('ships today');
  await page.getByText('Raw JSON').click();
  await expect(page.getByTestId('span-raw')).toContainText('"input"');

  // 4. The session, as a conversation in order.
  await page.getByTestId('trace-session').click();
  await expect(page.getByTestId('session-title')).toContainText(`chat-${stamp}`);
  await expect(page.getByTestId('session-turn')).toHaveCount(60);
  await expect(page.getByTestId('session-turn').first()).toContainText('Where is order 59?');

  // The list: next page and back, search, sort.
  await page.goto('/traces');
  await hydrated(page);
  await expect(rows).toHaveCount(50);
  const firstId = await rows.first().getAttribute('data-trace-id');
  await page.getByTestId('page-next').click();
  await expect(rows).toHaveCount(10);
  await page.getByTestId('page-prev').click();
  await expect(rows).toHaveCount(50);
  await expect(rows.first()).toHaveAttribute('data-trace-id', firstId!);
  await page.getByTestId('trace-search').fill('"order 42"');
  await page.getByTestId('trace-filters-apply').click();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('answer 42');

  // The column chooser: hide Cost, reload, still hidden.
  await page.goto('/traces');
  await hydrated(page);
  const costHeader = page.locator('th[data-column="cost"]');
  await expect(costHeader).toBeVisible();
  await page.getByTestId('columns-traces').locator('summary').click();
  await page.getByTestId('column-cost').uncheck();
  await expect(costHeader).toBeHidden();
  await page.reload();
  await hydrated(page);
  await expect(page.locator('th[data-column="cost"]')).toBeHidden();
  await expect(page.locator('th[data-column="latency"]')).toBeVisible();

  // The agents registry and the agent's page; an admin renames it.
  await page.goto('/agents');
  await hydrated(page);
  await expect(page.getByTestId('agent-row')).toHaveCount(1);
  await page.getByTestId('agent-row').locator('a').first().click();
  await hydrated(page);
  await expect(page.getByTestId('agent-kpis')).toBeVisible();
  await page.getByTestId('agent-department-input').fill('customer care');
  await page.getByTestId('agent-display-input').fill('Support Bot');
  await page.getByTestId('agent-save').click();
  await expect(page.getByTestId('agent-name')).toHaveText('Support Bot');
  await expect(page.getByTestId('agent-department')).toHaveText('customer care');

  // Delete the failed traces from the list: confirmed, in the background, audited.
  await page.goto('/traces?status=error');
  await hydrated(page);
  await expect(rows).toHaveCount(6);
  await page.getByTestId('delete-matching').locator('summary').click();
  await page.getByTestId('delete-confirm').check();
  await page.getByTestId('delete-submit').click();
  await expect(page.getByTestId('deletion-row').first()).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('deletion-row').first()).toContainText('6 of 6');
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('traces-empty')).toBeVisible();

  // A trace that does not exist: the 404 page.
  const missing = await page.goto(`/traces/${'0'.repeat(31)}1`);
  expect(missing!.status()).toBe(404);
  await expect(page.getByTestId('not-found')).toBeVisible();

  expect(errors).toEqual([]);
});
