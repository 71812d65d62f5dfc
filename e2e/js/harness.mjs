// Child processes for the ollama-js end-to-end tests: the fake Open WebUI
// (e2e/python/fake_backend.py --mode openwebui) and the proxy binary in front of it.
//
// Every child runs in its own process group, its output goes to a log file and is kept in
// memory (to wait for a line), every wait is bounded, and stop() ends the whole group
// (SIGTERM, then SIGKILL). A process 'exit' hook kills whatever is left.

import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "..", "..");
export const FAKE_BACKEND = join(ROOT, "e2e", "python", "fake_backend.py");

export const FAKE_EMAIL = "admin@example.com";
export const FAKE_PASSWORD = "correct horse battery staple";

const LISTENING = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

const children = new Set();

process.on("exit", () => {
  for (const child of children) child.killNow();
});
for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]]) {
  process.once(sig, () => process.exit(code)); // runs the 'exit' hook above
}

/** The environment for a child: no HTTP proxies, no OLLAMA_* or OPENWEBUI_* settings. */
export function cleanEnv(extra = {}) {
  const scrub = /^(https?_proxy|all_proxy|OLLAMA_|OPENWEBUI_)/i;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !scrub.test(k)));
  env.NO_PROXY = env.no_proxy = "127.0.0.1,localhost,::1";
  return { ...env, ...extra };
}

/** Where logs go: $E2E_LOG_DIR, else a fresh temporary directory. */
export function logDir() {
  const explicit = process.env.E2E_LOG_DIR;
  if (explicit) {
    mkdirSync(explicit, { recursive: true });
    return explicit;
  }
  return mkdtempSync(join(tmpdir(), "e2e-js-"));
}

export class Child {
  constructor(name, argv, { env, logPath, cwd } = {}) {
    this.name = name;
    this.logPath = logPath;
    this.lines = [];
    this.waiters = new Set();
    this.exitCode = undefined;
    this.log = logPath ? createWriteStream(logPath) : null;
    this.proc = spawn(argv[0], argv.slice(1), {
      env,
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // own process group, so stop() can end the child's children too
    });
    children.add(this);
    this.exited = new Promise((res) => {
      this.proc.on("exit", (code, signal) => {
        this.exitCode = code ?? signal;
        this.notify();
        res(this.exitCode);
      });
      this.proc.on("error", (err) => {
        this.exitCode = `spawn error: ${err.message}`;
        this.notify();
        res(this.exitCode);
      });
    });
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      let carry = "";
      stream.setEncoding("utf8");
      stream.on("data", (text) => {
        this.log?.write(text);
        const parts = (carry + text).split("\n");
        carry = parts.pop();
        for (const p of parts) this.lines.push(p.replace(ANSI, "").replace(/\r$/, ""));
        this.notify();
      });
      stream.on("end", () => {
        if (carry) this.lines.push(carry.replace(ANSI, ""));
        carry = "";
        this.notify();
      });
    }
  }

  alive() {
    return this.exitCode === undefined;
  }

  tail(n = 40) {
    return this.lines.slice(-n).join("\n");
  }

  notify() {
    for (const w of this.waiters) w();
  }

  /** Resolve with the first match of `rx` in a line; reject on exit or after `timeoutMs`. */
  waitForLine(rx, timeoutMs) {
    return new Promise((res, rej) => {
      let seen = 0;
      const finish = (fn, value) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn(value);
      };
      const check = () => {
        for (; seen < this.lines.length; seen++) {
          const m = rx.exec(this.lines[seen]);
          if (m) return finish(res, m);
        }
        if (!this.alive()) {
          finish(rej, new Error(`${this.name} exited (${this.exitCode}) before printing ${rx}; output:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        finish(rej, new Error(`${this.name} did not print ${rx} within ${timeoutMs} ms; output:\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  signalGroup(sig) {
    try {
      process.kill(-this.proc.pid, sig);
    } catch {
      // already gone
    }
  }

  killNow() {
    if (this.proc.pid) this.signalGroup("SIGKILL");
    children.delete(this);
  }

  /** SIGTERM the process group, SIGKILL it after `graceMs`; resolves with the exit status. */
  async stop(graceMs = 5000) {
    if (this.proc.pid && this.alive()) {
      this.signalGroup("SIGTERM");
      let timer;
      await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    if (this.proc.pid) this.signalGroup("SIGKILL"); // whatever is left in the group
    let timer;
    await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
    children.delete(this);
    await new Promise((r) => (this.log ? this.log.end(r) : r()));
    return this.exitCode;
  }
}

/** fake_backend.py --mode openwebui on a free port. */
export async function startFakeOpenWebUI(dir) {
  const python = process.env.E2E_PYTHON || "python3";
  const child = new Child("fake-openwebui", [python, FAKE_BACKEND, "--mode", "openwebui",
    "--email", FAKE_EMAIL, "--password", FAKE_PASSWORD], {
    env: cleanEnv({ PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" }),
    logPath: join(dir, "fake-openwebui.log"),
  });
  try {
    const m = await child.waitForLine(/^PORT=(\d+)$/, 15000);
    child.url = `http://127.0.0.1:${m[1]}`;
  } catch (err) {
    await child.stop(1000);
    throw err;
  }
  return child;
}

export function proxyBinary() {
  if (process.env.PROXY_BIN) return process.env.PROXY_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), ".cache", "openwebui-ollama-proxy", "target");
  return join(target, "debug", "openwebui-ollama-proxy");
}

/** The proxy in front of `openwebuiUrl`, on a free port, with its own HOME and XDG folders. */
export async function startProxy(openwebuiUrl, dir, extraArgs = []) {
  const binary = proxyBinary();
  if (!existsSync(binary)) {
    throw new Error(`proxy binary ${binary} not found; build it with ` +
      "`cargo build -p openwebui-ollama-proxy` or set PROXY_BIN");
  }
  const home = join(dir, "home-proxy");
  const xdg = {};
  for (const [key, sub] of [["XDG_CONFIG_HOME", "config"], ["XDG_DATA_HOME", "data"],
    ["XDG_CACHE_HOME", "cache"], ["XDG_STATE_HOME", "state"]]) {
    xdg[key] = join(home, sub);
    mkdirSync(xdg[key], { recursive: true });
  }
  const env = cleanEnv({
    HOME: home,
    ...xdg,
    RUST_LOG: process.env.E2E_PROXY_LOG || "info",
    NO_COLOR: "1",
    OPENWEBUI_PASSWORD: FAKE_PASSWORD,
  });
  const argv = [binary, "--openwebui-url", openwebuiUrl, "--email", FAKE_EMAIL,
    "--host", "127.0.0.1", "--port", "0", ...extraArgs];
  const child = new Child("proxy", argv, { env, logPath: join(dir, "proxy.log") });
  try {
    const m = await child.waitForLine(LISTENING, 20000);
    child.url = `http://127.0.0.1:${m[1]}`;
  } catch (err) {
    await child.stop(1000);
    throw err;
  }
  return child;
}

/** What the fake received: GET /_requests?path=... */
export async function fakeRequests(fake, path = "") {
  const r = await fetch(`${fake.url}/_requests?path=${encodeURIComponent(path)}`,
    { signal: AbortSignal.timeout(10000) });
  if (!r.ok) throw new Error(`GET /_requests: HTTP ${r.status}`);
  return r.json();
}

/** The body of the last chat completion the fake received. */
export async function lastChat(fake) {
  const reqs = (await fakeRequests(fake, "/chat/completions")).filter((r) => r.method === "POST");
  if (!reqs.length) throw new Error("no chat completion request reached the fake Open WebUI");
  return reqs[reqs.length - 1].body;
}
