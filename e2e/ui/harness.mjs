// Test harness for ui/: serves the folder from a local static server on port 0, launches
// Debian's Chromium headless through playwright-core (no browser download), and opens the
// window with a mocked window.__TAURI__ and a scenario.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = fileURLToPath(new URL('.', import.meta.url));
const uiDir = join(here, '..', '..', 'ui');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

/** Chromium from the OS: $CHROMIUM, or Debian's/Ubuntu's usual paths. */
export function chromiumPath() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  const found = candidates.find((p) => p && existsSync(p));
  if (!found) throw new Error('no Chromium found: run scripts/setup-linux or set CHROMIUM');
  return found;
}

/** Serves ui/ on 127.0.0.1:0; resolves to { url, close }. */
export function serveUi() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(uiDir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(uiDir)) return res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

/** Starts the browser and the server once per test file. */
export async function setup() {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  const server = await serveUi();
  return {
    browser,
    server,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Opens the window with `scenario`; waits until app.js has drawn the first state. */
export async function openWindow(env, scenario) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.addInitScript((s) => { window.__MOCK_SCENARIO__ = s; }, scenario);
  await page.addInitScript({ path: join(here, 'mock-tauri.js') });
  await page.goto(env.server.url);
  await page.waitForSelector('body[data-ready=true]', { timeout: 5000 });
  return { page, errors, close: () => context.close() };
}

/** The calls the window made to `cmd`. */
export async function callsTo(page, cmd) {
  return page.evaluate((c) => window.__mock.calls.filter((x) => x.cmd === c).map((x) => x.args), cmd);
}

/** A get_state answer: first run (nothing configured) unless overridden. */
export function firstRunState(overrides = {}) {
  return {
    version: '0.1.0',
    autostart: false,
    settings: {
      host: '127.0.0.1', port: 11434, corsOrigins: [], allowedHosts: [], rateLimit: 0, rateBurst: 0,
      requireClientToken: false, startProxyOnLaunch: true,
    },
    credentials: { configured: false, method: null, server: null, email: null },
    status: {
      proxy: 'stopped', address: 'http://127.0.0.1:11434', account: 'signedOut', server: null,
      email: null, role: null, models: null, problem: null,
    },
    ...overrides,
  };
}

/** A get_state answer for a signed-in, running app. */
export function signedInState() {
  const s = firstRunState();
  s.credentials = { configured: true, method: 'password', server: 'http://owui.test/', email: 'ada@example.com' };
  Object.assign(s.status, {
    proxy: 'running', account: 'signedIn', server: 'http://owui.test/', email: 'ada@example.com', models: 2,
  });
  return s;
}
