import { expect, Page } from '@playwright/test';

export const PASSWORD = 'a long passphrase';

/** A unique email per run: the e2e database is shared by the tests of one run. */
export function uniqueEmail(who: string): string {
  return `${who}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the page has hydrated (an Effect sets the attribute). */
export async function hydrated(page: Page, timeout?: number) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout });
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

/** The demo workspace's user (loaded on the e2e server's first start: no users yet). */
export const DEMO_EMAIL = 'demo@argus.local';
export const DEMO_PASSWORD = 'argus-demo-password';

/** Logs in as the demo user and lands on the demo workspace's home page. */
export async function logInDemo(page: Page) {
  await page.goto('/login');
  await logIn(page, DEMO_EMAIL, DEMO_PASSWORD);
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
}

/** Every page a signed-in user reaches from the navigation (and the ones they open from it). */
export const PAGES = [
  '/',
  '/usage',
  '/cost',
  '/performance',
  '/traces',
  '/sessions',
  '/agents',
  '/evaluations',
  '/guardrails',
  '/alerts',
  '/status',
  '/settings/api-keys',
  '/settings/connect',
  '/settings/members',
  '/settings/prices',
  '/settings/workspace',
  '/settings/account',
  '/docs/api',
];

/** The pages behind the first link of a list: a trace, a session, an agent. */
export async function detailPages(page: Page): Promise<string[]> {
  const out: string[] = [];
  for (const [list, pattern] of [
    ['/traces', /^\/traces\/[^/?]+$/],
    ['/sessions', /^\/sessions\/[^/?]+$/],
    ['/agents', /^\/agents\/[^/?]+$/],
  ] as const) {
    await page.goto(list);
    const hrefs = await page.locator('main a[href]').evaluateAll((as) =>
      as.map((a) => a.getAttribute('href') ?? ''),
    );
    const first = hrefs.find((h) => pattern.test(h));
    if (first) out.push(first);
  }
  return out;
}

/**
 * What spills out of its card (or makes the page scroll sideways): every visible element whose
 * box passes its card's left or right edge without a scrolling (or clipping) container between
 * them. Tables scroll inside their `.table-scroll` wrapper, which is allowed.
 */
export async function overflows(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    const describe = (el: Element) => {
      const id = el.getAttribute('data-testid');
      const cls = el.getAttribute('class');
      return `<${el.tagName.toLowerCase()}${id ? ` data-testid=${id}` : ''}${cls ? ` class="${cls}"` : ''}> "${(el.textContent ?? '').trim().slice(0, 40)}"`;
    };
    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth + 1) {
      bad.push(`the page scrolls sideways: ${doc.scrollWidth}px in a ${window.innerWidth}px window`);
    }
    const scrolls = (el: Element) => {
      const ox = getComputedStyle(el).overflowX;
      return ox === 'auto' || ox === 'scroll' || ox === 'hidden' || ox === 'clip';
    };
    for (const card of Array.from(document.querySelectorAll('.card, .app-header, .app-main'))) {
      const box = card.getBoundingClientRect();
      for (const el of Array.from(card.querySelectorAll('*'))) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || style.position === 'fixed') continue;
        if (el.closest('.visually-hidden, .skip-link')) continue;
        let p = el.parentElement;
        let inside = false;
        while (p && p !== card) {
          if (scrolls(p)) {
            inside = true;
            break;
          }
          p = p.parentElement;
        }
        if (inside) continue;
        if (r.right > box.right + 1 || r.left < box.left - 1) {
          bad.push(
            `${describe(el)} spans ${Math.round(r.left)}–${Math.round(r.right)}px, its ${describe(card).slice(0, 60)} ${Math.round(box.left)}–${Math.round(box.right)}px`,
          );
        }
      }
    }
    return bad.slice(0, 10);
  });
}
