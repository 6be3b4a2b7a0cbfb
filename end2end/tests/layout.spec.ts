import { test, expect } from '@playwright/test';
import * as fs from 'fs';
import { detailPages, hydrated, logInDemo, overflows, PAGES } from './support';

// Issue 18, point 2: a layout that holds from a phone to a wide screen. Every page of the demo
// workspace at four widths: nothing spills out of its card (tables scroll inside it) and the
// page never scrolls sideways. Screenshots of the main pages at each width in light and dark go
// to screenshots/ (the record of how the pages look).
const WIDTHS = [375, 1024, 1440, 2560];
const SHOTS = ['/', '/cost', '/performance', '/traces', '/settings/connect'];

test('no page spills out of its cards, from 375 to 2,560 px', async ({ page }) => {
  test.setTimeout(900_000);
  await logInDemo(page);
  const details = await detailPages(page);
  expect(details.length).toBe(3);
  const pages = [...PAGES, ...details];
  const problems: string[] = [];
  fs.mkdirSync('screenshots', { recursive: true });
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    for (const path of pages) {
      const schemes = SHOTS.includes(path) || path === details[0] ? ['light', 'dark'] : ['light'];
      for (const scheme of schemes) {
        await page.emulateMedia({ colorScheme: scheme as 'light' | 'dark' });
        await page.goto(path);
        await hydrated(page, 30_000);
        await page.waitForLoadState('networkidle');
        if (scheme === 'light') {
          for (const p of await overflows(page)) problems.push(`${path} at ${width}px: ${p}`);
        }
        if (schemes.length === 2) {
          const name = path === '/' ? 'home' : path.slice(1).replace(/[/?=&]+/g, '_').slice(0, 40);
          await page.screenshot({
            path: `screenshots/${name}-${width}-${scheme}.png`,
            fullPage: true,
          });
        }
      }
    }
  }
  fs.writeFileSync('screenshots/overflows.txt', problems.join('\n'));
  expect(problems, problems.join('\n')).toEqual([]);
});

test("KPI cards line up and the home page's cards fill their row", async ({ page }) => {
  await logInDemo(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto('/');
  await hydrated(page);
  const tops = await page.locator('.kpi-grid > .card').evaluateAll((cards) =>
    cards.map((c) => Math.round(c.getBoundingClientRect().top)),
  );
  expect(tops.length).toBeGreaterThan(3);
  // The first row's cards share one top edge.
  const first = tops[0];
  expect(tops.filter((t) => t === first).length).toBeGreaterThan(1);
  expect(tops.filter((t) => Math.abs(t - first) < 40).every((t) => t === first)).toBe(true);
  // The two "Top agents" cards share the row between them: no empty third column.
  const grid = page.locator('.card-grid').filter({ has: page.getByTestId('top-cost') });
  const [g, cards] = await Promise.all([
    grid.boundingBox(),
    grid.locator('> .card').evaluateAll((cs) => cs.map((c) => c.getBoundingClientRect().right)),
  ]);
  expect(Math.max(...cards)).toBeGreaterThan(g!.x + g!.width - 2);
});
