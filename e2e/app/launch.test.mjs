// The app started at login with an account already set up (no WebDriver): no window opens,
// the password comes from the private gnome-keyring, the proxy answers, idle CPU is near zero,
// and SIGTERM (logout) stops the proxy gracefully.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Session, tools, freePort, until, descendants, commOf, memoryOf } from './session.mjs';
import { startFakeOpenWebUI, ACCOUNT } from './fake-openwebui.mjs';

let session;
let upstream;
let app;
let port;

const cpuTicks = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

before(async () => {
  session = await new Session().start();
  upstream = await startFakeOpenWebUI();
  port = await freePort();
  const server = `${upstream.url}/`;
  const dir = join(session.env.XDG_CONFIG_HOME, 'openwebui-ollama-proxy');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'settings.json'), JSON.stringify({ server, email: ACCOUNT.email, authMethod: 'password', port }));
  const store = spawn('secret-tool', ['store', '--label=e2e', 'service', 'openwebui-ollama-proxy',
    'username', `password:${ACCOUNT.email}@${server}`], { env: session.env });
  store.stdin.end(ACCOUNT.password);
  assert.equal(await new Promise((r) => store.once('exit', r)), 0);
  app = session.spawn(tools.app, []);
});

after(async () => {
  await upstream?.close();
  await session?.stop();
});

test('a configured start serves without opening a window', async () => {
  await until(async () => (await fetch(`http://127.0.0.1:${port}/api/tags`)).status === 200, { what: 'proxy' });
  await until(async () => (await session.trayStatus()) === `Running on http://127.0.0.1:${port}`, { what: 'tray status' });
  assert.deepEqual(await session.windows('Open WebUI Ollama Proxy'), []);
  assert.equal(descendants(app.pid).some((p) => commOf(p)?.startsWith('WebKit')), false, 'no WebKit process yet');
});

test('idle costs almost no CPU', async () => {
  const before = cpuTicks(app.pid);
  await new Promise((r) => setTimeout(r, 5000)); // the idle period being measured
  const used = cpuTicks(app.pid) - before;
  const { rss, pss } = memoryOf(app.pid);
  console.log(`idle, window never opened: ${used} ticks in 5 s, RSS ${(rss / 1024).toFixed(1)} MiB, PSS ${(pss / 1024).toFixed(1)} MiB`);
  assert.ok(used <= 10, `${used} ticks of 10 ms in 5 s`);
});

test('SIGTERM stops the proxy gracefully', async () => {
  app.kill('SIGTERM');
  const code = await new Promise((r) => app.once('exit', r));
  assert.equal(code, 0);
  assert.match(app.output.join(''), /quitting: stopping the proxy/);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/api/version`));
});
