import { signUp, hydrated, uniqueEmail } from './support';
import { test, expect } from '@playwright/test';

function hex(n: number): string {
  return Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
}

test('a dataset is uploaded, run twice through ingest, compared run against run, and grows from a trace', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signUp(page, 'Dee', uniqueEmail('dee'), 'Dataset Team');
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e');
  await page.locator('input[name="scope_score"]').check();
  await page.getByTestId('create-key').click();
  const key = (await page.getByTestId('new-key-value').textContent())!.trim();

  // A member starts a dataset on the Evaluations page.
  await page.goto('/evaluations');
  await hydrated(page);
  await expect(page.getByTestId('datasets-empty')).toBeVisible();
  await page.getByTestId('dataset-name').fill('regression');
  await page.getByTestId('dataset-submit').click();
  await expect(page.getByTestId('dataset-row')).toHaveCount(1);
  await page.getByTestId('dataset-row').getByRole('link', { name: 'regression' }).click();
  await expect(page.getByTestId('dataset-title')).toHaveText('regression');
  await hydrated(page);
  await expect(page.getByTestId('items-empty')).toBeVisible();
  await expect(page.getByTestId('runs-empty')).toBeVisible();

  // JSONL pasted in: three items and a bad line, named by its number.
  const ids = [0, 1, 2].map(() => crypto.randomUUID());
  const jsonl = ids
    .map((id, i) => JSON.stringify({ id, input: `question ${i}`, expected_output: `answer ${i}` }))
    .concat(['{"expected_output": "no input"}'])
    .join('\n');
  await page.getByTestId('upload-jsonl').fill(jsonl);
  await page.getByTestId('upload-submit').click();
  await expect(page.getByTestId('upload-result')).toContainText('Added 3 items');
  await expect(page.getByTestId('upload-result')).toContainText('line 4');
  await expect(page.getByTestId('item-row')).toHaveCount(3);

  // Two runs arrive through ingest, each span naming its item; the newer version scores higher.
  const start = new Date(Date.now() - 60_000).toISOString();
  const traces: { trace_id: string; version: string; run?: string }[] = [];
  const body = {
    traces: ids.flatMap((id, i) => [
      { v: '1.0', run: 'baseline' as string | undefined },
      { v: '2.0', run: undefined },
    ].map(({ v, run }) => {
      const trace_id = hex(32);
      traces.push({ trace_id, version: v, run });
      const metadata: Record<string, string> = { 'dataset.item_id': id };
      if (run) metadata['dataset.run_name'] = run;
      return {
        trace_id, agent_id: 'exp-bot', version: v, start_time: start, latency_ms: 300 + i,
        name: 'invoke_agent exp-bot', output: `reply ${i}`, metadata,
      };
    })),
  };
  const sent = await page.request.post('/api/v1/traces', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify(body),
  });
  expect(sent.status()).toBe(200);
  const scores = traces.map((t, i) => ({
    trace_id: t.trace_id, name: 'quality', value: t.version === '1.0' ? 0.2 + (i % 3) / 100 : 0.8 + (i % 3) / 100,
  }));
  const scored = await page.request.post('/api/v1/evaluate/scores', {
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
    data: JSON.stringify({ scores }),
  });
  expect(scored.status()).toBe(200);

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('run-row')).toHaveCount(2);
  await expect(page.getByTestId('run-row').filter({ hasText: 'baseline' })).toContainText('3 of 3');
  await page.getByTestId('run-a').selectOption({ label: 'baseline' });
  await page.getByTestId('run-b').selectOption({ label: 'exp-bot@2.0' });
  await page.getByTestId('run-compare').click();
  await expect(page).toHaveURL(/a=.*&b=/);
  const row = page.getByTestId('compare-score-row').filter({ hasText: 'quality' });
  await expect(row).toContainText('n=3');
  await expect(row.getByTestId('compare-paired')).toContainText('3 better · 0 worse · 0 same');
  await expect(row.getByTestId('compare-verdict')).toContainText('B higher');
  await expect(page.getByTestId('compare-item-row')).toHaveCount(3);
  await expect(page.getByTestId('compare-item-row').first()).toContainText('answer 0');

  // From a trace's page, a member adds it to the dataset.
  await page.goto(`/traces/${traces[0].trace_id}`);
  await hydrated(page);
  await page.getByTestId('add-to-dataset').locator('summary').click();
  await page.getByTestId('add-to-dataset-submit').click();
  await expect(page.getByTestId('dataset-added')).toContainText('Added 1 item');
  await page.goto('/evaluations');
  await expect(page.getByTestId('dataset-row')).toContainText('4');
  expect(errors).toEqual([]);
});
