// The settings window's behaviour: draws the state the shell reports, runs the commands
// (sign in/out, start/stop, save settings) and explains errors by their `kind`; the client
// token and "Clear data" are in security.js. Talks only to window.__TAURI__ (core.invoke,
// event.listen); holds no secret after a sign-in.
'use strict';

/** Plain words for each error kind the shell reports. */
const KIND_TITLES = {
  upstream_unreachable: 'Cannot reach that address.',
  upstream_timeout: 'The server did not answer in time.',
  not_open_webui: 'That address is not an Open WebUI server.',
  wrong_credentials: 'Wrong email or password.',
  account_pending: 'Your account is waiting for an administrator’s approval.',
  api_keys_disabled: 'API keys are disabled on this server (or for your account).',
  api_key_invalid: 'The API key was not accepted (unknown or revoked).',
  mfa_required: 'This account uses two-factor sign-in: use an API key instead.',
  password_login_disabled: 'Password sign-in is disabled on this server: use an API key.',
  permission_denied: 'The server refused this account.',
  rate_limited: 'Too many sign-ins: wait a few minutes.',
  tls_error: 'Secure connection failed (TLS certificate problem).',
  keychain_unavailable: 'No system keychain is available to keep your password.',
  keychain_error: 'The system keychain refused to store the secret.',
  port_in_use: 'The port is already in use.',
  invalid_config: 'Please check the values.',
  not_signed_in: 'Not signed in.',
};

const $ = (id) => /** @type {any} */ (document.getElementById(id));

/** The last state the shell reported. */
const view = { status: null, settings: null, credentials: null, changing: false };

function tauri() {
  const t = window.__TAURI__;
  if (!t || !t.core) throw new Error('window.__TAURI__ is missing (withGlobalTauri)');
  return t;
}

function invoke(cmd, args) {
  return tauri().core.invoke(cmd, args);
}

/** An error from a command as {kind, title, message}. */
function explain(err) {
  const kind = (err && err.kind) || 'error';
  const message = (err && err.message) || String(err);
  return { kind, title: KIND_TITLES[kind] || 'Something went wrong.', message };
}

function showResult(el, ok, title, detail, kind) {
  el.hidden = false;
  el.className = `result ${ok ? 'ok' : 'error'}`;
  el.replaceChildren();
  const head = document.createElement('strong');
  head.textContent = title;
  el.append(head);
  if (kind) {
    const code = document.createElement('code');
    code.className = 'kind';
    code.textContent = kind;
    el.append(' ', code);
  }
  if (detail) {
    const p = document.createElement('p');
    p.className = 'models';
    p.textContent = detail;
    el.append(p);
  }
}

function showError(el, err) {
  const e = explain(err);
  showResult(el, false, e.title, e.message, e.kind);
}

function summary(s) {
  if (s.account === 'signedOut') return 'Not signed in';
  if (s.account === 'signingIn') return 'Signing in…';
  if (s.proxy === 'running') return `Running on ${s.address}`;
  return 'Stopped';
}

function look(s) {
  if (s.problem) return 'error';
  if (s.account === 'signingIn') return 'busy';
  return s.proxy === 'running' ? 'running' : 'stopped';
}

function renderStatus(s) {
  view.status = s;
  $('status').dataset.look = look(s);
  $('status-text').textContent = summary(s);
  $('address').textContent = s.address;
  const toggle = $('toggle-proxy');
  toggle.textContent = s.proxy === 'running' ? 'Stop proxy' : 'Start proxy';
  toggle.disabled = s.account === 'signedOut';
  renderProblem(s.problem);
  renderAccount();
}

function renderProblem(problem) {
  const box = $('problem');
  box.hidden = !problem;
  $('use-port').hidden = true;
  if (!problem) return;
  const e = explain(problem);
  $('problem-title').textContent = e.title;
  $('problem-message').textContent = e.message;
  $('problem-kind').textContent = e.kind;
  if (e.kind === 'port_in_use') offerFreePort();
}

async function offerFreePort() {
  try {
    const port = await invoke('suggest_port');
    $('free-port').textContent = String(port);
    $('use-port').hidden = false;
  } catch (err) {
    console.warn('no free port to offer', err);
  }
}

function renderAccount() {
  const s = view.status;
  const creds = view.credentials || {};
  const signedIn = !!creds.configured && s && s.account !== 'signedOut';
  $('signed-in').hidden = !signedIn || view.changing;
  $('sign-in-form').hidden = signedIn && !view.changing;
  $('cancel-change').hidden = !view.changing;
  if (!signedIn) return;
  $('account-name').textContent = creds.email || 'an API key';
  $('account-server').textContent = creds.server || '';
  $('account-models').textContent = s.models == null ? '' : `${s.models} models available.`;
}

function renderSettings(settings) {
  view.settings = settings;
  $('host').value = settings.host;
  $('port').value = String(settings.port);
  $('origins').value = (settings.corsOrigins || []).join('\n');
  $('allowed-hosts').value = (settings.allowedHosts || []).join('\n');
  $('rate-limit').value = settings.rateLimit ? String(settings.rateLimit) : '';
  $('rate-burst').value = settings.rateBurst ? String(settings.rateBurst) : '';
  $('start-on-launch').checked = !!settings.startProxyOnLaunch;
  renderToken();
  updateHostWarning();
}

function renderCredentials(creds) {
  view.credentials = creds;
  if (creds.server) $('server').value = creds.server;
  if (creds.email) $('email').value = creds.email;
  setMethod(creds.method === 'apiKey' ? 'apiKey' : 'password');
}

function setMethod(method) {
  for (const r of document.querySelectorAll('input[name=method]')) r.checked = r.value === method;
  $('password-fields').hidden = method !== 'password';
  $('api-key-fields').hidden = method !== 'apiKey';
}

function currentMethod() {
  const checked = document.querySelector('input[name=method]:checked');
  return checked ? checked.value : 'password';
}

function isLoopback(host) {
  const h = host.trim().replace(/^\[|\]$/g, '').toLowerCase();
  return h === '' || h === 'localhost' || h === '::1' || /^127\./.test(h);
}

function updateHostWarning() {
  $('host-warning').hidden = isLoopback($('host').value);
}

function modelsText(models) {
  const shown = models.slice(0, 12).join(', ');
  const more = models.length > 12 ? ` and ${models.length - 12} more` : '';
  return models.length ? `${shown}${more}` : 'The server lists no models for this account.';
}

async function onSignIn(event) {
  event.preventDefault();
  const method = currentMethod();
  const request = {
    server: $('server').value.trim(),
    method,
    email: method === 'password' ? $('email').value.trim() : null,
    password: method === 'password' ? $('password').value : null,
    apiKey: method === 'apiKey' ? $('api-key').value.trim() : null,
  };
  const button = $('sign-in');
  button.disabled = true;
  showResult($('sign-in-result'), true, 'Testing the connection…');
  try {
    const result = await invoke('sign_in', { request });
    $('password').value = '';
    $('api-key').value = '';
    view.changing = false;
    view.credentials = { configured: true, method, server: result.status.server, email: result.email };
    const n = result.models.length;
    showResult($('sign-in-result'), true, `Connected: ${n} model${n === 1 ? '' : 's'}.`, modelsText(result.models));
    renderStatus(result.status);
  } catch (err) {
    showError($('sign-in-result'), err);
  } finally {
    button.disabled = false;
  }
}

async function onSignOut() {
  try {
    const status = await invoke('sign_out');
    view.credentials = { ...view.credentials, configured: false, email: null };
    $('password').value = '';
    $('sign-in-result').hidden = true;
    renderStatus(status);
  } catch (err) {
    showError($('sign-in-result'), err);
  }
}

/** The non-empty lines of a textarea. */
function lines(id) {
  return $(id).value.split('\n').map((o) => o.trim()).filter(Boolean);
}

/** A number field: empty means 0 (off); anything else goes to the shell, which checks it. */
function count(id) {
  const v = $(id).value.trim();
  return v === '' ? 0 : Number(v);
}

async function onSaveSettings(event) {
  event.preventDefault();
  const patch = {
    host: $('host').value.trim(),
    port: Number($('port').value),
    corsOrigins: lines('origins'),
    allowedHosts: lines('allowed-hosts'),
    rateLimit: count('rate-limit'),
    rateBurst: count('rate-burst'),
    startProxyOnLaunch: $('start-on-launch').checked,
  };
  await saveSettings(patch, 'Saved.');
}

async function saveSettings(patch, okText) {
  const out = $('settings-result');
  try {
    const status = await invoke('save_settings', { patch });
    view.settings = { ...view.settings, ...patch };
    showResult(out, true, okText);
    renderStatus(status);
  } catch (err) {
    showError(out, err);
  }
}

async function onUsePort() {
  const port = Number($('free-port').textContent);
  $('port').value = String(port);
  await saveSettings({ port }, `Now using port ${port}.`);
}

async function onToggleProxy() {
  const running = view.status && view.status.proxy === 'running';
  try {
    renderStatus(await invoke(running ? 'stop_proxy' : 'start_proxy'));
  } catch (err) {
    renderProblem(err);
  }
}

async function onAutostart() {
  const box = $('autostart');
  try {
    box.checked = await invoke('set_autostart', { enabled: box.checked });
  } catch (err) {
    box.checked = !box.checked;
    showError($('settings-result'), err);
  }
}

/**
 * Runs a copy command for the button with id `buttonId`: the button says how it went for 1.5 s,
 * then `label` again; a failure is also shown in `errorBox` when there is one.
 */
async function copyWith(buttonId, command, label, errorBox = null) {
  const button = $(buttonId);
  try {
    await invoke(command);
    button.textContent = 'Copied';
  } catch (err) {
    button.textContent = 'Copy failed';
    if (errorBox) showError(errorBox, err);
  }
  setTimeout(() => { button.textContent = label; }, 1500);
}

function onCopy() {
  return copyWith('copy-address', 'copy_address', 'Copy address');
}

function onChangeAccount(changing) {
  view.changing = changing;
  $('sign-in-result').hidden = true;
  renderAccount();
}

function wire() {
  $('sign-in-form').addEventListener('submit', onSignIn);
  $('settings-form').addEventListener('submit', onSaveSettings);
  $('sign-out').addEventListener('click', onSignOut);
  $('change-account').addEventListener('click', () => onChangeAccount(true));
  $('cancel-change').addEventListener('click', () => onChangeAccount(false));
  $('use-port').addEventListener('click', onUsePort);
  $('toggle-proxy').addEventListener('click', onToggleProxy);
  $('autostart').addEventListener('change', onAutostart);
  $('copy-address').addEventListener('click', onCopy);
  $('open-logs').addEventListener('click', () => invoke('open_logs').catch(console.warn));
  $('host').addEventListener('input', updateHostWarning);
  wireSecurity();
  for (const r of document.querySelectorAll('input[name=method]')) {
    r.addEventListener('change', () => setMethod(currentMethod()));
  }
}

async function start() {
  wire();
  try {
    const state = await invoke('get_state');
    $('version').textContent = state.version;
    $('autostart').checked = !!state.autostart;
    renderSettings(state.settings);
    renderCredentials(state.credentials);
    renderStatus(state.status);
    await tauri().event.listen('proxy://status', (e) => renderStatus(e.payload));
    await tauri().event.listen('app://autostart', (e) => { $('autostart').checked = !!e.payload; });
    document.body.dataset.ready = 'true';
  } catch (err) {
    renderProblem(explain(err));
  }
}

start();
