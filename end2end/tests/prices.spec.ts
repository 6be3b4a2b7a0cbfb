import { signUp } from './support';
import { test, expect, Page } from '@playwright/test';

function email(who: string): string {
  return `${who}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

function hex(n: number): string {
  return Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
}

/** One model call of `model` with tokens, as OTLP/JSON. */
function trace(model: string) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const attr = (key: string, value: object) => ({ key, value });
  return {
    resourceSpans: [{
      resource: { attributes: [attr('service.name', { stringValue: 'pricing-e2e-agent' })] },
      scopeSpans: [{
        spans: [{
          traceId: hex(32),
          spanId: hex(16),
          name: `chat ${model}`,
          kind: 3,
          startTimeUnixNano: (now - 2_000_000_000n).toString(),
          endTimeUnixNano: now.toString(),
          attributes: [
            attr('gen_ai.operation.name', { stringValue: 'chat' }),
            attr('gen_ai.request.model', { stringValue: model }),
            attr('gen_ai.usage.input_tokens', { intValue: '1000' }),
            attr('gen_ai.usage.output_tokens', { intValue: '500' }),
          ],
        }],
      }],
    }],
  };
}

test('a model without a price is listed, priced from its link, and re-priced', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signUp(page, 'Pia', email('pia'), 'Pricing Team');

  // An ingest key, and a span of a model no catalog knows.
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e');
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();
  const sent = await page.request.post('/v1/traces', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify(trace('acme-e2e-large')),
  });
  expect(sent.status()).toBe(200);

  // Settings → Prices: it is listed without a price.
  await page.getByRole('link', { name: 'Prices' }).click();
  await expect(page).toHaveURL(/\/settings\/prices$/);
  await hydrated(page);
  await expect(page.getByTestId('no-prices')).toBeVisible();
  const row = page.getByTestId('unpriced-row');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('acme-e2e-large');
  await expect(row).toContainText('1,000');

  // Its link fills the form; a bad price is refused with a clear message.
  await row.getByRole('link', { name: 'Set a price' }).click();
  await hydrated(page);
  await expect(page.getByLabel('Model')).toHaveValue('acme-e2e-large');
  await page.getByLabel('Input $/1M', { exact: true }).fill('cheap');
  await page.getByLabel('Output $/1M').fill('4');
  await page.getByTestId('save-price').click();
  await expect(page.getByTestId('form-error')).toContainText('is not a price');

  await page.getByLabel('Input $/1M', { exact: true }).fill('2');
  await page.getByTestId('save-price').click();
  await expect(page.getByTestId('price-queued')).toContainText('acme-e2e-large');
  await expect(page.getByTestId('price-row')).toHaveCount(1);
  await expect(page.getByTestId('price-row')).toContainText('$2');

  // The background job re-prices the span: the model leaves the unpriced list.
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('job-row').first()).toContainText('done');
    await expect(page.getByTestId('no-unpriced')).toBeVisible();
  }).toPass({ timeout: 15_000 });
  await expect(page.getByTestId('job-row').first()).toContainText('1');

  // Removing it brings the model back to the unpriced list.
  await hydrated(page);
  await page.getByTestId('price-row').getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('no-prices')).toBeVisible();
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('unpriced-row')).toHaveCount(1);
  }).toPass({ timeout: 15_000 });
  expect(errors).toEqual([]);
});
