// The browser side of a visit, measured in Debian's Chromium: what a first visit (empty cache)
// and a second visit (same browser) download, what the page's WASM and JS weigh on the wire,
// and the time until the home page is interactive (hydrated). Run by `scripts/bench.sh bundle`
// against a release build:
//   node end2end/bench/bundle.mjs --url http://127.0.0.1:3199 --email E --password P
//        [--visits 5] [--markdown BENCHMARKS.md]
import { chromium } from 'playwright-core';
import * as fs from 'fs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const url = args.url ?? 'http://127.0.0.1:3199';
const visits = Number(args.visits ?? 5);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/** One visit of `path` in `page`: bytes on the wire by kind, and the time to hydration. */
async function visit(page, path = '/') {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const types = new Map();
  const wire = { total: 0, wasm: 0, js: 0, css: 0, html: 0, other: 0, requests: 0 };
  const encodings = new Set();
  cdp.on('Network.responseReceived', (e) => {
    types.set(e.requestId, e.response.url);
    const enc = e.response.headers['content-encoding'] ?? e.response.headers['Content-Encoding'];
    if (/\.(wasm|js|css)$/.test(new URL(e.response.url).pathname)) encodings.add(enc ?? 'identity');
  });
  cdp.on('Network.loadingFinished', (e) => {
    const u = types.get(e.requestId) ?? '';
    const p = u ? new URL(u).pathname : '';
    const kind = p.endsWith('.wasm') ? 'wasm' : p.endsWith('.js') ? 'js'
      : p.endsWith('.css') ? 'css' : p === path ? 'html' : 'other';
    wire[kind] += e.encodedDataLength;
    wire.total += e.encodedDataLength;
    wire.requests += 1;
  });
  const started = Date.now();
  await page.goto(`${url}${path}`, { waitUntil: 'commit' });
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
  const interactive = Date.now() - started;
  await page.waitForLoadState('networkidle');
  await cdp.detach();
  return { wire, interactive, encodings: [...encodings] };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const first = [];
const second = [];
// A page split off the main bundle (`cargo leptos build --split`): its first visit also loads
// its own chunks before it hydrates.
const lazy = [];
for (let i = 0; i < visits; i++) {
  const context = await browser.newContext();
  const login = await context.request.post(`${url}/api/v1/auth/login`, {
    form: { email: args.email, password: args.password },
    maxRedirects: 0,
  });
  if (login.status() >= 400) throw new Error(`log-in failed: ${login.status()} ${await login.text()}`);
  const page = await context.newPage();
  first.push(await visit(page));
  second.push(await visit(page));
  await context.close();
  const other = await browser.newContext();
  await other.request.post(`${url}/api/v1/auth/login`, {
    form: { email: args.email, password: args.password },
    maxRedirects: 0,
  });
  lazy.push(await visit(await other.newPage(), '/traces'));
  await other.close();
}
const version = browser.version();
await browser.close();

const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
const summary = (runs, label) => {
  const w = (k) => median(runs.map((r) => r.wire[k]));
  return {
    label,
    total: w('total'),
    wasm: w('wasm'),
    js: w('js'),
    css: w('css'),
    html: w('html'),
    requests: w('requests'),
    interactive: median(runs.map((r) => r.interactive)),
    encodings: [...new Set(runs.flatMap((r) => r.encodings))].join(', ') || 'none',
  };
};
const rows = [
  summary(first, 'first visit (empty cache)'),
  summary(second, 'second visit (cached)'),
  summary(lazy, 'first visit of /traces (a split-off page)'),
];
// The main bundle's files one by one; the split-off chunks summed.
const pkg = 'target/site/pkg';
const files = fs.existsSync(pkg) ? fs.readdirSync(pkg) : [];
const size = (f) => fs.statSync(`${pkg}/${f}`).size;
const bytes = (n) => `${n.toLocaleString('en-US')} B`;
const main = files.filter((f) => /^argus\..*\.(wasm|js)(\.br|\.gz)?$/.test(f));
const chunks = files.filter((f) => f.endsWith('.wasm') && !main.includes(f));
const chunkBr = chunks.filter((f) => files.includes(`${f}.br`)).map((f) => size(`${f}.br`));
const sizes = main.map((f) => `${f} ${bytes(size(f))}`);
if (chunks.length) {
  sizes.push(`${chunks.length} split-off chunks ${bytes(chunks.map(size).reduce((a, b) => a + b, 0))}`
    + ` (brotli ${bytes(chunkBr.reduce((a, b) => a + b, 0))})`);
}
const table = [
  `Home page of a signed-in user (and /traces, split off the main bundle), ${visits} visits each, medians (Chromium ${version}):`,
  '',
  '| visit | on the wire | WASM | JS | CSS | HTML | requests | until interactive | encodings |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.label} | ${kb(r.total)} | ${kb(r.wasm)} | ${kb(r.js)} | ${kb(r.css)} | ${kb(r.html)} | ${r.requests} | ${r.interactive} ms | ${r.encodings} |`),
  '',
  `Files in target/site/pkg: ${sizes.join('; ')}.`,
].join('\n');
console.log(table);

if (args.markdown) {
  const md = fs.readFileSync(args.markdown, 'utf8');
  const begin = '<!-- bundle:begin -->';
  const end = '<!-- bundle:end -->';
  const block = `${begin}\n${table}\n${end}`;
  const next = md.includes(begin)
    ? md.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), block)
    : `${md.trimEnd()}\n\n## Bundle: what a visit downloads\n\n${block}\n`;
  fs.writeFileSync(args.markdown, next);
}
