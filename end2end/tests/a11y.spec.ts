import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { detailPages, hydrated, logInDemo, PAGES } from './support';

// Issue 18, point 6: axe-core over every page of the demo workspace, light and dark, plus the
// signed-out pages: no serious or critical WCAG 2 A/AA violation (colour contrast included).
test('every page passes axe-core in light and dark', async ({ page }) => {
  test.setTimeout(600_000);
  const problems: string[] = [];
  const check = async (path: string, scheme: 'light' | 'dark') => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(path);
    await hydrated(page, 30_000);
    await page.waitForLoadState('networkidle');
    const results = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
      .analyze();
    for (const v of results.violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      const where = v.nodes
        .slice(0, 3)
        .map((n) => `${n.target.join(' ')}${n.failureSummary ? ` (${n.failureSummary.split('\n').slice(1, 2).join('').trim()})` : ''}`)
        .join('; ');
      problems.push(`${path} [${scheme}] ${v.id} (${v.impact}, ${v.nodes.length}×): ${where}`);
    }
  };
  for (const path of ['/login', '/signup']) {
    for (const scheme of ['light', 'dark'] as const) await check(path, scheme);
  }
  await logInDemo(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  const pages = [...PAGES, ...(await detailPages(page))];
  for (const path of pages) {
    for (const scheme of ['light', 'dark'] as const) await check(path, scheme);
  }
  expect(problems, problems.join('\n')).toEqual([]);
});
