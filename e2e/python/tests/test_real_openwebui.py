"""The ollama Python client -> proxy -> a real Open WebUI 0.12.4 -> the fake model server.

One Open WebUI is started for the whole session (fresh data directory, offline settings, admin
account and API key made at start). ``backend.last_chat()`` is what finally reached the model
server, after Open WebUI's own processing.
"""

from __future__ import annotations

import ollama
import pytest
from pydantic import BaseModel

from checks import (SIGN_IN_WORDS, WEATHER_TOOL, assert_final, assert_png_part,
                    assert_same_direction, assert_upstream_clean, collect_chat, collect_generate,
                    error_text, png_bytes, tool_args_upstream)
from fake_backend import embedding
from harness import Proxy, http

pytestmark = pytest.mark.real_openwebui

EXPECTED_MODELS = {"fake-chat", "fake-reasoner", "fake-tools", "fake-vision", "fake-embed"}


def _bare(name: str) -> str:
    return name[: -len(":latest")] if name.endswith(":latest") else name


# -- both ways of signing in ------------------------------------------------------------------


def test_list(real_client_any):
    names = {_bare(m.model) for m in real_client_any.list().models}
    assert EXPECTED_MODELS <= names


def test_chat(real_client_any, backend):
    resp = real_client_any.chat(model="fake-chat", messages=[{"role": "user", "content": "hello real"}])
    assert resp.message.content == "You said: hello real"
    assert_final(resp)
    body = backend.last_chat()
    assert body["messages"][-1] == {"role": "user", "content": "hello real"}
    assert_upstream_clean(body)


def test_chat_stream(real_client_any, backend):
    content, _, _, chunks = collect_chat(real_client_any.chat(
        model="fake-chat", stream=True, messages=[{"role": "user", "content": "stream through webui"}]))
    assert content == "You said: stream through webui"
    assert_final(chunks[-1])
    body = backend.last_chat()
    assert body.get("stream") is True
    assert (body.get("stream_options") or {}).get("include_usage") is True


# -- the rest with the password sign-in -------------------------------------------------------


def test_show(real_client):
    resp = real_client.show("fake-chat")
    assert "completion" in (resp.capabilities or [])
    assert resp.modelinfo is not None


def test_unknown_model(real_client):
    with pytest.raises(ollama.ResponseError) as exc:
        real_client.chat(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.status_code == 404


def test_generate(real_client, backend):
    resp = real_client.generate(model="fake-chat", prompt="generate real", system="be nice")
    assert resp.response == "You said: generate real"
    assert_final(resp)
    body = backend.last_chat()
    assert {"role": "system", "content": "be nice"} in body["messages"]


def test_generate_stream(real_client):
    text, _, chunks = collect_generate(real_client.generate(model="fake-chat", prompt="gen stream", stream=True))
    assert text == "You said: gen stream"
    assert_final(chunks[-1])


def test_options(real_client, backend):
    resp = real_client.chat(model="fake-chat", messages=[{"role": "user", "content": "w x y z"}],
                            options={"temperature": 0.3, "num_predict": 3, "stop": ["qq"], "seed": 11})
    assert resp.message.content == "You said: w"
    assert_final(resp, done_reason="length")
    body = backend.last_chat()
    assert body.get("temperature") == 0.3
    assert body.get("max_tokens") == 3
    assert body.get("stop") == ["qq"]
    assert body.get("seed") == 11


def test_tools_round_trip(real_client, backend):
    messages = [{"role": "user", "content": "Berlin"}]
    resp = real_client.chat(model="fake-tools", messages=messages, tools=[WEATHER_TOOL])
    assert resp.message.tool_calls and resp.message.tool_calls[0].function.name == "get_weather"
    assert resp.message.tool_calls[0].function.arguments == {"city": "Berlin"}
    assert backend.last_chat()["tools"][0]["function"]["name"] == "get_weather"

    messages += [resp.message, {"role": "tool", "content": "18 degrees", "tool_name": "get_weather"}]
    final = real_client.chat(model="fake-tools", messages=messages, tools=[WEATHER_TOOL])
    assert final.message.content == "Tool result: 18 degrees"
    body = backend.last_chat()
    calls = tool_args_upstream(body)
    assert calls and calls[0]["arguments"] == {"city": "Berlin"}
    assert body["messages"][-1].get("tool_call_id") == calls[0]["id"]


def test_tools_stream(real_client):
    content, _, calls, chunks = collect_chat(real_client.chat(
        model="fake-tools", stream=True, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "Madrid"}]))
    assert len(calls) == 1 and calls[0].function.arguments == {"city": "Madrid"}
    assert chunks[-1].done_reason == "stop"


def test_think(real_client):
    resp = real_client.chat(model="fake-reasoner", think=True, messages=[{"role": "user", "content": "hmm"}])
    assert resp.message.thinking == "Thinking about: hmm"
    assert resp.message.content == "You said: hmm"


def test_think_stream(real_client):
    content, thinking, _, chunks = collect_chat(real_client.chat(
        model="fake-reasoner", think=True, stream=True, messages=[{"role": "user", "content": "ponder this"}]))
    assert thinking == "Thinking about: ponder this"
    assert content == "You said: ponder this"
    assert_final(chunks[-1])


def test_image(real_client, backend):
    png = png_bytes()
    resp = real_client.chat(model="fake-vision", messages=[{"role": "user", "content": "look", "images": [png]}])
    assert resp.message.content == "I see 1 image(s). You said: look"
    assert_png_part(backend.last_chat(), png)


class City(BaseModel):
    city: str
    population: int


def test_format_schema(real_client, backend):
    resp = real_client.chat(model="fake-chat", format=City.model_json_schema(),
                            messages=[{"role": "user", "content": "Vienna"}])
    assert City.model_validate_json(resp.message.content) == City(city="Vienna", population=42)
    rf = backend.last_chat().get("response_format") or {}
    assert rf.get("type") == "json_schema"


def test_embed(real_client, backend):
    resp = real_client.embed(model="fake-embed", input=["alpha", "beta"])
    assert len(resp.embeddings) == 2
    assert_same_direction(resp.embeddings[0], embedding("alpha"))
    assert_same_direction(resp.embeddings[1], embedding("beta"))
    assert [r for r in backend.requests("/embeddings") if r["method"] == "POST"]


def test_embeddings_legacy(real_client):
    assert_same_direction(real_client.embeddings(model="fake-embed", prompt="gamma").embedding, embedding("gamma"))


def test_backend_500(real_client):
    with pytest.raises(ollama.ResponseError) as exc:
        real_client.chat(model="fake-chat", messages=[{"role": "user", "content": "TRIGGER_500"}])
    assert 500 <= exc.value.status_code < 600


def test_midstream_error(real_client):
    got = []
    with pytest.raises(ollama.ResponseError) as exc:
        for chunk in real_client.chat(model="fake-chat", stream=True,
                                      messages=[{"role": "user", "content": "TRIGGER_MIDSTREAM"}]):
            got.append(chunk)
    assert "mid-stream failure" in error_text(exc.value)
    assert not any(c.done for c in got)


def test_pull_refused(real_client):
    with pytest.raises(ollama.ResponseError) as exc:
        real_client.pull("no-such-model")
    assert exc.value.status_code == 403
    with pytest.raises(ollama.ResponseError) as exc:
        real_client.delete("fake-chat")
    assert exc.value.status_code == 403


# -- credentials that do not work -------------------------------------------------------------


def test_wrong_password(owui, log_dir):
    # A separate account, so failed attempts do not count against the admin's sign-in rate limit.
    owui.add_user("Wrong PW", "wrongpw@example.com", "the-right-password-1")
    proxy = Proxy(owui.url, log_dir, "real-wrong-password", email="wrongpw@example.com",
                  password="not-the-password")
    try:
        r = http().get(f"{proxy.url}/api/tags", timeout=60)
        assert not r.ok, f"expected an error, got {r.status_code} {r.text[:200]}"
        err = r.json().get("error")
        assert isinstance(err, str) and SIGN_IN_WORDS.search(err), f"unclear error: {err!r}"
        with pytest.raises(ollama.ResponseError):
            ollama.Client(host=proxy.url, timeout=60).chat(
                model="fake-chat", messages=[{"role": "user", "content": "hi"}])
        assert proxy.alive()
    finally:
        proxy.stop()


def test_revoked_api_key(owui, log_dir, backend):
    # A second admin with its own key (one key per user: the session's admin key stays valid).
    user = owui.add_user("Revoker", "revoker@example.com", "revoker-password-1", role="admin")
    key = owui.create_api_key(user["token"])
    proxy = Proxy(owui.url, log_dir, "real-revoked-key", api_key=key)
    try:
        client = ollama.Client(host=proxy.url, timeout=60)
        assert client.chat(model="fake-chat", messages=[{"role": "user", "content": "before"}]).message.content \
            == "You said: before"
        owui.delete_api_key(user["token"])
        with pytest.raises(ollama.ResponseError) as exc:
            client.chat(model="fake-chat", messages=[{"role": "user", "content": "after"}])
        assert not 200 <= exc.value.status_code < 300
        assert error_text(exc.value)
        assert proxy.alive(), "the proxy must keep running after its key was revoked"
        r = http().get(f"{proxy.url}/api/version", timeout=30)
        assert r.status_code == 200
    finally:
        proxy.stop()


# -- no side effects --------------------------------------------------------------------------


def test_zz_no_chat_stored(owui, real_proxy_password, real_proxy_key):
    """Runs last in this file: nothing the proxy did may appear in the user's chat history."""
    assert owui.chats() == []
