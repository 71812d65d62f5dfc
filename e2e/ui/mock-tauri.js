// A stand-in for window.__TAURI__ in the UI tests: core.invoke answers from a scenario
// (window.__MOCK_SCENARIO__, set before this script), records every call in
// window.__mock.calls, and event.listen / window.__mock.emit deliver shell events.
(() => {
  const scenario = window.__MOCK_SCENARIO__ || {};
  const clone = (v) => JSON.parse(JSON.stringify(v));
  const state = clone(scenario.state);
  const listeners = {};
  const mock = { calls: [], responses: clone(scenario.responses || {}), state };
  window.__mock = mock;

  mock.emit = (event, payload) => {
    for (const cb of listeners[event] || []) cb({ event, payload: clone(payload) });
  };

  const address = (s) => `http://${s.host}:${s.port}`;

  // What the shell would answer when a test gives no canned response.
  const defaults = {
    get_state: () => state,
    suggest_port: () => state.settings.port + 1,
    start_proxy: () => Object.assign(state.status, { proxy: 'running', problem: null }),
    stop_proxy: () => Object.assign(state.status, { proxy: 'stopped' }),
    sign_out: () => Object.assign(state.status, { proxy: 'stopped', account: 'signedOut', email: null, models: null }),
    clear_data: () => Object.assign(state.status, {
      proxy: 'stopped', account: 'signedOut', server: null, email: null, models: null,
    }),
    // Like the shell: the token goes to the clipboard, never into the answer.
    copy_client_token: () => null,
    regenerate_client_token: () => state.status,
    set_autostart: (args) => args.enabled,
    copy_address: () => state.status.address,
    open_logs: () => null,
    save_settings: (args) => {
      Object.assign(state.settings, args.patch);
      return Object.assign(state.status, {
        address: address(state.settings), proxy: 'running', problem: null,
      });
    },
  };

  async function invoke(cmd, args) {
    mock.calls.push({ cmd, args: args === undefined ? null : clone(args) });
    const canned = mock.responses[cmd];
    if (canned && 'error' in canned) throw clone(canned.error);
    if (canned && 'value' in canned) return clone(canned.value);
    if (defaults[cmd]) return clone(defaults[cmd](args || {}));
    throw { kind: 'internal', message: `mock: unknown command ${cmd}` };
  }

  async function listen(event, cb) {
    (listeners[event] ||= []).push(cb);
    return () => { listeners[event] = listeners[event].filter((f) => f !== cb); };
  }

  window.__TAURI__ = { core: { invoke }, event: { listen } };
})();
