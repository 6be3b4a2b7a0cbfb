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

  // The traces list shows the trace's latest score per name, a column each.
  await page.goto('/traces');
  await hydrated(page);
  await expect(page.getByTestId('score-column').filter({ hasText: 'relevance' })).toHaveCount(1);
  const line = page.locator(`tr[data-trace-id="${traceId}"]`);
  await expect(line.locator('[data-score="relevance"]')).toHaveText('0.9');
  await expect(line.locator('[data-score="correct"]')).toHaveText('false');

  // The Evaluations page lists both, newest first.
  await page.goto('/evaluations');
  await hydrated(page);
  await expect(page.getByTestId('latest-scores').getByTestId('score-row')).toHaveCount(2);
  await expect(page.getByTestId('latest-scores').getByTestId('score-row').first()).toContainText('correct');
  expect(errors).toEqual([]);
});

/** Native traces of `agent` at `version`, ids prefixed. */
function versioned(prefix: string, version: string, n: number) {
  const start = new Date(Date.now() - 60_000).toISOString();
  return {
    traces: Array.from({ length: n }, (_, i) => ({
      trace_id: `${prefix}-${i}`, agent_id: 'compare-bot', version, environment: 'production',
      start_time: start, latency_ms: 500, name: 'invoke_agent compare-bot',
    })),
  };
}

test('a rule evaluator scores new spans on its own; two versions are compared', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signUp(page, 'Rui', email('rui'), 'Rules Team');
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e');
  await page.locator('input[name="scope_score"]').check();
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();

  // An evaluator on every span: latency under a minute.
  await page.goto('/evaluations');
  await hydrated(page);
  await expect(page.getByTestId('evaluators-empty')).toBeVisible();
  await page.getByTestId('evaluator-name').fill('under-a-minute');
  await page.getByTestId('evaluator-rule').selectOption('latency_below');
  await page.locator('input[name="max_ms"]').fill('60000');
  await page.getByTestId('evaluator-submit').click();
  await expect(page.getByTestId('evaluator-row')).toHaveCount(1);
  await expect(page.getByTestId('evaluator-row')).toContainText('latency ≤ 60000 ms');
  // Edited in place: the rule changes and the version goes up.
  const evaluatorRow = page.getByTestId('evaluator-row');
  await evaluatorRow.getByTestId('evaluator-edit').locator('summary').click();
  await expect(evaluatorRow.locator('input[name="max_ms"]')).toHaveValue('60000');
  await evaluatorRow.locator('input[name="max_ms"]').fill('30000');
  await evaluatorRow.getByTestId('evaluator-save').click();
  await expect(page.getByTestId('evaluator-row')).toContainText('latency ≤ 30000 ms');
  await expect(page.getByTestId('evaluator-row')).toContainText('v2');

  // A trace arrives; the worker scores it without anyone asking.
  const traceId = hex(32);
  const sent = await page.request.post('/v1/traces', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify(evaluatedTrace(traceId)),
  });
  expect(sent.status()).toBe(200);
  await expect(async () => {
    await page.goto(`/traces/${traceId}`);
    await expect(page.getByTestId('trace-scores').getByTestId('score-row')
      .filter({ hasText: 'under-a-minute' })).toHaveCount(1, { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByTestId('trace-scores').getByTestId('score-row')
    .filter({ hasText: 'under-a-minute' })).toContainText('true');
  await page.goto('/evaluations');
  await expect(page.getByTestId('evaluator-stats')).toContainText('0 queued');

  // Two versions with helpfulness scores: 1.0 clearly better than 2.0.
  for (const [prefix, version] of [['old', '1.0'], ['new', '2.0']]) {
    const res = await page.request.post('/api/v1/traces', {
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
      data: JSON.stringify(versioned(prefix, version, 12)),
    });
    expect(res.status()).toBe(200);
  }
  const scores = [];
  for (let i = 0; i < 12; i++) {
    scores.push({ trace_id: `old-${i}`, name: 'helpfulness', value: 0.8 + (i % 3) / 100 });
    scores.push({ trace_id: `new-${i}`, name: 'helpfulness', value: 0.5 + (i % 3) / 100 });
  }
  const scored = await page.request.post('/api/v1/evaluate/scores', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify({ scores }),
  });
  expect(scored.status()).toBe(200);

  await page.goto('/evaluations?range=24h&agent=compare-bot');
  await hydrated(page);
  await expect(page.getByTestId('summary-row').filter({ hasText: 'helpfulness' })).toContainText('n=24');
  // The numbers' histogram: two clusters (0.5x and 0.8x), the median between them.
  const histogram = page.getByTestId('score-histogram').filter({ hasText: 'helpfulness' });
  await expect(histogram).toContainText('median');
  await expect(histogram.locator('rect.bar-bin')).not.toHaveCount(0);
  await page.getByTestId('compare-a').fill('1.0');
  await page.getByTestId('compare-b').fill('2.0');
  await page.getByTestId('compare-submit').click();
  await expect(page).toHaveURL(/a=1\.0/);
  const row = page.getByTestId('compare-row').filter({ hasText: 'helpfulness' });
  await expect(row).toContainText('n=12');
  await expect(row.getByTestId('compare-verdict')).toContainText('significant');
  await expect(row.getByTestId('compare-verdict')).not.toContainText('not significant');
  expect(errors).toEqual([]);
});

test('an admin builds an annotation queue and a reviewer works it to the end', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signUp(page, 'Quinn', email('quinn'), 'Queue Team');
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e');
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();
  const start = new Date(Date.now() - 60_000).toISOString();
  const res = await page.request.post('/api/v1/traces', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify({
      traces: [0, 1, 2].map((i) => ({
        trace_id: `queue-${i}`, agent_id: 'queue-bot', start_time: start, latency_ms: 700,
        name: 'invoke_agent queue-bot', input: `question number ${i}`, output: `answer number ${i}`,
      })),
    }),
  });
  expect(res.status()).toBe(200);

  await page.goto('/evaluations');
  await hydrated(page);
  await page.getByTestId('config-name').fill('helpful');
  await page.getByTestId('config-type').selectOption('boolean');
  await page.getByTestId('config-submit').click();
  await expect(page.getByTestId('config-row')).toHaveCount(1);
  await expect(page.getByTestId('queues-empty')).toBeVisible();
  // A queue naming a config that does not exist is refused with the reason.
  await page.getByTestId('queue-name').fill('spot-checks');
  await page.getByTestId('queue-configs').fill('helpful, nonexistent');
  await page.getByTestId('queue-submit').click();
  await expect(page.getByTestId('annotation-queues').getByTestId('form-error')).toContainText('nonexistent');
  await page.getByTestId('queue-configs').fill('helpful');
  await page.getByTestId('queue-submit').click();
  await expect(page.getByTestId('queue-row')).toHaveCount(1);
  await expect(page.getByTestId('queue-progress')).toContainText('0 of 3 reviewed');

  await page.getByTestId('queue-review').click();
  await hydrated(page);
  const item = page.getByTestId('queue-item');
  await expect(page.getByTestId('queue-remaining')).toContainText('3 left for you');
  await expect(page.getByTestId('queue-output')).toContainText('answer number');
  // Score two, skip one; each answer brings the next item.
  await page.getByTestId('queue-value-helpful').selectOption('true');
  await page.getByTestId('queue-save').click();
  await expect(page.getByTestId('queue-remaining')).toContainText('2 left for you');
  await page.getByTestId('queue-skip').click();
  await expect(page.getByTestId('queue-remaining')).toContainText('1 left for you');
  await page.getByTestId('queue-value-helpful').selectOption('false');
  await page.getByTestId('queue-save').click();
  await expect(page.getByTestId('queue-done')).toBeVisible();
  await expect(item).toHaveCount(0);

  await page.goto('/evaluations');
  await hydrated(page);
  await expect(page.getByTestId('queue-progress')).toContainText('2 of 3 reviewed');
  await expect(page.getByTestId('queue-progress')).toContainText('you: 2 done, 1 skipped');
  await expect(page.getByTestId('queue-agreement')).toContainText('no item scored twice yet');
  expect(errors).toEqual([]);
});
