// Browser test: bundles browser/harness.tsx (the real editors and @grafana/ui), serves it on a loopback port and
// drives it with the system's headless Chromium through playwright-core. Screenshots go to artifacts/.
// Never downloads a browser: CHROMIUM_PATH or /usr/bin/chromium (Debian package `chromium`).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const OUT = join(HERE, '.build');
const DIST = resolve(ROOT, '../dist');
const ARTIFACTS = join(ROOT, 'artifacts');
// Grafana serves @grafana/ui's icons under public/build/img/icons/; so does the harness.
const ICONS = join(ROOT, 'node_modules/@grafana/ui/dist/public/img/icons');
const ICON_PREFIX = '/public/build/img/icons/';
const PLACEHOLDER_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="12" cy="12" r="8" fill="none" stroke="currentColor" stroke-width="2"/></svg>';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const results = [];
async function check(name, fn) {
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`  ok    ${name}`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`  FAIL  ${name}\n        ${String(err?.message ?? err).split('\n').join('\n        ')}`);
  }
}
function assert(cond, message) {
  if (!cond) {
    throw new Error(message);
  }
}

async function bundle() {
  const started = Date.now();
  mkdirSync(OUT, { recursive: true });
  await build({
    entryPoints: [join(HERE, 'harness.tsx')],
    outfile: join(OUT, 'harness.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    jsx: 'automatic',
    sourcemap: 'inline',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"development"', global: 'window' },
    loader: { '.svg': 'text', '.css': 'empty', '.woff': 'empty', '.woff2': 'empty' },
  });
  writeFileSync(
    join(OUT, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"><title>AWX editors</title></head>` +
      // What Grafana's page provides before a plugin loads: boot data, and where its icons are served.
      `<script>window.grafanaBootData = { settings: { featureToggles: {} }, user: {}, navTree: [] };` +
      `window.__grafana_public_path__ = '/public/';</script>` +
      `<body><div id="root"></div><div id="grafana-portal-container"></div>` +
      `<script src="harness.js"></script></body></html>`
  );
  console.log(`bundled the harness in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function serve() {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.svg': 'image/svg+xml' };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const [dir, rel] = path.startsWith(ICON_PREFIX)
      ? [ICONS, path.slice(ICON_PREFIX.length)]
      : path.startsWith('/dist/')
        ? [DIST, path.slice('/dist/'.length)]
        : [OUT, path === '/' ? 'index.html' : path.slice(1)];
    const file = resolve(dir, rel);
    if (path.startsWith('/public/fonts/')) {
      // Grafana's Inter web fonts are not in any npm package here: the page falls back to a system font.
      res.writeHead(204).end();
      return;
    }
    if (dir === ICONS && !existsSync(file)) {
      // A few icons (the spinner) come from Grafana itself, not from @grafana/ui: draw a stand-in.
      res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(PLACEHOLDER_ICON);
      return;
    }
    if (!file.startsWith(dir + '/') || !existsSync(file)) {
      console.log(`  (404 ${path})`);
      res.writeHead(404).end();
      return;
    }
    const ext = file.slice(file.lastIndexOf('.'));
    res.writeHead(200, { 'content-type': types[ext] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function main() {
  assert(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  if (!existsSync(join(DIST, 'module.js'))) {
    console.log('no ../dist/module.js yet: building it');
    execFileSync(process.execPath, [join(ROOT, 'node_modules/webpack-cli/bin/cli.js'), '--mode', 'production'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  }
  await bundle();
  const server = await serve();
  const base = `http://127.0.0.1:${server.address().port}/`;
  const profile = mkdtempSync(join(tmpdir(), 'awx-chromium-'));
  mkdirSync(ARTIFACTS, { recursive: true });

  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  const problems = [];
  const outside = [];
  // Nothing may leave the machine: requests to anything but this server fail, and are reported.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base) || url.startsWith('data:')) {
      return route.continue();
    }
    outside.push(url);
    return route.abort();
  });

  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (msg) => {
      if (msg.type() === 'error') {
        problems.push(`console error: ${msg.text()}`);
      }
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

    console.log('query editor');
    await page.goto(`${base}?view=query`);

    await check('the query type picker renders', async () => {
      const pickers = page.getByRole('combobox', { name: 'Query type' });
      await pickers.first().waitFor({ timeout: 15000 });
      assert((await pickers.count()) === 4, `expected 4 query type pickers, saw ${await pickers.count()}`);
      assert((await pickers.first().inputValue()) === 'Job duration', 'query A should show "Job duration"');
    });

    await check('each query shows only its valid sources', async () => {
      const labels = async (refId) =>
        page.locator(`section[data-refid="${refId}"] [role="radiogroup"], section[data-refid="${refId}"] input[type=radio]`)
          .evaluateAll((els) => [
            ...new Set(
              els
                .filter((e) => e.matches('input[type=radio]'))
                .map((e) => e.parentElement?.textContent?.trim() ?? '')
            ),
          ]);
      const a = await labels('A');
      const b = await labels('B');
      const d = await labels('D');
      // Job KPIs also read awx-kpi export's metrics from Prometheus (docs/EXPORTER.md).
      assert(JSON.stringify(a) === '["Auto","AWX API","Prometheus"]', `job_duration sources: ${JSON.stringify(a)}`);
      assert(JSON.stringify(b) === '["Auto","AWX API","Prometheus"]', `capacity sources: ${JSON.stringify(b)}`);
      assert(JSON.stringify(d) === '["Prometheus"]', `promql sources: ${JSON.stringify(d)}`);
    });

    await check('selected filter ids show their names from the look-ups', async () => {
      const a = page.locator('section[data-refid="A"]');
      await a.getByText('Default', { exact: true }).first().waitFor({ timeout: 5000 }).catch(() => {});
      // Names are learnt when the picker first loads; the raw value is acceptable before that.
      const text = await a.textContent();
      assert(text.includes('$org'), 'the $org variable should be among the organization values');
    });

    await check('the organization filter lists the look-ups and the variables', async () => {
      const picker = page.locator('section[data-refid="A"]').getByRole('combobox', { name: 'Organization' });
      await picker.click();
      await page.getByRole('option', { name: /Platform team/ }).waitFor({ timeout: 5000 });
      await page.getByRole('option', { name: /\$node/ }).waitFor({ timeout: 5000 });
      const calls = await page.evaluate(() => window.harness.datasource.resourceCalls);
      assert(calls.includes('lookup/organization'), `resource calls: ${JSON.stringify(calls)}`);
      await page.screenshot({ path: join(ARTIFACTS, 'query-editor-filter-open.png'), fullPage: true });
      await page.keyboard.press('Escape');
    });

    await check('choosing a query type changes the query and runs it', async () => {
      const picker = page.locator('section[data-refid="C"]').getByRole('combobox', { name: 'Query type' });
      await picker.click();
      await page.getByRole('option', { name: /Failure rate/ }).click();
      const h = await page.evaluate(() => ({ q: window.harness.queries.at(-1), runs: window.harness.runs }));
      assert(h.q?.queryType === 'failure_rate' && h.q?.refId === 'C', `last query: ${JSON.stringify(h.q)}`);
      assert(h.runs >= 1, 'the query should have run');
      // Back to the table for the screenshot.
      await picker.click();
      await page.getByRole('option', { name: /^Jobs/ }).click();
    });

    await page.mouse.click(1200, 880);
    await page.screenshot({ path: join(ARTIFACTS, 'query-editor.png'), fullPage: true });

    console.log('built plugin (dist/module.js as an AMD module)');
    await page.goto(`${base}?view=amd`);
    await check('dist/module.js loads with only Grafana externals and renders its QueryEditor', async () => {
      const loaded = page.getByTestId('amd-loaded');
      const failed = page.getByTestId('amd-error');
      await loaded.or(failed).waitFor({ timeout: 15000 });
      assert(!(await failed.isVisible()), await failed.textContent().catch(() => ''));
      assert((await loaded.getAttribute('data-datasource-class')) === 'function', 'plugin.DataSourceClass missing');
      assert((await page.getByRole('combobox', { name: 'Query type' }).inputValue()) === 'Failure rate', 'editor');
    });
    await page.screenshot({ path: join(ARTIFACTS, 'built-plugin.png'), fullPage: true });

    console.log('config editor');
    await page.goto(`${base}?view=config`);
    await check('the config editor renders, secrets only as "configured"', async () => {
      await page.getByText('TLS verification is off').waitFor({ timeout: 15000 });
      const html = await page.content();
      assert(html.includes('configured'), 'configured secrets should say so');
    });
    await page.screenshot({ path: join(ARTIFACTS, 'config-editor.png'), fullPage: true });

    await check('the config editor shows the backend limits under a number outside them', async () => {
      const cache = page.locator('#awx-job-cache-mb');
      const limits = page.getByText('Expected a whole number of MiB from 0 (no cache) to 16384.');
      await cache.fill('20000');
      await limits.waitFor({ timeout: 5000 });
      await page.screenshot({ path: join(ARTIFACTS, 'config-editor-invalid.png'), fullPage: true });
      await cache.fill('512');
      await limits.waitFor({ state: 'detached', timeout: 5000 });
    });

    await check('no console errors, no request leaves the machine', async () => {
      assert(problems.length === 0, problems.join('\n'));
      assert(outside.length === 0, `requests to elsewhere: ${outside.join(', ')}`);
    });
  } finally {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }

  const failed = results.filter((r) => !r.ok).length;
  console.log(`screenshots in ${ARTIFACTS}`);
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
