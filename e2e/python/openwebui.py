#!/usr/bin/env python3
"""Install and run a real Open WebUI for the end-to-end tests.

The install is a virtualenv outside the clone, made once per machine (about 7 GB):

    python3.11 -m venv ~/.cache/openwebui-ollama-proxy/venv-openwebui-0.12.4
    .../bin/pip install open-webui==0.12.4

and marked complete with a ``.install-complete`` file inside it, so later runs skip it.

Each test session starts its own server on a free loopback port with a fresh ``DATA_DIR`` and an
environment that keeps it offline (see shared reference ``openwebui-api.md`` §8), signs up the
first user (who becomes admin) and creates an API key.

Command line:
    python3 openwebui.py install            # idempotent
    python3 openwebui.py status             # prints the venv path, exit 1 when not installed
    python3 openwebui.py serve              # run one against a fake backend until Ctrl-C
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CACHE_DIR, Child, FakeServer, clean_env, free_port, http, wait_http  # noqa: E402

VERSION = os.environ.get("E2E_OPENWEBUI_VERSION", "0.12.4")
VENV = Path(os.environ.get("E2E_OPENWEBUI_VENV") or CACHE_DIR / f"venv-openwebui-{VERSION}")
MARKER = VENV / ".install-complete"
PYTHON = os.environ.get("E2E_OPENWEBUI_PYTHON", "python3.11")

ADMIN_NAME = "E2E Admin"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "e2e-Admin-password-1"

STARTUP_TIMEOUT = float(os.environ.get("E2E_OPENWEBUI_STARTUP_TIMEOUT", "240"))


def installed() -> bool:
    return MARKER.exists() and (VENV / "bin" / "open-webui").exists()


def install(timeout: float = 3600) -> None:
    """Create the venv and pip-install open-webui, unless the marker says it is done."""
    if installed():
        print(f"open-webui {VERSION} already installed in {VENV}")
        return
    VENV.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if not (VENV / "bin" / "python").exists():
        subprocess.run([PYTHON, "-m", "venv", str(VENV)], check=True, timeout=300)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    env = clean_env()
    # Keep the proxy settings for pip itself: installing is the one step that needs a registry.
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        if k in os.environ:
            env[k] = os.environ[k]
    print(f"installing open-webui {VERSION} into {VENV} (several minutes, about 7 GB)", flush=True)
    subprocess.run(pip + ["install", "--upgrade", "pip"], check=True, env=env, timeout=600)
    subprocess.run(pip + ["install", f"open-webui=={VERSION}"], check=True, env=env, timeout=timeout)
    MARKER.write_text(f"open-webui=={VERSION}\ninstalled {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
    print(f"open-webui installed in {time.monotonic() - started:.0f}s", flush=True)


def server_env(data_dir: Path, backend_v1: str, port: int) -> dict[str, str]:
    """Environment for an offline, minimal Open WebUI using ``backend_v1`` as its model server."""
    return clean_env(
        HOME=str(data_dir),
        DATA_DIR=str(data_dir / "data"),
        PORT=str(port),
        WEBUI_SECRET_KEY=secrets.token_hex(24),
        WEBUI_AUTH="true",
        ENABLE_SIGNUP="true",
        DEFAULT_USER_ROLE="user",
        ENABLE_API_KEYS="true",
        ENABLE_API_KEY="true",
        USER_PERMISSIONS_FEATURES_API_KEYS="true",
        ENABLE_OLLAMA_API="false",
        ENABLE_OPENAI_API="true",
        OPENAI_API_BASE_URL=backend_v1,
        OPENAI_API_KEY="sk-fake-backend",
        OFFLINE_MODE="true",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        RAG_EMBEDDING_MODEL_AUTO_UPDATE="false",
        RAG_RERANKING_MODEL_AUTO_UPDATE="false",
        WHISPER_MODEL_AUTO_UPDATE="false",
        ENABLE_VERSION_UPDATE_CHECK="false",
        RAG_EMBEDDING_ENGINE="openai",
        RAG_OPENAI_API_BASE_URL=backend_v1,
        RAG_OPENAI_API_KEY="sk-fake-backend",
        RAG_EMBEDDING_MODEL="fake-embed",
        SCARF_NO_ANALYTICS="true",
        DO_NOT_TRACK="true",
        ANONYMIZED_TELEMETRY="false",
        ENABLE_OTEL="false",
        ENABLE_WEBSOCKET_SUPPORT="false",
        CORS_ALLOW_ORIGIN="*",
        GLOBAL_LOG_LEVEL=os.environ.get("E2E_OPENWEBUI_LOG_LEVEL", "WARNING"),
        PYTHONUNBUFFERED="1",
    )


class OpenWebUI:
    """A running Open WebUI with an admin account and that admin's API key."""

    def __init__(self, backend_v1: str, work_dir: Path, log_dir: Path):
        if not installed():
            raise FileNotFoundError(f"open-webui {VERSION} is not installed in {VENV} "
                                    f"(run `python3 {Path(__file__).name} install`)")
        self.work_dir = work_dir
        (work_dir / "data").mkdir(parents=True, exist_ok=True)
        for attempt in range(2):
            self.started = time.monotonic()
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            argv = [str(VENV / "bin" / "open-webui"), "serve", "--host", "127.0.0.1", "--port", str(port)]
            self.child = Child("open-webui", argv, server_env(work_dir, backend_v1, port),
                               log_dir / f"open-webui{'-retry' if attempt else ''}.log", cwd=str(work_dir))
            try:
                wait_http(f"{self.url}/health", STARTUP_TIMEOUT, self.child)
                break
            except BaseException as exc:
                self.child.stop(grace=5)
                # The free port can be taken between choosing and binding it: try another once.
                port_taken = "address already in use" in self.child.output().lower()
                if attempt or not isinstance(exc, RuntimeError) or not port_taken:
                    raise
        try:
            self.startup_seconds = time.monotonic() - self.started
            self.http = http()
            self.admin = self._signup(ADMIN_NAME, ADMIN_EMAIL, ADMIN_PASSWORD)
            self.admin_token = self.admin["token"]
            self.api_key = self.create_api_key(self.admin_token)
        except BaseException:
            self.stop()
            raise

    # -- REST helpers ----------------------------------------------------------------------------

    def _signup(self, name: str, email: str, password: str) -> dict:
        r = self.http.post(f"{self.url}/api/v1/auths/signup",
                           json={"name": name, "email": email, "password": password}, timeout=60)
        r.raise_for_status()
        user = r.json()
        if user.get("role") != "admin":
            raise RuntimeError(f"first sign-up did not become admin: {user.get('role')!r}")
        return user

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def signin(self, email: str, password: str) -> dict:
        r = self.http.post(f"{self.url}/api/v1/auths/signin",
                           json={"email": email, "password": password}, timeout=60)
        r.raise_for_status()
        return r.json()

    def create_api_key(self, token: str) -> str:
        r = self.http.post(f"{self.url}/api/v1/auths/api_key", headers=self.headers(token), timeout=30)
        r.raise_for_status()
        return r.json()["api_key"]

    def delete_api_key(self, token: str) -> None:
        r = self.http.delete(f"{self.url}/api/v1/auths/api_key", headers=self.headers(token), timeout=30)
        r.raise_for_status()

    def add_user(self, name: str, email: str, password: str, role: str = "user") -> dict:
        """Admin-created account (``POST /api/v1/auths/add``); returns it with its token."""
        r = self.http.post(f"{self.url}/api/v1/auths/add", headers=self.headers(),
                           json={"name": name, "email": email, "password": password, "role": role},
                           timeout=60)
        r.raise_for_status()
        return r.json()

    def chats(self, token: str | None = None) -> list:
        r = self.http.get(f"{self.url}/api/v1/chats/", headers=self.headers(token), timeout=30)
        r.raise_for_status()
        return r.json()

    def models(self, token: str | None = None) -> list[dict]:
        r = self.http.get(f"{self.url}/api/models", headers=self.headers(token), timeout=30)
        r.raise_for_status()
        return r.json()["data"]

    def stop(self) -> None:
        self.child.stop(grace=20)


def _serve(args) -> int:
    log_dir = Path(tempfile.mkdtemp(prefix="owui-e2e-"))
    backend = FakeServer("backend", log_dir)
    try:
        owui = OpenWebUI(f"{backend.url}/v1", log_dir / "owui", log_dir)
        try:
            print(f"Open WebUI     {owui.url}  (healthy after {owui.startup_seconds:.1f}s)")
            print(f"admin          {ADMIN_EMAIL} / {ADMIN_PASSWORD}")
            print(f"API key        {owui.api_key}")
            print(f"fake backend   {backend.url}/v1")
            print(f"logs           {log_dir}")
            print("models         " + ", ".join(m["id"] for m in owui.models()), flush=True)
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline and owui.child.alive():
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            owui.stop()
    finally:
        backend.stop()
        if not args.keep:
            shutil.rmtree(log_dir, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Install or run the Open WebUI used by the e2e tests.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install", help="create the venv and install open-webui (idempotent)")
    sub.add_parser("status", help="exit 0 when installed")
    serve = sub.add_parser("serve", help="run one against a fake backend")
    serve.add_argument("--seconds", type=float, default=3600, help="stop after this long")
    serve.add_argument("--keep", action="store_true", help="keep the temporary data and logs")
    args = ap.parse_args(argv)
    if args.cmd == "install":
        install()
        return 0
    if args.cmd == "status":
        print(VENV)
        return 0 if installed() else 1
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
