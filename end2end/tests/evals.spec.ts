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

/** One chat span with a `gen_ai.evaluation.result` span event, as OTLP/JSON. */
function evaluatedTrace(traceId: string) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const attr = (key: string, value: object) => ({ key, value });
  return {
    resourceSpans: [{
      resource: { attributes: [attr('service.name', { stringValue: 'evals-e2e-agent' })] },
      scopeSpans: [{
        spans: [{
          traceId,
          spanId: hex(16),
          name: 'chat gpt-4o',
          kind: 3,
          startTimeUnixNano: (now - 2_000_000_000n).toString(),
          endTimeUnixNano: now.toString(),
          attributes: [
            attr('gen_ai.operation.name', { stringValue: 'chat' }),
            attr('gen_ai.request.model', { stringValue: 'gpt-4o' }),
          ],
          events: [{
            name: 'gen_ai.evaluation.result',
            timeUnixNano: now.toString(),
            attributes: [
              attr('gen_ai.evaluation.name', { stringValue: 'relevance' }),
              attr('gen_ai.evaluation.score.value', { doubleValue: 0.9 }),
              attr('gen_ai.evaluation.explanation', { stringValue: 'on topic' }),
            ],
          }],
        }],
      }],
    }],
  };
}

test('an OpenTelemetry evaluation shows on its trace; an admin defines a score; a member annotates', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signUp(page, 'Eva', email('eva'), 'Evals Team');
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e');
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();
  const traceId = hex(32);
  const sent = await page.request.post('/v1/traces', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify(evaluatedTrace(traceId)),
  });
  expect(sent.status()).toBe(200);

  // The trace page lists the OTel score; no configs yet, so it says where to define one.
  await page.goto(`/traces/${traceId}`);
  await hydrated(page);
  const scores = page.getByTestId('trace-scores');
  await expect(scores.getByTestId('score-row')).toHaveCount(1);
  await expect(scores.getByTestId('score-row')).toContainText('relevance');
  await expect(scores.getByTestId('score-row')).toContainText('otel');
  await expect(scores.getByTestId('annotate-no-configs')).toBeVisible();

  // Define a boolean score on the Evaluations page.
  await page.goto('/evaluations');
  await hydrated(page);
  await expect(page.getByTestId('configs-empty')).toBeVisible();
  await page.getByTestId('config-name').fill('correct');
  await page.getByTestId('config-type').selectOption('boolean');
  await page.getByTestId('config-submit').click();
  await expect(page.getByTestId('config-row')).toHaveCount(1);
  await expect(page.getByTestId('config-row')).toContainText('true / false');
  // A bad config is refused with its reason, and nothing is added.
  await page.getByTestId('config-name').fill('broken');
  await page.getByTestId('config-type').selectOption('categorical');
  await page.getByTestId('config-submit').click();
  await expect(page.getByTestId('form-error')).toContainText('categories');
  await expect(page.getByTestId('config-row')).toHaveCount(1);

  // Annotate the trace: the new score appears with the reviewer and the comment.
  await page.goto(`/traces/${traceId}`);
  await hydrated(page);
  const form = page.getByTestId('annotate-form');
  await expect(form).toBeVisible();
  await form.getByTestId('annotate-value').selectOption('false');
  await form.getByTestId('annotate-comment').fill('cites the wrong policy');
  await form.getByTestId('annotate-submit').click();
  await expect(scores.getByTestId('score-row')).toHaveCount(2);
  const mine = scores.getByTestId('score-row').filter({ hasText: 'annotation' });
  await expect(mine).toContainText('correct');
  await expect(mine).toContainText('false');
  await expect(mine).toContainText('cites the wrong policy');

  // The Evaluations page lists both, newest first.
  await page.goto('/evaluations');
  await hydrated(page);
  await expect(page.getByTestId('latest-scores').getByTestId('score-row')).toHaveCount(2);
  await expect(page.getByTestId('latest-scores').getByTestId('score-row').first()).toContainText('correct');
  expect(errors).toEqual([]);
});
