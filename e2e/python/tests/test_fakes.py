"""Self-checks of the test servers, without the proxy: if these fail, the harness is broken."""

from __future__ import annotations

import json

import pytest

from checks import WEATHER_TOOL
from harness import http


def sse_events(resp) -> list:
    events = []
    for line in resp.iter_lines(decode_unicode=True):
        if line.startswith("data:"):
            data = line[5:].strip()
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_fake_openwebui_auth(fake_owui):
    s = http()
    url = fake_owui.url
    r = s.post(f"{url}/api/v1/auths/signin", json={"email": "ADMIN@example.com", "password": "wrong"}, timeout=10)
    assert r.status_code == 400 and "incorrect" in r.json()["detail"]
    r = s.post(f"{url}/api/v1/auths/signin", json={"email": "admin@example.com", "password": "fake-password-123"},
               timeout=10)
    assert r.status_code == 200
    user = r.json()
    assert {"token", "token_type", "expires_at", "role", "email", "id"} <= set(user)
    assert s.get(f"{url}/api/models", headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    assert s.get(f"{url}/api/models", timeout=10).status_code == 401
    models = s.get(f"{url}/api/models", headers={"Authorization": f"Bearer {user['token']}"}, timeout=10).json()
    assert "object" not in models and models["data"][0]["openai"]["owned_by"] == "fake-llm"
    key = s.post(f"{url}/api/v1/auths/api_key", headers={"Authorization": f"Bearer {user['token']}"},
                 timeout=10).json()["api_key"]
    assert key.startswith("sk-")
    assert s.get(f"{url}/api/v1/auths/", headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code == 403
    s.delete(f"{url}/api/v1/auths/api_key", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert s.get(f"{url}/api/models", headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code == 401


def test_fake_openwebui_chat_stream(fake_owui):
    s = http()
    token = s.post(f"{fake_owui.url}/api/v1/auths/signin", timeout=10,
                   json={"email": "admin@example.com", "password": "fake-password-123"}).json()["token"]
    with s.post(f"{fake_owui.url}/api/chat/completions", headers={"Authorization": f"Bearer {token}"},
                json={"model": "fake-tools", "stream": True, "tools": [WEATHER_TOOL],
                      "messages": [{"role": "user", "content": "Paris"}]}, stream=True, timeout=10) as r:
        events = sse_events(r)
    assert events[-1] == "[DONE]"
    fragments = [tc["function"].get("arguments", "") for e in events[:-1] for c in e["choices"]
                 for tc in c["delta"].get("tool_calls", [])]
    assert len([f for f in fragments if f]) >= 2
    assert json.loads("".join(fragments)) == {"city": "Paris"}
    assert events[-2]["usage"]["completion_tokens"] > 0
    assert fake_owui.last_chat()["tools"] == [WEATHER_TOOL]
    r = s.post(f"{fake_owui.url}/api/chat/completions", headers={"Authorization": f"Bearer {token}"},
               json={"model": "nope", "messages": []}, timeout=10)
    assert r.status_code == 400 and r.json() == {"detail": "Model not found"}


def test_fake_backend(backend_server):
    s = http()
    url = backend_server.url
    assert {m["id"] for m in s.get(f"{url}/v1/models", timeout=10).json()["data"]} >= {"fake-chat", "fake-embed"}
    r = s.post(f"{url}/v1/chat/completions", timeout=10,
               json={"model": "fake-reasoner", "max_tokens": 2, "messages": [{"role": "user", "content": "a b c"}]})
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["content"] == "You said:"
    assert choice["message"]["reasoning_content"] == "Thinking about: a b c"
    with s.post(f"{url}/v1/chat/completions", stream=True, timeout=10,
                json={"model": "fake-chat", "stream": True,
                      "messages": [{"role": "user", "content": "TRIGGER_MIDSTREAM"}]}) as r:
        events = sse_events(r)
    assert "error" in events[-1]
    r = s.post(f"{url}/v1/chat/completions", timeout=10,
               json={"model": "fake-chat", "messages": [{"role": "user", "content": "TRIGGER_500"}]})
    assert r.status_code == 500 and r.json()["error"]["message"] == "fake backend failure"


@pytest.mark.real_openwebui
def test_real_openwebui_direct(owui, backend):
    """The real Open WebUI reaches the fake backend (no proxy involved)."""
    s = http()
    headers = {"Authorization": f"Bearer {owui.api_key}"}
    assert {m["id"] for m in owui.models(owui.api_key)} >= {"fake-chat", "fake-vision"}
    r = s.post(f"{owui.url}/api/chat/completions", headers=headers, timeout=60,
               json={"model": "fake-chat", "messages": [{"role": "user", "content": "direct"}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "You said: direct"
    assert backend.last_chat()["messages"][-1]["content"] == "direct"
