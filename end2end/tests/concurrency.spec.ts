import { test, expect } from '@playwright/test';
import { DEMO_EMAIL, DEMO_PASSWORD, PAGES } from './support';

// Many pages rendered at once on the server must all finish. reactive_graph 0.2.16 could
// deadlock two worker threads during server rendering (leptos-rs/leptos#4673: an AsyncDerived
// held its lock while notifying a Suspense), after which the whole server stopped answering —
// Argus builds a patched copy (vendor/reactive_graph/PATCHED.md). 6,000 renders (ARGUS_RENDERS),
// 24 at a time, each URL new (the page cache would answer repeats), then the server still
// answers. Unpatched, a run of 6,000 froze the server (both workers in RwLock::write_contended).
test('thousands of concurrent page renders all complete and the server stays up', async ({ playwright, baseURL }) => {
  test.setTimeout(300_000);
  const api = await playwright.request.newContext({ baseURL });
  const login = await api.post('/api/v1/auth/login', {
    form: { email: DEMO_EMAIL, password: DEMO_PASSWORD },
    maxRedirects: 0,
  });
  expect(login.status(), await login.text()).toBeLessThan(400);
  const pages = PAGES.filter((p) => p !== '/docs/api');
  const urls = Array.from({ length: Number(process.env.ARGUS_RENDERS ?? 6000) }, (_, i) => {
    const path = pages[i % pages.length];
    return `${path}${path.includes('?') ? '&' : '?'}range=${['24h', '7d', '30d'][i % 3]}&n=${i}`;
  });
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < urls.length) {
      const url = urls[next++];
      try {
        const res = await api.get(url, { timeout: 20_000 });
        const body = await res.text();
        if (res.status() !== 200 || !body.includes('</html>')) {
          failures.push(`${url}: ${res.status()}`);
        }
      } catch (e) {
        failures.push(`${url}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
  expect(failures.slice(0, 10), `${failures.length} of ${urls.length} failed`).toEqual([]);
  const ready = await api.get('/readyz', { timeout: 5_000 });
  expect(ready.status()).toBe(200);
  await api.dispose();
});
