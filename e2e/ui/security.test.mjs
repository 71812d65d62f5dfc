// The window's safety controls in headless Chromium with the Tauri IPC mocked: the client token
// (switch, masked row, copy in the shell, regenerate with a confirmation), "Clear data" with its
// confirmation, the host warning's advice, and allowed hosts and rate limits sent and refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, openWindow, callsTo, signedInState } from './harness.mjs';

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

function tokenOnState() {
  const s = signedInState();
  s.settings.requireClientToken = true;
  return s;
}

test('turning the client token on saves at once and shows it masked', async () => {
  const w = await openWindow(env, { state: signedInState() });
  const { page } = w;
  assert.equal(await page.isVisible('#token-row'), false);
  await page.check('#require-token');
  await page.waitForSelector('#token-row:visible');
  assert.deepEqual(await callsTo(page, 'save_settings'), [{ patch: { requireClientToken: true } }]);
  assert.match(await page.textContent('#token-result'), /Client token on/);
  assert.match(await page.textContent('#token-mask'), /^•+$/, 'only a mask, never the token');
  await page.uncheck('#require-token');
  await page.waitForSelector('#token-row', { state: 'hidden' });
  assert.deepEqual((await callsTo(page, 'save_settings'))[1], { patch: { requireClientToken: false } });
  assert.deepEqual(w.errors, []);
  await w.close();
});

test('copy token asks the shell to copy and gets nothing back', async () => {
  const w = await openWindow(env, { state: tokenOnState() });
  const { page } = w;
  assert.equal(await page.isChecked('#require-token'), true);
  await page.click('#copy-token');
  await page.waitForSelector('#copy-token >> text=Copied');
  assert.deepEqual(await callsTo(page, 'copy_client_token'), [null]);
  await w.close();
});

test('a failed token copy says so on the button and why below it', async () => {
  const error = { kind: 'keychain_unavailable', message: 'no system keychain is available' };
  const w = await openWindow(env, { state: tokenOnState(), responses: { copy_client_token: { error } } });
  const { page } = w;
  await page.click('#copy-token');
  await page.waitForSelector('#copy-token >> text=Copy failed');
  await page.waitForSelector('#token-result.error');
  assert.match(await page.textContent('#token-result'), /keychain_unavailable/);
  await page.waitForSelector('#copy-token >> text=Copy token');
  await w.close();
});

test('a refused token switch goes back and says why', async () => {
  const error = { kind: 'keychain_unavailable', message: 'no system keychain is available' };
  const w = await openWindow(env, { state: signedInState(), responses: { save_settings: { error } } });
  const { page } = w;
  await page.click('#require-token'); // not check(): the box goes back at once
  await page.waitForSelector('#token-result.error');
  assert.match(await page.textContent('#token-result'), /keychain_unavailable/);
  assert.equal(await page.isChecked('#require-token'), false);
  assert.equal(await page.isVisible('#token-row'), false);
  await w.close();
});

test('regenerate asks first, then makes a new token', async () => {
  const w = await openWindow(env, { state: tokenOnState() });
  const { page } = w;
  assert.equal(await page.isVisible('#confirm-regenerate'), false);
  await page.click('#regenerate-token');
  assert.equal(await page.isVisible('#confirm-regenerate'), true);
  await page.click('#regenerate-no');
  assert.equal(await page.isVisible('#confirm-regenerate'), false);
  assert.deepEqual(await callsTo(page, 'regenerate_client_token'), [], 'cancel does nothing');
  await page.click('#regenerate-token');
  await page.click('#regenerate-yes');
  await page.waitForSelector('#token-result.ok >> text=New token made');
  assert.equal((await callsTo(page, 'regenerate_client_token')).length, 1);
  assert.equal(await page.isVisible('#confirm-regenerate'), false);
  await w.close();
});

test('clear data asks first, then forgets the account', async () => {
  const w = await openWindow(env, { state: tokenOnState() });
  const { page } = w;
  await page.click('#clear-data');
  assert.match(await page.textContent('#confirm-clear'), /forgets the server address/);
  await page.click('#clear-no');
  assert.equal(await page.isVisible('#confirm-clear'), false);
  assert.deepEqual(await callsTo(page, 'clear_data'), [], 'cancel does nothing');
  await page.click('#clear-data');
  await page.click('#clear-yes');
  await page.waitForSelector('#data-result.ok >> text=Data cleared.');
  assert.equal((await callsTo(page, 'clear_data')).length, 1);
  await page.waitForSelector('#sign-in-form:visible');
  assert.equal(await page.inputValue('#server'), '', 'the address is forgotten too');
  assert.equal(await page.inputValue('#email'), '');
  assert.equal(await page.textContent('#status-text'), 'Not signed in');
  assert.equal(await page.isChecked('#require-token'), true, 'proxy settings stay');
  await w.close();
});

test('a failed clear data is reported and the account stays', async () => {
  const error = { kind: 'keychain_error', message: 'the system keychain refused: locked' };
  const w = await openWindow(env, { state: signedInState(), responses: { clear_data: { error } } });
  const { page } = w;
  await page.click('#clear-data');
  await page.click('#clear-yes');
  await page.waitForSelector('#data-result.error');
  assert.match(await page.textContent('#data-result'), /keychain_error/);
  assert.equal(await page.isVisible('#signed-in'), true);
  await w.close();
});

test('the host warning suggests the client token until it is on', async () => {
  const w = await openWindow(env, { state: signedInState() });
  const { page } = w;
  await page.fill('#host', '0.0.0.0');
  assert.equal(await page.isVisible('#host-warning'), true);
  assert.match(await page.textContent('#host-warning'), /Turn on “Require a client token”/);
  await page.check('#require-token');
  await page.waitForSelector('#token-row:visible');
  const text = await page.textContent('#host-warning');
  assert.match(text, /Apps must send the client token/);
  assert.doesNotMatch(text, /Turn on/);
  await w.close();
});

test('allowed hosts and rate limits are shown, sent, and refused values explained', async () => {
  const state = signedInState();
  Object.assign(state.settings, { allowedHosts: ['box.lan'], rateLimit: 5, rateBurst: 0 });
  const w = await openWindow(env, { state });
  const { page } = w;
  assert.equal(await page.inputValue('#allowed-hosts'), 'box.lan');
  assert.equal(await page.inputValue('#rate-limit'), '5');
  assert.equal(await page.inputValue('#rate-burst'), '', '0 shows as empty (auto)');
  await page.fill('#allowed-hosts', 'box.lan\n\n nas.local ');
  await page.fill('#rate-limit', '10');
  await page.fill('#rate-burst', '20');
  await page.click('#save-settings');
  await page.waitForSelector('#settings-result.ok');
  const [args] = await callsTo(page, 'save_settings');
  assert.deepEqual(
    [args.patch.allowedHosts, args.patch.rateLimit, args.patch.rateBurst],
    [['box.lan', 'nas.local'], 10, 20],
  );
  await page.evaluate(() => {
    window.__mock.responses.save_settings = {
      error: { kind: 'invalid_config', message: 'invalid allowed host name "box.lan:80"' },
    };
  });
  await page.fill('#allowed-hosts', 'box.lan:80');
  await page.fill('#rate-limit', '');
  await page.click('#save-settings');
  await page.waitForSelector('#settings-result.error');
  assert.match(await page.textContent('#settings-result'), /invalid_config/);
  assert.match(await page.textContent('#settings-result'), /box\.lan:80/);
  assert.equal((await callsTo(page, 'save_settings'))[1].patch.rateLimit, 0, 'empty means off');
  await w.close();
});
