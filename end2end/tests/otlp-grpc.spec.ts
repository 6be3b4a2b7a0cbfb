import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './support';

// Issue 20, point 5: the OpenTelemetry Python SDK's OTLP/gRPC exporter (what a Collector or a
// gRPC-default SDK speaks) delivers a trace that then shows up like any other.
const python = process.env.ARGUS_OTEL_PYTHON;
const grpcPort = process.env.ARGUS_E2E_GRPC_PORT ?? '4917';

function sendOverGrpc(key: string, compression?: string) {
  return spawnSync(python!, [path.join(__dirname, '..', 'otel', 'send_grpc.py')], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${grpcPort}`,
      OTEL_EXPORTER_OTLP_INSECURE: 'true',
      OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${key}`,
      ...(compression ? { OTEL_EXPORTER_OTLP_COMPRESSION: compression } : {}),
    },
  });
}

test('the Python SDK exports a trace over OTLP/gRPC (plain and gzip); a bad key is refused', async ({ page }) => {
  test.skip(!python, 'set ARGUS_OTEL_PYTHON to a Python with the OpenTelemetry SDK (scripts/test.sh does)');
  await signUp(page, 'Gus', uniqueEmail('gus'), 'Grpc Works');
  await hydrated(page);
  await page.getByTestId('connect-create').click();
  const key = (await page.getByTestId('connect-key-value').textContent())!.trim();

  const sent = sendOverGrpc(key);
  expect(sent.stderr).toBe('');
  expect(sent.status).toBe(0);
  const traceId = sent.stdout.trim();
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);

  // The waiting panel turns into a link to that trace.
  const link = page.getByTestId('first-trace');
  await expect(link).toBeVisible({ timeout: 15_000 });
  await page.goto(`/traces/${traceId}`);
  await expect(page.getByText('grpc-agent').first()).toBeVisible();
  await expect(page.getByText('gpt-4o-mini').first()).toBeVisible();

  // gzip, as Collectors send by default.
  const zipped = sendOverGrpc(key, 'gzip');
  expect(zipped.status).toBe(0);
  await page.goto(`/traces/${zipped.stdout.trim()}`);
  await expect(page.getByText('grpc-agent').first()).toBeVisible();

  // A wrong key: the exporter is told UNAUTHENTICATED (and does not retry).
  const refused = sendOverGrpc('argus_not-a-real-key');
  expect(refused.stderr).toContain('UNAUTHENTICATED');
});
