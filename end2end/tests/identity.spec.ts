import { signUp as signUpAndLogIn, logIn } from './support';
import { test, expect, Page, Browser } from '@playwright/test';

/** A unique email per run: the e2e database is shared by the tests of one run. */
function email(who: string): string {
  return `${who}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

const PASSWORD = 'a long passphrase';

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

async function signUp(page: Page, address: string, name: string, workspace: string) {
  await signUpAndLogIn(page, name, address, workspace);
}

test('sign up, create an API key, log out, log in, switch workspace', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const address = email('ann');

  await page.goto('/signup');
  await hydrated(page);
  await signUp(page, address, 'Ann', 'Acme Support');
  await expect(page.getByTestId('user-name')).toHaveText('Ann');
  await expect(page.getByTestId('home-role')).toHaveText('Owner');

  // Settings → API keys: create one, shown once.
  await page.goto('/settings/api-keys');
  await hydrated(page);
  await expect(page.getByTestId('no-keys')).toBeVisible();
  await page.getByLabel('Name').fill('support-bot production');
  await page.getByTestId('create-key').click();
  await expect(page.getByTestId('new-key-value')).toHaveText(/^argus_[a-z0-9]{12}_[a-z0-9]{43}$/);
  await expect(page.getByTestId('key-row')).toHaveCount(1);
  await expect(page.getByTestId('key-row')).toContainText('support-bot production');
  await expect(page.getByTestId('key-row')).toContainText('ingest');
  // Reloading does not show it again.
  await page.reload();
  await expect(page.getByTestId('new-key')).toHaveCount(0);
  await expect(page.getByTestId('key-row')).toHaveCount(1);

  // Log out: protected pages send us to log in, and back afterwards.
  await hydrated(page);
  await page.getByTestId('log-out').click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/settings/api-keys');
  await expect(page).toHaveURL(/\/login\?next=\/settings\/api-keys$/);
  await hydrated(page);
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password').fill('not the password');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('form-error')).toHaveText('invalid email or password');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await expect(page).toHaveURL(/\/settings\/api-keys$/);
  await expect(page.getByTestId('key-row')).toHaveCount(1);

  // A second workspace, then switch back to the first.
  await page.goto('/settings/workspace');
  await hydrated(page);
  await page.getByTestId('create-workspace-form').getByLabel('Name').fill('Zeta Labs');
  await page.getByTestId('create-workspace').click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('home-title')).toHaveText('Zeta Labs');
  const select = page.getByTestId('workspace-select');
  await expect(select.locator('option')).toHaveCount(2);
  await select.selectOption({ label: 'Acme Support' });
  await page.getByTestId('switch-workspace').click();
  await expect(page.getByTestId('home-title')).toHaveText('Acme Support');
  await page.goto('/settings/api-keys');
  await expect(page.getByTestId('key-row')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test('a second user cannot open the first user\'s workspace', async ({ browser }) => {
  const first = await browser.newContext();
  const ann = await first.newPage();
  await signUp(ann, email('ann'), 'Ann', 'Ann Private');
  const session = await (await ann.request.get('/api/v1/auth/session')).json();
  const annWorkspace = session.workspace.id;

  const second = await browser.newContext();
  const bob = await second.newPage();
  await signUp(bob, email('bob'), 'Bob', 'Bob Corp');
  // Switching into Ann's workspace: not found, and the session stays in Bob's.
  const res = await bob.request.post('/api/v1/auth/switch', {
    form: { workspace_id: annWorkspace },
    headers: { origin: new URL(bob.url()).origin },
  });
  expect(res.status()).toBe(404);
  expect((await res.json()).error.code).toBe('RESOURCE_NOT_FOUND');
  await bob.goto('/settings/members');
  await expect(bob.getByTestId('member-row')).toHaveCount(1);
  await expect(bob.locator('body')).not.toContainText('Ann');
  await expect(bob.getByTestId('workspace-select').locator('option')).toHaveCount(1);
  // A cross-site form post with Bob's cookie is refused.
  const csrf = await bob.request.post('/api/v1/api-keys/create', {
    form: { name: 'evil', scopes: 'admin' },
    headers: { origin: 'https://evil.example' },
  });
  expect(csrf.status()).toBe(403);
  await first.close();
  await second.close();
});

test('without JavaScript: sign up, create a key (shown once), log out, log in', async ({ browser }: { browser: Browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const address = email('nojs');
  await signUp(page, address, 'Nora', 'No Script Inc');

  await page.goto('/settings/api-keys');
  await page.getByLabel('Name').fill('batch job');
  await page.getByTestId('create-key').click();
  await expect(page).toHaveURL(/\/settings\/api-keys\??$/);
  await expect(page.getByTestId('new-key-value')).toHaveText(/^argus_/);
  await page.reload();
  await expect(page.getByTestId('new-key')).toHaveCount(0);
  await expect(page.getByTestId('key-row')).toHaveCount(1);

  await page.getByTestId('log-out').click();
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password').fill('wrong password here');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('form-error')).toHaveText('invalid email or password');
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('home-title')).toHaveText('No Script Inc');
  await context.close();
});

test('an owner invites a member who accepts, changes the role, and the last owner stays', async ({ browser }) => {
  const bobEmail = email('bob');
  const second = await browser.newContext();
  const bob = await second.newPage();
  await signUp(bob, bobEmail, 'Bob', 'Bob Corp');

  const first = await browser.newContext();
  const ann = await first.newPage();
  await signUp(ann, email('ann'), 'Ann', 'Ann Team');
  await ann.goto('/settings/members');
  await hydrated(ann);
  await expect(ann.getByTestId('member-row')).toHaveCount(1);
  // The only owner cannot step down.
  const annRow = ann.getByTestId('member-row').first();
  await annRow.locator('select').selectOption('admin');
  await annRow.getByRole('button', { name: 'Save' }).click();
  await expect(ann.getByTestId('form-error')).toContainText('at least one owner');

  // Inviting makes an invitation with a link, not a member.
  await ann.getByTestId('add-member-form').getByLabel('Email').fill(bobEmail);
  await ann.getByTestId('add-member-form').getByLabel('Role').selectOption('viewer');
  await ann.getByTestId('add-member').click();
  await expect(ann.getByTestId('invitation-link')).toContainText('/invite/');
  await expect(ann.getByTestId('pending-invitations')).toContainText(bobEmail);
  await expect(ann.getByTestId('member-row')).toHaveCount(1);

  // Bob accepts under Settings → Account and lands in Ann's workspace as a viewer.
  await bob.goto('/settings/account');
  await hydrated(bob);
  await expect(bob.getByTestId('invitation-row')).toContainText('Ann Team');
  await bob.getByTestId('accept-invitation').click();
  await expect(bob).toHaveURL(/\/$/);
  await expect(bob.getByTestId('home-title')).toHaveText('Ann Team');
  await expect(bob.getByTestId('home-role')).toHaveText('Viewer');
  await bob.goto('/settings/api-keys');
  await expect(bob.getByTestId('create-key-form')).toHaveCount(0);

  await ann.reload();
  await hydrated(ann);
  await expect(ann.getByTestId('member-row')).toHaveCount(2);
  const bobRow = ann.getByTestId('member-row').filter({ hasText: bobEmail });
  await expect(bobRow.locator('select')).toHaveValue('viewer');

  // Ann removes him (after a confirmation naming him); his session no longer opens her workspace.
  ann.once('dialog', (d) => {
    expect(d.message()).toContain(bobEmail);
    void d.accept();
  });
  await bobRow.getByRole('button', { name: 'Remove' }).click();
  await expect(ann.getByTestId('member-row')).toHaveCount(1);
  const res = await bob.request.get('/api/v1/api-keys');
  expect(res.status()).toBe(401);
  await first.close();
  await second.close();
});

test('a newcomer joins with the invitation link; log-out ends the session on the server; a password change signs out elsewhere', async ({ browser }) => {
  const annContext = await browser.newContext();
  const ann = await annContext.newPage();
  await signUp(ann, email('ann'), 'Ann', 'Link Team');
  await ann.goto('/settings/members');
  await hydrated(ann);
  const newcomer = email('newcomer');
  await ann.getByTestId('add-member-form').getByLabel('Email').fill(newcomer);
  await ann.getByTestId('add-member').click();
  const link = (await ann.getByTestId('invitation-link').textContent())!.trim();
  expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/invite\/[A-Za-z0-9_-]{43}$/);

  const newContext = await browser.newContext();
  const nina = await newContext.newPage();
  await nina.goto(link);
  await hydrated(nina);
  await expect(nina.locator('h1')).toHaveText('Join Link Team');
  await nina.getByLabel('Your name').fill('Nina');
  await nina.getByLabel('Password').fill(PASSWORD);
  await nina.getByTestId('invite-signup').click();
  await expect(nina).toHaveURL(/\/$/);
  await expect(nina.getByTestId('home-title')).toHaveText('Link Team');

  // The session cookie, copied before log-out, stops working after it.
  const cookie = (await newContext.cookies()).find((c) => c.name === 'argus_session')!;
  await nina.getByTestId('log-out').click();
  await expect(nina).toHaveURL(/\/login$/);
  const replay = await nina.request.get('/api/v1/auth/session', {
    headers: { cookie: `argus_session=${cookie.value}` },
  });
  expect(replay.status()).toBe(401);

  // Two sessions; a password change in one signs the other out.
  await logIn(nina, newcomer);
  await expect(nina).toHaveURL(/\/$/);
  const otherContext = await browser.newContext();
  const other = await otherContext.newPage();
  await other.goto('/login');
  await logIn(other, newcomer);
  await expect(other).toHaveURL(/\/$/);
  await nina.goto('/settings/account');
  await hydrated(nina);
  await expect(nina.getByTestId('session-table').locator('tbody tr')).toHaveCount(2);
  await nina.getByLabel('Current password').fill(PASSWORD);
  await nina.getByLabel('New password').fill('a newer passphrase');
  await nina.getByTestId('change-password').click();
  await expect(nina.getByTestId('password-changed')).toContainText('1 other session');
  await other.goto('/settings/api-keys');
  await expect(other).toHaveURL(/\/login\?next=/);
  await annContext.close();
  await newContext.close();
  await otherContext.close();
});
