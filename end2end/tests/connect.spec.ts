import { execFileSync } from 'node:child_process';
import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './support';

// A person who signs up gets their first trace onto the screen by copying one snippet.
test('a new workspace: create a key in place, run the curl snippet, the trace appears without a reload', async ({ page, baseURL }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signUp(page, 'Nia', uniqueEmail('nia'), 'First Light');
  await hydrated(page);

  const panel = page.getByTestId('connect');
  await expect(panel).toBeVisible();
  await expect(page.getByTestId('waiting')).toBeVisible();
  // No "no traces in this range" callout beside the panel.
  await expect(page.getByTestId('no-data')).toHaveCount(0);

  // The snippets point at this server; until a key exists they say where it goes.
  await expect(page.getByTestId('snippet-env')).toContainText(`OTEL_EXPORTER_OTLP_ENDPOINT="${baseURL}"`);
  await expect(page.getByTestId('snippet-env')).toContainText('<your ingest key>');

  await page.getByTestId('connect-create').click();
  const key = (await page.getByTestId('connect-key-value').textContent())!.trim();
  expect(key.length).toBeGreaterThan(20);
  await expect(page.getByTestId('snippet-env')).toContainText(`x-api-key=${key}`);

  // Each tab shows its snippet, with the key in it.
  for (const id of ['python', 'node', 'curl']) {
    await page.getByTestId(`tab-${id}`).click();
    await expect(page.getByTestId(`tab-${id}`)).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByTestId(`snippet-${id}`)).toContainText(key);
  }

  // Copy the curl snippet as it is shown and run it.
  const snippet = (await page.getByTestId('snippet-curl').textContent())!;
  const out = execFileSync('bash', ['-c', snippet], { encoding: 'utf8' });
  expect(JSON.parse(out)).toMatchObject({ accepted: 1 });

  // The wait turns into a link to that trace by itself.
  const link = page.getByTestId('first-trace');
  await expect(link).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId('waiting')).toHaveCount(0);
  await link.click();
  await expect(page).toHaveURL(/\/traces\/[^/]+$/);
  await expect(page.getByText('my-agent').first()).toBeVisible();

  // The same panel lives on under Settings → Connect, showing the newest trace.
  await page.goto('/settings/connect');
  await expect(page.getByTestId('connect')).toBeVisible();
  await expect(page.getByTestId('first-trace')).toBeVisible();
  // The home page no longer shows the setup panel.
  await page.goto('/');
  await expect(page.getByTestId('connect')).toHaveCount(0);
  expect(errors).toEqual([]);
});
