import { test, expect, Page } from '@playwright/test';
import { logInDemo, signUp, uniqueEmail } from './support';

/** Fails the test on any uncaught page error (a broken WASM bundle shows up here). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

test('status page content is in the server-rendered HTML, for admins (JavaScript disabled)', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  // Anonymous visitors are sent to log in: the page names versions and addresses.
  await page.goto('/status');
  await expect(page).toHaveURL(/\/login\?next=\/status$/);
  await signUp(page, 'Stan', uniqueEmail('stan'), 'Status Co');
  const res = await page.goto('/status');
  expect(res?.status()).toBe(200);
  await expect(page.getByRole('heading', { name: 'System status' })).toBeVisible();
  const db = page.getByTestId('database-status');
  await expect(db).toContainText('connected');
  await expect(db.getByTestId('migration')).toContainText(/\d{14} · \w+/);
  await expect(page.getByTestId('cache-status')).toContainText('Redis');
  await expect(page.getByTestId('version')).not.toBeEmpty();
  // Nothing ran: no hydration marker, yet the page is complete.
  await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
  await context.close();
});

test('the page hydrates; the theme toggle works and survives a reload', async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: 'light' });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto('/login');
  await hydrated(page);
  const html = page.locator('html');
  await expect(html).toHaveAttribute('data-theme', 'light');

  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(await background()).toBe('rgb(247, 247, 249)');

  await page.getByTestId('theme-toggle').click();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  expect(await page.evaluate(() => localStorage.getItem('argus.theme'))).toBe('"dark"');
  expect(await background()).toBe('rgb(17, 17, 22)');

  // After a reload the stored choice applies before any paint: check as soon as the DOM exists.
  await page.reload({ waitUntil: 'domcontentloaded' });
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await hydrated(page);
  await expect(page.locator('.theme-icon-sun')).toBeVisible();
  await expect(page.locator('.theme-icon-moon')).toBeHidden();

  await page.getByTestId('theme-toggle').click();
  await expect(html).toHaveAttribute('data-theme', 'light');
  expect(errors).toEqual([]);
  await context.close();
});

test('first visit follows the system colour scheme', async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: 'dark' });
  const page = await context.newPage();
  await page.goto('/login', { waitUntil: 'domcontentloaded' });
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  expect(await page.evaluate(() => localStorage.getItem('argus.theme'))).toBeNull();
  await context.close();
});

test('refresh refetches the status through the server function', async ({ page }) => {
  const errors = watchErrors(page);
  await signUp(page, 'Rita', uniqueEmail('rita'), 'Refresh Co');
  await page.goto('/status');
  await hydrated(page);
  const call = page.waitForResponse(
    (r) => r.url().includes('/api/v1/system/status') && r.status() === 200,
  );
  await page.getByTestId('refresh-status').click();
  const res = await call;
  const json = await res.json();
  expect(json.database.reachable).toBe(true);
  await expect(page.getByTestId('database-status')).toContainText('connected');
  expect(errors).toEqual([]);
});

test('an unknown page is a real 404 page, and its link navigates in the app', async ({ page }) => {
  await signUp(page, 'Nico', uniqueEmail('nico'), 'Nowhere Co');
  const res = await page.goto('/no/such/page');
  expect(res?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await hydrated(page);
  await page.getByRole('link', { name: 'Go to system status' }).click();
  await expect(page).toHaveURL(/\/status$/);
  await expect(page.getByTestId('database-status')).toBeVisible();
});

test('every page carries a CSP with a nonce; inline scripts carry it; the page still hydrates', async ({ page }) => {
  const errors = watchErrors(page);
  const res = await page.goto('/login');
  const csp = res!.headers()['content-security-policy'];
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]{22}' 'wasm-unsafe-eval'/);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(res!.headers()['referrer-policy']).toBe('strict-origin-when-cross-origin');
  expect(res!.headers()['permissions-policy']).toContain('camera=()');
  await hydrated(page);
  const nonce = csp.match(/'nonce-([^']+)'/)![1];
  const inline = await page.evaluate(() =>
    Array.from(document.querySelectorAll('script:not([src])')).map((s) => (s as HTMLScriptElement).nonce),
  );
  expect(inline.length).toBeGreaterThan(0);
  for (const n of inline) expect(n).toBe(nonce);
  // A script the page did not send is refused by the browser.
  const injected = await page.evaluate(() => {
    (window as any).__injected = false;
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true;';
    document.body.appendChild(s);
    return (window as any).__injected;
  });
  expect(injected).toBe(false);
  expect(errors.filter((e) => !e.includes('Content Security Policy'))).toEqual([]);
});

test('the API answers unknown routes with the error envelope', async ({ request }) => {
  const res = await request.get('/api/v1/nope', { headers: { 'x-request-id': 'e2e-check-1' } });
  expect(res.status()).toBe(404);
  expect(res.headers()['x-request-id']).toBe('e2e-check-1');
  const json = await res.json();
  expect(json.error.code).toBe('RESOURCE_NOT_FOUND');
  expect(json.error.request_id).toBe('e2e-check-1');
});

test('a page split off the main bundle hydrates on first load, and links load the next one in place', async ({ page }) => {
  // Release builds split every page but home, log-in and sign-up into chunks of their own
  // (`cargo leptos build --split`): a first visit of such a page loads its chunk before it
  // hydrates; a link to another loads that one without reloading the document.
  const errors = watchErrors(page);
  await logInDemo(page);
  await page.goto('/traces?period=30d');
  await hydrated(page);
  // Interactive after hydration: a column hidden from the chooser goes at once.
  await expect(page.locator('th[data-column="cost"]')).toBeVisible();
  await page.getByTestId('columns-traces').locator('summary').click();
  await page.getByTestId('column-cost').uncheck();
  await expect(page.locator('th[data-column="cost"]')).toBeHidden();
  await page.getByTestId('column-cost').check();

  // Client-side navigation between split pages: the document stays (the marker survives).
  await page.evaluate(() => ((window as unknown as { __stay: boolean }).__stay = true));
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Usage' }).click();
  await expect(page).toHaveURL(/\/usage/);
  await expect(page.getByRole('heading', { level: 1, name: 'Usage' })).toBeVisible();
  await expect(page.getByTestId('usage-table').or(page.getByTestId('usage-empty'))).toBeVisible();
  await nav.getByRole('link', { name: 'Settings' }).click();
  await expect(page).toHaveURL(/\/settings\/api-keys$/);
  await expect(page.getByRole('heading', { level: 2, name: 'API keys' })).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/usage/);
  await nav.getByRole('link', { name: 'Traces' }).click();
  await expect(page.locator('th[data-column="cost"]')).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __stay?: boolean }).__stay)).toBe(true);
  expect(errors).toEqual([]);
});
