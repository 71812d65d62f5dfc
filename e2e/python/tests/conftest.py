"""Fixtures: fake servers, a real Open WebUI, and the proxy in front of each."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

# The test process itself must not pick up a developer's Ollama/HTTP proxy settings: the ollama
# client sends OLLAMA_API_KEY as a bearer and httpx honours HTTP(S)_PROXY.
for _var in ("OLLAMA_HOST", "OLLAMA_API_KEY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
             "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"

import ollama  # noqa: E402

import openwebui  # noqa: E402
from harness import FakeServer, Proxy  # noqa: E402

FAKE_EMAIL = "admin@example.com"
FAKE_PASSWORD = "fake-password-123"

_timings: dict[str, float] = {}


def pytest_collection_modifyitems(config, items):
    if os.environ.get("E2E_SKIP_OPENWEBUI") == "1":
        reason = "E2E_SKIP_OPENWEBUI=1"
    elif openwebui.installed() or os.environ.get("E2E_REQUIRE_OPENWEBUI") == "1":
        return
    else:
        reason = (f"open-webui {openwebui.VERSION} not installed in {openwebui.VENV} "
                  "(scripts/test-e2e-python installs it)")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "real_openwebui" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    log_dir = getattr(config, "_e2e_log_dir", None)
    for name, secs in _timings.items():
        terminalreporter.write_line(f"e2e: {name}: {secs:.1f}s")
    if log_dir is not None and exitstatus not in (0, 5):
        terminalreporter.write_line(f"e2e: logs of the proxy and servers are in {log_dir}")


@pytest.fixture(scope="session")
def log_dir(request, tmp_path_factory) -> Path:
    explicit = os.environ.get("E2E_LOG_DIR")
    path = Path(explicit) if explicit else tmp_path_factory.mktemp("e2e-logs")
    path.mkdir(parents=True, exist_ok=True)
    request.config._e2e_log_dir = path
    return path


def make_client(url: str) -> ollama.Client:
    return ollama.Client(host=url, timeout=60)


# ---------------------------------------------------------------------------------------------
# Group a: proxy -> fake Open WebUI
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_owui_server(log_dir):
    server = FakeServer("openwebui", log_dir, email=FAKE_EMAIL, password=FAKE_PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def fake_owui(fake_owui_server):
    """The fake Open WebUI with its request log cleared for this test."""
    fake_owui_server.reset()
    return fake_owui_server


@pytest.fixture(scope="session")
def fake_proxy(fake_owui_server, log_dir):
    proxy = Proxy(fake_owui_server.url, log_dir, "fake", email=FAKE_EMAIL, password=FAKE_PASSWORD)
    yield proxy
    proxy.stop()


@pytest.fixture
def client(fake_proxy, fake_owui) -> ollama.Client:
    return make_client(fake_proxy.url)


# ---------------------------------------------------------------------------------------------
# Group b: proxy -> real Open WebUI -> fake backend
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def backend_server(log_dir):
    server = FakeServer("backend", log_dir)
    yield server
    server.stop()


@pytest.fixture
def backend(backend_server):
    """The fake model server behind the real Open WebUI, request log cleared for this test."""
    backend_server.reset()
    return backend_server


@pytest.fixture(scope="session")
def owui(backend_server, log_dir, tmp_path_factory):
    if not openwebui.installed():
        pytest.fail(f"open-webui {openwebui.VERSION} is not installed in {openwebui.VENV}")
    server = openwebui.OpenWebUI(f"{backend_server.url}/v1", tmp_path_factory.mktemp("openwebui"), log_dir)
    _timings["Open WebUI healthy after"] = server.startup_seconds
    yield server
    t0 = time.monotonic()
    server.stop()
    _timings["Open WebUI stop"] = time.monotonic() - t0


@pytest.fixture(scope="session")
def real_proxy_password(owui, log_dir):
    proxy = Proxy(owui.url, log_dir, "real-password", email=openwebui.ADMIN_EMAIL,
                  password=openwebui.ADMIN_PASSWORD)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def real_proxy_key(owui, log_dir):
    proxy = Proxy(owui.url, log_dir, "real-key", api_key=owui.api_key)
    yield proxy
    proxy.stop()


@pytest.fixture
def real_client(real_proxy_password, backend) -> ollama.Client:
    """ollama client -> proxy (signed in with the admin's password) -> real Open WebUI."""
    return make_client(real_proxy_password.url)


@pytest.fixture(params=["password", "api_key"])
def real_client_any(request, backend) -> ollama.Client:
    """The same, once per way of signing in."""
    proxy = request.getfixturevalue("real_proxy_password" if request.param == "password" else "real_proxy_key")
    return make_client(proxy.url)
