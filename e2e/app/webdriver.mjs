// The few W3C WebDriver commands the app test needs, over fetch (no client library):
// sessions, finding elements, clicking, typing, reading text, scripts, screenshots.
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriver {
  constructor(url) {
    this.url = url.replace(/\/$/, '');
    this.sid = null;
  }

  async cmd(method, path, body) {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
    return json.value;
  }

  s(path) {
    return `/session/${this.sid}${path}`;
  }

  async start(capabilities) {
    const value = await this.cmd('POST', '/session', { capabilities: { alwaysMatch: capabilities } });
    this.sid = value.sessionId;
    return value;
  }

  async end() {
    if (!this.sid) return;
    await this.cmd('DELETE', `/session/${this.sid}`).catch(() => {});
    this.sid = null;
  }

  async find(css) {
    const v = await this.cmd('POST', this.s('/element'), { using: 'css selector', value: css });
    return v[ELEMENT];
  }

  async click(css) {
    await this.cmd('POST', this.s(`/element/${await this.find(css)}/click`), {});
  }

  async type(css, text) {
    const el = await this.find(css);
    await this.cmd('POST', this.s(`/element/${el}/clear`), {});
    await this.cmd('POST', this.s(`/element/${el}/value`), { text });
  }

  async text(css) {
    return this.cmd('GET', this.s(`/element/${await this.find(css)}/text`));
  }

  /** Runs `script` (a function body) in the page and returns its value. */
  async run(script, ...args) {
    return this.cmd('POST', this.s('/execute/sync'), { script, args });
  }

  async screenshot() {
    return Buffer.from(await this.cmd('GET', this.s('/screenshot')), 'base64');
  }

  async closeWindow() {
    return this.cmd('DELETE', this.s('/window')).catch(() => []);
  }
}
