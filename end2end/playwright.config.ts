import { defineConfig } from '@playwright/test';
import * as path from 'path';

// The release build of Argus is started by Playwright and tested in Debian's Chromium.
// scripts/test.sh builds it and sets ARGUS_BIN; the database is a throwaway one.
const repo = path.resolve(__dirname, '..');
const port = process.env.ARGUS_E2E_PORT ?? '3917';
const baseURL = `http://127.0.0.1:${port}`;
const bin = process.env.ARGUS_BIN;
if (!bin) {
  throw new Error('set ARGUS_BIN to the release argus binary (scripts/test.sh does)');
}

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  // One retry in CI: a test that passes only on its retry is reported as flaky in the log
  // (the members page after a reload has failed to hydrate within 10 s about one run in three
  // under --repeat-each; open in issue 19's note), so a flake is seen without sinking a run.
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    // The demo workspace first (as scripts/run.sh does on a first start): the layout and
    // accessibility tests look at pages full of data.
    command: `"${bin}" demo --if-empty && "${bin}" serve`,
    cwd: repo,
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    timeout: 240_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      ARGUS_LISTEN_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL:
        process.env.ARGUS_E2E_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/argus_e2e',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? path.join(repo, 'target', 'site'),
      ARGUS_DB_MIN_CONNECTIONS: '1',
      ARGUS_DB_MAX_CONNECTIONS: '5',
      // OTLP/gRPC on a port of its own (an address given: the server does not start without it).
      ARGUS_GRPC_LISTEN: `127.0.0.1:${process.env.ARGUS_E2E_GRPC_PORT ?? '4917'}`,
      ARGUS_LOG: 'warn',
      // The tests check that new data shows up within seconds.
      ARGUS_CACHE_INVALIDATION_MS: '1000',
      // Every test signs up its users from this one address.
      ARGUS_SIGNUP_LIMIT_PER_HOUR: '1000',
    },
  },
});
