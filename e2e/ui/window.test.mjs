// The settings window in headless Chromium with the Tauri IPC mocked: first run, sign-in
// success and every error kind, port change and port in use, sign out, host warning.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, openWindow, callsTo, firstRunState, signedInState } from './harness.mjs';

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

const ERROR_KINDS = {
  upstream_unreachable: 'Cannot reach that address.',
  not_open_webui: 'That address is not an Open WebUI server.',
  wrong_credentials: 'Wrong email or password.',
  account_pending: 'Your account is waiting for an administrator’s approval.',
  api_keys_disabled: 'API keys are disabled on this server (or for your account).',
  tls_error: 'Secure connection failed (TLS certificate problem).',
  keychain_unavailable: 'No system keychain is available to keep your password.',
};

const SIGN_IN_OK = {
  models: ['llama3.2', 'qwen3:8b'],
  email: 'ada@example.com',
  role: 'user',
  status: {
    proxy: 'running', address: 'http://127.0.0.1:11434', account: 'signedIn', server: 'http://owui.test/',
    email: 'ada@example.com', role: 'user', models: 2, problem: null,
  },
};

async function fillPassword(page) {
  await page.fill('#server', 'owui.test');
  await page.fill('#email', 'ada@example.com');
  await page.fill('#password', 'hunter2');
}

test('first run asks for the server and account', async () => {
  const w = await openWindow(env, { state: firstRunState() });
  const { page } = w;
  assert.equal(await page.isVisible('#sign-in-form'), true);
  assert.equal(await page.isVisible('#signed-in'), false);
  assert.equal(await page.textContent('#status-text'), 'Not signed in');
  assert.equal(await page.isDisabled('#toggle-proxy'), true, 'nothing to start yet');
  assert.equal(await page.textContent('#address'), 'http://127.0.0.1:11434');
  assert.equal(await page.textContent('#version'), '0.1.0');
  assert.deepEqual(w.errors, []);
  await w.close();
});

test('sign-in success shows the models and the signed-in account', async () => {
  const w = await openWindow(env, { state: firstRunState(), responses: { sign_in: { value: SIGN_IN_OK } } });
  const { page } = w;
  await fillPassword(page);
  await page.click('#sign-in');
  await page.waitForSelector('#sign-in-result.ok >> text=Connected: 2 models.');
  assert.match(await page.textContent('#sign-in-result'), /llama3\.2, qwen3:8b/);
  const [args] = await callsTo(page, 'sign_in');
  assert.deepEqual(args, {
    request: { server: 'owui.test', method: 'password', email: 'ada@example.com', password: 'hunter2', apiKey: null },
  });
  assert.equal(await page.inputValue('#password'), '', 'the password leaves the page');
  assert.equal(await page.isVisible('#signed-in'), true);
  assert.equal(await page.textContent('#account-name'), 'ada@example.com');
  assert.equal(await page.textContent('#status-text'), 'Running on http://127.0.0.1:11434');
  assert.equal(await page.getAttribute('#status', 'data-look'), 'running');
  await w.close();
});

test('API key sign-in sends only the key', async () => {
  const ok = { ...SIGN_IN_OK, email: null, models: ['m1'] };
  const w = await openWindow(env, { state: firstRunState(), responses: { sign_in: { value: ok } } });
  const { page } = w;
  await page.fill('#server', 'https://owui.test');
  await page.check('input[name=method][value=apiKey]');
  assert.equal(await page.isVisible('#password-fields'), false);
  await page.fill('#api-key', 'sk-abc');
  await page.click('#sign-in');
  await page.waitForSelector('#sign-in-result.ok >> text=Connected: 1 model.');
  const [args] = await callsTo(page, 'sign_in');
  assert.deepEqual(args.request, { server: 'https://owui.test', method: 'apiKey', email: null, password: null, apiKey: 'sk-abc' });
  assert.equal(await page.textContent('#account-name'), 'an API key');
  await w.close();
});

for (const [kind, title] of Object.entries(ERROR_KINDS)) {
  test(`sign-in error ${kind} is explained in plain words`, async () => {
    const error = { kind, message: `detail for ${kind}` };
    const w = await openWindow(env, { state: firstRunState(), responses: { sign_in: { error } } });
    const { page } = w;
    await fillPassword(page);
    await page.click('#sign-in');
    await page.waitForSelector('#sign-in-result.error');
    const text = await page.textContent('#sign-in-result');
    assert.ok(text.includes(title), text);
    assert.ok(text.includes(kind), 'the kind is shown');
    assert.ok(text.includes(`detail for ${kind}`), 'the detail is shown');
    assert.equal(await page.isVisible('#sign-in-form'), true, 'the form stays for another try');
    assert.equal(await page.isDisabled('#sign-in'), false);
    await w.close();
  });
}

test('changing the port saves it and shows the new address', async () => {
  const w = await openWindow(env, { state: signedInState() });
  const { page } = w;
  await page.fill('#port', '11500');
  await page.click('#save-settings');
  await page.waitForSelector('#settings-result.ok');
  const [args] = await callsTo(page, 'save_settings');
  assert.deepEqual(args.patch, {
    host: '127.0.0.1', port: 11500, corsOrigins: [], allowedHosts: [], rateLimit: 0, rateBurst: 0,
    startProxyOnLaunch: true,
  });
  assert.equal(await page.textContent('#address'), 'http://127.0.0.1:11500');
  assert.equal(await page.textContent('#status-text'), 'Running on http://127.0.0.1:11500');
  await w.close();
});

test('port in use is reported and another port is offered', async () => {
  const state = signedInState();
  state.status.proxy = 'stopped';
  state.status.problem = { kind: 'port_in_use', message: 'port 11434 on 127.0.0.1 is already in use' };
  const w = await openWindow(env, { state });
  const { page } = w;
  assert.equal(await page.getAttribute('#status', 'data-look'), 'error');
  assert.match(await page.textContent('#problem'), /already in use/);
  await page.waitForSelector('#use-port:visible');
  assert.equal(await page.textContent('#free-port'), '11435');
  await page.click('#use-port');
  await page.waitForSelector('#settings-result.ok >> text=Now using port 11435.');
  const [args] = await callsTo(page, 'save_settings');
  assert.deepEqual(args, { patch: { port: 11435 } });
  assert.equal(await page.inputValue('#port'), '11435');
  assert.equal(await page.isVisible('#problem'), false, 'the problem is gone');
  await w.close();
});

test('a refused save shows its kind', async () => {
  const error = { kind: 'invalid_config', message: 'invalid host "example.com"' };
  const w = await openWindow(env, { state: signedInState(), responses: { save_settings: { error } } });
  const { page } = w;
  await page.fill('#host', 'example.com');
  await page.click('#save-settings');
  await page.waitForSelector('#settings-result.error');
  assert.match(await page.textContent('#settings-result'), /invalid_config/);
  await w.close();
});

test('sign out returns to the sign-in form', async () => {
  const w = await openWindow(env, { state: signedInState() });
  const { page } = w;
  assert.equal(await page.isVisible('#signed-in'), true);
  assert.equal(await page.isVisible('#sign-in-form'), false);
  await page.click('#sign-out');
  await page.waitForSelector('#sign-in-form:visible');
  assert.equal((await callsTo(page, 'sign_out')).length, 1);
  assert.equal(await page.textContent('#status-text'), 'Not signed in');
  assert.equal(await page.inputValue('#server'), 'http://owui.test/', 'the address is kept');
  await w.close();
});

test('status events from the shell update the window', async () => {
  const w = await openWindow(env, { state: signedInState() });
  const { page } = w;
  await page.evaluate(() => window.__mock.emit('proxy://status', {
    ...window.__mock.state.status, account: 'failed',
    problem: { kind: 'wrong_credentials', message: 'Open WebUI rejected the email or password' },
  }));
  assert.equal(await page.getAttribute('#status', 'data-look'), 'error');
  assert.match(await page.textContent('#problem'), /Wrong email or password\./);
  await page.evaluate(() => window.__mock.emit('proxy://status', { ...window.__mock.state.status, proxy: 'stopped' }));
  assert.equal(await page.textContent('#status-text'), 'Stopped');
  assert.equal(await page.textContent('#toggle-proxy'), 'Start proxy');
  await page.evaluate(() => window.__mock.emit('app://autostart', true));
  assert.equal(await page.isChecked('#autostart'), true, 'the tray changed start at login');
  await w.close();
});

test('stop and start from the window', async () => {
  const w = await openWindow(env, { state: signedInState() });
  const { page } = w;
  await page.click('#toggle-proxy');
  await page.waitForSelector('#toggle-proxy >> text=Start proxy');
  await page.click('#toggle-proxy');
  await page.waitForSelector('#toggle-proxy >> text=Stop proxy');
  assert.equal((await callsTo(page, 'stop_proxy')).length, 1);
  assert.equal((await callsTo(page, 'start_proxy')).length, 1);
  await w.close();
});

test('a host beyond this computer shows a warning', async () => {
  const w = await openWindow(env, { state: signedInState() });
  const { page } = w;
  assert.equal(await page.isVisible('#host-warning'), false);
  await page.fill('#host', '0.0.0.0');
  assert.equal(await page.isVisible('#host-warning'), true);
  await page.fill('#host', '::1');
  assert.equal(await page.isVisible('#host-warning'), false);
  await w.close();
});

test('start at login and copy address call the shell', async () => {
  const w = await openWindow(env, { state: signedInState() });
  const { page } = w;
  await page.check('#autostart');
  await page.click('#copy-address');
  await page.waitForSelector('#copy-address >> text=Copied');
  assert.deepEqual(await callsTo(page, 'set_autostart'), [{ enabled: true }]);
  assert.equal((await callsTo(page, 'copy_address')).length, 1);
  assert.deepEqual(w.errors, []);
  await w.close();
});
