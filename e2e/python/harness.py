"""Process helpers shared by the end-to-end fixtures: free ports, child processes, HTTP waits."""

from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
CACHE_DIR = Path(os.environ.get("E2E_CACHE_DIR") or Path.home() / ".cache" / "openwebui-ollama-proxy")

# Variables that must not leak from the developer's shell into the processes under test
# (and every OPENWEBUI_* variable: the proxy reads its settings from those).
_SCRUB = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
          "OLLAMA_HOST", "OLLAMA_API_KEY")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith("OPENWEBUI_")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def http() -> requests.Session:
    """A requests session that never goes through an environment proxy."""
    s = requests.Session()
    s.trust_env = False
    return s


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_CHILDREN: list["Child"] = []


@atexit.register
def _stop_leftovers() -> None:
    """Safety net: no child outlives the test run, even when a fixture's teardown did not run."""
    for child in list(_CHILDREN):
        if child.alive():
            child.stop(grace=3)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Child:
    """A child process in its own process group whose output is collected by a thread.

    Output goes to ``log_path`` (kept for diagnosis) and is also kept in memory so a line can be
    waited for with :meth:`wait_for_line`.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path,
                 cwd: str | None = None, merge_stderr: bool = True):
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._log = open(log_path, "w", encoding="utf-8", errors="replace")
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            start_new_session=True, text=True, encoding="utf-8", errors="replace", bufsize=1)
        _CHILDREN.append(self)
        self._threads = []
        streams = [self.proc.stdout] + ([] if merge_stderr else [self.proc.stderr])
        for stream in streams:
            t = threading.Thread(target=self._pump, args=(stream,), daemon=True)
            t.start()
            self._threads.append(t)

    def _pump(self, stream):
        for line in stream:
            with self._cond:
                self._lines.append(_ANSI.sub("", line.rstrip("\n")))
                if not self._log.closed:
                    self._log.write(line)
                    self._log.flush()
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        with self._cond:
            return "\n".join(self._lines)

    def tail(self, n: int = 40) -> str:
        with self._cond:
            return "\n".join(self._lines[-n:])

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match:
        """Wait until a line matches ``pattern``; raise if the process exits or time runs out."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self._lines[seen:]:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self._lines)
                if self.proc.poll() is not None and all(not t.is_alive() for t in self._threads):
                    raise RuntimeError(f"{self.name} exited with status {self.proc.returncode} before "
                                       f"printing /{pattern}/; output:\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name} did not print /{pattern}/ within {timeout:.0f}s; "
                                       f"output:\n{self.tail()}")
                self._cond.wait(min(left, 0.5))

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM the process group, then SIGKILL it after ``grace`` seconds."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the group (children of the child) goes too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for t in self._threads:
            t.join(timeout=2)
        with self._cond:
            if not self._log.closed:
                self._log.close()
        if self in _CHILDREN:
            _CHILDREN.remove(self)
        return self.proc.returncode


def wait_http(url: str, timeout: float, child: Child | None = None, ok=lambda r: r.status_code == 200) -> None:
    """Poll ``url`` until ``ok(response)``; fail early if ``child`` dies."""
    s = http()
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.name} exited with status {child.proc.returncode}; "
                               f"output:\n{child.tail()}")
        try:
            r = s.get(url, timeout=5)
            if ok(r):
                return
            last = f"HTTP {r.status_code}"
        except requests.RequestException as e:
            last = type(e).__name__
        time.sleep(0.5)
    extra = f"; output:\n{child.tail()}" if child is not None else ""
    raise TimeoutError(f"{url} not ready within {timeout:.0f}s (last: {last}){extra}")


# --------------------------------------------------------------------------------------------
# Fake servers and the proxy
# --------------------------------------------------------------------------------------------


class FakeServer:
    """``fake_backend.py`` running as a child process (mode ``backend`` or ``openwebui``)."""

    def __init__(self, mode: str, log_dir: Path, email: str | None = None, password: str | None = None):
        argv = [sys.executable, str(HERE / "fake_backend.py"), "--mode", mode]
        if email:
            argv += ["--email", email]
        if password:
            argv += ["--password", password]
        self.mode = mode
        self.child = Child(f"fake-{mode}", argv, clean_env(PYTHONUNBUFFERED="1"), log_dir / f"fake-{mode}.log")
        port = int(self.child.wait_for_line(r"^PORT=(\d+)$", timeout=20).group(1))
        self.url = f"http://127.0.0.1:{port}"
        self.http = http()

    def requests(self, path: str = "") -> list[dict]:
        r = self.http.get(f"{self.url}/_requests", params={"path": path}, timeout=10)
        r.raise_for_status()
        return r.json()

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests("/chat/completions") if r["method"] == "POST"]

    def last_chat(self) -> dict:
        reqs = self.chat_requests()
        assert reqs, "no chat completion request reached the fake model server"
        return reqs[-1]["body"]

    def expire_tokens(self) -> None:
        self.http.post(f"{self.url}/_expire_tokens", timeout=10).raise_for_status()

    def reset(self) -> None:
        self.http.post(f"{self.url}/_reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        self.child.stop(grace=5)


def proxy_binary() -> Path:
    explicit = os.environ.get("PROXY_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or CACHE_DIR / "target")
    return target / "debug" / "openwebui-ollama-proxy"


LISTENING = r"listening on http://127\.0\.0\.1:(\d+)"


class Proxy:
    """The proxy binary, started on a free port against one Open WebUI (real or fake).

    Give ``password`` (with ``email``) or ``api_key``. The proxy gets its own HOME and XDG
    directories so no credential store or config of the developer is read or written.
    """

    def __init__(self, openwebui_url: str, log_dir: Path, name: str, email: str | None = None,
                 password: str | None = None, api_key: str | None = None, extra_args=()):
        binary = proxy_binary()
        if not binary.exists():
            raise FileNotFoundError(f"proxy binary {binary} not found; build it with "
                                    "`cargo build -p openwebui-ollama-proxy` or set PROXY_BIN")
        home = log_dir / f"home-{name}"
        for sub in ("config", "data", "cache", "state"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        env = clean_env(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
                        XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
                        XDG_STATE_HOME=str(home / "state"),
                        RUST_LOG=os.environ.get("E2E_PROXY_LOG", "info"), NO_COLOR="1")
        argv = [str(binary), "--openwebui-url", openwebui_url, "--host", "127.0.0.1", "--port", "0"]
        if email:
            argv += ["--email", email]
        if password is not None:
            env["OPENWEBUI_PASSWORD"] = password
        if api_key is not None:
            env["OPENWEBUI_API_KEY"] = api_key
        argv += list(extra_args)
        self.name = name
        self.child = Child(f"proxy-{name}", argv, env, log_dir / f"proxy-{name}.log")
        try:
            port = int(self.child.wait_for_line(LISTENING, timeout=30).group(1))
        except Exception:
            self.child.stop(grace=2)
            raise
        self.url = f"http://127.0.0.1:{port}"

    def alive(self) -> bool:
        return self.child.alive()

    def stop(self) -> int | None:
        return self.child.stop(grace=10)
