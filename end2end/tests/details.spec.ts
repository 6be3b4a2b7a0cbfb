import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './support';

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
