import { expect, Page } from '@playwright/test';

export const PASSWORD = 'a long passphrase';

/** A unique email per run: the e2e database is shared by the tests of one run. */
export function uniqueEmail(who: string): string {
  return `${who}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the page has hydrated (an Effect sets the attribute). */
export async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/**
 * Signs up (the answer is the same for any address, so nobody is signed in by it) and logs
 * in, landing on the new workspace's home page. Works with and without JavaScript.
 */
export async function signUp(page: Page, name: string, address: string, workspace: string) {
  await page.goto('/signup');
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Workspace name').fill(workspace);
  await page.getByTestId('signup-submit').click();
  await expect(page).toHaveURL(/\/login\?signed_up=1$/);
  await expect(page.getByTestId('login-notice')).toBeVisible();
  await logIn(page, address);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('home-title')).toHaveText(workspace);
}

/** Fills and submits the log-in form on the current page. */
export async function logIn(page: Page, address: string, password = PASSWORD) {
  const form = page.getByTestId('login-form');
  await form.getByLabel('Email').fill(address);
  await form.getByLabel('Password').fill(password);
  await page.getByTestId('login-submit').click();
}
