// The settings window's safety controls: the client token (switch, masked token, copy,
// regenerate) and "Clear data", each risky step behind an inline confirmation.
// The token never reaches this page: the shell copies it to the clipboard and answers nothing.
// Loaded before app.js; uses its helpers ($, invoke, view, showResult, showError, copyWith,
// renderStatus, renderAccount) only when called.
'use strict';

const TOKEN_HINT_OFF = 'Turn on “Require a client token” below, so only apps you give the token to can use it.';
const TOKEN_HINT_ON = 'Apps must send the client token below.';

/** True when the saved settings require the client token. */
function tokenRequired() {
  return !!(view.settings && view.settings.requireClientToken);
}

/** Draws the switch and the masked token row from the saved settings. */
function renderToken() {
  const on = tokenRequired();
  $('require-token').checked = on;
  $('token-row').hidden = !on;
  if (!on) $('confirm-regenerate').hidden = true;
  $('host-warning-token').textContent = on ? TOKEN_HINT_ON : TOKEN_HINT_OFF;
}

async function onRequireToken() {
  const box = $('require-token');
  const on = box.checked;
  try {
    const status = await invoke('save_settings', { patch: { requireClientToken: on } });
    view.settings = { ...view.settings, requireClientToken: on };
    const text = on ? 'Client token on: copy it into each app.' : 'Client token off: apps need none.';
    showResult($('token-result'), true, text);
    renderStatus(status);
  } catch (err) {
    showError($('token-result'), err);
  }
  renderToken();
}

function onCopyToken() {
  return copyWith('copy-token', 'copy_client_token', 'Copy token', $('token-result'));
}

async function onRegenerate() {
  $('confirm-regenerate').hidden = true;
  try {
    renderStatus(await invoke('regenerate_client_token'));
    showResult($('token-result'), true, 'New token made: copy it into your apps again.');
  } catch (err) {
    showError($('token-result'), err);
  }
}

async function onClearData() {
  $('confirm-clear').hidden = true;
  try {
    const status = await invoke('clear_data');
    view.credentials = { configured: false, method: null, server: null, email: null };
    view.changing = false;
    for (const id of ['server', 'email', 'password', 'api-key']) $(id).value = '';
    $('sign-in-result').hidden = true;
    showResult($('data-result'), true, 'Data cleared.',
      'The keychain entries and the cache files are gone. Sign in again to use the proxy.');
    renderStatus(status);
  } catch (err) {
    showError($('data-result'), err);
  }
}

/** Shows `box` when `ask` is clicked; `yes` runs `action`, `no` hides it again. */
function confirmFlow(ask, box, yes, no, action) {
  $(ask).addEventListener('click', () => { $(box).hidden = false; });
  $(no).addEventListener('click', () => { $(box).hidden = true; });
  $(yes).addEventListener('click', action);
}

function wireSecurity() {
  $('require-token').addEventListener('change', onRequireToken);
  $('copy-token').addEventListener('click', onCopyToken);
  confirmFlow('regenerate-token', 'confirm-regenerate', 'regenerate-yes', 'regenerate-no', onRegenerate);
  confirmFlow('clear-data', 'confirm-clear', 'clear-yes', 'clear-no', onClearData);
}
