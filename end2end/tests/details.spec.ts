import { test, expect } from '@playwright/test';
import { detailPages, hydrated, logInDemo, overflows, PAGES, signUp, uniqueEmail } from './support';

// Issue 18, point 5: the keyboard shortcut sheet and its shortcuts; destructive actions ask
// first and say what will happen.
test('? opens the shortcut sheet, g t goes to the traces, / focuses their search', async ({ page }) => {
  await signUp(page, 'Kim', uniqueEmail('kim'), 'Keys Inc');
  await hydrated(page);
  await page.keyboard.press('?');
  const sheet = page.getByTestId('shortcut-sheet');
  await expect(sheet).toBeVisible();
  await expect(sheet).toContainText('Go to Traces');
  await page.keyboard.press('Escape');
  await expect(sheet).toBeHidden();
  await page.keyboard.press('g');
  await page.keyboard.press('t');
  await expect(page).toHaveURL(/\/traces$/);
  await hydrated(page);
  // The traces page may still be loading its part of the bundle: wait until it shows.
  await expect(page.getByTestId('trace-search')).toBeVisible();
  await page.keyboard.press('/');
  await expect(page.getByTestId('trace-search')).toBeFocused();
  // Typed into a field, the keys are the field's.
  await page.keyboard.type('g h ?');
  await expect(page).toHaveURL(/\/traces$/);
  await expect(sheet).toBeHidden();
  await expect(page.getByTestId('trace-search')).toHaveValue('g h ?');
});

test('revoking a key asks first: cancelled, the key stays active; confirmed, it is revoked', async ({ page }) => {
  await signUp(page, 'Rae', uniqueEmail('rae'), 'Revoke Ltd');
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByTestId('create-key-form').getByLabel('Name').fill('ci-agent');
  await page.getByTestId('create-key').click();
  await expect(page.getByTestId('new-key')).toBeVisible();
  const row = page.getByTestId('key-row').filter({ hasText: 'ci-agent' });
  await expect(row).toContainText('active');
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.dismiss();
  });
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect.poll(() => asked).toContain('ci-agent');
  expect(asked).toContain('cannot be undone');
  await page.reload();
  await hydrated(page);
  await expect(row).toContainText('active');
  page.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toContainText('revoked');
});

test('span attribute keys keep their case and long values wrap inside the span panel', async ({ page }) => {
  await signUp(page, 'Ola', uniqueEmail('ola'), 'Attr Case Co');
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByTestId('create-key-form').getByLabel('Name').fill('otel');
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const traceId = hex(32);
  const now = BigInt(Date.now()) * 1_000_000n;
  const attr = (k: string, v: string) => ({ key: k, value: { stringValue: v } });
  const long = 'x'.repeat(1500);
  const sent = await page.request.post('/v1/traces', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify({
      resourceSpans: [{
        resource: { attributes: [attr('service.name', 'case-agent')] },
        scopeSpans: [{
          spans: [{
            traceId, spanId: hex(16), name: 'chat gpt-4o', kind: 3,
            startTimeUnixNano: (now - 1_000_000_000n).toString(), endTimeUnixNano: now.toString(),
            attributes: [
              attr('gen_ai.request.model', 'gpt-4o'),
              attr('App.TenantID', 'Acme-EU'),
              attr('app.payload', long),
            ],
          }],
        }],
      }],
    }),
  });
  expect(sent.status()).toBe(200);
  await page.goto(`/traces/${traceId}`);
  await hydrated(page);
  const keys = page.getByTestId('span-attributes').locator('th');
  // As drawn (innerText follows CSS text-transform), not only as stored.
  await expect(keys.filter({ hasText: /tenantid/i })).toHaveText('App.TenantID', { useInnerText: true });
  await expect(keys.filter({ hasText: /request\.model/i })).toHaveText('gen_ai.request.model', { useInnerText: true });
  for (const width of [375, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    expect(await overflows(page)).toEqual([]);
  }
});

test('arrow keys move between the rows of a table; Enter opens the row', async ({ page }) => {
  await logInDemo(page);
  await page.goto('/traces');
  await hydrated(page);
  const rows = page.locator('[data-testid="traces-table"] tbody tr');
  await expect(rows.first()).toBeVisible();
  const firstLink = rows.nth(0).locator('a').first();
  await firstLink.focus();
  await page.keyboard.press('ArrowDown');
  await expect(rows.nth(1).locator('a').first()).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(rows.nth(2).locator('a').first()).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await expect(rows.nth(1).locator('a').first()).toBeFocused();
  const href = await rows.nth(1).locator('a').first().getAttribute('href');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`${href!.replace(/[?]/g, '\\?')}$`));
});

test('numbers in tables and cards carry their thousands separators', async ({ page }) => {
  await logInDemo(page);
  const bad: string[] = [];
  for (const path of [...PAGES, ...(await detailPages(page))]) {
    await page.goto(path);
    await hydrated(page);
    // Numeric cells and KPI values: a run of four or more digits without a separator is a
    // number nobody formatted (years and ids do not sit in these cells).
    const texts = await page
      .locator('main td.num, main th.num, main [data-testid="kpi-value"], main .stat-value')
      .allInnerTexts();
    for (const t of texts) {
      if (/(^|[^\d.,:\-/])\d{4,}/.test(t.trim())) bad.push(`${path}: "${t.trim()}"`);
    }
  }
  expect(bad).toEqual([]);
});
