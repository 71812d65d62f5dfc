// A private desktop session for the app test: Xvfb on a free display, a private D-Bus session
// bus, gnome-keyring unlocked on that bus (never the developer's keychain), a fake
// StatusNotifierWatcher + notification server, and a throwaway HOME/XDG tree. Everything is
// started by us, tracked by pid, and stopped in reverse order.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));
const cache = join(homedir(), '.cache', 'openwebui-ollama-proxy');

/** Paths of the tools, overridable through the environment. */
export const tools = {
  // The tray process (tray, proxy, local endpoint) and the settings window process it starts.
  app: process.env.APP_BIN || join(process.env.CARGO_TARGET_DIR || join(cache, 'target'), 'debug', 'openwebui-ollama-proxy-app'),
  window: process.env.WINDOW_BIN || join(process.env.CARGO_TARGET_DIR || join(cache, 'target'), 'debug', 'openwebui-ollama-proxy-settings'),
  tauriDriver: process.env.TAURI_DRIVER || join(cache, 'bin', 'tauri-driver'),
  python: process.env.SNI_PYTHON || join(cache, 'venv-app-e2e', 'bin', 'python'),
  sni: join(here, 'sni.py'),
  menuShot: join(here, 'tray_menu_shot.py'),
  closeWindow: join(here, 'close_window.py'),
};

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when `check()` is truthy, polling every `every` ms until `timeout` ms. */
export async function until(check, { timeout = 15000, every = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** Resolves with the first line of `stream` that matches `re`. */
function lineMatching(stream, re, timeout = 15000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re}`)), timeout);
    stream.on('data', (chunk) => {
      buf += chunk;
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

/** The pids below `pid` (children, grandchildren, …) from /proc. */
export function descendants(pid) {
  const parents = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(d), ppid);
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (p) => {
    for (const [child, parent] of parents) if (parent === p) { out.push(child); walk(child); }
  };
  walk(pid);
  return out;
}

/** The command name of a pid, or null. */
export function commOf(pid) {
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return null; }
}

/** RSS and PSS (KiB) of one pid from smaps_rollup. */
export function memoryOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name) => Number((text.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm')) || [])[1] || 0);
    return { rss: field('Rss'), pss: field('Pss') };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

export class Session {
  constructor() {
    this.children = [];
  }

  /** Starts X, D-Bus, the keyring and the tray watcher. */
  async start() {
    this.dir = await mkdtemp(join(tmpdir(), 'owui-app-e2e-'));
    this.home = join(this.dir, 'home');
    this.runtime = join(this.dir, 'run');
    for (const d of [this.home, this.runtime, join(this.home, '.config'), join(this.home, '.local', 'share')]) {
      await mkdir(d, { recursive: true, mode: 0o700 });
    }
    // The desktop's "open this file" launcher, replaced by one that writes down what it was
    // asked to open (one line per call).
    const bin = join(this.dir, 'bin');
    await mkdir(bin, { recursive: true });
    this.opened = join(this.dir, 'opened.txt');
    await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$1" >> '${this.opened}'\n`, { mode: 0o755 });
    this.env = {
      PATH: `${bin}:${process.env.PATH}`,
      LANG: 'C.UTF-8',
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      XDG_DATA_HOME: join(this.home, '.local', 'share'),
      XDG_CACHE_HOME: join(this.home, '.cache'),
      XDG_RUNTIME_DIR: this.runtime,
      NO_AT_BRIDGE: '1',
      RUST_LOG: 'info',
    };
    await this.startX();
    await this.startBus();
    await this.startKeyring();
    await this.startWatcher();
    return this;
  }

  /** What the desktop launcher was asked to open, in order. */
  async openedPaths() {
    return existsSync(this.opened) ? (await readFile(this.opened, 'utf8')).split('\n').filter(Boolean) : [];
  }

  spawn(cmd, args, opts = {}) {
    const child = spawn(cmd, args, { env: this.env, cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    child.output = [];
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (d) => { if (child.output.length < 5000) child.output.push(d); });
    }
    this.children.push(child);
    return child;
  }

  async startX() {
    const x = this.spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x900x24', '-nolisten', 'tcp'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    x.stdio[3].setEncoding('utf8');
    const [, display] = await lineMatching(x.stdio[3], /(\d+)\n/);
    this.env.DISPLAY = `:${display}`;
  }

  async startBus() {
    const address = `unix:path=${join(this.runtime, 'bus')}`;
    const bus = this.spawn('dbus-daemon', ['--session', '--nofork', `--address=${address}`, '--print-address=1']);
    await lineMatching(bus.stdout, /unix:path=/);
    this.env.DBUS_SESSION_BUS_ADDRESS = address;
  }

  async startKeyring() {
    const keyring = this.spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    keyring.stdin.end('e2e-keyring-password');
    // Proves the Secret Service answers on this bus and the default collection is unlocked.
    await until(() => this.secretToolStore('probe', 'x'), { what: 'gnome-keyring', every: 200 });
  }

  secretToolStore(key, value) {
    return new Promise((resolve) => {
      const p = spawn('secret-tool', ['store', '--label=probe', 'e2e', key], { env: this.env });
      p.on('exit', (code) => resolve(code === 0));
      p.stdin.end(value);
    });
  }

  /** The secret the keychain holds for `attributes`, or null. */
  async secretLookup(attributes) {
    const args = ['lookup', ...Object.entries(attributes).flat()];
    try {
      const { stdout } = await run('secret-tool', args, { env: this.env });
      return stdout;
    } catch {
      return null;
    }
  }

  async startWatcher() {
    this.items = join(this.dir, 'tray-items.jsonl');
    const watcher = this.spawn(tools.python, [tools.sni, 'watch', this.items]);
    await lineMatching(watcher.stdout, /watcher ready/);
  }

  /** The tray menu as the app exports it: {item, entries}. */
  async trayLayout() {
    const { stdout } = await run(tools.python, [tools.sni, 'layout', this.items], { env: this.env });
    return JSON.parse(stdout);
  }

  /** Clicks the tray menu entry whose label starts with `label`. */
  async trayClick(label) {
    await run(tools.python, [tools.sni, 'click', this.items, label], { env: this.env });
  }

  /** The tray's status line. */
  async trayStatus() {
    return (await this.trayLayout()).entries[0].label;
  }

  /** Notifications the app sent. */
  async notifications() {
    const file = `${this.items}.notifications`;
    if (!existsSync(file)) return [];
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  /** Saves a picture of the tray menu, rendered from D-Bus by libdbusmenu-gtk3. */
  async trayShot(out) {
    const { item } = await this.trayLayout();
    await run('/usr/bin/python3', [tools.menuShot, item.sender, item.menu, item.icon, out], { env: this.env });
  }

  /** Window ids whose title matches `name`. */
  async windows(name) {
    try {
      const { stdout } = await run('xdotool', ['search', '--onlyvisible', '--name', name], { env: this.env });
      return stdout.split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** Closes the windows titled `name` as a window manager would (WM_DELETE_WINDOW). */
  async closeWindows(name) {
    for (const id of await this.windows(name)) {
      await run('/usr/bin/python3', [tools.closeWindow, id], { env: this.env });
    }
  }

  /** Closes the windows titled `name` and waits until none is left. */
  async closeWindowsAndWait(name, what = 'windows closed') {
    await this.closeWindows(name);
    await until(async () => (await this.windows(name)).length === 0, { what });
  }

  async stop() {
    for (const child of this.children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => { child.once('exit', r); setTimeout(r, 3000); });
      }
    }
    if (this.dir && !process.env.KEEP_E2E_DIR) await rm(this.dir, { recursive: true, force: true });
  }
}
