"""The official ollama Python client against the proxy, with a fast fake Open WebUI behind it.

The fake records what reached it (``fake_owui.last_chat()``), so each test checks both what the
client got back and what the proxy sent upstream.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import ollama
import pytest
from pydantic import BaseModel

from checks import (SIGN_IN_WORDS, WEATHER_TOOL, assert_final, assert_png_part,
                    assert_same_direction, assert_upstream_clean, collect_chat, collect_generate,
                    error_text, png_bytes, tool_args_upstream)
from fake_backend import embedding
from harness import Proxy, http

EXPECTED_MODELS = {"fake-chat", "fake-reasoner", "fake-tools", "fake-vision", "fake-embed"}


def _bare(name: str) -> str:
    return name[: -len(":latest")] if name.endswith(":latest") else name


# -- models -----------------------------------------------------------------------------------


def test_list(client):
    resp = client.list()
    names = {_bare(m.model) for m in resp.models}
    assert EXPECTED_MODELS <= names
    for m in resp.models:
        assert m.model and m.details is not None


def test_list_raw_shape(fake_proxy):
    r = http().get(f"{fake_proxy.url}/api/tags", timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    models = r.json()["models"]
    for m in models:
        assert isinstance(m["name"], str) and isinstance(m["model"], str)
        assert isinstance(m["modified_at"], str) and isinstance(m["size"], int)


def test_show(client):
    resp = client.show("fake-chat")
    assert resp.capabilities and "completion" in resp.capabilities
    assert resp.modelinfo is not None
    assert resp.details is not None


def test_show_latest_tag_and_raw_model_info(fake_proxy, fake_owui):
    r = http().post(f"{fake_proxy.url}/api/show", json={"model": "fake-chat:latest"}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body.get("model_info"), dict), "model_info must be present (an object)"
    for key in ("license", "modelfile", "parameters", "template"):
        assert isinstance(body.get(key), str), f"{key} must be a string"


def test_show_vision_capability(client):
    # The fake Open WebUI marks fake-vision with info.meta.capabilities.vision.
    assert "vision" in (client.show("fake-vision").capabilities or [])


def test_show_unknown_model(client):
    with pytest.raises(ollama.ResponseError) as exc:
        client.show("no-such-model")
    assert exc.value.status_code == 404


def test_ps(client):
    assert isinstance(client.ps().models, list)


def test_version_and_root(fake_proxy):
    s = http()
    r = s.get(f"{fake_proxy.url}/api/version", timeout=30)
    assert r.status_code == 200 and isinstance(r.json()["version"], str)
    r = s.get(f"{fake_proxy.url}/", timeout=30)
    assert r.status_code == 200 and "Ollama is running" in r.text
    assert s.head(f"{fake_proxy.url}/", timeout=30).status_code == 200


# -- chat and generate ------------------------------------------------------------------------


def test_chat(client, fake_owui):
    resp = client.chat(model="fake-chat", messages=[{"role": "user", "content": "hello proxy"}])
    assert resp.message.role == "assistant"
    assert resp.message.content == "You said: hello proxy"
    assert_final(resp)
    body = fake_owui.last_chat()
    assert body["model"] == "fake-chat"
    assert body["messages"][-1] == {"role": "user", "content": "hello proxy"}
    assert_upstream_clean(body)


def test_chat_latest_tag(client):
    resp = client.chat(model="fake-chat:latest", messages=[{"role": "user", "content": "tagged"}])
    assert resp.message.content == "You said: tagged"
    assert resp.model == "fake-chat:latest"


def test_chat_stream(client, fake_owui):
    stream = client.chat(model="fake-chat", stream=True,
                         messages=[{"role": "system", "content": "be brief"},
                                   {"role": "user", "content": "stream me some words"}])
    content, thinking, calls, chunks = collect_chat(stream)
    assert content == "You said: stream me some words"
    assert len(chunks) > 2, "expected several content lines"
    assert not thinking and not calls
    assert_final(chunks[-1])
    assert chunks[-1].message.content == ""
    body = fake_owui.last_chat()
    assert body.get("stream") is True
    assert (body.get("stream_options") or {}).get("include_usage") is True
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert_upstream_clean(body)


def test_generate(client, fake_owui):
    resp = client.generate(model="fake-chat", prompt="generate this", system="sys prompt")
    assert resp.response == "You said: generate this"
    assert_final(resp)
    body = fake_owui.last_chat()
    assert {"role": "system", "content": "sys prompt"} in body["messages"]
    assert body["messages"][-1] == {"role": "user", "content": "generate this"}
    assert_upstream_clean(body)


def test_generate_stream(client):
    text, thinking, chunks = collect_generate(client.generate(model="fake-chat", prompt="one two three", stream=True))
    assert text == "You said: one two three"
    assert not thinking
    assert_final(chunks[-1])


def test_raw_stream_framing(fake_proxy, fake_owui):
    """``stream`` absent means streamed NDJSON: one JSON object per line, no blank or data: lines."""
    with http().post(f"{fake_proxy.url}/api/chat", stream=True, timeout=30,
                     json={"model": "fake-chat", "messages": [{"role": "user", "content": "raw lines"}]}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        raw = r.content.decode()
    assert raw.endswith("\n")
    lines = raw[:-1].split("\n")
    objs = [json.loads(line) for line in lines]
    assert all("error" not in o for o in objs)
    assert objs[-1]["done"] is True and objs[-1]["message"]["role"] == "assistant"
    assert "".join(o["message"]["content"] for o in objs) == "You said: raw lines"


def test_generate_load_request(client, fake_owui):
    """An empty prompt only "loads" the model: answered without a chat upstream."""
    resp = client.generate(model="fake-chat")
    assert resp.done is True and resp.done_reason == "load"
    assert fake_owui.chat_requests() == []


def test_options_reach_backend(client, fake_owui):
    resp = client.chat(model="fake-chat", messages=[{"role": "user", "content": "alpha beta gamma delta"}],
                       options={"temperature": 0.25, "top_p": 0.5, "seed": 7, "num_predict": 3, "stop": ["zzz"]})
    body = fake_owui.last_chat()
    assert body.get("temperature") == 0.25
    assert body.get("top_p") == 0.5
    assert body.get("seed") == 7
    assert body.get("max_tokens") == 3
    assert body.get("stop") == ["zzz"]
    # The fake cuts the answer at max_tokens words and reports finish_reason "length".
    assert resp.message.content == "You said: alpha"
    assert_final(resp, done_reason="length")


def test_generate_num_predict_stream(client, fake_owui):
    text, _, chunks = collect_generate(client.generate(model="fake-chat", prompt="a b c d e", stream=True,
                                                       options={"num_predict": 2}))
    assert text == "You said:"
    assert_final(chunks[-1], done_reason="length")
    assert fake_owui.last_chat().get("max_tokens") == 2


# -- tools ------------------------------------------------------------------------------------


def test_tools(client, fake_owui):
    messages = [{"role": "user", "content": "Paris"}]
    resp = client.chat(model="fake-tools", messages=messages, tools=[WEATHER_TOOL])
    calls = resp.message.tool_calls
    assert calls and len(calls) == 1
    assert calls[0].function.name == "get_weather"
    assert calls[0].function.arguments == {"city": "Paris"}
    assert resp.done and resp.done_reason == "stop"
    sent = fake_owui.last_chat()
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tools"][0]["function"]["parameters"] == WEATHER_TOOL["function"]["parameters"]

    # Round trip: the assistant's call and the tool's answer go back upstream.
    messages += [resp.message, {"role": "tool", "content": "22 degrees", "tool_name": "get_weather"}]
    final = client.chat(model="fake-tools", messages=messages, tools=[WEATHER_TOOL])
    assert final.message.content == "Tool result: 22 degrees"
    body = fake_owui.last_chat()
    upstream_calls = tool_args_upstream(body)
    assert [c["name"] for c in upstream_calls] == ["get_weather"]
    assert upstream_calls[0]["arguments"] == {"city": "Paris"}
    tool_msg = body["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["content"] == "22 degrees"
    assert tool_msg.get("tool_call_id") == upstream_calls[0]["id"], \
        "tool result must answer the assistant's call id"
    assert_upstream_clean(body)


def test_tools_stream(client):
    stream = client.chat(model="fake-tools", stream=True, tools=[WEATHER_TOOL],
                         messages=[{"role": "user", "content": "Lyon"}])
    content, _, calls, chunks = collect_chat(stream)
    assert content == ""
    assert len(calls) == 1, "a tool call must arrive once, complete"
    assert calls[0].function.name == "get_weather"
    assert calls[0].function.arguments == {"city": "Lyon"}
    assert chunks[-1].done_reason == "stop"


def test_tools_python_function(client):
    def get_weather(city: str) -> str:
        """Get the current weather for a city.

        Args:
          city: City name
        """
        return "sunny"

    resp = client.chat(model="fake-tools", messages=[{"role": "user", "content": "Oslo"}], tools=[get_weather])
    assert resp.message.tool_calls[0].function.arguments == {"city": "Oslo"}


# -- thinking ---------------------------------------------------------------------------------


def test_think(client):
    resp = client.chat(model="fake-reasoner", think=True, messages=[{"role": "user", "content": "why"}])
    assert resp.message.thinking == "Thinking about: why"
    assert resp.message.content == "You said: why"
    assert_final(resp)


def test_think_stream(client):
    content, thinking, _, chunks = collect_chat(
        client.chat(model="fake-reasoner", think=True, stream=True, messages=[{"role": "user", "content": "deep thought"}]))
    assert thinking == "Thinking about: deep thought"
    assert content == "You said: deep thought"
    assert "Thinking" not in content
    assert_final(chunks[-1])


def test_think_false_hides_thinking(client):
    resp = client.chat(model="fake-reasoner", think=False, messages=[{"role": "user", "content": "quick"}])
    assert not resp.message.thinking
    assert resp.message.content == "You said: quick"


def test_generate_think(client):
    resp = client.generate(model="fake-reasoner", prompt="ponder", think=True)
    assert resp.thinking == "Thinking about: ponder"
    assert resp.response == "You said: ponder"


# -- images -----------------------------------------------------------------------------------


def test_chat_image(client, fake_owui):
    png = png_bytes()
    resp = client.chat(model="fake-vision", messages=[{"role": "user", "content": "what is this", "images": [png]}])
    assert resp.message.content == "I see 1 image(s). You said: what is this"
    assert_png_part(fake_owui.last_chat(), png)


def test_generate_image_stream(client, fake_owui):
    png = png_bytes(3, 1)
    text, _, _ = collect_generate(client.generate(model="fake-vision", prompt="describe", images=[png], stream=True))
    assert text == "I see 1 image(s). You said: describe"
    assert_png_part(fake_owui.last_chat(), png)


# -- structured output ------------------------------------------------------------------------


def test_format_json(client, fake_owui):
    resp = client.chat(model="fake-chat", format="json", messages=[{"role": "user", "content": "as json"}])
    assert isinstance(json.loads(resp.message.content), dict)
    assert fake_owui.last_chat().get("response_format") == {"type": "json_object"}


class Weather(BaseModel):
    city: str
    temperature: int
    sunny: bool


def test_format_schema(client, fake_owui):
    schema = Weather.model_json_schema()
    resp = client.chat(model="fake-chat", format=schema, messages=[{"role": "user", "content": "Rome"}])
    weather = Weather.model_validate_json(resp.message.content)
    assert weather == Weather(city="Rome", temperature=42, sunny=True)
    rf = fake_owui.last_chat().get("response_format") or {}
    assert rf.get("type") == "json_schema"
    assert rf["json_schema"]["schema"]["properties"] == schema["properties"]
    assert rf["json_schema"].get("name")


def test_generate_format_schema(client, fake_owui):
    resp = client.generate(model="fake-chat", prompt="Nice", format=Weather.model_json_schema())
    assert Weather.model_validate_json(resp.response).city == "Nice"
    assert (fake_owui.last_chat().get("response_format") or {}).get("type") == "json_schema"


# -- errors -----------------------------------------------------------------------------------


def test_unknown_model(client):
    with pytest.raises(ollama.ResponseError) as exc:
        client.chat(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.status_code == 404
    assert "not found" in error_text(exc.value)


def test_unknown_model_stream(client):
    with pytest.raises(ollama.ResponseError) as exc:
        list(client.chat(model="no-such-model", stream=True, messages=[{"role": "user", "content": "hi"}]))
    assert exc.value.status_code == 404


def test_unknown_model_generate(client):
    with pytest.raises(ollama.ResponseError) as exc:
        client.generate(model="no-such-model", prompt="hi")
    assert exc.value.status_code == 404


def test_midstream_error(client):
    got = []
    with pytest.raises(ollama.ResponseError) as exc:
        for chunk in client.chat(model="fake-chat", stream=True,
                                 messages=[{"role": "user", "content": "TRIGGER_MIDSTREAM please"}]):
            got.append(chunk)
    assert "mid-stream failure" in error_text(exc.value)
    assert not any(c.done for c in got), "no done=true may precede a stream error"
    assert "".join(c.message.content or "" for c in got) == "partial"


def test_backend_500(client):
    with pytest.raises(ollama.ResponseError) as exc:
        client.chat(model="fake-chat", messages=[{"role": "user", "content": "TRIGGER_500"}])
    assert 500 <= exc.value.status_code < 600
    assert "fake backend failure" in error_text(exc.value)


def test_backend_500_stream(client):
    with pytest.raises(ollama.ResponseError) as exc:
        list(client.chat(model="fake-chat", stream=True, messages=[{"role": "user", "content": "TRIGGER_500"}]))
    assert 500 <= exc.value.status_code < 600


def test_pull(client):
    # Pulling a model the server does not offer is refused. Pulling one it does offer may be
    # answered with success (some clients pull before first use; ollama-api.md §7), else 403.
    with pytest.raises(ollama.ResponseError) as exc:
        client.pull("no-such-model")
    assert exc.value.status_code == 403
    try:
        status = client.pull("fake-chat").status
    except ollama.ResponseError as e:
        assert e.status_code == 403
        return
    assert status == "success"
    statuses = [p.status for p in client.pull("fake-chat:latest", stream=True)]
    assert statuses and statuses[-1] == "success"


def test_model_management_refused(client):
    for call in (lambda: client.delete("fake-chat"),
                 lambda: client.copy("fake-chat", "fake-copy")):
        with pytest.raises(ollama.ResponseError) as exc:
            call()
        assert exc.value.status_code == 403


def test_push_and_create_refused(fake_proxy):
    s = http()
    for path, body in (("/api/push", {"model": "fake-chat", "stream": False}),
                       ("/api/create", {"model": "x", "from": "fake-chat", "stream": False})):
        r = s.post(fake_proxy.url + path, json=body, timeout=30)
        assert r.status_code == 403, (path, r.status_code, r.text)
        assert isinstance(r.json().get("error"), str)


# -- embeddings -------------------------------------------------------------------------------


def test_embed(client, fake_owui):
    resp = client.embed(model="fake-embed", input=["hello", "world"])
    assert len(resp.embeddings) == 2
    assert_same_direction(resp.embeddings[0], embedding("hello"))
    assert_same_direction(resp.embeddings[1], embedding("world"))
    sent = [r for r in fake_owui.requests("/embeddings") if r["method"] == "POST"]
    assert sent and sent[-1]["body"]["model"] == "fake-embed"


def test_embed_single_string(client):
    resp = client.embed(model="fake-embed", input="just one")
    assert len(resp.embeddings) == 1
    assert_same_direction(resp.embeddings[0], embedding("just one"))


def test_embeddings_legacy(client):
    resp = client.embeddings(model="fake-embed", prompt="legacy")
    assert_same_direction(resp.embedding, embedding("legacy"))


def test_embed_unknown_model(client):
    with pytest.raises(ollama.ResponseError) as exc:
        client.embed(model="no-such-model", input="x")
    assert exc.value.status_code == 404


# -- OpenAI-compatible routes of the proxy ------------------------------------------------------


def test_v1_models(fake_proxy):
    r = http().get(f"{fake_proxy.url}/v1/models", timeout=30)
    assert r.status_code == 200
    assert EXPECTED_MODELS <= {_bare(m["id"]) for m in r.json()["data"]}


def test_v1_chat_completions(fake_proxy, fake_owui):
    s = http()
    r = s.post(f"{fake_proxy.url}/v1/chat/completions", timeout=30,
               json={"model": "fake-chat", "messages": [{"role": "user", "content": "openai style"}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "You said: openai style"
    with s.post(f"{fake_proxy.url}/v1/chat/completions", timeout=30, stream=True,
                json={"model": "fake-chat", "stream": True,
                      "messages": [{"role": "user", "content": "openai stream"}]}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line[5:].strip() for line in r.iter_lines(decode_unicode=True) if line.startswith("data:")]
    assert events[-1] == "[DONE]"
    text = "".join((json.loads(e)["choices"] or [{}])[0].get("delta", {}).get("content") or ""
                   for e in events[:-1])
    assert text == "You said: openai stream"
    assert_upstream_clean(fake_owui.last_chat())


# -- credentials ------------------------------------------------------------------------------


def test_api_key_sign_in(fake_owui_server, log_dir):
    s = http()
    token = s.post(f"{fake_owui_server.url}/api/v1/auths/signin", timeout=30,
                   json={"email": "admin@example.com", "password": "fake-password-123"}).json()["token"]
    key = s.post(f"{fake_owui_server.url}/api/v1/auths/api_key", timeout=30,
                 headers={"Authorization": f"Bearer {token}"}).json()["api_key"]
    proxy = Proxy(fake_owui_server.url, log_dir, "fake-key", api_key=key)
    try:
        c = ollama.Client(host=proxy.url, timeout=60)
        assert "fake-chat" in {_bare(m.model) for m in c.list().models}
        assert c.chat(model="fake-chat", messages=[{"role": "user", "content": "key"}]).message.content \
            == "You said: key"
        auth = [r["headers"].get("authorization") for r in fake_owui_server.requests("/api/chat/completions")]
        assert auth and auth[-1] == f"Bearer {key}"
    finally:
        proxy.stop()


def _sign_ins(server) -> int:
    return len([r for r in server.requests("/api/v1/auths/signin") if r["method"] == "POST"])


def test_concurrent_requests_sign_in_once(fake_owui_server, log_dir):
    """Parallel first requests share one sign-in (Open WebUI rate-limits sign-ins per email)."""
    fake_owui_server.reset()
    proxy = Proxy(fake_owui_server.url, log_dir, "fake-concurrent", email="admin@example.com",
                  password="fake-password-123")
    try:
        c = ollama.Client(host=proxy.url, timeout=60)
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(
                lambda i: c.chat(model="fake-chat", messages=[{"role": "user", "content": f"n{i}"}]).message.content,
                range(8)))
        assert answers == [f"You said: n{i}" for i in range(8)]
        assert _sign_ins(fake_owui_server) == 1
    finally:
        proxy.stop()


def test_expired_session_signs_in_again(fake_owui_server, log_dir):
    fake_owui_server.reset()
    proxy = Proxy(fake_owui_server.url, log_dir, "fake-expiry", email="admin@example.com",
                  password="fake-password-123")
    try:
        c = ollama.Client(host=proxy.url, timeout=60)
        assert c.chat(model="fake-chat", messages=[{"role": "user", "content": "one"}]).message.content \
            == "You said: one"
        fake_owui_server.expire_tokens()
        content, _, _, _ = collect_chat(c.chat(model="fake-chat", stream=True,
                                               messages=[{"role": "user", "content": "two"}]))
        assert content == "You said: two"
        assert _sign_ins(fake_owui_server) == 2
    finally:
        proxy.stop()


def test_wrong_password(fake_owui_server, log_dir):
    proxy = Proxy(fake_owui_server.url, log_dir, "fake-wrong-password",
                  email="admin@example.com", password="not-the-password")
    try:
        r = http().get(f"{proxy.url}/api/tags", timeout=30)
        assert not r.ok, f"expected an error, got {r.status_code} {r.text[:200]}"
        err = r.json().get("error")
        assert isinstance(err, str) and err
        assert SIGN_IN_WORDS.search(err), f"error should explain the sign-in failure: {err!r}"
        assert proxy.alive()
    finally:
        proxy.stop()
